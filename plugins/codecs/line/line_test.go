package line

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/plugins/internal/testkit/plugintest"
)

func TestGolden(t *testing.T) {
	plugintest.RunCodecGolden(t, plugintest.CodecBuilder(New))
}

func newCodec(t testing.TB, hcl string) *Codec {
	t.Helper()
	return plugintest.MustNew(t, New, hcl, engine.Resources{})
}

func decodeMessages(t *testing.T, c *Codec, r io.Reader) []string {
	t.Helper()
	dec := c.NewDecoder(r)
	var got []string
	for {
		e, err := dec.Decode()
		if err == io.EOF {
			return got
		}
		if err != nil {
			t.Fatalf("Decode: %v", err)
		}
		m, _ := e.Message()
		got = append(got, m)
	}
}

func TestDecodeAcrossReads(t *testing.T) {
	long := strings.Repeat("x", 200<<10) // longer than the read buffer
	tests := []struct {
		name  string
		delim string
		in    string
		want  []string
	}{
		{"one byte reads", "\n", "ab\ncd\n", []string{"ab", "cd"}},
		{"two-byte delimiter split across reads", "\r\n", "a\r\nb\rc\r\n\r\n", []string{"a", "b\rc", ""}},
		{"delimiter prefix repeated", "ab", "xaab" + "aab", []string{"xa", "a"}},
		{"line longer than the buffer", "\n", long + "\nshort\n" + long, []string{long, "short", long}},
		{"long line with long delimiter", "END", long + "END" + long, []string{long, long}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newCodec(t, `delimiter = "`+strings.ReplaceAll(strings.ReplaceAll(tc.delim, "\n", `\n`), "\r", `\r`)+`"`)
			for _, r := range []io.Reader{strings.NewReader(tc.in), iotest.OneByteReader(strings.NewReader(tc.in)), iotest.HalfReader(strings.NewReader(tc.in))} {
				got := decodeMessages(t, c, r)
				if len(got) != len(tc.want) {
					t.Fatalf("Decode(%.40q) gave %d events; want %d", tc.in, len(got), len(tc.want))
				}
				for i := range got {
					if got[i] != tc.want[i] {
						t.Errorf("event %d = %.40q; want %.40q", i, got[i], tc.want[i])
					}
				}
			}
		})
	}
}

// The lines of one read share the time they were read as @timestamp; a later
// read gets a later time.
func TestDecodeTimestampIsReadTime(t *testing.T) {
	pr, pw := io.Pipe()
	dec := newCodec(t, "").NewDecoder(pr)
	go func() {
		io.WriteString(pw, "a\nb\n")
		time.Sleep(20 * time.Millisecond)
		io.WriteString(pw, "c\n")
		pw.Close()
	}()
	var ts []time.Time
	for {
		e, err := dec.Decode()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		ts = append(ts, e.Timestamp())
	}
	if len(ts) != 3 || ts[0] != ts[1] || !ts[2].After(ts[1]) {
		t.Errorf("timestamps %v; want the first two equal and the third later", ts)
	}
}

func TestDecodeReadError(t *testing.T) {
	boom := errors.New("boom")
	c := newCodec(t, "")
	dec := c.NewDecoder(io.MultiReader(strings.NewReader("a\nb"), iotest.ErrReader(boom)))
	if e, err := dec.Decode(); err != nil || e == nil {
		t.Fatalf("first Decode = %v, %v", e, err)
	}
	if _, err := dec.Decode(); !errors.Is(err, boom) {
		t.Fatalf("second Decode error = %v; want %v", err, boom)
	}
	if _, err := dec.Decode(); !errors.Is(err, boom) {
		t.Fatalf("Decode after error = %v; want %v again", err, boom)
	}
}

// The stdin input relies on the codec reading through its own *bufio.Reader.
func TestDecoderUsesCallersBufferedReader(t *testing.T) {
	c := newCodec(t, "")
	br := bufio.NewReaderSize(strings.NewReader("a\nb\nc\n"), 64<<10)
	dec := c.NewDecoder(br)
	if _, err := dec.Decode(); err != nil {
		t.Fatal(err)
	}
	if got := br.Buffered(); got != 4 {
		t.Errorf("after one line the caller's reader holds %d bytes; want 4", got)
	}
}

func TestEncodeWriteError(t *testing.T) {
	c := newCodec(t, "")
	boom := errors.New("boom")
	enc := c.NewEncoder(failWriter{boom})
	if err := enc.Encode(event.NewMessage("x")); !errors.Is(err, boom) {
		t.Errorf("Encode error = %v; want %v", err, boom)
	}
}

type failWriter struct{ err error }

func (w failWriter) Write([]byte) (int, error) { return 0, w.err }

func BenchmarkDecode(b *testing.B) {
	for _, ecs := range []string{"disabled", "v8"} {
		b.Run("ecs="+ecs, func(b *testing.B) {
			c := newCodec(b, `ecs_compatibility = "`+ecs+`"`)
			line := "<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8\n"
			data := []byte(strings.Repeat(line, 10000))
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
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*10000), "ns/line")
		})
	}
}

func BenchmarkEncode(b *testing.B) {
	c := newCodec(b, `format = "%%{message}"`)
	e := event.NewMessage("<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8")
	enc := c.NewEncoder(io.Discard)
	b.ReportAllocs()
	for b.Loop() {
		if err := enc.Encode(e); err != nil {
			b.Fatal(err)
		}
	}
}
