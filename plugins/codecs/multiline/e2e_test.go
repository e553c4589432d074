package multiline

import (
	"net"
	"strings"
	"testing"
	"time"

	_ "github.com/pipelined/pipeline/plugins/inputs/tcp"
	"github.com/pipelined/pipeline/plugins/internal/testkit/inputtest"
)

// TestTCPPerConnection: a tcp input with the multiline codec builds each
// connection's events apart: two clients whose stack traces are sent
// interleaved, line by line, give two whole events. (The Logstash form of
// this configuration is loaded and built by plugins/all's
// testdata/logstash/multiline_codec.conf.)
func TestTCPPerConnection(t *testing.T) {
	h := inputtest.Start(t, "tcp", `codec "multiline" {
  pattern = "^%%{TIMESTAMP_ISO8601} "
  negate  = true
  what    = "previous"
}`, inputtest.Options{BatchSize: 10})
	dial := func() net.Conn {
		c, err := net.Dial("tcp", h.TCP)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	a, b := dial(), dial()
	for _, w := range []struct {
		c    net.Conn
		line string
	}{
		{a, "2026-11-24 10:00:01 ERROR a failed"}, {b, "2026-11-24 10:00:01 ERROR b failed"},
		{a, "\tat A.run(A.java:1)"}, {b, "\tat B.run(B.java:2)"},
		{a, "\tat A.main(A.java:3)"}, {b, "\tat B.main(B.java:4)"},
	} {
		if _, err := w.c.Write([]byte(w.line + "\n")); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	a.Close()
	b.Close()
	evs := h.WaitEvents(t, 2, 10*time.Second)
	var got []string
	for _, e := range evs {
		m, _ := e.Message()
		got = append(got, m)
	}
	for _, want := range []string{
		"2026-11-24 10:00:01 ERROR a failed\n\tat A.run(A.java:1)\n\tat A.main(A.java:3)",
		"2026-11-24 10:00:01 ERROR b failed\n\tat B.run(B.java:2)\n\tat B.main(B.java:4)",
	} {
		found := false
		for _, g := range got {
			found = found || g == want
		}
		if !found {
			t.Errorf("no event of message %q:\n%s", want, strings.Join(got, "\n---\n"))
		}
	}
	if err := h.Stop(); err != nil {
		t.Fatal(err)
	}
	if n := h.Sink.Len(); n != 2 {
		t.Errorf("%d events; want 2:\n%s", n, strings.Join(got, "\n---\n"))
	}
}
