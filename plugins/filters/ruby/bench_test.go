package ruby_test

import (
	"testing"

	"github.com/pipelined/pipeline/engine/event"
	_ "github.com/pipelined/pipeline/plugins/filters/mutate"
	"github.com/pipelined/pipeline/plugins/internal/testkit/plugintest"
)

// BenchmarkPipeline runs the same events through one filter setting a field,
// written as mutate and as ruby code, so the ruby filter's cost reads as a
// ratio (events/s of ruby ÷ events/s of mutate).
func BenchmarkPipeline(b *testing.B) {
	events := func(n int) []*event.Event {
		out := make([]*event.Event, n)
		for i := range out {
			out[i] = event.NewMessage("GET /index.html 200 1234")
		}
		return out
	}
	for _, c := range []struct{ name, typ, opts string }{
		{"mutate", "mutate", `add_field = { "x" = "1" }`},
		{"ruby", "ruby", `code = "event.set('x', '1')"`},
	} {
		b.Run(c.name, func(b *testing.B) {
			in := events(b.N)
			b.ResetTimer()
			out := plugintest.Filter(b, c.typ, c.opts, in...)
			if len(out) != b.N {
				b.Fatalf("%d events out of %d", len(out), b.N)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}
