package lumberjack

import (
	"bytes"
	"crypto/tls"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zlib"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/plugins/internal/testkit/inputtest"
	"github.com/pipelined/pipeline/plugins/internal/testkit/testpki"

	_ "github.com/pipelined/pipeline/plugins/codecs/plain"
)

// A lumberjack v1 sender, as logstash-forwarder writes the protocol: a
// window frame, data frames of key/value pairs (optionally inside a
// compressed frame), numbered from 1 in each window, then it waits for the
// ACK of the last sequence number (go-lumber acknowledges a window with its
// event count, which is that number).

func dataFrame(seq uint32, kv ...string) []byte {
	var b bytes.Buffer
	b.WriteString("1D")
	_ = binary.Write(&b, binary.BigEndian, seq)
	_ = binary.Write(&b, binary.BigEndian, uint32(len(kv)/2))
	for _, s := range kv {
		_ = binary.Write(&b, binary.BigEndian, uint32(len(s)))
		b.WriteString(s)
	}
	return b.Bytes()
}

func window(n uint32) []byte {
	return binary.BigEndian.AppendUint32([]byte("1W"), n)
}

func compressed(frames ...[]byte) []byte {
	var z bytes.Buffer
	w := zlib.NewWriter(&z)
	for _, f := range frames {
		_, _ = w.Write(f)
	}
	_ = w.Close()
	return append(binary.BigEndian.AppendUint32([]byte("1C"), uint32(z.Len())), z.Bytes()...)
}

func start(t *testing.T) (*inputtest.Harness, *tls.Config) {
	ca := testpki.NewCA(t, "lumberjack")
	srv := ca.Server("127.0.0.1")
	h := inputtest.Start(t, "lumberjack", fmt.Sprintf("ssl_certificate = %q\nssl_key = %q\n", srv.CertFile, srv.KeyFile), inputtest.Options{})
	return h, ca.ClientConfig()
}

func dial(t *testing.T, h *inputtest.Harness, cfg *tls.Config) *tls.Conn {
	t.Helper()
	d := &net.Dialer{Timeout: 5 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", h.TCP, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	return c
}

// readACK reads one v1 ACK frame ("1A" and the sequence number).
func readACK(t *testing.T, c net.Conn) uint32 {
	t.Helper()
	var a [6]byte
	if _, err := io.ReadFull(c, a[:]); err != nil {
		t.Fatalf("no ACK: %v", err)
	}
	if string(a[:2]) != "1A" {
		t.Fatalf("ACK frame %q", a[:2])
	}
	return binary.BigEndian.Uint32(a[2:])
}

// TestForwarder: a logstash-forwarder-style sender over loopback TLS: a
// plain window and a compressed one are acknowledged (after the pipeline
// took them) by their last sequence number, and each line is an event with
// the sender's other fields.
func TestForwarder(t *testing.T) {
	h, cfg := start(t)
	c := dial(t, h, cfg)
	var msg bytes.Buffer
	msg.Write(window(2))
	msg.Write(dataFrame(1, "line", "first line", "file", "/var/log/a.log", "host", "web1", "offset", "0"))
	msg.Write(dataFrame(2, "line", "second line", "file", "/var/log/a.log", "host", "web1", "offset", "11"))
	if _, err := c.Write(msg.Bytes()); err != nil {
		t.Fatal(err)
	}
	if seq := readACK(t, c); seq != 2 {
		t.Fatalf("ACK %d; want 2", seq)
	}
	msg.Reset()
	msg.Write(window(1))
	msg.Write(compressed(dataFrame(1, "line", "zipped", "host", "web2")))
	if _, err := c.Write(msg.Bytes()); err != nil {
		t.Fatal(err)
	}
	if seq := readACK(t, c); seq != 1 {
		t.Fatalf("ACK %d; want 1", seq)
	}
	evs := h.WaitEvents(t, 3, 10*time.Second)
	var got []string
	for _, e := range evs {
		m, _ := e.Message()
		file, _ := e.GetString(mustRef("file"))
		host, _ := e.GetString(mustRef("host"))
		if _, hasLine := e.Get(mustRef("line")); hasLine {
			t.Errorf("line kept beside message: %v", e.Fields())
		}
		got = append(got, m+"|"+file+"|"+host)
	}
	want := "first line|/var/log/a.log|web1,second line|/var/log/a.log|web1,zipped||web2"
	if strings.Join(got, ",") != want {
		t.Errorf("events %q; want %q", strings.Join(got, ","), want)
	}
}

// TestFrameBudget: a data frame announcing a string beyond the beats
// input's max_frame_bytes closes the connection before anything is read
// into memory or acknowledged; no event comes out.
func TestFrameBudget(t *testing.T) {
	h, cfg := start(t)
	c := dial(t, h, cfg)
	var msg bytes.Buffer
	msg.Write(window(1))
	msg.WriteString("1D")
	_ = binary.Write(&msg, binary.BigEndian, [3]uint32{1, 1, 4})
	msg.WriteString("line")
	_ = binary.Write(&msg, binary.BigEndian, uint32(1<<31))
	_, _ = c.Write(msg.Bytes())
	var b [1]byte
	if _, err := c.Read(b[:]); err == nil {
		t.Fatal("the connection stayed open and answered")
	}
	if n := h.Sink.Len(); n != 0 {
		t.Errorf("%d events from a refused frame", n)
	}
}

// TestPlainTCPRefused: the input serves TLS only: a sender without TLS gets
// no ACK.
func TestPlainTCPRefused(t *testing.T) {
	h, _ := start(t)
	c, err := net.DialTimeout("tcp", h.TCP, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	_, _ = c.Write(append(window(1), dataFrame(1, "line", "x")...))
	var a [6]byte
	if _, err := io.ReadFull(c, a[:]); err == nil && string(a[:2]) == "1A" {
		t.Error("a plain TCP sender was acknowledged")
	}
}

// TestOptionErrors: TLS is required; the messages name the option.
func TestOptionErrors(t *testing.T) {
	for _, tc := range []struct{ options, want string }{
		{`port = 5000
ssl_key = "k"`, "ssl_certificate"},
		{`port = 5000
ssl_certificate = "c"`, "ssl_key"},
		{`port = 5000
ssl_certificate = "c"
ssl_key = "k"
congestion_threshold = 0`, "congestion_threshold"},
	} {
		var o Options
		o.Defaults()
		if err := decode(&o, tc.options); err != nil {
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s: %v; want %q", tc.options, err, tc.want)
			}
			continue
		}
		if err := o.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Validate() = %v; want %q", tc.options, err, tc.want)
		}
	}
	var o Options
	o.Defaults()
	o.SSLCertificate, o.SSLKey = "/nonexistent/c.pem", "/nonexistent/k.pem"
	if _, err := New(o, engine.Resources{}); err == nil || !strings.Contains(err.Error(), "ssl_certificate: the file is missing") {
		t.Errorf("New with missing files: %v", err)
	}
}
