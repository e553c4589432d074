package engine_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/pipelined/pipeline/dsl/ir"
	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/enginetest"
	"github.com/pipelined/pipeline/engine/event"
)

// A complete filter plugin: options with defaults and validation, everything
// parsed once in the constructor, a Filter method that appends what passes on.

// UpperOptions configures the example "upper" filter.
type UpperOptions struct {
	// Fields are the fields to upper-case.
	Fields []string `hcl:"fields"`
	// TagOnFailure is added when a field is not a string.
	TagOnFailure []string `hcl:"tag_on_failure,optional"`
}

// Defaults sets the options a config leaves out.
func (o *UpperOptions) Defaults() { o.TagOnFailure = []string{"_upperfailure"} }

// Validate checks the options without I/O; `pipeline check` runs it.
func (o *UpperOptions) Validate() error {
	if len(o.Fields) == 0 {
		return &engine.FieldError{Field: "fields", Err: fmt.Errorf("list at least one field")}
	}
	return nil
}

// Upper is the built filter.
type Upper struct {
	refs []event.Ref
	tags []string
}

var _ engine.Filter = (*Upper)(nil)

// NewUpper compiles the options: field references are parsed here, never per event.
func NewUpper(o UpperOptions, _ engine.Resources) (*Upper, error) {
	u := &Upper{tags: o.TagOnFailure}
	for _, f := range o.Fields {
		r, err := event.ParseRef(f)
		if err != nil {
			return nil, &engine.FieldError{Field: "fields", Err: err}
		}
		u.refs = append(u.refs, r)
	}
	return u, nil
}

// Filter upper-cases the fields; a non-string field tags the event and fails.
func (u *Upper) Filter(_ context.Context, e *event.Event, out []*event.Event) ([]*event.Event, error) {
	for _, r := range u.refs {
		v, ok := e.Get(r)
		if !ok {
			continue
		}
		s, ok := v.(string)
		if !ok {
			e.AddTag(u.tags...)
			return append(out, e), fmt.Errorf("upper: %s is a %T, not a string", r, v)
		}
		if err := e.Set(r, strings.ToUpper(s)); err != nil {
			return append(out, e), err
		}
	}
	return append(out, e), nil
}

func init() { engine.RegisterFilter("example_upper", NewUpper) }

func Example_filterPlugin() {
	t := &testing.T{}
	in := event.NewMessage("hello")
	_ = in.Set(event.MustRef("[user][name]"), "ada")
	out := enginetest.Filter(t, "example_upper", `
fields  = ["message", "[user][name]"]
add_tag = ["shouted"]
`, in)
	for _, e := range out {
		name, _ := e.GetString(event.MustRef("[user][name]"))
		msg, _ := e.Message()
		fmt.Println(msg, name, e.Tags())
	}
	// Output: HELLO ADA [shouted]
}

func TestExampleFilterValidation(t *testing.T) {
	diags := enginetest.BuildDiags(t, ir.Filter, "example_upper", "fields = []\n")
	if !diags.HasErrors() || !strings.Contains(diags.Error(), "list at least one field") {
		t.Fatalf("diags = %v; want the Validate error", diags)
	}
	if r := diags[0].Subject; r == nil || r.Start.Line != 2 || r.Start.Column != 1 {
		t.Fatalf("subject = %v; want the fields attribute at 2:1", r)
	}
}
