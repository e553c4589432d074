package netflow_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pipelined/pipeline/dsl"
	"github.com/pipelined/pipeline/engine"

	_ "github.com/pipelined/pipeline/plugins/all"
)

// TestUDP: udp { codec => netflow }, as the corpus writes it, turns a v5
// datagram sent over loopback into one event per flow record, with the
// exporter's address added by the input.
func TestUDP(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := pc.LocalAddr().(*net.UDPAddr).Port
	pc.Close()
	out := filepath.Join(t.TempDir(), "out.jsonl")
	conf := fmt.Sprintf(`
input { udp { host => "127.0.0.1" port => %d codec => netflow { versions => [5] } } }
output { file { path => %q codec => json_lines } }
`, port, out)
	cfg, diags := dsl.LoadSource("netflow.conf", []byte(conf))
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	p, diags := engine.Build(cfg.Pipelines[0], engine.Default, engine.Settings{Workers: 1, BatchSize: 10})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()

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
	conn, err := net.Dial("udp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// UDP may be lost while the input starts: resend until the events
	// arrive, a bounded number of times.
	for i := 0; i < 200 && p.Stats().Out.Load() < 3; i++ {
		if p.Stats().Out.Load() == 0 {
			_, _ = conn.Write(b.Bytes())
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"ipv4_src_addr":"10.1.1.0"`, `"ipv4_src_addr":"10.1.1.2"`, `"in_bytes":61`, `"host":{"ip":"127.0.0.1"}`, `"protocol":17`} {
		if !strings.Contains(string(got), want) {
			t.Errorf("output lacks %s:\n%s", want, got)
		}
	}
	if n := strings.Count(string(got), "\n"); n%3 != 0 || n == 0 {
		t.Errorf("%d events; want 3 per datagram:\n%s", n, got)
	}
}
