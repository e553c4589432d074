package beats

import (
	"fmt"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	lumberclient "github.com/elastic/go-lumber/client/v2"
	lumber "github.com/elastic/go-lumber/server/v2"
)

const benchWindow = 1000

// sendAll sends n events (rounded up to whole windows) with an async
// go-lumber client, 4 windows in flight, and waits for every ACK.
func sendAll(b *testing.B, addr string, n, level int) {
	sendEvents(b, addr, n, level, beatEvents(0, benchWindow))
}

// sendEvents is sendAll with the window of events to send (benchWindow
// of them).
func sendEvents(b *testing.B, addr string, n, level int, events []any) {
	c, err := lumberclient.AsyncDial(addr, 4, lumberclient.CompressionLevel(level), lumberclient.Timeout(30*time.Second))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	var acks sync.WaitGroup
	for sent := 0; sent < n; sent += benchWindow {
		acks.Add(1)
		err := c.Send(func(seq uint32, err error) {
			if err != nil || seq != benchWindow {
				b.Errorf("ACK %d, %v", seq, err)
			}
			acks.Done()
		}, events)
		if err != nil {
			b.Fatal(err)
		}
	}
	acks.Wait()
}

// sendSync sends n events in windows of size window with a synchronous
// go-lumber client: one window in flight, the next sent only after the ACK,
// as Filebeat and Winlogbeat do with their defaults once they wait for an ACK.
func sendSync(b *testing.B, addr string, n, window, level int) {
	c, err := lumberclient.SyncDial(addr, lumberclient.CompressionLevel(level), lumberclient.Timeout(30*time.Second))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	events := beatEvents(0, window)
	for sent := 0; sent < n; sent += window {
		acked, err := c.Send(events)
		if err != nil || acked != window {
			b.Fatalf("ACK %d of %d: %v", acked, window, err)
		}
	}
}

// syncWindows are the window sizes of the sync-client benchmarks: a trickle
// (50), a small burst (200) and Filebeat's bulk_max_size (2048).
var syncWindows = []int{50, 200, 2048}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func report(b *testing.B, run func(n int)) {
	n := max(b.N, benchWindow)
	n = (n + benchWindow - 1) / benchWindow * benchWindow
	b.ReportAllocs()
	b.ResetTimer()
	cpu0, t0 := cpuTime(), time.Now()
	run(n)
	wall, cpu := time.Since(t0), cpuTime()-cpu0
	b.StopTimer()
	b.ReportMetric(float64(n)/wall.Seconds(), "events/s")
	b.ReportMetric(float64(cpu.Microseconds())/float64(n), "cpu-µs/event")
}

// BenchmarkBeatsToNull: go-lumber async client (4 windows of 1000 events in
// flight, uncompressed and at Filebeat's default compression level 3) → beats
// input → engine → null output. The client runs in the same
// process, so cpu-µs/event includes it.
func BenchmarkBeatsToNull(b *testing.B) {
	for _, level := range []int{0, 3} {
		b.Run(fmt.Sprintf("compression=%d", level), func(b *testing.B) {
			h := start(b, "", nil, "output \"null\" \"out\" {}\n")
			report(b, func(n int) { sendAll(b, h.addr, n, level) })
		})
	}
}

// BenchmarkAgentTokens: BenchmarkBeatsToNull's uncompressed workload with
// every event carrying an agent token, checked (tokens=on: 100 agents'
// tokens configured) or not (tokens=off: the field passes through); the
// ratio of the two in one run is the cost of the check.
func BenchmarkAgentTokens(b *testing.B) {
	events := tokenEvents(benchWindow, tokA, -1)
	for _, on := range []bool{false, true} {
		b.Run(fmt.Sprintf("tokens=%v", map[bool]string{false: "off", true: "on"}[on]), func(b *testing.B) {
			opts := ""
			if on {
				var sb strings.Builder
				sb.WriteString("agent_tokens = {\n")
				fmt.Fprintf(&sb, "  \"agent-a\" = %q\n", tokA)
				for i := range 99 {
					fmt.Fprintf(&sb, "  \"agent-%d\" = \"token-of-agent-%d-0123456789abcdef\"\n", i, i)
				}
				sb.WriteString("}")
				opts = sb.String()
			}
			h := start(b, opts, nil, "output \"null\" \"out\" {}\n")
			report(b, func(n int) { sendEvents(b, h.addr, n, 0, events) })
		})
	}
}

// BenchmarkBeatsSyncToNull: a sync go-lumber client (one window in flight)
// → beats input with default settings → null output. Compare with
// BenchmarkBareLumberSync of the same run, window by window.
func BenchmarkBeatsSyncToNull(b *testing.B) {
	for _, window := range syncWindows {
		for _, level := range []int{0, 3} {
			b.Run(fmt.Sprintf("window=%d/compression=%d", window, level), func(b *testing.B) {
				h := start(b, "", nil, "output \"null\" \"out\" {}\n")
				report(b, func(n int) { sendSync(b, h.addr, n, window, level) })
			})
		}
	}
}

// BenchmarkBareLumberSync is BenchmarkBeatsSyncToNull's baseline: the same
// client against a bare go-lumber server loop that decodes and ACKs.
func BenchmarkBareLumberSync(b *testing.B) {
	addr := bareLumber(b)
	for _, window := range syncWindows {
		for _, level := range []int{0, 3} {
			b.Run(fmt.Sprintf("window=%d/compression=%d", window, level), func(b *testing.B) {
				report(b, func(n int) { sendSync(b, addr, n, window, level) })
			})
		}
	}
}

// bareLumber starts a go-lumber server that only decodes (encoding/json into
// maps) and ACKs, and returns its address.
func bareLumber(b *testing.B) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	s, err := lumber.NewWithListener(ln)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	go func() {
		for batch := range s.ReceiveChan() {
			batch.ACK()
		}
	}()
	return ln.Addr().String()
}

// BenchmarkBareLumber is the baseline: a bare go-lumber server loop that only
// decodes (encoding/json into maps) and ACKs.
func BenchmarkBareLumber(b *testing.B) {
	addr := bareLumber(b)
	for _, level := range []int{0, 3} {
		b.Run(fmt.Sprintf("compression=%d", level), func(b *testing.B) {
			report(b, func(n int) { sendAll(b, addr, n, level) })
		})
	}
}
