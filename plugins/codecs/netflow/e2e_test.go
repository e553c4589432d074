package netflow

import (
	"bytes"
	"encoding/binary"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/pipelined/pipeline/engine/event"
	_ "github.com/pipelined/pipeline/plugins/inputs/udp"
	"github.com/pipelined/pipeline/plugins/internal/testkit/inputtest"
)

// TestUDP: udp { codec => netflow } turns a v5 datagram sent over loopback
// into one event per flow record, with the exporter's address added by the
// input. (The Logstash form of this configuration is loaded and built by
// plugins/all's testdata/logstash/netflow_codec.conf.)
func TestUDP(t *testing.T) {
	h := inputtest.Start(t, "udp", "codec \"netflow\" {\n  versions = [5]\n}", inputtest.Options{BatchSize: 10})
	var b bytes.Buffer
	w := func(v ...any) {
		for _, x := range v {
			_ = binary.Write(&b, binary.BigEndian, x)
		}
	}
	w(uint16(5), uint16(3), uint32(5000), uint32(1700000000), uint32(0), uint32(1), uint8(0), uint8(0), uint16(0))
	for i := range 3 {
		w([4]byte{10, 1, 1, byte(i)}, [4]byte{10, 2, 2, 2}, [4]byte{}, uint16(1), uint16(2), uint32(1), uint32(60+i),
			uint32(4000), uint32(5000), uint16(1000+i), uint16(53), uint8(0), uint8(0), uint8(17), uint8(0),
			uint16(0), uint16(0), uint8(0), uint8(0), uint16(0))
	}
	conn, err := net.Dial("udp", h.UDP)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write(b.Bytes()); err != nil {
		t.Fatal(err)
	}
	evs := h.WaitEvents(t, 3, 20*time.Second)
	var got strings.Builder
	for _, e := range evs {
		got.Write(event.AppendJSONValue(nil, e.Fields()))
		got.WriteByte('\n')
	}
	for _, want := range []string{`"ipv4_src_addr":"10.1.1.0"`, `"ipv4_src_addr":"10.1.1.2"`, `"in_bytes":61`, `"host":{"ip":"127.0.0.1"}`, `"protocol":17`} {
		if !strings.Contains(got.String(), want) {
			t.Errorf("events lack %s:\n%s", want, got.String())
		}
	}
	if n := len(evs); n%3 != 0 || n == 0 {
		t.Errorf("%d events; want 3 per datagram:\n%s", n, got.String())
	}
}
