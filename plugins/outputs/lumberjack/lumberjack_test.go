package lumberjack

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/pipelined/pipeline/dsl/ir"
	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/plugins/codecs/json"
	_ "github.com/pipelined/pipeline/plugins/codecs/plain"
	_ "github.com/pipelined/pipeline/plugins/inputs/beats"
	_ "github.com/pipelined/pipeline/plugins/inputs/generator"
	"github.com/pipelined/pipeline/plugins/internal/testkit/inputtest"
	"github.com/pipelined/pipeline/plugins/internal/testkit/plugintest"
	"github.com/pipelined/pipeline/plugins/internal/testkit/testpki"
)

// centre starts a real beats input with TLS that requires a client
// certificate from ca.
func centre(t *testing.T, ca *testpki.CA, extra ...string) *inputtest.Harness {
	srv := ca.Server("centre")
	return inputtest.Start(t, "beats", fmt.Sprintf("ssl_enabled = true\nssl_certificate = %q\nssl_key = %q\nssl_client_authentication = \"required\"\nssl_certificate_authorities = [%q]\n%s",
		srv.CertFile, srv.KeyFile, ca.File, strings.Join(extra, "\n")), inputtest.Options{})
}

func newOutput(t *testing.T, opts string, r engine.Resources) *Output {
	t.Helper()
	o := plugintest.MustNew(t, New, opts, r)
	t.Cleanup(func() { o.Close(context.Background()) })
	return o
}

func hostPort(t *testing.T, addr string) (string, int) {
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	fmt.Sscan(p, &n)
	return h, n
}

// A batch over mTLS arrives at a real beats input with its fields intact
// and Write returns after the receiver's acknowledgement.
func TestShipToBeatsInput(t *testing.T) {
	ca := testpki.NewCA(t, "ca")
	c := centre(t, ca)
	cli := ca.Client("agent")
	host, port := hostPort(t, c.TCP)
	out := newOutput(t, fmt.Sprintf("hosts = [%q]\nport = %d\nssl_certificate = %q\nssl_client_certificate = %q\nssl_client_key = %q",
		host, port, ca.File, cli.CertFile, cli.KeyFile), engine.Resources{})
	ctx := context.Background()
	if err := out.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	var evs []*event.Event
	for i := range 300 {
		e := event.NewMessage(fmt.Sprintf("line %d", i))
		e.Set(event.MustRef("[host][name]"), "agent-1")
		e.Set(event.MustRef("seq"), int64(i))
		evs = append(evs, e)
	}
	if err := out.Write(ctx, evs); err != nil {
		t.Fatal(err)
	}
	got := c.WaitEvents(t, 300, 20*time.Second)
	seen := map[int64]bool{}
	for _, e := range got {
		seq, _ := e.Get(event.MustRef("seq"))
		name, _ := e.Get(event.MustRef("[host][name]"))
		msg, _ := e.Get(event.MustRef("message"))
		n, _ := seq.(int64)
		if name != "agent-1" || msg != fmt.Sprintf("line %d", n) {
			t.Fatalf("event changed on the way: %v", e.Fields())
		}
		seen[n] = true
	}
	if len(seen) != 300 {
		t.Fatalf("%d distinct events arrived, want 300", len(seen))
	}
}

// The first host refuses connections: the output fails over to the second.
func TestFailover(t *testing.T) {
	ca := testpki.NewCA(t, "ca")
	c := centre(t, ca)
	cli := ca.Client("agent")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := l.Addr().String()
	l.Close()
	out := newOutput(t, fmt.Sprintf("hosts = [%q, %q]\nport = 5044\nssl_certificate = %q\nssl_client_certificate = %q\nssl_client_key = %q\ntimeout = 5",
		dead, c.TCP, ca.File, cli.CertFile, cli.KeyFile), engine.Resources{})
	ctx := context.Background()
	if err := out.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	if err := out.Write(ctx, []*event.Event{event.NewMessage("via the second host")}); err != nil {
		t.Fatal(err)
	}
	if msg, _ := c.WaitEvents(t, 1, 10*time.Second)[0].Get(event.MustRef("message")); msg != "via the second host" {
		t.Fatalf("message %v", msg)
	}
}

// A receiver that completes the handshake and never acknowledges: Write
// gives up after timeout and says the connection is gone, so the engine
// reconnects and sends the batch again; nothing counts as delivered.
func TestSilentReceiverTimesOut(t *testing.T) {
	ca := testpki.NewCA(t, "ca")
	srv := ca.Server("silent")
	l, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{srv.TLS}})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for range 4 {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 4096)
				c.SetReadDeadline(time.Now().Add(10 * time.Second))
				for {
					if _, err := c.Read(buf); err != nil {
						return
					}
				}
			}()
		}
	}()
	host, port := hostPort(t, l.Addr().String())
	out := newOutput(t, fmt.Sprintf("hosts = [%q]\nport = %d\nssl_certificate = %q\ntimeout = 0.5", host, port, ca.File), engine.Resources{})
	ctx := context.Background()
	if err := out.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	err = out.Write(ctx, []*event.Event{event.NewMessage("never acknowledged")})
	if !errors.Is(err, engine.ErrNotConnected) {
		t.Fatalf("Write to a silent receiver: %v; want ErrNotConnected", err)
	}
	if out.conns[0] != nil {
		t.Fatal("the silent connection was kept")
	}
}

// With a codec each event goes as Logstash's output sends it, {"line":
// <codec output>}, and a beats input with the same codec decodes it back
// (Logstash to Logstash over lumberjack).
func TestCodecSendsLine(t *testing.T) {
	ca := testpki.NewCA(t, "ca")
	c := centre(t, ca, `codec "json" {}`)
	cli := ca.Client("agent")
	host, port := hostPort(t, c.TCP)
	codec := plugintest.MustCodec(t, json.New)
	out := newOutput(t, fmt.Sprintf("hosts = [%q]\nport = %d\nssl_certificate = %q\nssl_client_certificate = %q\nssl_client_key = %q",
		host, port, ca.File, cli.CertFile, cli.KeyFile), engine.Resources{Codec: codec})
	ctx := context.Background()
	if err := out.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	e := event.NewMessage("framed")
	e.Set(event.MustRef("[user][name]"), "ann")
	if err := out.Write(ctx, []*event.Event{e}); err != nil {
		t.Fatal(err)
	}
	got := c.WaitEvents(t, 1, 10*time.Second)[0]
	msg, _ := got.Get(event.MustRef("message"))
	user, _ := got.Get(event.MustRef("[user][name]"))
	line, hasLine := got.Get(event.MustRef("line"))
	if msg != "framed" || user != "ann" || hasLine || !got.HasTag("beats_input_codec_json_applied") {
		t.Fatalf("message %v user %v line %v in %v", msg, user, line, got.Fields())
	}
}

// A client certificate from another CA is refused by the centre: Write
// fails and nothing arrives.
func TestForeignClientCertificateRefused(t *testing.T) {
	ca := testpki.NewCA(t, "ca")
	c := centre(t, ca)
	other := testpki.NewCA(t, "other")
	cli := other.Client("intruder")
	host, port := hostPort(t, c.TCP)
	out := newOutput(t, fmt.Sprintf("hosts = [%q]\nport = %d\nssl_certificate = %q\nssl_client_certificate = %q\nssl_client_key = %q\ntimeout = 2",
		host, port, ca.File, cli.CertFile, cli.KeyFile), engine.Resources{})
	ctx := context.Background()
	err := out.Connect(ctx)
	if err == nil {
		err = out.Write(ctx, []*event.Event{event.NewMessage("must not pass")})
	}
	if err == nil {
		t.Fatal("a foreign client certificate was accepted")
	}
	time.Sleep(200 * time.Millisecond)
	if c.Sink.Len() != 0 {
		t.Fatalf("%d events arrived", c.Sink.Len())
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct{ opts, field string }{
		{`port = 5044`, "hosts"},
		{`hosts = ["a"]`, "port"},
		{"hosts = [\"a:x\"]\nport = 5044", "hosts"},
		{"hosts = [\"a\"]\nport = 5044\ncompression_level = 10", "compression_level"},
		{"hosts = [\"a\"]\nport = 5044\nssl_client_certificate = \"c.pem\"", "ssl_client_key"},
		{"hosts = [\"a\"]\nport = 5044\nssl_verification_mode = \"certificate\"", "ssl_verification_mode"},
	} {
		diags := plugintest.CheckDiags(t, ir.Output, "lumberjack", tc.opts)
		if !diags.HasErrors() || !strings.Contains(diags.Error(), tc.field) {
			t.Errorf("%q: %v; want an error on %s", tc.opts, diags, tc.field)
		}
	}
}

// A batch larger than the receiver's max_window_size goes as windows of
// flush_size events: every event arrives once and Write succeeds (one
// window of the whole batch would be refused, again and again).
func TestBatchSplitIntoWindows(t *testing.T) {
	ca := testpki.NewCA(t, "ca")
	c := centre(t, ca, "max_window_size = 500")
	cli := ca.Client("agent")
	host, port := hostPort(t, c.TCP)
	out := newOutput(t, fmt.Sprintf("hosts = [%q]\nport = %d\nssl_certificate = %q\nssl_client_certificate = %q\nssl_client_key = %q\nflush_size = 400\ntimeout = 5",
		host, port, ca.File, cli.CertFile, cli.KeyFile), engine.Resources{})
	ctx := context.Background()
	var evs []*event.Event
	for i := range 2500 {
		e := event.NewMessage("m")
		e.Set(event.MustRef("seq"), int64(i))
		evs = append(evs, e)
	}
	if err := out.Write(ctx, evs); err != nil {
		t.Fatal(err)
	}
	got := c.WaitEvents(t, 2500, 20*time.Second)
	seen := map[int64]bool{}
	for _, e := range got {
		seq, _ := e.Get(event.MustRef("seq"))
		seen[seq.(int64)] = true
	}
	if len(seen) != 2500 || len(got) != 2500 {
		t.Fatalf("%d events, %d distinct; want 2500", len(got), len(seen))
	}
}
