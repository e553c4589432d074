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

// TestDropsInSnapshot: datagrams dropped for a full queue were counted and
// logged only; they are the input's counters in the pipeline's snapshot
// (what /_node/stats and /metrics show), and received = delivered + dropped.
func TestDropsInSnapshot(t *testing.T) {
	gate := make(chan struct{})
	h := inputtest.Start(t, "udp", "queue_size = 5\nworkers = 1", inputtest.Options{Gate: gate, BatchSize: 2})
	c, err := net.Dial("udp", h.UDP)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := range 2000 {
		c.Write([]byte("datagram"))
		if i%100 == 0 {
			time.Sleep(time.Millisecond)
		}
	}
	counters := func() map[string]int64 {
		m := map[string]int64{}
		for _, c := range h.Pipeline.Snapshot().Inputs[0].Counters {
			m[c.Name] = c.Value
		}
		return m
	}
	inputtest.WaitFor(t, 10*time.Second, "drops counted", func() bool { return counters()["datagrams_dropped"] > 0 })
	time.Sleep(200 * time.Millisecond) // the rest of the datagrams arrive or are dropped
	close(gate)
	m := counters()
	h.WaitEvents(t, int(m["datagrams_received"]-m["datagrams_dropped"]), 20*time.Second)
	time.Sleep(200 * time.Millisecond)
	if got, want := int64(h.Sink.Len()), m["datagrams_received"]-m["datagrams_dropped"]; got != want {
		t.Errorf("delivered %d; want received %d - dropped %d", got, m["datagrams_received"], m["datagrams_dropped"])
	}
}
