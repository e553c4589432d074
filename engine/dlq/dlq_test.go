package dlq

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/atrest"
	"github.com/pipelined/pipeline/engine/event"
)

// logBuf collects log output for assertions.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func newLogger() (*slog.Logger, *logBuf) {
	b := &logBuf{}
	return slog.New(slog.NewTextHandler(b, nil)), b
}

func open(t *testing.T, o Options) *Writer {
	t.Helper()
	w, err := Open(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return w
}

func msgEvent(t *testing.T, i int) *event.Event {
	t.Helper()
	e := event.NewMessage(fmt.Sprintf("event %d", i))
	if err := e.Set(event.MustRef("[@metadata][index]"), "logs-1"); err != nil {
		t.Fatal(err)
	}
	if err := e.Set(event.MustRef("[n]"), int64(i)); err != nil {
		t.Fatal(err)
	}
	return e
}

var src = engine.DeadLetterSource{Pipeline: "main", PluginType: "elasticsearch", PluginID: "es"}

// putN writes events 0 to n-1, each with reason "r".
func putN(t *testing.T, w *Writer, n int) {
	t.Helper()
	for i := range n {
		if err := w.Put(msgEvent(t, i), src, "r"); err != nil {
			t.Fatal(err)
		}
	}
}

// readAll reads every entry currently in the queue.
func readAll(t *testing.T, r *Reader) []Entry {
	t.Helper()
	var out []Entry
	for range 100000 {
		en, _, err := r.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, en)
	}
	t.Fatal("reader did not reach the end")
	return nil
}

func TestRoundTripKeepsEventMetadataAndSource(t *testing.T) {
	dir := t.TempDir()
	w := open(t, Options{Dir: dir})
	before := time.Now().Add(-time.Second)
	for i := range 3 {
		if err := w.Put(msgEvent(t, i), src, fmt.Sprintf("mapper_parsing_exception %d", i)); err != nil {
			t.Fatal(err)
		}
	}
	got := readAll(t, NewReader(dir, nil))
	if len(got) != 3 {
		t.Fatalf("read %d entries; want 3", len(got))
	}
	for i, en := range got {
		if m, _ := en.Event.Message(); m != fmt.Sprintf("event %d", i) {
			t.Errorf("entry %d message = %q", i, m)
		}
		if v, _ := en.Event.Get(event.MustRef("[n]")); v != int64(i) {
			t.Errorf("entry %d n = %#v; want int64 %d", i, v, i)
		}
		if v, _ := en.Event.GetString(event.MustRef("[@metadata][index]")); v != "logs-1" {
			t.Errorf("entry %d metadata index = %q; want logs-1", i, v)
		}
		if en.Pipeline != "main" || en.PluginType != "elasticsearch" || en.PluginID != "es" ||
			en.Reason != fmt.Sprintf("mapper_parsing_exception %d", i) {
			t.Errorf("entry %d source = %+v", i, en)
		}
		if en.EntryTime.Before(before) || en.EntryTime.After(time.Now()) {
			t.Errorf("entry %d entry time %v is not now", i, en.EntryTime)
		}
	}
	if s := w.Stats(); s.Entries != 3 || s.SizeBytes <= headerSize || s.Dropped != 0 {
		t.Errorf("stats = %+v", s)
	}
}

func TestConcurrentPutsAllReadBack(t *testing.T) {
	dir := t.TempDir()
	w := open(t, Options{Dir: dir, SegmentBytes: 4096})
	const writers, per = 8, 200
	var wg sync.WaitGroup
	for g := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range per {
				if err := w.Put(msgEvent(t, g*per+i), src, "r"); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	nums, _ := segments(dir)
	if len(nums) < 2 {
		t.Fatalf("%d segments; want several with 4 KiB segments", len(nums))
	}
	got := readAll(t, NewReader(dir, nil))
	seen := map[int64]bool{}
	for _, en := range got {
		v, _ := en.Event.Get(event.MustRef("[n]"))
		seen[v.(int64)] = true
	}
	if len(got) != writers*per || len(seen) != writers*per {
		t.Fatalf("read %d entries, %d distinct; want %d", len(got), len(seen), writers*per)
	}
}

// A reader at the end sees what is written later, across segments, and
// resumes from a saved position.
func TestReaderFollowsWriterAndSeeks(t *testing.T) {
	dir := t.TempDir()
	r := NewReader(dir, nil)
	if _, _, err := r.Next(); err != io.EOF {
		t.Fatalf("Next on a missing queue = %v; want io.EOF", err)
	}
	w := open(t, Options{Dir: dir, SegmentBytes: 600})
	var mid Position
	for i := range 10 {
		if err := w.Put(msgEvent(t, i), src, "r"); err != nil {
			t.Fatal(err)
		}
		en, pos, err := r.Next()
		if err != nil {
			t.Fatalf("entry %d: %v", i, err)
		}
		if v, _ := en.Event.Get(event.MustRef("[n]")); v != int64(i) {
			t.Fatalf("entry %d: n = %v", i, v)
		}
		if i == 4 {
			mid = pos
		}
	}
	if _, _, err := r.Next(); err != io.EOF {
		t.Fatalf("Next at the end = %v; want io.EOF", err)
	}
	p, err := ParsePosition(mid.String())
	if err != nil || p != mid {
		t.Fatalf("ParsePosition(%q) = %v, %v", mid.String(), p, err)
	}
	r2 := NewReader(dir, nil)
	r2.Seek(p)
	got := readAll(t, r2)
	if len(got) != 5 {
		t.Fatalf("after seeking to entry 5, read %d entries; want 5", len(got))
	}
	if v, _ := got[0].Event.Get(event.MustRef("[n]")); v != int64(5) {
		t.Errorf("first entry after seek n = %v; want 5", v)
	}
}

// A crash leaves a torn last record: the reader skips it (with a warning) once
// the writer, reopened, has moved on, and the writer cuts it off.
func TestTornTailIsDetectedAndSkipped(t *testing.T) {
	for _, keys := range []*atrest.Keyring{nil, testKeys(t, 1)} {
		t.Run(fmt.Sprintf("encrypted=%v", keys != nil), func(t *testing.T) { tornTail(t, keys) })
	}
}

func tornTail(t *testing.T, keys *atrest.Keyring) {
	dir := t.TempDir()
	w := open(t, Options{Dir: dir, Keys: keys})
	putN(t, w, 3)
	w.Close()
	seg := segmentPath(dir, 1)
	fi, _ := os.Stat(seg)
	// Simulate the crash: the last record lost its last 5 bytes.
	if err := os.Truncate(seg, fi.Size()-5); err != nil {
		t.Fatal(err)
	}
	log, logs := newLogger()
	// A reader alone, with no newer segment, waits at the torn record.
	r := NewReader(dir, log)
	r.SetKeys(keys)
	if got := readAll(t, r); len(got) != 2 {
		t.Fatalf("read %d entries before the torn one; want 2", len(got))
	}
	// Reopening the writer repairs the segment and writes to a new one.
	w2 := open(t, Options{Dir: dir, Logger: log, Keys: keys})
	if !strings.Contains(logs.String(), "torn record") {
		t.Errorf("no warning about the torn record in:\n%s", logs)
	}
	if err := w2.Put(msgEvent(t, 3), src, "r"); err != nil {
		t.Fatal(err)
	}
	got := readAll(t, r)
	if len(got) != 1 {
		t.Fatalf("read %d entries after the repair; want 1 (event 3)", len(got))
	}
	if v, _ := got[0].Event.Get(event.MustRef("[n]")); v != int64(3) {
		t.Errorf("n = %v; want 3", v)
	}
}

// A torn tail that the writer did not repair (it never reopened the queue but
// a newer segment exists) is skipped by the reader with a warning.
func TestReaderSkipsTornTailBeforeNewerSegment(t *testing.T) {
	dir := t.TempDir()
	w := open(t, Options{Dir: dir})
	putN(t, w, 2)
	w.Close()
	f, err := os.OpenFile(segmentPath(dir, 1), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte{0, 0, 1, 0, 1, 2}) // half a record header
	f.Close()
	rec := encodeRecord(nil, msgEvent(t, 2), "main", "x", "y", "r", time.Now())
	if err := os.WriteFile(segmentPath(dir, 2), append(append([]byte{}, segmentHeader...), rec...), 0o600); err != nil {
		t.Fatal(err)
	}
	log, logs := newLogger()
	got := readAll(t, NewReader(dir, log))
	if len(got) != 3 {
		t.Fatalf("read %d entries; want 3", len(got))
	}
	if !strings.Contains(logs.String(), "torn record") {
		t.Errorf("no warning about the torn record in:\n%s", logs)
	}
}

func TestCorruptRecordFailsCRCAndIsSkipped(t *testing.T) {
	dir := t.TempDir()
	w := open(t, Options{Dir: dir})
	putN(t, w, 3)
	w.Close()
	seg := segmentPath(dir, 1)
	b, _ := os.ReadFile(seg)
	i := bytes.Index(b, []byte("event 1"))
	b[i] = 'E' // flip one byte inside the second record's payload
	os.WriteFile(seg, b, 0o600)
	log, logs := newLogger()
	got := readAll(t, NewReader(dir, log))
	if len(got) != 2 {
		t.Fatalf("read %d entries; want 2 (the corrupt one skipped)", len(got))
	}
	if !strings.Contains(logs.String(), "fails its CRC") {
		t.Errorf("no CRC warning in:\n%s", logs)
	}
}

func TestDropNewerWhenFull(t *testing.T) {
	dir := t.TempDir()
	log, logs := newLogger()
	w := open(t, Options{Dir: dir, MaxBytes: 2000, SegmentBytes: 700, Logger: log})
	n := 0
	for i := range 50 {
		if err := w.Put(msgEvent(t, i), src, "r"); err != nil {
			t.Fatal(err)
		}
		n++
		if got := w.Stats().SizeBytes; got > 2000 {
			t.Fatalf("after entry %d the queue holds %d bytes; max_bytes is 2000", i, got)
		}
	}
	s := w.Stats()
	if s.SizeBytes > 2000 {
		t.Errorf("queue size %d exceeds max_bytes 2000", s.SizeBytes)
	}
	got := readAll(t, NewReader(dir, nil))
	if int64(len(got))+s.Dropped != int64(n) || s.Dropped == 0 {
		t.Fatalf("kept %d + dropped %d != put %d (or nothing dropped)", len(got), s.Dropped, n)
	}
	// The oldest are kept.
	if v, _ := got[0].Event.Get(event.MustRef("[n]")); v != int64(0) {
		t.Errorf("first kept n = %v; want 0", v)
	}
	if !strings.Contains(logs.String(), "drop_newer") {
		t.Errorf("drop not logged:\n%s", logs)
	}
}

func TestDropOlderWhenFull(t *testing.T) {
	dir := t.TempDir()
	log, logs := newLogger()
	w := open(t, Options{Dir: dir, MaxBytes: 3000, SegmentBytes: 700, StoragePolicy: DropOlder, Logger: log})
	const n = 60
	for i := range n {
		if err := w.Put(msgEvent(t, i), src, "r"); err != nil {
			t.Fatal(err)
		}
		if got := w.Stats().SizeBytes; got > 3000 {
			t.Fatalf("after entry %d the queue holds %d bytes; max_bytes is 3000", i, got)
		}
	}
	s := w.Stats()
	if s.SizeBytes > 3000 {
		t.Errorf("queue size %d exceeds max_bytes 3000", s.SizeBytes)
	}
	got := readAll(t, NewReader(dir, nil))
	if int64(len(got))+s.Dropped != n || s.Dropped == 0 {
		t.Fatalf("kept %d + dropped %d != put %d (or nothing dropped)", len(got), s.Dropped, n)
	}
	// The newest are kept.
	if v, _ := got[len(got)-1].Event.Get(event.MustRef("[n]")); v != int64(n-1) {
		t.Errorf("last kept n = %v; want %d", v, n-1)
	}
	if !strings.Contains(logs.String(), "drop_older") {
		t.Errorf("drop not logged:\n%s", logs)
	}
	// Sizes on disk agree with the accounting.
	var disk int64
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		fi, _ := e.Info()
		disk += fi.Size()
	}
	if disk != s.SizeBytes {
		t.Errorf("files hold %d bytes; stats say %d", disk, s.SizeBytes)
	}
}

func TestReopenAppendsToNewSegmentAndCountsExistingSize(t *testing.T) {
	dir := t.TempDir()
	w := open(t, Options{Dir: dir})
	w.Put(msgEvent(t, 0), src, "r")
	size := w.Stats().SizeBytes
	w.Close()
	if err := w.Put(msgEvent(t, 1), src, "r"); err == nil {
		t.Error("Put after Close succeeded")
	}
	w2 := open(t, Options{Dir: dir})
	if got := w2.Stats().SizeBytes; got != size {
		t.Errorf("reopened size = %d; want %d", got, size)
	}
	w2.Put(msgEvent(t, 1), src, "r")
	if nums, _ := segments(dir); len(nums) != 2 {
		t.Errorf("segments = %v; want 2 (never append to an old segment)", nums)
	}
	if got := readAll(t, NewReader(dir, nil)); len(got) != 2 {
		t.Errorf("read %d; want 2", len(got))
	}
}

func TestSecondWriterIsRefused(t *testing.T) {
	dir := t.TempDir()
	w := open(t, Options{Dir: dir})
	if _, err := Open(Options{Dir: dir}); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("second Open = %v; want an in-use error", err)
	}
	w.Close()
	w2, err := Open(Options{Dir: dir})
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	w2.Close()
}

func TestOpenErrors(t *testing.T) {
	if _, err := Open(Options{Dir: t.TempDir(), StoragePolicy: "drop_all"}); err == nil {
		t.Error("unknown storage policy accepted")
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, segmentName(1)), []byte("not a segment at all"), 0o600)
	if _, err := Open(Options{Dir: dir}); err == nil || !strings.Contains(err.Error(), "bad header") {
		t.Errorf("Open on a foreign file = %v; want a bad header error", err)
	}
	// A directory that cannot be created.
	file := filepath.Join(t.TempDir(), "f")
	os.WriteFile(file, nil, 0o600)
	if _, err := Open(Options{Dir: filepath.Join(file, "sub")}); err == nil {
		t.Error("Open under a file succeeded")
	}
	var pe *os.PathError
	_, err := Open(Options{Dir: filepath.Join(file, "sub")})
	if !errors.As(err, &pe) {
		t.Errorf("error %v does not wrap the path error", err)
	}
}

// A reader whose segment drop_older deleted goes on with the oldest one left.
func TestReaderSkipsSegmentsDeletedByDropOlder(t *testing.T) {
	dir := t.TempDir()
	w := open(t, Options{Dir: dir, MaxBytes: 3000, SegmentBytes: 700, StoragePolicy: DropOlder})
	putN(t, w, 3)
	r := NewReader(dir, nil)
	if _, _, err := r.Next(); err != nil {
		t.Fatal(err)
	}
	r.Close() // as after a restart: reopen from the saved position
	for i := 3; i < 60; i++ {
		if err := w.Put(msgEvent(t, i), src, "r"); err != nil {
			t.Fatal(err)
		}
	}
	got := readAll(t, r)
	kept := readAll(t, NewReader(dir, nil))
	if len(got) == 0 || len(got) != len(kept) {
		t.Fatalf("reader went on with %d entries; the queue holds %d", len(got), len(kept))
	}
	if v, _ := got[len(got)-1].Event.Get(event.MustRef("[n]")); v != int64(59) {
		t.Errorf("last n = %v; want 59", v)
	}
}

// A segment left empty by a crash just after it was created does not stop the
// reader once a newer segment exists.
func TestReaderSkipsSegmentWithoutHeader(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(segmentPath(dir, 1), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	log, logs := newLogger()
	r := NewReader(dir, log)
	if _, _, err := r.Next(); err != io.EOF {
		t.Fatalf("Next on a segment being created = %v; want io.EOF", err)
	}
	w := open(t, Options{Dir: dir, Logger: log})
	if !strings.Contains(logs.String(), "torn record") {
		t.Errorf("the writer did not report the empty segment:\n%s", logs)
	}
	if err := w.Put(msgEvent(t, 7), src, "r"); err != nil {
		t.Fatal(err)
	}
	got := readAll(t, r)
	if len(got) != 1 {
		t.Fatalf("read %d entries; want 1", len(got))
	}
	if !strings.Contains(logs.String(), "without a header") {
		t.Errorf("no warning about the empty segment:\n%s", logs)
	}
}

// Segments whose newest entry is older than retain.age are deleted and counted
// as expired: sealed ones by modification time, at Open; the current one once
// it was not written to for that long.
func TestRetainAgeExpiresOldSegments(t *testing.T) {
	dir := t.TempDir()
	w := open(t, Options{Dir: dir})
	putN(t, w, 2)
	w.Close()
	old := time.Now().Add(-2 * time.Hour)
	if err := os.Chtimes(segmentPath(dir, 1), old, old); err != nil {
		t.Fatal(err)
	}
	w2 := open(t, Options{Dir: dir, RetainAge: time.Hour})
	if s := w2.Stats(); s.Expired != 2 || s.SizeBytes != 0 {
		t.Fatalf("after Open: %+v; want 2 expired and an empty queue", s)
	}
	if _, err := os.Stat(segmentPath(dir, 1)); !os.IsNotExist(err) {
		t.Fatalf("expired segment still there: %v", err)
	}
	w2.Close()

	w3 := open(t, Options{Dir: dir, RetainAge: 50 * time.Millisecond, FlushInterval: 10 * time.Millisecond})
	if err := w3.Put(msgEvent(t, 2), src, "r"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for w3.Stats().Expired != 1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if s := w3.Stats(); s.Expired != 1 || s.SizeBytes != 0 {
		t.Fatalf("current segment not expired: %+v", s)
	}
	w3.Close()
	w4 := open(t, Options{Dir: dir})
	if err := w4.Put(msgEvent(t, 3), src, "r"); err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, NewReader(dir, nil)); len(got) != 1 {
		t.Errorf("read %d entries; want the one written after the expiry", len(got))
	}
}
