package elasticsearch

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"golang.org/x/tools/txtar"

	"github.com/pipelined/pipeline/dsl/ir"
	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/plugins/internal/testkit/plugintest"
)

// updating reports whether -update (defined by plugintest) asks to rewrite
// the golden files under testdata from what the output sends.
func updating() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

// TestActionsGolden sends two events with each case's options of
// testdata/actions.txtar and compares the bulk body with the golden one.
// A case may set the version the server announces (<case>.version) and
// extra event fields (<case>.fields: lines "<event> <field> <JSON value>").
func TestActionsGolden(t *testing.T) {
	const file = "testdata/actions.txtar"
	ar, err := txtar.ParseFile(file)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	var names []string
	for _, f := range ar.Files {
		files[f.Name] = string(f.Data)
		if name, ok := strings.CutSuffix(f.Name, ".options"); ok {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		t.Fatal("no cases")
	}
	got := map[string]string{}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			version := strings.TrimSpace(files[name+".version"])
			if version == "" {
				version = "8.15.0"
			}
			var mu sync.Mutex
			var bodies []string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("X-Elastic-Product", "Elasticsearch")
				if r.URL.Path != "/_bulk" {
					// Templates exist already: only bulk requests here.
					fmt.Fprintf(w, `{"version":{"number":%q}}`, version)
					return
				}
				b, _ := io.ReadAll(r.Body)
				mu.Lock()
				bodies = append(bodies, string(b))
				mu.Unlock()
				n := strings.Count(string(b), `{"index":`) + strings.Count(string(b), `{"create":`) +
					strings.Count(string(b), `{"update":`) + strings.Count(string(b), `{"delete":`)
				items := strings.TrimSuffix(strings.Repeat(`{"index":{"status":200}},`, n), ",")
				fmt.Fprintf(w, `{"errors":false,"items":[%s]}`, items)
			}))
			defer srv.Close()
			e0 := event.NewAt(time.Date(2026, 11, 24, 23, 30, 0, 0, time.FixedZone("", -2*3600)))
			_ = e0.Set(event.MustRef("message"), `a "quoted" é`)
			_ = e0.Set(event.MustRef("id"), "x1")
			_ = e0.Set(event.MustRef("[@metadata][op]"), "update")
			_ = e0.Set(event.MustRef("[@metadata][shard]"), "s1")
			e1 := event.NewAt(time.Date(2026, 11, 25, 0, 10, 0, 0, time.UTC))
			_ = e1.Set(event.MustRef("message"), "b")
			_ = e1.Set(event.MustRef("id"), "x2")
			_ = e1.Set(event.MustRef("[@metadata][op]"), "delete")
			evs := []*event.Event{e0, e1}
			for _, line := range strings.Split(strings.TrimSpace(files[name+".fields"]), "\n") {
				if line == "" {
					continue
				}
				parts := strings.SplitN(line, " ", 3)
				v, err := event.ParseJSON([]byte(parts[2]))
				if err != nil || (parts[0] != "0" && parts[0] != "1") {
					t.Fatalf("bad fields line %q: %v", line, err)
				}
				if err := evs[parts[0][0]-'0'].Set(event.MustRef(parts[1]), v); err != nil {
					t.Fatal(err)
				}
			}
			src := &source{n: 2, batch: 2, mk: func(i int) *event.Event { return evs[i] }}
			opts := fmt.Sprintf("hosts = [%q]\ncompression_level = 0\n%s", srv.URL, files[name+".options"])
			r := startPipeline(t, src, opts, engine.Settings{Workers: 1, BatchSize: 2})
			r.wait(t, 10*time.Second)
			body := strings.Join(bodies, "")
			got[name] = body
			if want := files[name+".want"]; body != want && !updating() {
				t.Errorf("body:\n%s\nwant:\n%s", body, want)
			}
			if r.p.Stats().Out.Load() != 2 {
				t.Errorf("delivered %d; want 2", r.p.Stats().Out.Load())
			}
		})
	}
	if updating() {
		for i, f := range ar.Files {
			if name, ok := strings.CutSuffix(f.Name, ".want"); ok {
				ar.Files[i].Data = []byte(got[name])
			}
		}
		if err := os.WriteFile(file, txtar.Format(ar), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestTargetBulkBytes: a batch larger than target_bulk_bytes goes out as
// several requests, none over the target unless one event alone is.
func TestTargetBulkBytes(t *testing.T) {
	var mu sync.Mutex
	var sizes []int
	docs := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Elastic-Product", "Elasticsearch")
		if r.URL.Path != "/_bulk" {
			io.WriteString(w, `{}`)
			return
		}
		b, _ := io.ReadAll(r.Body)
		n := strings.Count(string(b), "\n") / 2
		mu.Lock()
		sizes = append(sizes, len(b))
		docs += n
		mu.Unlock()
		fmt.Fprintf(w, `{"errors":false,"items":[%s]}`, strings.TrimSuffix(strings.Repeat(`{"index":{"status":201}},`, n), ","))
	}))
	defer srv.Close()
	big := strings.Repeat("x", 5000)
	src := &source{n: 100, batch: 100, mk: func(i int) *event.Event {
		e := event.New()
		msg := "small"
		if i == 50 {
			msg = big // alone larger than the target
		}
		_ = e.Set(event.MustRef("message"), msg)
		return e
	}}
	r := startPipeline(t, src, fmt.Sprintf("hosts = [%q]\nindex = \"big\"\ncompression_level = 0\ntarget_bulk_bytes = 2048", srv.URL),
		engine.Settings{Workers: 1, BatchSize: 100})
	r.wait(t, 10*time.Second)
	mu.Lock()
	defer mu.Unlock()
	if docs != 100 || len(sizes) < 5 {
		t.Fatalf("%d documents in %d requests; want 100 in several", docs, len(sizes))
	}
	over := 0
	for _, s := range sizes {
		if s > 2048 {
			over++
		}
	}
	if over != 1 {
		t.Errorf("request sizes %v: want exactly one (the big event alone) over 2048", sizes)
	}
}

// TestOptionErrors: mistakes are diagnostics on the option, with a fix.
func TestOptionErrors(t *testing.T) {
	for _, tc := range []struct{ opts, want string }{
		{`hosts = ["http://127.0.0.1:9200"]
ssl = true`, `ssl => true but host "http://127.0.0.1:9200" is http://, which would send every event in plaintext; write "https://127.0.0.1:9200"`},
		{`hosts = ["http://es:9200"]
ssl_enabled = true`, `ssl_enabled => true but host "http://es:9200" is http://`},
		{`hosts = ["https://es:9200"]
ssl_enabled = false`, `ssl_enabled => false but host "https://es:9200" is https://`},
		{`ssl = true
ssl_enabled = true`, "set ssl_enabled only"},
		{`hosts = ["https://a", "http://b"]`, "mix http and https"},
		{`hosts = ["ftp://a"]`, `unsupported scheme "ftp"`},
		{`hosts = []`, "list at least one host"},
		{`hosts = ["a:99999"]`, "bad port"},
		{`hosts = ["https://a"]
cacert = "/a"
ssl_certificate_authorities = ["/b"]`, "set ssl_certificate_authorities only"},
		{`action = "upsert"`, `unsupported action "upsert"`},
		{`action = "update"`, `"document_id"; required with action => "update"`},
		{`action = "delete"`, `required with action => "delete"`},
		{`index = "x-%{[a}"`, "index"},
		{`hosts = ["https://a"]
ssl_verification_mode = "certificate"`, `unsupported value "certificate"`},
		{`hosts = ["https://a"]
ssl_certificate = "/c.pem"`, "ssl_key is required"},
		{`api_key = "id:key"`, "only sent over TLS"},
		{`hosts = ["https://a"]
api_key = "id:key"
user = "u"`, "either api_key or user"},
		{`password = "p"`, "user is required"},
		{`timeout = 0`, "timeout"},
		{`compression_level = 10`, "between 0"},
		{`retry_initial_interval = 10
retry_max_interval = 5`, "retry_max_interval"},
		{`target_bulk_bytes = 10`, "at least 1024"},
	} {
		diags := errorsOf(plugintest.BuildDiags(t, ir.Output, "elasticsearch", tc.opts))
		if !diags.HasErrors() || !strings.Contains(diags.Error(), tc.want) {
			t.Errorf("%s:\n  diags %v\n  want %q", tc.opts, diags, tc.want)
		}
	}
	// The refusal points at hosts, on the line where it is written.
	diags := errorsOf(plugintest.BuildDiags(t, ir.Output, "elasticsearch", "index = \"a\"\nhosts = [\"http://127.0.0.1:9200\"]\nssl = true"))
	if len(diags) != 1 || diags[0].Subject == nil || diags[0].Subject.Start.Line != 3 || !strings.Contains(diags[0].Summary, `"hosts"`) {
		t.Errorf("diags %v; want one on hosts, line 3", diags)
	}
	for _, ok := range []string{
		``,
		`hosts = "127.0.0.1"`,
		`hosts = ["https://es1:9200/prefix", "es2"]
ssl_enabled = true
cacert = "/etc/ca.crt"
user = "u"
password = "p"`,
		`hosts = ["https://a"]
api_key = "id:key"`,
		`action = "%{[@metadata][action]}"`,
		`hosts = ["http://u:p@a:9200"]`,
	} {
		if diags := plugintest.BuildDiags(t, ir.Output, "elasticsearch", ok); diags.HasErrors() {
			t.Errorf("%s: %v", ok, diags)
		}
	}
}

// errorsOf drops the warnings (deprecated options) from diags.
func errorsOf(diags hcl.Diagnostics) hcl.Diagnostics {
	var out hcl.Diagnostics
	for _, d := range diags {
		if d.Severity == hcl.DiagError {
			out = append(out, d)
		}
	}
	return out
}

// TestEndpoints: hosts become URLs with scheme and port; a path is kept.
func TestEndpoints(t *testing.T) {
	on := true
	for _, tc := range []struct {
		hosts []string
		ssl   *bool
		want  string
	}{
		{[]string{"//127.0.0.1"}, nil, "http://127.0.0.1:9200"},
		{[]string{"es1", "es2:9201"}, &on, "https://es1:9200 https://es2:9201"},
		{[]string{"http://127.0.0.1:4080/es/"}, nil, "http://127.0.0.1:4080/es"},
		{[]string{"https://[::1]/a/b"}, nil, "https://[::1]:9200/a/b"},
	} {
		var o Options
		o.Defaults()
		o.Hosts, o.SSLEnabled = tc.hosts, tc.ssl
		eps, err := o.endpoints()
		var got []string
		for _, u := range eps {
			got = append(got, u.String())
		}
		if err != nil || strings.Join(got, " ") != tc.want {
			t.Errorf("%v: %v, %v; want %s", tc.hosts, got, err, tc.want)
		}
	}
	// Credentials in a URL move to the client and out of every message.
	var o Options
	o.Defaults()
	o.Hosts = []string{"http://u:secret@127.0.0.1:1"}
	out, err := New(o, engine.Resources{})
	if err != nil {
		t.Fatal(err)
	}
	if out.user != "u" || out.password != "secret" || strings.Contains(out.hostList(), "secret") {
		t.Errorf("user %q password %q hosts %q", out.user, out.password, out.hostList())
	}
}

// TestUnsentChunksAreNotDelivered: when a Write is split into several bulk
// requests and the server goes away after the first, the events of the
// requests never sent are reported failed too — none is taken as delivered.
func TestUnsentChunksAreNotDelivered(t *testing.T) {
	var mu sync.Mutex
	bulks := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Elastic-Product", "Elasticsearch")
		if r.URL.Path != "/_bulk" {
			io.WriteString(w, `{"version":{"number":"8.15.0"}}`)
			return
		}
		mu.Lock()
		bulks++
		first := bulks == 1
		mu.Unlock()
		if !first { // the server is gone: drop the connection
			hj, _ := w.(http.Hijacker)
			c, _, _ := hj.Hijack()
			c.Close()
			return
		}
		b, _ := io.ReadAll(r.Body)
		n := strings.Count(string(b), "\n") / 2
		fmt.Fprintf(w, `{"errors":false,"items":[%s]}`, strings.TrimSuffix(strings.Repeat(`{"index":{"status":201}},`, n), ","))
	}))
	defer srv.Close()
	var o Options
	o.Defaults()
	o.Hosts = []string{srv.URL}
	o.CompressionLevel = 0
	o.TargetBulkBytes = 1024
	out, err := New(o, engine.Resources{})
	if err != nil {
		t.Fatal(err)
	}
	if err := out.Connect(context.Background()); err != nil {
		t.Fatal(err)
	}
	evs := make([]*event.Event, 60)
	for i := range evs {
		evs[i] = event.NewMessage(strings.Repeat("m", 100))
	}
	err = out.Write(context.Background(), evs)
	var be *engine.BatchError
	if !errors.As(err, &be) {
		t.Fatalf("Write = %v; want a BatchError", err)
	}
	delivered := len(evs) - len(be.Failed)
	if delivered == 0 || delivered == len(evs) {
		t.Fatalf("%d of %d delivered; want the first request's only", delivered, len(evs))
	}
	for i := delivered; i < len(evs); i++ {
		if be.Failed[i] == nil {
			t.Fatalf("event %d was never sent but is not failed", i)
		}
	}
	if mu.Lock(); bulks > 3 {
		t.Errorf("%d bulk requests to a server that was gone; want the Write to stop", bulks)
	}
	mu.Unlock()
}
