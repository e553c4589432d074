// Package dedot implements the de_dot filter, like Logstash's: it renames
// fields whose names hold dots, replacing each dot by separator ("a.b"
// becomes "a_b"), or with nested, making them nested fields ("a.b" becomes
// [a][b]).
//
// The fields are those listed (field references: "[acme][roller.skates]"
// renames that nested key), or every top-level field. With recursive, the
// keys of object values are renamed too, at every depth. As in Logstash, the
// renamed field is written first, then the field whose name holds the first
// dot of the reference is removed: for "[a.b][c.d]" that is all of [a.b],
// other keys under it included.
//
// When a field cannot be written (with nested, "a.b" where "a" holds a
// string), the event is tagged tag_on_failure and the fields after it are
// left; the common options apply only when every field was renamed. The
// order in which a field's keys are renamed is their sorted order.
package dedot

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
)

func init() { engine.RegisterFilter("de_dot", New) }

// Options configures the de_dot filter.
type Options struct {
	// Separator replaces each dot; it cannot hold a dot.
	Separator string `hcl:"separator,optional"`
	// Nested makes dotted names nested fields instead (separator is then
	// ignored).
	Nested bool `hcl:"nested,optional"`
	// Recursive renames the keys of object values too, at every depth.
	Recursive bool `hcl:"recursive,optional"`
	// Fields are the fields to rename; by default every top-level field.
	Fields []string `hcl:"fields,optional"`
	// TagOnFailure is added when a field cannot be renamed.
	TagOnFailure string `hcl:"tag_on_failure,optional"`
}

// Defaults sets Logstash's defaults.
func (o *Options) Defaults() {
	o.Separator = "_"
	o.TagOnFailure = "_de_dot_error"
}

// Validate checks the separator and the fields.
func (o *Options) Validate() error {
	if strings.Contains(o.Separator, ".") {
		return &engine.FieldError{Field: "separator", Err: errors.New("de_dot: separator cannot be or contain '.'")}
	}
	for _, f := range o.Fields {
		if _, err := event.ParseRef(f); err != nil {
			return &engine.FieldError{Field: "fields", Err: err}
		}
	}
	return nil
}

// Filter is the de_dot filter. It is safe for concurrent use.
type Filter struct {
	separator string
	recursive bool
	fields    []string
	tag       string
}

var _ engine.Filter = (*Filter)(nil)

// New builds a de_dot filter.
func New(o Options, _ engine.Resources) (*Filter, error) {
	f := &Filter{separator: o.Separator, recursive: o.Recursive, fields: slices.Clone(o.Fields), tag: o.TagOnFailure}
	if o.Nested {
		f.separator = "]["
	}
	return f, nil
}

// Filter renames the dotted fields of e.
func (f *Filter) Filter(_ context.Context, e *event.Event, out []*event.Event) ([]*event.Event, error) {
	out = append(out, e)
	fields := f.fields
	if fields == nil {
		for k := range e.Fields() {
			fields = append(fields, k)
		}
		slices.Sort(fields)
	}
	for _, ref := range fields {
		if !strings.Contains(ref, ".") && !f.recursive {
			continue
		}
		r, err := event.ParseRef(ref)
		if err != nil {
			continue // a top-level name no reference can write
		}
		if _, ok := e.Get(r); !ok {
			continue
		}
		if err := f.rename(e, ref); err != nil {
			e.AddTag(f.tag)
			return out, fmt.Errorf("de_dot: %w", err)
		}
	}
	return out, nil
}

// rename renames the field written fieldref, as Logstash's rename_field
// does: on the text of the reference.
func (f *Filter) rename(e *event.Event, fieldref string) error {
	if f.separator == "][" || f.recursive {
		if !strings.HasPrefix(fieldref, "[") {
			fieldref = "[" + fieldref
		}
		if !strings.HasSuffix(fieldref, "]") {
			fieldref += "]"
		}
	}
	if strings.Contains(fieldref, ".") {
		newref := strings.ReplaceAll(fieldref, ".", f.separator)
		from, err := event.ParseRef(fieldref)
		if err != nil {
			return err
		}
		to, err := event.ParseRef(newref)
		if err != nil {
			return err
		}
		del, err := event.ParseRef(deleteRef(fieldref))
		if err != nil {
			return err
		}
		v, _ := e.Get(from)
		if err := e.Set(to, v); err != nil {
			return err
		}
		e.Delete(del)
		fieldref = newref
	}
	if f.recursive {
		r, err := event.ParseRef(fieldref)
		if err != nil {
			return err
		}
		v, _ := e.Get(r)
		if m, ok := v.(map[string]any); ok {
			keys := make([]string, 0, len(m))
			for k := range m {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			for _, k := range keys {
				if err := f.rename(e, fieldref+"["+k+"]"); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// deleteRef is the reference up to the first path element holding a dot.
func deleteRef(fieldref string) string {
	var b strings.Builder
	for _, part := range strings.Split(strings.ReplaceAll(fieldref, "[", ""), "]") {
		if part == "" {
			continue // Ruby's split drops trailing empty parts; inner ones cannot occur in a valid reference
		}
		b.WriteString("[" + part + "]")
		if strings.Contains(part, ".") {
			break
		}
	}
	return b.String()
}
