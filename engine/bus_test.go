package engine_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/pipelined/pipeline/dsl/ir"
	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
)

// Bus test plugins: the shape of the pipeline input and output, which live
// in plugins/ (engine tests do not import plugins).

type busInOptions struct {
	Address string `hcl:"address"`
}

type busIn struct{ l *engine.BusListener }

func (in *busIn) Run(ctx context.Context, emit engine.EmitFunc) error { return in.l.Run(ctx, emit) }

type busOutOptions struct {
	SendTo []string `hcl:"send_to"`
	Ensure *bool    `hcl:"ensure_delivery,optional"`
}

type busOut struct{ s *engine.BusSender }

func (o *busOut) Connect(context.Context) error { return nil }
func (o *busOut) Close(context.Context) error   { return nil }
func (o *busOut) Counters() []engine.Counter {
	return []engine.Counter{{Name: "events_dropped", Value: o.s.Dropped()}}
}
func (o *busOut) Write(ctx context.Context, evs []*event.Event) error {
	return o.s.Send(ctx, evs)
}

func init() {
	engine.RegisterInput("test_bus_in", func(o busInOptions, r engine.Resources) (*busIn, error) {
		return &busIn{l: r.Bus.Listen("address", o.Address)}, nil
	})
	engine.RegisterOutput("test_bus_out", func(o busOutOptions, r engine.Resources) (*busOut, error) {
		ensure := o.Ensure == nil || *o.Ensure
		return &busOut{s: r.Bus.Sender("send_to", o.SendTo, ensure)}, nil
	})
}

// newKeyedControl is newControl for a test that needs several controls.
func newKeyedControl(t *testing.T, suffix string) (string, *control) {
	key := t.Name() + "/" + suffix
	c := &control{gate: make(chan struct{}), byOut: map[string]int{}}
	c.acks.calls = map[int]int{}
	c.acks.errs = map[int]error{}
	close(c.gate)
	controls.Store(key, c)
	t.Cleanup(func() { controls.Delete(key) })
	return key, c
}

// upstream: test_gen → test_bus_out; downstream: test_bus_in → test_sink.
func upstream(t *testing.T, name, key, gen, out string) *ir.Pipeline {
	return &ir.Pipeline{Name: name,
		Inputs:  []*ir.Plugin{plugin(t, ir.Input, "test_gen", "gen", fmt.Sprintf("key = %q\n%s", key, gen))},
		Outputs: []ir.Node{plugin(t, ir.Output, "test_bus_out", "send", out)}}
}

func downstream(t *testing.T, name, key, address string, block bool) *ir.Pipeline {
	return &ir.Pipeline{Name: name,
		Inputs: []*ir.Plugin{plugin(t, ir.Input, "test_bus_in", "recv", fmt.Sprintf("address = %q\n", address))},
		Outputs: []ir.Node{plugin(t, ir.Output, "test_sink", "sink",
			fmt.Sprintf("key = %q\nblock = %v\n", key, block))}}
}

type running struct {
	pl     *engine.Pipeline
	cancel context.CancelFunc
	done   chan error
}

func start(t *testing.T, p *ir.Pipeline, s engine.Settings) *running {
	t.Helper()
	pl := build(t, p, s)
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{pl: pl, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- pl.Run(ctx) }()
	t.Cleanup(func() { pl.Abort(); cancel() })
	return r
}

func (r *running) wait(t *testing.T) {
	t.Helper()
	select {
	case err := <-r.done:
		if err != nil {
			t.Fatalf("pipeline %s: %v", r.pl.Name(), err)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("pipeline %s did not stop", r.pl.Name())
	}
}

// TestBusFanOutCopies: one output sending to two addresses gives each
// downstream pipeline every event, as its own copy with @metadata; the
// upstream batches are acknowledged once both queues took them.
func TestBusFanOutCopies(t *testing.T) {
	up, cu := newKeyedControl(t, "up")
	ka, ca := newKeyedControl(t, "a")
	kb, cb := newKeyedControl(t, "b")
	s := engine.Settings{Workers: 2, BatchSize: 50, Bus: engine.NewBus()}
	a := start(t, downstream(t, "a", ka, "addr-a", false), s)
	b := start(t, downstream(t, "b", kb, "addr-b", false), s)
	u := start(t, upstream(t, "up", up, "batches = 10\nsize = 100\n", `send_to = ["addr-a", "addr-b"]`), s)
	u.wait(t)
	checkAcks(t, cu, 10)
	waitFor(t, "both downstream pipelines to get 1000 events", func() bool { return ca.got.Load() == 1000 && cb.got.Load() == 1000 })
	a.cancel()
	b.cancel()
	a.wait(t)
	b.wait(t)
	if n := len(ca.order); n != 1000 {
		t.Fatalf("a got %d events in order; want 1000", n)
	}
}

// TestBusCopyKeepsMetadata: the event handed downstream is a deep copy
// with @metadata, independent of the upstream event.
func TestBusCopyKeepsMetadata(t *testing.T) {
	e := event.NewMessage("m")
	_ = e.Set(event.MustRef("[@metadata][index]"), "logs")
	_ = e.Set(event.MustRef("[a][b]"), "c")
	c := e.Copy()
	_ = e.Set(event.MustRef("[a][b]"), "changed")
	if v, _ := c.Get(event.MustRef("[@metadata][index]")); v != "logs" {
		t.Errorf("copy [@metadata][index] = %v; want logs", v)
	}
	if v, _ := c.Get(event.MustRef("[a][b]")); v != "c" {
		t.Errorf("copy [a][b] = %v; want c (unaffected by the original)", v)
	}
	if c.Acker() != nil {
		t.Error("copy shares the acknowledgement; want none")
	}
}

// TestBusBackPressure: a downstream pipeline whose output is blocked fills
// its queue, and then the upstream batches stay unacknowledged; once the
// output resumes everything is delivered and acknowledged.
func TestBusBackPressure(t *testing.T) {
	up, cu := newKeyedControl(t, "up")
	kd, cd := newKeyedControl(t, "down")
	cd.gate = make(chan struct{})
	s := engine.Settings{Workers: 1, BatchSize: 10, Bus: engine.NewBus()}
	d := start(t, downstream(t, "down", kd, "x", true), s)
	u := start(t, upstream(t, "up", up, "batches = 200\nsize = 10\n", `send_to = ["x"]`), s)
	time.Sleep(300 * time.Millisecond)
	cu.acks.mu.Lock()
	acked := len(cu.acks.calls)
	cu.acks.mu.Unlock()
	if acked >= 200 || acked > 40 {
		t.Fatalf("%d of 200 upstream batches acknowledged while the downstream output is blocked; want the queues to hold back (at most a few dozen)", acked)
	}
	close(cd.gate)
	u.wait(t)
	checkAcks(t, cu, 200)
	waitFor(t, "2000 events downstream", func() bool { return cd.got.Load() == 2000 })
	d.cancel()
	d.wait(t)
}

// TestBusWaitsForListener: with ensure_delivery, sending to an address no
// pipeline listens on waits (nothing acknowledged, nothing lost) until one
// starts listening.
func TestBusWaitsForListener(t *testing.T) {
	up, cu := newKeyedControl(t, "up")
	kd, cd := newKeyedControl(t, "down")
	s := engine.Settings{Workers: 1, BatchSize: 10, Bus: engine.NewBus()}
	u := start(t, upstream(t, "up", up, "batches = 5\nsize = 10\n", `send_to = ["late"]`), s)
	time.Sleep(200 * time.Millisecond)
	cu.acks.mu.Lock()
	acked := len(cu.acks.calls)
	cu.acks.mu.Unlock()
	if acked != 0 {
		t.Fatalf("%d batches acknowledged with no listener; want 0", acked)
	}
	d := start(t, downstream(t, "down", kd, "late", false), s)
	u.wait(t)
	checkAcks(t, cu, 5)
	waitFor(t, "50 events downstream", func() bool { return cd.got.Load() == 50 })
	d.cancel()
	d.wait(t)
}

// TestBusNoEnsureDeliveryDrops: with ensure_delivery false, events for an
// address nobody listens on are dropped, the batches acknowledged, and the
// drop counted by the output (engine.Counted).
func TestBusNoEnsureDeliveryDrops(t *testing.T) {
	up, cu := newKeyedControl(t, "up")
	s := engine.Settings{Workers: 1, BatchSize: 10, Bus: engine.NewBus()}
	u := start(t, upstream(t, "up", up, "batches = 5\nsize = 10\n", "send_to = [\"nowhere\"]\nensure_delivery = false\n"), s)
	u.wait(t)
	checkAcks(t, cu, 5)
	if got := u.pl.Snapshot().Outputs[0].Counters; len(got) != 1 || got[0].Value != 50 {
		t.Errorf("output counters %+v; want events_dropped 50", got)
	}
}

// TestBusReloadDownstream: replacing the downstream pipeline while the
// upstream one sends makes the sender wait for the new one; every event
// arrives, in one or the other.
func TestBusReloadDownstream(t *testing.T) {
	up, cu := newKeyedControl(t, "up")
	k1, c1 := newKeyedControl(t, "d1")
	k2, c2 := newKeyedControl(t, "d2")
	s := engine.Settings{Workers: 2, BatchSize: 20, Bus: engine.NewBus()}
	d1 := start(t, downstream(t, "down", k1, "r", false), s)
	u := start(t, upstream(t, "up", up, "size = 20\nwait_ack = true\n", `send_to = ["r"]`), s)
	waitFor(t, "some events in the first generation", func() bool { return c1.got.Load() > 500 })
	d1.cancel()
	d1.wait(t)
	time.Sleep(100 * time.Millisecond) // the sender now waits for a listener
	d2 := start(t, downstream(t, "down", k2, "r", false), s)
	waitFor(t, "some events in the second generation", func() bool { return c2.got.Load() > 500 })
	u.cancel()
	u.wait(t)
	issued := cu.acks.issued.Load()
	waitFor(t, "every event over both generations", func() bool { return c1.got.Load()+c2.got.Load() == issued })
	d2.cancel()
	d2.wait(t)
	if got := c1.got.Load() + c2.got.Load(); got != issued {
		t.Errorf("delivered %d of %d events", got, issued)
	}
}

// TestBusShutdownSendersFirst: after Shutdown, stopping every pipeline at
// once still delivers what the upstream pipeline holds: the downstream
// input keeps its address until its senders have drained.
func TestBusShutdownSendersFirst(t *testing.T) {
	up, cu := newKeyedControl(t, "up")
	kd, cd := newKeyedControl(t, "down")
	bus := engine.NewBus()
	s := engine.Settings{Workers: 2, BatchSize: 20, Bus: bus}
	d := start(t, downstream(t, "down", kd, "s", false), s)
	u := start(t, upstream(t, "up", up, "size = 20\n", `send_to = ["s"]`), s)
	waitFor(t, "events flowing", func() bool { return cd.got.Load() > 1000 })
	bus.Shutdown()
	d.cancel() // the downstream first, the worst order
	u.cancel()
	u.wait(t)
	d.wait(t)
	if issued, got := cu.acks.issued.Load(), cd.got.Load(); got != issued {
		t.Errorf("upstream emitted %d events, downstream delivered %d; want all", issued, got)
	}
}

// TestBusCheck: check-time diagnostics across pipelines.
func TestBusCheck(t *testing.T) {
	s := engine.Settings{Workers: 1}
	pls := []*engine.Pipeline{
		build(t, downstream(t, "a", "k", "one", false), s),
		build(t, downstream(t, "b", "k", "one", false), s),
		build(t, upstream(t, "c", "k", "", `send_to = ["one", "onr", "two"]`), s),
		build(t, upstream(t, "d", "k", "", "send_to = [\"three\"]\nensure_delivery = false\n"), s),
	}
	diags := engine.CheckBus(pls)
	var got []string
	for _, d := range diags {
		sev := "error"
		if d.Severity == hcl.DiagWarning {
			sev = "warning"
		}
		got = append(got, sev+": "+d.Summary+": "+d.Detail)
	}
	want := []string{
		`error: Address already bound: Pipeline "a" already listens on address "one"`,
		`warning: No pipeline listens on this address: Pipeline "c" sends to address "onr"`,
		`Did you mean "one"?`,
		`warning: No pipeline listens on this address: Pipeline "c" sends to address "two"`,
		`warning: No pipeline listens on this address: Pipeline "d" sends to address "three"`,
		`ensure_delivery false, the events sent there are dropped`,
	}
	all := strings.Join(got, "\n")
	for _, w := range want {
		if !strings.Contains(all, w) {
			t.Errorf("diagnostics lack %q; got:\n%s", w, all)
		}
	}
	if len(diags) != 4 {
		t.Errorf("got %d diagnostics; want 4:\n%s", len(diags), all)
	}
}

// BenchmarkBusHop is BenchmarkPipelineDrop with the drop moved to a second
// pipeline behind the bus: test_gen → pipeline output → pipeline input →
// drop. Its cost over BenchmarkPipelineDrop is the hop: a deep copy of each
// event (as Logstash's clone) and a second queue and worker stage.
func BenchmarkBusHop(b *testing.B) {
	key := "bench-hop"
	c := &control{gate: make(chan struct{}), byOut: map[string]int{}}
	c.acks.calls, c.acks.errs = map[int]int{}, map[int]error{}
	close(c.gate)
	controls.Store(key, c)
	defer controls.Delete(key)
	k := fmt.Sprintf("key = %q\n", key)
	batches := max(b.N/125, 1)
	bus := engine.NewBus()
	down := build(b, &ir.Pipeline{Name: "down",
		Inputs:  []*ir.Plugin{plugin(b, ir.Input, "test_bus_in", "recv", `address = "hop"`)},
		Filters: []ir.Node{plugin(b, ir.Filter, "test_drop_all", "all", "")},
		Outputs: []ir.Node{plugin(b, ir.Output, "test_sink", "a", k)}}, engine.Settings{Bus: bus})
	up := build(b, &ir.Pipeline{Name: "up",
		Inputs:  []*ir.Plugin{plugin(b, ir.Input, "test_gen", "gen", k+fmt.Sprintf("batches = %d\nsize = 125\n", batches))},
		Outputs: []ir.Node{plugin(b, ir.Output, "test_bus_out", "send", `send_to = ["hop"]`)}}, engine.Settings{Bus: bus})
	ctx, cancel := context.WithCancel(context.Background())
	downDone := make(chan error, 1)
	go func() { downDone <- down.Run(ctx) }()
	b.ReportAllocs()
	b.ResetTimer()
	if err := up.Run(context.Background()); err != nil {
		b.Fatal(err)
	}
	bus.Shutdown()
	cancel()
	if err := <-downDone; err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	if got := down.Stats().Dropped.Load(); got != int64(batches*125) {
		b.Fatalf("dropped %d; want %d", got, batches*125)
	}
	b.ReportMetric(float64(batches*125)/b.Elapsed().Seconds(), "events/s")
}

// TestBusCheckCycles: pipelines sending to each other in a loop get a
// warning naming the loop, on the send_to that closes it.
func TestBusCheckCycles(t *testing.T) {
	s := engine.Settings{Workers: 1}
	loop := func(name, listen, send string) *engine.Pipeline {
		return build(t, &ir.Pipeline{Name: name,
			Inputs:  []*ir.Plugin{plugin(t, ir.Input, "test_bus_in", "recv", fmt.Sprintf("address = %q\n", listen))},
			Outputs: []ir.Node{plugin(t, ir.Output, "test_bus_out", "send", fmt.Sprintf("send_to = [%q]\n", send))}}, s)
	}
	diags := engine.CheckBus([]*engine.Pipeline{loop("a", "to-a", "to-b"), loop("b", "to-b", "to-c"), loop("c", "to-c", "to-a"), loop("self", "me", "me")})
	var got []string
	for _, d := range diags {
		got = append(got, d.Summary+": "+d.Detail)
	}
	all := strings.Join(got, "\n")
	for _, w := range []string{"round a → b → c → a (address \"to-a\"", "round self → self (address \"me\""} {
		if !strings.Contains(all, w) {
			t.Errorf("diagnostics lack %q; got:\n%s", w, all)
		}
	}
	if len(diags) != 2 {
		t.Errorf("got %d diagnostics; want 2:\n%s", len(diags), all)
	}
}

// TestBusListenWaitsForHolder: a pipeline whose address is still held (a
// reload moving the address to another pipeline, the old one still
// draining) waits for it instead of failing, then receives.
func TestBusListenWaitsForHolder(t *testing.T) {
	up, cu := newKeyedControl(t, "up")
	k1, c1 := newKeyedControl(t, "first")
	k2, c2 := newKeyedControl(t, "second")
	s := engine.Settings{Workers: 1, BatchSize: 10, Bus: engine.NewBus()}
	first := start(t, downstream(t, "first", k1, "moved", false), s)
	u := start(t, upstream(t, "up", up, "size = 10\nwait_ack = true\n", `send_to = ["moved"]`), s)
	waitFor(t, "events in the first holder", func() bool { return c1.got.Load() > 100 })
	second := start(t, downstream(t, "second", k2, "moved", false), s)
	time.Sleep(100 * time.Millisecond)
	if n := c2.got.Load(); n != 0 {
		t.Fatalf("the second pipeline got %d events while the first held the address", n)
	}
	first.cancel()
	first.wait(t)
	waitFor(t, "events in the second holder", func() bool { return c2.got.Load() > 100 })
	u.cancel()
	u.wait(t)
	issued := cu.acks.issued.Load()
	waitFor(t, "every event in one holder or the other", func() bool { return c1.got.Load()+c2.got.Load() == issued })
	second.cancel()
	second.wait(t)
}
