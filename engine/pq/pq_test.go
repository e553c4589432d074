package pq

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func open(t *testing.T, opts Options) *Queue {
	t.Helper()
	q, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = q.Close() })
	return q
}

func recs(from, n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = fmt.Appendf(nil, `{"n":%d}`, from+i)
	}
	return out
}

func read(t *testing.T, q *Queue, max int) []Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r, err := q.Read(ctx, max)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func size(rs []Record) int64 {
	var n int64
	for _, r := range rs {
		n += int64(len(r.Data))
	}
	return n
}

func seqs(rs []Record) []uint64 {
	out := make([]uint64, len(rs))
	for i, r := range rs {
		out[i] = r.Seq
	}
	return out
}

// What was appended and not acknowledged is read again, in order, after a
// reopen; acknowledged records are gone, and numbering goes on.
func TestReplayAfterReopen(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	q, err := Open(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Append(ctx, recs(0, 10)); err != nil {
		t.Fatal(err)
	}
	first := read(t, q, 4)
	if len(first) != 4 || string(first[0].Data) != `{"n":0}` {
		t.Fatalf("read %+v", first)
	}
	second := read(t, q, 100)
	if len(second) != 6 || string(second[5].Data) != `{"n":9}` {
		t.Fatalf("read %+v", second)
	}
	// Acknowledge out of order: the second batch only, plus one of the first.
	if err := q.Ack(append(seqs(second), first[2].Seq), size(second)+int64(len(first[2].Data))); err != nil {
		t.Fatal(err)
	}
	if n, b := q.Len(); n != 3 || b != 3*int64(len(`{"n":0}`)) {
		t.Fatalf("Len = %d, %d", n, b)
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}

	q = open(t, Options{Dir: dir})
	again := read(t, q, 100)
	var got []string
	for _, r := range again {
		got = append(got, string(r.Data))
	}
	if fmt.Sprint(got) != `[{"n":0} {"n":1} {"n":3}]` {
		t.Fatalf("replayed %v", got)
	}
	if err := q.Append(ctx, recs(10, 1)); err != nil {
		t.Fatal(err)
	}
	more := read(t, q, 100)
	if len(more) != 1 || more[0].Seq <= second[5].Seq {
		t.Fatalf("new record %+v reuses a number (last was %d)", more, second[5].Seq)
	}
}

// Append waits while the queue is full and goes on when records are
// acknowledged; the file stays bounded.
func TestMaxBytesBlocksAppend(t *testing.T) {
	dir := t.TempDir()
	q := open(t, Options{Dir: dir, MaxBytes: 1000})
	ctx := context.Background()
	big := [][]byte{make([]byte, 600)}
	if err := q.Append(ctx, big); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- q.Append(ctx, big) }()
	select {
	case err := <-done:
		t.Fatalf("Append over MaxBytes returned %v; want it to wait", err)
	case <-time.After(200 * time.Millisecond):
	}
	r := read(t, q, 10)
	if err := q.Ack(seqs(r), size(r)); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Append still waiting after the queue emptied")
	}
	// A waiting Append gives up with its context.
	cctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if err := q.Append(cctx, big); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Append on a full queue with an expiring context = %v", err)
	}
}

// CloseWrites lets the reader drain, then Read reports io.EOF.
func TestCloseWritesDrains(t *testing.T) {
	q := open(t, Options{Dir: t.TempDir()})
	ctx := context.Background()
	if err := q.Append(ctx, recs(0, 3)); err != nil {
		t.Fatal(err)
	}
	q.CloseWrites()
	if r := read(t, q, 10); len(r) != 3 {
		t.Fatalf("read %d", len(r))
	}
	if _, err := q.Read(ctx, 10); err != io.EOF {
		t.Fatalf("Read after draining = %v; want io.EOF", err)
	}
}

// Concurrent appenders and one reader acknowledging in any order: every
// record read once, in per-appender order, and the queue ends empty.
func TestConcurrent(t *testing.T) {
	q := open(t, Options{Dir: t.TempDir(), MaxBytes: 20000, SyncEvery: 100})
	ctx := context.Background()
	const writers, batches, per = 4, 50, 20
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for b := range batches {
				rs := make([][]byte, per)
				for i := range rs {
					rs[i] = fmt.Appendf(nil, "%d:%06d", w, b*per+i)
				}
				if err := q.Append(ctx, rs); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	go func() { wg.Wait(); q.CloseWrites() }()
	last := map[string]string{}
	n := 0
	for {
		r, err := q.Read(ctx, 37)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, rec := range r {
			w, v := string(rec.Data[:1]), string(rec.Data[2:])
			if v <= last[w] && last[w] != "" {
				t.Fatalf("writer %s: %s after %s", w, v, last[w])
			}
			last[w] = v
		}
		n += len(r)
		go func() {
			if err := q.Ack(seqs(r), size(r)); err != nil {
				t.Error(err)
			}
		}()
	}
	if n != writers*batches*per {
		t.Fatalf("read %d; want %d", n, writers*batches*per)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if c, _ := q.Len(); c == 0 {
			break
		}
		if time.Now().After(deadline) {
			c, b := q.Len()
			t.Fatalf("queue holds %d records (%d bytes) after every ack", c, b)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A second process (here: a second Open) cannot share the queue file.
func TestLockedByAnother(t *testing.T) {
	dir := t.TempDir()
	open(t, Options{Dir: dir})
	_, err := Open(Options{Dir: dir})
	if err == nil || !strings.Contains(err.Error(), "locked by another process") {
		t.Fatalf("second Open = %v", err)
	}
	if segs, _ := filepath.Glob(filepath.Join(dir, "*.pq")); len(segs) == 0 {
		t.Fatal("the refused Open removed the queue's files")
	}
}

func BenchmarkAppendReadAck(b *testing.B) {
	for _, sync := range []bool{false, true} {
		b.Run(fmt.Sprintf("sync=%v", sync), func(b *testing.B) {
			q, err := Open(Options{Dir: b.TempDir(), Sync: sync})
			if err != nil {
				b.Fatal(err)
			}
			defer q.Close()
			ctx := context.Background()
			batch := make([][]byte, 125)
			for i := range batch {
				batch[i] = make([]byte, 300)
			}
			b.SetBytes(125 * 300)
			for b.Loop() {
				if err := q.Append(ctx, batch); err != nil {
					b.Fatal(err)
				}
				r, err := q.Read(ctx, 125)
				if err != nil {
					b.Fatal(err)
				}
				if err := q.Ack(seqs(r), size(r)); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*125)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// Records of many entries: Len counts entries, Read returns records up to
// max entries (one at least, however big), AckN takes the entries off, and
// a reopen counts them again from the files.
func TestEntriesPerRecord(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	q, err := Open(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := q.AppendN(ctx, recs(0, 4), []uint32{100, 25, 125, 300}); err != nil {
		t.Fatal(err)
	}
	if n, _ := q.Len(); n != 550 {
		t.Fatalf("Len = %d entries; want 550", n)
	}
	var got [][]uint32
	var all []Record
	for range 3 {
		r := read(t, q, 125)
		var ns []uint32
		for _, x := range r {
			ns = append(ns, x.N)
		}
		got = append(got, ns)
		all = append(all, r...)
	}
	if fmt.Sprint(got) != "[[100 25] [125] [300]]" {
		t.Fatalf("reads by entries = %v", got)
	}
	if err := q.AckN(seqs(all[:2]), 125, size(all[:2])); err != nil {
		t.Fatal(err)
	}
	if n, _ := q.Len(); n != 425 {
		t.Fatalf("Len = %d after acknowledging 125", n)
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	q = open(t, Options{Dir: dir})
	if n, _ := q.Len(); n != 425 {
		t.Fatalf("Len = %d after a reopen; want 425", n)
	}
	if r := read(t, q, 1000); len(r) != 2 || r[0].N != 125 || r[1].N != 300 || r[0].Path == "" || r[0].Off <= 0 {
		t.Fatalf("read after reopen: %+v", r)
	}
	if err := q.AppendN(ctx, recs(0, 1), []uint32{0}); err == nil {
		t.Error("a record of 0 entries was taken")
	}
}

// Segments of version 1 (one entry per record, before batches were stored
// whole) are read after an upgrade; new records go to a new segment of the
// current version, even when the old one is not full.
func TestVersion1SegmentsAreRead(t *testing.T) {
	dir := t.TempDir()
	old := append([]byte(nil), segHeaderV1...)
	for i := range 5 {
		old = appendRecord(old, 1, uint64(i+1), 1, fmt.Appendf(nil, `{"n":%d}`, i))
	}
	if err := os.WriteFile(filepath.Join(dir, segName(1)), old, 0o600); err != nil {
		t.Fatal(err)
	}
	q := open(t, Options{Dir: dir})
	if n, _ := q.Len(); n != 5 {
		t.Fatalf("Len = %d; want 5", n)
	}
	if err := q.AppendN(context.Background(), recs(5, 1), []uint32{7}); err != nil {
		t.Fatal(err)
	}
	q.CloseWrites()
	var r []Record
	for range 10 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		rs, err := q.Read(ctx, 100)
		cancel()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		r = append(r, rs...)
	}
	if len(r) != 6 || string(r[4].Data) != `{"n":4}` || r[4].N != 1 || r[5].N != 7 || r[5].Seq != 6 {
		t.Fatalf("read %+v", r)
	}
	segs, _ := listSegments(dir)
	if len(segs) != 2 || segs[1].first != 6 {
		t.Fatalf("segments %v", segs)
	}
	b, _ := os.ReadFile(segs[1].path)
	if string(b[:segHeaderSize]) != string(segHeader) {
		t.Fatalf("new segment header %q", b[:segHeaderSize])
	}
}
