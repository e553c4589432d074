package monitor

import (
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The jvm, process and os sections of /_node/stats, which Metricbeat's and
// Telegraf's Logstash modules and Logstash dashboards read, filled with what
// a Go process has. Where the JVM has no Go counterpart the mapping is:
//
//	jvm.mem.heap_used_in_bytes       runtime.MemStats.HeapAlloc (live and not yet collected heap objects)
//	jvm.mem.heap_committed_in_bytes  HeapSys - HeapReleased (heap memory held from the OS)
//	jvm.mem.heap_max_in_bytes        the Go memory limit (GOMEMLIMIT) when set, else heap_committed
//	jvm.mem.non_heap_*               stacks, GC metadata and the runtime's other memory (Sys - HeapSys)
//	jvm.gc.collectors.young          every Go GC cycle (count, total stop-the-world pause time);
//	jvm.gc.collectors.old            always 0: Go's collector is not generational
//	jvm.threads.count                OS threads of the process (/proc/self/status), not goroutines
//	process.cpu                      user + system CPU time; percent over every CPU since the last request
//
// The /proc figures are Linux's; elsewhere those fields are left out.

// cpuSampler remembers the CPU time at the last request, so each request's
// process.cpu.percent covers the time since the one before, as the JVM's
// ProcessCpuLoad does.
type cpuSampler struct {
	mu   sync.Mutex
	at   time.Time
	busy time.Duration
}

func (c *cpuSampler) percent(now time.Time, busy time.Duration, started time.Time) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	at, before := c.at, c.busy
	if at.IsZero() {
		at, before = started, 0
	}
	c.at, c.busy = now, busy
	wall := now.Sub(at)
	if wall <= 0 {
		return 0
	}
	p := float64(busy-before) / float64(wall) / float64(runtime.NumCPU()) * 100
	return int64(math.Round(math.Max(0, math.Min(p, 100))))
}

// jvmStats is the jvm section.
func (s *Server) jvmStats() map[string]any {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	committed := ms.HeapSys - ms.HeapReleased
	max := committed
	if l := debug.SetMemoryLimit(-1); l > 0 && l < math.MaxInt64 {
		max = uint64(l)
	}
	pct := int64(0)
	if max > 0 {
		pct = int64(math.Round(float64(ms.HeapAlloc) / float64(max) * 100))
	}
	threads := procStatus()["Threads"]
	return map[string]any{
		"uptime_in_millis": time.Since(s.started).Milliseconds(),
		"threads":          map[string]any{"count": threads, "peak_count": threads},
		"mem": map[string]any{
			"heap_used_in_bytes": ms.HeapAlloc, "heap_committed_in_bytes": committed,
			"heap_max_in_bytes": max, "heap_used_percent": pct,
			"non_heap_used_in_bytes":      ms.StackInuse + ms.MSpanInuse + ms.MCacheInuse + ms.BuckHashSys + ms.GCSys + ms.OtherSys,
			"non_heap_committed_in_bytes": ms.Sys - ms.HeapSys,
		},
		"gc": map[string]any{"collectors": map[string]any{
			"young": map[string]any{"collection_count": ms.NumGC, "collection_time_in_millis": ms.PauseTotalNs / 1e6},
			"old":   map[string]any{"collection_count": 0, "collection_time_in_millis": 0},
		}},
	}
}

// processStats is the process section, with the keys /_node/stats always
// had (uptime, panics recovered) added by the caller.
func (s *Server) processStats() map[string]any {
	m := map[string]any{}
	busy, ok := cpuTime()
	if ok {
		m["cpu"] = map[string]any{
			"total_in_millis": busy.Milliseconds(),
			"percent":         s.cpu.percent(time.Now(), busy, s.started),
			"load_average":    loadAverage(),
		}
	}
	if fds, err := os.ReadDir("/proc/self/fd"); err == nil {
		m["open_file_descriptors"] = len(fds)
		m["peak_open_file_descriptors"] = len(fds)
	}
	if n, ok := maxFiles(); ok {
		m["max_file_descriptors"] = n
	}
	st := procStatus()
	if v, ok := st["VmSize"]; ok {
		m["mem"] = map[string]any{"total_virtual_in_bytes": v * 1024, "resident_in_bytes": st["VmRSS"] * 1024}
	}
	return m
}

// osStats is the os section: the load average, and the CPUs Go sees.
func osStats() map[string]any {
	m := map[string]any{"name": runtime.GOOS, "arch": runtime.GOARCH, "available_processors": runtime.NumCPU()}
	if la := loadAverage(); la != nil {
		m["cpu"] = map[string]any{"load_average": la}
	}
	return m
}

// loadAverage reads /proc/loadavg as Logstash reports it ("1m", "5m",
// "15m"); nil where there is none.
func loadAverage() map[string]any {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return nil
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return nil
	}
	m := map[string]any{}
	for i, k := range []string{"1m", "5m", "15m"} {
		if v, err := strconv.ParseFloat(f[i], 64); err == nil {
			m[k] = v
		}
	}
	return m
}

// procStatus reads the numeric fields of /proc/self/status (kB for the
// Vm* fields); empty where there is none.
func procStatus() map[string]int64 {
	m := map[string]int64{}
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return m
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 0 {
			continue
		}
		if n, err := strconv.ParseInt(f[0], 10, 64); err == nil {
			m[k] = n
		}
	}
	return m
}
