package engine_test

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/pipelined/pipeline/dsl/ir"
	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
)

// splitter drops messages whose number is a multiple of 3, splits those
// that leave 1 (the event and a copy suffixed "b") and suffixes the others
// with its id; it is a BatchFilter as test_split_batch and a plain Filter as
// test_split.
type splitOptions struct {
	Key string `hcl:"key"`
}

type splitter struct {
	id    string
	calls *atomic.Int64 // FilterBatch calls with more than one event
}

func (s splitter) Filter(_ context.Context, e *event.Event, out []*event.Event) ([]*event.Event, error) {
	m, _ := e.Message()
	head := m
	if i := strings.IndexFunc(m, func(r rune) bool { return r < '0' || r > '9' }); i >= 0 {
		head = m[:i]
	}
	n, _ := strconv.Atoi(head)
	switch n % 3 {
	case 0:
		if !strings.Contains(m, "x") {
			return out, nil
		}
	case 1:
		c := e.Clone()
		_ = c.Set(event.MustRef("message"), m+"b")
		return append(out, e, c), nil
	}
	_ = e.Set(event.MustRef("message"), m+s.id)
	return append(out, e), nil
}

type batchSplitter struct{ splitter }

func (s batchSplitter) FilterBatch(ctx context.Context, events []*event.Event) []engine.FilterResult {
	if len(events) > 1 {
		s.calls.Add(1)
	}
	res := make([]engine.FilterResult, len(events))
	for i, e := range events {
		res[i].Out, res[i].Err = s.Filter(ctx, e, nil)
	}
	return res
}

// reusingSplitter is batchSplitter reusing its result slices (and their
// Out slices) once the engine says it is done with them, and overwriting
// them then, so that an engine reading results after ResultsDone would
// see other events.
type reusingSplitter struct {
	splitter
	pool *sync.Pool
	done *atomic.Int64
}

func (s reusingSplitter) FilterBatch(ctx context.Context, events []*event.Event) []engine.FilterResult {
	if len(events) > 1 {
		s.calls.Add(1)
	}
	res, _ := s.pool.Get().([]engine.FilterResult)
	res = slices.Grow(res[:0], len(events))[:len(events)]
	for i, e := range events {
		res[i].Out, res[i].Err = s.Filter(ctx, e, res[i].Out[:0])
	}
	return res
}

var poison = event.NewMessage("released")

func (s reusingSplitter) ResultsDone(res []engine.FilterResult) {
	s.done.Add(1)
	for i := range res {
		for j := range res[i].Out {
			res[i].Out[j] = poison
		}
		res[i].Err = nil
	}
	s.pool.Put(res)
}

var batchCalls sync.Map // key → *atomic.Int64

func calls(key string) *atomic.Int64 {
	v, _ := batchCalls.LoadOrStore(key, new(atomic.Int64))
	return v.(*atomic.Int64)
}

func init() {
	engine.RegisterFilter("test_split", func(o splitOptions, r engine.Resources) (splitter, error) {
		return splitter{id: r.ID, calls: calls(o.Key)}, nil
	})
	engine.RegisterFilter("test_split_batch", func(o splitOptions, r engine.Resources) (batchSplitter, error) {
		return batchSplitter{splitter{id: r.ID, calls: calls(o.Key)}}, nil
	})
	engine.RegisterFilter("test_split_batch_reuse", func(o splitOptions, r engine.Resources) (reusingSplitter, error) {
		return reusingSplitter{splitter{id: r.ID, calls: calls(o.Key)}, new(sync.Pool), calls(o.Key + " done")}, nil
	})
}

// A pipeline holding a BatchFilter runs stage by stage, and what comes out,
// in order, is what the same filters give one event at a time: drops,
// splits, conditionals nested in conditionals.
func TestBatchFilterStagesKeepEventOrder(t *testing.T) {
	runWith := func(typ string) ([]string, int64, int64) {
		key, c := newControl(t)
		k := fmt.Sprintf("key = %q\n", key)
		f := func(id string) *ir.Plugin { return plugin(t, ir.Filter, typ, id, k) }
		p := &ir.Pipeline{
			Inputs: []*ir.Plugin{plugin(t, ir.Input, "test_gen", "gen", k+"batches = 2\nsize = 40\n")},
			Filters: []ir.Node{
				plugin(t, ir.Filter, "test_split", "a", k),
				&ir.If{
					Branches: []ir.Branch{{Cond: matchExpr("message", `[27]`), Body: []ir.Node{
						f("c"),
						&ir.If{Branches: []ir.Branch{{Cond: matchExpr("message", `b`), Body: []ir.Node{f("d")}}}, Else: []ir.Node{f("x")}},
					}}},
					Else: []ir.Node{plugin(t, ir.Filter, "test_drop_odd", "odd", ""), f("e")},
				},
				f("z"),
			},
			Outputs: []ir.Node{plugin(t, ir.Output, "test_sink", "out", k)},
		}
		pl := build(t, p, engine.Settings{Workers: 1, BatchSize: 80})
		if err := run(t, pl, context.Background()); err != nil {
			t.Fatal(err)
		}
		checkAcks(t, c, 2)
		n, done := calls(key).Load(), calls(key+" done").Load()
		batchCalls.Delete(key)
		batchCalls.Delete(key + " done")
		controls.Delete(key)
		return c.order, n, done
	}
	want, _, _ := runWith("test_split")
	for _, typ := range []string{"test_split_batch", "test_split_batch_reuse"} {
		got, n, done := runWith(typ)
		if reuse := strings.HasSuffix(typ, "_reuse"); reuse != (done > 0) {
			t.Errorf("%s: ResultsDone called %d times", typ, done)
		}
		if len(want) == 0 || !slices.Equal(got, want) {
			t.Errorf("%s, stage by stage:\n%v\none at a time:\n%v", typ, got, want)
		}
		if n == 0 {
			t.Errorf("%s: FilterBatch never got more than one event", typ)
		}
	}
}

// flusher passes events on and, on each flush, makes one event "tick" (or
// "final" on the last).
type flusherOptions struct {
	Key string `hcl:"key"`
}

type flusher struct{}

func (flusher) Filter(_ context.Context, e *event.Event, out []*event.Event) ([]*event.Event, error) {
	return append(out, e), nil
}

func (flusher) Flush(_ context.Context, final bool, out []*event.Event) []*event.Event {
	m := "tick"
	if final {
		m = "final"
	}
	return append(out, event.NewMessage(m))
}

func (flusher) NotThreadsafe() {}

// hold emits one batch and waits to be stopped.
type holdOptions struct {
	Key string `hcl:"key"`
}

type hold struct{}

func (hold) Run(ctx context.Context, emit engine.EmitFunc) error {
	if err := emit(engine.Batch{Events: []*event.Event{event.NewMessage("7")}}); err != nil {
		return err
	}
	<-ctx.Done()
	return nil
}

type suffixOptions struct{}

// suffix appends its id to the message.
type suffix struct{ id string }

func (s suffix) Filter(_ context.Context, e *event.Event, out []*event.Event) ([]*event.Event, error) {
	m, _ := e.Message()
	_ = e.Set(event.MustRef("message"), m+s.id)
	return append(out, e), nil
}

func init() {
	engine.RegisterFilter("test_suffix", func(_ suffixOptions, r engine.Resources) (suffix, error) { return suffix{id: r.ID}, nil })
	engine.RegisterFilter("test_flusher", func(flusherOptions, engine.Resources) (flusher, error) { return flusher{}, nil })
	engine.RegisterInput("test_hold", func(holdOptions, engine.Resources) (hold, error) { return hold{}, nil })
}

// Flushed events go through what follows the flushing filter (here inside a
// conditional they would not match), periodically and once more when the
// pipeline drains, and reach the outputs.
func TestFlushersRunPeriodicallyAndAtTheEnd(t *testing.T) {
	key, c := newControl(t)
	k := fmt.Sprintf("key = %q\n", key)
	p := &ir.Pipeline{
		Inputs: []*ir.Plugin{plugin(t, ir.Input, "test_hold", "in", k)},
		Filters: []ir.Node{
			&ir.If{Branches: []ir.Branch{{Cond: matchExpr("message", `^7$`), Body: []ir.Node{
				plugin(t, ir.Filter, "test_flusher", "fl", k),
				plugin(t, ir.Filter, "test_suffix", "s", ""),
			}}}},
			plugin(t, ir.Filter, "test_suffix", "z", ""),
		},
		Outputs: []ir.Node{plugin(t, ir.Output, "test_sink", "out", k)},
	}
	pl := build(t, p, engine.Settings{FlushInterval: 10 * time.Millisecond})
	if w := pl.Settings().Workers; w != 1 {
		t.Errorf("workers = %d with a NotThreadsafe filter and none set; want 1", w)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- pl.Run(ctx) }()
	deadline := time.Now().Add(20 * time.Second)
	for c.got.Load() < 3 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.order) < 4 || c.order[0] != "7sz" || c.order[1] != "ticksz" || c.order[len(c.order)-1] != "finalsz" {
		t.Errorf("events out = %v; want 7sz, then ticksz at least twice, then finalsz", c.order)
	}
}

// With workers set above one, a NotThreadsafe filter gets Logstash's
// warning and the workers run as set.
func TestNotThreadsafeWarnsOnManualOverride(t *testing.T) {
	p := &ir.Pipeline{
		Name:    "test",
		Inputs:  []*ir.Plugin{plugin(t, ir.Input, "test_hold", "in", `key = "k"`)},
		Filters: []ir.Node{plugin(t, ir.Filter, "test_flusher", "fl", `key = "k"`)},
		Outputs: []ir.Node{plugin(t, ir.Output, "test_sink", "out", `key = "k"`)},
	}
	pl, diags := engine.Build(p, engine.Default, engine.Settings{Workers: 3})
	if diags.HasErrors() || pl == nil {
		t.Fatal(diags)
	}
	if len(diags) != 1 || diags[0].Severity != hcl.DiagWarning || !strings.Contains(diags[0].Summary, "Manual override") {
		t.Errorf("diags = %v; want Logstash's manual override warning", diags)
	}
	if w := pl.Settings().Workers; w != 3 {
		t.Errorf("workers = %d; want 3 as set", w)
	}
}
