package netserver

import (
	"context"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
)

type logBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
func (l *logBuf) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

// TestUDPDropsAreCounted: while emit is blocked, the queue fills and further
// datagrams are dropped and counted; every datagram read is either emitted or
// counted, and one warning (not one per datagram) is logged.
func TestUDPDropsAreCounted(t *testing.T) {
	logs := &logBuf{}
	gate := make(chan struct{})
	var mu sync.Mutex
	emitted := 0
	emit := func(b engine.Batch) error {
		<-gate
		mu.Lock()
		emitted += len(b.Events)
		mu.Unlock()
		return nil
	}
	s := &UDP{
		BufferSize: 1024, Workers: 1, QueueSize: 10, BatchSize: 5, Name: "udp",
		Log: slog.New(slog.NewTextHandler(logs, nil)),
		Decode: func(p []byte, _ netip.AddrPort, out []*event.Event) []*event.Event {
			return append(out, event.NewMessageAt(string(p), time.Now()))
		},
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, pc.(*net.UDPConn), emit) }()
	c, err := net.Dial("udp", pc.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	const n = 300
	for range n {
		c.Write([]byte("datagram"))
		time.Sleep(100 * time.Microsecond)
	}
	deadline := time.Now().Add(10 * time.Second)
	for s.Received() < n*9/10 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if s.Dropped() == 0 {
		t.Fatalf("no drop counted: received %d", s.Received())
	}
	close(gate)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if uint64(emitted)+s.Dropped() != s.Received() {
		t.Fatalf("emitted %d + dropped %d != received %d", emitted, s.Dropped(), s.Received())
	}
	if got := strings.Count(logs.String(), "queue full"); got != 1 {
		t.Fatalf("%d drop warnings, want 1 (rate-limited):\n%s", got, logs)
	}
	if !strings.Contains(logs.String(), "dropped_total=") {
		t.Fatalf("warning without the count:\n%s", logs)
	}
	t.Logf("received %d, emitted %d, dropped %d", s.Received(), emitted, s.Dropped())
}
