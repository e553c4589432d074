package engine

import (
	"reflect"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// normalizeShapes rewrites option values written in Logstash's looser shapes to
// the shape the typed Options field wants, before gohcl decodes them. It is the
// one place both front-ends get this from:
//   - a hash given as a flat array, `add_field => ["a", "1", "b", "2"]`, becomes
//     the object { a = "1", b = "2" } for a map field;
//   - a single value given for a list, `tags => "x"`, becomes ["x"].
//
// target is a pointer to an Options (or common options) struct. Bodies that are
// not HCL native syntax are left alone.
func normalizeShapes(body hcl.Body, target any) {
	sb, ok := body.(*hclsyntax.Body)
	if !ok {
		return
	}
	t := reflect.TypeOf(target)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return
	}
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
		case reflect.Slice:
			switch attr.Expr.(type) {
			case *hclsyntax.TupleConsExpr, *hclsyntax.ForExpr, *hclsyntax.SplatExpr, *hclsyntax.FunctionCallExpr:
			case *hclsyntax.LiteralValueExpr, *hclsyntax.TemplateExpr, *hclsyntax.TemplateWrapExpr:
				r := attr.Expr.Range()
				attr.Expr = &hclsyntax.TupleConsExpr{Exprs: []hclsyntax.Expression{attr.Expr}, SrcRange: r, OpenRange: r}
			}
		}
	}
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
