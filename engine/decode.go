package engine

import (
	"fmt"
	"reflect"
	"strings"
	"sync"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
)

// DecodeOptions decodes body into o, a pointer to a plugin's Options struct
// whose defaults are already set, as Build does before it calls Validate:
// Logstash's looser shapes are normalised, option types such as Hash and
// StringList are decoded from the syntax, and the fields of embedded structs
// without an hcl tag (shared option groups) are options of o itself.
// Options absent from body keep their values.
func DecodeOptions(body hcl.Body, o any) hcl.Diagnostics {
	ov := reflect.ValueOf(o)
	if ov.Kind() != reflect.Pointer || ov.Elem().Kind() != reflect.Struct {
		panic(fmt.Sprintf("engine: DecodeOptions needs a pointer to a struct, not %T", o))
	}
	ov = ov.Elem()
	p := planFor(ov.Type())
	// gohcl decodes into a flat struct made from o's type: it does not look
	// into embedded structs, and hands the engine's option types over as the
	// attribute itself.
	dv := reflect.New(p.flat).Elem()
	for i, f := range p.fields {
		if !f.shape {
			dv.Field(i).Set(ov.FieldByIndex(f.index))
		}
	}
	diags := normalizeShapes(body, dv.Addr().Interface())
	if diags.HasErrors() {
		return diags
	}
	diags = gohcl.DecodeBody(body, nil, dv.Addr().Interface())
	if diags.HasErrors() {
		return diags
	}
	for i, f := range p.fields {
		if !f.shape {
			ov.FieldByIndex(f.index).Set(dv.Field(i))
			continue
		}
		if a, _ := dv.Field(i).Interface().(*hcl.Attribute); a != nil {
			diags = append(diags, ov.FieldByIndex(f.index).Addr().Interface().(shapeDecoder).decodeShape(a, f.item)...)
		}
	}
	return append(diags, lifecycleDiags(body, p)...)
}

// decodePlan maps an Options type to the flat struct gohcl decodes.
type decodePlan struct {
	flat   reflect.Type
	fields []planField // one per field of flat
}

type planField struct {
	index []int  // in the Options struct
	shape bool   // an engine option type: the flat field is *hcl.Attribute
	item  string // what one element is called in messages ("string")
	name  string // the option
	// The deprecated, removed and use tags (see Removed).
	deprecated, removed, use string
	isDeprecated             bool
}

var plans sync.Map // reflect.Type → *decodePlan

var (
	shapeDecoderType = reflect.TypeFor[shapeDecoder]()
	attributeType    = reflect.TypeFor[*hcl.Attribute]()
)

func planFor(t reflect.Type) *decodePlan {
	if p, ok := plans.Load(t); ok {
		return p.(*decodePlan)
	}
	p := &decodePlan{}
	var sfs []reflect.StructField
	seen := map[string]string{}
	var walk func(t reflect.Type, index []int)
	walk = func(t reflect.Type, index []int) {
		for i := range t.NumField() {
			f := t.Field(i)
			idx := append(append([]int(nil), index...), i)
			tag, tagged := f.Tag.Lookup("hcl")
			if !tagged && f.Anonymous && f.Type.Kind() == reflect.Struct {
				walk(f.Type, idx)
				continue
			}
			if !tagged || !f.IsExported() {
				continue
			}
			name, kind, _ := strings.Cut(tag, ",")
			if name != "" {
				if prev, dup := seen[name]; dup {
					panic(fmt.Sprintf("engine: options %s: option %q is declared by both %s and %s", t, name, prev, f.Name))
				}
				seen[name] = f.Name
			}
			pf := planField{index: idx, item: f.Tag.Get("item"), name: name, removed: f.Tag.Get("removed"), use: f.Tag.Get("use")}
			pf.deprecated, pf.isDeprecated = f.Tag.Lookup("deprecated")
			if (pf.removed != "") != (f.Type == removedType) {
				panic(fmt.Sprintf("engine: options %s: field %s: a removed option has type engine.Removed and a removed:\"<version>\" tag", t, f.Name))
			}
			if pf.item == "" {
				pf.item = "string"
			}
			ft := f.Type
			if (kind == "" || kind == "attr" || kind == "optional") && reflect.PointerTo(f.Type).Implements(shapeDecoderType) {
				pf.shape, ft = true, attributeType
			}
			sfs = append(sfs, reflect.StructField{Name: fmt.Sprintf("F%d", len(sfs)), Type: ft, Tag: reflect.StructTag(`hcl:"` + tag + `"`)})
			p.fields = append(p.fields, pf)
		}
	}
	walk(t, nil)
	p.flat = reflect.StructOf(sfs)
	actual, _ := plans.LoadOrStore(t, p)
	return actual.(*decodePlan)
}
