package multiline_test

import (
	"context"
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

// TestTCPPerConnection: a tcp input with the multiline codec, as the corpus
// writes it, builds each connection's events apart: two clients whose stack
// traces are sent interleaved, line by line, give two whole events.
func TestTCPPerConnection(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	out := filepath.Join(t.TempDir(), "out.jsonl")
	conf := fmt.Sprintf(`
input {
  tcp {
    host => "127.0.0.1"
    port => %d
    codec => multiline {
      pattern => "^%%{TIMESTAMP_ISO8601} "
      negate => true
      what => "previous"
    }
  }
}
output { file { path => %q codec => json_lines } }
`, port, out)
	cfg, diags := dsl.LoadSource("multiline.conf", []byte(conf))
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
	dial := func() net.Conn {
		for deadline := time.Now().Add(10 * time.Second); ; {
			c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
			if err == nil {
				return c
			}
			if time.Now().After(deadline) {
				t.Fatal(err)
			}
			time.Sleep(20 * time.Millisecond)
		}
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
	for deadline := time.Now().Add(10 * time.Second); p.Stats().Out.Load() < 2 && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	bs, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	got := string(bs)
	for _, want := range []string{
		`"message":"2026-11-24 10:00:01 ERROR a failed\n\tat A.run(A.java:1)\n\tat A.main(A.java:3)"`,
		`"message":"2026-11-24 10:00:01 ERROR b failed\n\tat B.run(B.java:2)\n\tat B.main(B.java:4)"`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("file lacks %s:\n%s", want, got)
		}
	}
	if n := strings.Count(got, "\n"); n != 2 {
		t.Errorf("%d events; want 2:\n%s", n, got)
	}
}
