package udp

import (
	"net"
	"testing"
	"time"

	"github.com/pipelined/pipeline/engine/event"
	_ "github.com/pipelined/pipeline/plugins/codecs/jsonlines"
	_ "github.com/pipelined/pipeline/plugins/codecs/plain"
	"github.com/pipelined/pipeline/plugins/internal/testkit/inputtest"
)

func get(e *event.Event, ref string) any {
	v, _ := e.Get(event.MustRef(ref))
	return v
}

func send(t *testing.T, addr string, payloads ...string) {
	t.Helper()
	c, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, p := range payloads {
		if _, err := c.Write([]byte(p)); err != nil {
			t.Fatal(err)
		}
	}
}

// TestDatagrams: one datagram is one event, newlines and all; the sender's
// address goes to host.
func TestDatagrams(t *testing.T) {
	h := inputtest.Start(t, "udp", `ecs_compatibility = "disabled"`, inputtest.Options{})
	send(t, h.UDP, "one", "two\nlines\n", "\xff invalid")
	evs := h.WaitEvents(t, 3, 10*time.Second)
	want := map[string]bool{"one": true, "two\nlines\n": true, `\xFF invalid`: true}
	for _, e := range evs {
		m, _ := get(e, "message").(string)
		if !want[m] {
			t.Errorf("unexpected message %q", m)
		}
		delete(want, m)
		if get(e, "host") != "127.0.0.1" {
			t.Errorf("host %v", get(e, "host"))
		}
	}
}

func TestECSAndSourceField(t *testing.T) {
	h := inputtest.Start(t, "udp", ``, inputtest.Options{})
	send(t, h.UDP, "x")
	e := h.WaitEvents(t, 1, 10*time.Second)[0]
	if get(e, "[host][ip]") != "127.0.0.1" {
		t.Errorf("[host][ip] %v", get(e, "[host][ip]"))
	}
	h2 := inputtest.Start(t, "udp", `source_ip_fieldname = "[src][addr]"`, inputtest.Options{})
	send(t, h2.UDP, "y")
	e = h2.WaitEvents(t, 1, 10*time.Second)[0]
	if get(e, "[src][addr]") != "127.0.0.1" {
		t.Errorf("[src][addr] %v", e.Fields())
	}
}

func TestBufferSizeTruncates(t *testing.T) {
	h := inputtest.Start(t, "udp", "buffer_size = 8\nreceive_buffer_bytes = 1048576", inputtest.Options{})
	send(t, h.UDP, "0123456789abcdef")
	e := h.WaitEvents(t, 1, 10*time.Second)[0]
	if get(e, "message") != "01234567" {
		t.Errorf("message %q", get(e, "message"))
	}
}

func TestJSONCodec(t *testing.T) {
	h := inputtest.Start(t, "udp", "codec \"json_lines\" {}", inputtest.Options{})
	send(t, h.UDP, "{\"a\":1}\n{\"a\":2}\n")
	evs := h.WaitEvents(t, 2, 10*time.Second)
	if get(evs[0], "a") != int64(1) || get(evs[1], "a") != int64(2) {
		t.Fatalf("%v %v", evs[0].Fields(), evs[1].Fields())
	}
}
