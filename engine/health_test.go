package engine_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/pipelined/pipeline/dsl/ir"
	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/enginetest/logwatch"
)

// Logstash counts a pipeline's events.out once per event, however many
// outputs it went to, and each output's own under plugins.outputs (#23).
func TestEventsOutOncePerEvent(t *testing.T) {
	key, c := newControl(t)
	k := fmt.Sprintf("key = %q\n", key)
	p := &ir.Pipeline{
		Inputs:  []*ir.Plugin{plugin(t, ir.Input, "test_gen", "gen", k+"batches = 10\nsize = 100\n")},
		Outputs: []ir.Node{plugin(t, ir.Output, "test_sink", "a", k), plugin(t, ir.Output, "test_sink", "b", k)},
	}
	c.partial.Store(3) // some deliveries complete item by item
	pl := build(t, p, engine.Settings{Workers: 2, RetryInitial: time.Millisecond})
	if err := run(t, pl, context.Background()); err != nil {
		t.Fatal(err)
	}
	s := pl.Snapshot()
	if s.In != 1000 || s.Out != 1000 {
		t.Errorf("events in = %d, out = %d; want 1000 and 1000", s.In, s.Out)
	}
	for _, o := range s.Outputs {
		if o.In < 1000 || o.Out != 1000 || o.InFlight != 0 {
			t.Errorf("output %s: in %d out %d in flight %d; want out 1000, nothing in flight", o.ID, o.In, o.Out, o.InFlight)
		}
	}
	if got := c.got.Load(); got != 2000 {
		t.Errorf("outputs wrote %d events; want 2000", got)
	}
	checkAcks(t, c, 10)
}

// A stalled output is visible: a WARN at once and again at most every
// StallAfter, a yellow then red health naming it, and one line when it
// recovers, after which the health is green again (#23).
func TestStalledOutputHealth(t *testing.T) {
	key, c := newControl(t)
	k := fmt.Sprintf("key = %q\n", key)
	p := &ir.Pipeline{
		Inputs: []*ir.Plugin{plugin(t, ir.Input, "test_gen", "gen", k+"batches = 3\nsize = 10\n")},
		Outputs: []ir.Node{plugin(t, ir.Output, "test_sink", "healthy", k),
			&ir.If{Branches: []ir.Branch{{Cond: matchExpr("message", `^[0-9]`), Body: []ir.Node{
				plugin(t, ir.Output, "test_sink", "stuck", k),
			}}}}},
	}
	pr, pw := io.Pipe()
	t.Cleanup(func() { pw.Close() })
	logs := logwatch.Watch(pr)
	c.fail.Store(1 << 40) // every write fails until the test lets go
	const stallAfter = 400 * time.Millisecond
	pl := build(t, p, engine.Settings{Workers: 1, RetryInitial: 5 * time.Millisecond, RetryMax: 20 * time.Millisecond,
		StallAfter: stallAfter, Logger: slog.New(slog.NewTextHandler(pw, nil))})
	done := make(chan error, 1)
	go func() { done <- pl.Run(context.Background()) }()

	logs.Wait(t, "write failed; retrying", 10*time.Second)
	health := func() engine.Health { return pl.Snapshot().Health }
	// Both outputs fail here (the sink fails every write), each in its own
	// goroutine: on a loaded machine one may start failing a StallAfter or
	// more after the other, so the first red names only that one. Wait
	// (bounded) for the stalled one to be named, not for the first red.
	var h engine.Health
	for deadline := time.Now().Add(15 * time.Second); ; {
		h = health()
		if h.Status == engine.HealthRed && strings.Contains(strings.Join(h.Reasons, "; "), "id stuck) stalled") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("health stayed %+v; want red naming the stalled output (id stuck)", h)
		}
		time.Sleep(10 * time.Millisecond)
	}
	var stuck engine.PluginSnapshot
	for _, o := range pl.Snapshot().Outputs {
		if o.ID == "stuck" {
			stuck = o
		}
	}
	if stuck.InFlight == 0 || stuck.FailingFor < stallAfter || stuck.LastError != "transient failure" || stuck.BatchAge <= 0 {
		t.Errorf("stuck output snapshot %+v; want events in flight, failing ≥ %v, its error, a batch age", stuck, stallAfter)
	}
	// Several StallAfter periods of retries (hundreds of attempts) log a
	// bounded number of lines: one at the start and one per period, per
	// output. An output's state is published before its line is written, so
	// the lower bound is waited for (bounded), not assumed after a sleep.
	time.Sleep(3 * stallAfter)
	for deadline := time.Now().Add(10 * time.Second); logs.Count("write failed; retrying") < 2 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	n := logs.Count("write failed; retrying")
	limit, failing := 0, []time.Duration{}
	for _, o := range pl.Snapshot().Outputs { // after the count: the limit only grows
		limit += 2 + int(o.FailingFor/stallAfter)
		failing = append(failing, o.FailingFor)
	}
	if n < 2 || n > limit {
		t.Errorf("%d retry warnings over %v of failures; want about one per %v per output, at most %d", n, failing, stallAfter, limit)
	}

	c.fail.Store(0)
	logs.Wait(t, "output recovered", 10*time.Second)
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		pl.Abort()
		t.Fatal("the pipeline did not finish within 30 s of the output's recovery")
	}
	if h := health(); h.Status != engine.HealthGreen || len(h.Reasons) != 0 {
		t.Errorf("health after recovery %+v; want green", h)
	}
	s := pl.Snapshot()
	if s.Out != 30 {
		t.Errorf("events out %d; want 30", s.Out)
	}
	checkAcks(t, c, 3)
}
