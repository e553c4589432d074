package pq

import (
	"context"
	"testing"
	"time"
)

// OldestAppend is the append time of the oldest record not acknowledged;
// after a reopen, records of the previous run count from the open (#24).
func TestOldestAppend(t *testing.T) {
	dir := t.TempDir()
	q, err := Open(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := q.OldestAppend(); ok {
		t.Error("empty queue has an oldest append")
	}
	before := time.Now()
	if err := q.Append(context.Background(), recs(0, 3)); err != nil {
		t.Fatal(err)
	}
	first, ok := q.OldestAppend()
	if !ok || first.Before(before) {
		t.Errorf("oldest append %v, %v; want at or after %v", first, ok, before)
	}
	if err := q.Append(context.Background(), recs(3, 2)); err != nil {
		t.Fatal(err)
	}
	rs := read(t, q, 10)
	if len(rs) != 5 {
		t.Fatalf("read %d records; want 5", len(rs))
	}
	// Acknowledging a later record leaves the oldest in place.
	if err := q.Ack(seqs(rs[4:]), size(rs[4:])); err != nil {
		t.Fatal(err)
	}
	if got, ok := q.OldestAppend(); !ok || !got.Equal(first) {
		t.Errorf("oldest append after a later ack %v, %v; want %v", got, ok, first)
	}
	// The first append's records acknowledged: the second's time, no older.
	if err := q.Ack(seqs(rs[:3]), size(rs[:3])); err != nil {
		t.Fatal(err)
	}
	if got, ok := q.OldestAppend(); !ok || got.Before(first) {
		t.Errorf("oldest append after the first append's ack %v, %v; want at or after %v", got, ok, first)
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	reopen := time.Now()
	q = open(t, Options{Dir: dir})
	if got, ok := q.OldestAppend(); !ok || got.Before(reopen) {
		t.Errorf("after reopen: oldest append %v, %v; want the open time (at or after %v)", got, ok, reopen)
	}
	rs = read(t, q, 10)
	if err := q.Ack(seqs(rs), size(rs)); err != nil {
		t.Fatal(err)
	}
	if got, ok := q.OldestAppend(); ok {
		t.Errorf("all acknowledged: oldest append %v; want none", got)
	}
}
