package http_test

import (
	"context"
	"fmt"
	"net"
	nethttp "net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pipelined/pipeline/dsl"
	"github.com/pipelined/pipeline/engine"

	_ "github.com/pipelined/pipeline/plugins/all"
)

// TestPipelineLogstashConf: a Logstash configuration as the corpus writes it
// (an http input with codec json and basic auth, into a file), run by the
// engine: what curl-like clients post arrives in the file, and each request
// is answered only after its events were taken by the pipeline.
func TestPipelineLogstashConf(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	out := filepath.Join(t.TempDir(), "out.jsonl")
	conf := fmt.Sprintf(`
input {
  http {
    host => "127.0.0.1"
    port => %d
    additional_codecs => {}
    codec => json { target => "[input]" }
    user => "logicmonitor"
    password => "secret"
    ecs_compatibility => disabled
  }
}
output { file { path => %q codec => json_lines } }
`, port, out)
	cfg, diags := dsl.LoadSource("http.conf", []byte(conf))
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
	url := fmt.Sprintf("http://127.0.0.1:%d/alert", port)
	var resp *nethttp.Response
	for deadline := time.Now().Add(10 * time.Second); ; {
		req, _ := nethttp.NewRequest("POST", url, strings.NewReader(`{"id":1,"severity":"critical"}`))
		req.SetBasicAuth("logicmonitor", "secret")
		req.Header.Set("Content-Type", "application/json")
		if resp, err = nethttp.DefaultClient.Do(req); err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("post: %v %v", resp, err)
	}
	resp.Body.Close()
	if in := p.Stats().In.Load(); in != 1 {
		t.Errorf("answered with %d events in the pipeline; want 1", in)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	got := string(b)
	if !strings.Contains(got, `"input":{"id":1,"severity":"critical"}`) || !strings.Contains(got, `"request_path":"/alert"`) ||
		!strings.Contains(got, `"host":"127.0.0.1"`) || strings.Contains(got, "authorization") {
		t.Errorf("file holds %s", got)
	}
}
