package supervisor

import (
	"fmt"
	"log/slog"
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"runtime/pprof"
	"sync"
)

// gcPercent is the garbage collector's target unless GOGC says otherwise.
// Go's default (100) makes a pipeline spend a third of its CPU collecting
// short-lived events; 400 made the redis → file drain 1.5× faster for ~12 MiB
// more peak RSS (20 → 32 MiB), still a small fraction of a JVM's heap. It
// also multiplies what a burst makes live by five: memory.soft_limit
// (SetMemorySoftLimit, 22 MiB by default) caps that: on the benchmark
// workloads it is what the collector goes by, for up to 8 % more CPU per event
// than 32 MiB gave and a peak RSS under #20's 32 MiB (docs/benchmarks.md,
// "Memory").
const gcPercent = 400

// SetGCTarget sets the garbage collector's target for a pipeline process,
// unless GOGC says otherwise. main calls it first thing; a library importing
// this package keeps its own.
func SetGCTarget() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
}

// SetMemorySoftLimit applies memory.soft_limit (limit bytes; ≤ 0: off):
// GOGC 400 lets the heap grow to five times what is live, which under a
// burst of large events (or an attack on an input) multiplies every
// input's budget by five; the soft limit makes the collector run before the
// process holds more than limit, whatever GOGC says. It stays soft: when
// more than half of it is live the limit follows at twice the live heap
// (checked after every collection), so a pipeline that needs more memory
// gets it, collected as with GOGC 100, instead of collecting without end.
// GOMEMLIMIT, when set, wins, as GOGC does. It returns a function that
// stops following the live heap.
func SetMemorySoftLimit(limit int64, log *slog.Logger) (stop func()) {
	if os.Getenv("GOMEMLIMIT") != "" || limit <= 0 {
		return func() {}
	}
	debug.SetMemoryLimit(limit)
	var mu sync.Mutex // stop and follow: no limit set after stop
	stopped := false
	samples := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	cur := limit
	var follow func()
	follow = func() {
		mu.Lock()
		defer mu.Unlock()
		if stopped {
			return
		}
		metrics.Read(samples)
		if samples[0].Value.Kind() == metrics.KindUint64 {
			live := int64(samples[0].Value.Uint64())
			want := max(limit, 2*live)
			// Move in steps of an eighth, so that a heap near the limit
			// does not set it after every collection.
			if want > cur || want < cur-cur/8 {
				cur = want
				debug.SetMemoryLimit(cur)
			}
		}
		gcHook(follow)
	}
	gcHook(follow)
	if log != nil {
		log.Debug("soft memory limit set", "memory.soft_limit", limit)
	}
	return func() {
		mu.Lock()
		defer mu.Unlock()
		stopped = true
		debug.SetMemoryLimit(math.MaxInt64)
	}
}

// gcHook calls f (on the finalizer goroutine) after the next collection.
func gcHook(f func()) {
	sentinel := new([64]byte) // not from the tiny allocator: its finalizer runs
	runtime.SetFinalizer(sentinel, func(*[64]byte) { go f() })
}

// WithProfile runs f under the CPU profiler when PIPELINE_CPUPROFILE names a
// file: a way to see where a pipeline spends its time on a real workload
// (`go tool pprof pipeline FILE`), left out of the flags because only
// developers want it.
func WithProfile(f func() int) int {
	path := os.Getenv("PIPELINE_CPUPROFILE")
	if path == "" {
		return f()
	}
	out, err := os.Create(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "PIPELINE_CPUPROFILE:", err)
		return f()
	}
	defer out.Close()
	if err := pprof.StartCPUProfile(out); err != nil {
		fmt.Fprintln(os.Stderr, "PIPELINE_CPUPROFILE:", err)
		return f()
	}
	defer pprof.StopCPUProfile()
	return f()
}

// releaseStartupPages releases the executable's pages that start-up mapped
// (releaseExecutablePages) now, before the services and pipelines start
// (the supervisor releases once more when they have), and again after the
// 1st, 2nd, 4th, … 64th collection from now: the first events through each
// plugin run code and read type data once more (about 10 MiB of mappings on
// the stdin → null pipeline; its steady state keeps 7–8 MiB). It returns a
// function that stops the releases; each costs one madvise call per
// mapping, eight in all, and some minor faults.
func releaseStartupPages(log *slog.Logger) (stop func()) {
	n := releaseExecutablePages()
	if log != nil {
		log.Debug("start-up pages of the executable released", "bytes", n)
	}
	var mu sync.Mutex
	stopped := false
	gcs, next := 0, 1
	var hook func()
	hook = func() {
		mu.Lock()
		defer mu.Unlock()
		if stopped {
			return
		}
		gcs++
		if gcs == next {
			releaseExecutablePages()
			next *= 2
		}
		if next <= releaseLastGC {
			gcHook(hook)
		}
	}
	gcHook(hook)
	return func() {
		mu.Lock()
		defer mu.Unlock()
		stopped = true
	}
}

// releaseLastGC is the last collection after which releaseStartupPages
// releases.
const releaseLastGC = 64
