package jsonlines

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/plugins/internal/linereader"
	"github.com/pipelined/pipeline/plugins/internal/testkit/plugintest"
)

func TestGolden(t *testing.T) {
	plugintest.RunCodecGolden(t, plugintest.CodecBuilder(New))
}

func newCodec(t testing.TB, hcl string) *Codec {
	t.Helper()
	return plugintest.MustNew(t, New, hcl, engine.Resources{})
}

func TestDecodeContinuesAfterTooLongLine(t *testing.T) {
	c := newCodec(t, "decode_size_limit_bytes = 8")
	in := `{"a":1}` + "\n" + strings.Repeat("x", 100<<10) + "\n" + `{"b":2}` + "\n"
	for _, r := range []io.Reader{strings.NewReader(in), iotest.OneByteReader(strings.NewReader(in))} {
		dec := c.NewDecoder(r)
		var got []string
		for {
			e, err := dec.Decode()
			if err == io.EOF {
				break
			}
			if err != nil {
				if !errors.Is(err, linereader.ErrTooLong) {
					t.Fatalf("Decode error %v; want ErrTooLong", err)
				}
				got = append(got, "too long")
				continue
			}
			got = append(got, string(e.AppendJSON(nil)[len(`{"@timestamp":"2026-11-24T10:00:01.000Z",`):]))
		}
		want := []string{`"@version":"1","a":1}`, "too long", `"@version":"1","b":2}`}
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("got %q; want %q", got, want)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	c := newCodec(t, "")
	e, err := event.FromJSON([]byte(`{"@timestamp":"2026-11-24T10:00:01.5Z","message":"m","a":{"b":[1,2.5,"x"]}}`))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	enc := c.NewEncoder(&buf)
	for range 3 {
		if err := enc.Encode(e); err != nil {
			t.Fatal(err)
		}
	}
	dec := c.NewDecoder(&buf)
	for i := range 3 {
		got, err := dec.Decode()
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		if a, b := string(got.AppendJSON(nil)), string(e.AppendJSON(nil)); a != b {
			t.Errorf("event %d = %s; want %s", i, a, b)
		}
	}
	if _, err := dec.Decode(); err != io.EOF {
		t.Errorf("Decode at end = %v; want io.EOF", err)
	}
}

func benchEvent() *event.Event {
	e, err := event.FromJSON([]byte(`{"@timestamp":"2026-11-24T10:00:01.123Z","message":"<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8",` +
		`"host":{"name":"web-01"},"event":{"original":"<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8"},` +
		`"priority":34,"program":"su","timestamp":"Oct 11 22:14:15","logsource":"mymachine","tags":["syslog"]}`))
	if err != nil {
		panic(err)
	}
	return e
}

func BenchmarkEncode(b *testing.B) {
	c := newCodec(b, "")
	e := benchEvent()
	var n countWriter
	enc := c.NewEncoder(&n)
	b.ReportAllocs()
	for b.Loop() {
		if err := enc.Encode(e); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(n.n / int64(b.N))
}

func BenchmarkDecode(b *testing.B) {
	c := newCodec(b, "")
	line := append(benchEvent().AppendJSON(nil), '\n')
	data := bytes.Repeat(line, 1000)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		dec := c.NewDecoder(bytes.NewReader(data))
		for {
			if _, err := dec.Decode(); err != nil {
				if err != io.EOF {
					b.Fatal(err)
				}
				break
			}
		}
	}
}

type countWriter struct{ n int64 }

func (w *countWriter) Write(p []byte) (int, error) { w.n += int64(len(p)); return len(p), nil }
