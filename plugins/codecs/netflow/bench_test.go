package netflow

import (
	"bytes"
	"strings"
	"testing"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/plugins/codecs/jsonlines"
	"github.com/pipelined/pipeline/plugins/internal/testkit/plugintest"
)

// v9Bench is a packet of a template flowset and 30 data records, the
// usual size of an exporter's datagram.
func v9Bench() []byte {
	var b buf
	v9Header(&b, 31, 1)
	v9Template(&b)
	v9Data(&b, 30)
	return b.Bytes()
}

func decodeCount(b *testing.B, c engine.Codec, p []byte) {
	for b.Loop() {
		d := c.NewDecoder(bytes.NewReader(p))
		n := 0
		for {
			if _, err := d.Decode(); err != nil {
				break
			}
			n++
		}
		if n != 30 {
			b.Fatalf("%d events", n)
		}
	}
}

// BenchmarkDecodeV9 decodes a 30-record NetFlow v9 packet; its peer,
// BenchmarkDecodeJSONLinesPeer, decodes the same 30 events written as JSON
// lines with the json_lines codec, in the same run.
func BenchmarkDecodeV9(b *testing.B) {
	c := plugintest.MustNew(b, New, ``, engine.Resources{})
	p := v9Bench()
	b.SetBytes(int64(len(p)))
	decodeCount(b, c, p)
}

func BenchmarkDecodeJSONLinesPeer(b *testing.B) {
	c := plugintest.MustNew(b, New, ``, engine.Resources{})
	var lines strings.Builder
	d := c.NewDecoder(bytes.NewReader(v9Bench()))
	for {
		e, err := d.Decode()
		if err != nil {
			break
		}
		lines.WriteString(plugintest.EventJSON(e, e.Timestamp().Add(1)))
		lines.WriteByte('\n')
	}
	jl := plugintest.MustNew(b, jsonlines.New, ``, engine.Resources{})
	p := []byte(lines.String())
	b.SetBytes(int64(len(p)))
	decodeCount(b, jl, p)
}
