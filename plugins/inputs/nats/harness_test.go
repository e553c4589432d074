package nats

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pipelined/pipeline/dsl"
	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
	_ "github.com/pipelined/pipeline/plugins/codecs/json"
	_ "github.com/pipelined/pipeline/plugins/codecs/plain"
	_ "github.com/pipelined/pipeline/plugins/filters/mutate"
	_ "github.com/pipelined/pipeline/plugins/inputs/generator"
	"github.com/pipelined/pipeline/plugins/internal/testkit/natstest"
	"github.com/pipelined/pipeline/plugins/internal/testkit/servertest"
	_ "github.com/pipelined/pipeline/plugins/outputs/nats"
)

func TestMain(m *testing.M) {
	stopWait = time.Second
	os.Exit(natstest.Main(m))
}

// collector counts the events a pipeline delivered, by the id in [uid].
type collector struct {
	mu    sync.Mutex
	seen  map[string]int
	total int
	// gate, when non-nil, holds every Write until closed.
	gate chan struct{}
	// delivered counts redelivered events ([@metadata][nats][num_delivered] > 1).
	redelivered atomic.Int64
}

func newCollector() *collector { return &collector{seen: map[string]int{}} }

func (c *collector) unique() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.seen)
}

func (c *collector) counts() (unique, total int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.seen), c.total
}

var (
	collectors sync.Map // token → *collector
	tokens     atomic.Int64
	refUID     = event.MustRef("[uid]")
)

type collectOptions struct {
	Token string `hcl:"token"`
}

type collectOut struct{ c *collector }

func (o *collectOut) Connect(context.Context) error { return nil }
func (o *collectOut) Close(context.Context) error   { return nil }
func (o *collectOut) Write(ctx context.Context, evs []*event.Event) error {
	if g := o.c.gate; g != nil {
		select {
		case <-g:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	o.c.mu.Lock()
	defer o.c.mu.Unlock()
	for _, e := range evs {
		id, _ := e.GetString(refUID)
		o.c.seen[id]++
		o.c.total++
		if n, ok := e.Get(refDelivered); ok {
			if v, ok := n.(int64); ok && v > 1 {
				o.c.redelivered.Add(1)
			}
		}
	}
	return nil
}

func init() {
	engine.RegisterOutput("nats_test_collect", func(o collectOptions, _ engine.Resources) (*collectOut, error) {
		v, ok := collectors.Load(o.Token)
		if !ok {
			return nil, fmt.Errorf("unknown token %q", o.Token)
		}
		return &collectOut{c: v.(*collector)}, nil
	})
}

// collectBlock registers c and returns the output block that writes to it.
func collectBlock(t testing.TB, c *collector) string {
	tok := fmt.Sprintf("c%d", tokens.Add(1))
	collectors.Store(tok, c)
	t.Cleanup(func() { collectors.Delete(tok) })
	return fmt.Sprintf("output \"nats_test_collect\" {\n  token = %q\n}\n", tok)
}

// running is one pipeline run in the test process.
type running struct {
	pl   *engine.Pipeline
	logs *servertest.Output
	done chan struct{} // closed when Run returned
	err  error         // Run's, once done is closed
	stop func() error
}

// start builds and runs a pipeline from HCL until t ends (or stop).
func start(t testing.TB, name, src string, batch int) *running {
	t.Helper()
	cfg, diags := dsl.LoadSource(name+".hcl", []byte(src))
	if diags.HasErrors() {
		t.Fatalf("load:\n%s\n%s", src, diags.Error())
	}
	logs := &servertest.Output{Limit: 1 << 20}
	pl, diags := engine.Build(cfg.Pipelines[0], engine.Default, engine.Settings{
		Workers: 1, BatchSize: batch, BatchDelay: 5 * time.Millisecond,
		RetryInitial: 50 * time.Millisecond, RetryMax: time.Second,
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo})),
	})
	if diags.HasErrors() {
		t.Fatalf("build:\n%s", diags.Error())
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{pl: pl, logs: logs, done: make(chan struct{})}
	go func() { r.err = pl.Run(ctx); close(r.done) }()
	var once sync.Once
	var stopErr error
	r.stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case <-r.done:
				stopErr = r.err
			case <-time.After(20 * time.Second):
				pl.Abort()
				stopErr = fmt.Errorf("pipeline %s did not stop within 20 s", name)
			}
		})
		return stopErr
	}
	t.Cleanup(func() {
		_ = r.stop()
		if t.Failed() {
			t.Logf("pipeline %s log:\n%s", name, servertest.Tail(logs.String(), 3000))
		}
	})
	return r
}

// wait waits until the pipeline ended by itself and returns Run's error.
func (r *running) wait(timeout time.Duration) error {
	select {
	case <-r.done:
		return r.err
	case <-time.After(timeout):
		return fmt.Errorf("pipeline still running after %s", timeout)
	}
}

// waitFor polls cond every 20 ms until it holds or timeout passes.
func waitFor(t testing.TB, timeout time.Duration, what func() string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s: %s", timeout, what())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
