package dsl

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/pipelined/pipeline/dsl/ir"
)

var testEnv = map[string]string{
	"HOME":   "/home/u",
	"TRICKY": `a"b\c %{x} ${y} %%{z} $${w}` + "\nline2",
	"URL":    "http://es:9200",
	"EMPTY":  "",
}

func testLoader() Loader {
	return Loader{LookupEnv: func(k string) (string, bool) { v, ok := testEnv[k]; return v, ok }}
}

// loadOne loads src and returns the body of the first plugin of the first
// pipeline.
func loadOne(t *testing.T, src string) (*ir.Config, *ir.Plugin, hcl.Diagnostics) {
	t.Helper()
	cfg, diags := testLoader().LoadSource("t.hcl", []byte(src))
	if len(cfg.Pipelines) == 0 {
		t.Fatalf("no pipeline; diags: %v", diags)
	}
	p := cfg.Pipelines[0]
	var pl *ir.Plugin
	switch {
	case len(p.Inputs) > 0:
		pl = p.Inputs[0]
	case len(p.Filters) > 0:
		pl, _ = p.Filters[0].(*ir.Plugin)
	case len(p.Outputs) > 0:
		pl, _ = p.Outputs[0].(*ir.Plugin)
	}
	if pl == nil {
		t.Fatalf("no plugin")
	}
	return cfg, pl, diags
}

func TestStringValues(t *testing.T) {
	for _, tc := range []struct {
		name, value string // value: the HCL source of the attribute value
		want        string
	}{
		{"grok pattern", `"%{SYSLOGLINE}"`, `%{SYSLOGLINE}`},
		{"sprintf field", `"%{[host][name]}-%{+YYYY.MM.dd}"`, `%{[host][name]}-%{+YYYY.MM.dd}`},
		{"already escaped", `"%%{SYSLOGLINE} $${HOME}"`, `%{SYSLOGLINE} ${HOME}`},
		{"template directive kept", `"%{if true}yes%{endif}%{~ if false}no%{~ endif}"`, `yes`},
		{"heredoc", "<<EOT\n%{SYSLOGLINE} ${HOME}\nEOT", "%{SYSLOGLINE} /home/u\n"},
		{"indented heredoc", "<<-EOT\n    %{SYSLOGLINE}\n    EOT", "%{SYSLOGLINE}\n"},
		{"env", `"${HOME}/x"`, `/home/u/x`},
		{"env with default, set", `"${HOME:/tmp}"`, `/home/u`},
		{"env empty", `"[${EMPTY:def}]"`, `[]`},
		{"env default", `"${NOPE:/tmp/x}"`, `/tmp/x`},
		{"env default with colons and slashes", `"${NOPE:http://localhost:9200} %{X}"`, `http://localhost:9200 %{X}`},
		{"env value with // is not a comment", `"${URL}/_bulk" # c`, `http://es:9200/_bulk`},
		{"env default with template syntax", `"${NOPE:%{a $${b \"q\"}"`, `%{a ${b "q"`},
		{"env default ends at the first }", `"${NOPE:%{a}b}"`, `%{ab}`},
		{"tricky env value in quotes", `"${TRICKY}"`, testEnv["TRICKY"]},
		{"tricky env value in heredoc", "<<EOT\n${TRICKY}\nEOT", testEnv["TRICKY"] + "\n"},
		{"dotted env name", `"${NOPE.X:d}"`, `d`},
		{"invalid escapes kept", `"\[%{HTTPDATE}\] \d+ \w \u12 \"q\" \\ \t"`, `\[%{HTTPDATE}\] \d+ \w \u12 "q" \ ` + "\t"},
		{"valid unicode escape", `"\u00e9"`, "é"},
		{"nested strings in interpolation", `"${"%{X}"}"`, `%{X}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := "input \"x\" {\n  v = " + tc.value + "\n}\n"
			_, pl, diags := loadOne(t, src)
			if diags.HasErrors() {
				t.Fatalf("diags: %v", diags)
			}
			var got string
			if d := gohcl.DecodeBody(pl.Body, nil, &struct {
				V string `hcl:"v"`
			}{}); d.HasErrors() {
				t.Fatalf("decode: %v", d)
			}
			attrs, _ := pl.Body.JustAttributes()
			v, d := attrs["v"].Expr.Value(nil)
			if d.HasErrors() {
				t.Fatalf("value: %v", d)
			}
			got = v.AsString()
			if got != tc.want {
				t.Errorf("value of %s = %q; want %q", tc.value, got, tc.want)
			}
		})
	}
}

func TestUntouched(t *testing.T) {
	// Comments, HCL interpolations that are not ${VAR} and keywords after
	// %{ are left to HCL.
	for _, src := range []string{
		"# %{SYSLOGLINE} ${UNSET}\n// ${UNSET}\n/* %{X} */ input \"x\" {}\n",
		"input \"x\" {\n  v = \"${upper(\"a\")}\"\n}\n",
		"input \"x\" {\n  v = \"%{ for x in [1] }a%{ endfor }\"\n}\n",
		"input \"x\" {\n  v = \"%%{a} $${b}\"\n}\n",
	} {
		out, m, diags := preprocess("t.hcl", []byte(src), testLoader().LookupEnv)
		if string(out) != src || m != nil || len(diags) > 0 {
			t.Errorf("preprocess(%q) = %q, %v, %v; want it unchanged", src, out, m, diags)
		}
	}
}

func TestUndefinedEnv(t *testing.T) {
	src := "input \"x\" {\n  v = \"%{A} é ${NOPE} ${ALSO_NOPE}\"\n}\n"
	_, _, diags := loadOne(t, src)
	if len(diags) != 2 {
		t.Fatalf("got %d diagnostics, want 2: %v", len(diags), diags)
	}
	for i, want := range []struct {
		name           string
		col, endCol    int
		byteOff, bytes int
	}{
		{"NOPE", 15, 22, strings.Index(src, "${NOPE}"), len("${NOPE}")},
		{"ALSO_NOPE", 23, 35, strings.Index(src, "${ALSO_NOPE}"), len("${ALSO_NOPE}")},
	} {
		d := diags[i]
		r := d.Subject
		if r.Start.Line != 2 || r.Start.Column != want.col || r.End.Column != want.endCol ||
			r.Start.Byte != want.byteOff || r.End.Byte != want.byteOff+want.bytes {
			t.Errorf("diag %d range = %#v; want line 2, columns %d-%d", i, r, want.col, want.endCol)
		}
		if !strings.Contains(d.Detail, "Set "+want.name) || !strings.Contains(d.Detail, "${"+want.name+":default}") {
			t.Errorf("diag %d detail = %q; want a hint", i, d.Detail)
		}
	}
}

// TestOriginalColumns checks that errors found after rewrites on the same
// line point at their original columns.
func TestOriginalColumns(t *testing.T) {
	t.Run("unknown argument", func(t *testing.T) {
		src := "input \"%{SYSLOGLINE}\" \"${HOME}\" { bogus = 1 }\n"
		_, pl, _ := loadOne(t, src)
		_, diags := pl.Body.Content(&hcl.BodySchema{})
		checkDiag(t, src, diags, "Unsupported argument", "bogus")
	})
	t.Run("unknown argument in nested block", func(t *testing.T) {
		src := "input \"x\" {\n  codec \"%{X}\" \"${HOME}\" \"%{Y}\" { bogus = 1 }\n}\n"
		_, pl, _ := loadOne(t, src)
		_, rest, _ := pl.Body.PartialContent(&hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{{Type: "codec", LabelNames: []string{"a", "b", "c"}}}})
		_ = rest
		content, _ := pl.Body.Content(&hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{{Type: "codec", LabelNames: []string{"a", "b", "c"}}}})
		_, diags := content.Blocks[0].Body.Content(&hcl.BodySchema{})
		checkDiag(t, src, diags, "Unsupported argument", "bogus")
	})
	t.Run("evaluation error", func(t *testing.T) {
		src := "filter \"mutate\" {\n  add_field = { \"a\" = \"%{SYSLOGLINE} ${HOME} é\", \"b\" = nope }\n}\n"
		_, pl, diags := loadOne(t, src)
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		var o struct {
			AddField map[string]string `hcl:"add_field"`
		}
		diags = gohcl.DecodeBody(pl.Body, nil, &o)
		checkDiag(t, src, diags, "Variables not allowed", "nope")
	})
	t.Run("syntax error", func(t *testing.T) {
		src := "output \"x\" {\n  v = \"%{SYSLOGLINE} ${HOME}\" bogus\n}\n"
		_, diags := testLoader().LoadSource("t.hcl", []byte(src))
		checkDiag(t, src, diags, "Missing newline after argument", "bogus")
	})
	t.Run("syntax error after same-line else", func(t *testing.T) {
		src := "if \"[a]\" {\n} else { filter \"x\" { v = \"%{A}\" } }\n"
		_, diags := testLoader().LoadSource("t.hcl", []byte(src))
		if !diags.HasErrors() {
			t.Fatal("no error")
		}
		d := diags[0]
		if d.Subject.Start.Line != 2 || d.Subject.Start.Column != 10 {
			t.Errorf("%s at %s; want 2:10", d.Summary, d.Subject)
		}
	})
}

// checkDiag checks that diags has an error with the summary whose subject
// starts at the first occurrence of at in src.
func checkDiag(t *testing.T, src string, diags hcl.Diagnostics, summary, at string) {
	t.Helper()
	off := strings.Index(src, at)
	li := newLineIndex([]byte(src))
	want := li.pos(off)
	for _, d := range diags {
		if d.Summary != summary {
			continue
		}
		if d.Subject == nil || d.Subject.Start != want {
			t.Errorf("%s at %#v; want %#v", summary, d.Subject, want)
		}
		if got := string(d.Subject.SliceBytes([]byte(src))); !strings.HasPrefix(got, at) {
			t.Errorf("%s subject is %q; want %q", summary, got, at)
		}
		return
	}
	t.Errorf("no %q diagnostic in %v", summary, diags)
}

// TestRemappedAST checks every position of a heavily rewritten file: each is
// consistent with the original source, and names and labels slice out of
// the original bytes.
func TestRemappedAST(t *testing.T) {
	t.Run("LF", func(t *testing.T) { testRemappedAST(t, remappedSrc) })
	t.Run("CRLF", func(t *testing.T) { testRemappedAST(t, strings.ReplaceAll(remappedSrc, "\n", "\r\n")) })
}

const remappedSrc = `# %{comment} ${UNSET}
pipeline "p" {
  input "a" "%{x}" { v = "%{SYSLOGLINE} ${HOME} ${TRICKY} é ${NOPE:d}" }
  if "[m] =~ /%{X}\d/ and [h] == '${HOME}'" {
    filter "grok" {
      match = { message = ["%{SYSLOGBASE} \[%{DATA}\]", <<-EOT
        %{A} ${URL} \d
        EOT
      ] }
    }
  } else if "[x] == \"%%{y}\u00e9\" and [z]" {
    filter "y" { z = [1, "${URL}", { k = "%{v}" }] }
  } else {
    output "o" { w = "${HOME}" }
  }
  output "stdout" { t = "\u00e9 %{x}" }
}
`

func testRemappedAST(t *testing.T, src string) {
	cfg, diags := testLoader().LoadSource("t.hcl", []byte(src))
	for _, d := range diags {
		t.Errorf("diag: %s", d)
	}
	li := newLineIndex([]byte(src))
	f := cfg.Files["t.hcl"]
	if string(f.Bytes) != src {
		t.Fatal("Files holds rewritten bytes")
	}
	n := 0
	walkPos(reflect.ValueOf(f.Body), func(p hcl.Pos) {
		n++
		if p != li.pos(p.Byte) {
			t.Errorf("position %#v is inconsistent; want %#v", p, li.pos(p.Byte))
		}
	})
	if n < 50 {
		t.Errorf("only %d positions found", n)
	}
	var check func(b *hclsyntax.Body)
	check = func(b *hclsyntax.Body) {
		for _, a := range b.Attributes {
			if got := string(a.NameRange.SliceBytes(f.Bytes)); got != a.Name {
				t.Errorf("attribute name range slices %q; want %q", got, a.Name)
			}
		}
		for _, blk := range b.Blocks {
			if got := string(blk.TypeRange.SliceBytes(f.Bytes)); got != blk.Type {
				t.Errorf("block type range slices %q; want %q", got, blk.Type)
			}
			for i, r := range blk.LabelRanges {
				got := string(r.SliceBytes(f.Bytes))
				if got != `"`+blk.Labels[i]+`"` && got != blk.Labels[i] && !strings.Contains(got, `\`) && !strings.Contains(got, "${") {
					t.Errorf("label range slices %s; label is %q", got, blk.Labels[i])
				}
			}
			check(blk.Body)
		}
	}
	check(f.Body.(*hclsyntax.Body))

	// The condition's nodes point into the original label.
	p := cfg.Pipelines[0]
	fif := p.Filters[0].(*ir.If)
	walkPos(reflect.ValueOf(fif.Branches[0].Cond), func(p hcl.Pos) {
		if p != li.pos(p.Byte) {
			t.Errorf("condition position %#v is inconsistent", p)
		}
	})
	m := fif.Branches[0].Cond.(*ir.BoolOp).Left.(*ir.Match)
	if got := string(m.Right.SrcRange().SliceBytes(f.Bytes)); got != `/%{X}\d/` {
		t.Errorf("regexp range slices %q", got)
	}
	if re := m.Right.(*ir.Regexp).Pattern; re != `%{X}\d` {
		t.Errorf("regexp = %q", re)
	}
	// After escapes (\" and %%{ and \u00e9), too.
	and := fif.Branches[1].Cond.(*ir.BoolOp)
	for e, want := range map[ir.Expr]string{
		and.Left.(*ir.Compare).Right: `\"%%{y}\u00e9\"`,
		and.Right:                    `[z]`,
		and:                          `[x] == \"%%{y}\u00e9\" and [z]`,
	} {
		if got := string(e.SrcRange().SliceBytes(f.Bytes)); got != want {
			t.Errorf("condition node range slices %s; want %s", got, want)
		}
	}
	if v := and.Left.(*ir.Compare).Right.(*ir.Literal).Value; v != "%{y}é" {
		t.Errorf("literal = %q", v)
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	other := filepath.Join(dir, "p.txt")
	if err := os.WriteFile(other, []byte("input \"stdin\" {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{
		filepath.Join(dir, "missing.hcl"): "Cannot read configuration",
		other:                             "Unsupported configuration file",
		empty:                             "No configuration files",
	} {
		cfg, diags := Load(path)
		if cfg == nil || cfg.Files == nil || len(diags) != 1 || diags[0].Summary != want {
			t.Errorf("Load(%s) = %v, %v; want a %q error", path, cfg, diags, want)
		}
	}
}

func TestLoadSourceEnv(t *testing.T) {
	t.Setenv("DSL_TEST_VAR", `x"y`)
	cfg, diags := LoadSource("p.hcl", []byte("input \"stdin\" {\n  v = \"${DSL_TEST_VAR}\"\n}\n"))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	attrs, _ := cfg.Pipelines[0].Inputs[0].Body.JustAttributes()
	if v, _ := attrs["v"].Expr.Value(nil); v.AsString() != `x"y` {
		t.Errorf("v = %#v", v)
	}
	// .conf files go to the Logstash front-end, with the same environment.
	cfg, diags = LoadSource("p.conf", []byte("input { stdin { v => \"${DSL_TEST_VAR}\" } }"))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	attrs, _ = cfg.Pipelines[0].Inputs[0].Body.JustAttributes()
	if v, _ := attrs["v"].Expr.Value(nil); v.AsString() != `x"y` {
		t.Errorf(".conf v = %#v", v)
	}
}

// walkPos calls fn for every non-zero hcl.Pos reachable from v.
func walkPos(v reflect.Value, fn func(hcl.Pos)) {
	seen := map[uintptr]bool{}
	var walk func(v reflect.Value)
	walk = func(v reflect.Value) {
		switch v.Kind() {
		case reflect.Pointer:
			if v.IsNil() || seen[v.Pointer()] {
				return
			}
			seen[v.Pointer()] = true
			walk(v.Elem())
		case reflect.Interface:
			if !v.IsNil() {
				walk(v.Elem())
			}
		case reflect.Struct:
			if v.Type() == posType {
				if p := v.Interface().(hcl.Pos); p != (hcl.Pos{}) {
					fn(p)
				}
				return
			}
			for i := 0; i < v.NumField(); i++ {
				if v.Type().Field(i).IsExported() {
					walk(v.Field(i))
				}
			}
		case reflect.Slice, reflect.Array:
			for i := 0; i < v.Len(); i++ {
				walk(v.Index(i))
			}
		case reflect.Map:
			for it := v.MapRange(); it.Next(); {
				walk(it.Value())
			}
		}
	}
	walk(v)
}

func TestOffsetMap(t *testing.T) {
	// orig: "ab%{c}d${X}e" → new: "ab%%{c}d/home/u/xe"
	m := &offsetMap{edits: []edit{
		{newStart: 2, newEnd: 3, origStart: 2, origEnd: 2},   // inserted "%"
		{newStart: 9, newEnd: 17, origStart: 8, origEnd: 12}, // "${X}" (4) → "/home/u/x"[:8]
	}}
	for _, tc := range []struct{ n, want int }{
		{0, 0}, {2, 2}, {3, 2}, {4, 3}, {8, 7}, {9, 8}, {10, 9}, {12, 11}, {13, 12}, {16, 12}, {17, 12}, {18, 13},
	} {
		if got := m.toOrig(tc.n); got != tc.want {
			t.Errorf("toOrig(%d) = %d; want %d", tc.n, got, tc.want)
		}
	}
}

func TestLineIndex(t *testing.T) {
	src := "ab\né x\r\n\tz \"e\u0301 👍🏽\" y\n"
	li := newLineIndex([]byte(src))
	toks, _ := hclsyntax.LexConfig([]byte(src), "", hcl.InitialPos)
	for _, tok := range toks {
		for _, p := range []hcl.Pos{tok.Range.Start, tok.Range.End} {
			if got := li.pos(p.Byte); got != p {
				t.Errorf("pos(%d) = %#v; hcl says %#v", p.Byte, got, p)
			}
		}
	}
}

// BenchmarkLoad loads a 1000-line file with 3000 rewrites.
func BenchmarkLoad(b *testing.B) {
	var sb strings.Builder
	for range 250 {
		sb.WriteString("filter \"grok\" {\n  match = { message = [\"%{SYSLOGBASE} %{WORD:a} \\[%{DATA:b}\\] ${HOME}\"] }\n}\n\n")
	}
	src := []byte(sb.String())
	l := testLoader()
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		if _, diags := l.LoadSource("p.hcl", src); diags.HasErrors() {
			b.Fatal(diags)
		}
	}
}
