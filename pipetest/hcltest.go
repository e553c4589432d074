package pipetest

// The HCL test format: NAME_test.hcl files next to the pipeline.
//
//	config = "pipelines.yml"        # optional, relative to this file
//	clock  = "2026-12-07T10:00:00Z" # optional: "now" for filters and new events
//	ignore = ["[event][original]"]  # optional: removed before comparing
//
//	test "an sshd line is parsed" {
//	  input = "syslog_tcp"            # the id of the input the events enter at
//	  lines = ["<13>Dec  7 ... sshd[1]: hi"]  # decoded by that input's codec
//	  # or: events = [{ message = "hi", "[host][name]" = "web1" }]
//	  expect "per_host_program" {     # the next event out of this output
//	    subset = { syslog_program = "sshd" }   # or event = {…} (exact)
//	  }                                        # or condition = "[syslog_pid] == '1'"
//	  no_output = ["other_output"]
//	}
//
// The expect blocks of one output id match, in order, every event that
// output took: as many events as blocks.

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	ctyjson "github.com/zclconf/go-cty/cty/json"

	"github.com/pipelined/pipeline/dsl"
	"github.com/pipelined/pipeline/dsl/ir"
	"github.com/pipelined/pipeline/dsl/logstash"
	"github.com/pipelined/pipeline/engine/cond"
	"github.com/pipelined/pipeline/engine/event"
)

// maxHCLTests bounds the test blocks of one file.
const maxHCLTests = 10000

// HCLSuite is one NAME_test.hcl file.
type HCLSuite struct {
	File   string
	Config string    // the configuration the tests run against
	Clock  time.Time // zero: the real clock
	Ignore []string
	Tests  []*HCLTest
}

// HCLTest is one `test` block.
type HCLTest struct {
	Suite    *HCLSuite
	Name     string
	Line     int
	Input    string
	Lines    []string
	Events   []map[string]any
	Ignore   []string
	Expects  []*Expect
	NoOutput []string
	noRange  hcl.Range
}

// Expect is one `expect` block: exactly one of Event (exact match), Subset
// or Condition (the pipeline's condition language) is set.
type Expect struct {
	Output    string
	Line      int
	Event     map[string]any
	Subset    map[string]any
	Condition string
	cond      func(*event.Event) bool
}

// FullName is what --run matches: the file's base name, a slash and the
// test's name.
func (t *HCLTest) FullName() string { return filepath.Base(t.Suite.File) + "/" + t.Name }

var (
	fileSchema = &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{{Name: "config"}, {Name: "clock"}, {Name: "ignore"}},
		Blocks:     []hcl.BlockHeaderSchema{{Type: "test", LabelNames: []string{"name"}}},
	}
	testSchema = &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{{Name: "input", Required: true}, {Name: "lines"}, {Name: "events"},
			{Name: "ignore"}, {Name: "no_output"}},
		Blocks: []hcl.BlockHeaderSchema{{Type: "expect", LabelNames: []string{"output"}}},
	}
	expectSchema = &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{{Name: "event"}, {Name: "subset"}, {Name: "condition"}},
	}
)

// ParseHCLSuite reads one NAME_test.hcl file. Diagnostics point into it.
func ParseHCLSuite(path string) (*HCLSuite, hcl.Diagnostics) {
	src, err := readBounded(path)
	if err != nil {
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Cannot read test file", Detail: err.Error()}}
	}
	f, diags := hclsyntax.ParseConfig(src, path, hcl.InitialPos)
	if diags.HasErrors() {
		return nil, diags
	}
	content, d := f.Body.Content(fileSchema)
	diags = append(diags, d...)
	s := &HCLSuite{File: path, Ignore: []string{"@version"}}
	dir := filepath.Dir(path)
	if a := content.Attributes["config"]; a != nil {
		var c string
		diags = append(diags, decodeAttr(a, &c)...)
		if !filepath.IsAbs(c) {
			c = filepath.Join(dir, c)
		}
		s.Config = c
	} else if _, err := os.Stat(filepath.Join(dir, "pipelines.yml")); err == nil {
		s.Config = filepath.Join(dir, "pipelines.yml")
	} else {
		s.Config = dir
	}
	if a := content.Attributes["clock"]; a != nil {
		var c string
		diags = append(diags, decodeAttr(a, &c)...)
		if c != "" {
			t, err := time.Parse(time.RFC3339Nano, c)
			if err != nil {
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid clock",
					Detail: fmt.Sprintf("clock is an RFC 3339 time such as \"2026-12-07T10:00:00Z\": %v", err), Subject: a.Expr.Range().Ptr()})
			}
			s.Clock = t.UTC()
		}
	}
	if a := content.Attributes["ignore"]; a != nil {
		var ig []string
		diags = append(diags, decodeAttr(a, &ig)...)
		s.Ignore = append(s.Ignore, ig...)
	}
	names := map[string]bool{}
	for _, b := range content.Blocks {
		if len(s.Tests) >= maxHCLTests {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Too many tests",
				Detail: fmt.Sprintf("A test file holds at most %d tests.", maxHCLTests), Subject: b.DefRange.Ptr()})
			break
		}
		t := &HCLTest{Suite: s, Name: b.Labels[0], Line: b.DefRange.Start.Line}
		if names[t.Name] {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Duplicate test name",
				Detail: fmt.Sprintf("Another test in this file is named %q.", t.Name), Subject: b.LabelRanges[0].Ptr()})
		}
		names[t.Name] = true
		diags = append(diags, t.parse(b)...)
		s.Tests = append(s.Tests, t)
	}
	return s, diags
}

func (t *HCLTest) parse(b *hcl.Block) hcl.Diagnostics {
	content, diags := b.Body.Content(testSchema)
	if a := content.Attributes["input"]; a != nil {
		diags = append(diags, decodeAttr(a, &t.Input)...)
	}
	la, ea := content.Attributes["lines"], content.Attributes["events"]
	switch {
	case la != nil && ea != nil:
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Both lines and events",
			Detail: "Send either lines (decoded by the input's codec) or events, not both.", Subject: ea.NameRange.Ptr()})
	case la != nil:
		diags = append(diags, decodeAttr(la, &t.Lines)...)
	case ea != nil:
		diags = append(diags, decodeAttr(ea, &t.Events)...)
		if t.Events == nil {
			t.Events = []map[string]any{}
		}
		for i, e := range t.Events {
			t.Events[i] = wholeNumbers(e).(map[string]any)
		}
	}
	if a := content.Attributes["ignore"]; a != nil {
		diags = append(diags, decodeAttr(a, &t.Ignore)...)
	}
	if a := content.Attributes["no_output"]; a != nil {
		diags = append(diags, decodeAttr(a, &t.NoOutput)...)
		t.noRange = a.Range
	}
	for _, eb := range content.Blocks {
		e := &Expect{Output: eb.Labels[0], Line: eb.DefRange.Start.Line}
		ec, d := eb.Body.Content(expectSchema)
		diags = append(diags, d...)
		n := 0
		if a := ec.Attributes["event"]; a != nil {
			n++
			diags = append(diags, decodeAttr(a, &e.Event)...)
			e.Event = nestBrackets(e.Event)
			if e.Event == nil {
				e.Event = map[string]any{}
			}
		}
		if a := ec.Attributes["subset"]; a != nil {
			n++
			diags = append(diags, decodeAttr(a, &e.Subset)...)
			e.Subset = nestBrackets(e.Subset)
			if e.Subset == nil {
				e.Subset = map[string]any{}
			}
		}
		if a := ec.Attributes["condition"]; a != nil {
			n++
			diags = append(diags, decodeAttr(a, &e.Condition)...)
			// The condition's text starts after the opening quote.
			start := a.Expr.Range().Start
			start.Column++
			start.Byte++
			expr, d := logstash.ParseCondition(e.Condition, start, a.Expr.Range().Filename)
			diags = append(diags, d...)
			if !d.HasErrors() {
				var cd hcl.Diagnostics
				e.cond, cd = cond.Compile(expr)
				diags = append(diags, cd...)
			}
		}
		if n != 1 {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid expect block",
				Detail: "An expect block holds exactly one of event (exact match), subset or condition.", Subject: eb.DefRange.Ptr()})
		}
		t.Expects = append(t.Expects, e)
	}
	if len(t.Expects) == 0 && len(t.NoOutput) == 0 {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Nothing expected",
			Detail: "A test holds expect blocks or no_output (or both); otherwise it cannot fail.", Subject: b.DefRange.Ptr()})
	}
	return diags
}

// decodeAttr evaluates a (constant) attribute into dst through JSON.
func decodeAttr(a *hcl.Attribute, dst any) hcl.Diagnostics {
	v, diags := a.Expr.Value(nil)
	if diags.HasErrors() {
		return diags
	}
	if v.IsNull() {
		return nil
	}
	b, err := ctyjson.Marshal(v, v.Type())
	if err == nil {
		err = json.Unmarshal(b, dst)
	}
	if err != nil {
		return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Invalid value for " + a.Name, Detail: err.Error(), Subject: a.Expr.Range().Ptr()}}
	}
	return nil
}

// outputIDs lists the ids of the configuration's outputs.
func outputIDs(cfg *ir.Config) map[string]bool {
	ids := map[string]bool{}
	for _, p := range cfg.Pipelines {
		for _, pl := range allPlugins(p) {
			if pl.Kind == ir.Output {
				ids[pl.ID] = true
			}
		}
	}
	return ids
}

// RunHCL runs one test against r (loaded from t.Suite.Config with its
// clock) and returns what failed ("" when it passed).
func (r *Runner) RunHCL(t *HCLTest) (string, error) {
	var inputs []string
	found := false
	for _, p := range r.cfg.Pipelines {
		for _, in := range p.Inputs {
			inputs = append(inputs, in.ID)
			found = found || in.ID == t.Input
		}
	}
	if !found {
		return "", fmt.Errorf("input %q: no input has that id (inputs: %s)", t.Input, strings.Join(inputs, ", "))
	}
	outs := outputIDs(r.cfg)
	for _, id := range append(expectOutputs(t), t.NoOutput...) {
		if !outs[id] {
			names := make([]string, 0, len(outs))
			for n := range outs {
				names = append(names, n)
			}
			sort.Strings(names)
			return "", fmt.Errorf("no output has the id %q (outputs: %s)", id, strings.Join(names, ", "))
		}
	}
	s := &Suite{File: t.Suite.File, InputPlugin: t.Input}
	c := &Case{Suite: s, Line: t.Line, Description: t.Name, Input: t.Lines, Events: t.Events}
	acts, err := r.collect(c)
	if err != nil {
		return "", err
	}
	byOut := map[string][]actual{}
	for _, a := range acts {
		byOut[a.out] = append(byOut[a.out], a)
	}
	ignore := append(append([]string(nil), t.Suite.Ignore...), t.Ignore...)
	shown := func(a actual) map[string]any {
		m := a.fields
		for _, f := range ignore {
			deletePath(m, splitRef(f))
		}
		return m
	}
	var b strings.Builder
	file := t.Suite.File
	for _, out := range expectOutputs(t) {
		var exps []*Expect
		for _, e := range t.Expects {
			if e.Output == out {
				exps = append(exps, e)
			}
		}
		got := byOut[out]
		if len(got) != len(exps) {
			want := make([]any, len(exps))
			for i, e := range exps {
				want[i] = e.describe()
			}
			have := make([]any, len(got))
			for i, a := range got {
				have[i] = shown(a)
			}
			fmt.Fprintf(&b, "output %s: expected %d event(s), got %d\n", out, len(exps), len(got))
			b.WriteString(unifiedDiff(fmt.Sprintf("expected (%s:%d)", file, exps[0].Line), "actual (output "+out+")", pretty(want), pretty(have)))
			continue
		}
		for i, e := range exps {
			a := got[i]
			where := fmt.Sprintf("%s:%d", file, e.Line)
			switch {
			case e.cond != nil:
				ev, err := toEvent(a)
				if err != nil {
					return "", err
				}
				if !e.cond(ev) {
					fmt.Fprintf(&b, "output %s, event %d: the condition %s (%s) is false for:\n%s", out, i+1, e.Condition, where, pretty(shown(a)))
				}
			case e.Subset != nil:
				m := shown(a)
				if !subsetOf(e.Subset, m) {
					fmt.Fprintf(&b, "output %s, event %d: not a superset of the expected fields (actual shows only those):\n", out, i+1)
					b.WriteString(unifiedDiff("expected ("+where+")", "actual (output "+out+")", pretty(e.Subset), pretty(project(m, e.Subset))))
				}
			default:
				if d := unifiedDiff("expected ("+where+")", "actual (output "+out+")", pretty(e.Event), pretty(shown(a))); d != "" {
					fmt.Fprintf(&b, "output %s, event %d differs:\n%s", out, i+1, d)
				}
			}
		}
	}
	for _, out := range t.NoOutput {
		if got := byOut[out]; len(got) > 0 {
			have := make([]any, len(got))
			for i, a := range got {
				have[i] = shown(a)
			}
			fmt.Fprintf(&b, "output %s: expected no events (%s:%d), got %d:\n%s", out, file, t.noRange.Start.Line, len(got), pretty(have))
		}
	}
	return b.String(), nil
}

// wholeNumbers makes the whole numbers JSON decoded as float64 integers, as
// a codec would decode them.
func wholeNumbers(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			v[k] = wholeNumbers(x)
		}
	case []any:
		for i, x := range v {
			v[i] = wholeNumbers(x)
		}
	case float64:
		if v == math.Trunc(v) && math.Abs(v) < 1<<53 {
			return int64(v)
		}
	}
	return v
}

// expectOutputs lists the output ids t's expect blocks name, in order of
// first appearance.
func expectOutputs(t *HCLTest) []string {
	var out []string
	seen := map[string]bool{}
	for _, e := range t.Expects {
		if !seen[e.Output] {
			seen[e.Output] = true
			out = append(out, e.Output)
		}
	}
	return out
}

// describe is how an expect block shows in a count mismatch.
func (e *Expect) describe() any {
	switch {
	case e.cond != nil || e.Condition != "":
		return map[string]any{"(condition)": e.Condition}
	case e.Subset != nil:
		return map[string]any{"(subset)": e.Subset}
	}
	return e.Event
}

// toEvent rebuilds the event an output took, [@metadata] included, for a
// condition.
func toEvent(a actual) (*event.Event, error) {
	m := make(map[string]any, len(a.fields)+1)
	for k, v := range a.fields {
		m[k] = v
	}
	if len(a.meta) > 0 {
		m[event.MetadataField] = a.meta
	}
	return event.FromMap(m)
}

// subsetOf reports whether every field of want is in got with an equal
// value; objects compare as subsets, everything else (arrays too) exactly.
func subsetOf(want, got map[string]any) bool {
	for k, w := range want {
		g, ok := got[k]
		if !ok {
			return false
		}
		if wm, ok := w.(map[string]any); ok {
			gm, ok := g.(map[string]any)
			if !ok || !subsetOf(wm, gm) {
				return false
			}
			continue
		}
		if pretty(w) != pretty(g) {
			return false
		}
	}
	return true
}

// project keeps of got the fields want names, for a readable diff.
func project(got, want map[string]any) map[string]any {
	out := map[string]any{}
	for k, w := range want {
		g, ok := got[k]
		if !ok {
			continue
		}
		wm, wok := w.(map[string]any)
		gm, gok := g.(map[string]any)
		if wok && gok {
			out[k] = project(gm, wm)
		} else {
			out[k] = g
		}
	}
	return out
}

// isTestHCL reports whether path is an HCL test file.
func isTestHCL(path string) bool { return dsl.IsTestFile(path) }
