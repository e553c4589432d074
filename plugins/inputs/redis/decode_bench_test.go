package redis

import (
	"fmt"
	"strings"
	"testing"
)

// BenchmarkDecodeBatch decodes a batch of 500 300-byte JSON elements, as the
// list reader does for each batch it reads.
func BenchmarkDecodeBatch(b *testing.B) {
	in := &Input{codec: jsonCodec(b)}
	elem := fmt.Sprintf(`{"message":%q,"host":{"name":"web-01"}}`, strings.Repeat("x", 250))
	elems := make([]string, 500)
	for i := range elems {
		elems[i] = elem
	}
	b.ReportAllocs()
	for b.Loop() {
		if evs := in.decode(elems, nil); len(evs) != len(elems) {
			b.Fatal(len(evs))
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(elems)), "ns/element")
}
