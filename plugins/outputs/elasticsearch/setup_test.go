package elasticsearch

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/tools/txtar"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
)

// TestSetupRequests runs each case of testdata/setup.txtar against a server
// that records what the output asks before it writes (templates, the ILM
// rollover alias and policy) and compares that with the golden requests.
// Elasticsearch is not available here and ZincSearch has neither legacy
// templates nor ILM, so these requests are checked as sent; the composable
// template is also installed on ZincSearch (TestZincTemplate). A case sets
// the version the server announces (<case>.version, 8.15.0 otherwise) and
// what exists already (<case>.exists: one path per line, answered 200 to HEAD
// and GET; anything else is 404 to those and 200 to PUT).
func TestSetupRequests(t *testing.T) {
	const file = "testdata/setup.txtar"
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
	got := map[string]string{}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			version := strings.TrimSpace(files[name+".version"])
			if version == "" {
				version = "8.15.0"
			}
			exists := map[string]bool{}
			for _, p := range strings.Fields(files[name+".exists"]) {
				exists["/es"+p] = true
			}
			var mu sync.Mutex
			var log strings.Builder
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("X-Elastic-Product", "Elasticsearch")
				b, _ := io.ReadAll(r.Body)
				switch {
				case r.Method == "GET" && r.URL.Path == "/es/":
					fmt.Fprintf(w, `{"version":{"number":%q}}`, version)
					return
				case r.URL.Path == "/es/_bulk":
					n := strings.Count(string(b), "\n") / 2
					fmt.Fprintf(w, `{"errors":false,"items":[%s]}`, strings.TrimSuffix(strings.Repeat(`{"index":{"status":201}},`, n), ","))
					return
				}
				mu.Lock()
				fmt.Fprintf(&log, "%s %s\n", r.Method, r.RequestURI)
				if len(b) > 0 {
					fmt.Fprintf(&log, "%s\n", b)
				}
				mu.Unlock()
				switch r.Method {
				case "HEAD", "GET":
					if !exists[r.URL.Path] {
						w.WriteHeader(http.StatusNotFound)
					}
				}
				io.WriteString(w, `{"acknowledged":true}`)
			}))
			defer srv.Close()
			src := &source{n: 1, batch: 1, mk: func(int) *event.Event {
				return event.NewAt(time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC))
			}}
			opts := fmt.Sprintf("hosts = [%q]\ncompression_level = 0\n%s", srv.URL+"/es", files[name+".options"])
			r := startPipeline(t, src, opts, engine.Settings{Workers: 1, BatchSize: 1})
			r.wait(t, 10*time.Second)
			mu.Lock()
			got[name] = log.String()
			mu.Unlock()
			if want := files[name+".want"]; got[name] != want && !updating() {
				t.Errorf("requests:\n%s\nwant:\n%s", got[name], want)
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

// TestSetupFailures: a setup the server refuses fails Connect with the reason,
// so the engine retries it and writes nothing meanwhile; a template file that
// is missing or not JSON is refused by check.
func TestSetupFailures(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Elastic-Product", "Elasticsearch")
		switch {
		case r.URL.Path == "/":
			io.WriteString(w, `{"version":{"number":"8.15.0"}}`)
		case r.Method == "PUT" && strings.HasPrefix(r.URL.Path, "/_index_template/"):
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `{"error":{"type":"illegal_argument_exception","reason":"bad mapping"},"status":400}`)
		case r.Method == "PUT":
			io.WriteString(w, `{"acknowledged":true}`)
		default:
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `{}`)
		}
	}))
	defer srv.Close()
	connect := func(mod func(*Options)) error {
		var o Options
		o.Defaults()
		o.Hosts = []string{srv.URL}
		mod(&o)
		out, err := New(o, engine.Resources{})
		if err != nil {
			t.Fatal(err)
		}
		defer out.Close(t.Context())
		return out.Connect(t.Context())
	}
	err := connect(func(o *Options) { o.ManageTemplate = new(bool); o.ILMRolloverAlias = "audit"; o.ILMPolicy = "keep-90d" })
	if err == nil || !strings.Contains(err.Error(), `the ILM policy "keep-90d" (ilm_policy) does not exist`) {
		t.Errorf("missing policy: %v", err)
	}
	err = connect(func(o *Options) { o.Index = "x" })
	if err == nil || !strings.Contains(err.Error(), "PUT /_index_template/ecs-logstash (the index template) answered 400") ||
		!strings.Contains(err.Error(), "bad mapping") {
		t.Errorf("refused template: %v", err)
	}
	err = connect(func(o *Options) {}) // a data stream: an old server has none
	if err != nil {
		t.Errorf("data stream on 8.15.0: %v", err)
	}

	for _, tc := range []struct{ file, want string }{
		{"testdata/templates/missing.json", "no such file"},
		{"testdata/actions.txtar", "is not a JSON object"},
	} {
		var o Options
		o.Defaults()
		o.Template = tc.file
		_, err := New(o, engine.Resources{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("template %s: %v; want %q", tc.file, err, tc.want)
		}
	}
}
