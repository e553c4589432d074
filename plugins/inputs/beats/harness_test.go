package beats

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pipelined/pipeline/dsl"
	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
	_ "github.com/pipelined/pipeline/plugins/codecs/plain" // the null output's default codec
	_ "github.com/pipelined/pipeline/plugins/outputs/null"
)

// Test wiring: a collecting output ("beats_test_sink") whose Write can be held
// shut, and the bound address of each beats input, keyed by its id.
var (
	listenAddrs sync.Map // input id → chan net.Addr
	sinks       sync.Map // token → *sink
	ids         atomic.Int64
)

type sinkOptions struct {
	Token string `hcl:"token"`
}

type sink struct {
	mu      sync.Mutex
	events  []*event.Event
	gate    chan struct{} // when non-nil, Write waits until it is closed
	entered chan int      // told the size of each batch Write starts on
	fail    bool          // Write fails permanently
	failN   atomic.Int32  // the next failN Writes fail permanently
}

type sinkOut struct{ s *sink }

func (o *sinkOut) Connect(context.Context) error { return nil }
func (o *sinkOut) Close(context.Context) error   { return nil }
func (o *sinkOut) Write(ctx context.Context, evs []*event.Event) error {
	s := o.s
	if s.entered != nil {
		select {
		case s.entered <- len(evs):
		default:
		}
	}
	if s.gate != nil {
		select {
		case <-s.gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if s.fail || s.failN.Add(-1) >= 0 {
		return engine.Permanent(errors.New("sink refuses"))
	}
	s.mu.Lock()
	s.events = append(s.events, evs...)
	s.mu.Unlock()
	return nil
}

func (s *sink) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.events)
}

func (s *sink) snapshot() []*event.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*event.Event(nil), s.events...)
}

func init() {
	onListen = func(in *Input, a net.Addr) {
		inputs.Store(a.String(), in)
		if ch, ok := listenAddrs.Load(in.id); ok {
			ch.(chan net.Addr) <- a
		}
	}
	engine.RegisterOutput("beats_test_sink", func(o sinkOptions, _ engine.Resources) (*sinkOut, error) {
		v, ok := sinks.Load(o.Token)
		if !ok {
			return nil, fmt.Errorf("unknown token %q", o.Token)
		}
		return &sinkOut{s: v.(*sink)}, nil
	})
}

// logBuffer collects log lines, safe for concurrent use.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// harness is one running pipeline: a beats input on 127.0.0.1 and an output.
type harness struct {
	addr string
	sink *sink
	logs *logBuffer
	stop func() error
}

// start builds and runs `input "beats"` with the given extra options and the
// sink output (or output, when not empty), through dsl and engine.Build as a
// pipeline file would be.
func start(t testing.TB, inputOpts string, s *sink, output string) *harness {
	t.Helper()
	id := fmt.Sprintf("beats%d", ids.Add(1))
	if s == nil {
		s = &sink{}
	}
	if output == "" {
		output = fmt.Sprintf("output \"beats_test_sink\" \"out\" {\n  token = %q\n}\n", id)
	}
	src := fmt.Sprintf("input \"beats\" %q {\n  host = \"127.0.0.1\"\n  port = 0\n%s\n}\n%s", id, inputOpts, output)
	sinks.Store(id, s)
	addrCh := make(chan net.Addr, 1)
	listenAddrs.Store(id, addrCh)
	t.Cleanup(func() { sinks.Delete(id); listenAddrs.Delete(id) })

	cfg, diags := (&dsl.Loader{}).LoadSource(id+".hcl", []byte(src))
	if diags.HasErrors() {
		t.Fatalf("load:\n%s\n%s", src, diags.Error())
	}
	logs := &logBuffer{}
	pl, diags := engine.Build(cfg.Pipelines[0], engine.Default, engine.Settings{
		Workers: 2,
		Logger:  slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	if diags.HasErrors() {
		t.Fatalf("build:\n%s", diags.Error())
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- pl.Run(ctx) }()
	h := &harness{sink: s, logs: logs}
	var once sync.Once
	var stopErr error
	h.stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case stopErr = <-done:
			case <-time.After(15 * time.Second):
				pl.Abort()
				stopErr = fmt.Errorf("pipeline did not stop within 15 s")
			}
		})
		return stopErr
	}
	t.Cleanup(func() {
		if s.gate != nil {
			select {
			case <-s.gate:
			default:
				close(s.gate)
			}
		}
		_ = h.stop()
	})
	select {
	case a := <-addrCh:
		h.addr = a.String()
	case err := <-done:
		t.Fatalf("pipeline ended before listening: %v\nlogs:\n%s", err, logs)
	case <-time.After(10 * time.Second):
		t.Fatal("input did not listen within 10 s")
	}
	return h
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// beatEvent is an event as Filebeat sends it.
func beatEvent(seq int) map[string]any {
	return map[string]any{
		"@metadata":  map[string]any{"beat": "filebeat", "type": "_doc", "version": "7.17.28"},
		"@timestamp": "2026-11-24T03:28:57.512Z",
		"message":    fmt.Sprintf("line %d", seq),
		"seq":        seq,
		"log":        map[string]any{"offset": seq * 10, "file": map[string]any{"path": "/var/log/app.log"}},
		"agent":      map[string]any{"type": "filebeat", "version": "7.17.28"},
		"tags":       []any{"realfb"},
	}
}

func beatEvents(from, n int) []any {
	out := make([]any, n)
	for i := range out {
		out[i] = beatEvent(from + i)
	}
	return out
}

func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}

// fieldOf returns the option an *engine.FieldError names.
func fieldOf(err error) string {
	var fe *engine.FieldError
	if errors.As(err, &fe) {
		return fe.Field
	}
	return "?"
}
