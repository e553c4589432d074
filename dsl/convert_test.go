package dsl

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	"golang.org/x/tools/txtar"

	"github.com/pipelined/pipeline/dsl/ir"
)

// canonical prints the IR of cfg without source ranges, so that two
// front-ends' results can be compared: pipelines with their settings,
// plugins as `kind type id`, their attributes sorted by name with values
// rendered through cty conversion to string (a .conf bareword "true" and
// HCL's true, or "5044" and 5044, print the same), nested blocks in order,
// and conditions with ir.FormatCondition.
func canonical(t *testing.T, cfg *ir.Config) string {
	t.Helper()
	var b strings.Builder
	for _, p := range cfg.Pipelines {
		s := p.Settings
		delay := ""
		if s.BatchDelay != 0 {
			delay = s.BatchDelay.String()
		}
		fmt.Fprintf(&b, "pipeline %q {Workers:%d BatchSize:%d BatchDelay:%s}", p.Name, s.Workers, s.BatchSize, delay)
		if d := s.DeadLetterQueue; d != (ir.DeadLetterQueueSettings{}) {
			fmt.Fprintf(&b, " dead_letter_queue{%s}", dumpDLQ(d))
		}
		b.WriteString("\n")
		for _, in := range p.Inputs {
			canonNode(t, &b, in, "  ")
		}
		for _, n := range p.Filters {
			canonNode(t, &b, n, "  ")
		}
		for _, n := range p.Outputs {
			canonNode(t, &b, n, "  ")
		}
	}
	return b.String()
}

func canonNode(t *testing.T, b *strings.Builder, n ir.Node, indent string) {
	switch n := n.(type) {
	case *ir.Plugin:
		fmt.Fprintf(b, "%s%s %q %q\n", indent, n.Kind, n.Type, n.ID)
		canonBody(t, b, n.Body, indent+"  ")
	case *ir.If:
		for i, br := range n.Branches {
			kw := "if"
			if i > 0 {
				kw = "else if"
			}
			cond := "<nil>"
			if br.Cond != nil {
				cond = ir.FormatCondition(br.Cond)
			}
			fmt.Fprintf(b, "%s%s %s\n", indent, kw, cond)
			for _, c := range br.Body {
				canonNode(t, b, c, indent+"  ")
			}
		}
		if n.Else != nil {
			fmt.Fprintf(b, "%selse\n", indent)
			for _, c := range n.Else {
				canonNode(t, b, c, indent+"  ")
			}
		}
		fmt.Fprintf(b, "%send\n", indent)
	}
}

func canonBody(t *testing.T, b *strings.Builder, body hcl.Body, indent string) {
	sb, ok := body.(*hclsyntax.Body)
	if !ok {
		t.Fatalf("body %T", body)
	}
	names := make([]string, 0, len(sb.Attributes))
	for name := range sb.Attributes {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		v, diags := sb.Attributes[name].Expr.Value(nil)
		if diags.HasErrors() {
			t.Fatalf("%s: %v", name, diags)
		}
		fmt.Fprintf(b, "%s%s = %s\n", indent, name, canonValue(v))
	}
	for _, blk := range sb.Blocks {
		fmt.Fprintf(b, "%s%s %q\n", indent, blk.Type, blk.Labels)
		canonBody(t, b, blk.Body, indent+"  ")
	}
}

func canonValue(v cty.Value) string {
	if v.IsNull() || !v.IsKnown() {
		return v.GoString()
	}
	ty := v.Type()
	switch {
	case ty.IsPrimitiveType():
		s, err := convert.Convert(v, cty.String)
		if err != nil {
			return v.GoString()
		}
		return strconv.Quote(s.AsString())
	case ty.IsListType() || ty.IsTupleType() || ty.IsSetType():
		var parts []string
		for it := v.ElementIterator(); it.Next(); {
			_, e := it.Element()
			parts = append(parts, canonValue(e))
		}
		return "[" + strings.Join(parts, ", ") + "]"
	default:
		var parts []string
		for it := v.ElementIterator(); it.Next(); {
			k, e := it.Element()
			parts = append(parts, strconv.Quote(k.AsString())+" = "+canonValue(e))
		}
		sort.Strings(parts)
		return "{" + strings.Join(parts, ", ") + "}"
	}
}

// fakeEnv resolves every variable, to a value that shows its name.
func fakeEnv(name string) (string, bool) { return "<" + name + ">", true }

var fakeEnvLoader = Loader{LookupEnv: fakeEnv}

// loadOK loads path (a file or directory) with l and fails on errors.
func loadOK(t *testing.T, l Loader, path string) *ir.Config {
	t.Helper()
	cfg, diags := l.Load(path)
	if diags.HasErrors() {
		t.Fatalf("%s: %v", path, diags)
	}
	return cfg
}

// equivalences lists the .conf and .hcl files of examples/ that must load
// to the same IR: every X.conf with an X.hcl beside it, and the topology.
func equivalences(t *testing.T) [][2]string {
	pairs := [][2]string{
		{"../examples/topology/conf.d/logstash.conf", "../examples/topology/logstash.hcl"},
		{"../examples/topology/conf.d/logstash1.conf", "../examples/topology/logstash1.hcl"},
	}
	for _, conf := range exampleConfs(t) {
		if hclFile := strings.TrimSuffix(conf, ".conf") + ".hcl"; fileExists(hclFile) {
			pairs = append(pairs, [2]string{conf, hclFile})
		}
	}
	return pairs
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// exampleConfs returns every .conf file under examples/.
func exampleConfs(t *testing.T) []string {
	var out []string
	err := filepath.WalkDir("../examples", func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() && path == filepath.Join("..", "examples", "bench", "rsyslog") {
			return filepath.SkipDir // rsyslog's own configuration: the benchmark's peer, not a pipeline
		}
		if err == nil && !d.IsDir() && filepath.Ext(path) == ".conf" {
			out = append(out, path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestConfHCLEquivalence: the .conf and .hcl versions of the examples load
// to the same IR.
func TestConfHCLEquivalence(t *testing.T) {
	for _, pair := range equivalences(t) {
		t.Run(filepath.Base(pair[0]), func(t *testing.T) {
			conf := canonical(t, loadOK(t, fakeEnvLoader, pair[0]))
			hclIR := canonical(t, loadOK(t, fakeEnvLoader, pair[1]))
			if conf != hclIR {
				t.Errorf("%s and %s differ:\n--- conf:\n%s--- hcl:\n%s", pair[0], pair[1], conf, hclIR)
			}
		})
	}
}

// TestTopologyPipelinesYML: the topology's pipelines.yml loads both
// pipelines, each the IR of its .hcl equivalent.
func TestTopologyPipelinesYML(t *testing.T) {
	cfg, diags := fakeEnvLoader.LoadPipelinesYML("../examples/topology/pipelines.yml")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	want := map[string]string{"main": "logstash.hcl", "elastic-pipeline": "logstash1.hcl"}
	if len(cfg.Pipelines) != len(want) {
		t.Fatalf("%d pipelines, want %d", len(cfg.Pipelines), len(want))
	}
	for _, p := range cfg.Pipelines {
		file, ok := want[p.Name]
		if !ok {
			t.Fatalf("unexpected pipeline %q", p.Name)
		}
		h := loadOK(t, fakeEnvLoader, filepath.Join("../examples/topology", file))
		h.Pipelines[0].Name = p.Name
		got := canonical(t, &ir.Config{Pipelines: []*ir.Pipeline{p}})
		if w := canonical(t, h); got != w {
			t.Errorf("pipeline %q:\n--- pipelines.yml:\n%s--- %s:\n%s", p.Name, got, file, w)
		}
	}
}

// convertRoundTrip converts path (a .conf file or a directory) to HCL,
// loads the HCL and compares its IR with the IR of path loaded with l. It
// returns the HCL, or the diagnostics of a refused conversion.
func convertRoundTrip(t *testing.T, l Loader, path string) ([]byte, hcl.Diagnostics) {
	t.Helper()
	out, _, diags := ConvertConf(path)
	if diags.HasErrors() {
		return nil, diags
	}
	hclPath := filepath.Join(t.TempDir(), "converted.hcl")
	if err := os.WriteFile(hclPath, out, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, diags := l.Load(hclPath)
	if diags.HasErrors() {
		t.Fatalf("the HCL converted from %s does not load: %v\n%s", path, diags, out)
	}
	if got, want := canonical(t, cfg), canonical(t, loadOK(t, l, path)); got != want {
		t.Fatalf("the HCL converted from %s loads differently:\n--- hcl:\n%s--- conf:\n%s--- converted:\n%s", path, got, want, out)
	}
	return out, nil
}

// TestConvertExamples: pipeline convert round-trips every .conf file of
// examples/, and the topology's conf.d as a directory.
func TestConvertExamples(t *testing.T) {
	paths := append(exampleConfs(t), "../examples/topology/conf.d")
	if len(paths) < 3 {
		t.Fatalf("only %d .conf examples", len(paths))
	}
	for _, path := range paths {
		t.Run(path, func(t *testing.T) {
			if _, diags := convertRoundTrip(t, fakeEnvLoader, path); diags.HasErrors() {
				t.Fatal(diags)
			}
		})
	}
}

// TestConvertTestdata: pipeline convert round-trips the configurations of
// testdata/conf*.txtar that load without errors. HCL cannot express
// setting names that are not identifiers; those conversions must fail
// with that diagnostic only.
func TestConvertTestdata(t *testing.T) {
	files, err := filepath.Glob("testdata/conf*.txtar")
	if err != nil {
		t.Fatal(err)
	}
	converted := 0
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txtar"), func(t *testing.T) {
			ar, err := txtar.ParseFile(file)
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			env := map[string]string{}
			var configs []string
			for _, f := range ar.Files {
				switch {
				case f.Name == "env":
					for _, line := range strings.Split(string(f.Data), "\n") {
						if k, v, ok := strings.Cut(line, "="); ok {
							env[k] = v
						}
					}
				case strings.HasPrefix(f.Name, "want."):
				default:
					if filepath.Ext(f.Name) == ".hcl" {
						t.Skip("holds HCL, which convert does not read")
					}
					if err := os.WriteFile(filepath.Join(dir, f.Name), f.Data, 0o644); err != nil {
						t.Fatal(err)
					}
					configs = append(configs, f.Name)
				}
			}
			target := dir
			if len(configs) == 1 {
				target = filepath.Join(dir, configs[0])
			}
			l := Loader{LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }}
			if _, diags := l.Load(target); diags.HasErrors() {
				t.Skip("does not load")
			}
			out, diags := convertRoundTrip(t, l, target)
			for _, d := range diags {
				if d.Summary != "Setting name not valid in HCL" {
					t.Fatalf("conversion refused: %v", diags)
				}
			}
			if out != nil {
				converted++
			}
		})
	}
	if converted < 5 {
		t.Errorf("only %d archives converted", converted)
	}
}

// TestConvertStrings round-trips values that need care in HCL: template
// sequences, backslashes, ${VAR} references and quotes, in values, hash
// keys, ids, codec names and conditions.
func TestConvertStrings(t *testing.T) {
	const conf = `input {
  stdin {
    id => "in %{x} ${Y} $${Z} %%{w}"
    a => "%{[host][name]} %{+YYYY.MM.dd} %{NUMBER:n:int} %{if} %{ ~x} %{endfor} %{a\"b} %{ "
    b => "\d+\.\[x\] \\ \n \t \\n \u0041 C:\temp\new \"q\" 'single'"
    c => 'single "double" \'esc\''
    d => "${VAR} ${VAR:default} ${VAR:} ${VAR:a\"b%{c}d$${e}} x$${VAR} $${VAR}$ ${not valid} ${} $ { }"
    e => "$${VAR:x} $$${VAR} %${VAR} \${VAR}"
    f => ["${A}", "%{b}", { "${K}" => "${V}" "%{k}" => "%%{v}" }]
    g => "two
lines, tab	and unicode é 👍"
    h => "${VAR}${VAR}$${VAR}"
    codec => "json"
  }
}
filter {
  if [a] == "%{x} ${Y} \\ \d" and [b] =~ /\d+\/"%{y}"/ or "x" in [c] {
    drop { id => "drop ${X}" }
  }
}
output { stdout { codec => line { format => "%{message} ${FMT:%{x}}" } } }
`
	dir := t.TempDir()
	path := filepath.Join(dir, "strings.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	out, diags := convertRoundTrip(t, fakeEnvLoader, path)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	// Readable where the loader allows it.
	for _, want := range []string{
		`"%{[host][name]} %{+YYYY.MM.dd} %{NUMBER:n:int} %%{if}`,
		`"\d+\.\[x\]`,
		`"${VAR} ${VAR:default}`,
		`input "stdin" "in %{x} ${Y}`,
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the output lacks %s:\n%s", want, out)
		}
	}
	// ${VAR} is never resolved.
	if strings.Contains(string(out), "<VAR>") {
		t.Errorf("a variable was resolved:\n%s", out)
	}
}

// TestConvertComments: comments are kept where the issue asks.
func TestConvertComments(t *testing.T) {
	out, _, diags := ConvertConf("../examples/topology/conf.d/logstash1.conf")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	for _, want := range []string{
		"# Pipeline \"elastic-pipeline\"",
		`data_type = "list"                # read a Redis list, used as a queue`,
		`codec "json" {} # the main pipeline's redis output writes JSON`,
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the output lacks %q:\n%s", want, out)
		}
	}
}

func TestConvertRefused(t *testing.T) {
	dir := t.TempDir()
	write := func(name, src string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct{ path, want string }{
		{write("syntax.conf", "input { stdin { a = 1 } }\n"), `syntax.conf:1:19: Expected "=>"`},
		{write("name.conf", "input { stdin { \"a b\" => 1 } }\n"), "name.conf:1:17: Setting name not valid in HCL"},
		{write("codec.conf", "input { stdin { codec => \"${CODEC}\" } }\n"), "codec.conf:1:26: Environment variable in a plugin name"},
		{write("x.hcl", "input \"stdin\" {}\n"), "Not a .conf file"},
		{filepath.Join(dir, "missing.conf"), "Cannot read configuration"},
	} {
		out, _, diags := ConvertConf(tc.path)
		if out != nil || !diags.HasErrors() {
			t.Errorf("%s: converted", tc.path)
			continue
		}
		if got := dumpDiags(diags, dir); !strings.Contains(got, tc.want) {
			t.Errorf("%s: diagnostics\n%s\nlack %q", tc.path, got, tc.want)
		}
	}
}

// FuzzConvert: every .conf source that loads without errors converts, and
// the HCL loads to the same IR (or the conversion is refused for a setting
// name HCL cannot express).
func FuzzConvert(f *testing.F) {
	files, _ := filepath.Glob("testdata/conf*.txtar")
	for _, file := range files {
		ar, err := txtar.ParseFile(file)
		if err != nil {
			f.Fatal(err)
		}
		for _, af := range ar.Files {
			if filepath.Ext(af.Name) == ".conf" {
				f.Add(af.Data)
			}
		}
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		path := filepath.Join(t.TempDir(), "fuzz.conf")
		if err := os.WriteFile(path, src, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, diags := fakeEnvLoader.Load(path); diags.HasErrors() {
			return
		}
		_, diags := convertRoundTrip(t, fakeEnvLoader, path)
		for _, d := range diags {
			if d.Summary != "Setting name not valid in HCL" && d.Summary != "Invalid UTF-8" && d.Summary != "Environment variable in a plugin name" {
				t.Fatalf("conversion refused: %v", diags)
			}
		}
	})
}

// FuzzConvertStrings: strings of any content in values, hash keys, ids,
// codec names and conditions convert without change of meaning.
func FuzzConvertStrings(f *testing.F) {
	for _, s := range []string{
		`%{x} ${Y} $${Z} %%{w}`, `${VAR:a"b%{c}d$${e}}`, `\d+\.\[x\] \\ \n`, `$${VAR:x} $$${VAR} %${VAR}`,
		`%{if x}`, `%{ ~ }`, `${A}${B}$`, "two\nlines\ttab", `'single' "double"`, `%{a"b}`, `$${`, `%%%{x}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q := strings.ReplaceAll(s, `"`, `\"`)
		if strings.HasSuffix(q, `\`) {
			q += " "
		}
		src := fmt.Sprintf(`input { stdin { id => "id %[1]s" a => "%[1]s" b => { "%[1]s" => ["%[1]s"] } codec => "c" { "%[1]s" => 1 } } }
filter { if [a] == "%[1]s" or [b] =~ "%[1]s" { drop { id => "x%[1]s" } } }
output { null {} }
`, q)
		path := filepath.Join(t.TempDir(), "fuzz.conf")
		if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, diags := fakeEnvLoader.Load(path); diags.HasErrors() {
			return
		}
		_, diags := convertRoundTrip(t, fakeEnvLoader, path)
		for _, d := range diags {
			if d.Summary != "Invalid UTF-8" && d.Summary != "Setting name not valid in HCL" {
				t.Fatalf("conversion refused: %v", diags)
			}
		}
	})
}

// docSection returns the fenced code blocks of the given language in the
// section of docs/pipeline-language.md that starts with heading.
func docSection(t *testing.T, heading, lang string) []string {
	t.Helper()
	b, err := os.ReadFile("../docs/pipeline-language.md")
	if err != nil {
		t.Fatal(err)
	}
	_, sec, ok := strings.Cut(string(b), "\n"+heading+"\n")
	if !ok {
		t.Fatalf("no section %q", heading)
	}
	if i := strings.Index(sec, "\n## "); i >= 0 {
		sec = sec[:i]
	}
	var out []string
	for {
		_, rest, ok := strings.Cut(sec, "```"+lang+"\n")
		if !ok {
			return out
		}
		code, after, _ := strings.Cut(rest, "```")
		out = append(out, code)
		sec = after
	}
}

func writeTemp(t *testing.T, name, src string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestDocsSideBySide: the HCL and .conf versions of the pipeline in
// docs/pipeline-language.md load to the same IR.
func TestDocsSideBySide(t *testing.T) {
	const heading = "## HCL and Logstash .conf side by side"
	h, c := docSection(t, heading, "hcl"), docSection(t, heading, "ruby")
	if len(h) != 1 || len(c) != 1 {
		t.Fatalf("%d hcl and %d ruby blocks", len(h), len(c))
	}
	got := canonical(t, loadOK(t, fakeEnvLoader, writeTemp(t, "p.conf", c[0])))
	want := canonical(t, loadOK(t, fakeEnvLoader, writeTemp(t, "p.hcl", h[0])))
	if got != want {
		t.Errorf("the two versions differ:\n--- conf:\n%s--- hcl:\n%s", got, want)
	}
}

// TestDocsConvert: the convert example of docs/pipeline-language.md shows
// what convert prints.
func TestDocsConvert(t *testing.T) {
	const heading = "## Logstash .conf files and pipeline convert"
	h, c := docSection(t, heading, "hcl"), docSection(t, heading, "ruby")
	if len(h) != 1 || len(c) != 1 {
		t.Fatalf("%d hcl and %d ruby blocks", len(h), len(c))
	}
	out, diags := convertRoundTrip(t, fakeEnvLoader, writeTemp(t, "p.conf", c[0]))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if string(out) != h[0] {
		t.Errorf("convert prints\n%s\nthe docs show\n%s", out, h[0])
	}
}
