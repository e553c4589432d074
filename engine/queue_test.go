package engine_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pipelined/pipeline/dsl/ir"
	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/pq"
)

func persisted(dir string, maxBytes int64) engine.QueueSettings {
	return engine.QueueSettings{Type: "persisted", Path: dir, MaxBytes: maxBytes}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// With the persisted queue an input's batches are acknowledged once on disk,
// even while the output is blocked; a pipeline stopped by a signal leaves the
// undelivered events on disk, and the next run delivers them, in order,
// exactly the ones missing.
func TestPersistedQueueAcksOnDiskAndReplays(t *testing.T) {
	dir := t.TempDir()
	key, c := newControl(t)
	c.gate = make(chan struct{}) // the output is blocked
	k := fmt.Sprintf("key = %q\n", key)
	const batches, size = 10, 50
	p := &ir.Pipeline{
		Inputs:  []*ir.Plugin{plugin(t, ir.Input, "test_gen", "gen", k+"batches = 10\nsize = 50\n")},
		Outputs: []ir.Node{plugin(t, ir.Output, "test_sink", "out", k+"block = true\n")},
	}
	pl := build(t, p, engine.Settings{Workers: 1, BatchSize: size, Queue: persisted(dir, 0)})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- pl.Run(ctx) }()
	waitFor(t, "every batch acknowledged while the output is blocked", func() bool {
		c.acks.mu.Lock()
		defer c.acks.mu.Unlock()
		return len(c.acks.calls) == batches
	})
	if n, _ := pl.QueueLen(); n != batches*size {
		t.Fatalf("queue holds %d events; want %d", n, batches*size)
	}
	// The signal: the input has finished, the blocked output holds one batch.
	cancel()
	time.Sleep(50 * time.Millisecond)
	pl.Abort() // the second signal: give up on the blocked batch
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("the aborted pipeline did not stop")
	}
	checkAcks(t, c, batches)
	if c.got.Load() != 0 {
		t.Fatalf("%d events written by a blocked output", c.got.Load())
	}

	// Next start: an open output, no new events. Everything comes out once.
	key2, c2 := newControl(t)
	k2 := fmt.Sprintf("key = %q\n", key2)
	p2 := &ir.Pipeline{
		Inputs:  []*ir.Plugin{plugin(t, ir.Input, "test_gen", "gen", k2+"batches = 1\nsize = 1\n")},
		Outputs: []ir.Node{plugin(t, ir.Output, "test_sink", "out", k2)},
	}
	pl2 := build(t, p2, engine.Settings{Workers: 1, BatchSize: size, Queue: persisted(dir, 0)})
	if err := run(t, pl2, context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := c2.got.Load(); got != batches*size+1 {
		t.Fatalf("second run delivered %d; want %d (%d replayed + 1 new)", got, batches*size+1, batches*size)
	}
	for i := range batches * size {
		if c2.order[i] != strconv.Itoa(i) {
			t.Fatalf("replayed event %d is %q", i, c2.order[i])
		}
	}
	if n, _ := pl2.QueueLen(); n != 0 {
		t.Fatalf("queue holds %d events after a full run", n)
	}
}

// A full persisted queue blocks the input (nothing is acknowledged beyond what
// fits), the file stays bounded, and everything arrives once the output
// resumes.
func TestPersistedQueueFullBlocksInput(t *testing.T) {
	dir := t.TempDir()
	key, c := newControl(t)
	c.gate = make(chan struct{})
	k := fmt.Sprintf("key = %q\n", key)
	const batches, size = 200, 100
	const maxBytes = 256 << 10
	p := &ir.Pipeline{
		Inputs:  []*ir.Plugin{plugin(t, ir.Input, "test_gen", "gen", k+"batches = 200\nsize = 100\n")},
		Outputs: []ir.Node{plugin(t, ir.Output, "test_sink", "out", k+"block = true\n")},
	}
	pl := build(t, p, engine.Settings{Workers: 1, BatchSize: size, Queue: persisted(dir, maxBytes)})
	done := make(chan error, 1)
	go func() { done <- pl.Run(context.Background()) }()
	// Wait until the input is stuck.
	var last int64 = -1
	waitFor(t, "the input to block", func() bool {
		time.Sleep(100 * time.Millisecond)
		n := c.acks.issued.Load()
		stuck := n == last && n > 0
		last = n
		return stuck
	})
	if last >= batches*size {
		t.Fatalf("the input emitted all %d events into a %d-byte queue", last, maxBytes)
	}
	_, bytes := pl.QueueLen()
	if bytes > maxBytes+size*200 {
		t.Fatalf("queue holds %d bytes; max_bytes is %d", bytes, maxBytes)
	}
	files := queueFileBytes(t, dir)
	t.Logf("blocked after %d events; queue %d bytes, files %d bytes", last, bytes, files)
	if files > 16*maxBytes {
		t.Errorf("queue files are %d bytes for max_bytes %d", files, maxBytes)
	}
	close(c.gate)
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("pipeline did not finish after the output resumed")
	}
	if got := c.got.Load(); got != batches*size {
		t.Fatalf("delivered %d; want %d", got, batches*size)
	}
	checkAcks(t, c, batches)
	if files := queueFileBytes(t, dir); files > 16*maxBytes {
		t.Errorf("queue files grew to %d bytes for max_bytes %d", files, maxBytes)
	}
}

// queueFileBytes is the size of the queue's files under dir.
func queueFileBytes(t *testing.T, dir string) int64 {
	t.Helper()
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		fi, err := d.Info()
		if err == nil {
			n += fi.Size()
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// A persisted queue without a path is refused when the pipeline is built.
func TestPersistedQueueNeedsPath(t *testing.T) {
	key, _ := newControl(t)
	k := fmt.Sprintf("key = %q\n", key)
	p := &ir.Pipeline{
		Name:    "main",
		Inputs:  []*ir.Plugin{plugin(t, ir.Input, "test_gen", "gen", k)},
		Outputs: []ir.Node{plugin(t, ir.Output, "test_sink", "out", k)},
	}
	_, diags := engine.Build(p, engine.Default, engine.Settings{Queue: engine.QueueSettings{Type: "persisted"}})
	if !diags.HasErrors() || !strings.Contains(diags.Error(), "path.queue") {
		t.Fatalf("diags = %v", diags)
	}
	_, diags = engine.Build(p, engine.Default, engine.Settings{Queue: engine.QueueSettings{Type: "disk"}})
	if !diags.HasErrors() || !strings.Contains(diags.Error(), "memory or persisted") {
		t.Fatalf("diags = %v", diags)
	}
}

// The snapshot of a pipeline with the persisted queue, taken while it runs,
// reports the queue's type, the events on disk and their size.
func TestSnapshotPersistedQueue(t *testing.T) {
	dir := t.TempDir()
	key, c := newControl(t)
	c.gate = make(chan struct{}) // the output is blocked
	k := fmt.Sprintf("key = %q\n", key)
	p := &ir.Pipeline{
		Inputs:  []*ir.Plugin{plugin(t, ir.Input, "test_gen", "gen", k+"batches = 4\nsize = 50\n")},
		Outputs: []ir.Node{plugin(t, ir.Output, "test_sink", "out", k+"block = true\n")},
	}
	pl := build(t, p, engine.Settings{Workers: 1, BatchSize: 50, Queue: persisted(dir, 0)})
	done := make(chan error, 1)
	go func() { done <- pl.Run(context.Background()) }()
	waitFor(t, "every batch on disk", func() bool { return pl.Snapshot().In == 200 })
	s := pl.Snapshot()
	if s.QueueType != "persisted" || s.QueueEvents != 200 || s.QueueBytes <= 0 || s.QueueMaxBytes != engine.DefaultQueueMaxBytes {
		t.Errorf("queue in snapshot: type %q, %d events, %d bytes, max %d", s.QueueType, s.QueueEvents, s.QueueBytes, s.QueueMaxBytes)
	}
	if len(s.Inputs) != 1 || s.Inputs[0].Out != 200 {
		t.Errorf("inputs = %+v", s.Inputs)
	}
	close(c.gate)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if s := pl.Snapshot(); s.QueueEvents != 0 || s.Out != 200 {
		t.Errorf("after the run: %d events queued, %d out", s.QueueEvents, s.Out)
	}
}

// BenchmarkPipelineQueue runs the same events through the memory queue and
// the persisted queue (default checkpoint, an fsync on every write, and
// the default checkpoint with queue.encryption_key_path), so
// the persisted queue's cost reads as a ratio to the memory queue
// (events/s), as issue #20 measures it.
func BenchmarkPipelineQueue(b *testing.B) {
	for _, c := range []struct {
		name string
		q    func(dir string) engine.QueueSettings
	}{
		{"memory", func(string) engine.QueueSettings { return engine.QueueSettings{} }},
		{"persisted", func(dir string) engine.QueueSettings { return persisted(dir, 0) }},
		{"persisted_fsync", func(dir string) engine.QueueSettings {
			q := persisted(dir, 0)
			q.CheckpointWrites = 1
			return q
		}},
		{"persisted_encrypted", func(dir string) engine.QueueSettings {
			q := persisted(dir, 0)
			q.EncryptionKeyPath = filepath.Join(dir, "..", "bench.key")
			if err := os.WriteFile(q.EncryptionKeyPath, []byte(strings.Repeat("7c", 32)), 0o600); err != nil {
				panic(err)
			}
			return q
		}},
	} {
		b.Run(c.name, func(b *testing.B) {
			key := "bench-queue-" + c.name
			ctl := &control{gate: make(chan struct{}), byOut: map[string]int{}}
			ctl.acks.calls, ctl.acks.errs = map[int]int{}, map[int]error{}
			close(ctl.gate)
			controls.Store(key, ctl)
			defer controls.Delete(key)
			k := fmt.Sprintf("key = %q\n", key)
			batches := max(b.N/125, 1)
			p := &ir.Pipeline{
				Inputs:  []*ir.Plugin{plugin(b, ir.Input, "test_gen", "gen", k+fmt.Sprintf("batches = %d\nsize = 125\n", batches))},
				Outputs: []ir.Node{plugin(b, ir.Output, "test_sink", "a", k)},
			}
			pl := build(b, p, engine.Settings{Queue: c.q(b.TempDir())})
			b.ResetTimer()
			if err := pl.Run(context.Background()); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			if got := ctl.got.Load(); got != int64(batches*125) {
				b.Fatalf("delivered %d; want %d", got, batches*125)
			}
			b.ReportMetric(float64(batches*125)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// copyDir copies the files of src (a queue directory under testdata) to a
// new temporary directory.
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// A queue written by the version before batches were stored whole (one JSON
// event per record, testdata/pq-v1: ten events, the first three
// acknowledged) is read after the upgrade: the seven left are delivered
// first, in order, then what the new version writes; the old segment is
// deleted once acknowledged.
func TestPersistedQueueUpgradeFromJSONRecords(t *testing.T) {
	dir := copyDir(t, filepath.Join("testdata", "pq-v1"))
	key, c := newControl(t)
	k := fmt.Sprintf("key = %q\n", key)
	p := &ir.Pipeline{
		Inputs:  []*ir.Plugin{plugin(t, ir.Input, "test_gen", "gen", k+"batches = 2\nsize = 5\n")},
		Outputs: []ir.Node{plugin(t, ir.Output, "test_sink", "out", k)},
	}
	pl := build(t, p, engine.Settings{Workers: 1, BatchSize: 4, Queue: persisted(dir, 0)})
	if err := pl.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := []string{"old 3", "old 4", "old 5", "old 6", "old 7", "old 8", "old 9"}
	for i := range 10 {
		want = append(want, strconv.Itoa(i))
	}
	if !slices.Equal(c.order, want) {
		t.Fatalf("delivered %q; want %q", c.order, want)
	}
	if s := pl.Snapshot(); s.QueueEvents != 0 || s.Failed != 0 {
		t.Errorf("after the run: %d events queued, %d failed", s.QueueEvents, s.Failed)
	}
	if _, err := os.Stat(filepath.Join(dir, "00000000000000000001.pq")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the old segment is still there: %v", err)
	}
}

// A record whose frame is intact but whose events do not decode (written by
// a newer version, or by a bug) costs its events, counted as failed, with
// an error naming the file and the offset; it is deleted, and the events
// around it are delivered.
func TestPersistedQueueUndecodableRecord(t *testing.T) {
	dir := t.TempDir()
	q, err := pq.Open(pq.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	bad := []byte{0x01, 99, 3, 1, 0, 0, 0, 0} // binary batch of version 99
	if err := q.AppendN(context.Background(), [][]byte{[]byte(`{"message":"before"}`), bad, []byte(`{"message":"after"}`)}, []uint32{1, 3, 1}); err != nil {
		t.Fatal(err)
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	key, c := newControl(t)
	k := fmt.Sprintf("key = %q\n", key)
	p := &ir.Pipeline{
		Inputs:  []*ir.Plugin{plugin(t, ir.Input, "test_gen", "gen", k+"batches = 1\nsize = 2\n")},
		Outputs: []ir.Node{plugin(t, ir.Output, "test_sink", "out", k)},
	}
	var logs syncBuffer
	pl := build(t, p, engine.Settings{Workers: 1, Queue: persisted(dir, 0), Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err := pl.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if want := []string{"before", "after", "0", "1"}; !slices.Equal(c.order, want) {
		t.Fatalf("delivered %q; want %q", c.order, want)
	}
	if s := pl.Snapshot(); s.Failed != 3 || s.QueueEvents != 0 {
		t.Errorf("failed %d (want 3), %d left in the queue", s.Failed, s.QueueEvents)
	}
	seg := filepath.Join(dir, "00000000000000000001.pq")
	if l := logs.String(); !strings.Contains(l, "path="+seg) || !strings.Contains(l, "offset=") || !strings.Contains(l, "version 99") {
		t.Errorf("the error does not name the file, offset and cause:\n%s", l)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// ackedEvents is how many events of size-event batches the input saw
// acknowledged.
func ackedEvents(c *control, size int) int64 {
	c.acks.mu.Lock()
	defer c.acks.mu.Unlock()
	return int64(len(c.acks.calls) * size)
}

// TestPersistedBusHopKeepsAcknowledgedEvents: test_gen → persisted queue →
// bus → persisted queue (small, its output stalled, so it fills) — the
// shape of TestPipelineToPipelineCrash (plugins/e2e), which lost 1,800 of
// 10,000 acknowledged events after a SIGKILL when the downstream pipeline's
// emit returned before its group committer had written the batch: the bus
// acknowledged the upstream pipeline's batch on emit's return, and the
// upstream queue deleted events that were only in memory downstream.
//
// While both run, every event acknowledged to the generator is counted by
// one of the queues (upstream read first: an event moving down meanwhile is
// counted twice, never missed; downstream deletes nothing, its output being
// stalled). Then both are aborted, as a crash (nothing more is written),
// and the queues reopened from their directories still hold every
// acknowledged event.
func TestPersistedBusHopKeepsAcknowledgedEvents(t *testing.T) {
	const batches, size = 40, 100
	up, cu := newKeyedControl(t, "up")
	kd, cd := newKeyedControl(t, "down")
	cd.gate = make(chan struct{}) // the downstream output is stalled
	t.Cleanup(func() { close(cd.gate) })
	upDir, downDir := t.TempDir(), t.TempDir()
	bus := engine.NewBus()
	d := start(t, downstream(t, "down", kd, "addr", true),
		engine.Settings{Workers: 1, BatchSize: 50, Bus: bus, Queue: persisted(downDir, 16<<10)})
	u := start(t, upstream(t, "up", up, fmt.Sprintf("batches = %d\nsize = %d\n", batches, size), `send_to = ["addr"]`),
		engine.Settings{Workers: 1, BatchSize: 50, Bus: bus, Queue: persisted(upDir, 0)})

	check := func() {
		t.Helper()
		acked := ackedEvents(cu, size)
		inUp, _ := u.pl.QueueLen()
		inDown, _ := d.pl.QueueLen()
		if inUp+inDown < acked {
			t.Fatalf("%d events acknowledged to the input, but the queues hold %d (upstream) + %d (downstream)", acked, inUp, inDown)
		}
	}
	waitFor(t, "every batch acknowledged to the generator", func() bool { check(); return ackedEvents(cu, size) == batches*size })
	// The downstream queue fills and the hop stalls; were an event
	// acknowledged upstream before downstream wrote it, the upstream queue
	// would shrink below what the downstream one holds meanwhile.
	for range 50 {
		check()
		time.Sleep(20 * time.Millisecond)
	}
	if inDown, _ := d.pl.QueueLen(); inDown == 0 || inDown >= batches*size {
		t.Fatalf("downstream queue holds %d events: the hop was not exercised", inDown)
	}

	// The crash: nothing more is written.
	u.pl.Abort()
	d.pl.Abort()
	u.cancel()
	d.cancel()
	for _, r := range []*running{u, d} {
		select {
		case <-r.done:
		case <-time.After(30 * time.Second):
			t.Fatalf("pipeline %s did not stop after Abort", r.pl.Name())
		}
	}
	var held int64
	for _, dir := range []string{upDir, downDir} {
		q, err := pq.Open(pq.Options{Dir: dir})
		if err != nil {
			t.Fatal(err)
		}
		n, _ := q.Len()
		held += n
		if err := q.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if held < batches*size {
		t.Fatalf("after the crash the queues hold %d events; %d were acknowledged to the input", held, batches*size)
	}
}
