package correlate

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pipelined/pipeline/dsl"
	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
	_ "github.com/pipelined/pipeline/plugins/codecs/plain"
	_ "github.com/pipelined/pipeline/plugins/outputs/null"
)

// benchInput emits count events in batches of 125: user u<i mod keys>,
// source 10.x.y.z, @timestamp 1 ms apart, ssh-failure message.
type benchInput struct{ count, keys int }

type benchOptions struct {
	Count int `hcl:"count"`
	Keys  int `hcl:"keys"`
}

func (in *benchInput) Run(ctx context.Context, emit engine.EmitFunc) error {
	users := make([]string, in.keys)
	ips := make([]string, in.keys)
	for i := range users {
		users[i] = fmt.Sprint("u", i)
		ips[i] = fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255)
	}
	uRef, ipRef := event.MustRef("[user][name]"), event.MustRef("[source][ip]")
	for i := 0; i < in.count; {
		batch := make([]*event.Event, 0, 125)
		for ; i < in.count && len(batch) < 125; i++ {
			e := event.NewMessageAt("Failed password for invalid user admin", t0.Add(time.Duration(i)*time.Millisecond))
			_ = e.Set(uRef, users[i%in.keys])
			_ = e.Set(ipRef, ips[i%in.keys])
			batch = append(batch, e)
		}
		if err := emit(engine.Batch{Events: batch}); err != nil {
			return err
		}
	}
	return nil
}

func init() {
	engine.RegisterInput("test_correlate_bench", func(o benchOptions, _ engine.Resources) (*benchInput, error) {
		return &benchInput{count: o.Count, keys: o.Keys}, nil
	})
}

// benchRules are 5 rules keyed by user and source address, one of each
// type; the input's events match all but Single (as most lines do not
// alert), and SingleWithThreshold and SingleWithSuppress make alerts.
const benchRules = `
  correlate { rule_type => "Single" pattern => "^Accepted" key => "%{[user][name]}-%{[source][ip]}" }
  correlate { rule_type => "SingleWithThreshold" key => "%{[user][name]}-%{[source][ip]}" window => 3600 thresh => 3 }
  correlate { rule_type => "SingleWithSuppress" key => "%{[user][name]}-%{[source][ip]}" window => 3600 }
  correlate { rule_type => "PairWithWindow" pattern => "^Failed" pattern2 => "^Accepted" key => "%{[user][name]}-%{[source][ip]}" window => 3600 }
  correlate { rule_type => "Absence" key => "%{[user][name]}-%{[source][ip]}" window => 3600 }
`

// benchPipeline runs b.N events with 100,000 distinct keys through the
// pipeline with filters (and a null output) and reports events/s and the
// heap in use after the run. Compare BenchmarkPipelineRules with
// BenchmarkPipelineNoRules in one run: the ratio is the cost of the rules.
// On the shared 2-CPU box (2026-12-07, 1,000,000 events): 49 k events/s
// with the rules against 329 k without, 0.15x (the #21 target is 0.7x:
// not met), heap 371 MiB against 16 MiB for 5 rules x 100,000 keys.
func benchPipeline(b *testing.B, filters string) {
	conf := fmt.Sprintf(`input { test_correlate_bench { count => %d keys => 100000 } }
filter { %s }
output { null {} }`, b.N, filters)
	cfg, diags := dsl.LoadSource("bench.conf", []byte(conf))
	if diags.HasErrors() {
		b.Fatal(diags.Error())
	}
	p, diags := engine.Build(cfg.Pipelines[0], engine.Default, engine.Settings{Workers: 2, BatchSize: 125, Logger: slog.New(slog.DiscardHandler)})
	if diags.HasErrors() {
		b.Fatal(diags.Error())
	}
	runtime.GC()
	// Peak RSS of this run only: writing 5 to clear_refs resets VmHWM.
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
	cpu0 := cpuTime()
	b.ResetTimer()
	if err := p.Run(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	// CPU time per event, of the whole process: on a shared machine, where
	// other processes take CPUs away, a steadier figure than events/s.
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/event")
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heap-MiB")
	if hwm, ok := peakRSS(); ok {
		b.ReportMetric(float64(hwm)/(1<<20), "peak-RSS-MiB")
	}
}

// cpuTime is the process's user and system CPU time in nanoseconds.
func cpuTime() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// peakRSS is VmHWM of /proc/self/status in bytes (Linux).
func peakRSS() (int64, bool) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10, err == nil
		}
	}
	return 0, false
}

func BenchmarkPipelineNoRules(b *testing.B) { benchPipeline(b, "") }
func BenchmarkPipelineRules(b *testing.B)   { benchPipeline(b, benchRules) }
