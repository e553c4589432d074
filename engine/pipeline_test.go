package engine_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/pipelined/pipeline/dsl/ir"
	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
)

// Test plugins. They are registered in the Default registry of this test binary
// only; their behaviour is driven by per-test controls looked up by "key".

type genOptions struct {
	Key     string `hcl:"key"`
	Batches int    `hcl:"batches,optional"` // 0 = until ctx is cancelled
	Size    int    `hcl:"size,optional"`
}

// ackLog counts acknowledgements per batch.
type ackLog struct {
	mu     sync.Mutex
	calls  map[int]int
	errs   map[int]error
	issued atomic.Int64 // events handed to emit successfully
}

type gen struct {
	o   genOptions
	log *ackLog
}

var controls sync.Map // key → *control

type control struct {
	acks    ackLog
	gate    chan struct{} // closed to unblock the blocking output
	got     atomic.Int64  // events written by outputs
	mu      sync.Mutex
	byOut   map[string]int
	fail    atomic.Int64 // number of upcoming writes to fail (retryable)
	perm    atomic.Bool  // fail writes permanently
	partial atomic.Int64 // number of upcoming writes where odd events fail
}

func newControl(t *testing.T) (string, *control) {
	key := t.Name()
	c := &control{gate: make(chan struct{}), byOut: map[string]int{}}
	c.acks.calls = map[int]int{}
	c.acks.errs = map[int]error{}
	close(c.gate)
	controls.Store(key, c)
	t.Cleanup(func() { controls.Delete(key) })
	return key, c
}

func ctl(key string) *control { v, _ := controls.Load(key); return v.(*control) }

func (g *gen) Run(ctx context.Context, emit engine.EmitFunc) error {
	c := ctl(g.o.Key)
	for b := 0; g.o.Batches == 0 || b < g.o.Batches; b++ {
		if ctx.Err() != nil {
			return nil
		}
		evs := make([]*event.Event, g.o.Size)
		for i := range evs {
			evs[i] = event.NewMessage(strconv.Itoa(b*g.o.Size + i))
		}
		id := b
		err := emit(engine.Batch{Events: evs, Ack: func(err error) {
			c.acks.mu.Lock()
			c.acks.calls[id]++
			c.acks.errs[id] = err
			c.acks.mu.Unlock()
		}})
		if err != nil {
			return err
		}
		c.acks.issued.Add(int64(len(evs)))
	}
	return nil
}

type dropOddOptions struct{}
type dropOdd struct{}

func (dropOdd) Filter(_ context.Context, e *event.Event, out []*event.Event) ([]*event.Event, error) {
	m, _ := e.Message()
	n, _ := strconv.Atoi(m)
	if n%2 == 1 {
		return out, nil
	}
	return append(out, e), nil
}

type sinkOptions struct {
	Key   string `hcl:"key"`
	Block bool   `hcl:"block,optional"`
}

type sink struct {
	o  sinkOptions
	id string
}

func (s *sink) Connect(context.Context) error { return nil }
func (s *sink) Close(context.Context) error   { return nil }
func (s *sink) Write(ctx context.Context, evs []*event.Event) error {
	c := ctl(s.o.Key)
	if s.o.Block {
		select {
		case <-c.gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if n := c.fail.Load(); n > 0 && c.fail.CompareAndSwap(n, n-1) {
		return errors.New("transient failure")
	}
	if c.perm.Load() {
		return engine.Permanent(errors.New("rejected"))
	}
	if n := c.partial.Load(); n > 0 && c.partial.CompareAndSwap(n, n-1) {
		be := &engine.BatchError{Failed: map[int]error{}}
		for i := range evs {
			if i%2 == 1 {
				be.Failed[i] = errors.New("item failed")
			}
		}
		if len(be.Failed) > 0 {
			// the delivered half counts now; the failed half comes back
			c.got.Add(int64(len(evs) - len(be.Failed)))
			c.mu.Lock()
			c.byOut[s.id] += len(evs) - len(be.Failed)
			c.mu.Unlock()
			return be
		}
	}
	c.got.Add(int64(len(evs)))
	c.mu.Lock()
	c.byOut[s.id] += len(evs)
	c.mu.Unlock()
	return nil
}

func init() {
	engine.RegisterInput("test_gen", func(o genOptions, r engine.Resources) (*gen, error) {
		if o.Size == 0 {
			o.Size = 100
		}
		return &gen{o: o}, nil
	})
	engine.RegisterFilter("test_drop_odd", func(dropOddOptions, engine.Resources) (dropOdd, error) { return dropOdd{}, nil })
	engine.RegisterOutput("test_sink", func(o sinkOptions, r engine.Resources) (*sink, error) {
		return &sink{o: o, id: r.ID}, nil
	})
}

func body(t testing.TB, src string) hcl.Body {
	t.Helper()
	f, diags := hclsyntax.ParseConfig([]byte(src), "test.hcl", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	return f.Body
}

func plugin(t testing.TB, kind ir.Kind, typ, id, src string) *ir.Plugin {
	return &ir.Plugin{Kind: kind, Type: typ, ID: id, Body: body(t, src)}
}

func build(t testing.TB, p *ir.Pipeline, s engine.Settings) *engine.Pipeline {
	t.Helper()
	if p.Name == "" {
		p.Name = "test"
	}
	pl, diags := engine.Build(p, engine.Default, s)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	return pl
}

func run(t *testing.T, pl *engine.Pipeline, ctx context.Context) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- pl.Run(ctx) }()
	select {
	case err := <-done:
		return err
	case <-time.After(60 * time.Second):
		t.Fatal("pipeline did not stop within 60s")
		return nil
	}
}

func checkAcks(t *testing.T, c *control, batches int) {
	t.Helper()
	c.acks.mu.Lock()
	defer c.acks.mu.Unlock()
	if len(c.acks.calls) != batches {
		t.Errorf("acks fired for %d batches; want %d", len(c.acks.calls), batches)
	}
	for id, n := range c.acks.calls {
		if n != 1 {
			t.Errorf("batch %d acked %d times; want exactly 1", id, n)
		}
	}
}

func TestAckExactlyOnceWithFanOutAndDrop(t *testing.T) {
	key, c := newControl(t)
	k := fmt.Sprintf("key = %q\n", key)
	p := &ir.Pipeline{
		Inputs:  []*ir.Plugin{plugin(t, ir.Input, "test_gen", "gen", k+"batches = 20\nsize = 100\n")},
		Filters: []ir.Node{plugin(t, ir.Filter, "test_drop_odd", "odd", "")},
		Outputs: []ir.Node{
			plugin(t, ir.Output, "test_sink", "a", k),
			plugin(t, ir.Output, "test_sink", "b", k),
		},
	}
	pl := build(t, p, engine.Settings{Workers: 3, BatchSize: 64})
	if err := run(t, pl, context.Background()); err != nil {
		t.Fatal(err)
	}
	checkAcks(t, c, 20)
	if c.byOut["a"] != 1000 || c.byOut["b"] != 1000 {
		t.Errorf("outputs got a=%d b=%d; want 1000 each (even numbers only)", c.byOut["a"], c.byOut["b"])
	}
	st := pl.Stats()
	if st.Dropped.Load() != 1000 || st.AcksFired.Load() != 20 || st.In.Load() != 2000 {
		t.Errorf("stats in=%d dropped=%d acks=%d; want 2000, 1000, 20", st.In.Load(), st.Dropped.Load(), st.AcksFired.Load())
	}
}

func TestRetryTransientAndPartialFailures(t *testing.T) {
	key, c := newControl(t)
	c.fail.Store(3)
	c.partial.Store(2)
	k := fmt.Sprintf("key = %q\n", key)
	p := &ir.Pipeline{
		Inputs:  []*ir.Plugin{plugin(t, ir.Input, "test_gen", "gen", k+"batches = 10\nsize = 50\n")},
		Outputs: []ir.Node{plugin(t, ir.Output, "test_sink", "a", k)},
	}
	pl := build(t, p, engine.Settings{Workers: 2, RetryInitial: time.Millisecond, RetryMax: 4 * time.Millisecond})
	if err := run(t, pl, context.Background()); err != nil {
		t.Fatal(err)
	}
	checkAcks(t, c, 10)
	if got := c.got.Load(); got != 500 {
		t.Errorf("delivered %d events; want 500", got)
	}
	if r := pl.Stats().Retries.Load(); r != 5 {
		t.Errorf("retries = %d; want 5 (3 whole-batch + 2 partial)", r)
	}
	for id, err := range c.acks.errs {
		if err != nil {
			t.Errorf("batch %d acked with %v; want success", id, err)
		}
	}
}

func TestPermanentFailureIsAckedAsFailedAndCounted(t *testing.T) {
	key, c := newControl(t)
	c.perm.Store(true)
	k := fmt.Sprintf("key = %q\n", key)
	p := &ir.Pipeline{
		Inputs:  []*ir.Plugin{plugin(t, ir.Input, "test_gen", "gen", k+"batches = 3\nsize = 10\n")},
		Outputs: []ir.Node{plugin(t, ir.Output, "test_sink", "a", k)},
	}
	pl := build(t, p, engine.Settings{Workers: 1})
	if err := run(t, pl, context.Background()); err != nil {
		t.Fatal(err)
	}
	checkAcks(t, c, 3)
	for id, err := range c.acks.errs {
		if err == nil {
			t.Errorf("batch %d acked as success; want the permanent error", id)
		}
	}
	if f := pl.Stats().Failed.Load(); f != 30 {
		t.Errorf("failed = %d; want 30", f)
	}
}

// A blocked output must stop the input within a bounded number of batches and
// keep memory flat; once it resumes, everything emitted arrives.
func TestBackPressureBoundsInFlightAndLosesNothing(t *testing.T) {
	key, c := newControl(t)
	c.gate = make(chan struct{}) // closed below
	k := fmt.Sprintf("key = %q\n", key)
	const workers, size = 2, 100
	p := &ir.Pipeline{
		Inputs: []*ir.Plugin{plugin(t, ir.Input, "test_gen", "gen", k+"size = 100\n")},
		Outputs: []ir.Node{
			plugin(t, ir.Output, "test_sink", "blocked", k+"block = true\n"),
			plugin(t, ir.Output, "test_sink", "free", k),
		},
	}
	pl := build(t, p, engine.Settings{Workers: workers, BatchSize: size})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- pl.Run(ctx) }()

	// Wait until the input is stuck: the emitted count stops moving.
	var before int64
	deadline := time.Now().Add(10 * time.Second)
	for {
		time.Sleep(100 * time.Millisecond)
		now := pl.Stats().In.Load()
		if now == before && now > 0 {
			break
		}
		before = now
		if time.Now().After(deadline) {
			t.Fatalf("input never blocked: %d events emitted", now)
		}
	}
	runtime.GC()
	var m1 runtime.MemStats
	runtime.ReadMemStats(&m1)
	time.Sleep(300 * time.Millisecond)
	runtime.GC()
	var m2 runtime.MemStats
	runtime.ReadMemStats(&m2)
	stuck := pl.Stats().In.Load()
	// queue (workers batches) + one batch per worker + output channel (1) + one
	// in the sink, plus one batch the input holds in emit: a bound in batches.
	if limit := int64((workers + workers + 1 + 1 + 2) * size); stuck > limit || stuck != before {
		t.Fatalf("input emitted %d events (was %d) while the output was blocked; want a stable count ≤ %d", stuck, before, limit)
	}
	if grow := int64(m2.HeapInuse) - int64(m1.HeapInuse); grow > 4<<20 {
		t.Errorf("heap grew %d bytes while blocked; want flat", grow)
	}
	close(c.gate)
	time.Sleep(200 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("pipeline did not drain")
	}
	in := pl.Stats().In.Load()
	c.mu.Lock()
	defer c.mu.Unlock()
	if int64(c.byOut["blocked"]) != in || int64(c.byOut["free"]) != in {
		t.Errorf("after resume: blocked=%d free=%d; want %d each", c.byOut["blocked"], c.byOut["free"], in)
	}
	c.acks.mu.Lock()
	defer c.acks.mu.Unlock()
	if acked := int64(len(c.acks.calls)) * size; acked != in {
		t.Errorf("acked %d events; want %d", acked, in)
	}
}

func TestAbortLeavesUndeliveredBatchesUnacked(t *testing.T) {
	key, c := newControl(t)
	c.gate = make(chan struct{}) // never opened
	k := fmt.Sprintf("key = %q\n", key)
	p := &ir.Pipeline{
		Inputs:  []*ir.Plugin{plugin(t, ir.Input, "test_gen", "gen", k+"size = 10\n")},
		Outputs: []ir.Node{plugin(t, ir.Output, "test_sink", "blocked", k+"block = true\n")},
	}
	pl := build(t, p, engine.Settings{Workers: 1})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- pl.Run(ctx) }()
	time.Sleep(200 * time.Millisecond)
	cancel()
	time.Sleep(100 * time.Millisecond)
	pl.Abort()
	select {
	case err := <-done:
		if !errors.Is(err, engine.ErrAborted) {
			t.Fatalf("Run = %v; want ErrAborted", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("abort did not stop the pipeline")
	}
	c.acks.mu.Lock()
	defer c.acks.mu.Unlock()
	if len(c.acks.calls) != 0 {
		t.Errorf("%d batches acked although nothing was delivered", len(c.acks.calls))
	}
}
