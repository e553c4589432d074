package deadletterqueue

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pipelined/pipeline/dsl/ir"
	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/dlq"
	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/plugins/internal/testkit/plugintest"
)

// fill writes events first..last-1 to the queue of pipeline "main" under root.
func fill(t *testing.T, root string, first, last int) {
	t.Helper()
	w, err := dlq.Open(dlq.Options{Dir: filepath.Join(root, "main")})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	for i := first; i < last; i++ {
		e := event.NewMessage(fmt.Sprintf("event %d", i))
		_ = e.Set(event.MustRef("[n]"), int64(i))
		_ = e.Set(event.MustRef("[@metadata][target]"), "logs")
		if err := w.Put(e, engine.DeadLetterSource{Pipeline: "main", PluginType: "elasticsearch", PluginID: "es"}, fmt.Sprintf("rejected %d", i)); err != nil {
			t.Fatal(err)
		}
	}
}

// runner runs an input and collects its batches; acks are left to the test.
type runner struct {
	mu      sync.Mutex
	batches []engine.Batch
	got     chan struct{}
	cancel  context.CancelFunc
	done    chan error
}

func start(t *testing.T, in *Input) *runner {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &runner{got: make(chan struct{}, 1000), cancel: cancel, done: make(chan error, 1)}
	go func() {
		r.done <- in.Run(ctx, func(b engine.Batch) error {
			r.mu.Lock()
			r.batches = append(r.batches, b)
			r.mu.Unlock()
			r.got <- struct{}{}
			return nil
		})
	}()
	t.Cleanup(func() { r.stop(t) })
	return r
}

func (r *runner) stop(t *testing.T) {
	t.Helper()
	r.cancel()
	select {
	case err := <-r.done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
		r.done <- nil
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}

// events waits until n events arrived and returns the batches so far.
func (r *runner) wait(t *testing.T, n int) []engine.Batch {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		r.mu.Lock()
		c := 0
		for _, b := range r.batches {
			c += len(b.Events)
		}
		bs := append([]engine.Batch(nil), r.batches...)
		r.mu.Unlock()
		if c >= n {
			return bs
		}
		select {
		case <-r.got:
		case <-deadline:
			t.Fatalf("got %d events; want %d", c, n)
		}
	}
}

func events(bs []engine.Batch) []*event.Event {
	var out []*event.Event
	for _, b := range bs {
		out = append(out, b.Events...)
	}
	return out
}

func newInput(t *testing.T, opts, data string, batch int) *Input {
	t.Helper()
	in := plugintest.MustNew(t, New, opts, engine.Resources{ID: "dlq", Pipeline: "replay", BatchSize: batch, DataDir: data})
	in.poll = 10 * time.Millisecond
	return in
}

func TestReplaysWithMetadataAndFollows(t *testing.T) {
	root, data := t.TempDir(), t.TempDir()
	fill(t, root, 0, 5)
	r := start(t, newInput(t, fmt.Sprintf("path = %q", root), data, 125))
	evs := events(r.wait(t, 5))
	for i, e := range evs {
		if m, _ := e.Message(); m != fmt.Sprintf("event %d", i) {
			t.Errorf("event %d message %q", i, m)
		}
		for ref, want := range map[string]any{
			"[@metadata][dead_letter_queue][plugin_type]": "elasticsearch",
			"[@metadata][dead_letter_queue][plugin_id]":   "es",
			"[@metadata][dead_letter_queue][reason]":      fmt.Sprintf("rejected %d", i),
			"[@metadata][target]":                         "logs",
			"[n]":                                         int64(i),
		} {
			if v, _ := e.Get(event.MustRef(ref)); v != want {
				t.Errorf("event %d %s = %#v; want %#v", i, ref, v, want)
			}
		}
		if v, _ := e.Get(event.MustRef("[@metadata][dead_letter_queue][entry_time]")); v == nil {
			t.Errorf("event %d has no entry_time", i)
		} else if ts, ok := v.(time.Time); !ok || time.Since(ts) > time.Minute {
			t.Errorf("event %d entry_time = %#v", i, v)
		}
	}
	// Entries written while the input runs are read too.
	fill(t, root, 5, 8)
	evs = events(r.wait(t, 8))
	if len(evs) != 8 {
		t.Fatalf("got %d events; want 8", len(evs))
	}
	if m, _ := evs[7].Message(); m != "event 7" {
		t.Errorf("last message %q; want event 7", m)
	}
}

// The position is committed only up to the batches acknowledged in order; a
// restart resumes there.
func TestCommitOffsetsOnAckInOrder(t *testing.T) {
	root, data := t.TempDir(), t.TempDir()
	fill(t, root, 0, 9)
	in := newInput(t, fmt.Sprintf("path = %q", root), data, 3)
	r := start(t, in)
	bs := r.wait(t, 9)
	if len(bs) != 3 {
		t.Fatalf("%d batches; want 3 of 3", len(bs))
	}
	want := filepath.Join(data, "plugins", "inputs", "dead_letter_queue", "main", "sincedb_replay_dlq")
	if in.sincedb != want {
		t.Fatalf("sincedb = %q; want %q", in.sincedb, want)
	}
	if _, err := os.Stat(in.sincedb); !os.IsNotExist(err) {
		t.Fatalf("sincedb written before any ack: %v", err)
	}
	bs[1].Ack(nil) // out of order: nothing can be committed yet
	if _, err := os.Stat(in.sincedb); !os.IsNotExist(err) {
		t.Fatalf("sincedb written before the first batch was acked: %v", err)
	}
	bs[0].Ack(nil)
	r.stop(t)

	// Restart: batches 0 and 1 were committed, batch 2 is read again.
	r2 := start(t, newInput(t, fmt.Sprintf("path = %q", root), data, 3))
	evs := events(r2.wait(t, 3))
	if m, _ := evs[0].Message(); m != "event 6" || len(evs) != 3 {
		t.Fatalf("after restart got %d events starting with %q; want 3 starting with event 6", len(evs), m)
	}
}

func TestWithoutCommitOffsetsReadsFromStart(t *testing.T) {
	root, data := t.TempDir(), t.TempDir()
	fill(t, root, 0, 4)
	opts := fmt.Sprintf("path = %q\ncommit_offsets = false", root)
	r := start(t, newInput(t, opts, data, 125))
	for _, b := range r.wait(t, 4) {
		if b.Ack != nil {
			t.Fatal("batch has an Ack without commit_offsets")
		}
	}
	r.stop(t)
	r2 := start(t, newInput(t, opts, data, 125))
	if n := len(events(r2.wait(t, 4))); n != 4 {
		t.Fatalf("second run read %d; want 4", n)
	}
	if ents, _ := os.ReadDir(data); len(ents) != 0 {
		t.Errorf("data dir holds %d entries; want none", len(ents))
	}
}

func TestStartTimestampSkipsOlderEntries(t *testing.T) {
	root, data := t.TempDir(), t.TempDir()
	fill(t, root, 0, 3)
	time.Sleep(20 * time.Millisecond)
	cut := time.Now().UTC()
	time.Sleep(20 * time.Millisecond)
	fill(t, root, 3, 5)
	opts := fmt.Sprintf("path = %q\nstart_timestamp = %q", root, cut.Format("2006-01-02T15:04:05.000Z"))
	r := start(t, newInput(t, opts, data, 125))
	evs := events(r.wait(t, 2))
	time.Sleep(50 * time.Millisecond)
	evs = events(r.wait(t, 0))
	if len(evs) != 2 {
		t.Fatalf("got %d events; want 2 (the ones after start_timestamp)", len(evs))
	}
	if m, _ := evs[0].Message(); m != "event 3" {
		t.Errorf("first message %q; want event 3", m)
	}
}

func TestOptionErrors(t *testing.T) {
	for _, tc := range []struct{ opts, want string }{
		{``, `"path" is required`},
		{`path = "/x"` + "\n" + `pipeline_id = "../etc"`, "pipeline_id"},
		{`path = "/x"` + "\n" + `start_timestamp = "yesterday"`, "start_timestamp"},
	} {
		diags := plugintest.BuildDiags(t, ir.Input, "dead_letter_queue", tc.opts)
		if !diags.HasErrors() || !strings.Contains(diags.Error(), tc.want) {
			t.Errorf("options %q: diags %v; want an error about %s", tc.opts, diags, tc.want)
		}
	}
}

// Cancelling stops the input between batches even while the queue holds more.
func TestStopsWhileQueueHoldsMore(t *testing.T) {
	root, data := t.TempDir(), t.TempDir()
	fill(t, root, 0, 50)
	in := newInput(t, fmt.Sprintf("path = %q", root), data, 5)
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	err := in.Run(ctx, func(b engine.Batch) error {
		n += len(b.Events)
		if n >= 10 {
			cancel()
		}
		return nil
	})
	if err != nil || n != 10 {
		t.Fatalf("Run = %v after %d events; want nil after 10", err, n)
	}
}

// An encrypted queue (the writer given dead_letter_queue.encryption_key_path)
// is replayed by the input given the same key file; the files hold no
// plaintext.
func TestReplaysEncryptedQueue(t *testing.T) {
	root, data := t.TempDir(), t.TempDir()
	keyFile := filepath.Join(t.TempDir(), "dlq.key")
	if err := os.WriteFile(keyFile, []byte(strings.Repeat("ab", 32)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	w, err := dlq.Open(dlq.Options{Dir: filepath.Join(root, "main"), EncryptionKeyPath: keyFile})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := w.Put(event.NewMessage(fmt.Sprintf("secret event %d", i)), engine.DeadLetterSource{Pipeline: "main", PluginType: "elasticsearch", PluginID: "es"}, "rejected"); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	segs, _ := filepath.Glob(filepath.Join(root, "main", "*.dlq"))
	for _, s := range segs {
		if b, _ := os.ReadFile(s); strings.Contains(string(b), "secret event") {
			t.Fatalf("%s holds plaintext", s)
		}
	}
	r := start(t, newInput(t, fmt.Sprintf("path = %q\nencryption_key_path = %q", root, keyFile), data, 125))
	evs := events(r.wait(t, 3))
	if m, _ := evs[2].Message(); m != "secret event 2" {
		t.Fatalf("message %q", m)
	}
}
