package engine

import (
	"context"
	"errors"
	"log/slog"
	"testing"

	"github.com/pipelined/pipeline/engine/event"
)

// TestConditionPanicIsFalse: a condition that panics on an event is false
// for it (counted); the next branch is tried and the worker goes on.
func TestConditionPanicIsFalse(t *testing.T) {
	p := &Pipeline{log: slog.New(slog.DiscardHandler)}
	bad := []node{&routeNode{index: 0}}
	good := []node{&routeNode{index: 1}}
	n := &ifNode{pl: p, branches: []branch{
		{cond: func(e *event.Event) bool { var m map[string]bool; m["x"] = true; return true }, body: bad},
		{cond: func(*event.Event) bool { return true }, body: good},
	}}
	for range 3 {
		if got := n.pick(event.NewMessage("x")); len(got) != 1 || got[0] != good[0] {
			t.Fatalf("picked %v; want the second branch", got)
		}
	}
	if got := p.stats.Panics.Load(); got != 3 {
		t.Errorf("panics = %d; want 3", got)
	}
}

// TestUnroutedConditionsEvaluatedOnce: an event no output condition matches
// is counted under its condition chain without its conditions being
// evaluated a second time (a condition that panics counts once per event).
func TestUnroutedConditionsEvaluatedOnce(t *testing.T) {
	p := &Pipeline{log: slog.New(slog.DiscardHandler)}
	calls := 0
	p.routes = []node{&ifNode{pl: p, branches: []branch{
		{cond: func(*event.Event) bool { calls++; var m map[string]bool; m["x"] = true; return true }, body: []node{&routeNode{index: 0}}, text: "[a]"},
	}}}
	if !p.route([]*event.Event{event.NewMessage("x"), event.NewMessage("y")}) {
		t.Fatal("route aborted")
	}
	if calls != 2 {
		t.Errorf("condition evaluated %d times for 2 events; want 2", calls)
	}
	if got := p.stats.Panics.Load(); got != 2 {
		t.Errorf("panics = %d; want 2", got)
	}
	if got := p.stats.Unrouted.Load(); got != 2 {
		t.Errorf("unrouted = %d; want 2", got)
	}
	if got := p.unroutedSnapshot(); got["if [a] → false"] != 2 || len(got) != 1 {
		t.Errorf("chains = %v; want 2 under %q", got, "if [a] → false")
	}
}

// TestUnroutedCountingAllocsPerBatch: counting unrouted events by chain
// allocates per batch and chain, not per event.
func TestUnroutedCountingAllocsPerBatch(t *testing.T) {
	p := &Pipeline{log: slog.New(slog.DiscardHandler)}
	p.routes = []node{&ifNode{pl: p, branches: []branch{
		{cond: func(*event.Event) bool { return false }, body: []node{&routeNode{index: 0}}, text: "[a]"},
	}}}
	batch := func(n int) []*event.Event {
		evs := make([]*event.Event, n)
		for i := range evs {
			evs[i] = event.NewMessage("x")
		}
		return evs
	}
	one, many := batch(1), batch(100)
	a1 := testing.AllocsPerRun(20, func() { p.route(one) })
	a100 := testing.AllocsPerRun(20, func() { p.route(many) })
	if a100 > a1 {
		t.Errorf("a batch of 100 unrouted events: %.0f allocations; of 1: %.0f (want no more per event)", a100, a1)
	}
	if got := p.unroutedSnapshot()["if [a] → false"]; got != 21*101 {
		t.Errorf("counted %d; want %d", got, 21*101)
	}
}

// panicFilter panics on every event.
type panicFilter struct{}

func (panicFilter) Filter(context.Context, *event.Event, []*event.Event) ([]*event.Event, error) {
	panic("boom")
}

// TestFilterCallAllocatesNothing: the panic guard around every filter call
// costs no allocation when nothing panics (it used to build the site's name
// for every event), and still contains a panic.
func TestFilterCallAllocatesNothing(t *testing.T) {
	p := &Pipeline{log: slog.New(slog.DiscardHandler)}
	n := &filterNode{id: "f1", typ: "pass", f: passFilter{}, pl: p, log: p.log}
	e := event.NewMessage("x")
	out := make([]*event.Event, 0, 1)
	if a := testing.AllocsPerRun(100, func() { out, _ = n.call(e, out[:0]) }); a != 0 {
		t.Errorf("%v allocations per filter call; want 0", a)
	}
	n.f = panicFilter{}
	res, err := n.call(e, out[:0])
	if !errors.Is(err, errFilterPanic) || len(res) != 0 || p.stats.Panics.Load() != 1 {
		t.Errorf("panicking filter: res %v, err %v, panics %d", res, err, p.stats.Panics.Load())
	}
}
