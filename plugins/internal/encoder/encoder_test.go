package encoder

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/pipelined/pipeline/engine/event"
)

type recordWriter struct{ writes []string }

func (w *recordWriter) Write(p []byte) (int, error) {
	w.writes = append(w.writes, string(p))
	return len(p), nil
}

func TestEncode(t *testing.T) {
	var w recordWriter
	render := func(dst []byte, e *event.Event) []byte {
		m, _ := e.Message()
		return append(dst, m...)
	}
	enc := New(&w, render, []byte("\n"))
	big := strings.Repeat("x", maxKeep+1)
	for _, m := range []string{"a", big, "bc"} {
		if err := enc.Encode(event.NewMessage(m)); err != nil {
			t.Fatal(err)
		}
	}
	if got := strings.Join(w.writes, "|"); got != "a\n|"+big+"\n|bc\n" {
		t.Errorf("writes %.40q", w.writes)
	}
	if c := cap(enc.(*encoder).buf); c > maxKeep {
		t.Errorf("kept a buffer of %d bytes", c)
	}
}

type failWriter struct{ err error }

func (w failWriter) Write([]byte) (int, error) { return 0, w.err }

func TestEncodeWriteError(t *testing.T) {
	boom := errors.New("boom")
	if err := New(failWriter{boom}, JSON, nil).Encode(event.NewMessage("x")); !errors.Is(err, boom) {
		t.Errorf("Encode error = %v; want %v", err, boom)
	}
}

func TestJSON(t *testing.T) {
	e := event.NewMessage("m")
	if got, want := JSON([]byte("x"), e), append([]byte("x"), e.AppendJSON(nil)...); !bytes.Equal(got, want) {
		t.Errorf("JSON = %s; want %s", got, want)
	}
}
