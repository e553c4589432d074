package engine

import (
	"math/big"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// AnyHash is a Logstash hash whose values may be of any shape: strings,
// numbers, booleans, arrays and nested hashes, as the ruby filter's
// script_params are. Values are event value types (string, int64, float64,
// bool, nil, []any, map[string]any), so they serialize as an event field does.
type AnyHash map[string]any

var _ shapeDecoder = (*AnyHash)(nil)

func (AnyHash) DocType() string { return "hash" }

func (h AnyHash) DocValue() any {
	if h == nil {
		return nil
	}
	return map[string]any(h)
}

func (h *AnyHash) decodeShape(a *hcl.Attribute, _ string) hcl.Diagnostics {
	out := AnyHash{}
	diags := entries(a, func(k string, v cty.Value) hcl.Diagnostics {
		out[k] = ctyToAny(v)
		return nil
	})
	if diags.HasErrors() {
		return diags
	}
	*h = out
	return nil
}

// ctyToAny converts a known value to event value types; integers that fit
// stay int64, other numbers become float64.
func ctyToAny(v cty.Value) any {
	if v.IsNull() || !v.IsKnown() {
		return nil
	}
	t := v.Type()
	switch {
	case t == cty.String:
		return v.AsString()
	case t == cty.Bool:
		return v.True()
	case t == cty.Number:
		bf := v.AsBigFloat()
		if bf.IsInt() {
			if i, acc := bf.Int64(); acc == big.Exact {
				return i
			}
		}
		f, _ := bf.Float64()
		return f
	case t.IsTupleType() || t.IsListType() || t.IsSetType():
		out := make([]any, 0, v.LengthInt())
		for it := v.ElementIterator(); it.Next(); {
			_, el := it.Element()
			out = append(out, ctyToAny(el))
		}
		return out
	case t.IsObjectType() || t.IsMapType():
		out := make(map[string]any, v.LengthInt())
		for it := v.ElementIterator(); it.Next(); {
			k, el := it.Element()
			out[k.AsString()] = ctyToAny(el)
		}
		return out
	}
	return nil
}
