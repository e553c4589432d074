package ruby_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/pipelined/pipeline/dsl"
	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
	_ "github.com/pipelined/pipeline/plugins/codecs/plain"
	_ "github.com/pipelined/pipeline/plugins/filters/mutate"
	"github.com/pipelined/pipeline/plugins/filters/ruby"
	_ "github.com/pipelined/pipeline/plugins/inputs/generator"
	_ "github.com/pipelined/pipeline/plugins/outputs/null"
)

// perEvent is the ruby filter without FilterBatch: the engine calls it once
// per event, one round trip to the co-process each, as before batching. It
// is the "before" of BenchmarkPipeline, measured in the same run.
type perEvent struct{ f *ruby.Filter }

func (p perEvent) Filter(ctx context.Context, e *event.Event, out []*event.Event) ([]*event.Event, error) {
	return p.f.Filter(ctx, e, out)
}

func (p perEvent) Close() error { return p.f.Close() }

func init() {
	engine.RegisterFilter("ruby_per_event", func(o ruby.Options, r engine.Resources) (perEvent, error) {
		f, err := ruby.New(o, r)
		return perEvent{f}, err
	})
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// BenchmarkPipeline runs the same pipeline (generator → one filter setting a
// field → null, one worker, batches of 125 as Logstash's defaults) with the
// filter written as mutate, as ruby code, and as ruby code called once per
// event (the protocol before batching), one after the other in each
// iteration. Each is run with a short and a long generator and measured on
// the difference, so the fixed costs (starting Ruby, building the pipeline)
// drop out. It reports, as the median over iterations of ratios measured in
// the same iteration: the throughput of ruby and of ruby_per_event as a
// ratio to mutate's (wall time; on a loaded machine this is mostly
// scheduling), the same for the CPU time per event (this process and the
// Ruby co-processes, which it waits for), and the batching's gain.
// Nothing is asserted on time.
func BenchmarkPipeline(b *testing.B) {
	const short, long = 500, 5500
	configs := []struct{ name, filter string }{
		{"mutate", `mutate { add_field => { "x" => "1" } }`},
		{"ruby", `ruby { code => "event.set('x', '1')" }`},
		{"ruby_per_event", `ruby_per_event { code => "event.set('x', '1')" }`},
	}
	run := func(filter string, events int) (wall, cpu time.Duration) {
		src := fmt.Sprintf(`input { generator { lines => ["GET /index.html 200 1234"] count => %d } }
filter { %s }
output { null {} }`, events, filter)
		cfg, diags := dsl.LoadSource("bench.conf", []byte(src))
		if diags.HasErrors() {
			b.Fatal(diags)
		}
		pl, diags := engine.Build(cfg.Pipelines[0], engine.Default, engine.Settings{Workers: 1, BatchSize: 125, Logger: quiet})
		if diags.HasErrors() {
			b.Fatal(diags)
		}
		c0, t0 := cpuTime(), time.Now()
		if err := pl.Run(context.Background()); err != nil {
			b.Fatal(err)
		}
		wall, cpu = time.Since(t0), cpuTime()-c0
		if n := pl.Stats().Out.Load(); n != int64(events) {
			b.Fatalf("%s: %d events out of %d", filter, n, events)
		}
		return wall, cpu
	}
	var ratios [5][]float64
	var wallSum [3]time.Duration
	for range b.N {
		var wall, cpu [3]float64
		for i, c := range configs {
			w1, c1 := run(c.filter, long)
			w0, c0 := run(c.filter, short)
			wall[i] = max(w1-w0, time.Microsecond).Seconds()
			cpu[i] = max(c1-c0, time.Microsecond).Seconds()
			wallSum[i] += max(w1-w0, time.Microsecond)
		}
		for k, r := range []float64{wall[0] / wall[1], wall[0] / wall[2], wall[2] / wall[1], cpu[0] / cpu[1], cpu[0] / cpu[2]} {
			ratios[k] = append(ratios[k], r)
		}
	}
	for i, c := range configs {
		b.ReportMetric(float64(b.N*(long-short))/wallSum[i].Seconds(), c.name+"_events/s")
	}
	for k, name := range []string{"ruby/mutate", "ruby_per_event/mutate", "ruby/ruby_per_event", "cpu_ruby/mutate", "cpu_ruby_per_event/mutate"} {
		b.ReportMetric(median(ratios[k]), name)
	}
}

func median(v []float64) float64 {
	slices.Sort(v)
	return v[len(v)/2]
}

// cpuTime is the CPU time of this process and of its children waited for.
func cpuTime() time.Duration {
	var self, children syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &self)
	_ = syscall.Getrusage(syscall.RUSAGE_CHILDREN, &children)
	d := func(t syscall.Timeval) time.Duration { return time.Duration(t.Nano()) }
	return d(self.Utime) + d(self.Stime) + d(children.Utime) + d(children.Stime)
}
