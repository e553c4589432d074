// Package split implements the split filter, like Logstash's: it turns one
// event into several, one per part of a field.
//
// A string field is split at each terminator (Ruby's String#split: a
// terminator of one space splits at runs of white space, an empty one between
// characters); a list field gives one event per element. Each new event is a
// copy of the original whose field (or target, when set) holds one part; the
// original is dropped. Empty parts ("" or null) give no event, so "a\n"
// gives one event and an empty string or list none. A string without a
// terminator leaves the event as it is, untouched by the common options. A
// list field without target is removed before the copies are made, so it
// holds only its part in them; with target it is kept whole.
//
// A field that is missing or neither a string nor a list tags the event
// _split_type_failure. The common options apply to each new event.
package split

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
)

func init() { engine.RegisterFilter("split", New) }

// FailureTag is added when the field cannot be split.
const FailureTag = "_split_type_failure"

// Options configures the split filter.
type Options struct {
	// Field is the field to split: a string or a list.
	Field string `hcl:"field,optional"`
	// Target is the field each new event's part is stored in; by default the
	// split field itself.
	Target string `hcl:"target,optional"`
	// Terminator separates the parts of a string.
	Terminator string `hcl:"terminator,optional"`
}

// Defaults sets Logstash's defaults.
func (o *Options) Defaults() {
	o.Field = "message"
	o.Terminator = "\n"
}

// Validate checks the field references.
func (o *Options) Validate() error {
	if _, err := event.ParseRef(o.Field); err != nil {
		return &engine.FieldError{Field: "field", Err: err}
	}
	if o.Target != "" {
		if _, err := event.ParseRef(o.Target); err != nil {
			return &engine.FieldError{Field: "target", Err: err}
		}
	}
	return nil
}

// Filter is the split filter. It is safe for concurrent use.
type Filter struct {
	field, target event.Ref
	hasTarget     bool
	terminator    string
}

var _ engine.Filter = (*Filter)(nil)

// New builds a split filter.
func New(o Options, _ engine.Resources) (*Filter, error) {
	f := &Filter{field: event.MustRef(o.Field), target: event.MustRef(o.Field), terminator: o.Terminator}
	if o.Target != "" {
		f.target, f.hasTarget = event.MustRef(o.Target), true
	}
	return f, nil
}

// Filter splits e.
func (f *Filter) Filter(_ context.Context, e *event.Event, out []*event.Event) ([]*event.Event, error) {
	v, _ := e.Get(f.field)
	var parts []any
	switch x := v.(type) {
	case []any:
		parts = x
		if !f.hasTarget {
			e.Delete(f.field)
		}
	case string:
		strs := rubySplit(x, f.terminator)
		if len(strs) == 1 {
			return append(out, e), engine.ErrNotApplied
		}
		parts = make([]any, len(strs))
		for i, s := range strs {
			parts[i] = s
		}
	default:
		e.AddTag(FailureTag)
		what := "missing"
		if v != nil {
			what = fmt.Sprintf("a %T", v)
		}
		return append(out, e), fmt.Errorf("split: only strings and lists are splittable; the field is %s", what)
	}
	kept := parts[:0:0]
	for _, p := range parts {
		if p == nil || p == "" {
			continue
		}
		kept = append(kept, p)
	}
	// The last part goes into e itself, so that a split into one event copies
	// nothing; the others into copies made before e changes.
	for i, p := range kept {
		c := e
		if i < len(kept)-1 {
			c = e.Clone()
		}
		if err := c.Set(f.target, p); err != nil {
			return out, fmt.Errorf("split: %w", err)
		}
		out = append(out, c)
	}
	return out, nil
}

// rubySplit is Ruby's String#split(sep, -1): trailing empty parts are kept;
// a single space splits at runs of white space, ignoring leading white space;
// an empty separator splits between characters (and after the last). An
// empty string has no parts.
func rubySplit(s, sep string) []string {
	switch {
	case s == "":
		return nil
	case sep == " ":
		parts := strings.FieldsFunc(s, isRubySpace)
		if isRubySpace(rune(s[len(s)-1])) {
			parts = append(parts, "")
		}
		return parts
	case sep == "":
		parts := make([]string, 0, utf8.RuneCountInString(s))
		for _, r := range s {
			parts = append(parts, string(r))
		}
		return append(parts, "")
	}
	return strings.Split(s, sep)
}

func isRubySpace(r rune) bool {
	return r == ' ' || r == '\t' || r == '\n' || r == '\v' || r == '\f' || r == '\r'
}
