// Package mutate implements the mutate filter, like Logstash's: it renames,
// replaces, converts, rewrites, splits, joins, merges and copies fields.
//
// The operations always run in Logstash's fixed order, whatever the order they
// are written in: coerce, rename, update, replace, convert, gsub, uppercase,
// capitalize, lowercase, strip, split, join, merge, copy. To run them in
// another order, use several mutate filters. Within one operation the fields
// are processed in sorted order of their names (the hash options are maps,
// which keep no written order), except gsub, whose triples run as written.
//
// Field names are field references ("message", "[a][b]", "[@metadata][x]").
// The values of coerce, update and replace, the replacement of gsub, both
// sides of rename and a gsub pattern that contains "%{" are sprintf templates,
// rendered for each event. A field that is missing is left alone by every
// operation except replace (which creates it) and merge (which, as in
// Logstash, makes the destination a list even when the added field is
// missing). Values of the wrong kind are skipped: gsub, uppercase, capitalize,
// lowercase and split act on strings (and the first four on the strings of a
// list), join on lists, convert on scalars and the elements of lists.
//
// convert accepts "integer", "float", "integer_eu", "float_eu", "string" and
// "boolean". Numbers in strings may have "," group separators ("1,234.5"); the
// _eu variants swap the roles of "." and "," ("1.234,5"). Integers are
// truncated ("7.9" gives 7), and "0x" hexadecimal and exponents ("1e3") are
// accepted. true and false convert to 1 and 0. A boolean comes from "true",
// "t", "yes", "y", "1", "1.0" and their false counterparts "false", "f", "no",
// "n", "0", "0.0", "" in any case; any other value is left unchanged, with no
// tag, as in Logstash. A string is made from a number as Ruby prints it
// (1.0e+16). gsub patterns are RE2 regular expressions, where "^" and "$"
// match at line breaks as in Ruby; in the replacement, \1 to \9 insert a
// group, \0 and \& the match, \k<name> a named group, \` and \' the text
// before and after the match, and \\ a backslash (write "\\1" in HCL).
// Upper- and lower-casing use Unicode simple case mapping ("ß" stays "ß").
//
// Failure semantics: when an operation fails (a value that cannot be
// converted to a number, a strip of a list holding a non-string, a rename or
// copy onto a path that crosses a non-object, a dynamic field reference or
// gsub pattern that does not parse), the remaining operations are skipped, the
// event gets the tag_on_failure tag and the common options (add_field,
// add_tag, remove_field, remove_tag) are not applied, as in Logstash.
package mutate

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
)

func init() { engine.RegisterFilter("mutate", New) }

// Options configures the mutate filter.
type Options struct {
	// Coerce sets the fields that exist but hold null to a value (a sprintf
	// template): { field = "default" }.
	Coerce map[string]string `hcl:"coerce,optional"`
	// Rename moves fields: { old = "new" }. Both names are sprintf templates;
	// a missing field is not renamed, and an existing target is replaced.
	Rename map[string]string `hcl:"rename,optional"`
	// Update sets existing fields to a value (a sprintf template): { field =
	// "value" }. Missing fields are not created.
	Update map[string]string `hcl:"update,optional"`
	// Replace sets fields to a value (a sprintf template), creating them when
	// missing: { field = "value" }.
	Replace map[string]string `hcl:"replace,optional"`
	// Convert changes the type of fields: { field = "integer" }, with integer,
	// float, integer_eu, float_eu, string or boolean. Lists are converted
	// element by element; objects and nulls are left alone.
	Convert map[string]string `hcl:"convert,optional"`
	// Gsub replaces every match of a regular expression in string fields (and
	// the strings of list fields), given as triples: ["field", "regexp",
	// "replacement", ...].
	Gsub []string `hcl:"gsub,optional"`
	// Uppercase upper-cases string fields and the strings of list fields.
	Uppercase []string `hcl:"uppercase,optional"`
	// Capitalize upper-cases the first character of string fields (and of the
	// strings of list fields) and lower-cases the rest.
	Capitalize []string `hcl:"capitalize,optional"`
	// Lowercase lower-cases string fields and the strings of list fields.
	Lowercase []string `hcl:"lowercase,optional"`
	// Strip removes leading and trailing white space from string fields and
	// from every element of list fields (a non-string element fails the event).
	Strip []string `hcl:"strip,optional"`
	// Split splits string fields into lists at a separator: { field = "," }.
	// Trailing empty strings are dropped; the separator " " splits at runs of
	// white space and "" into characters, as Ruby's String#split.
	Split map[string]string `hcl:"split,optional"`
	// Join joins list fields into a string with a separator: { field = "," }.
	Join map[string]string `hcl:"join,optional"`
	// Merge appends the added field to the destination: { destination =
	// "added" }. Two objects are merged key by key; otherwise both sides are
	// made lists (a missing one is an empty list) and concatenated. An object
	// and a non-object are not merged. A destination may take several
	// fields, { destination = ["a", "b"] }, merged in order; merge given
	// twice, as Logstash documents, adds the fields of both.
	Merge engine.HashOfLists `hcl:"merge,optional" item:"field"`
	// Copy copies fields (deeply) to other fields, replacing them: { source =
	// "destination" }. A missing or null source copies nothing.
	Copy map[string]string `hcl:"copy,optional"`
	// TagOnFailure is the tag added when an operation fails.
	TagOnFailure string `hcl:"tag_on_failure,optional"`
}

// Defaults sets Logstash's default tag_on_failure.
func (o *Options) Defaults() { o.TagOnFailure = "_mutate_error" }

// Validate checks the gsub triples and the convert types.
func (o *Options) Validate() error {
	if len(o.Gsub)%3 != 0 {
		return &engine.FieldError{Field: "gsub", Err: fmt.Errorf("want triples of field, regexp and replacement; got %d strings", len(o.Gsub))}
	}
	for _, k := range sortedKeys(o.Convert) {
		if _, ok := convertKinds[o.Convert[k]]; !ok {
			return &engine.FieldError{Field: "convert", Err: fmt.Errorf("invalid conversion type %q for %q, want one of integer, float, integer_eu, float_eu, string, boolean", o.Convert[k], k)}
		}
	}
	return nil
}

// Filter is the mutate filter. It holds only what New compiled and is safe for
// concurrent use.
type Filter struct {
	tag        string
	coerce     []setOp
	rename     []renameOp
	update     []setOp
	replace    []setOp
	convert    []convertOp
	gsub       []gsubOp
	uppercase  []event.Ref
	capitalize []event.Ref
	lowercase  []event.Ref
	strip      []event.Ref
	split      []sepOp
	join       []sepOp
	merge      []pairOp
	copy       []pairOp
}

var _ engine.Filter = (*Filter)(nil)

type setOp struct {
	ref   event.Ref
	value event.Template
}

type renameOp struct{ from, to event.FieldTemplate }

type convertOp struct {
	ref  event.Ref
	kind convertKind
}

type sepOp struct {
	ref event.Ref
	sep string
}

type pairOp struct{ a, b event.Ref }

type gsubOp struct {
	ref    event.Ref
	re     *regexp.Regexp // nil when the pattern is a template
	needle event.Template // the pattern, when dynamic
	repl   event.Template
	pieces []piece // the parsed replacement, when constant
}

// New compiles the references, templates and regular expressions.
func New(o Options, _ engine.Resources) (*Filter, error) {
	f := &Filter{tag: o.TagOnFailure}
	var err error
	if f.coerce, err = setOps("coerce", o.Coerce); err != nil {
		return nil, err
	}
	if f.update, err = setOps("update", o.Update); err != nil {
		return nil, err
	}
	if f.replace, err = setOps("replace", o.Replace); err != nil {
		return nil, err
	}
	for _, k := range sortedKeys(o.Rename) {
		from, err := parseDynRef("rename", k)
		if err != nil {
			return nil, err
		}
		to, err := parseDynRef("rename", o.Rename[k])
		if err != nil {
			return nil, err
		}
		f.rename = append(f.rename, renameOp{from, to})
	}
	for _, k := range sortedKeys(o.Convert) {
		r, err := parseRef("convert", k)
		if err != nil {
			return nil, err
		}
		f.convert = append(f.convert, convertOp{r, convertKinds[o.Convert[k]]})
	}
	for i := 0; i+2 < len(o.Gsub); i += 3 {
		op, err := newGsub(o.Gsub[i], o.Gsub[i+1], o.Gsub[i+2])
		if err != nil {
			return nil, &engine.FieldError{Field: "gsub", Err: err}
		}
		f.gsub = append(f.gsub, op)
	}
	for _, l := range []struct {
		name string
		in   []string
		out  *[]event.Ref
	}{
		{"uppercase", o.Uppercase, &f.uppercase},
		{"capitalize", o.Capitalize, &f.capitalize},
		{"lowercase", o.Lowercase, &f.lowercase},
		{"strip", o.Strip, &f.strip},
	} {
		for _, s := range l.in {
			r, err := parseRef(l.name, s)
			if err != nil {
				return nil, err
			}
			*l.out = append(*l.out, r)
		}
	}
	if f.split, err = sepOps("split", o.Split); err != nil {
		return nil, err
	}
	if f.join, err = sepOps("join", o.Join); err != nil {
		return nil, err
	}
	for _, en := range o.Merge {
		dst, err := parseRef("merge", en.Key)
		if err != nil {
			return nil, err
		}
		for _, added := range en.Values {
			src, err := parseRef("merge", added)
			if err != nil {
				return nil, err
			}
			f.merge = append(f.merge, pairOp{dst, src})
		}
	}
	if f.copy, err = pairOps("copy", o.Copy); err != nil {
		return nil, err
	}
	return f, nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func parseRef(option, s string) (event.Ref, error) {
	r, err := event.ParseRef(s)
	if err != nil {
		return r, &engine.FieldError{Field: option, Err: err}
	}
	return r, nil
}

func parseTemplate(option, s string) (event.Template, error) {
	t, err := event.ParseTemplate(s)
	if err != nil {
		return t, &engine.FieldError{Field: option, Err: err}
	}
	return t, nil
}

func parseDynRef(option, s string) (event.FieldTemplate, error) {
	f, err := event.ParseFieldTemplate(s)
	if err != nil {
		return f, &engine.FieldError{Field: option, Err: err}
	}
	return f, nil
}

func setOps(option string, m map[string]string) ([]setOp, error) {
	var ops []setOp
	for _, k := range sortedKeys(m) {
		r, err := parseRef(option, k)
		if err != nil {
			return nil, err
		}
		t, err := parseTemplate(option, m[k])
		if err != nil {
			return nil, err
		}
		ops = append(ops, setOp{r, t})
	}
	return ops, nil
}

func sepOps(option string, m map[string]string) ([]sepOp, error) {
	var ops []sepOp
	for _, k := range sortedKeys(m) {
		r, err := parseRef(option, k)
		if err != nil {
			return nil, err
		}
		ops = append(ops, sepOp{r, m[k]})
	}
	return ops, nil
}

func pairOps(option string, m map[string]string) ([]pairOp, error) {
	var ops []pairOp
	for _, k := range sortedKeys(m) {
		a, err := parseRef(option, k)
		if err != nil {
			return nil, err
		}
		b, err := parseRef(option, m[k])
		if err != nil {
			return nil, err
		}
		ops = append(ops, pairOp{a, b})
	}
	return ops, nil
}

// Filter applies the operations in Logstash's order. The first failure stops
// it: the event is tagged and passed on with the error.
func (f *Filter) Filter(_ context.Context, e *event.Event, out []*event.Event) ([]*event.Event, error) {
	if err := f.apply(e); err != nil {
		if f.tag != "" {
			e.AddTag(f.tag)
		}
		return append(out, e), fmt.Errorf("mutate: %w", err)
	}
	return append(out, e), nil
}

func (f *Filter) apply(e *event.Event) error {
	for i := range f.coerce {
		op := &f.coerce[i]
		if v, ok := e.Get(op.ref); ok && v == nil {
			if err := e.Set(op.ref, op.value.Render(e)); err != nil {
				return fmt.Errorf("coerce: %w", err)
			}
		}
	}
	for i := range f.rename {
		if err := f.rename[i].apply(e); err != nil {
			return fmt.Errorf("rename: %w", err)
		}
	}
	for i := range f.update {
		op := &f.update[i]
		if _, ok := e.Get(op.ref); ok {
			if err := e.Set(op.ref, op.value.Render(e)); err != nil {
				return fmt.Errorf("update: %w", err)
			}
		}
	}
	for i := range f.replace {
		op := &f.replace[i]
		if err := e.Set(op.ref, op.value.Render(e)); err != nil {
			return fmt.Errorf("replace: %w", err)
		}
	}
	for i := range f.convert {
		if err := f.convert[i].apply(e); err != nil {
			return fmt.Errorf("convert %s: %w", f.convert[i].ref, err)
		}
	}
	for i := range f.gsub {
		if err := f.gsub[i].apply(e); err != nil {
			return fmt.Errorf("gsub %s: %w", f.gsub[i].ref, err)
		}
	}
	if err := mapStrings(e, "uppercase", f.uppercase, strings.ToUpper); err != nil {
		return err
	}
	if err := mapStrings(e, "capitalize", f.capitalize, capitalize); err != nil {
		return err
	}
	if err := mapStrings(e, "lowercase", f.lowercase, strings.ToLower); err != nil {
		return err
	}
	for _, r := range f.strip {
		if err := strip(e, r); err != nil {
			return fmt.Errorf("strip %s: %w", r, err)
		}
	}
	for i := range f.split {
		op := &f.split[i]
		if s, ok := e.GetString(op.ref); ok {
			if err := e.Set(op.ref, rubySplit(s, op.sep)); err != nil {
				return fmt.Errorf("split: %w", err)
			}
		}
	}
	for i := range f.join {
		op := &f.join[i]
		if v, ok := e.Get(op.ref); ok {
			if list, ok := v.([]any); ok {
				if err := e.Set(op.ref, string(appendRubyJoin(nil, list, op.sep))); err != nil {
					return fmt.Errorf("join: %w", err)
				}
			}
		}
	}
	for i := range f.merge {
		if err := f.merge[i].merge(e); err != nil {
			return fmt.Errorf("merge: %w", err)
		}
	}
	for i := range f.copy {
		op := &f.copy[i]
		if v, ok := e.Get(op.a); ok && v != nil {
			// Set normalises v, which copies maps and slices deeply.
			if err := e.Set(op.b, v); err != nil {
				return fmt.Errorf("copy: %w", err)
			}
		}
	}
	return nil
}

func (op *renameOp) apply(e *event.Event) error {
	from, err := op.from.Resolve(e)
	if err != nil {
		return err
	}
	to, err := op.to.Resolve(e)
	if err != nil {
		return err
	}
	// As in Logstash, the field is removed before the target is set, so a
	// target that cannot be set loses the value.
	v, ok := e.Delete(from)
	if !ok {
		return nil
	}
	return e.Set(to, v)
}

// mapStrings replaces the string at each ref, and the strings of a list, with
// fn of them. Lists are changed in place: they belong to the event.
func mapStrings(e *event.Event, name string, refs []event.Ref, fn func(string) string) error {
	for _, r := range refs {
		v, ok := e.Get(r)
		if !ok {
			continue
		}
		switch x := v.(type) {
		case string:
			if y := fn(x); y != x {
				if err := e.Set(r, y); err != nil {
					return fmt.Errorf("%s %s: %w", name, r, err)
				}
			}
		case []any:
			for i, el := range x {
				if s, ok := el.(string); ok {
					x[i] = fn(s)
				}
			}
		}
	}
	return nil
}

func strip(e *event.Event, r event.Ref) error {
	v, ok := e.Get(r)
	if !ok {
		return nil
	}
	switch x := v.(type) {
	case string:
		if y := rubyStrip(x); y != x {
			return e.Set(r, y)
		}
	case []any:
		// Logstash calls strip on every element: a non-string one raises, and
		// the field is left as it was.
		for i, el := range x {
			if _, ok := el.(string); !ok {
				return fmt.Errorf("element %d is %s, not a string", i, kindOf(el))
			}
		}
		for i, el := range x {
			x[i] = rubyStrip(el.(string))
		}
	}
	return nil
}

func (op *pairOp) merge(e *event.Event) error {
	dest, _ := e.Get(op.a)
	added, _ := e.Get(op.b)
	dm, destMap := dest.(map[string]any)
	am, addedMap := added.(map[string]any)
	switch {
	case destMap != addedMap:
		// Logstash logs "Not possible to merge an array and a hash" and goes on.
		return nil
	case destMap:
		if len(am) == 0 {
			return nil
		}
		for k, v := range am {
			c, err := event.Normalize(v) // a deep copy
			if err != nil {
				return err
			}
			dm[k] = c
		}
		return nil
	}
	// Array(dest).concat(Array(added)); Array(nil) is empty.
	list := make([]any, 0, listLen(dest)+listLen(added))
	list = appendAsList(list, dest)
	list = appendAsList(list, added)
	return e.Set(op.a, list) // Set copies, so the added values are not shared
}

func listLen(v any) int {
	switch x := v.(type) {
	case nil:
		return 0
	case []any:
		return len(x)
	}
	return 1
}

func appendAsList(list []any, v any) []any {
	switch x := v.(type) {
	case nil:
		return list
	case []any:
		return append(list, x...)
	}
	return append(list, v)
}
