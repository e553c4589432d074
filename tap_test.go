package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/pipelined/pipeline/dsl"
	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/monitor"
)

// TestTap runs a generator pipeline and taps it through the monitoring
// API as `pipeline tap` does: the events leaving the generator, --limit
// ending the stream, rubydebug, and the API's basic auth.
func TestTap(t *testing.T) {
	const conf = `
input { generator { id => "gen" lines => ["one", "two"] count => 0 } }
filter { mutate { id => "tagger" add_tag => ["seen"] } }
output { null { id => "sink" } }
`
	cfg, diags := dsl.LoadSource("tap.conf", []byte(conf))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	pl, diags := engine.Build(cfg.Pipelines[0], engine.Default, engine.Settings{Workers: 1, DataDir: t.TempDir()})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	done := make(chan error, 1)
	go func() { done <- pl.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	srv := monitor.New(monitor.Options{Username: "ops", Password: "s3cret"}, func() []monitor.Source { return []monitor.Source{{Pipeline: pl}} })
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()

	var out, errOut bytes.Buffer
	if code := run([]string{"tap", "--api", ts.URL, "--outputs-of", "gen", "--limit", "5"}, nil, &out, &errOut); code != engine.ExitRuntime || !strings.Contains(errOut.String(), "401") {
		t.Fatalf("without credentials: exit %d, %s", code, errOut.String())
	}
	t.Setenv("PIPELINE_API_PASSWORD", "s3cret")
	out.Reset()
	errOut.Reset()
	if code := run([]string{"tap", "--api", ts.URL, "--user", "ops", "--outputs-of", "g*", "--limit", "5"}, nil, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 5 {
		t.Fatalf("%d lines, want 5:\n%s", len(lines), out.String())
	}
	for _, l := range lines {
		var got struct {
			Pipeline, Plugin, Kind string
			Event                  map[string]any
		}
		if err := json.Unmarshal([]byte(l), &got); err != nil {
			t.Fatalf("%v: %s", err, l)
		}
		msg := got.Event["message"]
		if got.Pipeline != "main" || got.Plugin != "gen" || got.Kind != "output_of" || (msg != "one" && msg != "two") || got.Event["tags"] != nil {
			t.Errorf("line %s", l)
		}
	}
	out.Reset()
	if code := run([]string{"tap", "--api", ts.URL, "--user", "ops", "--inputs-of", "sink", "--format", "rubydebug", "--limit", "2", "--interval", "1ms"}, nil, &out, &errOut); code != 0 {
		t.Fatalf("rubydebug: exit %d: %s", code, errOut.String())
	}
	if strings.Count(out.String(), "# main input_of sink\n") != 2 || !strings.Contains(out.String(), `"tags" => [`) || !strings.Contains(out.String(), `"seen"`) {
		t.Errorf("rubydebug output:\n%s", out.String())
	}
	if code := run([]string{"tap", "--api", ts.URL}, nil, &out, &errOut); code != engine.ExitUsage {
		t.Errorf("no globs: exit %d", code)
	}
}

// TestTapDropped taps the events not delivered of a pipeline with a drop,
// an unmatched output branch and grok failures: each kind shows with its
// plugin and reason, the unrouted ones with the condition chain.
func TestTapDropped(t *testing.T) {
	const conf = `
input { generator { id => "gen" lines => ["ok 1", "bad", "drop me", "other 2"] count => 0 } }
filter {
  grok { id => "parse" match => { "message" => "^%{WORD:kind} %{INT:n}$" } }
  if [message] =~ /^drop/ { drop { id => "dropper" } }
}
output {
  if [kind] == "ok" { null { id => "sink" } } else if [kind] in ["x", "y"] { null { id => "xy" } }
}
`
	cfg, diags := dsl.LoadSource("dropped.conf", []byte(conf))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	pl, diags := engine.Build(cfg.Pipelines[0], engine.Default, engine.Settings{Workers: 1, DataDir: t.TempDir()})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	done := make(chan error, 1)
	go func() { done <- pl.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	srv := monitor.New(monitor.Options{}, func() []monitor.Source { return []monitor.Source{{Pipeline: pl}} })
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	var out, errOut bytes.Buffer
	if code := run([]string{"tap", "--api", ts.URL, "--dropped", "--limit", "300"}, nil, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 300 {
		t.Fatalf("%d lines, want 300:\n%s", len(lines), out.String())
	}
	want := map[string]string{ // kind → plugin and reason, by message
		"failed bad":       `parse|filter parse (grok) failed: tagged _grokparsefailure`,
		"failed drop me":   `parse|filter parse (grok) failed: tagged _grokparsefailure`,
		"dropped drop me":  `dropper|dropped by filter dropper (drop)`,
		"unrouted bad":     `|no output matched: if [kind] == 'ok' → false; else if [kind] in ['x', 'y'] → false`,
		"unrouted other 2": `|no output matched: if [kind] == 'ok' → false; else if [kind] in ['x', 'y'] → false`,
	}
	seen := map[string]bool{} // by kind
	for _, l := range lines {
		var got struct {
			Pipeline, Plugin, Kind, Reason string
			Event                          map[string]any
		}
		if err := json.Unmarshal([]byte(l), &got); err != nil {
			t.Fatalf("%v: %s", err, l)
		}
		k := got.Kind + " " + fmt.Sprint(got.Event["message"])
		w, ok := want[k]
		if !ok || got.Pipeline != "main" || got.Plugin+"|"+got.Reason != w {
			t.Errorf("unexpected line %s", l)
		}
		seen[got.Kind] = true
	}
	// Every kind shows (which messages depends on where batches start and
	// on what the stream skips while the reader is slow).
	for _, k := range []string{"dropped", "unrouted", "failed"} {
		if !seen[k] {
			t.Errorf("no %s event in:\n%s", k, out.String())
		}
	}
	out.Reset()
	if code := run([]string{"tap", "--api", ts.URL, "--dropped", "--format", "rubydebug", "--limit", "1", "--interval", "1ms"}, nil, &out, &errOut); code != 0 {
		t.Fatalf("rubydebug: exit %d: %s", code, errOut.String())
	}
	if !strings.HasPrefix(out.String(), "# main ") || !strings.Contains(out.String(), ": ") {
		t.Errorf("rubydebug header:\n%s", out.String())
	}
}
