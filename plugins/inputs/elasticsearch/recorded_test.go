package elasticsearch

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pipelined/pipeline/engine/enginetest"
	"github.com/pipelined/pipeline/engine/event"
)

var update = flag.Bool("update", false, "rewrite testdata/requests/*.txt")

// fakeES answers as an Elasticsearch of version ver would for the
// requests the input sends (point in time, search_after, scroll), serving
// docs documents in pages, and records each request as one line.
type fakeES struct {
	ver  string
	docs int
	mu   sync.Mutex
	log  []string
}

func (f *fakeES) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	line := r.Method + " " + r.URL.Path
	if r.URL.RawQuery != "" {
		line += "?" + r.URL.RawQuery
	}
	if len(body) > 0 {
		line += " " + string(body)
	}
	f.log = append(f.log, line)
	f.mu.Unlock()
	var req map[string]any
	_ = json.Unmarshal(body, &req)
	size := 1000
	if s, ok := req["size"].(float64); ok {
		size = int(s)
	}
	// The page starts after the cursor: search_after's value or the
	// scroll id's (both are the offset in this fake).
	from := 0
	if sa, ok := req["search_after"].([]any); ok && len(sa) == 1 {
		from = int(sa[0].(float64))
	}
	slice, max := 0, 1
	if sl, ok := req["slice"].(map[string]any); ok {
		slice, max = int(sl["id"].(float64)), int(sl["max"].(float64))
	}
	// A scroll id carries the scroll's position and slice, as the server's
	// scroll context does.
	if id, ok := req["scroll_id"].(string); ok {
		fmt.Sscanf(id, "scroll-%d-%d-%d", &from, &slice, &max)
	}
	w.Header().Set("X-Elastic-Product", "Elasticsearch")
	switch {
	case r.URL.Path == "/":
		fmt.Fprintf(w, `{"version":{"number":%q}}`, f.ver)
	case strings.HasSuffix(r.URL.Path, "/_pit") && r.Method == "POST":
		io.WriteString(w, `{"id":"pit-1"}`)
	case r.Method == "DELETE":
		io.WriteString(w, `{"succeeded":true}`)
	default:
		var hits []string
		n := 0
		for i := from; i < f.docs && n < size; i++ {
			if i%max != slice {
				continue
			}
			hits = append(hits, fmt.Sprintf(`{"_index":"logs-1","_id":"d%d","_score":null,"_source":{"n":%d,"msg":"doc %d"},"sort":[%d]}`, i, i, i, i+1))
			n++
			from = i + 1
		}
		scroll := ""
		if r.URL.Query().Get("scroll") != "" || strings.HasSuffix(r.URL.Path, "/_search/scroll") {
			scroll = fmt.Sprintf(`"_scroll_id":"scroll-%d-%d-%d",`, from, slice, max)
		}
		fmt.Fprintf(w, `{%s"hits":{"total":{"value":%d},"hits":[%s]}}`, scroll, f.docs, strings.Join(hits, ","))
	}
}

// TestRecordedRequests: the requests of each search_api (and slices, and
// aggregations) against an Elasticsearch stand-in, compared with
// testdata/requests/<case>.txt. ZincSearch, the real server of the other
// tests, has neither scroll nor point in time, so these requests are checked
// against what Logstash's client sends (recorded here, -update rewrites).
func TestRecordedRequests(t *testing.T) {
	for _, tc := range []struct {
		name, ver, opts string
		want            int
	}{
		{"search_after_auto", "8.15.0", `size = 2`, 5},
		{"scroll_auto", "7.17.0", `size = 2`, 5},
		{"scroll_slices", "8.15.0", `search_api = "scroll"
size = 10
slices = 2`, 5},
		{"search_after_sorted", "8.15.0", `search_api = "search_after"
query = "{\"query\":{\"range\":{\"n\":{\"gte\":1}}},\"sort\":[{\"n\":\"asc\"}]}"
size = 3
scroll = "5m"`, 5},
		{"aggregations", "8.15.0", `response_type = "aggregations"
query = "{\"aggs\":{\"hosts\":{\"terms\":{\"field\":\"host\"}}}}"`, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeES{ver: tc.ver, docs: 5}
			srv := httptest.NewServer(f)
			defer srv.Close()
			got := enginetest.Input(t, "elasticsearch", fmt.Sprintf(`hosts = [%q]
index = "logs-*"
%s`, srv.URL, tc.opts), 30*time.Second)
			if len(got) != tc.want {
				f.mu.Lock()
				t.Fatalf("%d events, want %d; requests:\n%s", len(got), tc.want, strings.Join(f.log, "\n"))
			}
			if tc.name != "aggregations" {
				seen := map[string]bool{}
				for _, e := range got {
					m, _ := e.GetString(msgRef)
					seen[m] = true
				}
				if len(seen) != tc.want {
					t.Errorf("distinct documents %v", seen)
				}
			}
			f.mu.Lock()
			text := strings.Join(f.log, "\n") + "\n"
			f.mu.Unlock()
			file := filepath.Join("testdata", "requests", tc.name+".txt")
			if *update {
				_ = os.MkdirAll(filepath.Dir(file), 0o755)
				if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			if string(want) != text {
				t.Errorf("requests:\n%s\nwant (%s):\n%s", text, file, want)
			}
		})
	}
}

// TestScheduleAndFailureEvent: with a schedule (every second here) the
// search runs again at each time until the pipeline stops; a hit whose
// docinfo cannot be merged (docinfo_target is a string field of the
// document) becomes an event holding the hit in [event][original], tagged
// _elasticsearch_input_failure, as Logstash does.
func TestScheduleAndFailureEvent(t *testing.T) {
	f := &fakeES{ver: "8.15.0", docs: 2}
	srv := httptest.NewServer(f)
	defer srv.Close()
	got := enginetest.Input(t, "elasticsearch", fmt.Sprintf(`hosts = [%q]
schedule = "* * * * * *"
docinfo = true
docinfo_target = "[msg]"`, srv.URL), 3500*time.Millisecond)
	if len(got) < 4 || len(got)%2 != 0 {
		t.Fatalf("%d events in 3.5 s of a schedule every second; want 2 per run, at least 2 runs", len(got))
	}
	for _, e := range got {
		orig, _ := e.GetString(event.MustRef("[event][original]"))
		if !e.HasTag("_elasticsearch_input_failure") || !strings.Contains(orig, `"_id":"d`) {
			t.Fatalf("event %s", e.AppendJSON(nil))
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if versions := strings.Count(strings.Join(f.log, "\n"), "GET /"); versions != 1 {
		t.Errorf("GET / sent %d times; the version is asked once", versions)
	}
}
