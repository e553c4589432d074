package collectd

import (
	"net"
	"testing"
	"time"

	_ "github.com/pipelined/pipeline/plugins/inputs/udp"
	"github.com/pipelined/pipeline/plugins/internal/testkit/inputtest"
)

// The codec as configurations use it: a udp input with collectd's packet
// size, real datagrams on loopback.
func TestThroughUDPInput(t *testing.T) {
	h := inputtest.Start(t, "udp", "buffer_size = 1452\ncodec \"collectd\" {}", inputtest.Options{})
	c, err := net.Dial("udp", h.UDP)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	pkt := basePacket()
	if len(pkt) > 1452 {
		t.Fatalf("test packet of %d bytes", len(pkt))
	}
	if _, err := c.Write(pkt); err != nil {
		t.Fatal(err)
	}
	evs := h.WaitEvents(t, 3, 20*time.Second)
	if get(evs[0], "rx") != int64(100) || get(evs[1], "longterm") != 0.125 || get(evs[2], "type_instance") != "idle" {
		t.Errorf("events: %v %v %v", get(evs[0], "rx"), get(evs[1], "longterm"), get(evs[2], "type_instance"))
	}
	if get(evs[0], "host") != "web1" {
		t.Errorf("host %v: the packet's host part wins over the sender's address", get(evs[0], "host"))
	}
}
