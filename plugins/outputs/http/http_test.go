package http

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/pipelined/pipeline/dsl"
	"github.com/pipelined/pipeline/dsl/ir"
	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/enginetest"
	"github.com/pipelined/pipeline/engine/event"
	_ "github.com/pipelined/pipeline/plugins/codecs/plain"
	_ "github.com/pipelined/pipeline/plugins/filters/mutate"
	_ "github.com/pipelined/pipeline/plugins/inputs/generator"
	"github.com/pipelined/pipeline/plugins/internal/testkit/testpki"
)

// request is what the test server received.
type request struct {
	method, path, query string
	header              http.Header
	body                []byte
}

// recorder is a loopback HTTP server that records requests and answers with
// answer (200 when nil).
type recorder struct {
	mu     sync.Mutex
	got    []request
	answer func(n int, r request) int
	srv    *httptest.Server
}

func (rc *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			w.WriteHeader(400)
			return
		}
		body, _ = io.ReadAll(zr)
	}
	req := request{method: r.Method, path: r.URL.Path, query: r.URL.RawQuery, header: r.Header.Clone(), body: body}
	rc.mu.Lock()
	n := len(rc.got)
	rc.got = append(rc.got, req)
	rc.mu.Unlock()
	code := 200
	if rc.answer != nil {
		code = rc.answer(n, req)
	}
	w.WriteHeader(code)
	fmt.Fprintf(w, "answer %d", code)
}

func (rc *recorder) requests() []request {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]request(nil), rc.got...)
}

func newRecorder(t *testing.T, answer func(n int, r request) int) *recorder {
	rc := &recorder{answer: answer}
	rc.srv = httptest.NewServer(rc)
	t.Cleanup(rc.srv.Close)
	return rc
}

// memDLQ is a dead letter queue in memory.
type memDLQ struct {
	mu      sync.Mutex
	events  []*event.Event
	reasons []string
}

func (d *memDLQ) Put(e *event.Event, from engine.DeadLetterSource, reason string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.events = append(d.events, e)
	d.reasons = append(d.reasons, from.PluginType+": "+reason)
	return nil
}

func (d *memDLQ) len() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.events)
}

// run loads a .conf pipeline, runs it until its inputs end and it drained
// (or timeout), and returns it.
func run(t *testing.T, conf string, s engine.Settings, timeout time.Duration) *engine.Pipeline {
	t.Helper()
	cfg, diags := dsl.LoadSource("test.conf", []byte(conf))
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	if s.Logger == nil {
		s.Logger = slog.New(slog.DiscardHandler)
	}
	p, diags := engine.Build(cfg.Pipelines[0], engine.Default, s)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	// At the deadline the pipeline drains; an output still retrying is
	// then aborted (its events stay unacknowledged).
	stop := context.AfterFunc(ctx, p.Abort)
	defer stop()
	if err := p.Run(ctx); err != nil && !(errors.Is(err, engine.ErrAborted) && ctx.Err() != nil) {
		t.Fatal(err)
	}
	return p
}

// TestFormats: each format's body, content type, sprintf'd URL and headers,
// nested mapping, gzip, as Logstash's http output sends them.
func TestFormats(t *testing.T) {
	for _, tc := range []struct {
		name, opts string
		requests   int
		check      func(t *testing.T, got []request)
	}{
		{"json whole event", `http_method => "post"`, 2, func(t *testing.T, got []request) {
			for _, r := range got {
				var m map[string]any
				if err := json.Unmarshal(r.body, &m); err != nil {
					t.Fatalf("%s: %v", r.body, err)
				}
				if m["srv"] != "web1" || m["message"] == nil || m["@timestamp"] == nil || m["@metadata"] != nil {
					t.Errorf("body %s", r.body)
				}
				if r.method != "POST" || r.header.Get("Content-Type") != "application/json" || r.path != "/in/web1" {
					t.Errorf("%s %s %s", r.method, r.path, r.header.Get("Content-Type"))
				}
			}
		}},
		{"json nested mapping", `http_method => "put"
      mapping => { "resource" => "%{srv}" "severity" => "major" "attributes" => { "n" => "%{n}" "list" => ["a", "%{srv}"] } }
      headers => { "Authorization" => "Key s3cret" "X-Host" => "%{srv}" }`, 2, func(t *testing.T, got []request) {
			for _, r := range got {
				var m map[string]any
				if err := json.Unmarshal(r.body, &m); err != nil {
					t.Fatalf("%s: %v", r.body, err)
				}
				attrs, _ := m["attributes"].(map[string]any)
				if m["resource"] != "web1" || m["severity"] != "major" || attrs == nil || attrs["n"] != "7" || len(m) != 3 {
					t.Errorf("body %s", r.body)
				}
				if l, _ := attrs["list"].([]any); len(l) != 2 || l[1] != "web1" {
					t.Errorf("list in %s", r.body)
				}
				if r.method != "PUT" || r.header.Get("Authorization") != "Key s3cret" || r.header.Get("X-Host") != "web1" {
					t.Errorf("%s %v", r.method, r.header)
				}
			}
		}},
		{"json_batch", `http_method => "post" format => "json_batch" mapping => { "h" => "%{srv}" }`, 1, func(t *testing.T, got []request) {
			var arr []map[string]any
			if err := json.Unmarshal(got[0].body, &arr); err != nil {
				t.Fatalf("%s: %v", got[0].body, err)
			}
			if len(arr) != 2 || arr[0]["h"] != "web1" {
				t.Errorf("body %s", got[0].body)
			}
			if got[0].path != "/in/batch" {
				t.Errorf("json_batch url %q", got[0].path)
			}
		}},
		{"form mapping", `http_method => "post" format => "form" mapping => { "who" => "%{srv}" "text" => "a b&c=d" }`, 2, func(t *testing.T, got []request) {
			for _, r := range got {
				if string(r.body) != "text=a+b%26c%3Dd&who=web1" {
					t.Errorf("form body %q", r.body)
				}
				if r.header.Get("Content-Type") != "application/x-www-form-urlencoded" {
					t.Errorf("content type %q", r.header.Get("Content-Type"))
				}
				v, err := url.ParseQuery(string(r.body))
				if err != nil || v.Get("text") != "a b&c=d" {
					t.Errorf("parsed %v %v", v, err)
				}
			}
		}},
		{"message gzip", `http_method => "post" format => "message" message => "%{srv}: %{message}" content_type => "text/x-log" http_compression => true`, 2, func(t *testing.T, got []request) {
			for _, r := range got {
				if !strings.HasPrefix(string(r.body), "web1: line") || r.header.Get("Content-Type") != "text/x-log" || r.header.Get("Content-Encoding") != "gzip" {
					t.Errorf("body %q headers %v", r.body, r.header)
				}
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc := newRecorder(t, nil)
			p := run(t, fmt.Sprintf(`
input { generator { count => 2 message => "line" } }
filter { mutate { add_field => { "srv" => "web1" "n" => "7" } } }
output { http { url => "%s/in/%s" %s } }`, rc.srv.URL, map[bool]string{true: "batch", false: "%{srv}"}[strings.Contains(tc.opts, "json_batch")], tc.opts), engine.Settings{Workers: 1, BatchSize: 10}, 30*time.Second)
			got := rc.requests()
			if len(got) != tc.requests {
				t.Fatalf("%d requests, want %d", len(got), tc.requests)
			}
			tc.check(t, got)
			if st := p.Stats(); st.Out.Load() != 2 || st.Failed.Load() != 0 {
				t.Errorf("out %d failed %d", st.Out.Load(), st.Failed.Load())
			}
		})
	}
}

// TestRetry503ThenSuccess: an endpoint answering 503 (and 429) is retried
// with the pipeline's backoff until it accepts; every event arrives, none
// is dead-lettered, and the batch was acknowledged only after.
func TestRetry503ThenSuccess(t *testing.T) {
	var calls atomic.Int64
	rc := newRecorder(t, func(n int, _ request) int {
		switch c := calls.Add(1); {
		case c <= 10:
			return 503
		case c <= 15:
			return 429
		}
		return 201
	})
	dlq := &memDLQ{}
	p := run(t, fmt.Sprintf(`
input { generator { count => 5 lines => ["a", "b"] } }
output { http { url => "%s/alert" http_method => "post" } }`, rc.srv.URL),
		engine.Settings{Workers: 1, BatchSize: 10, DeadLetter: dlq}, 60*time.Second)
	got := map[string]int{}
	for _, r := range rc.requests() {
		var m map[string]any
		_ = json.Unmarshal(r.body, &m)
		got[fmt.Sprint(m["message"], m["event"])]++
	}
	st := p.Stats()
	if st.Out.Load() != 10 || dlq.len() != 0 || st.Failed.Load() != 0 || st.Retries.Load() == 0 {
		t.Fatalf("out %d dead-lettered %d failed %d retries %d", st.Out.Load(), dlq.len(), st.Failed.Load(), st.Retries.Load())
	}
	if len(rc.requests()) != 25 {
		t.Errorf("%d requests; want 10 refused + 5 throttled + 10 accepted", len(rc.requests()))
	}
	if len(got) != 10 {
		t.Errorf("%d distinct events reached the server: %v", len(got), got)
	}
}

// TestFailuresGoToDeadLetterQueue: a 4xx is a failure for good (dead letter
// queue, reason naming the status and answer); ignorable_codes count as
// success; with retry_failed => false a 503 fails at once too.
func TestFailuresGoToDeadLetterQueue(t *testing.T) {
	for _, tc := range []struct {
		name, opts       string
		answer           func(r request) int
		out, dead, tried int
		reason           string
	}{
		{"400 dead-lettered", ``, func(r request) int {
			if bytes.Contains(r.body, []byte(`"bad"`)) {
				return 400
			}
			return 200
		}, 3, 3, 6, "answered 400 Bad Request: answer 400"},
		{"404 ignorable", `ignorable_codes => [404]`, func(request) int { return 404 }, 6, 0, 6, ""},
		{"503 not retried", `retry_failed => false`, func(request) int { return 503 }, 0, 6, 6, "503 Service Unavailable"},
		{"json_batch 401", `format => "json_batch"`, func(request) int { return 401 }, 0, 6, 1, "401 Unauthorized"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc := newRecorder(t, func(_ int, r request) int { return tc.answer(r) })
			dlq := &memDLQ{}
			p := run(t, fmt.Sprintf(`
input { generator { count => 3 lines => ["good", "bad"] } }
output { http { url => "%s/x" http_method => "post" %s } }`, rc.srv.URL, tc.opts),
				engine.Settings{Workers: 1, BatchSize: 10, DeadLetter: dlq}, 30*time.Second)
			st := p.Stats()
			if int(st.Out.Load()) != tc.out || dlq.len() != tc.dead || len(rc.requests()) != tc.tried || st.Retries.Load() != 0 {
				t.Fatalf("out %d dead-lettered %d requests %d retries %d; want %d %d %d 0",
					st.Out.Load(), dlq.len(), len(rc.requests()), st.Retries.Load(), tc.out, tc.dead, tc.tried)
			}
			for i, e := range dlq.events {
				if !strings.Contains(dlq.reasons[i], tc.reason) || !strings.HasPrefix(dlq.reasons[i], "http: http: POST http://127.0.0.1") {
					t.Errorf("reason %q", dlq.reasons[i])
				}
				if m, _ := e.Message(); tc.name == "400 dead-lettered" && m != "bad" {
					t.Errorf("dead-lettered %q", m)
				}
			}
		})
	}
}

// TestTLSClientCertificate: an https:// endpoint that requires a client
// certificate, with the ssl_* options and with Logstash 8's cacert,
// client_cert and client_key; a server certificate signed by another CA is
// not trusted (the event is retried, not delivered nor dropped).
func TestTLSClientCertificate(t *testing.T) {
	ca := testpki.NewCA(t, "test CA")
	srvPair, cliPair := ca.Server("server"), ca.Client("logstash")
	rc := &recorder{}
	srv := httptest.NewUnstartedServer(rc)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{srvPair.TLS}, ClientCAs: ca.Pool(), ClientAuth: tls.RequireAndVerifyClientCert}
	srv.StartTLS()
	defer srv.Close()
	for _, opts := range []string{
		fmt.Sprintf(`ssl_certificate_authorities => [%q] ssl_certificate => %q ssl_key => %q`, ca.File, cliPair.CertFile, cliPair.KeyFile),
		fmt.Sprintf(`cacert => %q client_cert => %q client_key => %q`, ca.File, cliPair.CertFile, cliPair.KeyFile),
	} {
		before := len(rc.requests())
		p := run(t, fmt.Sprintf(`
input { generator { count => 2 message => "tls" } }
output { http { url => "%s/secure" http_method => "post" user => "u" password => "p4ss" %s } }`, srv.URL, opts),
			engine.Settings{Workers: 1, BatchSize: 10}, 30*time.Second)
		got := rc.requests()[before:]
		if len(got) != 2 || p.Stats().Out.Load() != 2 {
			t.Fatalf("%s: %d requests, out %d", opts, len(got), p.Stats().Out.Load())
		}
		if u, pw, ok := (&http.Request{Header: got[0].header}).BasicAuth(); !ok || u != "u" || pw != "p4ss" {
			t.Errorf("basic auth %q %q %v", u, pw, ok)
		}
	}

	// Trusting another CA: the handshake fails, the event is held and
	// retried (the pipeline is stopped by its deadline), never delivered.
	other := testpki.NewCA(t, "other CA")
	var logs bytes.Buffer
	p := run(t, fmt.Sprintf(`
input { generator { count => 1 message => "tls" } }
output { http { url => "%s/secure" http_method => "post" password => "p4ss" user => "u" ssl_certificate_authorities => [%q] ssl_certificate => %q ssl_key => %q } }`,
		srv.URL, other.File, cliPair.CertFile, cliPair.KeyFile),
		engine.Settings{Workers: 1, BatchSize: 10, Logger: slog.New(slog.NewTextHandler(&syncWriter{w: &logs}, nil))}, 2*time.Second)
	st := p.Stats()
	if st.Out.Load() != 0 || st.Failed.Load() != 0 || st.Retries.Load() == 0 {
		t.Errorf("untrusted server: out %d failed %d retries %d; want held and retried", st.Out.Load(), st.Failed.Load(), st.Retries.Load())
	}
	if strings.Contains(logs.String(), "p4ss") {
		t.Error("the password is in the log")
	}
	if !strings.Contains(logs.String(), "certificate") {
		t.Errorf("log does not say why:\n%s", logs.String())
	}
}

type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(b)
}

// TestBackPressure: while the endpoint does not answer, the output holds its
// batch and the input is blocked (its events stay bounded by the batches in
// flight); when the endpoint answers, everything is delivered.
func TestBackPressure(t *testing.T) {
	release := make(chan struct{})
	var served atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		<-release
		served.Add(1)
	}))
	defer srv.Close()
	cfg, diags := dsl.LoadSource("bp.conf", []byte(fmt.Sprintf(`
input { generator { count => 100000 message => "x" } }
output { http { url => "%s/" http_method => "post" format => "json_batch" request_timeout => 120 socket_timeout => 120 } }`, srv.URL)))
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	p, diags := engine.Build(cfg.Pipelines[0], engine.Default, engine.Settings{Workers: 1, BatchSize: 100, Logger: slog.New(slog.DiscardHandler)})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	// Wait until the input is blocked: its count stops growing.
	var last int64 = -1
	for i := 0; i < 100; i++ {
		time.Sleep(50 * time.Millisecond)
		n := p.Stats().In.Load()
		if n == last && n > 0 {
			break
		}
		last = n
	}
	held := p.Stats().In.Load()
	if held == 0 || held >= 10000 {
		t.Fatalf("%d events taken in while the endpoint hung; want a few batches", held)
	}
	if p.Stats().Out.Load() != 0 {
		t.Fatalf("out %d before the endpoint answered", p.Stats().Out.Load())
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if st := p.Stats(); st.Out.Load() != 100000 || st.Failed.Load() != 0 {
		t.Fatalf("out %d failed %d", st.Out.Load(), st.Failed.Load())
	}
}

// TestDiagnostics: check reports option mistakes on the option.
func TestDiagnostics(t *testing.T) {
	ca := filepath.Join(t.TempDir(), "ca.pem")
	_ = os.WriteFile(ca, []byte("x"), 0o600)
	for _, tc := range []struct{ opts, want string }{
		{`url = "http://x"`, `"http_method" is required`},
		{`http_method = "post"`, `"url" is required`},
		{`url = "http://x"
http_method = "send"`, `unsupported value "send"`},
		{`url = "ftp://x/"
http_method = "post"`, `is not an http:// or https:// URL`},
		{`url = "http://x/%%{kind}"
http_method = "post"
format = "json_batch"`, `used as written with format => "json_batch"`},
		{`url = "http://x"
http_method = "post"
format = "xml"`, `unsupported value "xml"`},
		{`url = "http://x"
http_method = "post"
format = "message"`, `required with format => "message"`},
		{`url = "http://x"
http_method = "post"
user = "me"`, `is set without a password`},
		{`url = "http://x"
http_method = "post"
retryable_codes = [42]`, `42 is not an HTTP status code`},
		{`url = "http://x"
http_method = "post"
request_timeout = 0`, `request_timeout`},
		{`url = "https://x"
http_method = "post"
ssl_certificate = "c.pem"`, `ssl_key is required`},
		{`url = "https://x"
http_method = "post"
cacert = "a.pem"
ssl_certificate_authorities = ["b.pem"]`, `set ssl_certificate_authorities only`},
		{`url = "https://x"
http_method = "post"
ssl_keystore_path = "k.jks"`, `convert it to PEM`},
		{`url = "https://x"
http_method = "post"
ssl_enabled = false`, `url is https://`},
		{`url = "http://x"
http_method = "post"
ssl_certificate_authorities = ["a.pem"]`, `only used over TLS`},
		{`url = "http://x"
http_method = "post"
proxy = "not a url"`, `is not a proxy URL`},
		{`url = "http://x"
http_method = "post"
headers = { "Bad Name" = "v" }`, `is not an HTTP header`},
	} {
		diags := enginetest.BuildDiags(t, ir.Output, "http", tc.opts)
		found := false
		for _, d := range diags {
			found = found || d.Severity == hcl.DiagError && strings.Contains(d.Summary+"; "+d.Detail, tc.want)
		}
		if !found {
			t.Errorf("%s:\n  diags %v\n  want %q", tc.opts, diags, tc.want)
		}
	}
	// Deprecated names work, with a warning.
	diags := enginetest.BuildDiags(t, ir.Output, "http", fmt.Sprintf(`url = "https://x"
http_method = "post"
cacert = %q`, ca))
	if diags.HasErrors() || !strings.Contains(diags.Error(), "use ssl_certificate_authorities instead") {
		t.Errorf("cacert: %v", diags)
	}
}

// TestCheckLogstashExamples: pipeline check accepts the http output
// configurations of Logstash's documentation and of issue #21 (Alerta), in
// testdata/*.conf.
func TestCheckLogstashExamples(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.conf")
	if len(files) == 0 {
		t.Fatal("no testdata/*.conf")
	}
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		cfg, diags := dsl.LoadSource(filepath.Base(f), src)
		if diags.HasErrors() {
			t.Fatalf("%s: %s", f, diags.Error())
		}
		for _, p := range cfg.Pipelines {
			if _, diags := engine.Build(p, engine.Default, engine.Settings{}); diags.HasErrors() {
				t.Errorf("%s: %s", f, diags.Error())
			}
		}
	}
}
