package monitor

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
)

// TestPollerRequests replays, over HTTP, the requests Metricbeat's and
// Telegraf's Logstash modules make (testdata/poller_requests.txt): each
// answers 200 with JSON holding the keys their parsers read.
func TestPollerRequests(t *testing.T) {
	s := New(Options{Version: "1.2.3"}, func() []Source { return []Source{{Pipeline: sample()}} })
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	f, err := os.Open("testdata/poller_requests.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		path, keys, _ := strings.Cut(line, "\t")
		code, doc := fetchJSON(t, srv.URL+path)
		if code != 200 {
			t.Errorf("GET %s: %d", path, code)
			continue
		}
		for _, k := range strings.Fields(keys) {
			if _, ok := lookup(doc, k); !ok {
				t.Errorf("GET %s: no %s in the answer", path, k)
			}
		}
	}
	// Other paths: a JSON 404, not Go's text one.
	for _, path := range []string{"/_node/stats/nope", "/_nope", "/_node/stats/host"} {
		code, doc := fetchJSON(t, srv.URL+path)
		if code != 404 || doc["status"] != float64(404) {
			t.Errorf("GET %s: %d %v; want a JSON 404", path, code, doc)
		}
	}
	// Plausible values: a heap in use, this process's open files.
	_, doc := fetchJSON(t, srv.URL+"/_node/stats/jvm")
	if v, _ := lookup(doc, "jvm.mem.heap_used_in_bytes"); v.(float64) <= 0 {
		t.Errorf("heap_used_in_bytes = %v", v)
	}
	_, doc = fetchJSON(t, srv.URL+"/_node/stats/process")
	if v, ok := lookup(doc, "process.open_file_descriptors"); ok && v.(float64) < 3 {
		t.Errorf("open_file_descriptors = %v", v)
	}
	if _, ok := doc["jvm"]; ok {
		t.Error("/_node/stats/process holds the jvm section too")
	}
}

func fetchJSON(t *testing.T, url string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Errorf("GET %s: not JSON: %q", url, b)
	}
	return resp.StatusCode, doc
}

// lookup follows a dotted path; "1m" and the like are keys, not indexes.
func lookup(doc map[string]any, path string) (any, bool) {
	var v any = doc
	for _, k := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = m[k]; !ok {
			return nil, false
		}
	}
	return v, true
}
