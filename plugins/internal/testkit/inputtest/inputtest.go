// Package inputtest runs a network input in a real pipeline for tests: the
// pipeline is loaded from HCL as a pipeline file would be, with a collecting
// output whose Write can be held shut (to fill the pipeline), and the
// addresses the input bound (port 0) are reported back.
package inputtest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pipelined/pipeline/dsl"
	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/plugins/internal/netserver"
	"github.com/pipelined/pipeline/plugins/internal/testkit/servertest"
)

var (
	sinks   sync.Map // token → *Sink
	addrs   sync.Map // plugin id → chan bound
	counter atomic.Int64
)

type bound struct {
	network string
	addr    net.Addr
	stats   func() netserver.Stats
}

type sinkOptions struct {
	Token string `hcl:"token"`
}

// Sink collects the events written to it.
type Sink struct {
	mu     sync.Mutex
	events []*event.Event
	// Gate, when non-nil, holds every Write until it is closed.
	Gate chan struct{}
	// Entered, when non-nil, is told the size of each batch a Write starts
	// on (before the Gate), if it has room.
	Entered chan int
	// Fail makes every Write fail permanently; FailN the next FailN Writes.
	Fail  bool
	FailN atomic.Int32
}

type sinkOut struct{ s *Sink }

func (o *sinkOut) Connect(context.Context) error { return nil }
func (o *sinkOut) Close(context.Context) error   { return nil }
func (o *sinkOut) Write(ctx context.Context, evs []*event.Event) error {
	if o.s.Entered != nil {
		select {
		case o.s.Entered <- len(evs):
		default:
		}
	}
	if g := o.s.Gate; g != nil {
		select {
		case <-g:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if o.s.Fail || o.s.FailN.Add(-1) >= 0 {
		return engine.Permanent(errors.New("sink refuses"))
	}
	o.s.mu.Lock()
	o.s.events = append(o.s.events, evs...)
	o.s.mu.Unlock()
	return nil
}

// Len is the number of events received.
func (s *Sink) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.events)
}

// Events returns a copy of the events received.
func (s *Sink) Events() []*event.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*event.Event(nil), s.events...)
}

func init() {
	hook := func(id, network string, a net.Addr, stats func() netserver.Stats) {
		if ch, ok := addrs.Load(id); ok {
			ch.(chan bound) <- bound{network, a, stats}
		}
	}
	netserver.ListenHook.Store(&hook)
	engine.RegisterOutput("inputtest_sink", func(o sinkOptions, _ engine.Resources) (*sinkOut, error) {
		v, ok := sinks.Load(o.Token)
		if !ok {
			return nil, fmt.Errorf("unknown token %q", o.Token)
		}
		return &sinkOut{s: v.(*Sink)}, nil
	})
}

// LogBuffer collects log lines, safe for concurrent use (all of them: its
// Limit is 0).
type LogBuffer = servertest.Output

// Harness is one running pipeline.
type Harness struct {
	// TCP and UDP are the addresses the input bound ("" if none).
	TCP, UDP string
	// TCPStats and UDPStats read the servers' counters.
	TCPStats, UDPStats func() netserver.Stats
	Sink               *Sink
	Logs               *LogBuffer
	// Pipeline is the running pipeline, for its counters.
	Pipeline *engine.Pipeline
	stop     func() error
}

// Options tune Start.
type Options struct {
	// Listeners is how many addresses the input binds (syslog: 2).
	Listeners int
	// Gate holds the sink shut until closed.
	Gate chan struct{}
	// Sink, when set, is the sink to run into (with its own Gate, instead
	// of Gate above).
	Sink *Sink
	// Workers is the number of pipeline workers (default 1, which keeps the
	// order of events).
	Workers int
	// BatchSize is the pipeline batch size (default 125).
	BatchSize int
	// Output replaces the sink output block.
	Output string
}

// Start runs `input "<typ>" { host = "127.0.0.1" port = 0 <opts> }` into a
// sink and waits until it listens.
func Start(t testing.TB, typ, opts string, o Options) *Harness {
	t.Helper()
	id := fmt.Sprintf("%s_it%d", typ, counter.Add(1))
	s := o.Sink
	if s == nil {
		s = &Sink{Gate: o.Gate}
	}
	output := o.Output
	if output == "" {
		output = fmt.Sprintf("output \"inputtest_sink\" \"out\" {\n  token = %q\n}\n", id)
	}
	src := fmt.Sprintf("input %q %q {\n  host = \"127.0.0.1\"\n  port = 0\n%s\n}\n%s", typ, id, opts, output)
	sinks.Store(id, s)
	ch := make(chan bound, 4)
	addrs.Store(id, ch)
	t.Cleanup(func() { sinks.Delete(id); addrs.Delete(id) })
	cfg, diags := (&dsl.Loader{}).LoadSource(id+".hcl", []byte(src))
	if diags.HasErrors() {
		t.Fatalf("load:\n%s\n%s", src, diags.Error())
	}
	logs := &LogBuffer{}
	pl, diags := engine.Build(cfg.Pipelines[0], engine.Default, engine.Settings{
		Workers:   max(o.Workers, 1),
		BatchSize: o.BatchSize,
		Logger:    slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	if diags.HasErrors() {
		t.Fatalf("build:\n%s", diags.Error())
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- pl.Run(ctx) }()
	h := &Harness{Sink: s, Logs: logs, Pipeline: pl}
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
		if s.Gate != nil {
			select {
			case <-s.Gate:
			default:
				close(s.Gate)
			}
		}
		_ = h.stop()
	})
	n := max(o.Listeners, 1)
	for range n {
		select {
		case b := <-ch:
			if b.network == "udp" {
				h.UDP, h.UDPStats = b.addr.String(), b.stats
			} else {
				h.TCP, h.TCPStats = b.addr.String(), b.stats
			}
		case err := <-done:
			t.Fatalf("pipeline ended before listening: %v\nlogs:\n%s", err, logs)
		case <-time.After(10 * time.Second):
			t.Fatalf("input did not listen within 10 s\nlogs:\n%s", logs)
		}
	}
	return h
}

// Stop stops the pipeline and waits until it has drained.
func (h *Harness) Stop() error { return h.stop() }

// WaitFor polls cond until it holds or the timeout passes.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// WaitEvents waits until the sink holds n events and returns them.
func (h *Harness) WaitEvents(t testing.TB, n int, timeout time.Duration) []*event.Event {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for h.Sink.Len() < n {
		if time.Now().After(deadline) {
			t.Fatalf("got %d events, want %d, after %s\nlogs:\n%s", h.Sink.Len(), n, timeout, tail(h.Logs.String()))
		}
		time.Sleep(5 * time.Millisecond)
	}
	return h.Sink.Events()
}

func tail(s string) string {
	if len(s) > 4000 {
		return "…" + s[len(s)-4000:]
	}
	return s
}
