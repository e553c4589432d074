package stdin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/plugins/codecs/jsonlines"
	"github.com/pipelined/pipeline/plugins/codecs/line"
	"github.com/pipelined/pipeline/plugins/internal/testkit/plugintest"
)

func lineCodec(t *testing.T) engine.Codec {
	t.Helper()
	return plugintest.MustNew(t, line.New, "", engine.Resources{})
}

func newInput(t *testing.T, opts string, codec engine.Codec, batchSize int, r io.Reader) *Input {
	t.Helper()
	in := plugintest.MustNew(t, New, opts, engine.Resources{Codec: codec, BatchSize: batchSize})
	in.stdin = r
	return in
}

// recorder is a fake emit that records batches.
type recorder struct {
	mu      sync.Mutex
	batches [][]*event.Event
	signal  chan struct{}
	err     error
}

func newRecorder() *recorder { return &recorder{signal: make(chan struct{}, 1000)} }

func (r *recorder) emit(b engine.Batch) error {
	r.mu.Lock()
	r.batches = append(r.batches, b.Events)
	r.mu.Unlock()
	r.signal <- struct{}{}
	return r.err
}

func (r *recorder) sizes() []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	var s []int
	for _, b := range r.batches {
		s = append(s, len(b))
	}
	return s
}

func (r *recorder) messages() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, b := range r.batches {
		for _, e := range b {
			m, _ := e.Message()
			out = append(out, m)
		}
	}
	return out
}

func (r *recorder) wait(t *testing.T) {
	t.Helper()
	select {
	case <-r.signal:
	case <-time.After(5 * time.Second):
		t.Fatal("no batch emitted")
	}
}

func TestBatching(t *testing.T) {
	var lines strings.Builder
	for i := range 1000 {
		fmt.Fprintf(&lines, "line %d\n", i)
	}
	tests := []struct {
		name      string
		in        string
		batchSize int
		want      []int
	}{
		{"1000 lines in batches of 125", lines.String(), 125, []int{125, 125, 125, 125, 125, 125, 125, 125}},
		{"remainder", "a\nb\nc\nd\ne\n", 2, []int{2, 2, 1}},
		// The partial last line may take a read, so the batch before it is sent first.
		{"last line without newline", "a\nb", 10, []int{1, 1}},
		{"empty input", "", 10, nil},
		{"default batch size", lines.String()[:len("line 0\n")*10] + strings.Repeat("x\n", 200), 0, []int{125, 85}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := newRecorder()
			in := newInput(t, "", lineCodec(t), tc.batchSize, strings.NewReader(tc.in))
			if err := in.Run(context.Background(), rec.emit); err != nil {
				t.Fatalf("Run: %v", err)
			}
			if got := rec.sizes(); fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("batch sizes %v; want %v", got, tc.want)
			}
		})
	}
}

func TestOrderAndHost(t *testing.T) {
	host := mustHostname(t)
	tests := []struct {
		opts, hostField string
	}{
		{"", "[host][hostname]"},
		{`ecs_compatibility = "v1"`, "[host][hostname]"},
		{`ecs_compatibility = "disabled"`, "host"},
	}
	for _, tc := range tests {
		t.Run(tc.opts, func(t *testing.T) {
			rec := newRecorder()
			in := newInput(t, tc.opts, lineCodec(t), 3, strings.NewReader("a\nb\nc\nd\n"))
			if err := in.Run(context.Background(), rec.emit); err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(rec.messages(), ","); got != "a,b,c,d" {
				t.Errorf("messages %s; want a,b,c,d", got)
			}
			e := rec.batches[0][0]
			if got, _ := e.GetString(event.MustRef(tc.hostField)); got != host {
				t.Errorf("%s = %q; want %q (event %s)", tc.hostField, got, host, e.AppendJSON(nil))
			}
		})
	}
}

func TestHostFromCodecKept(t *testing.T) {
	c := plugintest.MustNew(t, jsonlines.New, "", engine.Resources{})
	rec := newRecorder()
	in := newInput(t, `ecs_compatibility = "disabled"`, c, 10, strings.NewReader(`{"host":"sender","message":"m"}`+"\n"))
	if err := in.Run(context.Background(), rec.emit); err != nil {
		t.Fatal(err)
	}
	if got, _ := rec.batches[0][0].GetString(event.MustRef("host")); got != "sender" {
		t.Errorf("host = %q; want the codec's %q", got, "sender")
	}
}

// Lines arriving one at a time (a terminal) are sent at once, each in its own
// batch, and a partial line does not hold back the complete lines before it.
func TestInteractiveLatency(t *testing.T) {
	pr, pw := io.Pipe()
	rec := newRecorder()
	in := newInput(t, "", lineCodec(t), 125, pr)
	done := make(chan error)
	go func() { done <- in.Run(context.Background(), rec.emit) }()

	io.WriteString(pw, "first\n")
	rec.wait(t)
	io.WriteString(pw, "second\nthi")
	rec.wait(t)
	if got := strings.Join(rec.messages(), ","); got != "first,second" {
		t.Fatalf("messages %s; want first,second before the third line is complete", got)
	}
	io.WriteString(pw, "rd\n")
	rec.wait(t)
	pw.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := rec.sizes(); fmt.Sprint(got) != "[1 1 1]" {
		t.Errorf("batch sizes %v; want [1 1 1]", got)
	}
}

func TestCancelWhileReadBlocks(t *testing.T) {
	pr, pw := io.Pipe()
	defer pw.Close()
	rec := newRecorder()
	in := newInput(t, "", lineCodec(t), 125, pr)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- in.Run(ctx, rec.emit) }()
	io.WriteString(pw, "one\n")
	rec.wait(t)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v; want nil after cancel", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel while a read was blocked")
	}
}

func TestEmitError(t *testing.T) {
	rec := newRecorder()
	rec.err = errors.New("aborted")
	in := newInput(t, "", lineCodec(t), 1, strings.NewReader("a\nb\nc\n"))
	if err := in.Run(context.Background(), rec.emit); !errors.Is(err, rec.err) {
		t.Errorf("Run = %v; want %v", err, rec.err)
	}
}

type failingCodec struct{ err error }

func (c failingCodec) NewDecoder(io.Reader) engine.Decoder { return c }
func (c failingCodec) NewEncoder(io.Writer) engine.Encoder { return nil }
func (c failingCodec) Decode() (*event.Event, error)       { return nil, c.err }

func TestDecodeError(t *testing.T) {
	boom := errors.New("boom")
	in := newInput(t, "", failingCodec{boom}, 10, strings.NewReader("x"))
	if err := in.Run(context.Background(), newRecorder().emit); !errors.Is(err, boom) {
		t.Errorf("Run = %v; want %v", err, boom)
	}
}

func TestOptions(t *testing.T) {
	if _, err := plugintest.New(New, plugintest.NewOptions[Options](t, `ecs_compatibility = "v7"`), engine.Resources{Codec: failingCodec{}}); err == nil {
		t.Error("New accepted ecs_compatibility v7")
	}
	if _, err := New(plugintest.NewOptions[Options](t, ""), engine.Resources{}); err == nil {
		t.Error("New accepted a missing codec")
	}
}

func mustHostname(t *testing.T) string {
	return plugintest.MustNew(t, New, "", engine.Resources{Codec: failingCodec{}}).host.(string)
}

// BenchmarkRun is the W1 path up to the pipeline: standard input read through
// the line codec, decorated and batched, with ECS off and on (the default).
func BenchmarkRun(b *testing.B) {
	data := strings.Repeat("<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8\n", 100000)
	for _, ecs := range []string{"disabled", "v8"} {
		b.Run("ecs="+ecs, func(b *testing.B) {
			opts := `ecs_compatibility = "` + ecs + `"`
			c := plugintest.MustNew(b, line.New, opts, engine.Resources{})
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				in := plugintest.MustNew(b, New, opts, engine.Resources{Codec: c, BatchSize: 125})
				in.stdin = strings.NewReader(data)
				if err := in.Run(context.Background(), func(engine.Batch) error { return nil }); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*100000), "ns/line")
		})
	}
}

// panicCodec's decoder panics: a codec bug, or hostile input reaching one.
type panicCodec struct{}
type panicDecoder struct{}

func (panicCodec) NewDecoder(io.Reader) engine.Decoder { return panicDecoder{} }
func (panicCodec) NewEncoder(io.Writer) engine.Encoder { return nil }
func (panicDecoder) Decode() (*event.Event, error)     { panic("decoder bug") }

// TestCodecPanic: the codec runs on the input's reader goroutine, which the
// engine does not guard; a panic there ends the input with an error (the
// engine logs it), not the process.
func TestCodecPanic(t *testing.T) {
	rec := newRecorder()
	in := newInput(t, "", panicCodec{}, 10, strings.NewReader("a\n"))
	err := in.Run(context.Background(), rec.emit)
	var perr *engine.PanicError
	if !errors.As(err, &perr) {
		t.Fatalf("Run = %v; want the recovered panic", err)
	}
}
