package docgen

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/pipelined/pipeline/dsl"
	"github.com/pipelined/pipeline/engine"
)

// exampleEnv is the whole environment the examples of the language reference
// are loaded with.
var exampleEnv = map[string]string{
	"ENVIRONMENT": "production",
	"LOG_DIR":     "/var/log/pipeline",
}

// docExample is a fenced code block of docs/pipeline-language.md marked by
// the HTML comment on the line before it:
//
//   - <!-- check -->: the ```hcl block is a complete configuration; it must
//     load and build (dsl + engine.Build with every plugin) without errors.
//   - <!-- check-error: TEXT -->: loading or building the ```hcl block must
//     fail with an error whose summary or detail contains TEXT.
//   - <!-- check-output -->: as check, then the pipelines run (one worker)
//     and what they write to standard output must equal the next fenced
//     block (prose may come between). With <!-- check-output: any order -->
//     the lines are compared in sorted order.
type docExample struct {
	line   int // of the opening fence
	mode   string
	arg    string
	src    string
	output string // check-output: the expected standard output
}

func parseExamples(t *testing.T, doc []byte) []docExample {
	t.Helper()
	lines := strings.Split(string(doc), "\n")
	// fence returns the contents of the fenced block opening at lines[i], its
	// info string and the index of the closing fence.
	fence := func(i int) (string, string, int) {
		info := strings.TrimPrefix(lines[i], "```")
		var b strings.Builder
		for j := i + 1; j < len(lines); j++ {
			if strings.TrimSpace(lines[j]) == "```" {
				return b.String(), info, j
			}
			b.WriteString(lines[j] + "\n")
		}
		t.Fatalf("line %d: unclosed code block", i+1)
		return "", "", 0
	}
	var out []docExample
	inFence := false
	for i := 0; i < len(lines); i++ {
		line := strings.TrimSpace(lines[i])
		if strings.HasPrefix(line, "```") {
			inFence = !inFence
			continue
		}
		if inFence || !strings.HasPrefix(line, "<!-- check") {
			continue
		}
		body, ok := strings.CutSuffix(strings.TrimPrefix(line, "<!-- "), " -->")
		if !ok {
			t.Fatalf("line %d: malformed marker %q", i+1, line)
		}
		mode, arg, _ := strings.Cut(body, ":")
		ex := docExample{mode: mode, arg: strings.TrimSpace(arg)}
		switch {
		case mode == "check", mode == "check-output" && (ex.arg == "" || ex.arg == "any order"):
		case mode == "check-error":
			if ex.arg == "" {
				t.Fatalf("line %d: check-error needs the expected error text", i+1)
			}
		default:
			t.Fatalf("line %d: unknown marker %q", i+1, line)
		}
		if i+1 >= len(lines) || lines[i+1] != "```hcl" {
			t.Fatalf("line %d: %s must be directly followed by a ```hcl block", i+1, line)
		}
		ex.line = i + 2
		var end int
		ex.src, _, end = fence(i + 1)
		i = end
		if mode == "check-output" {
			j := end + 1
			for j < len(lines) && !strings.HasPrefix(lines[j], "```") {
				if strings.HasPrefix(strings.TrimSpace(lines[j]), "<!-- check") {
					break
				}
				j++
			}
			if j >= len(lines) || !strings.HasPrefix(lines[j], "```") {
				t.Fatalf("line %d: check-output must be followed by the expected output in a fenced block", ex.line)
			}
			ex.output, _, end = fence(j)
			i = end
		}
		out = append(out, ex)
	}
	return out
}

// TestLanguageExamples runs every marked example of docs/pipeline-language.md.
func TestLanguageExamples(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join(root, LanguageDoc))
	if err != nil {
		t.Fatal(err)
	}
	examples := parseExamples(t, doc)
	if len(examples) < 10 {
		t.Fatalf("only %d checked examples in %s", len(examples), LanguageDoc)
	}
	loader := dsl.Loader{LookupEnv: func(k string) (string, bool) { v, ok := exampleEnv[k]; return v, ok }}
	for _, ex := range examples {
		t.Run(fmt.Sprintf("line%d", ex.line), func(t *testing.T) {
			name := fmt.Sprintf("line%d.hcl", ex.line)
			cfg, diags := loader.LoadSource(name, []byte(ex.src))
			var stdout *capture
			if ex.mode == "check-output" && !diags.HasErrors() {
				// The stdout output takes os.Stdout when it is built.
				stdout = captureStdout(t)
				defer stdout.restore()
			}
			var pipelines []*engine.Pipeline
			if !diags.HasErrors() {
				for _, p := range cfg.Pipelines {
					pl, d := engine.Build(p, engine.Default, engine.Settings{
						Workers: 1,
						Logger:  slog.New(slog.DiscardHandler),
					})
					diags = append(diags, d...)
					pipelines = append(pipelines, pl)
				}
			}
			if ex.mode == "check-error" {
				for _, d := range diags {
					if d.Severity == hcl.DiagError && strings.Contains(d.Summary+"\n"+d.Detail, ex.arg) {
						return
					}
				}
				t.Fatalf("%s:%d: want an error containing %q, got:\n%s", LanguageDoc, ex.line, ex.arg, diagText(diags))
			}
			if diags.HasErrors() {
				t.Fatalf("%s:%d: the example does not build:\n%s", LanguageDoc, ex.line, diagText(diags))
			}
			if stdout == nil {
				return
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			for _, p := range pipelines {
				if err := p.Run(ctx); err != nil {
					t.Fatalf("%s:%d: pipeline %s: %v", LanguageDoc, ex.line, p.Name(), err)
				}
			}
			got, want := stdout.restore(), ex.output
			if ex.arg == "any order" {
				got, want = sortLines(got), sortLines(want)
			}
			if got != want {
				t.Errorf("%s:%d: standard output differs\ngot:\n%s\nwant:\n%s", LanguageDoc, ex.line, got, ex.output)
			}
		})
	}
}

func sortLines(s string) string {
	lines := strings.SplitAfter(s, "\n")
	sort.Strings(lines)
	return strings.Join(lines, "")
}

func diagText(diags hcl.Diagnostics) string {
	var b strings.Builder
	for _, d := range diags {
		fmt.Fprintf(&b, "  %s: %s\n", d.Subject, d.Summary)
		if d.Detail != "" {
			fmt.Fprintf(&b, "    %s\n", d.Detail)
		}
	}
	return b.String()
}

// capture collects what is written to os.Stdout until restore.
type capture struct {
	old  *os.File
	w    *os.File
	buf  bytes.Buffer
	done chan struct{}
}

func captureStdout(t *testing.T) *capture {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	c := &capture{old: os.Stdout, w: w, done: make(chan struct{})}
	go func() {
		_, _ = io.Copy(&c.buf, r)
		r.Close()
		close(c.done)
	}()
	os.Stdout = w
	return c
}

// restore puts os.Stdout back and returns what was written; calling it again
// does nothing.
func (c *capture) restore() string {
	if c.w != nil {
		os.Stdout = c.old
		c.w.Close()
		c.w = nil
		<-c.done
	}
	return c.buf.String()
}
