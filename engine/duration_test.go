package engine_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/pipelined/pipeline/dsl/ir"
	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
)

type spinOptions struct {
	// Micros: how long each call spins; Slow: calls at these positions of
	// every batch of 125 take 100 × as long (a cold first call).
	Micros int64   `hcl:"micros,optional"`
	Slow   []int64 `hcl:"slow,optional"`
}

type spin struct {
	o    spinOptions
	seen int64
}

func (s *spin) Filter(_ context.Context, e *event.Event, out []*event.Event) ([]*event.Event, error) {
	d := time.Duration(s.o.Micros) * time.Microsecond
	for _, p := range s.o.Slow {
		if s.seen%125 == p {
			d *= 100
		}
	}
	s.seen++
	for t0 := time.Now(); time.Since(t0) < d; {
	}
	return append(out, e), nil
}

func (*spin) NotThreadsafe() {}

func init() {
	engine.RegisterFilter("test_spin", func(o spinOptions, _ engine.Resources) (*spin, error) { return &spin{o: o}, nil })
}

// A filter that costs more than a few µs a call is timed on every call: its
// duration is exact, at least the time it spun, and the filters' durations
// add up to no more than the workers' time (#23: grok reported 8.0 s for 2.7 s
// measured when the first calls of each batch were extrapolated).
func TestFilterDurationsExact(t *testing.T) {
	key, _ := newControl(t)
	k := fmt.Sprintf("key = %q\n", key)
	const batches, size = 8, 125
	p := &ir.Pipeline{
		Inputs: []*ir.Plugin{plugin(t, ir.Input, "test_gen", "gen", k+fmt.Sprintf("batches = %d\nsize = %d\n", batches, size))},
		Filters: []ir.Node{
			plugin(t, ir.Filter, "test_spin", "costly", "micros = 20\nslow = [0, 1]\n"),
			plugin(t, ir.Filter, "test_pass", "cheap", ""),
		},
		Outputs: []ir.Node{plugin(t, ir.Output, "test_sink", "out", k)},
	}
	pl := build(t, p, engine.Settings{Workers: 1})
	if err := run(t, pl, context.Background()); err != nil {
		t.Fatal(err)
	}
	s := pl.Snapshot()
	costly, cheap := s.Filters[0], s.Filters[1]
	// Per batch: 2 calls of 2 ms and 123 of 20 µs.
	spun := time.Duration(batches) * (2*2*time.Millisecond + (size-2)*20*time.Microsecond)
	if costly.Duration < spun {
		t.Errorf("costly filter: %v; it spun at least %v", costly.Duration, spun)
	}
	if costly.DurationEstimated {
		t.Error("costly filter: duration estimated; want every call timed")
	}
	if !cheap.DurationEstimated {
		t.Error("cheap filter: duration not labelled an estimate")
	}
	if sum := costly.Duration + cheap.Duration; sum > s.Duration {
		t.Errorf("filters took %v in all, more than the workers' %v", sum, s.Duration)
	}
}
