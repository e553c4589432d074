package engine

import (
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// normalizeShapes rewrites option values written in Logstash's looser shapes to
// the shape the typed Options field wants, before gohcl decodes them, and
// refuses what Logstash's validators (logstash-core's config/mixin.rb,
// validate_value) refuse. It is the one place both front-ends get this from.
// By the Go type of the field:
//   - string (:string, :password, :uri, :path, and list-of-values validators
//     such as ["a", "b"]): a one-element array is its element, an empty one is
//     no value (the option keeps its default), more values are refused;
//   - bool (:boolean): true or false, or the strings "true" and "false"
//     (a .conf bareword true is a string); a one-element array is unwrapped;
//   - int, uint, float (:number): a number, or a string that reads back as
//     itself as an integer or a decimal ("5", "-2", "5.5", not "05", "1e3" or
//     " 5"); a one-element array is unwrapped; integer options refuse
//     fractions;
//   - slices (:array, and any validator with :list => true): a single value
//     becomes a one-element list;
//   - maps (:hash): Logstash's flat array form, ["a", "1", "b", "2"],
//     becomes the hash { a = "1", b = "2" }; a one-element array as a value
//     is its element.
//
// The engine's option types (StringList, Hash, …) apply the same rules in
// their own decoding. target is a pointer to an Options (or common options)
// struct. Bodies that are not HCL native syntax are left alone.
func normalizeShapes(body hcl.Body, target any) hcl.Diagnostics {
	sb, ok := body.(*hclsyntax.Body)
	if !ok {
		return nil
	}
	t := reflect.TypeOf(target)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return nil
	}
	var diags hcl.Diagnostics
	for i := range t.NumField() {
		f := t.Field(i)
		name, kind, _ := strings.Cut(f.Tag.Get("hcl"), ",")
		if name == "" || (kind != "" && kind != "optional" && kind != "attr") {
			continue
		}
		attr, ok := sb.Attributes[name]
		if !ok {
			continue
		}
		ft := f.Type
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		switch ft.Kind() {
		case reflect.Map:
			if tup, ok := attr.Expr.(*hclsyntax.TupleConsExpr); ok && len(tup.Exprs)%2 == 0 && len(tup.Exprs) > 0 {
				attr.Expr = pairsToObject(tup)
			}
			if obj, ok := attr.Expr.(*hclsyntax.ObjectConsExpr); ok && ft.Elem().Kind() != reflect.Slice && ft.Elem().Kind() != reflect.Interface {
				diags = append(diags, unwrapValues(attr, obj)...)
			}
		case reflect.Slice:
			switch attr.Expr.(type) {
			case *hclsyntax.TupleConsExpr, *hclsyntax.ForExpr, *hclsyntax.SplatExpr, *hclsyntax.FunctionCallExpr:
			case *hclsyntax.LiteralValueExpr, *hclsyntax.TemplateExpr, *hclsyntax.TemplateWrapExpr:
				r := attr.Expr.Range()
				attr.Expr = &hclsyntax.TupleConsExpr{Exprs: []hclsyntax.Expression{attr.Expr}, SrcRange: r, OpenRange: r}
			}
		case reflect.String, reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
			reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
			diags = append(diags, scalarShape(sb, attr, ft.Kind())...)
		}
	}
	return diags
}

// scalarWord names what a scalar option takes, for messages.
func scalarWord(k reflect.Kind) string {
	switch k {
	case reflect.Bool:
		return "boolean"
	case reflect.String:
		return "string"
	case reflect.Float32, reflect.Float64:
		return "number"
	}
	return "whole number"
}

// scalarShape applies the single-value validators to attr (see
// normalizeShapes).
func scalarShape(sb *hclsyntax.Body, attr *hclsyntax.Attribute, k reflect.Kind) hcl.Diagnostics {
	a := attr.AsHCLAttribute()
	if tup, ok := attr.Expr.(*hclsyntax.TupleConsExpr); ok {
		switch len(tup.Exprs) {
		case 0:
			// Logstash's value.first of an empty array: nil, no value.
			delete(sb.Attributes, attr.Name)
			return nil
		case 1:
			attr.Expr = tup.Exprs[0]
		default:
			return shapeError(a, "want one %s; got a list of %d values", scalarWord(k), len(tup.Exprs))
		}
	}
	if k == reflect.String {
		return nil // gohcl converts numbers and booleans to their text
	}
	v, diags := attr.Expr.Value(nil)
	if diags.HasErrors() || !v.IsWhollyKnown() || v.IsNull() {
		return nil // gohcl reports it
	}
	switch {
	case k == reflect.Bool:
		switch {
		case v.Type() == cty.Bool:
		case v.Type() == cty.String && (v.AsString() == "true" || v.AsString() == "false"):
		default:
			return shapeError(a, "want true or false; got %s", shown(v))
		}
		return nil
	case v.Type() == cty.String:
		n, ok := logstashNumber(v.AsString())
		if !ok {
			return shapeError(a, "want a %s; got %s", scalarWord(k), shown(v))
		}
		v = n
		attr.Expr = &hclsyntax.LiteralValueExpr{Val: n, SrcRange: attr.Expr.Range()}
	case v.Type() != cty.Number:
		return shapeError(a, "want a %s; got %s", scalarWord(k), shown(v))
	}
	if k != reflect.Float32 && k != reflect.Float64 && !v.AsBigFloat().IsInt() {
		return shapeError(a, "want a whole number; got %s", v.AsBigFloat().Text('g', -1))
	}
	return nil
}

var intText = regexp.MustCompile(`^-?(?:0|[1-9][0-9]*)$`)

// logstashNumber reads a string given for a :number option as mixin.rb
// does: it must be its own to_i.to_s or to_f.to_s ("5", "5.5", "5.0"); a
// "." makes it a decimal.
func logstashNumber(s string) (cty.Value, bool) {
	if intText.MatchString(s) {
		n, err := cty.ParseNumberVal(s)
		return n, err == nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return cty.NilVal, false
	}
	back := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.Contains(back, ".") {
		back += ".0"
	}
	if back != s {
		return cty.NilVal, false
	}
	return cty.NumberFloatVal(f), true
}

// shown writes a value for a message: strings quoted, lists and hashes by
// their kind.
func shown(v cty.Value) string {
	switch {
	case v.IsNull():
		return "null"
	case v.Type() == cty.String:
		return strconv.Quote(v.AsString())
	case v.Type() == cty.Number:
		return v.AsBigFloat().Text('g', -1)
	case v.Type() == cty.Bool:
		return strconv.FormatBool(v.True())
	case v.Type().IsTupleType() || v.Type().IsListType():
		return fmt.Sprintf("a list of %d values", v.LengthInt())
	}
	return v.Type().FriendlyName()
}

// unwrapValues applies the :string rule to the values of a hash of single
// values: a one-element array is its element.
func unwrapValues(attr *hclsyntax.Attribute, obj *hclsyntax.ObjectConsExpr) hcl.Diagnostics {
	for i, it := range obj.Items {
		tup, ok := it.ValueExpr.(*hclsyntax.TupleConsExpr)
		if !ok {
			continue
		}
		if len(tup.Exprs) == 1 {
			obj.Items[i].ValueExpr = tup.Exprs[0]
			continue
		}
		key := "a key"
		if k, d := it.KeyExpr.Value(nil); !d.HasErrors() && k.Type() == cty.String {
			key = fmt.Sprintf("key %q", k.AsString())
		}
		return shapeError(attr.AsHCLAttribute(), "%s: want one value; got a list of %d values", key, len(tup.Exprs))
	}
	return nil
}

func pairsToObject(tup *hclsyntax.TupleConsExpr) *hclsyntax.ObjectConsExpr {
	obj := &hclsyntax.ObjectConsExpr{SrcRange: tup.SrcRange, OpenRange: tup.OpenRange}
	for i := 0; i < len(tup.Exprs); i += 2 {
		obj.Items = append(obj.Items, hclsyntax.ObjectConsItem{
			KeyExpr:   &hclsyntax.ObjectConsKeyExpr{Wrapped: tup.Exprs[i], ForceNonLiteral: true},
			ValueExpr: tup.Exprs[i+1],
		})
	}
	return obj
}
