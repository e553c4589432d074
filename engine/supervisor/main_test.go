package supervisor

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/pipelined/pipeline/dsl/ir"
	"github.com/pipelined/pipeline/engine"
	_ "github.com/pipelined/pipeline/plugins/all"
)

func TestMain(m *testing.M) {
	// The tests run this test binary as a pipeline process: signals, stdin,
	// stdout and exit codes are the real ones, without the pipeline command.
	if os.Getenv("SUPERVISOR_TEST_MAIN") == "1" {
		os.Exit(testMain(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// testMain is `pipeline run` with this package's flags and the test loader
// (loadTestConfig) in place of the dsl front-ends, which the engine must not
// import: -f FILE is pipeline main, -f DIR one pipeline per DIR/<id>.hcl,
// -e SRC pipeline main from a string.
func testMain(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "run" {
		fmt.Fprintln(stderr, "usage: run -f PATH | -e SRC [flags]")
		return engine.ExitUsage
	}
	fs := flag.NewFlagSet("pipeline run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var path string
	var src *string
	fs.StringVar(&path, "f", "", "")
	fs.Func("e", "", func(s string) error { src = &s; return nil })
	flags := AddFlags(fs)
	if err := fs.Parse(args[1:]); err != nil {
		return engine.ExitUsage
	}
	if err := flags.Validate(src != nil); err != nil {
		fmt.Fprintf(stderr, "pipeline run: %v\n", err)
		return engine.ExitUsage
	}
	o, err := flags.Options(stderr)
	if err != nil {
		fmt.Fprintf(stderr, "pipeline run: %v\n", err)
		return engine.ExitConfig
	}
	o.Source, o.Static = path, src != nil
	o.Load = func() (*ir.Config, hcl.Diagnostics) {
		if src != nil {
			return loadTestConfig(map[string][]byte{"config.string": []byte(*src)}, func(string) string { return "main" })
		}
		return loadTestFiles(path)
	}
	return Run(o, stdout, stderr)
}

// loadTestFiles reads path: one file is pipeline main; a directory holds one
// pipeline per <id>.hcl file, each isolated like a pipelines.yml entry.
func loadTestFiles(path string) (*ir.Config, hcl.Diagnostics) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Cannot read the configuration", Detail: err.Error()}}
	}
	names := []string{path}
	id := func(string) string { return "main" }
	if fi.IsDir() {
		names, _ = filepath.Glob(filepath.Join(path, "*.hcl"))
		id = func(n string) string { return strings.TrimSuffix(filepath.Base(n), ".hcl") }
	}
	srcs := map[string][]byte{}
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Cannot read the configuration", Detail: err.Error()}}
		}
		srcs[n] = b
	}
	return loadTestConfig(srcs, id)
}

// loadTestConfig is a front-end for these tests only, in plain HCL: plugin
// blocks `input|filter|output "<type>" ["<id>"] { … }` and, among filters,
// `when "<field>" "==|=~" "<value>" { filters }`. Each source is one
// pipeline, named by pipelineID(file name).
func loadTestConfig(srcs map[string][]byte, pipelineID func(string) string) (*ir.Config, hcl.Diagnostics) {
	cfg := &ir.Config{Files: map[string]*hcl.File{}}
	var diags hcl.Diagnostics
	names := make([]string, 0, len(srcs))
	for n := range srcs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		f, d := hclsyntax.ParseConfig(srcs[name], name, hcl.InitialPos)
		diags = append(diags, d...)
		if f == nil {
			continue
		}
		cfg.Files[name] = f
		p := &ir.Pipeline{Name: pipelineID(name), Range: hcl.Range{Filename: name, Start: hcl.InitialPos, End: hcl.InitialPos}}
		n := map[string]int{}
		for _, b := range f.Body.(*hclsyntax.Body).Blocks {
			node, d := testNode(b, n)
			diags = append(diags, d...)
			switch b.Type {
			case "input":
				if pl, ok := node.(*ir.Plugin); ok {
					p.Inputs = append(p.Inputs, pl)
				}
			case "filter", "when":
				p.Filters = append(p.Filters, node)
			case "output":
				p.Outputs = append(p.Outputs, node)
			}
		}
		cfg.Pipelines = append(cfg.Pipelines, p)
	}
	return cfg, diags
}

func testNode(b *hclsyntax.Block, n map[string]int) (ir.Node, hcl.Diagnostics) {
	kinds := map[string]ir.Kind{"input": ir.Input, "filter": ir.Filter, "output": ir.Output}
	if b.Type == "when" && len(b.Labels) == 3 {
		br := ir.Branch{Range: b.Range()}
		left := &ir.FieldRef{Path: b.Labels[0], Range: b.LabelRanges[0]}
		switch b.Labels[1] {
		case "==":
			br.Cond = &ir.Compare{Op: "==", Left: left, Right: &ir.Literal{Value: b.Labels[2], Range: b.LabelRanges[2]}, Range: b.Range()}
		case "=~":
			br.Cond = &ir.Match{Left: left, Right: &ir.Regexp{Pattern: b.Labels[2], Range: b.LabelRanges[2]}, Range: b.Range()}
		}
		var diags hcl.Diagnostics
		for _, c := range b.Body.Blocks {
			node, d := testNode(c, n)
			diags = append(diags, d...)
			br.Body = append(br.Body, node)
		}
		if br.Cond != nil {
			return &ir.If{Branches: []ir.Branch{br}, Range: b.Range()}, diags
		}
	}
	kind, ok := kinds[b.Type]
	if !ok || len(b.Labels) == 0 || len(b.Labels) > 2 {
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Unsupported block in a test configuration", Subject: b.DefRange().Ptr()}}
	}
	pl := &ir.Plugin{Kind: kind, Type: b.Labels[0], Body: b.Body, Range: b.DefRange(), TypeRange: b.LabelRanges[0]}
	if len(b.Labels) == 2 {
		pl.ID = b.Labels[1]
	} else {
		n[pl.Type]++
		pl.ID = fmt.Sprintf("%s_%d", pl.Type, n[pl.Type])
	}
	return pl, nil
}

// pipelineCmd starts this test binary as `pipeline args...`.
func pipelineCmd(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "SUPERVISOR_TEST_MAIN=1")
	return cmd
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// syncBuffer is a bytes.Buffer safe for a process to write while the test
// reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
