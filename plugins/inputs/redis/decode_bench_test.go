package redis

import (
	"fmt"
	"strings"
	"testing"

	jsoncodec "github.com/pipelined/pipeline/plugins/codecs/json"
	"github.com/pipelined/pipeline/plugins/internal/testkit/plugintest"
)

// BenchmarkDecodeBatch decodes a batch of 500 JSON elements, as the list
// reader does for each batch it reads: "ecs" 300-byte elements with the
// codec's defaults (a copy of each in [event][original]); "w4" the elements
// of the W4 workload (examples/bench/w4.hcl: a syslog line as go-redis's
// producer encodes it, with "<" and ">" escaped, and the codec without
// [event][original]).
func BenchmarkDecodeBatch(b *testing.B) {
	w4, err := plugintest.CodecBuilder(jsoncodec.New)([]byte(`ecs_compatibility = "disabled"`))
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name string
		in   *Input
		elem string
	}{
		{"ecs", &Input{codec: jsonCodec(b)}, fmt.Sprintf(`{"message":%q,"host":{"name":"web-01"}}`, strings.Repeat("x", 250))},
		{"w4", &Input{codec: w4}, `{"@timestamp":"2026-12-08T00:03:05.95746751Z","message":"\u003c87\u003eOct  9 00:48:51 cache-01 sudo[45853]: nagios : TTY=pts/5 ; PWD=/home/backup ; USER=root ; COMMAND=/usr/bin/systemctl restart postgresql","host":"vm","type":"syslog"}`},
	} {
		b.Run(bc.name, func(b *testing.B) {
			elems := make([]string, 500)
			for i := range elems {
				elems[i] = bc.elem
			}
			b.ReportAllocs()
			for b.Loop() {
				if evs := bc.in.decode(elems, nil); len(evs) != len(elems) {
					b.Fatal(len(evs))
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(elems)), "ns/element")
		})
	}
}
