package beats

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/compress/zlib"

	lumberclient "github.com/elastic/go-lumber/client/v2"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/plugins/internal/testkit/inputtest"
	"github.com/pipelined/pipeline/plugins/internal/testkit/plugintest"
)

// TestDeliver: 10,000 events from two go-lumber clients (sync compressed, and
// async uncompressed) arrive exactly once, as Logstash's beats input makes them.
func TestDeliver(t *testing.T) {
	h := start(t, "", nil, "")
	const n, window = 10000, 1000
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	wg.Go(func() { // events 0..4999, sync, compressed
		c, err := lumberclient.SyncDial(h.addr, lumberclient.CompressionLevel(3), lumberclient.Timeout(10*time.Second))
		if err != nil {
			errs <- err
			return
		}
		defer c.Close()
		for from := 0; from < n/2; from += window {
			got, err := c.Send(beatEvents(from, window))
			if err != nil || got != window {
				errs <- errors.Join(err, errors.New("short ACK"))
				return
			}
		}
	})
	wg.Go(func() { // events 5000..9999, async, 4 in flight, uncompressed
		c, err := lumberclient.AsyncDial(h.addr, 4, lumberclient.CompressionLevel(0), lumberclient.Timeout(10*time.Second))
		if err != nil {
			errs <- err
			return
		}
		defer c.Close()
		var acks sync.WaitGroup
		for from := n / 2; from < n; from += window {
			acks.Add(1)
			err := c.Send(func(seq uint32, err error) {
				defer acks.Done()
				if err != nil || seq != window {
					errs <- errors.Join(err, errors.New("short async ACK"))
				}
			}, beatEvents(from, window))
			if err != nil {
				errs <- err
				return
			}
		}
		acks.Wait()
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	// Every ACK came after delivery: everything is in the sink already.
	evs := h.sink.Events()
	if len(evs) != n {
		t.Fatalf("%d events delivered by the time of the last ACK; want %d", len(evs), n)
	}
	seen := make([]bool, n)
	wantTS := time.Date(2026, 11, 24, 3, 28, 57, 512e6, time.UTC)
	for _, e := range evs {
		v, _ := e.Get(event.MustRef("seq"))
		seq, ok := v.(int64)
		if !ok || seq < 0 || seq >= n || seen[seq] {
			t.Fatalf("seq %v: out of range or seen twice", v)
		}
		seen[seq] = true
	}
	e := evs[0]
	if md := e.Metadata(); md["beat"] != "filebeat" || md["version"] != "7.17.28" || md["type"] != "_doc" {
		t.Errorf("[@metadata] = %v", md)
	}
	if _, ok := e.Fields()["@metadata"]; ok {
		t.Error("@metadata is a field")
	}
	if js := string(e.AppendJSON(nil)); strings.Contains(js, "@metadata") || !strings.Contains(js, `"@version":"1"`) {
		t.Errorf("JSON %s: want no @metadata and @version 1", js)
	}
	if !e.Timestamp().Equal(wantTS) {
		t.Errorf("@timestamp %v; want %v", e.Timestamp(), wantTS)
	}
	if got := strings.Join(e.Tags(), ","); got != "realfb,"+CodecTag {
		t.Errorf("tags %q", got)
	}
	if p, _ := e.GetString(event.MustRef("[log][file][path]")); p != "/var/log/app.log" {
		t.Errorf("[log][file][path] = %q", p)
	}
}

// TestCodecTag: only events with a message are tagged, and include_codec_tag
// false tags none.
func TestCodecTag(t *testing.T) {
	for _, tc := range []struct {
		opts string
		want string
	}{{"", CodecTag + "|"}, {"include_codec_tag = false", "|"}} {
		h := start(t, tc.opts, nil, "")
		c, err := lumberclient.SyncDial(h.addr)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Send([]any{map[string]any{"message": "m"}, map[string]any{"other": 1}}); err != nil {
			t.Fatal(err)
		}
		c.Close()
		evs := h.sink.Events()
		var tags []string
		for _, e := range evs {
			tags = append(tags, strings.Join(e.Tags(), ","))
		}
		if got := strings.Join(tags, "|"); got != tc.want {
			t.Errorf("%q: tags %q; want %q", tc.opts, got, tc.want)
		}
		if ts := evs[1].Timestamp(); time.Since(ts) > time.Minute {
			t.Errorf("event without @timestamp got %v; want now", ts)
		}
	}
}

// TestBackPressure: while the output is blocked the beat gets no ACK (only
// keepalives) and no further window is read from its connection; once the
// output is released the window is ACKed with its size and delivered once.
func TestBackPressure(t *testing.T) {
	s := &inputtest.Sink{Gate: make(chan struct{}), Entered: make(chan int, 16)}
	h := start(t, "", s, "")
	// A client timeout shorter than the wait: only the server's keepalives
	// (every 3 s) keep the client waiting instead of failing.
	c, err := lumberclient.AsyncDial(h.addr, 2, lumberclient.Timeout(4*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	type ack struct {
		seq uint32
		err error
		at  time.Time
	}
	acks := make(chan ack, 2)
	cb := func(seq uint32, err error) { acks <- ack{seq, err, time.Now()} }
	if err := c.Send(cb, beatEvents(0, 100)); err != nil {
		t.Fatal(err)
	}
	if err := c.Send(cb, beatEvents(100, 50)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.Entered:
	case <-time.After(5 * time.Second):
		t.Fatal("the output got nothing")
	}
	blockedAt := time.Now()
	select {
	case a := <-acks:
		t.Fatalf("ACK %d (%v) while the output is blocked", a.seq, a.err)
	case <-time.After(6 * time.Second):
	}
	// The second window was not taken from the connection: the input has
	// emitted only the first one's events (in batches of at most 125).
	if st := lookupOnly(t, h); st != 1 {
		t.Errorf("%d windows in flight on the connection; want 1", st)
	}
	released := time.Now()
	close(s.Gate)
	for i, want := range []uint32{100, 50} {
		select {
		case a := <-acks:
			if a.err != nil || a.seq != want {
				t.Fatalf("ACK %d: %d, %v; want %d", i, a.seq, a.err, want)
			}
			if a.at.Before(released) {
				t.Fatalf("ACK before the output was released")
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no ACK %d after release", i)
		}
	}
	if n := s.Len(); n != 150 {
		t.Errorf("%d events delivered; want 150 exactly once", n)
	}
	t.Logf("no ACK for %v while blocked", released.Sub(blockedAt))
}

// lookupOnly returns the windows in flight of the harness's only connection.
func lookupOnly(t *testing.T, h *harness) int {
	t.Helper()
	in := findInput(t, h)
	n, total := 0, 0
	in.conns.Range(func(_, v any) bool {
		st := v.(*connState)
		st.mu.Lock()
		total += st.inFlight
		st.mu.Unlock()
		n++
		return true
	})
	if n != 1 {
		t.Fatalf("%d connections; want 1", n)
	}
	return total
}

// inputs records every Input built, by bound address, for white-box checks.
var inputs sync.Map

func findInput(t *testing.T, h *harness) *Input {
	t.Helper()
	v, ok := inputs.Load(h.addr)
	if !ok {
		t.Fatalf("no input on %s", h.addr)
	}
	return v.(*Input)
}

// TestFailedBatchIsAcked: a window whose events an output refused for good
// (counted and logged by the engine) is ACKed, as every input acknowledges
// such events, so the beat does not resend it for ever (issue #19 item 6).
func TestFailedBatchIsAcked(t *testing.T) {
	h := start(t, "", &inputtest.Sink{Fail: true}, "")
	c, err := lumberclient.SyncDial(h.addr, lumberclient.Timeout(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if n, err := c.Send(beatEvents(0, 10)); err != nil || n != 10 {
		t.Fatalf("Send = %d, %v; want the window ACKed", n, err)
	}
	waitFor(t, 5*time.Second, "the failure to be logged", func() bool {
		return strings.Contains(h.logs.String(), "refused for good")
	})
}

// TestFailedWindowDoesNotStallTheConnection: after a window failed for good,
// the next window of the same connection is delivered and both are ACKed.
func TestFailedWindowDoesNotStallTheConnection(t *testing.T) {
	s := &inputtest.Sink{}
	s.FailN.Store(1)
	h := start(t, "", s, "")
	c, err := lumberclient.AsyncDial(h.addr, 2, lumberclient.Timeout(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	acks := make(chan error, 2)
	cb := func(_ uint32, err error) { acks <- err }
	for _, from := range []int{0, 100} {
		if err := c.Send(cb, beatEvents(from, 100)); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 {
		select {
		case err := <-acks:
			if err != nil {
				t.Fatalf("a window was not ACKed: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the client got neither ACK nor error")
		}
	}
	second := 0
	for _, e := range s.Events() {
		if v, _ := e.Get(event.MustRef("seq")); v.(int64) >= 100 {
			second++
		}
	}
	if second != 100 {
		t.Fatalf("%d events of the second window delivered; want 100", second)
	}
}

// TestShutdownLeavesUnacked: at shutdown the connections are closed and a
// window still in the pipeline is not ACKed.
func TestShutdownLeavesUnacked(t *testing.T) {
	s := &inputtest.Sink{Gate: make(chan struct{}), Entered: make(chan int, 16)}
	h := start(t, "", s, "")
	c, err := lumberclient.SyncDial(h.addr, lumberclient.Timeout(20*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	res := make(chan error, 1)
	go func() {
		_, err := c.Send(beatEvents(0, 10))
		res <- err
	}()
	<-s.Entered
	stopped := make(chan error, 1)
	go func() { stopped <- h.stop() }()
	// The server closes the connection at once: Send fails, without an ACK.
	select {
	case err := <-res:
		if err == nil {
			t.Fatal("Send succeeded: the window was ACKed at shutdown before delivery")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Send still blocked after shutdown began")
	}
	close(s.Gate) // let the drain finish
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
}

// frame helpers for hand-made lumberjack v2 streams.
func window(n uint32) []byte {
	b := []byte{'2', 'W', 0, 0, 0, 0}
	binary.BigEndian.PutUint32(b[2:], n)
	return b
}

func jsonFrame(seq uint32, payload []byte) []byte {
	b := make([]byte, 10, 10+len(payload))
	b[0], b[1] = '2', 'J'
	binary.BigEndian.PutUint32(b[2:], seq)
	binary.BigEndian.PutUint32(b[6:], uint32(len(payload)))
	return append(b, payload...)
}

func compressed(t testing.TB, inner []byte) []byte {
	var z bytes.Buffer
	w := zlib.NewWriter(&z)
	if _, err := w.Write(inner); err != nil {
		t.Fatal(err)
	}
	w.Close()
	b := []byte{'2', 'C', 0, 0, 0, 0}
	binary.BigEndian.PutUint32(b[2:], uint32(z.Len()))
	return append(b, z.Bytes()...)
}

// TestFaults: a connection that misbehaves is closed and logged; the process
// lives on and another client still delivers.
func TestFaults(t *testing.T) {
	h := start(t, "client_inactivity_timeout = 1\nmax_frame_bytes = 65536\nmax_window_size = 5000", nil, "")
	manySmall := func() []byte { // 5000 frames of ~100 bytes: 500 kB inflated
		var b []byte
		for i := range 5000 {
			b = append(b, jsonFrame(uint32(i+1), []byte(`{"message":"`+strings.Repeat("x", 86)+`"}`))...)
		}
		return b
	}
	bigHeader := jsonFrame(1, nil)
	binary.BigEndian.PutUint32(bigHeader[6:], 1<<31) // announces 2 GiB
	cases := []struct {
		name, log string
		data      []byte
	}{
		{"garbage", "not lumberjack v2", []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")},
		{"unknown frame type", "unknown frame type", append(window(1), '2', 'X', 0, 0)},
		{"truncated frame", "i/o timeout", append(window(2), jsonFrame(1, []byte(`{"a":1}`))[:12]...)},
		{"oversized window", "exceeds max_window_size", window(1 << 30)},
		{"oversized data frame", "exceeds max_frame_bytes", append(window(1), bigHeader...)},
		{"zlib bomb header", "inflates past", append(window(1), compressed(t, bigHeader)...)},
		{"zlib bomb frames", "inflates past", append(window(5000), compressed(t, manySmall())...)},
		{"invalid json", "invalid JSON", append(window(1), jsonFrame(1, []byte(`{"a":`))...)},
		{"nesting beyond the decode budget", "nesting deeper than 1000 levels", append(window(1),
			jsonFrame(1, []byte(`{"a":`+strings.Repeat("[", event.MaxDecodeDepth)+strings.Repeat("]", event.MaxDecodeDepth)+`}`))...)},
		{"compressed garbage", "compressed frame", append(window(1), '2', 'C', 0, 0, 0, 4, 1, 2, 3, 4)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			logStart := len(h.logs.String())
			c, err := net.Dial("tcp", h.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if _, err := c.Write(tc.data); err != nil {
				t.Fatal(err)
			}
			// The server closes the connection, sending no ACK.
			_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
			got, err := io.ReadAll(c)
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("connection still open after 10 s")
			}
			if len(got) != 0 {
				t.Errorf("server answered %q", got)
			}
			waitFor(t, 5*time.Second, "the close to be logged", func() bool {
				return strings.Contains(h.logs.String()[logStart:], tc.log)
			})
			// Another client still delivers.
			before := h.sink.Len()
			lc, err := lumberclient.SyncDial(h.addr, lumberclient.CompressionLevel(3))
			if err != nil {
				t.Fatal(err)
			}
			defer lc.Close()
			if n, err := lc.Send(beatEvents(0, 3)); err != nil || n != 3 {
				t.Fatalf("second client: %d, %v", n, err)
			}
			if got := h.sink.Len() - before; got != 3 {
				t.Fatalf("%d events from the second client; want 3", got)
			}
		})
	}
	if t.Failed() || testing.Verbose() {
		t.Logf("logs:\n%s", h.logs)
	}
}

// TestIdleWhileBlocked: client_inactivity_timeout does not close a connection
// whose window waits in the pipeline longer than the timeout.
func TestIdleWhileBlocked(t *testing.T) {
	s := &inputtest.Sink{Gate: make(chan struct{}), Entered: make(chan int, 16)}
	h := start(t, "client_inactivity_timeout = 1", s, "")
	c, err := lumberclient.SyncDial(h.addr, lumberclient.Timeout(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	res := make(chan error, 1)
	go func() {
		n, err := c.Send(beatEvents(0, 5))
		if err == nil && n != 5 {
			err = errors.New("short ACK")
		}
		res <- err
	}()
	<-s.Entered
	time.Sleep(2500 * time.Millisecond)
	close(s.Gate)
	select {
	case err := <-res:
		if err != nil {
			t.Fatalf("Send: %v\nlogs:\n%s", err, h.logs)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no ACK")
	}
	// And an idle connection is closed after the timeout.
	raw, err := net.Dial("tcp", h.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	_ = raw.SetReadDeadline(time.Now().Add(5 * time.Second))
	start := time.Now()
	if _, err := raw.Read(make([]byte, 1)); err == nil || time.Since(start) > 4*time.Second {
		t.Fatalf("idle connection not closed: %v after %v", err, time.Since(start))
	}
}

// TestMaxConnections: a connection beyond the limit is closed at once.
func TestMaxConnections(t *testing.T) {
	h := start(t, "max_connections = 1", nil, "")
	c1, err := lumberclient.SyncDial(h.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c1.Close()
	if _, err := c1.Send(beatEvents(0, 1)); err != nil {
		t.Fatal(err)
	}
	c2, err := net.Dial("tcp", h.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	_ = c2.SetReadDeadline(time.Now().Add(5 * time.Second))
	var ne net.Error
	if _, err := c2.Read(make([]byte, 1)); err == nil || errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("second connection not closed at once: %v", err)
	}
	waitFor(t, 5*time.Second, "the refusal to be logged", func() bool {
		return strings.Contains(h.logs.String(), "too many connections")
	})
	c1.Close()
	// The slot is freed.
	waitFor(t, 5*time.Second, "the slot to be freed", func() bool {
		return findInput(t, h).nconns.Load() == 0
	})
	c3, err := lumberclient.SyncDial(h.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c3.Close()
	if _, err := c3.Send(beatEvents(1, 1)); err != nil {
		t.Fatal(err)
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct{ opts, field string }{
		{"port = 5044", ""},
		{"port = 70000", "port"},
		{"port = 5044\nssl_enabled = true", "ssl_certificate"},
		{"port = 5044\nssl_enabled = true\nssl_certificate = \"c\"", "ssl_key"},
		{"port = 5044\nssl = true\nssl_certificate = \"c\"\nssl_key = \"k\"\nssl_client_authentication = \"required\"", "ssl_certificate_authorities"},
		{"port = 5044\nssl = true\nssl_enabled = true", "ssl"},
		{"port = 5044\nssl_client_authentication = \"sometimes\"", "ssl_client_authentication"},
		{"port = 5044\nssl_verify_mode = \"peer\"\nssl_client_authentication = \"optional\"", "ssl_verify_mode"},
		{"port = 5044\nssl_verify_mode = \"always\"", "ssl_verify_mode"},
		{"port = 5044\nssl_supported_protocols = [\"SSLv3\"]", "ssl_supported_protocols"},
		{"port = 5044\nclient_inactivity_timeout = -1", "client_inactivity_timeout"},
		{"port = 5044\nmax_frame_bytes = 10", "max_frame_bytes"},
		{"port = 5044\nmax_window_size = 0", "max_window_size"},
		{"port = 5044\nmax_window_bytes = 1048576", "max_window_bytes"},
		{"port = 5044\nmax_pending_bytes = 1048576", "max_pending_bytes"},
		{"port = 5044\nmax_window_bytes = 67108864\nmax_pending_bytes = 70000000", "max_pending_bytes"},
	} {
		o := plugintest.NewOptions[Options](t, tc.opts)
		err := o.Validate()
		field := ""
		if err != nil {
			field = fieldOf(err)
		}
		if field != tc.field {
			t.Errorf("%q: error %v; want one on %q", tc.opts, err, tc.field)
		}
	}
}

// TestPortInUse: Run fails when it cannot bind.
func TestPortInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	in := plugintest.MustNew(t, New, fmt.Sprintf("host = \"127.0.0.1\"\nport = %d", port), engine.Resources{})
	err = in.Run(context.Background(), func(engine.Batch) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "address already in use") {
		t.Fatalf("Run: %v; want address already in use", err)
	}
}
