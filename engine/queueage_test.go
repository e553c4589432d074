package engine_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/pipelined/pipeline/dsl/ir"
	"github.com/pipelined/pipeline/engine"
)

// The queue's age is that of its oldest waiting event (#24): while a
// blocked output holds the workers, it is at least as long as the test held
// the events there, and 0 once everything is delivered. Memory and
// persisted queues alike.
func TestQueueOldestAge(t *testing.T) {
	for _, typ := range []string{"memory", "persisted"} {
		t.Run(typ, func(t *testing.T) {
			key, c := newControl(t)
			c.gate = make(chan struct{}) // the output blocks until closed
			k := fmt.Sprintf("key = %q\n", key)
			p := &ir.Pipeline{
				Inputs:  []*ir.Plugin{plugin(t, ir.Input, "test_gen", "gen", k+"batches = 20\nsize = 10\n")},
				Outputs: []ir.Node{plugin(t, ir.Output, "test_sink", "out", k+"block = true\n")},
			}
			s := engine.Settings{Workers: 1, BatchSize: 10}
			if typ == "persisted" {
				s.Queue = persisted(t.TempDir(), 0)
			}
			pl := build(t, p, s)
			if got := pl.Snapshot().QueueOldestAge; got != 0 {
				t.Errorf("age before the run %v; want 0", got)
			}
			done := make(chan error, 1)
			go func() { done <- pl.Run(context.Background()) }()
			released := false
			defer func() {
				if !released {
					close(c.gate)
				}
				<-done
			}()
			// Events wait: the worker's batch is stuck in the output.
			waitFor(t, "events in the queue", func() bool { return pl.Snapshot().QueueEvents > 0 })
			since := time.Now()
			// Hold them a while (the sleep is not the assertion: the age
			// is compared with the time measured).
			time.Sleep(30 * time.Millisecond)
			held := time.Since(since)
			snap := pl.Snapshot()
			if snap.QueueType != typ || snap.QueueOldestAge < held {
				t.Errorf("%s queue: oldest age %v with %d events waiting; want ≥ %v (held that long)",
					snap.QueueType, snap.QueueOldestAge, snap.QueueEvents, held)
			}
			close(c.gate)
			released = true
			select {
			case err := <-done:
				done <- err
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(60 * time.Second):
				t.Fatal("pipeline did not drain within 60s")
			}
			snap = pl.Snapshot()
			if snap.Out != 200 || snap.QueueEvents != 0 || snap.QueueOldestAge != 0 {
				t.Errorf("drained: out %d, queue %d events, oldest age %v; want 200, 0, 0", snap.Out, snap.QueueEvents, snap.QueueOldestAge)
			}
		})
	}
}
