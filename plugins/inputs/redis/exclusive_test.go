package redis

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/pipelined/pipeline/plugins/internal/testkit/redistest"
)

// TestExclusiveRecovery: batches read but never acknowledged (the engine
// died) stay in the list, and the next holder of its lease reads them first;
// nothing is lost or duplicated.
func TestExclusiveRecovery(t *testing.T) {
	srv := redistest.Start(t)
	rc := client(t, srv)
	fill(t, rc, "q", 0, 300)
	opts := `key = "q"
data_type = "list"
batch_count = 100
list_mode = "exclusive"`

	in := newInput(t, srv, opts)
	in.ackWait = 100 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	first := newCollector()
	first.noAck = true
	first.onEmit = cancel // the engine dies after the first batch
	if err := in.Run(ctx, first.emit); err != nil {
		t.Fatal(err)
	}
	if n := len(first.events); n != 100 && n != 200 {
		t.Fatalf("first run got %d events; want 100 or 200", n)
	}
	if l := llen(t, rc, "q"); l != 300 {
		t.Fatalf("list has %d elements; want all 300 (none acknowledged)", l)
	}

	second := newCollector()
	run(t, newInput(t, srv, opts), second, 300)
	got := seqs(t, second.events)
	if len(got) != 300 {
		t.Fatalf("second run got %d events; want 300", len(got))
	}
	for i, s := range got {
		if s != i {
			t.Fatalf("event %d has seq %d", i, s)
		}
	}
	if l := llen(t, rc, "q"); l != 0 {
		t.Errorf("list has %d elements left", l)
	}
	if v := rc.Get(context.Background(), "q:reader:trimmed").Val(); v != "300" {
		t.Errorf("trim counter = %q; want 300", v)
	}
}

// TestTrimHeadScript: a trim done twice (its reply was lost and it is redone)
// trims once; a trim by an input that lost the lease trims nothing; a counter
// that does not match (Redis lost data) trims nothing and says where it is.
func TestTrimHeadScript(t *testing.T) {
	srv := redistest.Start(t)
	rc := client(t, srv)
	ctx := context.Background()
	list := func() string { return strings.Join(rc.LRange(ctx, "q", 0, -1).Val(), " ") }
	if err := rc.RPush(ctx, "q", "a", "b", "c", "d", "e").Err(); err != nil {
		t.Fatal(err)
	}
	trim := func(token string, from, to int64) int64 {
		t.Helper()
		v, err := trimHeadScript.Run(ctx, rc, []string{"q", "q:reader:owner", "q:reader:trimmed"}, token, from, to, 60000).Int64()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	// No lease yet (Redis restarted): taken, and the trim done.
	if got := trim("me", 0, 2); got != 2 || list() != "c d e" {
		t.Fatalf("first trim = %d, list %q", got, list())
	}
	if got := trim("me", 0, 2); got != 2 || list() != "c d e" {
		t.Fatalf("repeated trim = %d, list %q", got, list())
	}
	if got := trim("other", 2, 3); got != -1 || list() != "c d e" {
		t.Fatalf("trim without the lease = %d, list %q", got, list())
	}
	if got := trim("me", 7, 9); got != 2 || list() != "c d e" {
		t.Fatalf("trim from a wrong count = %d, list %q", got, list())
	}
	if got := trim("me", 2, 5); got != 5 || list() != "" {
		t.Fatalf("last trim = %d, list %q", got, list())
	}
	// The reader side: a counter that does not match resets what was read.
	in := newInput(t, srv, `key = "q"
data_type = "list"
list_mode = "exclusive"`)
	h := newHeadReader(5)
	a := h.add(3)
	if reset, err := in.trimmed(h, 5, 8, 0); !reset || err != nil {
		t.Fatalf("trimmed after data loss = %v, %v", reset, err)
	}
	a(nil) // forgotten: trims nothing
	if h.base != 0 || h.next != 0 || h.head != 0 || len(h.pending) != 0 {
		t.Fatalf("after a reset: base %d next %d head %d pending %d", h.base, h.next, h.head, len(h.pending))
	}
}
