package beats

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	lumberclient "github.com/elastic/go-lumber/client/v2"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/plugins/internal/testkit/inputtest"
	"github.com/pipelined/pipeline/plugins/internal/testkit/plugintest"
)

// bigEvent is a JSON event of about size bytes.
func bigEvent(seq, size int) []byte {
	return fmt.Appendf(nil, `{"seq":%d,"message":"%s"}`, seq, strings.Repeat("x", size))
}

// expectRefused checks that the server closes c without answering (no ACK),
// and that the reason is logged.
func expectRefused(t *testing.T, h *harness, c net.Conn, logStart int, reason string) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
	got, err := io.ReadAll(c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("connection still open after 20 s")
	}
	if len(got) != 0 {
		t.Fatalf("server answered %q: the window was acknowledged", got)
	}
	waitFor(t, 5*time.Second, "the refusal to be logged", func() bool {
		return strings.Contains(h.logs.String()[logStart:], reason)
	})
}

// TestWindowBytesDefault is issue #19's reproduction with the default
// options: one window of 12 compressed frames that each inflate to 4 MiB
// (a few KB on the wire) used to be read whole, held and acknowledged;
// max_window_bytes (12 MiB by default) counts across the compressed frames,
// so the connection is closed before the window is acknowledged, and the
// bytes it counted are released.
func TestWindowBytesDefault(t *testing.T) {
	if testing.Short() {
		t.Skip("inflates 12 MiB")
	}
	h := start(t, "", nil, "")
	var data []byte
	data = append(data, window(12)...)
	for i := range 12 {
		data = append(data, compressed(t, jsonFrame(uint32(i+1), bigEvent(i, 4<<20-64)))...)
	}
	t.Logf("%d bytes on the wire", len(data))
	c, err := net.Dial("tcp", h.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	go func() { _, _ = c.Write(data) }()
	expectRefused(t, h, c, 0, "exceeds max_window_bytes (12582912)")
	if n := h.sink.Len(); n != 0 {
		t.Fatalf("%d events of the refused window delivered", n)
	}
	in := findInput(t, h)
	waitFor(t, 5*time.Second, "the window's bytes to be released", func() bool { return in.pending.Load() == 0 })
}

// TestWindowBytes: a window whose uncompressed frames, or whose small
// compressed frames together, go beyond max_window_bytes is refused; one
// within it is delivered.
func TestWindowBytes(t *testing.T) {
	h := start(t, "max_frame_bytes = 65536\nmax_window_bytes = 262144", nil, "")
	in := findInput(t, h)
	build := func(n, size int, compress bool) []byte {
		b := window(uint32(n))
		for i := range n {
			f := jsonFrame(uint32(i+1), bigEvent(i, size))
			if compress {
				f = compressed(t, f)
			}
			b = append(b, f...)
		}
		return b
	}
	for _, tc := range []struct {
		name     string
		data     []byte
		refused  bool
		sentSize int
	}{
		{"compressed frames add up", build(8, 60000, true), true, 0},
		{"plain frames add up", build(8, 60000, false), true, 0},
		{"within the budget", build(4, 60000, true), false, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			logStart := len(h.logs.String())
			before := h.sink.Len()
			c, err := net.Dial("tcp", h.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			go func() { _, _ = c.Write(tc.data) }()
			if tc.refused {
				expectRefused(t, h, c, logStart, "exceeds max_window_bytes (262144)")
			} else {
				ack := make([]byte, 6)
				_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
				if _, err := io.ReadFull(c, ack); err != nil || ack[1] != 'A' || ack[5] != byte(tc.sentSize) {
					t.Fatalf("ACK %q, %v", ack, err)
				}
			}
			if got := h.sink.Len() - before; got != tc.sentSize {
				t.Fatalf("%d events delivered; want %d", got, tc.sentSize)
			}
			c.Close()
			waitFor(t, 5*time.Second, "the bytes to be released", func() bool { return in.pending.Load() == 0 })
		})
	}
}

// TestPendingBytes: max_pending_bytes bounds what all connections hold
// together. While one window waits in a blocked pipeline, a second
// connection's window that would go beyond the budget is refused before it is
// acknowledged; once the first is acknowledged the budget is free again and
// the resent window is delivered.
func TestPendingBytes(t *testing.T) {
	s := &inputtest.Sink{Gate: make(chan struct{}), Entered: make(chan int, 16)}
	h := start(t, "max_frame_bytes = 65536\nmax_window_bytes = 262144\nmax_pending_bytes = 393216", s, "")
	in := findInput(t, h)
	events := func(from, n int) []any {
		out := make([]any, n)
		for i := range out {
			out[i] = map[string]any{"seq": from + i, "message": strings.Repeat("y", 1000)}
		}
		return out
	}
	a, err := lumberclient.SyncDial(h.addr, lumberclient.Timeout(20*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	resA := make(chan error, 1)
	go func() {
		n, err := a.Send(events(0, 200)) // about 200 KB
		if err == nil && n != 200 {
			err = fmt.Errorf("ACK of %d", n)
		}
		resA <- err
	}()
	<-s.Entered
	if p := in.pending.Load(); p < 200000 {
		t.Fatalf("pending %d bytes while a 200 KB window is in the pipeline", p)
	}
	b, err := lumberclient.SyncDial(h.addr, lumberclient.Timeout(20*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if n, err := b.Send(events(1000, 200)); err == nil {
		t.Fatalf("second window ACKed (%d) beyond max_pending_bytes", n)
	}
	waitFor(t, 5*time.Second, "the refusal to be logged", func() bool {
		return strings.Contains(h.logs.String(), "beyond max_pending_bytes (393216)")
	})
	close(s.Gate)
	if err := <-resA; err != nil {
		t.Fatal(err)
	}
	// What stays is A's read buffer (one event of about 1 KB), until A closes.
	waitFor(t, 5*time.Second, "the bytes to be released", func() bool { return in.pending.Load() < 2000 })
	a.Close()
	waitFor(t, 5*time.Second, "the bytes to be released", func() bool { return in.pending.Load() == 0 })
	c, err := lumberclient.SyncDial(h.addr, lumberclient.Timeout(20*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if n, err := c.Send(events(1000, 200)); err != nil || n != 200 {
		t.Fatalf("resent window: %d, %v", n, err)
	}
	if n := s.Len(); n != 400 {
		t.Fatalf("%d events delivered; want 400", n)
	}
	c.Close()
	waitFor(t, 5*time.Second, "the bytes to be released", func() bool { return in.pending.Load() == 0 })
}

// TestHandlerPanic: a panic while a window is handled (here in emit, the
// injected fault) fails that window only: its connection is closed without
// an ACK, its bytes are released, and the input goes on serving.
func TestHandlerPanic(t *testing.T) {
	ch := make(chan net.Addr, 1)
	listenAddrs.Store("panicky", ch)
	in := plugintest.MustNew(t, New, "host = \"127.0.0.1\"\nport = 0", engine.Resources{ID: "panicky"})
	var calls atomic.Int32
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- in.Run(ctx, func(b engine.Batch) error {
			if calls.Add(1) == 1 {
				panic("emit bug")
			}
			b.Ack(nil)
			return nil
		})
	}()
	addr := (<-ch).String()
	before := engine.PanicsRecovered()
	c, err := lumberclient.SyncDial(addr, lumberclient.Timeout(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if n, err := c.Send(beatEvents(0, 5)); err == nil {
		t.Fatalf("window ACKed (%d) though its handler panicked", n)
	}
	c.Close()
	c, err = lumberclient.SyncDial(addr, lumberclient.Timeout(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if n, err := c.Send(beatEvents(0, 5)); err != nil || n != 5 {
		t.Fatalf("resent window: %d, %v", n, err)
	}
	if n := engine.PanicsRecovered() - before; n != 1 {
		t.Errorf("%d panics counted; want 1", n)
	}
	c.Close()
	waitFor(t, 5*time.Second, "the bytes to be released", func() bool { return in.pending.Load() == 0 })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestIdleBuffersCounted: go-lumber keeps a read buffer as large as the
// largest event a connection sent, for the connection's life. Idle
// connections that each sent one large event would hold that memory with
// nothing pending, so the buffer counts against max_pending_bytes until the
// connection closes.
func TestIdleBuffersCounted(t *testing.T) {
	h := start(t, "max_frame_bytes = 262144\nmax_window_bytes = 262144\nmax_pending_bytes = 800000", nil, "")
	in := findInput(t, h)
	big := []any{map[string]any{"message": strings.Repeat("z", 240000)}}
	dial := func() *lumberclient.SyncClient {
		c, err := lumberclient.SyncDial(h.addr, lumberclient.Timeout(10*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	c1, c2 := dial(), dial()
	defer c2.Close()
	for _, c := range []*lumberclient.SyncClient{c1, c2} {
		if n, err := c.Send(big); err != nil || n != 1 {
			t.Fatalf("%d, %v", n, err)
		}
	}
	// Both idle, acknowledged: their buffers are still counted.
	if p := in.pending.Load(); p < 480000 {
		t.Fatalf("pending %d with two idle connections holding 240 kB buffers", p)
	}
	c3 := dial()
	defer c3.Close()
	if n, err := c3.Send(big); err == nil {
		t.Fatalf("third window ACKed (%d) beyond max_pending_bytes", n)
	}
	c1.Close()
	waitFor(t, 5*time.Second, "the first buffer to be released", func() bool { return in.pending.Load() < 300000 })
	c4 := dial()
	if n, err := c4.Send(big); err != nil || n != 1 {
		t.Fatalf("after a connection closed: %d, %v", n, err)
	}
	c4.Close()
	c2.Close()
	waitFor(t, 5*time.Second, "every buffer to be released", func() bool { return in.pending.Load() == 0 })
}
