package jsonlines

import (
	"bytes"
	"io"
	"testing"

	"github.com/pipelined/pipeline/engine"
)

// FuzzDecode: any bytes through the json_lines codec (tcp's json) give one
// event per line, parsed or tagged _jsonparsefailure, never a panic or an
// error that ends the stream early.
func FuzzDecode(f *testing.F) {
	f.Add([]byte("{\"a\":1}\n{\"b\":[1,2,{\"c\":null}]}\n"))
	f.Add([]byte("not json\n{\"@timestamp\":\"x\"}\n[1,2]\n"))
	f.Add([]byte("{\"a\":" + string(bytes.Repeat([]byte("["), 2000)) + "\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		o := Options{}
		o.Defaults()
		c, err := New(o, engine.Resources{})
		if err != nil {
			t.Fatal(err)
		}
		d := c.NewDecoder(bytes.NewReader(data))
		lines := bytes.Count(data, []byte("\n")) + 1
		n := 0
		for {
			e, err := d.Decode()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if e == nil {
				t.Fatal("nil event without an error")
			}
			n++
			if n > lines {
				t.Fatalf("%d events from %d lines", n, lines)
			}
		}
	})
}
