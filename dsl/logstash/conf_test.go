package logstash

import (
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"golang.org/x/tools/txtar"

	"github.com/pipelined/pipeline/dsl/ir"
)

// parseOK parses src and fails the test on any diagnostic.
func parseOK(t *testing.T, src string, opts ConfOptions) *ConfFile {
	t.Helper()
	cf, diags := ParseConf([]byte(src), "p.conf", opts)
	if len(diags) > 0 {
		t.Fatalf("unexpected diagnostics: %v", diags)
	}
	return cf
}

// decodeCodec is a codec block, as the engine decodes it.
type decodeCodec struct {
	Type string   `hcl:"type,label"`
	Body hcl.Body `hcl:",remain"`
}

// decodeOptions has one field of each shape plugin options use.
type decodeOptions struct {
	Host    string              `hcl:"host,optional"`
	Port    int                 `hcl:"port,optional"`
	Ratio   float64             `hcl:"ratio,optional"`
	SSL     bool                `hcl:"ssl,optional"`
	Enabled *bool               `hcl:"enabled,optional"`
	Tags    []string            `hcl:"tags,optional"`
	Fields  map[string]string   `hcl:"add_field,optional"`
	Match   map[string][]string `hcl:"match,optional"`
	Codec   *decodeCodec        `hcl:"codec,block"`
}

// TestConfDecode proves that the bodies ParseConf builds decode with gohcl
// the way HCL-written bodies do: barewords and numbers convert to the field
// types, repeated settings are merged, and the codec plugin is a block.
func TestConfDecode(t *testing.T) {
	cf := parseOK(t, `input {
  beats {
    host => "0.0.0.0"
    port => 5044
    ratio => 0.25
    ssl => true
    enabled => "false"
    tags => [ "a", b_c, 3 ]
    tags => "d"
    add_field => { "[a][b]" => "%{host}" 12 => 3 bare => word }
    add_field => { "x" => "y" }
    match => { "message" => [ "%{A}", "%{B}" ] }
    codec => json_lines { charset => "UTF-8" delimiter => "\n" }
    id => "in"
  }
}`, ConfOptions{})
	pl := cf.Pipeline.Inputs[0]
	if pl.ID != "in" {
		t.Errorf("ID = %q", pl.ID)
	}
	var o decodeOptions
	if diags := gohcl.DecodeBody(pl.Body, nil, &o); diags.HasErrors() {
		t.Fatalf("decode: %v", diags)
	}
	if o.Host != "0.0.0.0" || o.Port != 5044 || o.Ratio != 0.25 || !o.SSL || o.Enabled == nil || *o.Enabled {
		t.Errorf("scalars: %+v", o)
	}
	if got := strings.Join(o.Tags, ","); got != "a,b_c,3,d" {
		t.Errorf("tags = %q", got)
	}
	want := map[string]string{"[a][b]": "%{host}", "12": "3", "bare": "word", "x": "y"}
	if len(o.Fields) != len(want) {
		t.Errorf("add_field = %v", o.Fields)
	}
	for k, v := range want {
		if o.Fields[k] != v {
			t.Errorf("add_field[%q] = %q, want %q", k, o.Fields[k], v)
		}
	}
	if m := o.Match["message"]; len(m) != 2 || m[1] != "%{B}" {
		t.Errorf("match = %#v", o.Match)
	}
	if o.Codec == nil || o.Codec.Type != "json_lines" {
		t.Fatalf("codec = %+v", o.Codec)
	}
	var c struct {
		Charset   string `hcl:"charset"`
		Delimiter string `hcl:"delimiter"`
	}
	if diags := gohcl.DecodeBody(o.Codec.Body, nil, &c); diags.HasErrors() {
		t.Fatalf("codec decode: %v", diags)
	}
	if c.Charset != "UTF-8" || c.Delimiter != `\n` { // support_escapes off: kept as written
		t.Errorf("codec options = %+v", c)
	}
}

// TestConfDecodeDiagnostics checks that gohcl's diagnostics on a .conf body
// point into the .conf file.
func TestConfDecodeDiagnostics(t *testing.T) {
	src := "filter {\n  mutate {\n    prot => 5044\n    host => [1, 2]\n    # ok\n    ratio => \"x\"\n  }\n}\n"
	cf := parseOK(t, src, ConfOptions{})
	var o decodeOptions
	diags := gohcl.DecodeBody(cf.Pipeline.Filters[0].(*ir.Plugin).Body, nil, &o)
	var got []string
	for _, d := range diags {
		got = append(got, d.Subject.String()+": "+d.Summary+": "+d.Detail)
	}
	sort.Strings(got) // gohcl reports in map order
	want := []string{
		`p.conf:3,5-9: Unsupported argument: An argument named "prot" is not expected here. Did you mean "port"?`,
		`p.conf:4,13-14: Unsuitable value type: Unsuitable value: string required, but have tuple`,
		`p.conf:6,14-17: Unsuitable value type: Unsuitable value: a number is required`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("diagnostics:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestConfCodecShorthand checks `codec => json` and `codec => "json"`: a
// codec block with an empty body, and an error for a repeated codec.
func TestConfCodecShorthand(t *testing.T) {
	for _, src := range []string{
		`output { stdout { codec => rubydebug } }`,
		`output { stdout { codec => "rubydebug" } }`,
		`output { stdout { codec => rubydebug codec => rubydebug } }`,
	} {
		cf := parseOK(t, src, ConfOptions{})
		var o decodeOptions
		if diags := gohcl.DecodeBody(cf.Pipeline.Outputs[0].(*ir.Plugin).Body, nil, &o); diags.HasErrors() {
			t.Fatalf("%s: %v", src, diags)
		}
		if o.Codec == nil || o.Codec.Type != "rubydebug" {
			t.Errorf("%s: codec = %+v", src, o.Codec)
		}
		attrs, diags := o.Codec.Body.JustAttributes()
		if len(attrs) != 0 || diags.HasErrors() {
			t.Errorf("%s: codec body %v %v", src, attrs, diags)
		}
	}
	_, diags := ParseConf([]byte(`output { stdout { codec => json codec => plain {} } }`), "p.conf", ConfOptions{})
	if len(diags) != 1 || diags[0].Summary != "Duplicate codec" || diags[0].Subject.Start.Column != 33 {
		t.Errorf("diagnostics = %v", diags)
	}
}

// TestConfEscapes checks both settings of config.support_escapes.
func TestConfEscapes(t *testing.T) {
	src := `filter { mutate { a => "x\"y\\n\t" b => 'it\'s' } if [f] == "q\"" {} }`
	for _, tc := range []struct {
		escapes    bool
		a, b, cond string
	}{
		{false, `x\"y\\n\t`, `it\'s`, `q\"`},
		{true, "x\"y\\n\t", `it's`, `q"`},
	} {
		cf := parseOK(t, src, ConfOptions{SupportEscapes: tc.escapes})
		var o struct {
			A string `hcl:"a"`
			B string `hcl:"b"`
		}
		if diags := gohcl.DecodeBody(cf.Pipeline.Filters[0].(*ir.Plugin).Body, nil, &o); diags.HasErrors() {
			t.Fatal(diags)
		}
		if o.A != tc.a || o.B != tc.b {
			t.Errorf("escapes %v: a = %q, b = %q", tc.escapes, o.A, o.B)
		}
		cond := cf.Pipeline.Filters[1].(*ir.If).Branches[0].Cond.(*ir.Compare).Right.(*ir.Literal).Value
		if cond != tc.cond {
			t.Errorf("escapes %v: condition string %q", tc.escapes, cond)
		}
	}
}

// TestConfColumns checks that columns count characters, as hclsyntax does.
func TestConfColumns(t *testing.T) {
	src := "filter { mutate { a => \"é👍🏽\" b => 1 } if \"👍🏽\" in [x] { drop {} } }"
	cf := parseOK(t, src, ConfOptions{})
	body := cf.Pipeline.Filters[0].(*ir.Plugin).Body.(*hclsyntax.Body)
	if r := body.Attributes["b"].NameRange; r.Start.Column != 29 || r.Start.Byte != src2byte(src, "b =>") {
		t.Errorf("b at %v", r)
	}
	cond := cf.Pipeline.Filters[1].(*ir.If).Branches[0].Cond.(*ir.In).Right
	if r := cond.SrcRange(); r.Start.Column != 48 {
		t.Errorf("[x] at %v", r)
	}
}

func src2byte(src, s string) int { return strings.Index(src, s) }

// seeds returns the .conf sources of the golden tests in ../testdata.
func seeds(t testing.TB) []string {
	files, _ := filepath.Glob("../testdata/conf*.txtar")
	var out []string
	for _, file := range files {
		ar, err := txtar.ParseFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range ar.Files {
			if filepath.Ext(f.Name) == ".conf" {
				out = append(out, string(f.Data))
			}
		}
	}
	return out
}

func TestConfSeeds(t *testing.T) {
	if n := len(seeds(t)); n < 20 {
		t.Errorf("only %d golden .conf files found", n)
	}
}

// FuzzParseConf checks that ParseConf never panics, that every diagnostic
// lies within the source, with line and column matching its byte offset,
// and that every range in the IR does too.
func FuzzParseConf(f *testing.F) {
	for _, s := range seeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		lines := newConfLines([]byte(src))
		check := func(what string, r *hcl.Range) {
			if r == nil {
				return
			}
			if r.Filename != "f.conf" || r.Start.Byte < 0 || r.End.Byte > len(src) || r.End.Byte < r.Start.Byte {
				t.Fatalf("%s range %v outside the source (%d bytes)", what, r, len(src))
			}
			if r.Start != lines.pos(r.Start.Byte) || r.End != lines.pos(r.End.Byte) {
				t.Fatalf("%s range %#v: line or column does not match its byte offset", what, r)
			}
		}
		cf, diags := ParseConf([]byte(src), "f.conf", ConfOptions{LookupEnv: func(k string) (string, bool) {
			return "v", k == "SET"
		}})
		for _, d := range diags {
			if d.Subject == nil {
				t.Fatalf("diagnostic without subject: %v", d)
			}
			check("diagnostic", d.Subject)
			check("diagnostic context", d.Context)
		}
		if cf == nil || cf.IDRanges == nil {
			t.Fatal("nil result")
		}
		if cf.Pipeline == nil {
			return
		}
		for _, pl := range cf.Pipeline.Inputs {
			checkPlugin(t, pl, check)
		}
		checkNodes(t, cf.Pipeline.Filters, check)
		checkNodes(t, cf.Pipeline.Outputs, check)
	})
}

func checkNodes(t *testing.T, nodes []ir.Node, check func(string, *hcl.Range)) {
	for _, n := range nodes {
		switch n := n.(type) {
		case *ir.Plugin:
			checkPlugin(t, n, check)
		case *ir.If:
			check("if", &n.Range)
			for _, b := range n.Branches {
				check("branch", &b.Range)
				if b.Cond != nil {
					walk(b.Cond, func(e ir.Expr) { r := e.SrcRange(); check("condition", &r) })
				}
				checkNodes(t, b.Body, check)
			}
			checkNodes(t, n.Else, check)
		}
	}
}

func checkPlugin(t *testing.T, pl *ir.Plugin, check func(string, *hcl.Range)) {
	check("plugin", &pl.Range)
	check("plugin type", &pl.TypeRange)
	checkBody(t, pl.Body.(*hclsyntax.Body), check)
}

func checkBody(t *testing.T, b *hclsyntax.Body, check func(string, *hcl.Range)) {
	check("body", &b.SrcRange)
	check("body end", &b.EndRange)
	for name, a := range b.Attributes {
		if a.Name != name {
			t.Fatalf("attribute %q filed as %q", a.Name, name)
		}
		check("attribute", &a.SrcRange)
		check("attribute name", &a.NameRange)
		check("attribute =>", &a.EqualsRange)
		hclsyntax.VisitAll(a.Expr, func(n hclsyntax.Node) hcl.Diagnostics {
			r := n.Range()
			check("expression", &r)
			return nil
		})
		if _, diags := a.Expr.Value(nil); diags.HasErrors() {
			t.Fatalf("attribute %q: %v", name, diags)
		}
	}
	for _, blk := range b.Blocks {
		check("block type", &blk.TypeRange)
		for i := range blk.LabelRanges {
			check("block label", &blk.LabelRanges[i])
		}
		checkBody(t, blk.Body, check)
	}
}

// TestConfEdges covers what the txtar goldens cannot express (no final
// newline, a byte order mark, CRLF line ends) and a few grammar corners.
func TestConfEdges(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		check     func(t *testing.T, cf *ConfFile)
	}{
		{"comment at EOF without newline", "input { stdin {} } # end", func(t *testing.T, cf *ConfFile) {
			if len(cf.Pipeline.Inputs) != 1 {
				t.Errorf("inputs = %v", cf.Pipeline.Inputs)
			}
		}},
		{"only comments", "# nothing\n\n# here", func(t *testing.T, cf *ConfFile) {
			if cf.Pipeline != nil {
				t.Errorf("pipeline = %v", cf.Pipeline)
			}
		}},
		{"byte order mark", "\uFEFFinput { stdin {} }", func(t *testing.T, cf *ConfFile) {
			if r := cf.Pipeline.Inputs[0].Range; r.Start.Column != 10 || r.Start.Byte != 11 {
				t.Errorf("stdin at %#v", r)
			}
		}},
		{"CRLF", "filter {\r\n  mutate {\r\n    a => \"x\"\r\n  }\r\n}\r\n", func(t *testing.T, cf *ConfFile) {
			a := cf.Pipeline.Filters[0].(*ir.Plugin).Body.(*hclsyntax.Body).Attributes["a"]
			if a.NameRange.Start.Line != 3 || a.NameRange.Start.Column != 5 {
				t.Errorf("a at %v", a.NameRange)
			}
		}},
		{"plugin names that start like keywords", "filter { iffy {} elsewhere {} 123 {} - {} }", func(t *testing.T, cf *ConfFile) {
			var names []string
			for _, n := range cf.Pipeline.Filters {
				names = append(names, n.(*ir.Plugin).Type)
			}
			if strings.Join(names, " ") != "iffy elsewhere 123 -" {
				t.Errorf("plugins %v", names)
			}
		}},
		{"whitespace is needed only between settings", `filter{if[a]{mutate{a=>"b" c=>{"d"=>1"e"=>[1,2]}}}else{drop{}}}`, func(t *testing.T, cf *ConfFile) {
			n := cf.Pipeline.Filters[0].(*ir.If)
			if len(n.Branches) != 1 || len(n.Else) != 1 {
				t.Errorf("if = %+v", n)
			}
		}},
		{"else if needs no space before its condition", `output { if [a] {} else if[b] {} else if"c" in [d] {} }`, func(t *testing.T, cf *ConfFile) {
			if n := cf.Pipeline.Outputs[0].(*ir.If); len(n.Branches) != 3 {
				t.Errorf("if = %+v", n)
			}
		}},
		{"elseif then a brace is a plugin", `output { if [a] {} elseif {} elseif2 {} }`, func(t *testing.T, cf *ConfFile) {
			if len(cf.Pipeline.Outputs) != 3 || cf.Pipeline.Outputs[1].(*ir.Plugin).Type != "elseif" {
				t.Errorf("outputs = %+v", cf.Pipeline.Outputs)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.check(t, parseOK(t, tc.src, ConfOptions{}))
		})
	}
}

// TestConfEnvEscapes checks where an undefined ${VAR} is reported when
// escapes are processed.
func TestConfEnvEscapes(t *testing.T) {
	src := `filter { mutate { a => "\t${NOPE}" } }`
	_, diags := ParseConf([]byte(src), "p.conf", ConfOptions{SupportEscapes: true, LookupEnv: func(string) (string, bool) { return "", false }})
	if len(diags) != 1 || diags[0].Subject.Start.Column != 27 || diags[0].Subject.End.Column != 34 {
		t.Errorf("diagnostics = %v", diags)
	}
}

// TestConfIncomplete checks the partial IR after a syntax error.
func TestConfIncomplete(t *testing.T) {
	cf, diags := ParseConf([]byte("input { stdin { id => \"in\" } }\nfilter {\n  drop {}\n  if [a] { drop {} }\n  mutate {"), "p.conf", ConfOptions{})
	if len(diags) != 1 || !cf.Incomplete || diags[0].Subject.Start.Line != 5 {
		t.Fatalf("diagnostics = %v, incomplete %v", diags, cf.Incomplete)
	}
	if len(cf.Pipeline.Inputs) != 1 || len(cf.Pipeline.Filters) != 2 || len(cf.IDRanges) != 1 {
		t.Errorf("partial pipeline = %+v", cf.Pipeline)
	}
	if cf := parseOK(t, "input { stdin {} }", ConfOptions{}); cf.Incomplete {
		t.Error("complete file marked incomplete")
	}
}
