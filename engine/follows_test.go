package engine_test

import (
	"context"
	"sync"
	"testing"

	"github.com/pipelined/pipeline/dsl/ir"
	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
)

// followsFilter records what its Resources.Follows was.
type followsFilter struct{ id string }

func (followsFilter) Filter(_ context.Context, e *event.Event, out []*event.Event) ([]*event.Event, error) {
	return append(out, e), nil
}

var followed sync.Map // id → id of the filter it follows, "other", or ""

func init() {
	engine.RegisterFilter("test_follows", func(_ struct{}, r engine.Resources) (*followsFilter, error) {
		switch p := r.Follows.(type) {
		case nil:
			followed.Store(r.ID, "")
		case *followsFilter:
			followed.Store(r.ID, p.id)
		default:
			followed.Store(r.ID, "other")
		}
		return &followsFilter{id: r.ID}, nil
	})
}

// Resources.Follows is the filter just before in the same block, when it
// has no common options: not across a conditional (into or out of it), not
// after a filter with add_tag.
func TestResourcesFollows(t *testing.T) {
	f := func(id, src string) *ir.Plugin { return plugin(t, ir.Filter, "test_follows", id, src) }
	p := &ir.Pipeline{
		Inputs: []*ir.Plugin{plugin(t, ir.Input, "test_gen", "gen", "key = \"follows\"\nbatches = 1\nsize = 1\n")},
		Filters: []ir.Node{
			f("a", ""), f("b", ""),
			&ir.If{Branches: []ir.Branch{{Cond: matchExpr("message", `x`), Body: []ir.Node{f("c", ""), f("d", "")}}}},
			f("e", ""), f("f", `add_tag = ["t"]`), f("g", ""),
			plugin(t, ir.Filter, "test_pass", "p", ""), f("h", ""),
		},
		Outputs: []ir.Node{plugin(t, ir.Output, "test_sink", "sink", "key = \"follows\"\n")},
	}
	build(t, p, engine.Settings{Workers: 1})
	want := map[string]string{"a": "", "b": "a", "c": "", "d": "c", "e": "", "f": "e", "g": "", "h": "other"}
	for id, w := range want {
		if got, _ := followed.Load(id); got != w {
			t.Errorf("%s follows %q, want %q", id, got, w)
		}
	}
}
