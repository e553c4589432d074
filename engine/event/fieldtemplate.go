package event

import "fmt"

// FieldTemplate is an option that names a field. Logstash sprintf-renders such
// names per event (remove_field => "[a][%{k}]"); a name without %{…} is parsed
// once, here, so a bad one is a configuration error and the hot path does no
// parsing.
type FieldTemplate struct {
	tmpl  Template
	ref   Ref
	fixed bool
}

// ParseFieldTemplate parses a field name that may hold sprintf references.
func ParseFieldTemplate(s string) (FieldTemplate, error) {
	t, err := ParseTemplate(s)
	if err != nil {
		return FieldTemplate{}, err
	}
	f := FieldTemplate{tmpl: t}
	if t.IsConstant() {
		if f.ref, err = ParseRef(s); err != nil {
			return FieldTemplate{}, err
		}
		f.fixed = true
	}
	return f, nil
}

// Resolve returns the field reference for e: the parsed one, or the rendered
// template parsed now.
func (f FieldTemplate) Resolve(e *Event) (Ref, error) {
	if f.fixed {
		return f.ref, nil
	}
	r, err := ParseRef(f.tmpl.Render(e))
	if err != nil {
		return r, fmt.Errorf("field name %q rendered as %q: %w", f.tmpl.String(), f.tmpl.Render(e), err)
	}
	return r, nil
}

// String returns the field name as written.
func (f FieldTemplate) String() string { return f.tmpl.String() }
