package syslog

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/engine/monitor"
	"github.com/pipelined/pipeline/plugins/internal/testkit/inputtest"
	"github.com/pipelined/pipeline/plugins/internal/testkit/testpki"
)

func get(e *event.Event, ref string) any {
	v, _ := e.Get(event.MustRef(ref))
	return v
}

func dial(t *testing.T, network, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout(network, addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestTCPAndUDPOnOnePort: TCP messages end at "\n", which stays in message;
// an unterminated tail is dropped on close; a UDP datagram is one message
// even with several lines.
func TestTCPAndUDPOnOnePort(t *testing.T) {
	h := inputtest.Start(t, "syslog", `timezone = "UTC"`, inputtest.Options{Listeners: 2})
	if _, p1, _ := net.SplitHostPort(h.TCP); !strings.HasSuffix(h.UDP, ":"+p1) {
		t.Fatalf("tcp %s and udp %s not on one port", h.TCP, h.UDP)
	}
	c := dial(t, "tcp", h.TCP)
	io.WriteString(c, "<13>Nov 24 03:26:46 host app[1]: one\n<14>Nov 24 03:26:47 host app: two\r\nunterminated")
	c.Close()
	evs := h.WaitEvents(t, 2, 10*time.Second)
	if get(evs[0], "message") != "one\n" || get(evs[0], "pid") != "1" || get(evs[0], "priority") != int64(13) {
		t.Errorf("event 0: %v", evs[0].Fields())
	}
	if get(evs[1], "message") != "two\r\n" || get(evs[1], "severity_label") != "Informational" {
		t.Errorf("event 1: %v", evs[1].Fields())
	}
	u := dial(t, "udp", h.UDP)
	io.WriteString(u, "<13>Nov 24 03:26:48 host app: first\nsecond line")
	evs = h.WaitEvents(t, 3, 10*time.Second)
	if get(evs[2], "message") != "first\nsecond line" || get(evs[2], "host") != "127.0.0.1" {
		t.Errorf("datagram: %v", evs[2].Fields())
	}
	time.Sleep(200 * time.Millisecond)
	if h.Sink.Len() != 3 {
		t.Fatalf("%d events: the unterminated tail was emitted", h.Sink.Len())
	}
}

func TestOctetCounting(t *testing.T) {
	h := inputtest.Start(t, "syslog", "octet_counting = true\nrfc5424 = true", inputtest.Options{Listeners: 2})
	c := dial(t, "tcp", h.TCP)
	m1 := "<13>1 2026-11-24T03:26:46Z vm myapp - - - msg 1"
	m2 := "<13>1 2026-11-24T03:26:46Z vm myapp - - - msg 2\n"
	io.WriteString(c, strconv.Itoa(len(m1))+" "+m1+strconv.Itoa(len(m2))+" "+m2+"<13>Nov 24 03:26:46 host app: lf framed\n")
	c.Close()
	evs := h.WaitEvents(t, 3, 10*time.Second)
	for i, want := range []string{"msg 1", "msg 2\n", "lf framed\n"} {
		if get(evs[i], "message") != want {
			t.Errorf("event %d: message %q, want %q", i, get(evs[i], "message"), want)
		}
	}
}

func TestLongAndGarbage(t *testing.T) {
	h := inputtest.Start(t, "syslog", "max_line_bytes = 1048576", inputtest.Options{Listeners: 2})
	c := dial(t, "tcp", h.TCP)
	big := strings.Repeat("a", 1<<20)
	garbage := string([]byte{0, 1, 2, 0xff, 0xfe, '<', '9', '>'})
	head := "<13>Nov 24 03:26:46 host app: "
	io.WriteString(c, head+big[len(head):]+"\n"+big+big+"\n"+garbage+"\nafter\n")
	c.Close()
	evs := h.WaitEvents(t, 3, 20*time.Second)
	if m, _ := get(evs[0], "message").(string); len(m) != 1<<20+1-len(head) {
		t.Errorf("1 MiB message: %d bytes", len(m))
	}
	if get(evs[1], "message") != `\u0000\u0001\u0002\xFF\xFE<9>\n` || !evs[1].HasTag(TagParseFailure) {
		t.Errorf("garbage: %q %v", get(evs[1], "message"), evs[1].Tags())
	}
	if get(evs[2], "message") != "after\n" {
		t.Errorf("after: %q", get(evs[2], "message"))
	}
	inputtest.WaitFor(t, 5*time.Second, "the skip logged", func() bool { return strings.Contains(h.Logs.String(), "longer than max_line_bytes") })
}

func TestBackPressure(t *testing.T) {
	gate := make(chan struct{})
	h := inputtest.Start(t, "syslog", "", inputtest.Options{Listeners: 2, Gate: gate})
	c := dial(t, "tcp", h.TCP)
	line := "<13>Nov 24 03:26:46 host app: " + strings.Repeat("x", 1000) + "\n"
	done := make(chan int, 1)
	go func() {
		n := 0
		for ; n < 50000; n++ {
			c.SetWriteDeadline(time.Now().Add(1500 * time.Millisecond))
			if _, err := io.WriteString(c, line); err != nil {
				break
			}
		}
		done <- n
	}()
	n := <-done
	if n == 50000 {
		t.Fatal("all 50 MB written while the pipeline was full: no back-pressure")
	}
	close(gate)
	h.WaitEvents(t, n-1, 30*time.Second)
}

func TestTLSAndProxyProtocol(t *testing.T) {
	ca := testpki.NewCA(t, "test CA")
	server := ca.Server("server")
	opts := fmt.Sprintf("ssl_enabled = true\nssl_certificate = %q\nssl_key = %q\nproxy_protocol = true\ntimezone = \"UTC\"", server.CertFile, server.KeyFile)
	h := inputtest.Start(t, "syslog", opts, inputtest.Options{Listeners: 2})
	c, err := tls.Dial("tcp", h.TCP, ca.ClientConfig(ca.Client("client")))
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(c, "PROXY TCP4 192.0.2.7 127.0.0.1 5000 514\r\n<13>Nov 24 03:26:46 host app: over tls\n")
	c.Close()
	e := h.WaitEvents(t, 1, 10*time.Second)[0]
	if get(e, "message") != "over tls\n" || get(e, "host") != "192.0.2.7" || get(e, "program") != "app" {
		t.Fatalf("%v", e.Fields())
	}
	// Plain text on the TLS port is refused; UDP is unaffected by TLS.
	p := dial(t, "tcp", h.TCP)
	io.WriteString(p, "<13>Nov 24 03:26:46 host app: plain\n")
	p.SetReadDeadline(time.Now().Add(5 * time.Second))
	io.Copy(io.Discard, p)
	u := dial(t, "udp", h.UDP)
	io.WriteString(u, "<13>Nov 24 03:26:46 host app: udp")
	evs := h.WaitEvents(t, 2, 10*time.Second)
	if get(evs[1], "message") != "udp" {
		t.Fatalf("%v", evs[1].Fields())
	}
}

// TestUDPDropsCounted: while the pipeline is full, datagrams beyond
// queue_size are dropped and counted; every other one is delivered.
func TestUDPDropsCounted(t *testing.T) {
	gate := make(chan struct{})
	h := inputtest.Start(t, "syslog", "queue_size = 5", inputtest.Options{Listeners: 2, Gate: gate, BatchSize: 2})
	u := dial(t, "udp", h.UDP)
	for i := range 3000 {
		fmt.Fprintf(u, "<13>Nov 24 03:26:46 host app: %d", i)
		if i%100 == 0 {
			time.Sleep(time.Millisecond)
		}
	}
	inputtest.WaitFor(t, 10*time.Second, "drops", func() bool { return h.UDPStats().Dropped > 0 })
	time.Sleep(200 * time.Millisecond)
	close(gate)
	st := h.UDPStats()
	h.WaitEvents(t, int(st.Received-st.Dropped), 20*time.Second)
	time.Sleep(200 * time.Millisecond)
	if got, want := h.Sink.Len(), int(h.UDPStats().Received-h.UDPStats().Dropped); got != want {
		t.Fatalf("delivered %d, want received-dropped = %d", got, want)
	}
	inputtest.WaitFor(t, 5*time.Second, "the warning", func() bool { return strings.Contains(h.Logs.String(), "queue full, dropping datagrams") })
	t.Logf("received %d, dropped %d", st.Received, st.Dropped)
}

// TestOctetCountHeaderAllocatesNothing: with max_line_bytes = 0 (no limit),
// an octet-count header announcing 900 MB used to allocate 900 MB at once;
// now memory follows the bytes that arrive. A large frame that does arrive
// is still delivered whole.
func TestOctetCountHeaderAllocatesNothing(t *testing.T) {
	h := inputtest.Start(t, "syslog", "octet_counting = true\nmax_line_bytes = 0", inputtest.Options{Listeners: 2})
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	liars := make([]net.Conn, 4)
	for i := range liars {
		liars[i] = dial(t, "tcp", h.TCP)
		io.WriteString(liars[i], "900000000 <13>Nov 24 03:26:46 host app: only this much")
	}
	c := dial(t, "tcp", h.TCP)
	big := "<13>Nov 24 03:26:46 host app: " + strings.Repeat("b", 3<<20)
	io.WriteString(c, strconv.Itoa(len(big))+" "+big)
	evs := h.WaitEvents(t, 1, 20*time.Second)
	if m, _ := get(evs[0], "message").(string); len(m) != 3<<20 {
		t.Errorf("3 MiB frame: message of %d bytes", len(m))
	}
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	if grown := after.TotalAlloc - before.TotalAlloc; grown > 200<<20 {
		t.Errorf("%d MiB allocated for four headers announcing 900 MB and one 3 MiB frame", grown>>20)
	}
	for _, l := range liars {
		l.Close()
	}
	c.Close()
}

// TestDropsExported: UDP datagrams dropped for a full queue and TCP
// messages skipped for max_line_bytes were counted but shown nowhere but
// the log; they are in /_node/stats (the input's events) and /metrics.
func TestDropsExported(t *testing.T) {
	gate := make(chan struct{})
	h := inputtest.Start(t, "syslog", "queue_size = 5\nmax_line_bytes = 100", inputtest.Options{Listeners: 2, Gate: gate, BatchSize: 2})
	c := dial(t, "tcp", h.TCP)
	io.WriteString(c, "<13>Nov 24 03:26:46 host app: "+strings.Repeat("x", 200)+"\n")
	u := dial(t, "udp", h.UDP)
	for i := range 2000 {
		fmt.Fprintf(u, "<13>Nov 24 03:26:46 host app: %d", i)
		if i%100 == 0 {
			time.Sleep(time.Millisecond)
		}
	}
	// Many more long messages: counted, and still one warning.
	for range 50 {
		io.WriteString(c, "<13>Nov 24 03:26:46 host app: "+strings.Repeat("y", 200)+"\n")
	}
	io.WriteString(c, "<13>Nov 24 03:26:46 host app: short\n")
	inputtest.WaitFor(t, 10*time.Second, "drops", func() bool { return h.UDPStats().Dropped > 0 })
	api := monitor.New(monitor.Options{}, func() []monitor.Source { return []monitor.Source{{Pipeline: h.Pipeline}} })
	var stats struct {
		Pipelines map[string]struct {
			Plugins struct {
				Inputs []struct {
					Events map[string]int64 `json:"events"`
				} `json:"inputs"`
			} `json:"plugins"`
		} `json:"pipelines"`
	}
	inputtest.WaitFor(t, 5*time.Second, "the counters in /_node/stats", func() bool {
		r := httptest.NewRecorder()
		api.Handler().ServeHTTP(r, httptest.NewRequest("GET", "/_node/stats", nil))
		if err := json.Unmarshal(r.Body.Bytes(), &stats); err != nil {
			t.Fatal(err)
		}
		for _, p := range stats.Pipelines {
			ev := p.Plugins.Inputs[0].Events
			return ev["datagrams_dropped"] > 0 && ev["messages_too_long"] == 51 && ev["datagrams_received"] >= ev["datagrams_dropped"]
		}
		return false
	})
	r := httptest.NewRecorder()
	api.Handler().ServeHTTP(r, httptest.NewRequest("GET", "/metrics", nil))
	for _, want := range []string{"pipeline_input_datagrams_dropped_total{", "pipeline_input_messages_too_long_total{", ",plugin=\"syslog\"} 51\n"} {
		if !strings.Contains(r.Body.String(), want) {
			t.Errorf("/metrics has no %q:\n%s", want, r.Body)
		}
	}
	if n := strings.Count(h.Logs.String(), "longer than max_line_bytes"); n != 1 {
		t.Errorf("%d warnings for 51 long messages; want 1 (rate-limited)", n)
	}
	close(gate)
}
