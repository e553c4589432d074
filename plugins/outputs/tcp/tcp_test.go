package tcp

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/pipelined/pipeline/dsl/ir"
	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
	_ "github.com/pipelined/pipeline/plugins/codecs/json"
	"github.com/pipelined/pipeline/plugins/codecs/jsonlines"
	"github.com/pipelined/pipeline/plugins/internal/testkit/plugintest"
	"github.com/pipelined/pipeline/plugins/internal/testkit/servertest"
	"github.com/pipelined/pipeline/plugins/internal/testkit/testpki"
)

// listener is a real TCP server on loopback that keeps every connection's
// bytes.
type listener struct {
	ln    net.Listener
	conns chan net.Conn
}

func listen(t *testing.T, cfg *tls.Config) *listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if cfg != nil {
		ln = tls.NewListener(ln, cfg)
	}
	l := &listener{ln: ln, conns: make(chan net.Conn, 8)}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				close(l.conns)
				return
			}
			if tc, ok := c.(*tls.Conn); ok {
				// Complete the handshake here: the client's dial waits for it.
				_ = tc.SetDeadline(time.Now().Add(10 * time.Second))
				_ = tc.Handshake()
				_ = tc.SetDeadline(time.Time{})
			}
			l.conns <- c
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return l
}

func (l *listener) port() int { return l.ln.Addr().(*net.TCPAddr).Port }

func (l *listener) accept(t *testing.T) net.Conn {
	t.Helper()
	select {
	case c, ok := <-l.conns:
		if !ok {
			t.Fatal("listener closed")
		}
		t.Cleanup(func() { c.Close() })
		return c
	case <-time.After(10 * time.Second):
		t.Fatal("no connection within 10s")
	}
	return nil
}

func events(n int) []*event.Event {
	out := make([]*event.Event, n)
	for i := range out {
		out[i] = event.NewMessageAt(fmt.Sprintf("m%d", i), time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC))
	}
	return out
}

func newOutput(t *testing.T, opts string) *Output {
	t.Helper()
	codec := plugintest.MustCodec(t, jsonlines.New)
	o := plugintest.MustNew(t, New, opts, engine.Resources{Codec: codec, Logger: slog.New(slog.DiscardHandler)})
	t.Cleanup(func() { _ = o.Close(context.Background()) })
	return o
}

func mustConnect(t *testing.T, o *Output) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := o.Connect(ctx); err != nil {
		t.Fatalf("Connect: %v", err)
	}
}

// The default codec is Logstash's json: objects follow each other with no
// separator. Through the engine, the pipeline drains only after the bytes
// were written, and Close ends the connection.
func TestDefaultCodecJSONThroughEngine(t *testing.T) {
	l := listen(t, nil)
	got := make(chan []byte, 1)
	go func() {
		c, ok := <-l.conns
		if !ok {
			got <- nil
			return
		}
		defer c.Close()
		_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
		b, _ := io.ReadAll(c)
		got <- b
	}()
	plugintest.Output(t, "tcp", fmt.Sprintf("host = \"127.0.0.1\"\nport = %d", l.port()), events(3)...)
	b := <-got
	if !bytes.Contains(b, []byte("}{")) || bytes.Contains(b, []byte("\n")) {
		t.Errorf("want concatenated JSON objects without newlines, got %q", b)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	for i := 0; i < 3; i++ {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			t.Fatalf("object %d: %v in %q", i, err, b)
		}
		if m["message"] != fmt.Sprintf("m%d", i) {
			t.Errorf("object %d: message %v", i, m["message"])
		}
	}
	if dec.More() {
		t.Errorf("more than 3 objects in %q", b)
	}
}

// A broken connection fails the Write with ErrNotConnected; after Connect
// again, the retried batch arrives whole on the new connection.
func TestJSONLinesReconnect(t *testing.T) {
	l := listen(t, nil)
	o := newOutput(t, fmt.Sprintf("host = \"127.0.0.1\"\nport = %d\nreconnect_interval = 0", l.port()))
	mustConnect(t, o)
	c1 := l.accept(t)
	if err := o.Write(context.Background(), events(2)); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(c1)
	_ = c1.SetReadDeadline(time.Now().Add(10 * time.Second))
	for i := 0; i < 2; i++ {
		line, err := r.ReadString('\n')
		if err != nil || !strings.Contains(line, fmt.Sprintf(`"message":"m%d"`, i)) {
			t.Fatalf("line %d: %q %v", i, line, err)
		}
	}
	c1.Close()
	// The peer is gone: a write fails, within a few attempts (the first may
	// still be buffered by the kernel before the reset comes back).
	var err error
	for i := 0; i < 50 && err == nil; i++ {
		err = o.Write(context.Background(), events(1))
		if err == nil {
			time.Sleep(20 * time.Millisecond)
		}
	}
	if !errors.Is(err, engine.ErrNotConnected) {
		t.Fatalf("write to a closed peer: %v, want ErrNotConnected", err)
	}
	mustConnect(t, o)
	c2 := l.accept(t)
	if err := o.Write(context.Background(), events(3)); err != nil {
		t.Fatal(err)
	}
	_ = c2.SetReadDeadline(time.Now().Add(10 * time.Second))
	r = bufio.NewReader(c2)
	for i := 0; i < 3; i++ {
		line, err := r.ReadString('\n')
		if err != nil || !strings.Contains(line, fmt.Sprintf(`"message":"m%d"`, i)) {
			t.Fatalf("after reconnect, line %d: %q %v", i, line, err)
		}
	}
}

// Nobody listening: Connect fails naming the address, and the next attempt
// waits out reconnect_interval (cancelled here by the context).
func TestConnectRefusedWaitsInterval(t *testing.T) {
	l := listen(t, nil)
	port := l.port()
	l.ln.Close()
	o := newOutput(t, fmt.Sprintf("host = \"127.0.0.1\"\nport = %d\nreconnect_interval = 3600", port))
	err := o.Connect(context.Background())
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("127.0.0.1:%d", port)) {
		t.Fatalf("Connect to a closed port: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := o.Connect(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("second Connect within reconnect_interval: %v, want it to wait (context.Canceled)", err)
	}
	if err := o.Write(context.Background(), events(1)); !errors.Is(err, engine.ErrNotConnected) {
		t.Fatalf("Write unconnected: %v", err)
	}
}

// A peer that stops reading holds the Write; cancelling the context ends it
// with an error, so shutdown is never stuck.
func TestBlockedPeerCancelled(t *testing.T) {
	l := listen(t, nil)
	o := newOutput(t, fmt.Sprintf("host = \"127.0.0.1\"\nport = %d", l.port()))
	mustConnect(t, o)
	_ = l.accept(t) // never read
	big := make([]*event.Event, 2000)
	msg := strings.Repeat("x", 8<<10)
	for i := range big {
		big[i] = event.NewMessage(msg)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- o.Write(ctx, big) }()
	cancel()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("16 MB written to a peer that does not read")
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Write did not return after cancel")
	}
}

func TestTLS(t *testing.T) {
	ca := testpki.NewCA(t, "tcp-output-ca")
	srv := ca.Server("127.0.0.1")
	l := listen(t, &tls.Config{Certificates: []tls.Certificate{srv.TLS}})
	o := newOutput(t, fmt.Sprintf("host = \"127.0.0.1\"\nport = %d\nssl_enabled = true\nssl_certificate_authorities = [%q]", l.port(), ca.File))
	mustConnect(t, o)
	c := l.accept(t)
	if err := o.Write(context.Background(), events(1)); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || !strings.Contains(line, `"message":"m0"`) {
		t.Fatalf("over TLS: %q %v", line, err)
	}

	// A server whose certificate another CA signed is refused.
	other := testpki.NewCA(t, "other")
	l2 := listen(t, &tls.Config{Certificates: []tls.Certificate{other.Server("127.0.0.1").TLS}})
	o2 := newOutput(t, fmt.Sprintf("host = \"127.0.0.1\"\nport = %d\nssl_enabled = true\nssl_certificate_authorities = [%q]", l2.port(), ca.File))
	if err := o2.Connect(context.Background()); err == nil {
		t.Fatal("connected to a server signed by an untrusted CA")
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct{ opts, want string }{
		{"host = \"h\"\nport = 0", "port"},
		{"host = \"\"\nport = 5000", "host"},
		{"host = \"h\"\nport = 5000\nmode = \"server\"\nssl_enabled = true", "not supported"},
		{"host = \"h\"\nport = 5000\nmode = \"peer\"", "mode"},
		{"host = \"h\"\nport = 5000\nssl_cacert = \"/ca.pem\"", "ssl_certificate_authorities"},
		{"host = \"h\"\nport = 5000\nssl_enable = true", "ssl_enabled"},
		{"host = \"h\"\nport = 5000\nssl_verification_mode = \"none\"", "ssl_enabled"},
	} {
		diags := plugintest.BuildDiags(t, ir.Output, "tcp", tc.opts)
		if !diags.HasErrors() || !strings.Contains(diags.Error(), tc.want) {
			t.Errorf("%s: diags %v; want %q", tc.opts, diags, tc.want)
		}
	}
	if diags := plugintest.BuildDiags(t, ir.Output, "tcp", "host = \"h\"\nport = 5000\nreconnect_interval = 2"); diags.HasErrors() {
		t.Errorf("valid options: %v", diags)
	}
}

// Server mode, as Logstash's: every connected client gets every batch; with
// nobody connected a batch is acknowledged and gone.
func TestServerMode(t *testing.T) {
	port, err := servertest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	o := newOutput(t, fmt.Sprintf("host = \"127.0.0.1\"\nport = %d\nmode = \"server\"", port))
	mustConnect(t, o)
	if err := o.Write(context.Background(), events(1)); err != nil {
		t.Fatalf("Write with no client: %v", err)
	}
	var readers []*bufio.Reader
	for i := 0; i < 2; i++ {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
		readers = append(readers, bufio.NewReader(c))
	}
	waitClients(t, o, 2)
	if err := o.Write(context.Background(), events(2)); err != nil {
		t.Fatal(err)
	}
	for n, r := range readers {
		for i := 0; i < 2; i++ {
			line, err := r.ReadString('\n')
			if err != nil || !strings.Contains(line, fmt.Sprintf(`"message":"m%d"`, i)) {
				t.Fatalf("client %d line %d: %q %v", n, i, line, err)
			}
		}
	}
	if err := o.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := readers[0].ReadString('\n'); err == nil {
		t.Error("a client still open after Close")
	}
}
