package elasticsearch

import (
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pipelined/pipeline/dsl/ir"
	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/plugins/internal/testkit/plugintest"
)

// TestHTTPOptions: path, custom_headers and parameters reach every request
// (the ping, the template and the bulk), and proxy sends them through the
// proxy, with the host as written in the request line.
func TestHTTPOptions(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Elastic-Product", "Elasticsearch")
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		seen = append(seen, fmt.Sprintf("%s %s host=%s x-tenant=%s", r.Method, r.URL.String(), r.Host, r.Header.Get("X-Tenant")))
		mu.Unlock()
		if strings.HasSuffix(r.URL.Path, "/_bulk") {
			n := strings.Count(string(b), "\n") / 2
			fmt.Fprintf(w, `{"errors":false,"items":[%s]}`, strings.TrimSuffix(strings.Repeat(`{"index":{"status":201}},`, n), ","))
			return
		}
		io.WriteString(w, `{"version":{"number":"8.15.0"}}`)
	}))
	defer srv.Close()
	src := &source{n: 1, batch: 1, mk: func(int) *event.Event { return event.New() }}
	r := startPipeline(t, src, fmt.Sprintf(`
  hosts             = ["http://es.invalid:9200"]
  proxy             = %q
  path              = "/prefix/"
  custom_headers    = { "X-Tenant" = "blue" }
  parameters        = { "timeout" = "30s" }
  index             = "x"
  compression_level = 0
`, srv.URL), engine.Settings{Workers: 1, BatchSize: 1})
	r.wait(t, 10*time.Second)
	mu.Lock()
	defer mu.Unlock()
	want := []string{
		"GET http://es.invalid:9200/prefix/?timeout=30s host=es.invalid:9200 x-tenant=blue",
		"HEAD http://es.invalid:9200/prefix/_index_template/ecs-logstash?timeout=30s host=es.invalid:9200 x-tenant=blue",
		"POST http://es.invalid:9200/prefix/_bulk?filter_path=errors,items.*.error,items.*.status&timeout=30s host=es.invalid:9200 x-tenant=blue",
	}
	if strings.Join(seen, "\n") != strings.Join(want, "\n") {
		t.Errorf("requests:\n%s\nwant:\n%s", strings.Join(seen, "\n"), strings.Join(want, "\n"))
	}
}

// TestBulkPath: bulk_path replaces /_bulk, slashes deduplicated, and the
// answer is filtered to what the output reads unless it says otherwise.
func TestBulkPath(t *testing.T) {
	for in, want := range map[string]string{
		"":                          "/_bulk?filter_path=errors,items.*.error,items.*.status",
		"ingest//_bulk":             "/ingest/_bulk?filter_path=errors,items.*.error,items.*.status",
		"/_bulk?refresh=wait_for":   "/_bulk?refresh=wait_for&filter_path=errors,items.*.error,items.*.status",
		"/_bulk?filter_path=errors": "/_bulk?filter_path=errors",
	} {
		if got := bulkPath(in); got != want {
			t.Errorf("bulkPath(%q) = %q; want %q", in, got, want)
		}
	}
}

// TestCloudID: a Cloud ID names the https host (port 443 unless given);
// cloud_auth is the credentials.
func TestCloudID(t *testing.T) {
	enc := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	for _, tc := range []struct{ id, want string }{
		{"my-deployment:" + enc("us-east-1.aws.found.io$abc123$def456"), "https://abc123.us-east-1.aws.found.io:443"},
		{"x:" + enc("eu.example.com:9243$es1$kb1"), "https://es1.eu.example.com:9243"},
		{enc("eu.example.com:9243$es1:9200$kb1"), "https://es1.eu.example.com:9200"},
	} {
		if got, err := cloudHost(tc.id); err != nil || got != tc.want {
			t.Errorf("cloudHost(%q) = %q, %v; want %q", tc.id, got, err, tc.want)
		}
	}
	var o Options
	o.Defaults()
	o.CloudID = "x:" + enc("example.com$es1$kb1")
	o.CloudAuth = "elastic:secret"
	o.Index = "x"
	out, err := New(o, engine.Resources{})
	if err != nil {
		t.Fatal(err)
	}
	if out.hostList() != "https://es1.example.com:443" || out.user != "elastic" || out.password != "secret" || !out.tlsOn {
		t.Errorf("hosts %s user %q tls %v", out.hostList(), out.user, out.tlsOn)
	}
	for _, tc := range []struct{ opts, want string }{
		{`cloud_id = "x:` + enc("example.com$es1$kb1") + `"
hosts = ["es2"]`, "set either cloud_id or hosts"},
		{`cloud_id = "x:!!"`, "not base64"},
		{`cloud_id = "x:` + enc("example.com") + `"`, "not a Cloud ID"},
		{`cloud_auth = "u:p"
user = "v"`, "set either cloud_auth or user"},
		{`cloud_auth = "nocolon"`, "<user>:<password>"},
		{`proxy = "not a url"`, "is not a proxy URL"},
		{`hosts = ["http://es:9200/a"]
path = "/b"`, "has a path of its own"},
		{`dlq_custom_codes = [404]`, "404 already goes to the dead letter queue"},
		{`dlq_custom_codes = [409]`, "409 is the conflict code"},
		{`index = "x"
join_field = "rel"`, "needs parent"},
	} {
		diags := plugintest.BuildDiags(t, ir.Output, "elasticsearch", tc.opts)
		if !diags.HasErrors() || !strings.Contains(diags.Error(), tc.want) {
			t.Errorf("%s:\n  diags %v\n  want %q", tc.opts, diags, tc.want)
		}
	}
}

// TestErrorOptions: drop_error_types drops those items (delivered, not
// dead-lettered); dlq_custom_codes sends a status that would be retried to
// the dead letter queue; silence_errors_in_log keeps a type out of the log.
func TestErrorOptions(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Elastic-Product", "Elasticsearch")
		if r.URL.Path != "/_bulk" {
			io.WriteString(w, `{"version":{"number":"8.15.0"}}`)
			return
		}
		io.WriteString(w, `{"errors":true,"items":[
{"index":{"status":400,"error":{"type":"mapper_parsing_exception","reason":"bad field"}}},
{"index":{"status":507,"error":{"type":"storage_exception","reason":"disk"}}},
{"index":{"status":201}}]}`)
	}))
	defer srv.Close()
	src := &source{n: 3, batch: 3, mk: func(int) *event.Event { return event.New() }}
	dlq := &memDLQ{}
	r := startPipeline(t, src, fmt.Sprintf(`
  hosts                 = [%q]
  index                 = "x"
  drop_error_types      = ["mapper_parsing_exception"]
  dlq_custom_codes      = [507]
  silence_errors_in_log = ["storage_exception", "mapper_parsing_exception"]
  compression_level     = 0
`, srv.URL), engine.Settings{Workers: 1, BatchSize: 3, DeadLetter: dlq})
	r.wait(t, 10*time.Second)
	st := r.p.Stats()
	if st.Out.Load() != 2 || dlq.len() != 1 || st.Retries.Load() != 0 {
		t.Errorf("out %d dead-lettered %d retries %d; want 2 delivered (one dropped), 1 dead-lettered, no retry",
			st.Out.Load(), dlq.len(), st.Retries.Load())
	}
	if log := r.log.String(); strings.Contains(log, "refused events for good") || strings.Contains(log, "dropped an event") {
		t.Errorf("silenced errors were logged:\n%s", log)
	}
}
