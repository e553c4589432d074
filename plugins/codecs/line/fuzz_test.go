package line

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/pipelined/pipeline/engine"
)

// FuzzDecode: any bytes through the line codec (as tcp and stdin stream
// them) give events whose messages, joined by the delimiter, are the input
// (when it is valid UTF-8), never a panic.
func FuzzDecode(f *testing.F) {
	f.Add([]byte("a\nb\r\nc"), "\n")
	f.Add([]byte("\xff\xfe\n\n"), "\n")
	f.Add([]byte("x||y||"), "||")
	f.Fuzz(func(t *testing.T, data []byte, delim string) {
		if delim == "" || len(delim) > 8 {
			delim = "\n"
		}
		o := Options{}
		o.Defaults()
		o.Delimiter = delim
		c, err := New(o, engine.Resources{})
		if err != nil {
			return
		}
		d := c.NewDecoder(bytes.NewReader(data))
		n := 0
		for range len(data) + 2 {
			e, err := d.Decode()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			// Invalid UTF-8 is rewritten (Logstash's inspect form), which
			// may spell the delimiter: only valid input is checked.
			if m, _ := e.Message(); utf8.Valid(data) && strings.Contains(m, delim) {
				t.Fatalf("message %q holds the delimiter %q", m, delim)
			}
			n++
		}
		if want := strings.Count(string(data), delim); n < want {
			t.Fatalf("%d events for %d delimiters", n, want)
		}
	})
}
