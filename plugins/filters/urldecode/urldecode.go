// Package urldecode implements the urldecode filter, like Logstash's: it
// decodes the percent-encoded bytes (%XX) in a field, or in every top-level
// field with all_fields. "+" stays as it is, and so does a "%" not followed
// by two hexadecimal digits.
//
// Strings in lists and objects are decoded too (keys are not). The decoded
// bytes are read in charset: with UTF-8, text that is not valid UTF-8 becomes
// its Ruby inspect form ("\xD3"), as in Logstash, and so does the whole
// string around it (quotes and backslashes escaped). As in Logstash, a
// missing field is set to null, and the common options always apply.
package urldecode

import (
	"context"
	"fmt"
	"slices"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/plugins/internal/charset"
)

func init() { engine.RegisterFilter("urldecode", New) }

// Options configures the urldecode filter.
type Options struct {
	// Field is the field to decode.
	Field string `hcl:"field,optional"`
	// AllFields decodes every top-level field instead.
	AllFields bool `hcl:"all_fields,optional"`
	// TagOnFailure are added when a decoded value cannot be stored.
	TagOnFailure []string `hcl:"tag_on_failure,optional"`
	charset.Option
}

// Defaults sets Logstash's defaults.
func (o *Options) Defaults() {
	o.Field = "message"
	o.TagOnFailure = []string{"_urldecodefailure"}
	o.Option.Defaults()
}

// Validate checks the field and the charset.
func (o *Options) Validate() error {
	if _, err := event.ParseRef(o.Field); err != nil {
		return &engine.FieldError{Field: "field", Err: err}
	}
	return o.Option.Validate()
}

// Filter is the urldecode filter. It is safe for concurrent use.
type Filter struct {
	field event.Ref
	all   bool
	tags  []string
	conv  charset.Converter
}

var _ engine.Filter = (*Filter)(nil)

// New builds a urldecode filter.
func New(o Options, _ engine.Resources) (*Filter, error) {
	return &Filter{field: event.MustRef(o.Field), all: o.AllFields, tags: slices.Clone(o.TagOnFailure), conv: o.Converter()}, nil
}

// Filter decodes e.
func (f *Filter) Filter(_ context.Context, e *event.Event, out []*event.Event) ([]*event.Event, error) {
	out = append(out, e)
	if !f.all {
		v, _ := e.Get(f.field)
		if err := e.Set(f.field, f.decode(v)); err != nil {
			e.AddTag(f.tags...)
			return out, fmt.Errorf("urldecode: %w", err)
		}
		return out, nil
	}
	fields := e.Fields()
	names := make([]string, 0, len(fields))
	for k := range fields {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		r, err := event.ParseRef("[" + k + "]")
		if err == nil {
			err = e.Set(r, f.decode(fields[k]))
		}
		if err != nil {
			e.AddTag(f.tags...)
			return out, fmt.Errorf("urldecode: field %q: %w", k, err)
		}
	}
	return out, nil
}

func (f *Filter) decode(v any) any {
	switch x := v.(type) {
	case string:
		return string(f.conv(unescape(x)))
	case []any:
		out := make([]any, len(x))
		for i, el := range x {
			out[i] = f.decode(el)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, el := range x {
			out[k] = f.decode(el)
		}
		return out
	}
	return v
}

// unescape turns each %XX into its byte.
func unescape(s string) []byte {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			b = append(b, unhex(s[i+1])<<4|unhex(s[i+2]))
			i += 2
			continue
		}
		b = append(b, s[i])
	}
	return b
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}
