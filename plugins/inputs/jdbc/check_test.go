package jdbc_test

import (
	"bufio"
	"os"
	"strings"
	"testing"

	"github.com/pipelined/pipeline/dsl"
	"github.com/pipelined/pipeline/engine"
)

// TestCheck builds each case of testdata/check.tsv as `pipeline check`
// does and wants one error that contains the given text and points into
// the input's settings (line 1).
func TestCheck(t *testing.T) {
	f, err := os.Open("testdata/check.tsv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || line == "" {
			continue
		}
		settings, want, ok := strings.Cut(line, "\t")
		if !ok {
			t.Fatalf("bad line %q", line)
		}
		n++
		t.Run(want, func(t *testing.T) {
			src := "input { jdbc { " + settings + " } } output { stdout { } }\n"
			cfg, diags := dsl.LoadSource("check.conf", []byte(src))
			if diags.HasErrors() {
				t.Fatalf("load: %s", diags.Error())
			}
			_, diags = engine.Build(cfg.Pipelines[0], engine.Default, engine.Settings{})
			if !diags.HasErrors() {
				t.Fatalf("Build(%s) accepted it; want an error containing %q", settings, want)
			}
			text := diags.Error()
			if !strings.Contains(text, want) {
				t.Fatalf("Build(%s) = %s; want an error containing %q", settings, text, want)
			}
			if !strings.Contains(text, "check.conf:1,") {
				t.Errorf("the error has no position on line 1: %s", text)
			}
			if strings.Contains(text, "s3cret") {
				t.Errorf("the error shows the password: %s", text)
			}
		})
	}
	if n == 0 {
		t.Fatal("no cases")
	}
}

// TestCheckAccepts builds configurations from the wild that must pass
// `pipeline check` (files of testdata/accept/, Logstash syntax).
func TestCheckAccepts(t *testing.T) {
	files, _ := os.ReadDir("testdata/accept")
	if len(files) == 0 {
		t.Fatal("no files in testdata/accept")
	}
	for _, fi := range files {
		t.Run(fi.Name(), func(t *testing.T) {
			src, err := os.ReadFile("testdata/accept/" + fi.Name())
			if err != nil {
				t.Fatal(err)
			}
			cfg, diags := dsl.LoadSource(fi.Name(), src)
			if diags.HasErrors() {
				t.Fatalf("load: %s", diags.Error())
			}
			for _, p := range cfg.Pipelines {
				if _, diags := engine.Build(p, engine.Default, engine.Settings{}); diags.HasErrors() {
					t.Fatalf("check: %s", diags.Error())
				}
			}
		})
	}
}
