package engine_test

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/pipelined/pipeline/dsl/ir"
	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
)

// Plugins with injected bugs: each panics on the events or calls it is
// told to, as a plugin bug or a hostile input reaching one would.

type panicOptions struct {
	Key string `hcl:"key"`
}

// panicCounts drives the panicking plugins of one test.
type panicCounts struct {
	connects atomic.Int64 // Connect calls that panic
	writes   atomic.Int64 // Write calls that panic
}

var panicControls = map[string]*panicCounts{}

type panicFilter struct{}

// Filter panics on the events whose message ends in 3.
func (panicFilter) Filter(_ context.Context, e *event.Event, out []*event.Event) ([]*event.Event, error) {
	if m, _ := e.Message(); m[len(m)-1] == '3' {
		var p *event.Event
		_ = p.Tags() // a nil dereference
	}
	return append(out, e), nil
}

type panicOut struct {
	c    *panicCounts
	sink *sink
}

func (o *panicOut) Connect(ctx context.Context) error {
	if o.c.connects.Add(-1) >= 0 {
		panic("connect bug")
	}
	return nil
}
func (o *panicOut) Close(context.Context) error { panic("close bug") }
func (o *panicOut) Write(ctx context.Context, evs []*event.Event) error {
	if o.c.writes.Add(-1) >= 0 {
		panic(fmt.Sprintf("write bug on %d events", len(evs)))
	}
	return o.sink.Write(ctx, evs)
}

func init() {
	engine.RegisterFilter("test_panic_filter", func(panicOptions, engine.Resources) (panicFilter, error) { return panicFilter{}, nil })
	engine.RegisterOutput("test_panic_out", func(o panicOptions, r engine.Resources) (*panicOut, error) {
		return &panicOut{c: panicControls[o.Key], sink: &sink{o: sinkOptions{Key: o.Key}, id: r.ID}}, nil
	})
}

// TestPluginPanicsAreContained: a filter that panics on some events, an
// output whose Connect panics once, whose Write panics on its first batch and
// whose Close panics: the pipeline runs to the end, the filter's events pass
// on unchanged, the batch whose Write panicked fails for good (acknowledged
// with the error, counted as failed), every other batch is delivered, and
// every panic is counted.
func TestPluginPanicsAreContained(t *testing.T) {
	key, c := newControl(t)
	pc := &panicCounts{}
	pc.connects.Store(1)
	pc.writes.Store(1)
	panicControls[key] = pc
	k := fmt.Sprintf("key = %q\n", key)
	p := &ir.Pipeline{
		Inputs:  []*ir.Plugin{plugin(t, ir.Input, "test_gen", "gen", k+"batches = 5\nsize = 10\nwait_ack = true\n")},
		Filters: []ir.Node{plugin(t, ir.Filter, "test_panic_filter", "pf", k)},
		Outputs: []ir.Node{plugin(t, ir.Output, "test_panic_out", "po", k)},
	}
	before := engine.PanicsRecovered()
	pl := build(t, p, engine.Settings{Workers: 1, BatchSize: 10})
	if err := run(t, pl, context.Background()); err != nil {
		t.Fatal(err)
	}
	checkAcks(t, c, 5)
	failed := 0
	for id, err := range c.acks.errs {
		if err != nil {
			failed++
			t.Logf("batch %d: %v", id, err)
		}
	}
	if failed != 1 {
		t.Errorf("%d batches acknowledged as failed; want 1 (the one whose Write panicked)", failed)
	}
	if got := c.got.Load(); got != 40 {
		t.Errorf("%d events delivered; want 40", got)
	}
	st := pl.Stats()
	if f := st.Failed.Load(); f != 10 {
		t.Errorf("failed = %d; want 10", f)
	}
	// 5 filter panics (one event in 10), 1 connect, 1 write, 1 close.
	if n := st.Panics.Load(); n != 8 {
		t.Errorf("pipeline panics = %d; want 8", n)
	}
	if n := engine.PanicsRecovered() - before; n != 8 {
		t.Errorf("process panics = %d; want 8", n)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, m := range c.order {
		if _, err := strconv.Atoi(m); err != nil {
			t.Errorf("message %q altered", m)
		}
	}
}
