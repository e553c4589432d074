package tcp

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/plugins/internal/testkit/servertest"
)

// flakyListener fails its first Accepts as a process out of file
// descriptors does (a fake for this unit test of accept alone).
type flakyListener struct {
	net.Listener
	fails int
}

func (l *flakyListener) Accept() (net.Conn, error) {
	if l.fails > 0 {
		l.fails--
		return nil, errors.New("accept tcp: too many open files")
	}
	return l.Listener.Accept()
}

// A failed Accept that is not the listener's closing does not end server
// mode's accepting: the next client is still taken.
func TestAcceptSurvivesErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &server{log: slog.New(slog.DiscardHandler)}
	s.ln, s.clients, s.done = ln, map[*client]bool{}, make(chan struct{})
	go s.accept(&flakyListener{Listener: ln, fails: 3})
	defer s.close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		s.mu.Lock()
		n := len(s.clients)
		s.mu.Unlock()
		if n == 1 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the client was never accepted after failed Accepts")
		}
	}
}

// sendBufferMax is the most a TCP socket's send buffer grows to
// (net.ipv4.tcp_wmem's third field), 4 MiB if it cannot be read.
func sendBufferMax() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/tcp_wmem")
	if f := strings.Fields(string(b)); err == nil && len(f) == 3 {
		if n, err := strconv.Atoi(f[2]); err == nil && n > 0 {
			return n
		}
	}
	return 4 << 20
}

// waitClients waits up to 10 s until the server output o has n clients.
func waitClients(t *testing.T, o *Output, n int) {
	t.Helper()
	if !servertest.Poll(func() bool {
		o.srv.mu.Lock()
		defer o.srv.mu.Unlock()
		return len(o.srv.clients) == n
	}, 10*time.Second) {
		o.srv.mu.Lock()
		got := len(o.srv.clients)
		o.srv.mu.Unlock()
		t.Fatalf("%d clients accepted within 10 s, want %d", got, n)
	}
}

// One client that stops reading does not hold the others or the pipeline:
// the reading client gets every batch while the stalled one's queue fills,
// and the stalled one is dropped when it passes its budget, counted.
// (Before, a write waited for the stalled client up to ServerWriteTimeout,
// 30 s, past the test's 20 s bound on the writes.) The budget is 1 MiB here,
// so that little is encoded (8 MiB; about 1 s under -race on a loaded
// machine): the bounds catch a hang, not a speed.
func TestSlowClientDropped(t *testing.T) {
	port, err := servertest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	o := newOutput(t, fmt.Sprintf("host = \"127.0.0.1\"\nport = %d\nmode = \"server\"", port))
	o.srv.queueBytes, o.srv.writeTimeout = 1<<20, 10*time.Minute
	mustConnect(t, o)
	defer o.Close(context.Background())
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	stalled, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer stalled.Close()
	if tc, ok := stalled.(*net.TCPConn); ok {
		_ = tc.SetReadBuffer(4096) // fills fast: it never reads
	}
	reader, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	waitClients(t, o, 2)
	// Batches of 256 KiB, twice the most a socket's send buffer grows to
	// (8 MiB at the kernel's default 4 MiB; 8 × the stalled client's
	// budget): more than the kernel's buffers can take for the stalled
	// client, however the machine is tuned.
	batches := max(32, 2*sendBufferMax()/(256<<10))
	big := strings.Repeat("x", 256<<10)
	evs := func(i int) []*event.Event {
		e := event.New()
		_ = e.Set(event.MustRef("message"), fmt.Sprintf("b%d %s", i, big))
		return []*event.Event{e}
	}
	// The reader reports each batch it read; the writes keep at most two
	// batches ahead of it, so that the reading client stays within its
	// budget however the goroutines are scheduled, while the stalled one
	// falls behind.
	read := make(chan int, batches)
	go func() {
		defer close(read)
		r := bufio.NewReaderSize(reader, 1<<20)
		_ = reader.SetReadDeadline(time.Now().Add(90 * time.Second))
		for n := range batches {
			if _, err := r.ReadString('\n'); err != nil {
				return
			}
			read <- n
		}
	}()
	wrote := make(chan error, 1)
	got := 0
	go func() {
		for i := range batches {
			if i >= 2 {
				if _, ok := <-read; !ok {
					wrote <- fmt.Errorf("the reading client got %d of %d batches", i-2, batches)
					return
				}
			}
			if err := o.Write(context.Background(), evs(i)); err != nil {
				wrote <- err
				return
			}
		}
		wrote <- nil
	}()
	select {
	case err := <-wrote:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the writes were held by the stalled client for 20 s")
	}
	got = batches - 2
	for range read { // bounded: the reader stops at batches or at its deadline
		got++
	}
	if got != batches {
		t.Fatalf("the reading client got %d of %d batches", got, batches)
	}
	o.srv.mu.Lock()
	left := len(o.srv.clients)
	o.srv.mu.Unlock()
	if left != 1 || o.Counters()[0].Value != 1 {
		t.Fatalf("%d clients left, %d dropped; want the stalled one dropped, counted", left, o.Counters()[0].Value)
	}
}

// TestStalledClientDroppedCounted: a client that stops reading while its
// queue stays within budget is dropped when a write is not taken for the
// write timeout, and counted in clients_dropped as one that fell behind:
// the events queued for it are lost to it as surely.
func TestStalledClientDroppedCounted(t *testing.T) {
	port, err := servertest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	o := newOutput(t, fmt.Sprintf("host = \"127.0.0.1\"\nport = %d\nmode = \"server\"", port))
	o.srv.queueBytes, o.srv.writeTimeout = 1<<30, 200*time.Millisecond
	mustConnect(t, o)
	defer o.Close(context.Background())
	stalled, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	defer stalled.Close()
	if tc, ok := stalled.(*net.TCPConn); ok {
		_ = tc.SetReadBuffer(4096)
	}
	waitClients(t, o, 1)
	// Batches of 256 KiB, twice the most a socket's send buffer grows to:
	// more than the kernel's buffers take, far less than the queue's
	// budget.
	big := strings.Repeat("x", 256<<10)
	for i := range max(64, 2*sendBufferMax()/(256<<10)) {
		e := event.New()
		_ = e.Set(event.MustRef("message"), fmt.Sprintf("b%d %s", i, big))
		if err := o.Write(context.Background(), []*event.Event{e}); err != nil {
			t.Fatal(err)
		}
	}
	waitClients(t, o, 0)
	if n := o.Counters()[0].Value; n != 1 {
		t.Fatalf("clients_dropped %d; want the stalled client counted", n)
	}
}
