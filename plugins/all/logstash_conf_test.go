package all_test

import (
	"bufio"
	"bytes"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"

	"github.com/pipelined/pipeline/dsl"
	"github.com/pipelined/pipeline/engine"
)

// TestLogstashConf runs `pipeline check` (dsl.Load, then engine.Build with
// every plugin) on each testdata/logstash/*.conf. Each file is a pipeline
// written as Logstash reads it. Its leading comment lines may say what check
// must report:
//
//	#! warning: text   a warning whose summary or detail contains text
//	#! error: text     an error whose summary or detail contains text
//	#! start: text     an error Logstash finds only when the pipeline starts
//	                   (engine.AtStart): a warning of check saying that
//	                   `pipeline run` refuses it, and an error of run
//
// and check must report nothing else: a file without such lines must pass
// with no diagnostic at all.
func TestLogstashConf(t *testing.T) {
	files, err := filepath.Glob("testdata/logstash/*.conf")
	if err != nil || len(files) == 0 {
		t.Fatalf("no test cases: %v", err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".conf"), func(t *testing.T) {
			src, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			want := expectations(t, src)
			var atStart []string
			for _, w := range want {
				if w.sev == "start" {
					atStart = append(atStart, w.text)
				}
			}
			diags := checkConf(t, file, src, true)
			for _, d := range diags {
				sev := "error"
				if d.Severity == hcl.DiagWarning {
					sev = "warning"
				}
				text := d.Summary + ": " + d.Detail
				found := false
				for i, w := range want {
					if (w.sev == sev || w.sev == "start" && sev == "warning" && strings.Contains(text, engine.StartRefusal)) && strings.Contains(text, w.text) {
						want = append(want[:i], want[i+1:]...)
						found = true
						break
					}
				}
				if !found {
					at := ""
					if d.Subject != nil {
						at = d.Subject.String() + ": "
					}
					t.Errorf("unexpected %s: %s%s", sev, at, text)
				}
			}
			for _, w := range want {
				t.Errorf("no %s containing %q", w.sev, w.text)
			}
			if len(atStart) == 0 {
				return
			}
			run := checkConf(t, file, src, false)
			for _, text := range atStart {
				found := false
				for _, d := range run {
					found = found || d.Severity == hcl.DiagError && strings.Contains(d.Summary+": "+d.Detail, text)
				}
				if !found {
					t.Errorf("pipeline run: no error containing %q in %v", text, run)
				}
			}
		})
	}
}

type expectation struct{ sev, text string }

func expectations(t *testing.T, src []byte) []expectation {
	var out []expectation
	sc := bufio.NewScanner(bytes.NewReader(src))
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), "#! ")
		if !ok {
			continue
		}
		sev, text, ok := strings.Cut(line, ": ")
		if !ok || sev != "warning" && sev != "error" && sev != "start" {
			t.Fatalf("bad expectation %q: want #! warning: text, #! error: text or #! start: text", sc.Text())
		}
		out = append(out, expectation{sev, text})
	}
	return out
}

// checkConf is what `pipeline check -f file` does (check), or `pipeline run`
// before it starts anything, returning the diagnostics.
func checkConf(t *testing.T, file string, src []byte, check bool) hcl.Diagnostics {
	t.Helper()
	l := dsl.Loader{LookupEnv: func(string) (string, bool) { return "", false }}
	cfg, diags := l.LoadSource(filepath.Base(file), src)
	if diags.HasErrors() {
		return diags
	}
	s := engine.Settings{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Check: check}
	for _, p := range cfg.Pipelines {
		_, d := engine.Build(p, engine.Default, s)
		diags = append(diags, d...)
	}
	return diags
}
