package engine

import (
	"errors"
	"fmt"
	"io/fs"
	"reflect"
	"strings"

	"github.com/agext/levenshtein"
	"github.com/hashicorp/hcl/v2"

	"github.com/pipelined/pipeline/dsl/ir"
	"github.com/pipelined/pipeline/engine/event"
)

// Engine-owned options, decoded before the plugin sees the rest of the body
// (Packer's pattern): plugins never declare them.
type commonInputOptions struct {
	Type         string      `hcl:"type,optional"`
	Tags         []string    `hcl:"tags,optional"`
	AddField     HashOfLists `hcl:"add_field,optional" item:"value"`
	EnableMetric *bool       `hcl:"enable_metric,optional"`
	Codec        *codecBlock `hcl:"codec,block"`
	Rest         hcl.Body    `hcl:",remain"`
}

type commonFilterOptions struct {
	AddField     HashOfLists `hcl:"add_field,optional" item:"value"`
	AddTag       []string    `hcl:"add_tag,optional"`
	RemoveField  []string    `hcl:"remove_field,optional"`
	RemoveTag    []string    `hcl:"remove_tag,optional"`
	EnableMetric *bool       `hcl:"enable_metric,optional"`
	Rest         hcl.Body    `hcl:",remain"`
}

type commonOutputOptions struct {
	EnableMetric *bool `hcl:"enable_metric,optional"`
	// Workers is still declared by Logstash's output base class (for the
	// legacy concurrency model no bundled output uses): configurations
	// carry it, so it is read and, when not 1, reported as ignored.
	Workers *float64    `hcl:"workers,optional"`
	Codec   *codecBlock `hcl:"codec,block"`
	Rest    hcl.Body    `hcl:",remain"`
}

type codecBlock struct {
	Type      string    `hcl:"type,label"`
	Body      hcl.Body  `hcl:",remain"`
	DefRange  hcl.Range `hcl:",def_range"`
	TypeRange hcl.Range `hcl:"type,label_range"`
}

// checkIDAttribute refuses an `id = "…"` attribute: in HCL the id is the
// block's second label (the .conf front-end turns `id =>` into that label).
func checkIDAttribute(pl *ir.Plugin) hcl.Diagnostics {
	c, _, _ := pl.Body.PartialContent(&hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "id"}}})
	if c == nil {
		return nil
	}
	a, ok := c.Attributes["id"]
	if !ok {
		return nil
	}
	return hcl.Diagnostics{{
		Severity: hcl.DiagError,
		Summary:  "Unexpected id option",
		Detail:   fmt.Sprintf("The plugin id is the block's second label: write %s %q \"<id>\" { … } and remove this line.", pl.Kind, pl.Type),
		Subject:  &a.NameRange,
	}}
}

// CommonOptionNames lists the options the engine handles for each kind, for docs.
var CommonOptionNames = map[ir.Kind][]string{
	ir.Input:  {"add_field", "codec", "enable_metric", "tags", "type"},
	ir.Filter: {"add_field", "add_tag", "enable_metric", "remove_field", "remove_tag"},
	ir.Output: {"codec", "enable_metric", "workers"},
}

// addField is one add_field entry.
type addField struct {
	name  event.FieldTemplate
	value event.Template
}

// parseAddFields compiles add_field in written order, as Logstash walks the
// hash; a key with a list of values adds each (see applyAddFields).
func parseAddFields(h HashOfLists, body hcl.Body) ([]addField, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	out := make([]addField, 0, len(h))
	for _, en := range h {
		n, err := event.ParseFieldTemplate(en.Key)
		if err != nil {
			diags = append(diags, fieldDiag(body, "add_field", fmt.Errorf("%q: %w", en.Key, err)))
			continue
		}
		for _, s := range en.Values {
			v, err := event.ParseTemplate(s)
			if err != nil {
				diags = append(diags, fieldDiag(body, "add_field", fmt.Errorf("%q: %w", en.Key, err)))
				continue
			}
			out = append(out, addField{n, v})
		}
	}
	return out, diags
}

func parseTemplates(list []string, body hcl.Body, option string) ([]event.Template, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	out := make([]event.Template, 0, len(list))
	for _, s := range list {
		t, err := event.ParseTemplate(s)
		if err != nil {
			diags = append(diags, fieldDiag(body, option, err))
			continue
		}
		out = append(out, t)
	}
	return out, diags
}

func parseFieldNames(list []string, body hcl.Body, option string) ([]event.FieldTemplate, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	out := make([]event.FieldTemplate, 0, len(list))
	for _, s := range list {
		f, err := event.ParseFieldTemplate(s)
		if err != nil {
			diags = append(diags, fieldDiag(body, option, fmt.Errorf("%q: %w", s, err)))
			continue
		}
		out = append(out, f)
	}
	return out, diags
}

// applyAddFields follows Logstash's Decorators.add_fields: a new field is set; an
// existing one becomes an array with the value appended. So `"f" => ["a"]`
// sets the string "a", and `"f" => ["a", "b"]` the array ["a", "b"].
func applyAddFields(e *event.Event, fields []addField) {
	for _, f := range fields {
		r, err := f.name.Resolve(e)
		if err != nil {
			continue
		}
		v := f.value.Render(e)
		old, ok := e.Get(r)
		if !ok {
			_ = e.Set(r, v)
			continue
		}
		var arr []any
		switch o := old.(type) {
		case []any:
			arr = append(o, v)
		default:
			arr = []any{o, v}
		}
		_ = e.Set(r, arr)
	}
}

func renderTags(e *event.Event, ts []event.Template) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.Render(e)
	}
	return out
}

// attrRange returns the range of attribute name in body, or the body's range.
func attrRange(body hcl.Body, name string) hcl.Range {
	c, _, _ := body.PartialContent(&hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: name}}})
	if c != nil {
		if a, ok := c.Attributes[name]; ok {
			return a.Range
		}
	}
	return body.MissingItemRange()
}

// fieldDiag turns an error about option field into a diagnostic on its range.
func fieldDiag(body hcl.Body, field string, err error) *hcl.Diagnostic {
	r := attrRange(body, field)
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  fmt.Sprintf("Invalid value for %q", field),
		Detail:   errorText(err) + ".",
		Subject:  &r,
	}
}

// errorText is err's message, with the operating system's words for a file
// that is not there ("stat /x: no such file or directory") said plainly, as
// Logstash's :path validator does: the option then names the file missing.
func errorText(err error) string {
	msg := err.Error()
	var pe *fs.PathError
	if errors.As(err, &pe) && errors.Is(err, fs.ErrNotExist) {
		msg = strings.Replace(msg, pe.Error(), fmt.Sprintf("the file %q does not exist", pe.Path), 1)
	}
	return msg
}

// errDiag converts a Validate or constructor error into a diagnostic: a
// *FieldError blames its option, anything else the whole block.
func errDiag(body hcl.Body, blame hcl.Range, what string, err error) *hcl.Diagnostic {
	var d *hcl.Diagnostic
	var fe *FieldError
	if errors.As(err, &fe) {
		d = fieldDiag(body, fe.Field, fe.Err)
	} else {
		d = &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  fmt.Sprintf("Invalid %s", what),
			Detail:   errorText(err) + ".",
			Subject:  &blame,
		}
	}
	if IsAtStart(err) {
		d.Extra = atStart{}
	}
	return d
}

// atStart is the Extra of a diagnostic made from an error marked AtStart.
type atStart struct{}

// StartRefusal is the sentence that ends the detail of a warning `pipeline
// check` gives for an error marked AtStart; tools that read check's output
// (examples/compat) look for it.
const StartRefusal = "`pipeline run` refuses to start with this"

// deferAtStart turns the errors of diags marked AtStart into warnings, for
// `pipeline check`, and reports whether there were any.
func deferAtStart(diags hcl.Diagnostics) bool {
	found := false
	for _, d := range diags {
		if _, ok := d.Extra.(atStart); ok && d.Severity == hcl.DiagError {
			d.Severity = hcl.DiagWarning
			d.Detail += " " + StartRefusal + ": Logstash finds it when the pipeline starts (in the plugin's register), and its configuration test (logstash -t) accepts it."
			found = true
		}
	}
	return found
}

// decodeOptions runs the Defaults → decode → Validate steps for one plugin
// body. ecs, when set, is pipeline.ecs_compatibility: it replaces the
// plugin's default ecs_compatibility before the body is decoded, so a value
// the plugin sets wins, as in Logstash.
func decodeOptions(f *Factory, body hcl.Body, blame hcl.Range, ecs string) (any, hcl.Diagnostics) {
	o := f.NewOptions()
	if ecs != "" {
		setECSDefault(reflect.ValueOf(o).Elem(), ecs)
	}
	diags := DecodeOptions(body, o)
	if diags.HasErrors() {
		return nil, diags
	}
	if v, ok := o.(Validator); ok {
		if err := v.Validate(); err != nil {
			return nil, append(diags, errDiag(body, blame, fmt.Sprintf("%s %q options", f.Kind, f.Name), err))
		}
	}
	return o, diags
}

// suggest returns a "Did you mean" sentence for name among candidates, or "".
func suggest(name string, candidates []string) string {
	best, bestD := "", 1<<30
	for _, c := range candidates {
		d := levenshtein.Distance(name, c, nil)
		if d < bestD {
			best, bestD = c, d
		}
	}
	if best != "" && bestD <= max(2, len(name)/3) {
		return fmt.Sprintf(" Did you mean %q?", best)
	}
	return ""
}

// OutputBody returns what an output plugin decodes of its block: the body
// without the options the engine handles for every output (codec,
// enable_metric, workers), for commands that read a plugin's settings from
// a configuration (`pipeline verify -f`).
func OutputBody(body hcl.Body) hcl.Body {
	var com commonOutputOptions
	if diags := DecodeOptions(body, &com); diags.HasErrors() || com.Rest == nil {
		return body
	}
	return com.Rest
}

// setECSDefault sets the string option named ecs_compatibility of the
// options struct v, in it or in a struct it embeds (the ecs option group),
// to ecs.
func setECSDefault(v reflect.Value, ecs string) bool {
	if v.Kind() != reflect.Struct {
		return false
	}
	t := v.Type()
	for i := range t.NumField() {
		sf := t.Field(i)
		if !sf.IsExported() {
			continue
		}
		if name, _, _ := strings.Cut(sf.Tag.Get("hcl"), ","); name == "ecs_compatibility" && sf.Type.Kind() == reflect.String {
			v.Field(i).SetString(ecs)
			return true
		}
		if sf.Anonymous && sf.Type.Kind() == reflect.Struct && setECSDefault(v.Field(i), ecs) {
			return true
		}
	}
	return false
}
