// Package truncate implements the truncate filter, like Logstash's: it cuts
// strings longer than length_bytes bytes down to at most that many, without
// splitting a UTF-8 character.
//
// The fields are those listed, or every top-level field. A string is cut; in
// a list, each string element is; in an object, each value is, recursively.
// Other values are left alone. The common options apply only when something
// was cut, as in Logstash.
package truncate

import (
	"context"
	"fmt"
	"slices"
	"unicode/utf8"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
)

func init() { engine.RegisterFilter("truncate", New) }

// Options configures the truncate filter.
type Options struct {
	// Fields are the fields to truncate; by default every top-level field.
	Fields engine.StringList `hcl:"fields,optional"`
	// LengthBytes is the largest length kept, in bytes. Required.
	LengthBytes int64 `hcl:"length_bytes"`
}

// Validate checks the fields and the length.
func (o *Options) Validate() error {
	if o.LengthBytes < 0 {
		return &engine.FieldError{Field: "length_bytes", Err: fmt.Errorf("%d is negative", o.LengthBytes)}
	}
	for _, f := range o.Fields {
		if _, err := event.ParseRef(f); err != nil {
			return &engine.FieldError{Field: "fields", Err: err}
		}
	}
	return nil
}

// Filter is the truncate filter. It is safe for concurrent use.
type Filter struct {
	fields []event.Ref
	length int
}

var _ engine.Filter = (*Filter)(nil)

// New builds a truncate filter.
func New(o Options, _ engine.Resources) (*Filter, error) {
	f := &Filter{length: int(min(o.LengthBytes, int64(^uint(0)>>1)))}
	for _, s := range o.Fields {
		f.fields = append(f.fields, event.MustRef(s))
	}
	return f, nil
}

// Filter truncates e.
func (f *Filter) Filter(_ context.Context, e *event.Event, out []*event.Event) ([]*event.Event, error) {
	out = append(out, e)
	changed := false
	if f.fields == nil {
		fields := e.Fields()
		names := make([]string, 0, len(fields))
		for k := range fields {
			names = append(names, k)
		}
		slices.Sort(names)
		for _, k := range names {
			if v, ok := f.cut(fields[k]); ok {
				r, err := event.ParseRef("[" + k + "]")
				if err != nil {
					continue // a name no reference can write
				}
				if err := e.Set(r, v); err != nil {
					return out, fmt.Errorf("truncate: %w", err)
				}
				changed = true
			}
		}
	} else {
		for _, r := range f.fields {
			old, _ := e.Get(r)
			if v, ok := f.cut(old); ok {
				if err := e.Set(r, v); err != nil {
					return out, fmt.Errorf("truncate: %w", err)
				}
				changed = true
			}
		}
	}
	if !changed {
		return out, engine.ErrNotApplied
	}
	return out, nil
}

// cut returns v truncated and whether that changed it. Objects are changed
// in place (they belong to the event); lists are copied.
func (f *Filter) cut(v any) (any, bool) {
	switch x := v.(type) {
	case string:
		if len(x) <= f.length {
			return x, false
		}
		return trim(x, f.length), true
	case []any:
		var out []any
		for i, el := range x {
			s, ok := el.(string)
			if !ok || len(s) <= f.length {
				continue
			}
			if out == nil {
				out = slices.Clone(x)
			}
			out[i] = trim(s, f.length)
		}
		return out, out != nil
	case map[string]any:
		changed := false
		for k, el := range x {
			if nv, ok := f.cut(el); ok {
				x[k] = nv
				changed = true
			}
		}
		return x, changed
	}
	return v, false
}

// trim cuts s to at most n bytes, backing off while the last character is
// not valid UTF-8, as Logstash's Truncator does.
func trim(s string, n int) string {
	v := s[:n]
	for len(v) > 0 {
		if r, size := utf8.DecodeLastRuneInString(v); r != utf8.RuneError || size > 1 {
			return v
		}
		v = v[:len(v)-1]
	}
	return ""
}
