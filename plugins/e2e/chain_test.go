package e2e_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/pipelined/pipeline/dsl"
	"github.com/pipelined/pipeline/engine"
	_ "github.com/pipelined/pipeline/plugins/all"
)

// chainPipeline is a pipeline file as a user writes it: grok parses RFC 3164
// style lines with ISO 8601 timestamps, date sets @timestamp from the capture,
// mutate tidies the fields and fingerprint hashes the message.
const chainPipeline = `
input "generator" "lines" {
  lines = [
    "<34>2026-11-24T22:14:15.123+01:00 mymachine su[230]: 'su root' failed for lonvick on /dev/pts/8",
    "<13>2026-11-24T21:00:00Z web-01 CRON[4242]: (root) CMD (run-parts /etc/cron.hourly)",
    "<165>2026-11-24T10:00:00.5-05:00 10.0.0.7 kernel: Out of memory: Killed process 99",
  ]
  count = 1
}

filter "grok" "syslog" {
  # Logstash's legacy field names (program, pid, logsource, timestamp8601);
  # with ECS (the default) they are [process][name], [process][pid]…
  ecs_compatibility = "disabled"
  match     = { message = "<%{NONNEGINT:priority:int}>%{SYSLOGLINE}" }
  overwrite = ["message"]
}

filter "date" "when" {
  match        = ["timestamp8601", "ISO8601"]
  remove_field = ["timestamp8601"]
}

filter "mutate" "tidy" {
  rename    = { logsource = "[host][source]" }
  convert   = { pid = "integer" }
  lowercase = ["program"]
  add_tag   = ["tidy"]
}

filter "fingerprint" "id" {
  source = ["message"]
  method = "SHA256"
  target = "fingerprint"
}

output "file" "out" {
  path = "OUTPUT"
}
`

// runPipeline loads the pipeline file text src (OUTPUT stands for the path of
// the file output), builds it with every plugin, runs it to completion and
// returns what the file output wrote.
func runPipeline(t *testing.T, filename, src string) []byte {
	t.Helper()
	path := filepath.Join(t.TempDir(), "out.jsonl")
	src = strings.Replace(src, "OUTPUT", path, 1)
	cfg, diags := dsl.LoadSource(filename, []byte(src))
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	if len(cfg.Pipelines) != 1 {
		t.Fatalf("%d pipelines", len(cfg.Pipelines))
	}
	p, diags := engine.Build(cfg.Pipelines[0], engine.Default, engine.Settings{Workers: 1, Logger: slog.New(slog.DiscardHandler)})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := p.Run(ctx); err != nil {
		t.Fatal(err)
	}
	out, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// TestChain runs grok → date → mutate → fingerprint from a pipeline file and
// checks every field of every event written. The generator input adds
// [host][name], [event][sequence] and (plain codec, ECS mode) [event][original].
func TestChain(t *testing.T) {
	out := runPipeline(t, "chain.hcl", chainPipeline)
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	// The fingerprint of the first message, checked with
	// printf '%s' "'su root' failed for lonvick on /dev/pts/8" | sha256sum
	const fp0 = "1cf511cec9e6af3453d1d92cc392316164db9545ae0645a2b1d026854256c154"
	want := []map[string]any{
		{
			"@timestamp":  "2026-11-24T21:14:15.123Z",
			"@version":    "1",
			"message":     "'su root' failed for lonvick on /dev/pts/8",
			"priority":    json.Number("34"),
			"program":     "su",
			"pid":         json.Number("230"),
			"host":        map[string]any{"name": host, "source": "mymachine"},
			"event":       map[string]any{"sequence": json.Number("0"), "original": `<34>2026-11-24T22:14:15.123+01:00 mymachine su[230]: 'su root' failed for lonvick on /dev/pts/8`},
			"tags":        []any{"tidy"},
			"fingerprint": fp0,
		},
		{
			"@timestamp":  "2026-11-24T21:00:00.000Z",
			"@version":    "1",
			"message":     "(root) CMD (run-parts /etc/cron.hourly)",
			"priority":    json.Number("13"),
			"program":     "cron",
			"pid":         json.Number("4242"),
			"host":        map[string]any{"name": host, "source": "web-01"},
			"event":       map[string]any{"sequence": json.Number("0"), "original": `<13>2026-11-24T21:00:00Z web-01 CRON[4242]: (root) CMD (run-parts /etc/cron.hourly)`},
			"tags":        []any{"tidy"},
			"fingerprint": sha("(root) CMD (run-parts /etc/cron.hourly)"),
		},
		{
			"@timestamp":  "2026-11-24T15:00:00.500Z",
			"@version":    "1",
			"message":     "Out of memory: Killed process 99",
			"priority":    json.Number("165"),
			"program":     "kernel",
			"host":        map[string]any{"name": host, "source": "10.0.0.7"},
			"event":       map[string]any{"sequence": json.Number("0"), "original": `<165>2026-11-24T10:00:00.5-05:00 10.0.0.7 kernel: Out of memory: Killed process 99`},
			"tags":        []any{"tidy"},
			"fingerprint": sha("Out of memory: Killed process 99"),
		},
	}
	if sha(want[0]["message"].(string)) != fp0 {
		t.Fatalf("the constant fingerprint is wrong")
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != len(want) {
		t.Fatalf("%d events written; want %d:\n%s", len(lines), len(want), out)
	}
	for i, line := range lines {
		d := json.NewDecoder(bytes.NewReader([]byte(line)))
		d.UseNumber()
		var got map[string]any
		if err := d.Decode(&got); err != nil {
			t.Fatalf("line %d: %v: %s", i+1, err, line)
		}
		if !reflect.DeepEqual(got, want[i]) {
			t.Errorf("event %d:\n got %v\nwant %v", i+1, got, want[i])
		}
	}
}

// The same grok options in Logstash's .conf syntax: match as a hash (a
// string or a list per field, tried in the order written) and in the old flat
// array form, break_on_match as a string.
func TestChainConf(t *testing.T) {
	const conf = `
input { generator { lines => ["<34>Oct 11 22:14:15 mymachine su[230]: 'su root' failed"] count => 1 ecs_compatibility => disabled } }
filter {
  grok {
    ecs_compatibility => disabled
    match     => { "message" => "<%{NONNEGINT:priority:int}>%{SYSLOGLINE}" "other" => ["%{WORD:never}", "x"] }
    overwrite => "message"
  }
  grok {
    match          => ["message", "^%{WORD:w}", "message", "%{WORD:w}"]
    break_on_match => false
  }
}
output { file { path => "OUTPUT" } }
`
	out := runPipeline(t, "chain.conf", conf)
	host, _ := os.Hostname()
	var got map[string]any
	d := json.NewDecoder(bytes.NewReader(out))
	d.UseNumber()
	if err := d.Decode(&got); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	delete(got, "@timestamp") // the generator's current time
	want := map[string]any{
		"@version":  "1",
		"host":      host,
		"sequence":  json.Number("0"),
		"event":     map[string]any{"original": "<34>Oct 11 22:14:15 mymachine su[230]: 'su root' failed"}, // the plain codec's ECS default
		"timestamp": "Oct 11 22:14:15",
		"logsource": "mymachine",
		"program":   "su",
		"pid":       "230",
		"priority":  json.Number("34"),
		// The second grok: "^%{WORD:w}" fails on "'su…", "%{WORD:w}" gives su.
		"message": "'su root' failed",
		"w":       "su",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %v\nwant %v", got, want)
	}
}
