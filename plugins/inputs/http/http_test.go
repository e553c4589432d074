package http

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	nethttp "net/http"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pipelined/pipeline/dsl/ir"
	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/plugins/internal/testkit/plugintest"
	"github.com/pipelined/pipeline/plugins/internal/testkit/testpki"

	_ "github.com/pipelined/pipeline/plugins/codecs/json"
	_ "github.com/pipelined/pipeline/plugins/codecs/line"
	"github.com/pipelined/pipeline/plugins/codecs/plain"
)

// sink collects what the input emits; with gate set, emit blocks until the
// gate is closed (a full pipeline).
type sink struct {
	mu     sync.Mutex
	events []*event.Event
	gate   chan struct{}
	calls  chan struct{} // one send per emit call, when set
}

func (s *sink) emit(b engine.Batch) error {
	if s.calls != nil {
		s.calls <- struct{}{}
	}
	if s.gate != nil {
		<-s.gate
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events = append(s.events, b.Events...)
	return nil
}

func (s *sink) all() []*event.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*event.Event(nil), s.events...)
}

// start runs an http input with options (pipeline-file syntax; host and port
// are set to a free loopback port) and returns it with its base URL.
func start(t *testing.T, options string, s *sink) (*Input, string) {
	t.Helper()
	var po plain.Options
	po.Defaults()
	pc, err := plain.New(po, engine.Resources{})
	if err != nil {
		t.Fatal(err)
	}
	in := plugintest.MustNew(t, New, "host = \"127.0.0.1\"\nport = 0\n"+options, engine.Resources{Codec: pc, BatchSize: 125})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- in.Run(ctx, s.emit) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	select {
	case <-in.Listening():
	case err := <-done:
		t.Fatal(err)
	}
	scheme := "http"
	if in.opts.SSLEnabled {
		scheme = "https"
	}
	return in, scheme + "://" + in.Addr().String()
}

func post(t *testing.T, c *nethttp.Client, url, ctype, body string, hdr ...string) (*nethttp.Response, string) {
	t.Helper()
	req, _ := nethttp.NewRequest("POST", url, strings.NewReader(body))
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	if c == nil {
		c = nethttp.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func js(t *testing.T, e *event.Event) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(plugintest.EventJSON(e, time.Time{})), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestPlainDisabled: a plain body is one event; with ECS off the client's IP
// is [host] and the headers, Logstash's names, are [headers]; the answer is
// 200 "ok" with the response headers.
func TestPlainDisabled(t *testing.T) {
	s := &sink{}
	_, url := start(t, `ecs_compatibility = "disabled"`, s)
	resp, body := post(t, nil, url+"/some/path?q=1", "text/plain; charset=utf-8", "hello world", "X-Custom-Header", "v1", "User-Agent", "tester/1.0")
	if resp.StatusCode != 200 || body != "ok" || resp.Header.Get("Content-Type") != "text/plain" {
		t.Fatalf("answer %d %q %v", resp.StatusCode, body, resp.Header)
	}
	evs := s.all()
	if len(evs) != 1 {
		t.Fatalf("%d events", len(evs))
	}
	m := js(t, evs[0])
	h := m["headers"].(map[string]any)
	if m["message"] != "hello world" || m["host"] != "127.0.0.1" || h["x_custom_header"] != "v1" ||
		h["http_user_agent"] != "tester/1.0" || h["request_method"] != "POST" || h["request_path"] != "/some/path?q=1" ||
		h["http_version"] != "HTTP/1.1" || h["content_type"] != "text/plain; charset=utf-8" || h["content_length"] != "11" ||
		!strings.HasPrefix(h["http_host"].(string), "127.0.0.1:") {
		t.Errorf("event %v", m)
	}
	if v, ok := h["http_accept"]; !ok || v != nil {
		t.Errorf("http_accept %v %v; want present and null as Logstash", v, ok)
	}
	if _, ok := h["authorization"]; ok {
		t.Error("authorization in the event")
	}
}

// TestJSONECS: application/json bodies go to the json codec (an array is one
// event per element); with ECS the ECS fields are set and the headers go to
// @metadata.
func TestJSONECS(t *testing.T) {
	s := &sink{}
	_, url := start(t, "", s)
	resp, _ := post(t, nil, url+"/ingest", "application/json", `[{"a":1},{"a":2}]`)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	evs := s.all()
	if len(evs) != 2 {
		t.Fatalf("%d events", len(evs))
	}
	m := js(t, evs[1])
	if m["a"] != 2.0 || m["host"].(map[string]any)["ip"] != "127.0.0.1" ||
		m["http"].(map[string]any)["method"] != "POST" || m["url"].(map[string]any)["path"] != "/ingest" ||
		m["url"].(map[string]any)["domain"] != "127.0.0.1" || m["url"].(map[string]any)["port"] == nil ||
		m["http"].(map[string]any)["request"].(map[string]any)["mime_type"] != "application/json" {
		t.Errorf("event %v", m)
	}
	md, _ := evs[0].Get(event.MustRef("[@metadata][input][http][request][headers][request_method]"))
	if md != "POST" {
		t.Errorf("metadata headers: %v", md)
	}
	// Not JSON: as Logstash's json codec, the body is kept as the message,
	// tagged _jsonparsefailure, and the request succeeds.
	resp, _ = post(t, nil, url, "application/json", `{"a":`)
	evs = s.all()
	if resp.StatusCode != 200 || len(evs) != 3 || !evs[2].HasTag("_jsonparsefailure") {
		t.Errorf("bad JSON: status %d, %d events %v", resp.StatusCode, len(evs), js(t, evs[len(evs)-1]))
	}
}

// TestAuth: with user and password, no credentials get 401 with a
// WWW-Authenticate challenge, wrong ones 401, right ones 200.
func TestAuth(t *testing.T) {
	s := &sink{}
	_, url := start(t, `user = "logstash"
password = "s3cret"`, s)
	resp, _ := post(t, nil, url, "", "x")
	if resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") != `Basic realm="Logstash HTTP Input"` {
		t.Errorf("no credentials: %d %v", resp.StatusCode, resp.Header)
	}
	req, _ := nethttp.NewRequest("POST", url, strings.NewReader("x"))
	req.SetBasicAuth("logstash", "wrong")
	r2, err := nethttp.DefaultClient.Do(req)
	if err != nil || r2.StatusCode != 401 {
		t.Errorf("wrong password: %v %v", r2, err)
	}
	req, _ = nethttp.NewRequest("POST", url, strings.NewReader("x"))
	req.SetBasicAuth("logstash", "s3cret")
	r3, err := nethttp.DefaultClient.Do(req)
	if err != nil || r3.StatusCode != 200 || len(s.all()) != 1 {
		t.Errorf("right password: %v %v, %d events", r3, err, len(s.all()))
	}
}

// TestBackPressure: the answer waits until the pipeline took the events;
// with threads = 1 and max_pending_requests = 1, a third request while the
// pipeline is full is answered 429 at once; once the pipeline takes events,
// the waiting ones are answered 200.
func TestBackPressure(t *testing.T) {
	s := &sink{gate: make(chan struct{}), calls: make(chan struct{}, 10)}
	in, url := start(t, `threads = 1
max_pending_requests = 1`, s)
	answers := make(chan int, 2)
	for range 2 {
		go func() {
			resp, err := nethttp.Post(url, "text/plain", strings.NewReader("x"))
			if err != nil {
				answers <- -1
				return
			}
			resp.Body.Close()
			answers <- resp.StatusCode
		}()
	}
	<-s.calls // the first is being pushed
	// The second waits for the thread: wait until it is counted.
	for deadline := time.Now().Add(5 * time.Second); in.pending.Load() < 2; {
		if time.Now().After(deadline) {
			t.Fatal("the second request never arrived")
		}
		time.Sleep(5 * time.Millisecond)
	}
	select {
	case c := <-answers:
		t.Fatalf("answered %d while the pipeline is full", c)
	case <-time.After(200 * time.Millisecond):
	}
	resp, _ := post(t, nil, url, "text/plain", "y")
	if resp.StatusCode != 429 {
		t.Fatalf("third request: %d; want 429", resp.StatusCode)
	}
	close(s.gate)
	for range 2 {
		if c := <-answers; c != 200 {
			t.Errorf("answer %d after the pipeline took the events", c)
		}
	}
	if got := in.Counters()[0].Value; got != 1 {
		t.Errorf("rejected %d", got)
	}
}

// TestResponseOptions: response_code 204 has no body; response_headers
// replace the default ones; a body over max_content_length is 413.
func TestResponseOptions(t *testing.T) {
	s := &sink{}
	_, url := start(t, `response_code = 204
response_headers = { "Access-Control-Allow-Origin" = "*" }
max_content_length = 10`, s)
	resp, body := post(t, nil, url, "", "short")
	if resp.StatusCode != 204 || body != "" || resp.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("answer %d %q %v", resp.StatusCode, body, resp.Header)
	}
	resp, _ = post(t, nil, url, "", strings.Repeat("x", 11))
	if resp.StatusCode != 413 || len(s.all()) != 1 {
		t.Errorf("too long: %d, %d events", resp.StatusCode, len(s.all()))
	}
}

// TestTLS: with ssl_enabled, a client trusting the CA is served; with
// ssl_client_authentication required, a client without a certificate is
// refused at the handshake.
func TestTLS(t *testing.T) {
	ca := testpki.NewCA(t, "http-ca")
	srv := ca.Server("127.0.0.1")
	s := &sink{}
	_, url := start(t, fmt.Sprintf(`ssl_enabled = true
ssl_certificate = %q
ssl_key = %q
ssl_certificate_authorities = [%q]
ssl_client_authentication = "required"`, srv.CertFile, srv.KeyFile, ca.File), s)
	cli := &nethttp.Client{Transport: &nethttp.Transport{TLSClientConfig: ca.ClientConfig(ca.Client("c1"))}}
	resp, body := post(t, cli, url, "", "secure")
	if resp.StatusCode != 200 || body != "ok" || len(s.all()) != 1 {
		t.Fatalf("answer %d %q", resp.StatusCode, body)
	}
	noCert := &nethttp.Client{Transport: &nethttp.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}}}
	if _, err := noCert.Post(url, "text/plain", strings.NewReader("x")); err == nil {
		t.Error("a client without a certificate was served")
	}
}

// TestCurl: Logstash's documented example, curl -H "content-type:
// application/json" -XPUT 'http://127.0.0.1:8080/twitter/tweet/1' -d '...'.
func TestCurl(t *testing.T) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("no curl")
	}
	s := &sink{}
	_, url := start(t, "", s)
	out, err := exec.Command(curl, "-sS", "-H", "content-type: application/json", "-XPUT", url+"/twitter/tweet/1",
		"-d", `{"user": "kimchy", "post_date": "2009-11-15T14:12:12", "message": "trying out Logstash"}`).CombinedOutput()
	if err != nil || string(out) != "ok" {
		t.Fatalf("curl: %v %s", err, out)
	}
	evs := s.all()
	if len(evs) != 1 {
		t.Fatalf("%d events", len(evs))
	}
	m := js(t, evs[0])
	if m["user"] != "kimchy" || m["message"] != "trying out Logstash" || m["http"].(map[string]any)["method"] != "PUT" ||
		m["url"].(map[string]any)["path"] != "/twitter/tweet/1" || !strings.HasPrefix(m["user_agent"].(map[string]any)["original"].(string), "curl/") {
		t.Errorf("event %v", m)
	}
}

// TestOptionErrors: check's diagnostics.
func TestOptionErrors(t *testing.T) {
	for _, tc := range []struct{ opts, want string }{
		{`port = 70000`, `"port"; must be between 0 and 65535`},
		{`user = "u"`, `"password"; required with user`},
		{`response_code = 500`, "unsupported value 500"},
		{`additional_codecs = { "application/json" = "nope" }`, `there is no codec named "nope"`},
		{`additional_codecs = { "json" = "json" }`, "is not a content type"},
		{`ssl_enabled = true`, `"ssl_certificate"; required when ssl_enabled is true`},
		{`threads = -1`, "must not be negative"},
		{`max_content_length = 0`, "must be at least 1"},
		{`remote_host_target_field = "[a"`, `"remote_host_target_field"`},
		{`ecs_compatibility = "v9"`, `unsupported value "v9"`},
	} {
		diags := plugintest.BuildDiags(t, ir.Input, "http", tc.opts)
		if !diags.HasErrors() || !strings.Contains(diags.Error(), tc.want) {
			t.Errorf("%s:\n  diags %v\n  want %q", tc.opts, diags, tc.want)
		}
	}
}
