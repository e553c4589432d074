package syslog

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pipelined/pipeline/dsl/ir"
	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/plugins/codecs/plain"
	"github.com/pipelined/pipeline/plugins/internal/testkit/plugintest"
	"github.com/pipelined/pipeline/plugins/internal/testkit/servertest"
	"github.com/pipelined/pipeline/plugins/internal/testkit/testpki"
)

var at = time.Date(2026, 12, 7, 3, 4, 5, 678e6, time.UTC)

func ev(msg string, fields map[string]any) *event.Event {
	e := event.NewMessageAt(msg, at)
	for k, v := range fields {
		_ = e.Set(event.MustRef(k), v)
	}
	return e
}

func newOutput(t *testing.T, opts string, codec engine.Codec) *Output {
	t.Helper()
	if codec == nil {
		codec = plugintest.MustCodec(t, plain.New)
	}
	return plugintest.MustNew(t, New, opts, engine.Resources{Codec: codec, Logger: slog.New(slog.DiscardHandler)})
}

// The message layouts of Logstash's syslog output, byte for byte.
func TestFormat(t *testing.T) {
	for _, tc := range []struct {
		name, opts string
		e          *event.Event
		want       string
	}{
		{"rfc3164 labels", `facility = "%%{fac}"
severity = "error"
appname = "app"
procid = "%%{pid}"`, ev("hello\r\nworld  \n", map[string]any{"host": "web1", "fac": "local3", "pid": int64(42)}),
			"<139>Dec 07 03:04:05 web1 app[42]: hello\\nworld\n"},
		{"unknown labels fall back to 13", `facility = "nope"
severity = "nope"`, ev("x", map[string]any{"host": "h"}),
			"<13>Dec 07 03:04:05 h LOGSTASH[-]: x\n"},
		{"rfc5424 priority field", `rfc = "rfc5424"
use_labels = false
msgid = "ID7"
structured_data = "[ex@1 a=\"%%{a}\"]"`, ev("hi", map[string]any{"host": "h", "syslog_pri": "0x10", "a": "b"}),
			"<16>1 2026-12-07T03:04:05.678+00:00 h LOGSTASH - ID7 [ex@1 a=\"b\"] hi\n"},
		{"rfc5424 bad priority", `rfc = "rfc5424"
use_labels = false
priority = "%%{p}"`, ev("hi", map[string]any{"host": "h", "p": "500"}),
			"<13>1 2026-12-07T03:04:05.678+00:00 h LOGSTASH - - - hi\n"},
		{"message template", `message = "%%{a}: %%{message}"`, ev("m", map[string]any{"host": "h", "a": "A"}),
			"<13>Dec 07 03:04:05 h LOGSTASH[-]: A: m\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := newOutput(t, "host = \"127.0.0.1\"\nport = 514\n"+tc.opts, nil)
			got, err := o.format(nil, tc.e)
			if err != nil || string(got) != tc.want {
				t.Errorf("got %q, %v\nwant %q", got, err, tc.want)
			}
		})
	}
	// A plain codec with a format replaces message, as in Logstash.
	codec := plugintest.MustCodec(t, func(o plain.Options, r engine.Resources) (*plain.Codec, error) {
		o.Format = "F %{message}"
		return plain.New(o, r)
	})
	o := newOutput(t, "host = \"127.0.0.1\"\nport = 514", codec)
	got, _ := o.format(nil, ev("m", map[string]any{"host": "h"}))
	if want := "<13>Dec 07 03:04:05 h LOGSTASH[-]: F m\n"; string(got) != want {
		t.Errorf("codec with format: got %q, want %q", got, want)
	}
}

// rsyslogd, a real syslog server, receives over TCP and UDP what the output
// sends through the engine and parses every field.
func TestRsyslogReceives(t *testing.T) {
	rsyslogd := servertest.Require(t, "rsyslogd", "RSYSLOGD_BIN", "rsyslogd", "/usr/sbin/rsyslogd")
	tcpPort, err := servertest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	udpPort, err := servertest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "out.log")
	os.Mkdir(filepath.Join(dir, "work"), 0o755)
	conf := fmt.Sprintf(`global(workDirectory="%[1]s/work")
module(load="imtcp")
module(load="imudp")
input(type="imtcp" address="127.0.0.1" port="%[2]d")
input(type="imudp" address="127.0.0.1" port="%[3]d")
template(name="fields" type="string" string="%%pri%%|%%hostname%%|%%app-name%%|%%procid%%|%%msgid%%|%%msg%%\n")
action(type="omfile" file="%[4]s" template="fields")
`, dir, tcpPort, udpPort, out)
	confPath := filepath.Join(dir, "rsyslog.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	rsys := servertest.Run(t, "rsyslogd", exec.Command(rsyslogd, "-n", "-f", confPath, "-i", filepath.Join(dir, "rsyslogd.pid")))
	tcpAddr := fmt.Sprintf("127.0.0.1:%d", tcpPort)
	if !servertest.Poll(func() bool { return servertest.Dials(tcpAddr) }, 20*time.Second) {
		t.Fatalf("rsyslogd does not listen on %s:\n%s", tcpAddr, rsys.Log())
	}
	plugintest.Output(t, "syslog", fmt.Sprintf(`host = "127.0.0.1"
port = %d
protocol = "tcp"
facility = "local3"
severity = "%%{sev}"
appname = "myapp"
procid = "77"`, tcpPort),
		ev("first line\nsecond", map[string]any{"host": "web1", "sev": "warning"}),
		ev("two", map[string]any{"host": "web2", "sev": "debug"}))
	want := []string{
		`140|web1|myapp|77|-| first line\nsecond`,
		`143|web2|myapp|77|-| two`,
	}
	lines := waitLines(t, out, len(want), rsys)
	for i := range want {
		if lines[i] != want[i] {
			t.Errorf("tcp rfc3164 line %d: %q, want %q", i, lines[i], want[i])
		}
	}
	// UDP may lose a datagram sent before imudp is bound: send until one
	// arrives, each with its number.
	var got []string
	for i := 0; i < 50 && len(got) <= len(want); i++ {
		plugintest.Output(t, "syslog", fmt.Sprintf(`host = "127.0.0.1"
port = %d
rfc = "rfc5424"
msgid = "M%%{n}"
procid = "%%{n}"`, udpPort), ev("udp", map[string]any{"host": "web3", "n": int64(i)}))
		got = readLines(out)
		if len(got) <= len(want) {
			time.Sleep(100 * time.Millisecond)
		}
	}
	if len(got) <= len(want) {
		t.Fatalf("no UDP message reached rsyslogd:\n%s", rsys.Log())
	}
	line := got[len(want)]
	parts := strings.Split(line, "|")
	if len(parts) != 6 || parts[0] != "13" || parts[1] != "web3" || parts[2] != "LOGSTASH" || parts[4] != "M"+parts[3] || parts[5] != "udp" {
		t.Errorf("udp rfc5424: %q", line)
	}
}

func readLines(path string) []string {
	b, _ := os.ReadFile(path)
	s := strings.TrimSuffix(string(b), "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

func waitLines(t *testing.T, path string, n int, p *servertest.Process) []string {
	t.Helper()
	var lines []string
	servertest.Poll(func() bool { lines = readLines(path); return len(lines) >= n }, 20*time.Second)
	if len(lines) < n {
		t.Fatalf("%s: %d lines, want %d: %q\nrsyslogd:\n%s", path, len(lines), n, lines, p.Log())
	}
	return lines
}

// Over TCP a dead server fails Connect; the batch waits for the engine's
// retry instead of being dropped.
func TestTCPConnectFails(t *testing.T) {
	port, err := servertest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	o := newOutput(t, fmt.Sprintf("host = \"127.0.0.1\"\nport = %d\nprotocol = \"tcp\"", port), nil)
	if err := o.Connect(context.Background()); err == nil {
		t.Fatal("connected to a closed port")
	}
	if err := o.Write(context.Background(), []*event.Event{ev("x", nil)}); err == nil {
		t.Fatal("Write without a connection succeeded")
	}
}

func TestValidate(t *testing.T) {
	base := "host = \"h\"\nport = 514\n"
	for _, tc := range []struct{ opts, want string }{
		{"protocol = \"tls\"", "protocol"},
		{"rfc = \"rfc1234\"", "rfc"},
		{"structured_data = \"[a]\"", "RFC3164"},
		{"appname = \"%{[a}\"", "appname"},
		{"protocol = \"ssl-tcp\"\nssl_crl_path = \"/x\"", "not supported"},
		{"protocol = \"ssl-tcp\"\nssl_certificate = \"/c.pem\"", "ssl_key"},
		{"ssl_cacert = \"/a\"\nssl_certificate_authorities = [\"/b\"]", "ssl_cacert"},
	} {
		diags := plugintest.BuildDiags(t, ir.Output, "syslog", base+tc.opts)
		if !diags.HasErrors() || !strings.Contains(diags.Error(), tc.want) {
			t.Errorf("%s: diags %v; want %q", tc.opts, diags, tc.want)
		}
	}
	if diags := plugintest.BuildDiags(t, ir.Output, "syslog", base+"rfc = \"rfc5424\"\nstructured_data = \"[a b=\\\"c\\\"]\""); diags.HasErrors() {
		t.Errorf("valid options: %v", diags)
	}
}

// protocol ssl-tcp: TLS to a server whose certificate ssl_verify checks
// against ssl_certificate_authorities; an untrusted server is refused.
func TestSSLTCP(t *testing.T) {
	ca := testpki.NewCA(t, "syslog-ca")
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{ca.Server("127.0.0.1").TLS}})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	lines := make(chan string, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(20 * time.Second))
		s, _ := bufio.NewReader(c).ReadString('\n')
		lines <- s
	}()
	port := ln.Addr().(*net.TCPAddr).Port
	o := newOutput(t, fmt.Sprintf("host = \"127.0.0.1\"\nport = %d\nprotocol = \"ssl-tcp\"\nssl_verify = true\nssl_certificate_authorities = [%q]", port, ca.File), nil)
	defer o.Close(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := o.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	if err := o.Write(ctx, []*event.Event{ev("secure", map[string]any{"host": "h"})}); err != nil {
		t.Fatal(err)
	}
	select {
	case s := <-lines:
		if s != "<13>Dec 07 03:04:05 h LOGSTASH[-]: secure\n" {
			t.Errorf("received %q", s)
		}
	case <-ctx.Done():
		t.Fatal("nothing received over TLS")
	}

	other := testpki.NewCA(t, "other")
	ln2, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{other.Server("127.0.0.1").TLS}})
	if err != nil {
		t.Fatal(err)
	}
	defer ln2.Close()
	go func() {
		if c, err := ln2.Accept(); err == nil {
			_ = c.(*tls.Conn).Handshake()
			c.Close()
		}
	}()
	o2 := newOutput(t, fmt.Sprintf("host = \"127.0.0.1\"\nport = %d\nprotocol = \"ssl-tcp\"\nssl_verify = true\nssl_certificate_authorities = [%q]", ln2.Addr().(*net.TCPAddr).Port, ca.File), nil)
	if err := o2.Connect(ctx); err == nil {
		t.Fatal("ssl_verify accepted a server signed by another CA")
	}
}
