package multiline

import (
	"errors"
	"io"
	"testing"
	"time"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/plugins/internal/testkit/plugintest"
)

func TestGolden(t *testing.T) {
	plugintest.RunCodecGolden(t, plugintest.CodecBuilder(New))
}

// TestAutoFlush: on a stream that stays open, the event being built is
// emitted once no line came for auto_flush_interval; without it, it waits.
func TestAutoFlush(t *testing.T) {
	for _, interval := range []string{"0.2", ""} {
		opts := "pattern = \"^\\\\s\"\nwhat = \"previous\"\n"
		if interval != "" {
			opts += "auto_flush_interval = " + interval + "\n"
		}
		c := plugintest.MustNew(t, New, opts, engine.Resources{})
		pr, pw := io.Pipe()
		dec := c.NewDecoder(pr)
		got := make(chan string, 4)
		go func() {
			for {
				e, err := dec.Decode()
				if err != nil {
					close(got)
					return
				}
				m, _ := e.GetString(messageRef)
				got <- m
			}
		}()
		_, _ = pw.Write([]byte("first\n  more\n"))
		select {
		case m := <-got:
			if interval == "" {
				t.Fatalf("without auto_flush_interval, %q came before the stream ended", m)
			}
			if m != "first\n  more" {
				t.Fatalf("auto flush gave %q", m)
			}
		case <-time.After(1500 * time.Millisecond):
			if interval != "" {
				t.Fatal("no auto flush")
			}
		}
		_, _ = pw.Write([]byte("second\n"))
		pw.Close()
		var rest []string
		for m := range got {
			rest = append(rest, m)
		}
		want := []string{"second"}
		if interval == "" {
			want = []string{"first\n  more", "second"}
		}
		if len(rest) != len(want) || rest[0] != want[0] || rest[len(rest)-1] != want[len(want)-1] {
			t.Errorf("interval %q: then %q; want %q", interval, rest, want)
		}
	}
}

// TestPerStream: two streams decoded at once build their events apart (each
// connection of an input has its own decoder).
func TestPerStream(t *testing.T) {
	c := plugintest.MustNew(t, New, "pattern = \"^\\\\s\"\nwhat = \"previous\"\necs_compatibility = \"disabled\"\n", engine.Resources{})
	ar, aw := io.Pipe()
	br, bw := io.Pipe()
	da, db := c.NewDecoder(ar), c.NewDecoder(br)
	// Written interleaved: A1, B1, then a2 and b2.
	b1 := make(chan struct{})
	go func() {
		aw.Write([]byte("A1\n"))
		<-b1
		aw.Write([]byte(" a2\n"))
		aw.Close()
	}()
	go func() {
		bw.Write([]byte("B1\n"))
		close(b1)
		bw.Write([]byte(" b2\n"))
		bw.Close()
	}()
	decode := func(d engine.Decoder, into *string, done chan<- error) {
		e, err := d.Decode()
		if err == nil {
			*into, _ = e.GetString(messageRef)
		}
		done <- err
	}
	var ma, mb string
	done := make(chan error, 2)
	go decode(da, &ma, done)
	go decode(db, &mb, done)
	for range 2 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if ma != "A1\n a2" || mb != "B1\n b2" {
		t.Errorf("got %q and %q", ma, mb)
	}
}

var messageRef = event.MustRef("message")

// panicReader panics on its first Read: a bug in the stream under the codec.
type panicReader struct{}

func (panicReader) Read([]byte) (int, error) { panic("injected panic in Read") }

// With auto_flush_interval the lines are read on a goroutine of the codec's
// own: a panic there is recovered, counted, and ends the stream with a
// *engine.PanicError, not the process.
func TestReaderPanicRecovered(t *testing.T) {
	c := plugintest.MustNew(t, New, "pattern = \"^\\\\s\"\nwhat = \"previous\"\nauto_flush_interval = 1\n", engine.Resources{})
	before := engine.PanicsRecovered()
	errc := make(chan error, 1)
	go func() {
		_, err := c.NewDecoder(panicReader{}).Decode()
		errc <- err
	}()
	select {
	case err := <-errc:
		var perr *engine.PanicError
		if !errors.As(err, &perr) {
			t.Fatalf("Decode = %v; want the reader's panic as a *engine.PanicError", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Decode did not return within 10 s of the reader's panic")
	}
	if engine.PanicsRecovered() == before {
		t.Error("the panic was not counted")
	}
}
