package engine_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
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
	WaitAck bool   `hcl:"wait_ack,optional"` // emit the next batch only once this one is acked, as a beats sender
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
	order   []string     // messages in the order outputs received them
	biggest atomic.Int64 // the most events one Write got
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
		acked := make(chan struct{}, 1)
		err := emit(engine.Batch{Events: evs, Ack: func(err error) {
			c.acks.mu.Lock()
			c.acks.calls[id]++
			c.acks.errs[id] = err
			c.acks.mu.Unlock()
			acked <- struct{}{}
		}})
		if err != nil {
			return err
		}
		c.acks.issued.Add(int64(len(evs)))
		if g.o.WaitAck {
			select {
			case <-acked:
			case <-ctx.Done():
				return nil
			}
		}
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
	for n := int64(len(evs)); n > c.biggest.Load(); {
		if c.biggest.CompareAndSwap(c.biggest.Load(), n) {
			break
		}
	}
	if s.o.Block {
		select {
		case <-c.gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	// A lost compare-and-swap (another output's write took one at the same
	// moment) tries again: a write that should fail must not go through
	// (TestStalledOutputHealth's second output delivered that way).
	for n := c.fail.Load(); n > 0; n = c.fail.Load() {
		if c.fail.CompareAndSwap(n, n-1) {
			return errors.New("transient failure")
		}
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
	for _, e := range evs {
		m, _ := e.Message()
		c.order = append(c.order, m)
	}
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

// memDLQ is a dead letter queue in memory whose first write fails.
type memDLQ struct {
	mu      sync.Mutex
	failed  bool
	entries []string
}

func (d *memDLQ) Put(e *event.Event, from engine.DeadLetterSource, reason string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.failed {
		d.failed = true
		return errors.New("disk full")
	}
	m, _ := e.Message()
	d.entries = append(d.entries, from.Pipeline+"/"+from.PluginType+"/"+from.PluginID+"/"+reason+"/"+m)
	return nil
}

// With a dead letter queue, refused events are kept there (a failing DLQ write
// is retried) and their batches acknowledged as delivered.
func TestPermanentFailureGoesToDeadLetterQueue(t *testing.T) {
	key, c := newControl(t)
	c.perm.Store(true)
	k := fmt.Sprintf("key = %q\n", key)
	p := &ir.Pipeline{
		Inputs:  []*ir.Plugin{plugin(t, ir.Input, "test_gen", "gen", k+"batches = 3\nsize = 10\n")},
		Outputs: []ir.Node{plugin(t, ir.Output, "test_sink", "a", k)},
	}
	dlq := &memDLQ{}
	pl := build(t, p, engine.Settings{Workers: 1, DeadLetter: dlq, RetryInitial: time.Millisecond})
	if err := run(t, pl, context.Background()); err != nil {
		t.Fatal(err)
	}
	checkAcks(t, c, 3)
	for id, err := range c.acks.errs {
		if err != nil {
			t.Errorf("batch %d acked with %v; want success (kept in the DLQ)", id, err)
		}
	}
	if got := pl.Stats().DeadLettered.Load(); got != 30 || len(dlq.entries) != 30 {
		t.Fatalf("dead lettered = %d, entries = %d; want 30", got, len(dlq.entries))
	}
	if f := pl.Stats().Failed.Load(); f != 0 {
		t.Errorf("failed = %d; want 0", f)
	}
	if want := "test/test_sink/a/rejected/"; !strings.HasPrefix(dlq.entries[0], want) {
		t.Errorf("entry = %q; want prefix %q", dlq.entries[0], want)
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
	rss1 := rssBytes(t)
	time.Sleep(500 * time.Millisecond)
	runtime.GC()
	var m2 runtime.MemStats
	runtime.ReadMemStats(&m2)
	rss2 := rssBytes(t)
	stuck := pl.Stats().In.Load()
	// queue (workers batches) + one batch per worker + output channel (4) +
	// up to 8 merged into the sink's Write, plus one batch the input holds in
	// emit: a bound in batches.
	if limit := int64((workers + workers + 4 + 8 + 2) * size); stuck > limit || stuck != before {
		t.Fatalf("input emitted %d events (was %d) while the output was blocked; want a stable count ≤ %d", stuck, before, limit)
	}
	if grow := int64(m2.HeapInuse) - int64(m1.HeapInuse); grow > 4<<20 {
		t.Errorf("heap grew %d bytes while blocked; want flat", grow)
	}
	if grow := rss2 - rss1; grow > 8<<20 {
		t.Errorf("RSS grew %d bytes while blocked; want flat", grow)
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

type dropAllOptions struct{}
type dropAll struct{}

func (dropAll) Filter(_ context.Context, _ *event.Event, out []*event.Event) ([]*event.Event, error) {
	return out, nil
}

func init() {
	engine.RegisterFilter("test_drop_all", func(dropAllOptions, engine.Resources) (dropAll, error) { return dropAll{}, nil })
}

// BenchmarkPipelineDrop measures the engine's own cost per event: emit with an
// acknowledgement, queue, worker batching, one filter that drops, ack.
func BenchmarkPipelineDrop(b *testing.B) {
	key := "bench-drop"
	c := &control{gate: make(chan struct{}), byOut: map[string]int{}}
	c.acks.calls, c.acks.errs = map[int]int{}, map[int]error{}
	close(c.gate)
	controls.Store(key, c)
	defer controls.Delete(key)
	k := fmt.Sprintf("key = %q\n", key)
	batches := max(b.N/125, 1)
	p := &ir.Pipeline{
		Inputs:  []*ir.Plugin{plugin(b, ir.Input, "test_gen", "gen", k+fmt.Sprintf("batches = %d\nsize = 125\n", batches))},
		Filters: []ir.Node{plugin(b, ir.Filter, "test_drop_all", "all", "")},
		Outputs: []ir.Node{plugin(b, ir.Output, "test_sink", "a", k)},
	}
	pl := build(b, p, engine.Settings{})
	b.ReportAllocs()
	b.ResetTimer()
	if err := pl.Run(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	if got := pl.Stats().Dropped.Load(); got != int64(batches*125) {
		b.Fatalf("dropped %d; want %d", got, batches*125)
	}
	b.ReportMetric(float64(batches*125)/b.Elapsed().Seconds(), "events/s")
}

type passOptions struct{}
type pass struct{}

func (pass) Filter(_ context.Context, e *event.Event, out []*event.Event) ([]*event.Event, error) {
	return append(out, e), nil
}

func init() {
	engine.RegisterFilter("test_pass", func(passOptions, engine.Resources) (pass, error) { return pass{}, nil })
}

// BenchmarkPipelineChain is BenchmarkPipelineDrop with three filters that pass
// events on before the drop: the per-filter cost of the engine (counters,
// timing) shows here.
func BenchmarkPipelineChain(b *testing.B) {
	key := "bench-chain"
	c := &control{gate: make(chan struct{}), byOut: map[string]int{}}
	c.acks.calls, c.acks.errs = map[int]int{}, map[int]error{}
	close(c.gate)
	controls.Store(key, c)
	defer controls.Delete(key)
	k := fmt.Sprintf("key = %q\n", key)
	batches := max(b.N/125, 1)
	p := &ir.Pipeline{
		Inputs: []*ir.Plugin{plugin(b, ir.Input, "test_gen", "gen", k+fmt.Sprintf("batches = %d\nsize = 125\n", batches))},
		Filters: []ir.Node{
			plugin(b, ir.Filter, "test_pass", "p1", ""),
			plugin(b, ir.Filter, "test_pass", "p2", ""),
			plugin(b, ir.Filter, "test_pass", "p3", ""),
			plugin(b, ir.Filter, "test_drop_all", "all", ""),
		},
		Outputs: []ir.Node{plugin(b, ir.Output, "test_sink", "a", k)},
	}
	pl := build(b, p, engine.Settings{})
	b.ReportAllocs()
	b.ResetTimer()
	if err := pl.Run(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	if got := pl.Stats().Dropped.Load(); got != int64(batches*125) {
		b.Fatalf("dropped %d; want %d", got, batches*125)
	}
	b.ReportMetric(float64(batches*125)/b.Elapsed().Seconds(), "events/s")
}

// matchExpr is the condition `[field] =~ /pattern/`, built as the front-ends
// build it (engine tests never import dsl).
func matchExpr(field, pattern string) ir.Expr {
	return &ir.Match{Left: &ir.FieldRef{Path: "[" + field + "]"}, Right: &ir.Regexp{Pattern: pattern}}
}

// Output conditionals route each event to the outputs whose branch matches;
// an event no output takes is counted as unrouted and still acknowledged.
func TestOutputRoutingAndUnroutedAcks(t *testing.T) {
	key, c := newControl(t)
	k := fmt.Sprintf("key = %q\n", key)
	p := &ir.Pipeline{
		Inputs: []*ir.Plugin{plugin(t, ir.Input, "test_gen", "gen", k+"batches = 4\nsize = 25\n")},
		Outputs: []ir.Node{
			&ir.If{
				Branches: []ir.Branch{
					{Cond: matchExpr("message", `0$`), Body: []ir.Node{plugin(t, ir.Output, "test_sink", "tens", k)}},
					{Cond: matchExpr("message", `5$`), Body: []ir.Node{
						plugin(t, ir.Output, "test_sink", "fives", k),
						plugin(t, ir.Output, "test_sink", "fives_copy", k),
					}},
				},
			},
		},
	}
	pl := build(t, p, engine.Settings{Workers: 2})
	if err := run(t, pl, context.Background()); err != nil {
		t.Fatal(err)
	}
	checkAcks(t, c, 4)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byOut["tens"] != 10 || c.byOut["fives"] != 10 || c.byOut["fives_copy"] != 10 {
		t.Errorf("routed tens=%d fives=%d fives_copy=%d; want 10 each", c.byOut["tens"], c.byOut["fives"], c.byOut["fives_copy"])
	}
	if u := pl.Stats().Unrouted.Load(); u != 80 {
		t.Errorf("unrouted = %d; want 80", u)
	}
}

// rssBytes reads the process's resident set size from /proc.
func rssBytes(t *testing.T) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	var size, resident int64
	if _, err := fmt.Sscan(string(b), &size, &resident); err != nil {
		t.Fatal(err)
	}
	return resident * int64(os.Getpagesize())
}

// Conditionals must not reorder events: with one worker, output order is input
// order, as in Logstash.
func TestConditionalsKeepEventOrder(t *testing.T) {
	key, c := newControl(t)
	k := fmt.Sprintf("key = %q\n", key)
	p := &ir.Pipeline{
		Inputs: []*ir.Plugin{plugin(t, ir.Input, "test_gen", "gen", k+"batches = 1\nsize = 60\n")},
		Filters: []ir.Node{&ir.If{
			Branches: []ir.Branch{{Cond: matchExpr("message", `[05]$`), Body: []ir.Node{plugin(t, ir.Filter, "test_drop_odd", "odd", "")}}},
		}},
		Outputs: []ir.Node{plugin(t, ir.Output, "test_sink", "a", k)},
	}
	pl := build(t, p, engine.Settings{Workers: 1, BatchSize: 60})
	if err := run(t, pl, context.Background()); err != nil {
		t.Fatal(err)
	}
	var want []string
	for i := range 60 {
		if i%10 == 5 {
			continue // odd and ending in 5: dropped inside the branch
		}
		want = append(want, strconv.Itoa(i))
	}
	if fmt.Sprint(c.order) != fmt.Sprint(want) {
		t.Errorf("output order = %v; want %v", c.order, want)
	}
}

// The snapshot counts events per plugin: what each input emitted, what each
// filter took, passed on and dropped, what each output took and delivered.
func TestSnapshotCountsPerPlugin(t *testing.T) {
	key, c := newControl(t)
	k := fmt.Sprintf("key = %q\n", key)
	p := &ir.Pipeline{
		Inputs: []*ir.Plugin{plugin(t, ir.Input, "test_gen", "gen", k+"batches = 4\nsize = 50\n")},
		Filters: []ir.Node{
			plugin(t, ir.Filter, "test_pass", "first", ""),
			&ir.If{Branches: []ir.Branch{{Cond: matchExpr("message", `^1`), Body: []ir.Node{
				plugin(t, ir.Filter, "test_drop_odd", "odd", ""),
			}}}},
		},
		Outputs: []ir.Node{plugin(t, ir.Output, "test_sink", "a", k), plugin(t, ir.Output, "test_sink", "b", k)},
	}
	pl := build(t, p, engine.Settings{Workers: 2})
	if err := run(t, pl, context.Background()); err != nil {
		t.Fatal(err)
	}
	// Messages 0..199; "1", "10".."19", "100".."199" start with 1: 111 of them,
	// 56 odd ones are dropped.
	const in, cond, dropped = 200, 111, 56
	s := pl.Snapshot()
	if s.Name != "test" || s.In != in || s.Filtered != in-dropped || s.Out != in-dropped || s.Dropped != dropped || s.QueueEvents != 0 {
		t.Errorf("pipeline snapshot = %+v", s)
	}
	if len(s.Inputs) != 1 || s.Inputs[0].ID != "gen" || s.Inputs[0].Type != "test_gen" || s.Inputs[0].Out != in || s.Inputs[0].In != 0 {
		t.Errorf("inputs = %+v", s.Inputs)
	}
	if len(s.Filters) != 2 {
		t.Fatalf("filters = %+v", s.Filters)
	}
	f0, f1 := s.Filters[0], s.Filters[1]
	if f0.ID != "first" || f0.Type != "test_pass" || f0.In != in || f0.Out != in || f0.Dropped != 0 {
		t.Errorf("filter first = %+v", f0)
	}
	if f1.ID != "odd" || f1.In != cond || f1.Out != cond-dropped || f1.Dropped != dropped {
		t.Errorf("filter odd = %+v", f1)
	}
	if f0.Duration <= 0 || f1.Duration <= 0 {
		t.Errorf("filter durations %v, %v; want > 0", f0.Duration, f1.Duration)
	}
	for _, o := range s.Outputs {
		if o.In != in-dropped || o.Out != in-dropped || o.Failed != 0 || o.Duration <= 0 {
			t.Errorf("output %s = %+v", o.ID, o)
		}
	}
	if got := c.got.Load(); got != 2*(in-dropped) {
		t.Errorf("outputs got %d", got)
	}
}

// An output that falls behind gets the batches waiting for it merged into
// bigger Writes, in order.
func TestSlowOutputGetsMergedBatches(t *testing.T) {
	key, c := newControl(t)
	c.gate = make(chan struct{})
	k := fmt.Sprintf("key = %q\n", key)
	p := &ir.Pipeline{
		Inputs:  []*ir.Plugin{plugin(t, ir.Input, "test_gen", "gen", k+"batches = 30\nsize = 10\n")},
		Outputs: []ir.Node{plugin(t, ir.Output, "test_sink", "out", k+"block = true\n")},
	}
	pl := build(t, p, engine.Settings{Workers: 1, BatchSize: 10, BatchDelay: time.Millisecond})
	done := make(chan error, 1)
	go func() { done <- pl.Run(context.Background()) }()
	time.Sleep(300 * time.Millisecond) // the output's channel fills
	close(c.gate)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if b := c.biggest.Load(); b <= 10 || b > 8*10+10 {
		t.Errorf("biggest Write had %d events; want merged batches (> 10, ≤ 90)", b)
	}
	if len(c.order) != 300 {
		t.Fatalf("%d events delivered", len(c.order))
	}
	for i, m := range c.order {
		if m != strconv.Itoa(i) {
			t.Fatalf("event %d is %q: merged batches out of order", i, m)
		}
	}
	checkAcks(t, c, 30)
}

// A sender that waits for each acknowledgement (a beats window) must not be
// held for batch_delay: the tail of its window can never fill. With a delay of
// an hour, any wait for a fuller batch would stall this test.
func TestAckedWindowTailIsNotHeldForBatchDelay(t *testing.T) {
	for _, size := range []int{50, 200, 300} {
		t.Run(strconv.Itoa(size), func(t *testing.T) {
			key, c := newControl(t)
			p := &ir.Pipeline{
				Inputs:  []*ir.Plugin{plugin(t, ir.Input, "test_gen", "gen", fmt.Sprintf("key = %q\nbatches = 4\nsize = %d\nwait_ack = true\n", key, size))},
				Outputs: []ir.Node{plugin(t, ir.Output, "test_sink", "out", fmt.Sprintf("key = %q\n", key))},
			}
			pl := build(t, p, engine.Settings{Workers: 2, BatchSize: 125, BatchDelay: time.Hour})
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- pl.Run(context.Background()) }()
			select {
			case err := <-done:
				if err != nil {
					t.Fatal(err)
				}
			case <-ctx.Done():
				pl.Abort()
				select {
				case <-done:
				case <-time.After(5 * time.Second):
				}
				t.Fatalf("a window of %d events waited for batch_delay: %d of %d events delivered", size, c.got.Load(), 4*size)
			}
			if got := c.got.Load(); got != int64(4*size) {
				t.Fatalf("delivered %d events; want %d", got, 4*size)
			}
			checkAcks(t, c, 4)
		})
	}
}

// With pipeline.on_permanent_failure: hold (and no dead letter queue), events
// an output refuses for good are retried, not acknowledged: the pipeline
// stalls until the output takes them, then everything is acknowledged as
// delivered (issue #19 item 6).
func TestHoldRetriesPermanentFailures(t *testing.T) {
	key, c := newControl(t)
	c.perm.Store(true)
	k := fmt.Sprintf("key = %q\n", key)
	p := &ir.Pipeline{
		Inputs:   []*ir.Plugin{plugin(t, ir.Input, "test_gen", "gen", k+"batches = 2\nsize = 10\n")},
		Outputs:  []ir.Node{plugin(t, ir.Output, "test_sink", "a", k)},
		Settings: ir.Settings{OnPermanentFailure: "hold"},
	}
	pl := build(t, p, engine.Settings{Workers: 1, RetryInitial: time.Millisecond, RetryMax: 5 * time.Millisecond})
	done := make(chan error, 1)
	go func() { done <- pl.Run(context.Background()) }()
	waitFor(t, "retries of the refused batch", func() bool { return pl.Stats().Retries.Load() >= 5 })
	c.acks.mu.Lock()
	n := len(c.acks.calls)
	c.acks.mu.Unlock()
	if n != 0 {
		t.Fatalf("%d batches acknowledged while the output refuses them", n)
	}
	c.perm.Store(false)
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the pipeline did not finish once the output took the events")
	}
	checkAcks(t, c, 2)
	for id, err := range c.acks.errs {
		if err != nil {
			t.Errorf("batch %d acked with %v; want success", id, err)
		}
	}
	if f := pl.Stats().Failed.Load(); f != 0 {
		t.Errorf("failed = %d; want 0", f)
	}
}
