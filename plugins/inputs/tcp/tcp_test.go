package tcp

import (
	"bufio"
	"crypto/tls"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
	_ "github.com/pipelined/pipeline/plugins/codecs/json"
	_ "github.com/pipelined/pipeline/plugins/codecs/jsonlines"
	_ "github.com/pipelined/pipeline/plugins/codecs/line"
	_ "github.com/pipelined/pipeline/plugins/codecs/plain"
	"github.com/pipelined/pipeline/plugins/internal/charset"
	"github.com/pipelined/pipeline/plugins/internal/testkit/inputtest"
	"github.com/pipelined/pipeline/plugins/internal/testkit/testpki"
)

func get(t *testing.T, e *event.Event, ref string) any {
	t.Helper()
	v, _ := e.Get(event.MustRef(ref))
	return v
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func localPort(c net.Conn) int64 { return int64(c.LocalAddr().(*net.TCPAddr).Port) }

func TestLinesFieldByField(t *testing.T) {
	h := inputtest.Start(t, "tcp", `ecs_compatibility = "disabled"`, inputtest.Options{})
	c := dial(t, h.TCP)
	if _, err := io.WriteString(c, "first line\nwindows line\r\n\nlast without newline"); err != nil {
		t.Fatal(err)
	}
	c.Close()
	evs := h.WaitEvents(t, 4, 10*time.Second)
	want := []string{"first line", "windows line\r", "", "last without newline"}
	for i, e := range evs {
		if got := get(t, e, "message"); got != want[i] {
			t.Errorf("event %d: message %q, want %q", i, got, want[i])
		}
		if got := get(t, e, "host"); got != "localhost" && got != "127.0.0.1" {
			t.Errorf("event %d: host %v, want the client's name (reverse lookup) or address", i, got)
		}
		if got := get(t, e, "[@metadata][ip_address]"); got != "127.0.0.1" {
			t.Errorf("event %d: [@metadata][ip_address] %v", i, got)
		}
		if got := get(t, e, "port"); got != localPort(c) {
			t.Errorf("event %d: port %v, want %d", i, got, localPort(c))
		}
	}
}

func TestECSFieldsAndNoReverseLookup(t *testing.T) {
	h := inputtest.Start(t, "tcp", `dns_reverse_lookup_enabled = false`, inputtest.Options{})
	c := dial(t, h.TCP)
	io.WriteString(c, "hello\n")
	e := h.WaitEvents(t, 1, 10*time.Second)[0]
	if got := get(t, e, "[@metadata][input][tcp][source][name]"); got != "127.0.0.1" {
		t.Errorf("source name %v", got)
	}
	if got := get(t, e, "[@metadata][input][tcp][source][ip]"); got != "127.0.0.1" {
		t.Errorf("source ip %v", got)
	}
	if got := get(t, e, "[@metadata][input][tcp][source][port]"); got != localPort(c) {
		t.Errorf("source port %v", got)
	}
	if got := get(t, e, "[event][original]"); got != "hello" {
		t.Errorf("[event][original] %v", got)
	}
	if _, ok := e.Get(event.MustRef("host")); ok {
		t.Error("host set in ECS mode")
	}
}

func TestJSONLines(t *testing.T) {
	h := inputtest.Start(t, "tcp", "codec \"json_lines\" {}\necs_compatibility = \"disabled\"\ndns_reverse_lookup_enabled = false", inputtest.Options{})
	c := dial(t, h.TCP)
	io.WriteString(c, `{"a":1,"host":"keep-me"}`+"\n"+`not json`+"\n")
	evs := h.WaitEvents(t, 2, 10*time.Second)
	if got := get(t, evs[0], "a"); got != int64(1) {
		t.Errorf("a = %#v", got)
	}
	if got := get(t, evs[0], "host"); got != "keep-me" {
		t.Errorf("host from the codec overwritten: %v", got)
	}
	if got := get(t, evs[1], "message"); got != "not json" || !evs[1].HasTag("_jsonparsefailure") {
		t.Errorf("bad line: message %v tags %v", got, evs[1].Tags())
	}
	if got := get(t, evs[1], "host"); got != "127.0.0.1" {
		t.Errorf("host %v", got)
	}
}

// TestBackPressure: while the output is held, the client's writes block
// instead of events being buffered or dropped; once it opens, every line
// arrives in order.
func TestBackPressure(t *testing.T) {
	gate := make(chan struct{})
	h := inputtest.Start(t, "tcp", `ecs_compatibility = "disabled"`, inputtest.Options{Gate: gate})
	c := dial(t, h.TCP)
	const n = 60000
	line := strings.Repeat("x", 1000)
	var written atomic.Int64
	done := make(chan error, 1)
	go func() {
		w := bufio.NewWriter(c)
		for i := range n {
			if _, err := fmt.Fprintf(w, "%06d %s\n", i, line); err != nil {
				done <- err
				return
			}
			written.Add(1)
		}
		if err := w.Flush(); err != nil {
			done <- err
			return
		}
		done <- c.Close()
	}()
	// The client stalls once the socket buffers are full: two looks 500 ms
	// apart see the same count (within 20 s; reading 4 KiB at a time, the
	// buffers take a while to fill on a loaded machine).
	stalled := int64(-1)
	for range 40 {
		time.Sleep(500 * time.Millisecond)
		w := written.Load()
		if w == stalled {
			break
		}
		stalled = w
	}
	if w := written.Load(); w == n || w != stalled {
		t.Fatalf("client wrote %d then %d of %d lines while the pipeline was full: no back-pressure", stalled, w, n)
	}
	if h.Sink.Len() != 0 {
		t.Fatalf("sink got events while shut")
	}
	close(gate)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	evs := h.WaitEvents(t, n, 60*time.Second)
	if len(evs) != n {
		t.Fatalf("got %d events, want %d", len(evs), n)
	}
	for i, e := range evs {
		if want := fmt.Sprintf("%06d %s", i, line); get(t, e, "message") != want {
			t.Fatalf("event %d out of order or damaged: %.20v", i, get(t, e, "message"))
		}
	}
	t.Logf("client stalled after %d lines (%d MB) while the output was held", stalled, stalled/1000)
}

func TestMaxLineBytes(t *testing.T) {
	h := inputtest.Start(t, "tcp", "max_line_bytes = 1048576\ndns_reverse_lookup_enabled = false", inputtest.Options{})
	big := strings.Repeat("a", 1<<20)
	c := dial(t, h.TCP)
	io.WriteString(c, big+"\nafter\n")
	evs := h.WaitEvents(t, 2, 20*time.Second)
	if get(t, evs[0], "message") != big || get(t, evs[1], "message") != "after" {
		t.Fatal("1 MiB line not delivered intact")
	}
	// One byte more closes that connection, and only it.
	other := dial(t, h.TCP)
	bad := dial(t, h.TCP)
	go io.WriteString(bad, big+"b\nnever\n")
	bad.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.Copy(io.Discard, bad); err != nil {
		t.Fatalf("over-long line: connection not closed: %v", err)
	}
	io.WriteString(other, "still served\n")
	evs = h.WaitEvents(t, 3, 10*time.Second)
	if got := get(t, evs[2], "message"); got != "still served" {
		t.Fatalf("event after the refused line: %.40v", got)
	}
	inputtest.WaitFor(t, 5*time.Second, "a warning", func() bool { return strings.Contains(h.Logs.String(), "max_line_bytes") })
	time.Sleep(100 * time.Millisecond)
	if h.Sink.Len() != 3 {
		t.Fatalf("%d events: the over-long line or what followed it was emitted", h.Sink.Len())
	}
}

// connBudget is how many client connections a test may open: each costs two
// descriptors here (client and server side).
func connBudget(t *testing.T, want int) int {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err == nil && lim.Cur < lim.Max {
		lim.Cur = lim.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
		_ = syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim)
	}
	if n := int(lim.Cur/2) - 200; n < want {
		t.Logf("file descriptor limit %d: %d connections instead of %d", lim.Cur, n, want)
		return max(n, 10)
	}
	return want
}

func heapAndStacks() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse + m.StackInuse
}

// TestMaxConnectionsAndManyIdle: thousands of idle connections are all
// served, cost little memory each (no read buffer until data arrives), and
// the one beyond max_connections is closed.
func TestMaxConnectionsAndManyIdle(t *testing.T) {
	limit := connBudget(t, 2000)
	h := inputtest.Start(t, "tcp", fmt.Sprintf("max_connections = %d\ndns_reverse_lookup_enabled = false", limit), inputtest.Options{})
	before := heapAndStacks()
	conns := make([]net.Conn, 0, limit)
	for range limit {
		conns = append(conns, dial(t, h.TCP))
	}
	// Every one of them is served: the last one sends a line.
	io.WriteString(conns[limit-1], "from the last\n")
	h.WaitEvents(t, 1, 20*time.Second)
	inputtest.WaitFor(t, 10*time.Second, "all connections accepted", func() bool { return h.TCPStats().Active >= uint64(limit) })
	perConn := (int64(heapAndStacks()) - int64(before)) / int64(limit)
	t.Logf("%d idle connections: %d bytes each (heap and stacks, client side included)", limit, perConn)
	if perConn > 32<<10 {
		t.Errorf("an idle connection costs %d bytes; want < 32 KiB (no read buffer before data)", perConn)
	}
	extra := dial(t, h.TCP)
	extra.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := extra.Read(make([]byte, 1)); err == nil || n != 0 {
		t.Fatalf("connection beyond max_connections not closed: %d %v", n, err)
	}
	inputtest.WaitFor(t, 5*time.Second, "a warning", func() bool { return strings.Contains(h.Logs.String(), "too many connections") })
	for _, c := range conns[:10] {
		c.Close()
	}
	// Closing some makes room again.
	var c net.Conn
	inputtest.WaitFor(t, 10*time.Second, "room for a new connection", func() bool {
		c = dial(t, h.TCP)
		io.WriteString(c, "after room\n")
		c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		_, err := c.Read(make([]byte, 1))
		return err != nil && strings.Contains(err.Error(), "timeout")
	})
	evs := h.WaitEvents(t, 2, 10*time.Second)
	if get(t, evs[1], "message") != "after room" {
		t.Fatalf("got %v", get(t, evs[1], "message"))
	}
}

func TestIdleTimeout(t *testing.T) {
	h := inputtest.Start(t, "tcp", "idle_timeout = 1", inputtest.Options{})
	c := dial(t, h.TCP)
	start := time.Now()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatal("read data from the server")
	}
	if d := time.Since(start); d < 900*time.Millisecond || d > 8*time.Second {
		t.Fatalf("idle connection closed after %s, want about 1 s", d)
	}
}

func TestTLSClientCertificate(t *testing.T) {
	ca := testpki.NewCA(t, "test CA")
	server := ca.Server("server")
	client := ca.ClientConfig(ca.ClientSubject(pkix.Name{CommonName: "client.test", Organization: []string{"pipeline"}}))
	opts := fmt.Sprintf("ssl_enabled = true\nssl_certificate = %q\nssl_key = %q\nssl_certificate_authorities = [%q]\necs_compatibility = \"disabled\"\ndns_reverse_lookup_enabled = false",
		server.CertFile, server.KeyFile, ca.File)
	h := inputtest.Start(t, "tcp", opts, inputtest.Options{})
	c, err := tls.Dial("tcp", h.TCP, client)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(c, "secret\n")
	c.Close()
	e := h.WaitEvents(t, 1, 10*time.Second)[0]
	if get(t, e, "message") != "secret" || get(t, e, "sslsubject") != "CN=client.test,O=pipeline" {
		t.Fatalf("message %v sslsubject %v", get(t, e, "message"), get(t, e, "sslsubject"))
	}
	// Without a client certificate (required by default once CAs are set)
	// the handshake fails and nothing is emitted.
	noCert := client.Clone()
	noCert.Certificates = nil
	if c, err := tls.Dial("tcp", h.TCP, noCert); err == nil {
		io.WriteString(c, "must not pass\n")
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		c.Read(make([]byte, 1))
		c.Close()
	}
	// Plain text on a TLS port is refused too.
	p := dial(t, h.TCP)
	io.WriteString(p, "plain text\n")
	p.SetReadDeadline(time.Now().Add(5 * time.Second))
	io.Copy(io.Discard, p)
	inputtest.WaitFor(t, 5*time.Second, "handshake failures logged", func() bool {
		return strings.Count(h.Logs.String(), "TLS handshake") >= 2
	})
	if h.Sink.Len() != 1 {
		t.Fatalf("%d events, want 1", h.Sink.Len())
	}
}

func TestProxyProtocol(t *testing.T) {
	h := inputtest.Start(t, "tcp", "proxy_protocol = true\necs_compatibility = \"disabled\"\ndns_reverse_lookup_enabled = false", inputtest.Options{})
	c := dial(t, h.TCP)
	io.WriteString(c, "PROXY TCP4 192.0.2.10 127.0.0.1 40000 514\r\nbehind a proxy\n")
	e := h.WaitEvents(t, 1, 10*time.Second)[0]
	if get(t, e, "host") != "192.0.2.10" || get(t, e, "port") != int64(40000) ||
		get(t, e, "proxy_host") != "127.0.0.1" || get(t, e, "proxy_port") != localPort(c) || get(t, e, "message") != "behind a proxy" {
		t.Fatalf("fields: %v", e.Fields())
	}
	bad := dial(t, h.TCP)
	io.WriteString(bad, "GET / HTTP/1.0\r\n\r\n")
	bad.SetReadDeadline(time.Now().Add(5 * time.Second))
	io.Copy(io.Discard, bad)
	inputtest.WaitFor(t, 5*time.Second, "the bad header logged", func() bool { return strings.Contains(h.Logs.String(), "proxy protocol: invalid header") })
}

// TestGarbage: binary bytes and invalid UTF-8 are events like any other
// line, in Ruby's inspect form as Logstash's line codec makes them; nothing
// crashes or is lost.
func TestGarbage(t *testing.T) {
	h := inputtest.Start(t, "tcp", `dns_reverse_lookup_enabled = false`, inputtest.Options{})
	c := dial(t, h.TCP)
	garbage := make([]byte, 0, 4096)
	for i := range 4096 {
		b := byte(i * 7919 % 256)
		if b == '\n' {
			b = 0
		}
		garbage = append(garbage, b)
	}
	c.Write(append(append(garbage, '\n'), "\xff\xfe invalid utf-8\n"...))
	c.Close()
	evs := h.WaitEvents(t, 2, 10*time.Second)
	if get(t, evs[0], "message") != charset.Text(garbage) || get(t, evs[1], "message") != `\xFF\xFE invalid utf-8` {
		t.Fatalf("garbage not carried as Logstash does: %q", get(t, evs[1], "message"))
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct{ opts, field string }{
		{`mode = "client"`, "mode"},
		{`ssl_enabled = true`, "ssl_certificate"},
		{"ssl_enabled = true\nssl_certificate = \"a\"\nssl_key = \"b\"\nssl_client_authentication = \"required\"", "ssl_certificate_authorities"},
		{`max_line_bytes = -1`, "max_line_bytes"},
	} {
		o := Options{}
		o.Defaults()
		o.Port = 1
		switch {
		case strings.HasPrefix(tc.opts, "mode"):
			o.Mode = "client"
		case strings.HasPrefix(tc.opts, "max_line"):
			o.MaxLineBytes = -1
		case strings.Contains(tc.opts, "required"):
			o.SSLEnabled, o.SSLCertificate, o.SSLKey, o.SSLClientAuthentication = true, "a", "b", "required"
		default:
			o.SSLEnabled = true
		}
		err := o.Validate()
		if fieldOf(err) != tc.field {
			t.Errorf("%s: error %v, want one on %s", tc.opts, err, tc.field)
		}
	}
}

func fieldOf(err error) string {
	var fe *engine.FieldError
	if errors.As(err, &fe) {
		return fe.Field
	}
	return "?"
}

// TestStreamingCodecs: tcp reads a stream, so codec json is json_lines and
// plain is line (Logstash's fix_streaming_codecs): events arrive while the
// connection stays open, one per line, instead of one parse failure of the
// whole connection at its end.
func TestStreamingCodecs(t *testing.T) {
	for _, tc := range []struct{ codec, field string }{{"json", "a"}, {"plain", "message"}} {
		t.Run(tc.codec, func(t *testing.T) {
			h := inputtest.Start(t, "tcp", "codec \""+tc.codec+"\" {}", inputtest.Options{})
			c := dial(t, h.TCP)
			io.WriteString(c, `{"a":"one"}`+"\n"+`{"a":"two"}`+"\n")
			evs := h.WaitEvents(t, 2, 10*time.Second) // the connection is still open
			want := []any{"one", "two"}
			if tc.field == "message" {
				want = []any{`{"a":"one"}`, `{"a":"two"}`}
			}
			for i, e := range evs {
				if got := get(t, e, tc.field); got != want[i] || len(e.Tags()) != 0 {
					t.Errorf("event %d: %s = %#v, tags %v; want %#v", i, tc.field, got, e.Tags(), want[i])
				}
			}
		})
	}
}

// counter reads one of the input's counters from the pipeline's snapshot.
func counter(t *testing.T, h *inputtest.Harness, name string) int64 {
	t.Helper()
	for _, in := range h.Pipeline.Snapshot().Inputs {
		for _, c := range in.Counters {
			if c.Name == name {
				return c.Value
			}
		}
	}
	t.Fatalf("no counter %s", name)
	return 0
}

// TestMaxPendingBytes: with the pipeline held, 20 connections each sending 1
// MB of lines and 3 sending 900 KB without a newline, then idling, make the
// input reach max_pending_bytes: it holds no more than that (one read's
// worth of slack), connections wait rather than read, and the unfinished
// lines (which would otherwise hold the budget for ever) are closed, longest
// first, without being emitted. Once the pipeline moves, every line of the
// 20 connections is delivered, in order, none lost.
func TestMaxPendingBytes(t *testing.T) {
	gate := make(chan struct{})
	const max = 2_200_000
	h := inputtest.Start(t, "tcp", fmt.Sprintf("max_pending_bytes = %d\nmax_line_bytes = 1048576\ndns_reverse_lookup_enabled = false", max),
		inputtest.Options{Gate: gate})
	const conns, lines = 20, 1000
	pad := strings.Repeat("p", 990)
	errs := make(chan error, conns)
	for i := range conns {
		c := dial(t, h.TCP)
		go func() {
			w := bufio.NewWriter(c)
			for j := range lines {
				fmt.Fprintf(w, "%02d %04d %s\n", i, j, pad)
			}
			err := w.Flush()
			if err == nil {
				err = c.(*net.TCPConn).CloseWrite()
			}
			errs <- err
		}()
	}
	partial := make([]net.Conn, 3)
	for i := range partial {
		partial[i] = dial(t, h.TCP)
		go io.WriteString(partial[i], strings.Repeat("u", 900_000))
	}
	inputtest.WaitFor(t, 20*time.Second, "connections to wait for max_pending_bytes", func() bool {
		return counter(t, h, "pending_waits") > 0
	})
	// When a connection must wait, the longest unfinished line is closed
	// (they hold more than half of the budget): its client sees the end of the connection (EOF,
	// or a reset: the server closed it with bytes unread).
	closed := make(chan bool, len(partial))
	for _, c := range partial {
		go func() {
			c.SetReadDeadline(time.Now().Add(20 * time.Second))
			_, err := io.Copy(io.Discard, c)
			closed <- !errors.Is(err, os.ErrDeadlineExceeded)
		}()
	}
	n := 0
	for range partial {
		if <-closed {
			n++
		}
	}
	if n < 1 {
		t.Errorf("none of 3 connections holding 900 KB unfinished lines closed (they held more than half of max_pending_bytes)")
	}
	if n := counter(t, h, "pending_evictions"); n < 1 {
		t.Errorf("pending_evictions %d, want at least 1", n)
	}
	if !strings.Contains(h.Logs.String(), "unfinished line holds the input's pending bytes") {
		t.Error("no warning for the closed connection")
	}
	if peak := counter(t, h, "pending_bytes_peak"); peak > max+64<<10 {
		t.Errorf("the input held %d bytes at once; max_pending_bytes is %d", peak, max)
	}
	close(gate)
	for range conns {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	evs := h.WaitEvents(t, conns*lines, 60*time.Second)
	next := make([]int, conns)
	for _, e := range evs {
		msg, _ := get(t, e, "message").(string)
		var i, j int
		if _, err := fmt.Sscanf(msg, "%d %d", &i, &j); err != nil || i < 0 || i >= conns {
			t.Fatalf("an event that no complete line made: %.40q", msg)
		}
		if j != next[i] {
			t.Fatalf("connection %d: line %d where %d was due", i, j, next[i])
		}
		next[i]++
	}
	time.Sleep(200 * time.Millisecond)
	if n := h.Sink.Len(); n != conns*lines {
		t.Fatalf("%d events, want %d", n, conns*lines)
	}
	t.Logf("peak held %d bytes (max %d), %d waits, %d evictions", counter(t, h, "pending_bytes_peak"), max,
		counter(t, h, "pending_waits"), counter(t, h, "pending_evictions"))
}

// ssl_extra_chain_certs: the certificates of the files follow the server's
// own in the handshake (Logstash's tcp input option).
func TestTLSExtraChainCerts(t *testing.T) {
	ca := testpki.NewCA(t, "test CA")
	extra := testpki.NewCA(t, "intermediate")
	server := ca.Server("server")
	client := ca.ClientConfig(ca.ClientSubject(pkix.Name{CommonName: "client.test"}))
	opts := fmt.Sprintf("ssl_enabled = true\nssl_certificate = %q\nssl_key = %q\nssl_extra_chain_certs = [%q]\ndns_reverse_lookup_enabled = false",
		server.CertFile, server.KeyFile, extra.File)
	h := inputtest.Start(t, "tcp", opts, inputtest.Options{})
	c, err := tls.Dial("tcp", h.TCP, client)
	if err != nil {
		t.Fatal(err)
	}
	peers := c.ConnectionState().PeerCertificates
	io.WriteString(c, "chained\n")
	c.Close()
	if len(peers) != 2 || peers[1].Subject.CommonName != "intermediate" {
		t.Fatalf("chain sent: %d certificates", len(peers))
	}
	h.WaitEvents(t, 1, 10*time.Second)
}
