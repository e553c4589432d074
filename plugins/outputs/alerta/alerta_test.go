package alerta

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
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
)

// Alerta itself (a Python application) is not installed here: the server
// below is a real HTTP server on loopback that checks what Alerta's API
// checks (the Authorization header, JSON with the required fields, known
// severities, a numeric timeout) and answers as Alerta does (201 and a JSON
// status).
type alertaServer struct {
	mu     sync.Mutex
	alerts []map[string]any
	beats  []map[string]any
	key    string
	down   atomic.Int64 // answer 503 this many more times
	srv    *httptest.Server
}

func (a *alertaServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if a.down.Load() > 0 {
		a.down.Add(-1)
		http.Error(w, `{"status":"error","message":"down"}`, 503)
		return
	}
	if r.Header.Get("Authorization") != "Key "+a.key {
		http.Error(w, `{"status":"error","message":"Missing authorization API Key or Bearer Token"}`, 401)
		return
	}
	if r.Method != "POST" || r.Header.Get("Content-Type") != "application/json" {
		http.Error(w, "bad method or type", 405)
		return
	}
	var m map[string]any
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&m); err != nil {
		http.Error(w, `{"status":"error","message":"not JSON"}`, 400)
		return
	}
	if _, ok := m["timeout"].(float64); !ok {
		http.Error(w, `{"status":"error","message":"timeout must be an integer"}`, 400)
		return
	}
	if _, ok := m["tags"].([]any); !ok {
		http.Error(w, `{"status":"error","message":"tags must be a list"}`, 400)
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	switch r.URL.Path {
	case "/api/alert":
		for _, k := range []string{"resource", "event"} {
			if s, _ := m[k].(string); s == "" {
				http.Error(w, fmt.Sprintf(`{"status":"error","message":"Missing mandatory value for %s"}`, k), 400)
				return
			}
		}
		if !contains(severities, m["severity"].(string)) {
			http.Error(w, `{"status":"error","message":"bad severity"}`, 400)
			return
		}
		for _, k := range []string{"correlate", "service"} {
			if _, ok := m[k].([]any); !ok {
				http.Error(w, k+" must be a list", 400)
				return
			}
		}
		if _, ok := m["attributes"].(map[string]any); !ok {
			http.Error(w, "attributes must be a dict", 400)
			return
		}
		a.alerts = append(a.alerts, m)
	case "/api/heartbeat":
		if s, _ := m["origin"].(string); s == "" {
			http.Error(w, "origin required", 400)
			return
		}
		a.beats = append(a.beats, m)
	default:
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(201)
	_, _ = io.WriteString(w, `{"status":"ok","id":"x"}`)
}

func newAlerta(t *testing.T) *alertaServer {
	a := &alertaServer{key: "demo-key-123"}
	a.srv = httptest.NewServer(a)
	t.Cleanup(a.srv.Close)
	return a
}

type memDLQ struct {
	mu      sync.Mutex
	reasons []string
}

func (d *memDLQ) Put(_ *event.Event, _ engine.DeadLetterSource, reason string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.reasons = append(d.reasons, reason)
	return nil
}

type syncBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func run(t *testing.T, conf string, s engine.Settings) *engine.Pipeline {
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
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	stop := context.AfterFunc(ctx, p.Abort)
	defer stop()
	if err := p.Run(ctx); err != nil && !errors.Is(err, engine.ErrAborted) {
		t.Fatal(err)
	}
	if ctx.Err() != nil {
		t.Fatal("the pipeline did not end in time")
	}
	return p
}

// TestAlertAndHeartbeat: alerts carry Alerta's fields rendered per event
// (text defaults to the message), heartbeats carry origin, timeout and
// tags; the API key goes in "Authorization: Key …".
func TestAlertAndHeartbeat(t *testing.T) {
	a := newAlerta(t)
	p := run(t, fmt.Sprintf(`
input { generator { count => 1 lines => ["Failed password for root from 10.0.0.9", "rsnapshot hourly: completed successfully"] } }
filter { mutate { add_field => { "srv" => "web1" "user" => "root" } } }
output {
  if [message] =~ /^Failed/ {
    alerta {
      url => "%[1]s/api" api_key => "demo-key-123"
      resource => "%%{srv}" event => "SshAuthFailure" environment => "Production" severity => "Major"
      correlate => ["SshAuthFailure", "SshAuthOk"] service => ["ssh"] group => "Security" value => "%%{user}"
      tags => ["sec", "%%{srv}"] attributes => { "user" => "%%{user}" } origin => "sec/%%{srv}" timeout => "3600"
    }
  } else {
    alerta { url => "%[1]s/api/" api_key => "demo-key-123" heartbeat => true origin => "%%{srv}_backup" timeout => "86400" tags => ["rsnapshot"] }
  }
}`, a.srv.URL), engine.Settings{Workers: 1, BatchSize: 10})
	if st := p.Stats(); st.Out.Load() != 2 || st.Failed.Load() != 0 {
		t.Fatalf("out %d failed %d", st.Out.Load(), st.Failed.Load())
	}
	if len(a.alerts) != 1 || len(a.beats) != 1 {
		t.Fatalf("alerts %v beats %v", a.alerts, a.beats)
	}
	al := a.alerts[0]
	want := map[string]any{"resource": "web1", "event": "SshAuthFailure", "environment": "Production", "severity": "major",
		"group": "Security", "value": "root", "text": "Failed password for root from 10.0.0.9", "origin": "sec/web1",
		"type": "exceptionAlert", "timeout": 3600.0}
	for k, v := range want {
		if al[k] != v {
			t.Errorf("alert %s = %v, want %v", k, al[k], v)
		}
	}
	if fmt.Sprint(al["correlate"], al["service"], al["tags"], al["attributes"]) != "[SshAuthFailure SshAuthOk] [ssh] [sec web1] map[user:root]" {
		t.Errorf("alert lists %v", al)
	}
	hb := a.beats[0]
	if hb["origin"] != "web1_backup" || hb["timeout"] != 86400.0 || fmt.Sprint(hb["tags"]) != "[rsnapshot]" || hb["resource"] != nil {
		t.Errorf("heartbeat %v", hb)
	}
}

// TestRetryAndRefusals: Alerta answering 503 is retried until it accepts
// (every alert once); a wrong key (401) dead-letters the events with the
// answer as the reason, and the key never shows in reasons or logs.
func TestRetryAndRefusals(t *testing.T) {
	a := newAlerta(t)
	a.down.Store(8)
	p := run(t, fmt.Sprintf(`
input { generator { count => 3 message => "x" } }
output { alerta { url => "%s/api" api_key => "demo-key-123" resource => "r%%{[event][sequence]}" event => "E" } }`, a.srv.URL),
		engine.Settings{Workers: 1, BatchSize: 10})
	st := p.Stats()
	if st.Out.Load() != 3 || st.Retries.Load() == 0 || len(a.alerts) != 3 || a.down.Load() != 0 {
		t.Fatalf("out %d retries %d alerts %d", st.Out.Load(), st.Retries.Load(), len(a.alerts))
	}
	seen := map[any]bool{}
	for _, al := range a.alerts {
		seen[al["resource"]] = true
	}
	if len(seen) != 3 {
		t.Errorf("resources %v", seen)
	}

	dlq := &memDLQ{}
	var logs syncBuf
	run(t, fmt.Sprintf(`
input { generator { count => 2 message => "x" } }
output { alerta { url => "%s/api" api_key => "Wrong-Key-987" resource => "r" event => "E" } }`, a.srv.URL),
		engine.Settings{Workers: 1, BatchSize: 10, DeadLetter: dlq, Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if len(dlq.reasons) != 2 || !strings.Contains(dlq.reasons[0], "401") || !strings.Contains(dlq.reasons[0], "Missing authorization") {
		t.Fatalf("reasons %v", dlq.reasons)
	}
	if strings.Contains(logs.b.String()+strings.Join(dlq.reasons, ""), "Wrong-Key-987") {
		t.Errorf("the API key leaked")
	}
}

// TestDiagnostics: check reports option mistakes on the option.
func TestDiagnostics(t *testing.T) {
	for _, tc := range []struct{ opts, want string }{
		{`url = "ftp://x"
resource = "r"
event = "e"`, `is not an http:// or https:// URL`},
		{`url = "http://x"
event = "e"`, `required for alerts`},
		{`url = "http://x"
resource = "r"
event = "e"
severity = "huge"`, `unknown severity "huge"`},
		{`url = "http://x"
heartbeat = true
timeout = "soon"`, `is not a number of seconds`},
		{`url = "http://x"
heartbeat = true
ssl_certificate_authorities = ["ca.pem"]`, `only used over TLS`},
	} {
		diags := enginetest.BuildDiags(t, ir.Output, "alerta", tc.opts)
		found := false
		for _, d := range diags {
			found = found || d.Severity == hcl.DiagError && strings.Contains(d.Summary+"; "+d.Detail, tc.want)
		}
		if !found {
			t.Errorf("%s:\n  diags %v\n  want %q", tc.opts, diags, tc.want)
		}
	}
}
