package opensearch

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pipelined/pipeline/dsl"
	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/plugins/internal/testkit/zinctest"
)

// logBuf collects log lines.
type logBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// run runs conf (Logstash syntax) to its end and returns the pipeline; the
// log goes to log when it is not nil.
func run(t *testing.T, conf string, log *logBuf) *engine.Pipeline {
	t.Helper()
	var w io.Writer = io.Discard
	if log != nil {
		w = log
	}
	cfg, diags := dsl.LoadSource(t.Name()+".conf", []byte(conf))
	if diags.HasErrors() {
		t.Fatalf("load:\n%s\n%s", conf, diags.Error())
	}
	p, diags := engine.Build(cfg.Pipelines[0], engine.Default, engine.Settings{
		Workers: 1, BatchSize: 100, RetryInitial: 20 * time.Millisecond, RetryMax: 500 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(w, nil))})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if err := p.Run(ctx); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestZincDefaultIndexAndLegacyTemplate: with only hosts and credentials
// (and ECS off), events go to the daily logstash-YYYY.MM.dd index, never to a
// rollover alias or data stream, and the built-in template is installed with
// the legacy _template API under the name "logstash", as the OpenSearch plugin
// does (ZincSearch has no legacy API and answers 404, which, as in Logstash,
// leaves the template uninstalled with a warning); with legacy_template =>
// false it goes to _index_template. The server announces version 2.11.0, as
// OpenSearch 2 does.
func TestZincDefaultIndexAndLegacyTemplate(t *testing.T) {
	t.Parallel()
	zs := zinctest.Start(t, zinctest.ESVersion("2.11.0"))
	const n = 300
	log := &logBuf{}
	p := run(t, fmt.Sprintf(`
input { generator { count => %d message => "hello opensearch" } }
output {
  opensearch {
    hosts => [%q]
    user => %q
    password => %q
    ecs_compatibility => disabled
  }
}`, n, zs.URL(), zinctest.User, zinctest.Password), log)
	st := p.Stats()
	if st.Out.Load() != n || st.Failed.Load() != 0 {
		t.Fatalf("out %d failed %d; want %d delivered", st.Out.Load(), st.Failed.Load(), n)
	}
	index := "logstash-" + time.Now().UTC().Format("2006.01.02")
	if got, err := zs.WaitCount(index, n, 60*time.Second); err != nil || got != n {
		t.Fatalf("index %s: search finds %d (%v); want %d", index, got, err, n)
	}
	if !strings.Contains(log.String(), "PUT /_template/logstash") && !strings.Contains(log.String(), "no _template API") {
		t.Errorf("no attempt at the legacy template API in the log:\n%s", log)
	}
	status, b, _ := zs.Do("GET", "/_alias", nil)
	if status == 200 && strings.Contains(string(b), `"logstash"`) {
		t.Errorf("a rollover alias was created: %.300s", b)
	}

	run(t, fmt.Sprintf(`
input { generator { count => 1 } }
output {
  opensearch {
    hosts => [%q]
    user => %q
    password => %q
    legacy_template => false
  }
}`, zs.URL(), zinctest.User, zinctest.Password), nil)
	status, b, err := zs.Do("GET", "/_index_template/ecs-logstash", nil)
	if err != nil || status != 200 || !strings.Contains(string(b), "ecs-logstash-*") {
		t.Errorf("GET /_index_template/ecs-logstash: %d %v %.300s", status, err, b)
	}
}

// TestZincAuthTypeDocumentID: auth_type basic authenticates; document_id
// makes writes idempotent (the same 50 events written twice stay 50
// documents); a wrong password is an error naming the credentials.
func TestZincAuthTypeDocumentID(t *testing.T) {
	t.Parallel()
	zs := zinctest.Start(t, zinctest.ESVersion("2.11.0"))
	conf := fmt.Sprintf(`
input { generator { count => 50 message => "m" } }
output {
  opensearch {
    hosts => [%q]
    auth_type => { type => "basic" user => %q password => %q }
    index => "ids"
    document_id => "%%{[event][sequence]}"
    manage_template => false
  }
}`, zs.URL(), zinctest.User, zinctest.Password)
	for range 2 {
		p := run(t, conf, nil)
		if st := p.Stats(); st.Out.Load() != 50 || st.Failed.Load() != 0 {
			t.Fatalf("out %d failed %d", st.Out.Load(), st.Failed.Load())
		}
	}
	// Search is eventually consistent: wait for 50, then make sure no more come.
	if got, err := zs.WaitCount("ids", 50, 60*time.Second); err != nil || got != 50 {
		t.Fatalf("search finds %d (%v); want 50", got, err)
	}
	time.Sleep(2 * time.Second)
	if got, err := zs.Count("ids"); err != nil || got != 50 {
		t.Fatalf("search finds %d (%v) after the second run; want 50", got, err)
	}

	var o Options
	o.Defaults()
	o.Hosts = []string{zs.URL()}
	o.AuthType = engine.Hash{{Key: "type", Value: "basic"}, {Key: "user", Value: zinctest.User}, {Key: "password", Value: "wrong"}}
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	out, err := New(o, engine.Resources{})
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close(context.Background())
	// ZincSearch answers GET / without credentials: the bulk request is
	// the one refused.
	err = out.Connect(context.Background())
	if err == nil {
		err = out.Write(context.Background(), []*event.Event{event.NewMessage("x")})
	}
	if err == nil || !strings.Contains(err.Error(), "401") || strings.Contains(err.Error(), "wrong") {
		t.Fatalf("a wrong password: %v", err)
	}
}
