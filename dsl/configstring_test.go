package dsl

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadConfigString(t *testing.T) {
	for _, tc := range []struct {
		src, want, diags string
		noEnv            bool // an empty environment
	}{
		{src: "", want: `pipeline "main" {Workers:0 BatchSize:0 BatchDelay:}
  input "stdin" "stdin_1"
  output "stdout" "stdout_1"
    codec ["rubydebug"]
`},
		{src: "input { generator { count => 1 } } # output { }", want: `pipeline "main" {Workers:0 BatchSize:0 BatchDelay:}
  input "generator" "generator_1"
    count = "1"
  output "stdout" "stdout_1"
    codec ["rubydebug"]
`},
		{src: `filter { drop {} } output { null { id => "${OUT}" } }`, want: `pipeline "main" {Workers:0 BatchSize:0 BatchDelay:}
  input "stdin" "stdin_1"
  filter "drop" "drop_1"
  output "null" "${OUT}"
`},
		// An input section without plugins counts as missing.
		{src: "input { } output { null {} }", want: `pipeline "main" {Workers:0 BatchSize:0 BatchDelay:}
  input "stdin" "stdin_1"
  output "null" "null_1"
`},
		{src: "filter { drop { a = 1 } }", diags: `config-string:1:19: Expected "=>"`},
		{src: `output { null { path => "${UNSET}" } }`, diags: "config-string:1:26: Undefined environment variable", noEnv: true},
	} {
		l := fakeEnvLoader
		if tc.noEnv {
			l = Loader{LookupEnv: func(string) (string, bool) { return "", false }}
		}
		cfg, diags := l.LoadConfigString(tc.src)
		if tc.diags != "" {
			if got := dumpDiags(diags, ""); !strings.Contains(got, tc.diags) {
				t.Errorf("%q: diagnostics\n%s\nlack %q", tc.src, got, tc.diags)
			}
			continue
		}
		if diags.HasErrors() {
			t.Errorf("%q: %v", tc.src, diags)
			continue
		}
		if got := canonical(t, cfg); got != tc.want {
			t.Errorf("%q:\n got %s\nwant %s", tc.src, got, tc.want)
		}
		if cfg.Files[ConfigStringName] == nil || string(cfg.Files[ConfigStringName].Bytes) != tc.src {
			t.Errorf("%q: Files lacks the string", tc.src)
		}
	}
}

// TestPipelinesYMLConfigString: config.string in pipelines.yml gets the
// default input and output too, as in Logstash.
func TestPipelinesYMLConfigString(t *testing.T) {
	dir := t.TempDir()
	yml := filepath.Join(dir, "pipelines.yml")
	src := "- pipeline.id: a\n  config.string: \"filter { drop {} }\"\n- pipeline.id: b\n  config.string: \"input { generator {} } output { null {} }\"\n"
	if err := os.WriteFile(yml, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, diags := LoadPipelinesYML(yml)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	want := `pipeline "a" {Workers:0 BatchSize:0 BatchDelay:}
  input "stdin" "stdin_1"
  filter "drop" "drop_1"
  output "stdout" "stdout_1"
    codec ["rubydebug"]
pipeline "b" {Workers:0 BatchSize:0 BatchDelay:}
  input "generator" "generator_1"
  output "null" "null_1"
`
	if got := canonical(t, cfg); got != want {
		t.Errorf("got\n%swant\n%s", got, want)
	}
}
