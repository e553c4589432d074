package file

import (
	"compress/gzip"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/plugins/codecs/jsonlines"
	"github.com/pipelined/pipeline/plugins/internal/testkit/plugintest"
)

var ctx = context.Background()

func newOutput(t *testing.T, opts string) *Output {
	t.Helper()
	c := plugintest.MustNew(t, jsonlines.New, "", engine.Resources{})
	o := plugintest.MustNew(t, New, opts, engine.Resources{Codec: c})
	if err := o.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { o.Close(ctx) })
	return o
}

// ev makes an event from JSON with a fixed @timestamp.
func ev(t *testing.T, js string) *event.Event {
	t.Helper()
	e, err := event.FromJSON([]byte(js))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := e.Fields()["@timestamp"].(time.Time); ok && !strings.Contains(js, "@timestamp") {
		e.SetTimestamp(time.Date(2026, 11, 24, 10, 0, 1, 0, time.UTC))
	}
	return e
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func line(msg string) string {
	return `{"@timestamp":"2026-11-24T10:00:01.000Z","@version":"1","message":"` + msg + `"}` + "\n"
}

// hcl quotes s as an HCL string, escaping sprintf references.
func hcl(s string) string { return `"` + strings.ReplaceAll(s, "%{", "%%{") + `"` }

func TestAppendAcrossWrites(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "new", "sub", "out.log")
	o := newOutput(t, "path = "+hcl(path))
	if err := o.Write(ctx, []*event.Event{ev(t, `{"message":"a"}`), ev(t, `{"message":"b"}`)}); err != nil {
		t.Fatal(err)
	}
	if got, want := read(t, path), line("a")+line("b"); got != want {
		t.Errorf("after one Write:\n%s\nwant:\n%s", got, want)
	}
	if err := o.Write(ctx, []*event.Event{ev(t, `{"message":"c"}`)}); err != nil {
		t.Fatal(err)
	}
	if got, want := read(t, path), line("a")+line("b")+line("c"); got != want {
		t.Errorf("after two Writes:\n%s\nwant:\n%s", got, want)
	}
	// A new output appends to the existing file.
	o2 := newOutput(t, "path = "+hcl(path))
	if err := o2.Write(ctx, []*event.Event{ev(t, `{"message":"d"}`)}); err != nil {
		t.Fatal(err)
	}
	if got := read(t, path); !strings.HasSuffix(got, line("c")+line("d")) {
		t.Errorf("second output did not append:\n%s", got)
	}
}

func TestSprintfPath(t *testing.T) {
	dir := t.TempDir()
	o := newOutput(t, "path = "+hcl(filepath.Join(dir, "%{app}", "%{+YYYY.MM.dd}.log")))
	err := o.Write(ctx, []*event.Event{
		ev(t, `{"message":"1","app":"web","@timestamp":"2026-11-24T10:00:01Z"}`),
		ev(t, `{"message":"2","app":"db","@timestamp":"2026-11-24T10:00:01Z"}`),
		ev(t, `{"message":"3","app":"web","@timestamp":"2026-11-25T10:00:01Z"}`),
		ev(t, `{"message":"4","app":"web","@timestamp":"2026-11-24T23:00:01Z"}`),
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		"web/2026.11.24.log": {"1", "4"},
		"db/2026.11.24.log":  {"2"},
		"web/2026.11.25.log": {"3"},
	}
	for rel, msgs := range want {
		got := read(t, filepath.Join(dir, rel))
		if n := strings.Count(got, "\n"); n != len(msgs) {
			t.Errorf("%s has %d lines; want %d:\n%s", rel, n, len(msgs), got)
		}
		for _, m := range msgs {
			if !strings.Contains(got, `"message":"`+m+`"`) {
				t.Errorf("%s lacks message %s:\n%s", rel, m, got)
			}
		}
	}
}

func TestPathOutsideRootGoesToFailureFile(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "logs")
	o := newOutput(t, "path = "+hcl(filepath.Join(root, "%{app}.log")))
	err := o.Write(ctx, []*event.Event{
		ev(t, `{"message":"evil","app":"../../escaped"}`),
		ev(t, `{"message":"ok","app":"web"}`),
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "escaped.log")); err == nil {
		t.Error("an event escaped the file root")
	}
	if got := read(t, filepath.Join(root, "_filepath_failures")); !strings.Contains(got, `"evil"`) {
		t.Errorf("failure file:\n%s", got)
	}
	if got := read(t, filepath.Join(root, "web.log")); !strings.Contains(got, `"ok"`) {
		t.Errorf("web.log:\n%s", got)
	}
}

func TestCreateIfDeleted(t *testing.T) {
	for _, create := range []bool{true, false} {
		t.Run(map[bool]string{true: "recreate", false: "failure file"}[create], func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "out.log")
			opts := "path = " + hcl(path)
			if !create {
				opts += "\ncreate_if_deleted = false"
				// Without creation, only an existing file is written.
				if err := os.WriteFile(path, nil, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			o := newOutput(t, opts)
			if err := o.Write(ctx, []*event.Event{ev(t, `{"message":"a"}`)}); err != nil {
				t.Fatal(err)
			}
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
			if err := o.Write(ctx, []*event.Event{ev(t, `{"message":"b"}`)}); err != nil {
				t.Fatal(err)
			}
			failure := filepath.Join(dir, "_filepath_failures")
			if create {
				if got := read(t, path); got != line("b") {
					t.Errorf("recreated file:\n%s", got)
				}
			} else {
				if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("deleted file was created again: %v", err)
				}
				if got := read(t, failure); got != line("b") {
					t.Errorf("failure file:\n%s", got)
				}
			}
		})
	}
}

func TestOverwrite(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.json")
	o := newOutput(t, "path = "+hcl(path)+"\nwrite_behavior = \"overwrite\"")
	for _, batch := range [][]string{{"a", "b"}, {"c", "d", "e"}} {
		var evs []*event.Event
		for _, m := range batch {
			evs = append(evs, ev(t, `{"message":"`+m+`"}`))
		}
		if err := o.Write(ctx, evs); err != nil {
			t.Fatal(err)
		}
		if got, want := read(t, path), line(batch[len(batch)-1]); got != want {
			t.Errorf("after batch %v:\n%s\nwant:\n%s", batch, got, want)
		}
	}
}

func TestGzip(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.log.gz")
	o := newOutput(t, "path = "+hcl(path)+"\ngzip = true")
	for _, m := range []string{"a", "b"} {
		if err := o.Write(ctx, []*event.Event{ev(t, `{"message":"`+m+`"}`)}); err != nil {
			t.Fatal(err)
		}
		// Each Write leaves a complete gzip stream.
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		zr, err := gzip.NewReader(f)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(zr)
		f.Close()
		if err != nil {
			t.Fatalf("after Write %s: %v", m, err)
		}
		if !strings.HasSuffix(string(b), line(m)) {
			t.Errorf("after Write %s: %q", m, b)
		}
	}
}

func TestModes(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "d", "out.log")
	o := newOutput(t, "path = "+hcl(path)+"\nfile_mode = 0600\ndir_mode = 700")
	if err := o.Write(ctx, []*event.Event{ev(t, `{"message":"a"}`)}); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]fs.FileMode{path: 0o600, filepath.Dir(path): 0o700} {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if got := st.Mode().Perm(); got != want {
			t.Errorf("%s mode %o; want %o", p, got, want)
		}
	}
}

// A failed Write leaves no partial batch behind, so the retry does not
// duplicate events.
func TestWriteErrorRollsBack(t *testing.T) {
	dir := t.TempDir()
	o := newOutput(t, "path = "+hcl(filepath.Join(dir, "%{d}", "out.log")))
	good := filepath.Join(dir, "good", "out.log")
	if err := o.Write(ctx, []*event.Event{ev(t, `{"message":"before","d":"good"}`)}); err != nil {
		t.Fatal(err)
	}
	// "blocked" is a file, so the directory cannot be created.
	if err := os.WriteFile(filepath.Join(dir, "blocked"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	batch := []*event.Event{ev(t, `{"message":"x","d":"good"}`), ev(t, `{"message":"y","d":"blocked"}`)}
	if err := o.Write(ctx, batch); err == nil {
		t.Fatal("Write succeeded although a directory could not be created")
	}
	if got := read(t, good); strings.Contains(got, `"x"`) {
		t.Errorf("failed batch left data behind:\n%s", got)
	}
	if err := os.Remove(filepath.Join(dir, "blocked")); err != nil {
		t.Fatal(err)
	}
	if err := o.Write(ctx, batch); err != nil {
		t.Fatalf("retry: %v", err)
	}
	if got := read(t, good); strings.Count(got, `"x"`) != 1 || !strings.HasPrefix(got, `{"@timestamp":"2026-11-24T10:00:01.000Z","@version":"1","d":"good","message":"before"}`) {
		t.Errorf("after retry:\n%s", got)
	}
}

func TestStaleFilesClosed(t *testing.T) {
	dir := t.TempDir()
	o := newOutput(t, "path = "+hcl(filepath.Join(dir, "%{f}.log"))+"\nstale_cleanup_interval = 0")
	write := func(f string) {
		t.Helper()
		if err := o.Write(ctx, []*event.Event{ev(t, `{"f":"`+f+`"}`)}); err != nil {
			t.Fatal(err)
		}
	}
	write("a")
	write("b")
	write("b")
	if len(o.files) != 1 || o.files[filepath.Join(dir, "b.log")] == nil {
		t.Errorf("open files %v; want only b.log", o.files)
	}
	write("a") // reopened
	if got := read(t, filepath.Join(dir, "a.log")); strings.Count(got, "\n") != 2 {
		t.Errorf("a.log:\n%s", got)
	}
	if err := o.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if len(o.files) != 0 {
		t.Errorf("files left open after Close: %v", o.files)
	}
}

func TestOptions(t *testing.T) {
	tests := []struct {
		opts, field string
	}{
		{`path = ""`, "path"},
		{`path = "/%%{dir}/x.log"`, "path"},
		{`path = "/tmp/%%{[a}.log"`, "path"},
		{"path = \"/tmp/x\"\nwrite_behavior = \"replace\"", "write_behavior"},
		{"path = \"/tmp/x\"\nfile_mode = 99999", "file_mode"},
		{"path = \"/tmp/x\"\ndir_mode = -2", "dir_mode"},
		{"path = \"/tmp/x\"\nfilename_failure = \"\"", "filename_failure"},
		{"path = \"/tmp/x\"\nstale_cleanup_interval = -1", "stale_cleanup_interval"},
	}
	for _, tc := range tests {
		t.Run(tc.opts, func(t *testing.T) {
			o := plugintest.NewOptions[Options](t, tc.opts)
			err := o.Validate()
			if err == nil {
				_, err = New(o, engine.Resources{Codec: nopCodec{}})
			}
			var fe *engine.FieldError
			if !errors.As(err, &fe) || fe.Field != tc.field {
				t.Errorf("error %v; want a FieldError on %s", err, tc.field)
			}
		})
	}
	// Relative paths and dynamic parts after the first directory are fine.
	for _, p := range []string{"out.log", "/tmp/%%{app}/x.log", "%%{app}.log"} {
		o := plugintest.NewOptions[Options](t, "path = \""+p+"\"")
		if _, err := New(o, engine.Resources{Codec: nopCodec{}}); err != nil {
			t.Errorf("path %s: %v", p, err)
		}
	}
}

func TestParseMode(t *testing.T) {
	for in, want := range map[int]fs.FileMode{-1: 0o644, 640: 0o640, 755: 0o755, 488: 0o750, 0: 0, 1777: 0o777 | fs.ModeSticky} {
		got, err := parseMode(in, 0o644)
		if err != nil || got != want {
			t.Errorf("parseMode(%d) = %o, %v; want %o", in, got, err, want)
		}
	}
	for _, in := range []int{-2, 8000, 99999} {
		if _, err := parseMode(in, 0); err == nil {
			t.Errorf("parseMode(%d) succeeded", in)
		}
	}
}

type nopCodec struct{}

func (nopCodec) NewDecoder(io.Reader) engine.Decoder { return nil }
func (nopCodec) NewEncoder(io.Writer) engine.Encoder { return nil }

func BenchmarkWrite(b *testing.B) {
	c, _ := jsonlines.New(plugintest.NewOptions[jsonlines.Options](b, ""), engine.Resources{})
	o, err := New(plugintest.NewOptions[Options](b, "path = "+hcl(filepath.Join(b.TempDir(), "out.log"))), engine.Resources{Codec: c})
	if err != nil {
		b.Fatal(err)
	}
	defer o.Close(ctx)
	batch := make([]*event.Event, 125)
	for i := range batch {
		batch[i] = event.NewMessage("<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8")
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := o.Write(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(batch)), "ns/event")
}

// TestBigBatchesKeepOrder: batches big enough to be encoded in parallel
// chunks are written whole and in order, plain and gzipped, across Writes of
// several sizes (including uneven chunk splits).
func TestBigBatchesKeepOrder(t *testing.T) {
	for _, gz := range []bool{false, true} {
		dir := t.TempDir()
		path := filepath.Join(dir, "out.log")
		opts := "path = " + hcl(path)
		if gz {
			opts += "\ngzip = true"
		}
		o := newOutput(t, opts)
		var want strings.Builder
		n := 0
		for _, size := range []int{1000, 257, 3, 2048} {
			evs := make([]*event.Event, size)
			for i := range evs {
				m := strconv.Itoa(n)
				n++
				evs[i] = ev(t, `{"message":"`+m+`"}`)
				want.WriteString(line(m))
			}
			if err := o.Write(ctx, evs); err != nil {
				t.Fatal(err)
			}
		}
		got := read(t, path)
		if gz {
			var b strings.Builder
			f, _ := os.Open(path)
			zr, err := gzip.NewReader(f)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.Copy(&b, zr); err != nil {
				t.Fatal(err)
			}
			f.Close()
			got = b.String()
		}
		if got != want.String() {
			t.Fatalf("gzip=%v: file differs from the events in order (%d vs %d bytes)", gz, len(got), want.Len())
		}
	}
}

// A Write cut short by a kill leaves half a line; the batch is delivered again
// after the restart, and the next open must not glue it onto that half line.
func TestTornLastLineCutOnOpen(t *testing.T) {
	for name, tc := range map[string]struct{ before, want string }{
		"torn after whole lines": {line("a") + `{"@timestamp":"2026-11-`, line("a") + line("b")},
		"torn first line":        {`{"@times`, line("b")},
		"whole lines kept":       {line("a"), line("a") + line("b")},
	} {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "out.log")
			if err := os.WriteFile(p, []byte(tc.before), 0o644); err != nil {
				t.Fatal(err)
			}
			o := newOutput(t, "path = "+hcl(p))
			if err := o.Write(ctx, []*event.Event{ev(t, `{"message":"b"}`)}); err != nil {
				t.Fatal(err)
			}
			if got := read(t, p); got != tc.want {
				t.Fatalf("file = %q; want %q", got, tc.want)
			}
		})
	}
}
