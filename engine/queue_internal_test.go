package engine

import (
	"context"
	"errors"
	"log/slog"
	"syscall"
	"testing"
	"time"

	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/engine/pq"
)

func faultyQueuePipeline(t *testing.T, fault func() error) (*Pipeline, context.CancelFunc) {
	t.Helper()
	q, err := pq.Open(pq.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	return &Pipeline{log: slog.New(slog.DiscardHandler), pq: q, abortCtx: ctx, appendFault: fault}, cancel
}

// A persisted-queue write that fails (a full disk) is retried until it
// succeeds: the input waits instead of failing its source for the rest of
// the run (issue #19 item 7); the failures are counted.
func TestQueueWriteErrorIsRetried(t *testing.T) {
	fails := 3
	p, _ := faultyQueuePipeline(t, func() error {
		if fails > 0 {
			fails--
			return syscall.ENOSPC
		}
		return nil
	})
	if err := p.appendRetrying(context.Background(), [][]byte{[]byte(`{"a":1}`), []byte(`{"a":2}`)}, nil, nil); err != nil {
		t.Fatalf("append after 3 failures = %v", err)
	}
	if n, _ := p.pq.Len(); n != 2 {
		t.Fatalf("queue holds %d records; want 2", n)
	}
	if got := p.stats.QueueWriteErrors.Load(); got != 3 {
		t.Fatalf("write errors = %d; want 3", got)
	}
	if p.queueFailing.Load() {
		t.Fatal("still marked failing after the write succeeded")
	}
}

// A write that keeps failing holds the input until the pipeline is aborted.
func TestQueueWriteErrorWaitsForAbort(t *testing.T) {
	p, abort := faultyQueuePipeline(t, func() error { return syscall.EIO })
	time.AfterFunc(200*time.Millisecond, abort)
	err := p.appendRetrying(context.Background(), [][]byte{[]byte(`{}`)}, nil, nil)
	if !errors.Is(err, ErrAborted) {
		t.Fatalf("err = %v; want ErrAborted", err)
	}
	if !p.Snapshot().QueueFailing || p.stats.QueueWriteErrors.Load() < 2 {
		t.Fatalf("snapshot failing=%v errors=%d", p.Snapshot().QueueFailing, p.stats.QueueWriteErrors.Load())
	}
}

// TestHotRecords: the committer's events reach the reader by sequence
// number, once; a record the reader passed before it was kept, or past
// hotLimit, is not kept (the reader decodes it from disk), so nothing stays
// behind.
func TestHotRecords(t *testing.T) {
	evs := func(n int) []*event.Event {
		out := make([]*event.Event, n)
		for i := range out {
			out[i] = event.New()
		}
		return out
	}
	var h hotRecords
	a, b := evs(5), evs(2)
	h.put(10, []*pendingBatch{{events: a, counts: []uint32{3, 2}}, {events: b, counts: []uint32{2}}})
	if got := h.take(10); len(got) != 3 || got[0] != a[0] || got[2] != a[2] {
		t.Fatalf("record 10: %d events", len(got))
	}
	if got := h.take(10); got != nil {
		t.Fatalf("record 10 taken twice")
	}
	if got := h.take(11); len(got) != 2 || got[0] != a[3] {
		t.Fatalf("record 11: %d events", len(got))
	}
	if got := h.take(12); len(got) != 2 || got[1] != b[1] {
		t.Fatalf("record 12: %d events", len(got))
	}
	// The reader asked for 20 before the committer's put: not kept.
	h.take(20)
	h.put(19, []*pendingBatch{{events: evs(2), counts: []uint32{1, 1}}})
	if len(h.m) != 0 || h.events != 0 {
		t.Fatalf("records the reader passed were kept: %d records, %d events", len(h.m), h.events)
	}
	// Bounded: past hotLimit events, records are left to the disk.
	h.put(100, []*pendingBatch{{events: evs(hotLimit + 1), counts: []uint32{hotLimit, 1}}})
	if h.events != hotLimit || len(h.take(101)) != 0 || len(h.take(100)) != hotLimit || h.events != 0 {
		t.Fatalf("hotLimit not kept: %d events", h.events)
	}
}
