package engine_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/pipelined/pipeline/dsl/ir"
	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
)

// A tap sees the events leaving the plugins its globs name and entering
// the output it names; nothing of the others.
func TestTapSeesNamedPlugins(t *testing.T) {
	key, c := newControl(t)
	k := fmt.Sprintf("key = %q\n", key)
	p := &ir.Pipeline{
		Inputs: []*ir.Plugin{plugin(t, ir.Input, "test_gen", "gen", k+"batches = 4\nsize = 25\n")},
		Filters: []ir.Node{
			plugin(t, ir.Filter, "test_pass", "parse_1", ""),
			plugin(t, ir.Filter, "test_drop_odd", "odd", ""),
		},
		Outputs: []ir.Node{plugin(t, ir.Output, "test_sink", "sink", k)},
	}
	pl := build(t, p, engine.Settings{Workers: 2})
	tap := pl.Tap(engine.TapSpec{OutputsOf: []string{"parse_*", "odd"}, InputsOf: []string{"sink"}})
	if err := run(t, pl, context.Background()); err != nil {
		t.Fatal(err)
	}
	checkAcks(t, c, 4)
	tap.Close()
	got := map[string]int{}
	for ev := range tap.C {
		got[ev.Kind+" "+ev.Plugin]++
		if _, err := event.FromJSON(ev.Event); err != nil || ev.Pipeline != pl.Name() {
			t.Fatalf("%+v: %v", ev, err)
		}
	}
	want := map[string]int{"output_of parse_1": 100, "output_of odd": 50, "input_of sink": 50}
	if fmt.Sprint(got) != fmt.Sprint(want) || tap.Skipped() != 0 {
		t.Errorf("tapped %v (skipped %d); want %v", got, tap.Skipped(), want)
	}
}

// BenchmarkPipelineTap measures the pipeline of BenchmarkPipelineChain
// with the tap hooks compiled out of the path (hooks_off, the peer: a
// pipeline without tap support), with them in and nobody tapping
// (no_tap), and with a tap attached whose globs match nothing
// (tap_elsewhere, the per-event hooks run).
func BenchmarkPipelineTap(b *testing.B) {
	for _, mode := range []string{"hooks_off", "no_tap", "tap_elsewhere"} {
		b.Run(mode, func(b *testing.B) {
			engine.SetTapHooks(mode != "hooks_off")
			defer engine.SetTapHooks(true)
			key := "bench-tap-" + mode
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
				},
				Outputs: []ir.Node{plugin(b, ir.Output, "test_sink", "a", k)},
			}
			pl := build(b, p, engine.Settings{})
			if mode == "tap_elsewhere" {
				tap := pl.Tap(engine.TapSpec{OutputsOf: []string{"nothing*"}, InputsOf: []string{"nothing*"}})
				defer tap.Close()
			}
			b.ReportAllocs()
			b.ResetTimer()
			if err := pl.Run(context.Background()); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			b.ReportMetric(float64(batches*125)/b.Elapsed().Seconds(), "events/s")
		})
	}
}
