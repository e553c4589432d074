package beats

import (
	"fmt"
	"net"
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
	c, err := lumberclient.AsyncDial(addr, 4, lumberclient.CompressionLevel(level), lumberclient.Timeout(30*time.Second))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	events := beatEvents(0, benchWindow)
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

// BenchmarkBareLumber is the baseline: a bare go-lumber server loop that only
// decodes (encoding/json into maps) and ACKs.
func BenchmarkBareLumber(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	s, err := lumber.NewWithListener(ln)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	go func() {
		for batch := range s.ReceiveChan() {
			batch.ACK()
		}
	}()
	for _, level := range []int{0, 3} {
		b.Run(fmt.Sprintf("compression=%d", level), func(b *testing.B) {
			report(b, func(n int) { sendAll(b, ln.Addr().String(), n, level) })
		})
	}
}
