// Package jsonencode implements the json_encode filter, like Logstash's: it
// replaces a field's value by its JSON text, or stores that text in target.
//
// The JSON is compact and written as the json codecs write events (see
// docs/logstash-compatibility.md): object keys sorted, timestamps in ISO 8601
// UTC, floats as Java prints them ("3.0", "1.0E20"). A missing or null field
// encodes as "null", as in Logstash. The common options always apply.
package jsonencode

import (
	"context"
	"errors"
	"fmt"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
)

func init() { engine.RegisterFilter("json_encode", New) }

// Options configures the json_encode filter.
type Options struct {
	// Source is the field whose value is encoded. Required.
	Source string `hcl:"source"`
	// Target is the field the JSON text is stored in; by default the source
	// itself.
	Target string `hcl:"target,optional"`
}

// Validate checks the field references.
func (o *Options) Validate() error {
	if o.Source == "" {
		return &engine.FieldError{Field: "source", Err: errors.New("name the field to encode")}
	}
	if _, err := event.ParseRef(o.Source); err != nil {
		return &engine.FieldError{Field: "source", Err: err}
	}
	if o.Target != "" {
		if _, err := event.ParseRef(o.Target); err != nil {
			return &engine.FieldError{Field: "target", Err: err}
		}
	}
	return nil
}

// Filter is the json_encode filter. It is safe for concurrent use.
type Filter struct{ source, target event.Ref }

var _ engine.Filter = (*Filter)(nil)

// New builds a json_encode filter.
func New(o Options, _ engine.Resources) (*Filter, error) {
	f := &Filter{source: event.MustRef(o.Source), target: event.MustRef(o.Source)}
	if o.Target != "" {
		f.target = event.MustRef(o.Target)
	}
	return f, nil
}

// FailureTag is added when the text cannot be stored in the target.
const FailureTag = "_jsongeneratefailure"

// Filter encodes the source of e.
func (f *Filter) Filter(_ context.Context, e *event.Event, out []*event.Event) ([]*event.Event, error) {
	v, _ := e.Get(f.source)
	if err := e.Set(f.target, string(event.AppendJSONValue(nil, v))); err != nil {
		e.AddTag(FailureTag)
		return append(out, e), fmt.Errorf("json_encode: %w", err)
	}
	return append(out, e), nil
}
