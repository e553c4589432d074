package file_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pipelined/pipeline/dsl"
	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
	_ "github.com/pipelined/pipeline/plugins/all"
)

// collect is an output that keeps what it is given; while hold is set, its
// Writes wait (nothing is acknowledged).
type collect struct {
	mu     sync.Mutex
	msgs   []string
	paths  []string
	hold   chan struct{}
	closed bool
	// arrived counts the events that reached the output, held or not.
	arrived atomic.Int64
}

var sinks sync.Map

type sinkOptions struct {
	Token string `hcl:"token"`
}

type sinkOut struct{ c *collect }

func (o sinkOut) Connect(context.Context) error { return nil }
func (o sinkOut) Close(context.Context) error   { return nil }
func (o sinkOut) Write(ctx context.Context, evs []*event.Event) error {
	o.c.arrived.Add(int64(len(evs)))
	if o.c.hold != nil {
		select {
		case <-o.c.hold:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	o.c.mu.Lock()
	defer o.c.mu.Unlock()
	for _, e := range evs {
		m, _ := e.Message()
		o.c.msgs = append(o.c.msgs, m)
		p, _ := e.GetString(event.MustRef("path"))
		o.c.paths = append(o.c.paths, p)
	}
	return nil
}

func init() {
	engine.RegisterOutput("filetest_sink", func(o sinkOptions, _ engine.Resources) (sinkOut, error) {
		v, _ := sinks.Load(o.Token)
		return sinkOut{c: v.(*collect)}, nil
	})
}

func (c *collect) lines() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.msgs...)
}

type run struct {
	c      *collect
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
}

// start runs `input "file" { <opts> }` into a collecting output.
func start(t *testing.T, opts string, c *collect) *run {
	t.Helper()
	return startQueue(t, opts, c, engine.QueueSettings{})
}

// startQueue is start with the given queue settings.
func startQueue(t *testing.T, opts string, c *collect, q engine.QueueSettings) *run {
	t.Helper()
	tok := fmt.Sprintf("%s-%d", t.Name(), time.Now().UnixNano())
	sinks.Store(tok, c)
	src := fmt.Sprintf("input \"file\" {\n%s\n  ecs_compatibility = \"disabled\"\n  stat_interval = \"20ms\"\n  discover_interval = 1\n}\noutput \"filetest_sink\" {\n  token = %q\n}\n", opts, tok)
	cfg, diags := dsl.LoadSource("file.hcl", []byte(src))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	pl, diags := engine.Build(cfg.Pipelines[0], engine.Default, engine.Settings{Workers: 1, BatchSize: 10,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), DataDir: t.TempDir(), Queue: q})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &run{c: c, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- pl.Run(ctx) }()
	t.Cleanup(func() { r.stop(t) })
	return r
}

func (r *run) stop(t *testing.T) {
	r.once.Do(func() {
		r.cancel()
		if r.c.hold != nil && !r.c.closed {
			r.c.closed = true
			close(r.c.hold)
		}
		select {
		case <-r.done:
		case <-time.After(10 * time.Second):
			t.Error("pipeline did not stop")
		}
	})
}

func waitLines(t *testing.T, c *collect, n int) []string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := c.lines()
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("got %d lines %q, want %d", len(got), got, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func appendLines(t *testing.T, path string, lines ...string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, l := range lines {
		if _, err := f.WriteString(l + "\n"); err != nil {
			t.Fatal(err)
		}
	}
}

func opts(dir, pattern string, extra ...string) string {
	return fmt.Sprintf("  path = [%q]\n  sincedb_path = %q\n  %s", filepath.Join(dir, pattern), filepath.Join(dir, "sincedb"), strings.Join(extra, "\n  "))
}

// Tail mode from the beginning: existing lines, then lines appended, with
// path and host set; a line without its newline waits for it.
func TestTailFollowsAppends(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "app.log")
	appendLines(t, log, "one", "two")
	c := &collect{}
	start(t, opts(dir, "*.log", `start_position = "beginning"`), c)
	waitLines(t, c, 2)
	appendLines(t, log, "three")
	f, _ := os.OpenFile(log, os.O_WRONLY|os.O_APPEND, 0)
	f.WriteString("fo")
	got := waitLines(t, c, 3)
	time.Sleep(100 * time.Millisecond)
	if got = c.lines(); strings.Join(got, ",") != "one,two,three" {
		t.Fatalf("lines %q", got)
	}
	f.WriteString("ur\n")
	f.Close()
	if got = waitLines(t, c, 4); got[3] != "four" {
		t.Fatalf("lines %q", got)
	}
	if c.paths[0] != log {
		t.Fatalf("path = %q", c.paths[0])
	}
}

// start_position "end" (the default) skips what a file held at startup.
func TestTailStartsAtEnd(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "app.log")
	appendLines(t, log, "old")
	c := &collect{}
	start(t, opts(dir, "*.log"), c)
	time.Sleep(200 * time.Millisecond)
	appendLines(t, log, "new")
	if got := waitLines(t, c, 1); strings.Join(got, ",") != "new" {
		t.Fatalf("lines %q", got)
	}
}

// Positions are those acknowledged: lines whose batch was not acknowledged
// when the input stopped are read again after a restart; acknowledged ones
// are not, and lines written while it was stopped are read.
func TestSincedbAfterAcknowledgement(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "app.log")
	appendLines(t, log, "a1", "a2", "a3")
	c := &collect{}
	r := start(t, opts(dir, "*.log", `start_position = "beginning"`), c)
	waitLines(t, c, 3)
	r.stop(t)
	appendLines(t, log, "b1")

	c2 := &collect{}
	r2 := start(t, opts(dir, "*.log", `start_position = "beginning"`), c2)
	if got := waitLines(t, c2, 1); strings.Join(got, ",") != "b1" {
		t.Fatalf("after restart %q; want only b1", got)
	}
	r2.stop(t)

	// Now an output that never acknowledges: nothing is recorded.
	appendLines(t, log, "c1", "c2")
	c3 := &collect{hold: make(chan struct{})}
	r3 := start(t, opts(dir, "*.log", `start_position = "beginning"`), c3)
	time.Sleep(300 * time.Millisecond)
	r3.cancel()
	// The held Write is released only by stop, after the cancel: the input
	// has returned by then, and the acknowledgement still moves the sincedb.
	r3.stop(t)
	c4 := &collect{}
	start(t, opts(dir, "*.log", `start_position = "beginning"`), c4)
	time.Sleep(300 * time.Millisecond)
	if got := c4.lines(); len(got) != 0 {
		t.Fatalf("lines acknowledged at shutdown were read again: %q", got)
	}
}

// With the persisted queue a batch is acknowledged once the queue holds it,
// and the sincedb on disk records it at once, not at the next
// sincedb_write_interval (15 s by default): a crash (which writes nothing
// more) re-reads nothing the queue already holds. The output here never
// acknowledges, so only the queue's acknowledgement can move the position.
// With the memory queue the position waits for the output.
func TestSincedbFollowsPersistedQueue(t *testing.T) {
	for _, persisted := range []bool{true, false} {
		name := map[bool]string{true: "persisted", false: "memory"}[persisted]
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			log := filepath.Join(dir, "app.log")
			appendLines(t, log, "a1", "a2", "a3")
			want := int64(len("a1\na2\na3\n"))
			var q engine.QueueSettings
			if persisted {
				q = engine.QueueSettings{Type: "persisted", Path: filepath.Join(dir, "queue")}
			}
			c := &collect{hold: make(chan struct{})}
			r := startQueue(t, opts(dir, "*.log", `start_position = "beginning"`), c, q)
			db := filepath.Join(dir, "sincedb")
			pos := func() int64 {
				b, _ := os.ReadFile(db)
				var ino, major, minor, p int64
				if _, err := fmt.Sscan(string(b), &ino, &major, &minor, &p); err != nil {
					return -1
				}
				return p
			}
			if persisted {
				// Before the queue's acknowledgement moved it, the sincedb
				// was written every sincedb_write_interval (15 s): 10 s
				// tells the two apart with slack for a loaded machine.
				deadline := time.Now().Add(10 * time.Second)
				for pos() != want && time.Now().Before(deadline) {
					time.Sleep(20 * time.Millisecond)
				}
				if got := pos(); got != want {
					t.Fatalf("the sincedb holds position %d, want %d once the persisted queue holds the lines", got, want)
				}
			} else {
				// The lines reached the held output (read, not acknowledged);
				// a sincedb that followed the read would be written within
				// the 0.1 s the persisted queue's is: 1 s more shows none.
				deadline := time.Now().Add(30 * time.Second)
				for c.arrived.Load() < 3 {
					if time.Now().After(deadline) {
						t.Fatalf("%d of 3 lines reached the output within 30 s", c.arrived.Load())
					}
					time.Sleep(20 * time.Millisecond)
				}
				time.Sleep(time.Second)
				if got := pos(); got > 0 {
					t.Fatalf("the sincedb holds position %d before the output acknowledged anything", got)
				}
			}
			r.stop(t)
		})
	}
}

// Rotation by rename: the old file is read to its end under its new name,
// the new file at the path from its beginning; no line lost or repeated.
func TestRotationByRename(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "app.log")
	appendLines(t, log, "l1", "l2")
	c := &collect{}
	start(t, opts(dir, "app.log", `start_position = "beginning"`), c)
	waitLines(t, c, 2)
	appendLines(t, log, "l3")
	if err := os.Rename(log, log+".1"); err != nil {
		t.Fatal(err)
	}
	appendLines(t, log+".1", "l4") // written by the program before it reopened
	appendLines(t, log, "n1", "n2")
	got := waitLines(t, c, 6)
	time.Sleep(200 * time.Millisecond)
	got = c.lines()
	seen := map[string]int{}
	for _, l := range got {
		seen[l]++
	}
	for _, want := range []string{"l1", "l2", "l3", "l4", "n1", "n2"} {
		if seen[want] != 1 {
			t.Fatalf("line %s seen %d times in %q", want, seen[want], got)
		}
	}
}

// copytruncate: the file shrinks below the position; what is written after
// is read from the start.
func TestCopyTruncate(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "app.log")
	appendLines(t, log, "before-1", "before-2")
	c := &collect{}
	start(t, opts(dir, "*.log", `start_position = "beginning"`), c)
	waitLines(t, c, 2)
	if err := os.Truncate(log, 0); err != nil {
		t.Fatal(err)
	}
	appendLines(t, log, "after")
	if got := waitLines(t, c, 3); got[2] != "after" {
		t.Fatalf("lines %q", got)
	}
}

// Patterns with ** and exclude; read mode reads each file once, logs it as
// completed (last line without newline included) and does not delete it
// with file_completed_action "log".
func TestReadModeGlobExclude(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "a", "b"), 0o755)
	appendLines(t, filepath.Join(dir, "top.log"), "t1")
	appendLines(t, filepath.Join(dir, "a", "b", "deep.log"), "d1")
	appendLines(t, filepath.Join(dir, "a", "skip.log"), "s1")
	os.WriteFile(filepath.Join(dir, "a", "last.log"), []byte("x1\nx2"), 0o644)
	done := filepath.Join(dir, "completed.txt")
	c := &collect{}
	start(t, opts(dir, "**/*.log", `mode = "read"`, `exclude = ["skip*"]`, `file_completed_action = "log"`,
		fmt.Sprintf("file_completed_log_path = %q", done)), c)
	got := waitLines(t, c, 4)
	time.Sleep(300 * time.Millisecond)
	got = c.lines()
	if strings.Join(sorted(got), ",") != "d1,t1,x1,x2" {
		t.Fatalf("lines %q", got)
	}
	b, _ := os.ReadFile(done)
	if n := strings.Count(string(b), "\n"); n != 3 {
		t.Fatalf("completed log %q", b)
	}
	if _, err := os.Stat(filepath.Join(dir, "top.log")); err != nil {
		t.Fatal("file_completed_action log deleted the file")
	}
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

// A file deleted while the input holds it open: what it held, including
// lines written just before the unlink and not yet read, is read to its
// end; the descriptor is then closed (the space is freed), and a new file
// created at the path is read from its start.
func TestFileDeletedWhileOpen(t *testing.T) {
	if _, err := os.Stat("/proc/self/fd"); err != nil {
		t.Skip("needs /proc")
	}
	dir := t.TempDir()
	log := filepath.Join(dir, "app.log")
	appendLines(t, log, "a1", "a2")
	c := &collect{}
	start(t, opts(dir, "*.log", `start_position = "beginning"`), c)
	waitLines(t, c, 2)
	if !holdsOpen(log, "") {
		t.Fatal("the input does not hold the file open")
	}
	appendLines(t, log, "b1", "b2")
	if err := os.Remove(log); err != nil {
		t.Fatal(err)
	}
	waitLines(t, c, 4)
	deadline := time.Now().Add(10 * time.Second)
	for holdsOpen(log, " (deleted)") {
		if time.Now().After(deadline) {
			t.Fatal("the deleted file is still open after 10 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	appendLines(t, log, "c1")
	waitLines(t, c, 5)
	time.Sleep(200 * time.Millisecond)
	if got := c.lines(); strings.Join(sorted(got), ",") != "a1,a2,b1,b2,c1" {
		t.Fatalf("lines %q", got)
	}
}

// holdsOpen reports whether this process holds path open (suffix
// " (deleted)": after its unlink), from Linux's /proc.
func holdsOpen(path, suffix string) bool {
	fds, _ := os.ReadDir("/proc/self/fd")
	for _, fd := range fds {
		if l, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name())); err == nil && l == path+suffix {
			return true
		}
	}
	return false
}

// 1,000 files in 10 directories matched by one ** glob: every line of every
// file is read once, and lines appended to each later too.
func TestThousandFilesOneGlob(t *testing.T) {
	dir := t.TempDir()
	want := map[string]bool{}
	var paths []string
	for d := 0; d < 10; d++ {
		sub := filepath.Join(dir, "logs", fmt.Sprintf("host%02d", d), "app")
		if err := os.MkdirAll(sub, 0o755); err != nil {
			t.Fatal(err)
		}
		for f := 0; f < 100; f++ {
			p := filepath.Join(sub, fmt.Sprintf("svc%03d.log", f))
			paths = append(paths, p)
			l := fmt.Sprintf("%02d-%03d-first", d, f)
			appendLines(t, p, l)
			want[l] = true
		}
	}
	c := &collect{}
	start(t, opts(dir, "logs/**/*.log", `start_position = "beginning"`), c)
	waitN := func(n int) {
		deadline := time.Now().Add(60 * time.Second)
		for len(c.lines()) < n {
			if time.Now().After(deadline) {
				t.Fatalf("%d lines after 60 s, want %d", len(c.lines()), n)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitN(1000)
	for i, p := range paths {
		l := fmt.Sprintf("%04d-second", i)
		appendLines(t, p, l)
		want[l] = true
	}
	waitN(2000)
	time.Sleep(300 * time.Millisecond)
	got := c.lines()
	seen := map[string]int{}
	for _, l := range got {
		seen[l]++
		if !want[l] || seen[l] > 1 {
			t.Fatalf("line %q unexpected or repeated", l)
		}
	}
	if len(seen) != len(want) {
		t.Fatalf("%d distinct lines, want %d", len(seen), len(want))
	}
}
