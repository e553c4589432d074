package dsl

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"golang.org/x/tools/txtar"

	"github.com/pipelined/pipeline/dsl/ir"
)

var update = flag.Bool("update", false, "rewrite the want.ir and want.diags sections of testdata/*.txtar")

// TestLoad runs testdata/*.txtar. Each archive holds one or more
// configuration files (*.hcl, *.conf), an optional `env` file (VAR=value
// lines: the whole environment the loader sees) and the expected results:
// `want.ir` (dumpConfig) and/or `want.diags` (one `file:line:col: summary`
// line per diagnostic, its detail indented on the next line). With one
// configuration file, that file is loaded; with several, their directory.
// Unexpected diagnostics fail a case that has no want.diags.
func TestLoad(t *testing.T) {
	files, err := filepath.Glob("testdata/*.txtar")
	if err != nil || len(files) == 0 {
		t.Fatalf("no test cases: %v", err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txtar"), func(t *testing.T) {
			ar, err := txtar.ParseFile(file)
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			env := map[string]string{}
			var configs []string
			want := map[string]*txtar.File{}
			for i := range ar.Files {
				f := &ar.Files[i]
				switch f.Name {
				case "env":
					for _, line := range strings.Split(string(f.Data), "\n") {
						if k, v, ok := strings.Cut(line, "="); ok {
							env[k] = v
						}
					}
				case "want.ir", "want.diags":
					want[f.Name] = f
				default:
					path := filepath.Join(dir, f.Name)
					if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(path, f.Data, 0o644); err != nil {
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
			cfg, diags := l.Load(target)
			got := map[string]string{
				"want.ir":    dumpConfig(cfg, dir),
				"want.diags": dumpDiags(diags, dir),
			}

			if *update {
				if want["want.ir"] == nil && want["want.diags"] == nil {
					if len(diags) > 0 {
						ar.Files = append(ar.Files, txtar.File{Name: "want.diags"})
					} else {
						ar.Files = append(ar.Files, txtar.File{Name: "want.ir"})
					}
				}
				for i := range ar.Files {
					if g, ok := got[ar.Files[i].Name]; ok {
						ar.Files[i].Data = []byte(g)
					}
				}
				if err := os.WriteFile(file, txtar.Format(ar), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if want["want.diags"] == nil && len(diags) > 0 {
				t.Errorf("unexpected diagnostics:\n%s", got["want.diags"])
			}
			for name, w := range want {
				if g := got[name]; g != string(w.Data) {
					t.Errorf("%s differs\n--- got:\n%s--- want:\n%s", name, g, w.Data)
				}
			}
			// Every file loaded is registered with its original bytes.
			for _, name := range configs {
				path := filepath.Join(dir, name)
				f := cfg.Files[path]
				if f == nil {
					loaded := filepath.Ext(name) == ".hcl" || filepath.Ext(name) == ".conf"
					if loaded && !strings.HasPrefix(name, ".") && !strings.Contains(name, "/") {
						t.Errorf("Files[%q] missing", path)
					}
					continue
				}
				src, _ := os.ReadFile(path)
				if string(f.Bytes) != string(src) {
					t.Errorf("Files[%q].Bytes are not the original source", path)
				}
			}
		})
	}
}

// dumpDiags prints diagnostics as `file:line:col: summary` lines, each
// followed by its detail, indented. Filenames are relative to dir.
func dumpDiags(diags hcl.Diagnostics, dir string) string {
	var b strings.Builder
	for _, d := range diags {
		where := "-"
		if d.Subject != nil {
			where = fmt.Sprintf("%s:%d:%d", rel(d.Subject.Filename, dir), d.Subject.Start.Line, d.Subject.Start.Column)
		}
		sev := ""
		if d.Severity == hcl.DiagWarning {
			sev = "warning: "
		}
		fmt.Fprintf(&b, "%s: %s%s\n", where, sev, d.Summary)
		if d.Detail != "" {
			fmt.Fprintf(&b, "    %s\n", strings.ReplaceAll(rel(d.Detail, dir), "\n", "\n    "))
		}
	}
	return b.String()
}

func rel(s, dir string) string {
	if dir == "" {
		return s
	}
	return strings.ReplaceAll(s, dir+string(filepath.Separator), "")
}

// dumpConfig prints the IR compactly and deterministically: pipelines,
// settings, plugins as `kind type id @line:col`, their attributes evaluated
// without an EvalContext, nested blocks, and if / else if / else with
// conditions as s-expressions.
func dumpConfig(cfg *ir.Config, dir string) string {
	var b strings.Builder
	for _, p := range cfg.Pipelines {
		fmt.Fprintf(&b, "pipeline %q %s\n", p.Name, at(p.Range, dir))
		s := p.Settings
		if s.Workers != 0 {
			fmt.Fprintf(&b, "  workers = %d\n", s.Workers)
		}
		if s.BatchSize != 0 {
			fmt.Fprintf(&b, "  batch_size = %d\n", s.BatchSize)
		}
		if s.BatchDelay != 0 {
			fmt.Fprintf(&b, "  batch_delay = %q\n", s.BatchDelay)
		}
		if d := s.DeadLetterQueue; d != (ir.DeadLetterQueueSettings{}) {
			fmt.Fprintf(&b, "  dead_letter_queue = %s\n", dumpDLQ(d))
		}
		if len(p.Inputs) > 0 {
			b.WriteString("  inputs:\n")
			for _, in := range p.Inputs {
				dumpNode(&b, in, "    ", dir)
			}
		}
		if len(p.Filters) > 0 {
			b.WriteString("  filters:\n")
			dumpNodes(&b, p.Filters, "    ", dir)
		}
		if len(p.Outputs) > 0 {
			b.WriteString("  outputs:\n")
			dumpNodes(&b, p.Outputs, "    ", dir)
		}
	}
	return b.String()
}

func at(r hcl.Range, dir string) string {
	if r.Filename == "" {
		return "@-"
	}
	f := rel(r.Filename, dir)
	if !strings.Contains(f, string(filepath.Separator)) && strings.HasPrefix(f, "pipeline.") {
		f = "" // the usual single file: keep the goldens short
	} else {
		f += ":"
	}
	return fmt.Sprintf("@%s%d:%d", f, r.Start.Line, r.Start.Column)
}

func dumpNodes(b *strings.Builder, nodes []ir.Node, indent, dir string) {
	for _, n := range nodes {
		dumpNode(b, n, indent, dir)
	}
}

func dumpNode(b *strings.Builder, n ir.Node, indent, dir string) {
	switch n := n.(type) {
	case *ir.Plugin:
		fmt.Fprintf(b, "%s%s %s %s %s type%s\n", indent, n.Kind, n.Type, n.ID, at(n.Range, dir), at(n.TypeRange, dir))
		dumpBody(b, n.Body, indent+"  ", dir)
	case *ir.If:
		for i, br := range n.Branches {
			kw := "if"
			if i > 0 {
				kw = "else if"
			}
			cond := "<nil>"
			if br.Cond != nil {
				cond = exprString(br.Cond) + " " + at(br.Cond.SrcRange(), dir)
			}
			fmt.Fprintf(b, "%s%s %s\n", indent, kw, cond)
			dumpNodes(b, br.Body, indent+"  ", dir)
		}
		if n.Else != nil {
			fmt.Fprintf(b, "%selse\n", indent)
			dumpNodes(b, n.Else, indent+"  ", dir)
		}
		fmt.Fprintf(b, "%send\n", indent)
	default:
		fmt.Fprintf(b, "%s<unknown node %T>\n", indent, n)
	}
}

func dumpBody(b *strings.Builder, body hcl.Body, indent, dir string) {
	sb, ok := body.(*hclsyntax.Body)
	if !ok {
		fmt.Fprintf(b, "%s<body %T>\n", indent, body)
		return
	}
	for _, a := range sortedAttrs(sb) {
		v, diags := a.Expr.Value(nil)
		if diags.HasErrors() {
			fmt.Fprintf(b, "%s%s = <error: %s>\n", indent, a.Name, diags[0].Summary)
			continue
		}
		fmt.Fprintf(b, "%s%s = %s\n", indent, a.Name, ctyString(v))
	}
	for _, blk := range sb.Blocks {
		fmt.Fprintf(b, "%s%s", indent, blk.Type)
		for _, l := range blk.Labels {
			fmt.Fprintf(b, " %q", l)
		}
		fmt.Fprintf(b, " %s\n", at(blk.DefRange(), dir))
		dumpBody(b, blk.Body, indent+"  ", dir)
	}
}

func ctyString(v cty.Value) string {
	switch {
	case v.IsNull():
		return "null"
	case !v.IsKnown():
		return "<unknown>"
	}
	t := v.Type()
	switch {
	case t == cty.String:
		return strconv.Quote(v.AsString())
	case t == cty.Number:
		return v.AsBigFloat().Text('g', -1)
	case t == cty.Bool:
		return strconv.FormatBool(v.True())
	case t.IsListType() || t.IsTupleType() || t.IsSetType():
		var parts []string
		for it := v.ElementIterator(); it.Next(); {
			_, e := it.Element()
			parts = append(parts, ctyString(e))
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case t.IsMapType() || t.IsObjectType():
		var parts []string
		for it := v.ElementIterator(); it.Next(); {
			k, e := it.Element()
			parts = append(parts, k.AsString()+" = "+ctyString(e))
		}
		sort.Strings(parts)
		return "{" + strings.Join(parts, ", ") + "}"
	}
	return v.GoString()
}

// exprString prints a condition as an s-expression.
func exprString(e ir.Expr) string {
	switch e := e.(type) {
	case *ir.BoolOp:
		return fmt.Sprintf("(%s %s %s)", e.Op, exprString(e.Left), exprString(e.Right))
	case *ir.Not:
		return fmt.Sprintf("(not %s)", exprString(e.X))
	case *ir.Compare:
		return fmt.Sprintf("(%s %s %s)", e.Op, exprString(e.Left), exprString(e.Right))
	case *ir.Match:
		op := "=~"
		if e.Negate {
			op = "!~"
		}
		return fmt.Sprintf("(%s %s %s)", op, exprString(e.Left), exprString(e.Right))
	case *ir.In:
		op := "in"
		if e.Negate {
			op = "not-in"
		}
		return fmt.Sprintf("(%s %s %s)", op, exprString(e.Left), exprString(e.Right))
	case *ir.FieldRef:
		return e.Path
	case *ir.Literal:
		if s, ok := e.Value.(string); ok {
			return strconv.Quote(s)
		}
		return fmt.Sprint(e.Value)
	case *ir.List:
		var parts []string
		for _, it := range e.Items {
			parts = append(parts, exprString(it))
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case *ir.Regexp:
		return "/" + e.Pattern + "/"
	case nil:
		return "<nil>"
	}
	return fmt.Sprintf("<%T>", e)
}

// dumpDLQ prints the dead letter queue settings that are set.
func dumpDLQ(d ir.DeadLetterQueueSettings) string {
	var parts []string
	if d.Enable != nil {
		parts = append(parts, fmt.Sprintf("enable=%t", *d.Enable))
	}
	if d.Path != "" {
		parts = append(parts, fmt.Sprintf("path=%q", d.Path))
	}
	if d.MaxBytes != 0 {
		parts = append(parts, fmt.Sprintf("max_bytes=%d", d.MaxBytes))
	}
	if d.StoragePolicy != "" {
		parts = append(parts, "storage_policy="+d.StoragePolicy)
	}
	if d.FlushInterval != 0 {
		parts = append(parts, fmt.Sprintf("flush_interval=%d", d.FlushInterval.Milliseconds()))
	}
	if d.RetainAge != 0 {
		parts = append(parts, "retain_age="+ir.FormatAge(d.RetainAge))
	}
	return strings.Join(parts, " ")
}

// TestDirectorySkipsTestFiles: a NAME_test.hcl next to the pipeline files
// (pipeline test's format) is not loaded as one of them.
func TestDirectorySkipsTestFiles(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a.conf"), []byte("input { stdin { } }\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "a_test.hcl"), []byte("test \"x\" {\n  input = \"stdin_1\"\n  no_output = []\n}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, diags := Load(dir)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if len(cfg.Pipelines) != 1 || len(cfg.Files) != 1 {
		t.Fatalf("%d pipelines, files %v", len(cfg.Pipelines), cfg.Files)
	}
}
