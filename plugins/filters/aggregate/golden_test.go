package aggregate_test

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"golang.org/x/tools/txtar"

	"github.com/pipelined/pipeline/dsl"
	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
	_ "github.com/pipelined/pipeline/plugins/filters/aggregate"
	_ "github.com/pipelined/pipeline/plugins/filters/grok"
	_ "github.com/pipelined/pipeline/plugins/filters/mutate"
)

var update = flag.Bool("update", false, "rewrite want.jsonl of the testdata files from the results")

// Feed and collect plugins for the golden pipelines, keyed by token.
var (
	feeds    sync.Map // token → *feed
	collects sync.Map // token → *collect
	tokens   atomic.Int64
)

type keyOptions struct {
	Key string `hcl:"key"`
}

type feed struct {
	events []*event.Event
	hold   bool          // stay open until stop is closed (timeouts to come)
	stop   chan struct{} // closed by the test
}

func (f *feed) Run(ctx context.Context, emit engine.EmitFunc) error {
	if err := emit(engine.Batch{Events: f.events}); err != nil {
		return err
	}
	if f.hold {
		select {
		case <-f.stop:
		case <-ctx.Done():
		}
	}
	return nil
}

type collect struct {
	mu  sync.Mutex
	got []*event.Event
}

func (c *collect) Connect(context.Context) error { return nil }
func (c *collect) Close(context.Context) error   { return nil }
func (c *collect) Write(_ context.Context, evs []*event.Event) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.got = append(c.got, evs...)
	return nil
}

func (c *collect) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.got)
}

func init() {
	engine.RegisterInput("aggregate_test_feed", func(o keyOptions, _ engine.Resources) (*feed, error) {
		v, _ := feeds.Load(o.Key)
		return v.(*feed), nil
	})
	engine.RegisterOutput("aggregate_test_collect", func(o keyOptions, _ engine.Resources) (*collect, error) {
		v, _ := collects.Load(o.Key)
		return v.(*collect), nil
	})
}

var fixedTime = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// TestGolden runs every testdata/*.txtar: a Logstash filter section
// (pipeline.conf) fed the lines of input.txt (as message) or the events of
// input.jsonl, in one batch, with @timestamp 2026-01-02T03:04:05Z unless
// given. With a "hold" section the input stays open until as many events as
// want.jsonl holds came out (timeouts to wait for, flushed every 50 ms),
// at most 30 s; then the pipeline drains (final flush). want.jsonl is what
// comes out, in order, with @timestamp left out when it is the time of the
// run (events made of maps); want.err a substring of a configuration
// error, want.warn of a warning.
func TestGolden(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.txtar")
	if len(files) == 0 {
		t.Fatal("no testdata")
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txtar"), func(t *testing.T) {
			t.Parallel()
			ar, err := txtar.ParseFile(file)
			if err != nil {
				t.Fatal(err)
			}
			sec := map[string][]byte{}
			for _, f := range ar.Files {
				sec[f.Name] = f.Data
			}
			runGolden(t, file, ar, sec)
		})
	}
}

func runGolden(t *testing.T, file string, ar *txtar.Archive, sec map[string][]byte) {
	token := fmt.Sprintf("g%d", tokens.Add(1))
	fd := &feed{stop: make(chan struct{})}
	_, fd.hold = sec["hold"]
	for _, line := range strings.Split(string(sec["input.txt"]), "\n") {
		if line != "" {
			e := event.NewMessage(line)
			e.SetTimestamp(fixedTime)
			fd.events = append(fd.events, e)
		}
	}
	for _, line := range strings.Split(string(sec["input.jsonl"]), "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		e, err := event.FromJSON([]byte(line))
		if err != nil {
			t.Fatalf("input.jsonl: %v", err)
		}
		if !strings.Contains(line, `"@timestamp"`) {
			e.SetTimestamp(fixedTime)
		}
		fd.events = append(fd.events, e)
	}
	col := &collect{}
	feeds.Store(token, fd)
	collects.Store(token, col)
	defer feeds.Delete(token)
	defer collects.Delete(token)
	conf := strings.ReplaceAll(string(sec["pipeline.conf"]), "$TMP", t.TempDir())
	src := fmt.Sprintf("input { aggregate_test_feed { key => %q } }\n%s\noutput { aggregate_test_collect { key => %q } }\n", token, conf, token)
	cfg, diags := dsl.LoadSource("pipeline.conf", []byte(src))
	var pl *engine.Pipeline
	if !diags.HasErrors() {
		var d hcl.Diagnostics
		pl, d = engine.Build(cfg.Pipelines[0], engine.Default, engine.Settings{FlushInterval: 50 * time.Millisecond, Logger: quiet})
		diags = append(diags, d...)
	}
	if want, ok := sec["want.err"]; ok {
		if !diags.HasErrors() || !strings.Contains(diags.Error(), strings.TrimSpace(string(want))) {
			t.Fatalf("diagnostics = %v; want an error containing %q", diags, strings.TrimSpace(string(want)))
		}
		return
	}
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if want, ok := sec["want.warn"]; ok {
		if !strings.Contains(fmt.Sprint(diags), strings.TrimSpace(string(want))) {
			t.Fatalf("diagnostics = %v; want a warning containing %q", diags, strings.TrimSpace(string(want)))
		}
	}
	wantN := strings.Count(string(sec["want.jsonl"]), "\n")
	start := time.Now()
	done := make(chan error, 1)
	go func() { done <- pl.Run(context.Background()) }()
	if fd.hold {
		deadline := time.Now().Add(30 * time.Second)
		for col.count() < wantN && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		close(fd.stop)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("pipeline did not stop within 60 s")
	}
	var got strings.Builder
	for _, e := range col.got {
		got.WriteString(eventJSON(e, start))
		got.WriteByte('\n')
	}
	if got.String() == string(sec["want.jsonl"]) {
		return
	}
	if *update {
		for i := range ar.Files {
			if ar.Files[i].Name == "want.jsonl" {
				ar.Files[i].Data = []byte(got.String())
			}
		}
		if err := os.WriteFile(file, txtar.Format(ar), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("got:\n%swant:\n%s", got.String(), sec["want.jsonl"])
}

// eventJSON renders e as JSON with sorted keys, without @timestamp when it
// is not before start (made during the run).
func eventJSON(e *event.Event, start time.Time) string {
	fields := map[string]any{}
	for k, v := range e.Fields() {
		fields[k] = v
	}
	if !e.Timestamp().Before(start) {
		delete(fields, event.TimestampField)
	}
	if m := e.Metadata(); len(m) > 0 {
		fields[event.MetadataField] = m
	}
	return string(event.AppendJSONValue(nil, fields))
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// An aggregate filter makes a pipeline run one worker when pipeline.workers
// is not set; set above one, `check` warns with Logstash's message.
func TestWorkers(t *testing.T) {
	feeds.Store("workers", &feed{})
	collects.Store("workers", &collect{})
	defer feeds.Delete("workers")
	defer collects.Delete("workers")
	src := `input { aggregate_test_feed { key => "workers" } }
filter { aggregate { task_id => "%{id}" code => "" } }
output { aggregate_test_collect { key => "workers" } }`
	cfg, diags := dsl.LoadSource("pipeline.conf", []byte(src))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	pl, diags := engine.Build(cfg.Pipelines[0], engine.Default, engine.Settings{Logger: quiet})
	if diags.HasErrors() || len(diags) != 0 || pl.Settings().Workers != 1 {
		t.Fatalf("workers unset: %d workers, diags %v; want 1 and none", pl.Settings().Workers, diags)
	}
	pl, diags = engine.Build(cfg.Pipelines[0], engine.Default, engine.Settings{Workers: 4, Logger: quiet})
	if diags.HasErrors() || pl.Settings().Workers != 4 || !strings.Contains(fmt.Sprint(diags), "Manual override - there are filters that might not work with multiple worker threads") {
		t.Fatalf("workers 4: %d workers, diags %v; want 4 and Logstash's warning", pl.Settings().Workers, diags)
	}
}
