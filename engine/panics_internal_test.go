package engine

import (
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
