package engine

import (
	"context"
	"errors"
	"log/slog"
	"syscall"
	"testing"
	"time"

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
	if err := p.appendRetrying(context.Background(), [][]byte{[]byte(`{"a":1}`), []byte(`{"a":2}`)}, nil); err != nil {
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
	err := p.appendRetrying(context.Background(), [][]byte{[]byte(`{}`)}, nil)
	if !errors.Is(err, ErrAborted) {
		t.Fatalf("err = %v; want ErrAborted", err)
	}
	if !p.Snapshot().QueueFailing || p.stats.QueueWriteErrors.Load() < 2 {
		t.Fatalf("snapshot failing=%v errors=%d", p.Snapshot().QueueFailing, p.stats.QueueWriteErrors.Load())
	}
}
