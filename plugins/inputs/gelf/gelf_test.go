package gelf_test

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/pipelined/pipeline/dsl/ir"
	"github.com/pipelined/pipeline/engine/event"
	_ "github.com/pipelined/pipeline/plugins/all"
	"github.com/pipelined/pipeline/plugins/internal/testkit/inputtest"
	"github.com/pipelined/pipeline/plugins/internal/testkit/plugintest"
)

func send(t *testing.T, network, addr string, payloads ...[]byte) {
	t.Helper()
	c, err := net.Dial(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, p := range payloads {
		if _, err := c.Write(p); err != nil {
			t.Fatal(err)
		}
		if network == "udp" {
			time.Sleep(2 * time.Millisecond)
		}
	}
}

func zlibbed(p []byte) []byte {
	var b bytes.Buffer
	w := zlib.NewWriter(&b)
	w.Write(p)
	w.Close()
	return b.Bytes()
}

func gzipped(p []byte) []byte {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write(p)
	w.Close()
	return b.Bytes()
}

// chunks splits p into GELF chunks of size bytes for message id.
func chunks(id string, p []byte, size int) [][]byte {
	var out [][]byte
	n := (len(p) + size - 1) / size
	for i := 0; i < n; i++ {
		h := append([]byte{0x1e, 0x0f}, []byte(id)[:8]...)
		h = append(h, byte(i), byte(n))
		out = append(out, append(h, p[i*size:min(len(p), (i+1)*size)]...))
	}
	return out
}

func get(e *event.Event, ref string) any {
	v, _ := e.Get(event.MustRef(ref))
	return v
}

const msg = `{"version":"1.1","host":"web1","short_message":"short","full_message":"full text","timestamp":1700000000.25,"level":3,"_user":"alice","_id":7}`

// Plain, zlib, gzip and chunked (out of order) messages over UDP, remapped
// as Logstash does.
func TestUDPMessages(t *testing.T) {
	h := inputtest.Start(t, "gelf", `ecs_compatibility = "disabled"`, inputtest.Options{})
	cs := chunks("abcdefgh", zlibbed([]byte(msg)), 40)
	send(t, "udp", h.UDP, []byte(msg), zlibbed([]byte(msg)), gzipped([]byte(msg)))
	send(t, "udp", h.UDP, append([][]byte{cs[len(cs)-1]}, cs[:len(cs)-1]...)...)
	evs := h.WaitEvents(t, 4, 10*time.Second)
	for _, e := range evs {
		if get(e, "message") != "full text" || get(e, "short_message") != "short" || get(e, "full_message") != nil {
			t.Fatalf("remap: %v", e.Fields())
		}
		if get(e, "user") != "alice" || get(e, "_user") != nil || get(e, "id") != int64(7) {
			t.Fatalf("underscores: %v", e.Fields())
		}
		if ts := e.Timestamp(); ts.Unix() != 1700000000 || ts.Nanosecond() != 250000000 || get(e, "timestamp") != nil {
			t.Fatalf("timestamp %v, field %v", ts, get(e, "timestamp"))
		}
		if get(e, "source_host") != "127.0.0.1" {
			t.Fatalf("source_host = %v", get(e, "source_host"))
		}
	}
}

// A compression bomb is dropped and counted before it is inflated beyond
// max_message_bytes; the next message is delivered.
func TestCompressionBombDropped(t *testing.T) {
	h := inputtest.Start(t, "gelf", `max_message_bytes = "64kb"`, inputtest.Options{})
	bomb := zlibbed(bytes.Repeat([]byte{' '}, 20<<20))
	if len(bomb) > 60000 {
		t.Fatalf("bomb of %d bytes does not fit a datagram", len(bomb))
	}
	send(t, "udp", h.UDP, bomb, []byte(`{"short_message":"after"}`))
	evs := h.WaitEvents(t, 1, 10*time.Second)
	if get(evs[0], "message") != "after" {
		t.Fatalf("%v", evs[0].Fields())
	}
	time.Sleep(100 * time.Millisecond)
	if n := h.Sink.Len(); n != 1 {
		t.Fatalf("%d events; the bomb must not become one", n)
	}
}

// Over TCP, frames end with a null byte; text that is not JSON is tagged.
func TestTCPFrames(t *testing.T) {
	h := inputtest.Start(t, "gelf", "use_udp = false\n  use_tcp = true", inputtest.Options{})
	send(t, "tcp", h.TCP, []byte(`{"short_message":"one"}`+"\x00"+`not json`+"\x00"+`{"short_message":"two","_a":1}`+"\x00"))
	evs := h.WaitEvents(t, 3, 10*time.Second)
	if get(evs[0], "message") != "one" || get(evs[2], "a") != int64(1) {
		t.Fatalf("%v / %v", evs[0].Fields(), evs[2].Fields())
	}
	if !evs[1].HasTag("_jsonparsefailure") || get(evs[1], "message") != "not json" {
		t.Fatalf("%v", evs[1].Fields())
	}
}

func TestOptions(t *testing.T) {
	diags := plugintest.BuildDiags(t, ir.Input, "gelf", "use_udp = false")
	if !diags.HasErrors() || !strings.Contains(diags.Error(), "listen on nothing") {
		t.Fatalf("diags = %v", diags)
	}
	diags = plugintest.BuildDiags(t, ir.Input, "gelf", "port = 70000")
	if !diags.HasErrors() || !strings.Contains(diags.Error(), "between 0 and 65535") {
		t.Fatalf("diags = %v", diags)
	}
}
