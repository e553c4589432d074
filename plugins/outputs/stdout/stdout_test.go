package stdout

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
)

// lineCodec writes "<message>\n" per event.
type lineCodec struct{}

func (lineCodec) NewDecoder(io.Reader) engine.Decoder { return nil }
func (lineCodec) NewEncoder(w io.Writer) engine.Encoder {
	return encoderFunc(func(e *event.Event) error {
		m, _ := e.Message()
		_, err := io.WriteString(w, m+"\n")
		return err
	})
}

type encoderFunc func(*event.Event) error

func (f encoderFunc) Encode(e *event.Event) error { return f(e) }

func events(msgs ...string) []*event.Event {
	var out []*event.Event
	for _, m := range msgs {
		out = append(out, event.NewMessage(m))
	}
	return out
}

func TestWrite(t *testing.T) {
	var buf bytes.Buffer
	o, err := New(Options{}, engine.Resources{Codec: lineCodec{}})
	if err != nil {
		t.Fatal(err)
	}
	o.w = &buf
	ctx := context.Background()
	if err := o.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	for _, batch := range [][]string{{"a", "b"}, {"c"}} {
		if err := o.Write(ctx, events(batch...)); err != nil {
			t.Fatal(err)
		}
		// Flushed at the end of every Write.
		if want := strings.Join(batch, "\n") + "\n"; !strings.HasSuffix(buf.String(), want) {
			t.Errorf("after Write(%v) output is %q", batch, buf.String())
		}
	}
	if err := o.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if got := buf.String(); got != "a\nb\nc\n" {
		t.Errorf("output %q; want a, b, c lines", got)
	}
}

type flakyWriter struct {
	fail bool
	buf  bytes.Buffer
}

func (w *flakyWriter) Write(p []byte) (int, error) {
	if w.fail {
		return 0, errors.New("broken pipe")
	}
	return w.buf.Write(p)
}

func TestWriteErrorThenRetry(t *testing.T) {
	w := &flakyWriter{fail: true}
	o, _ := New(Options{}, engine.Resources{Codec: lineCodec{}})
	o.w = w
	ctx := context.Background()
	_ = o.Connect(ctx)
	if err := o.Write(ctx, events("x")); err == nil {
		t.Fatal("Write succeeded on a failing writer")
	}
	w.fail = false
	if err := o.Write(ctx, events("x")); err != nil {
		t.Fatalf("retry: %v", err)
	}
	if got := w.buf.String(); got != "x\n" {
		t.Errorf("output after retry %q; want x once", got)
	}
}

func TestNoCodec(t *testing.T) {
	if _, err := New(Options{}, engine.Resources{}); err == nil {
		t.Error("New without a codec succeeded")
	}
}
