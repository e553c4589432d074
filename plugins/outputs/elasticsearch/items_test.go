package elasticsearch

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
)

// fakeES answers the bulk API like Elasticsearch, with per-item failures
// chosen by each document's "fate" field. This is the one test that uses a
// fake server: no real server answers partial failures on demand.
type fakeES struct {
	mu          sync.Mutex
	attempts    map[int64]int // seq → times the item reached an itemized answer
	requests    int
	wholeFailed int
	gzipped     int
	metadata    int // source lines carrying @metadata (must stay 0)
	indices     map[string]int
	actions     map[string]int
}

func newFakeES() *fakeES {
	return &fakeES{attempts: map[int64]int{}, indices: map[string]int{}, actions: map[string]int{}}
}

func (f *fakeES) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Elastic-Product", "Elasticsearch")
	w.Header().Set("Content-Type", "application/json")
	if r.Method == "GET" && r.URL.Path == "/" {
		io.WriteString(w, `{"version":{"number":"8.15.0"},"tagline":"You Know, for Search"}`)
		return
	}
	if r.Method != "POST" || r.URL.Path != "/_bulk" {
		http.Error(w, `{"error":"not found"}`, 404)
		return
	}
	var body io.Reader = r.Body
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		body = zr
		f.gzipped++
	}
	f.requests++
	if f.requests == 1 {
		// The first request fails as a whole: everything in it is retried.
		f.wholeFailed++
		w.WriteHeader(503)
		io.WriteString(w, `{"error":{"type":"unavailable","reason":"starting"},"status":503}`)
		return
	}
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	var items []string
	anyErr := false
	for sc.Scan() {
		var meta map[string]struct {
			Index string `json:"_index"`
		}
		if err := json.Unmarshal(sc.Bytes(), &meta); err != nil || len(meta) != 1 {
			http.Error(w, fmt.Sprintf("bad action line %q", sc.Text()), 400)
			return
		}
		var action, index string
		for k, v := range meta {
			action, index = k, v.Index
		}
		f.actions[action]++
		f.indices[index]++
		if !sc.Scan() {
			http.Error(w, "missing source", 400)
			return
		}
		var doc map[string]any
		if err := json.Unmarshal(sc.Bytes(), &doc); err != nil {
			http.Error(w, "bad source", 400)
			return
		}
		if _, ok := doc["@metadata"]; ok {
			f.metadata++
		}
		seq := int64(doc["seq"].(float64))
		f.attempts[seq]++
		n := f.attempts[seq]
		status, errBody := 201, ""
		switch doc["fate"] {
		case "reject":
			status, errBody = 400, `{"type":"mapper_parsing_exception","reason":"failed to parse field [n] of type [long]"}`
		case "missing":
			status, errBody = 404, `{"type":"index_not_found_exception","reason":"no such index [x]"}`
		case "busy":
			if n == 1 {
				status, errBody = 429, `{"type":"es_rejected_execution_exception","reason":"rejected execution"}`
			}
		case "boom":
			if n <= 2 {
				status, errBody = 503, `{"type":"unavailable_shards_exception","reason":"primary shard is not active"}`
			}
		case "dup":
			status, errBody = 409, `{"type":"version_conflict_engine_exception","reason":"document already exists"}`
		}
		if status >= 300 {
			anyErr = true
			items = append(items, fmt.Sprintf(`{%q:{"_index":%q,"status":%d,"error":%s}}`, action, index, status, errBody))
		} else {
			items = append(items, fmt.Sprintf(`{%q:{"_index":%q,"status":%d,"result":"created"}}`, action, index, status))
		}
	}
	fmt.Fprintf(w, `{"took":3,"errors":%v,"items":[%s]}`, anyErr, strings.Join(items, ","))
}

// TestItemLevelResults: only the items answered 429 or 5xx are sent again
// (and then delivered), 400 and 404 items and an invalid action go to the
// dead letter queue, a 409 on create counts as delivered, a whole-request
// 503 retries the request, and every count adds up.
func TestItemLevelResults(t *testing.T) {
	fake := newFakeES()
	srv := httptest.NewServer(fake)
	defer srv.Close()

	const n = 1000
	fates := []string{"ok", "ok", "ok", "ok", "ok", "reject", "missing", "busy", "boom", "dup"}
	ts := time.Date(2026, 11, 24, 23, 30, 0, 0, time.FixedZone("", -2*3600)) // 2026-11-25 in UTC
	src := &source{n: n, batch: 100, mk: func(i int) *event.Event {
		e := event.NewAt(ts)
		_ = e.Set(seqRef, int64(i))
		fate := fates[i%10]
		_ = e.Set(event.MustRef("fate"), fate)
		action := "index"
		if fate == "dup" {
			action = "create"
		}
		if i == 3 {
			action = "bogus"
		}
		_ = e.Set(event.MustRef("[@metadata][action]"), action)
		return e
	}}
	dlq := &memDLQ{}
	r := startPipeline(t, src, fmt.Sprintf(`
  hosts  = [%q]
  index  = "test-%%{+YYYY.MM.dd}"
  action = "%%{[@metadata][action]}"
`, srv.URL), engine.Settings{Workers: 2, BatchSize: 100, DeadLetter: dlq})
	r.wait(t, 30*time.Second)

	st := r.p.Stats()
	fake.mu.Lock()
	defer fake.mu.Unlock()
	want := map[string]int{"ok": 1, "reject": 1, "missing": 1, "busy": 2, "boom": 3, "dup": 1}
	for i := range int64(n) {
		fate := fates[i%10]
		w := want[fate]
		if i == 3 {
			w = 0 // never sent: the action is invalid
		}
		if got := fake.attempts[i]; got != w {
			t.Errorf("event %d (%s) reached the server %d times; want %d", i, fate, got, w)
		}
	}
	if fake.wholeFailed != 1 {
		t.Errorf("whole-request failures = %d; want 1", fake.wholeFailed)
	}
	if fake.gzipped != fake.requests {
		t.Errorf("%d of %d requests gzipped; want all (compression_level defaults to 1)", fake.gzipped, fake.requests)
	}
	if fake.metadata != 0 {
		t.Errorf("%d documents carried @metadata", fake.metadata)
	}
	if len(fake.indices) != 1 || fake.indices["test-2026.11.25"] == 0 {
		t.Errorf("indices = %v; want only test-2026.11.25 (@timestamp in UTC)", fake.indices)
	}
	if fake.actions["create"] == 0 || fake.actions["index"] == 0 || len(fake.actions) != 2 {
		t.Errorf("actions = %v; want index and create", fake.actions)
	}
	// 499 ok + 100 busy + 100 boom + 100 dup delivered; 100 reject + 100
	// missing + 1 bogus dead-lettered.
	if got := st.Out.Load(); got != 799 {
		t.Errorf("delivered %d; want 799", got)
	}
	if got := st.DeadLettered.Load(); got != 201 || dlq.len() != 201 {
		t.Errorf("dead-lettered %d (queue holds %d); want 201", got, dlq.len())
	}
	if st.Failed.Load() != 0 {
		t.Errorf("failed %d; want 0 (a dead letter queue is set)", st.Failed.Load())
	}
	if st.Out.Load()+st.DeadLettered.Load() != n || src.acked.Load() != n || src.ackErrs.Load() != 0 {
		t.Errorf("out %d + dead-lettered %d, acked %d (with errors %d); want %d acked without error",
			st.Out.Load(), st.DeadLettered.Load(), src.acked.Load(), src.ackErrs.Load(), n)
	}
	reasons := map[string]int{}
	dlq.mu.Lock()
	for i, e := range dlq.events {
		v, _ := e.Get(event.MustRef("fate"))
		seq, _ := e.Get(seqRef)
		reason := dlq.reasons[i]
		switch {
		case seq == int64(3):
			if !strings.Contains(reason, `action "bogus"`) {
				t.Errorf("event 3 reason %q; want it to name the bad action", reason)
			}
			reasons["bogus"]++
		case v == "reject" && strings.Contains(reason, "400") && strings.Contains(reason, "mapper_parsing_exception"),
			v == "missing" && strings.Contains(reason, "404") && strings.Contains(reason, "index_not_found_exception"):
			reasons[v.(string)]++
		default:
			t.Errorf("dead letter %v: %s", v, reason)
		}
		if dlq.from[i].PluginType != "elasticsearch" {
			t.Errorf("dead letter source %+v", dlq.from[i])
		}
	}
	dlq.mu.Unlock()
	if reasons["reject"] != 100 || reasons["missing"] != 100 || reasons["bogus"] != 1 {
		t.Errorf("dead letters by cause: %v", reasons)
	}
}

// TestItemLevelWithoutDLQ: without a dead letter queue the refused events are
// counted as failed and acknowledged with an error, never silently dropped.
func TestItemLevelWithoutDLQ(t *testing.T) {
	fake := newFakeES()
	srv := httptest.NewServer(fake)
	defer srv.Close()
	src := &source{n: 20, batch: 20, mk: func(i int) *event.Event {
		e := event.New()
		_ = e.Set(seqRef, int64(i))
		if i%2 == 1 {
			_ = e.Set(event.MustRef("fate"), "reject")
		}
		return e
	}}
	r := startPipeline(t, src, fmt.Sprintf("hosts = [%q]\ncompression_level = 0", srv.URL), engine.Settings{Workers: 1, BatchSize: 20})
	r.wait(t, 20*time.Second)
	st := r.p.Stats()
	if st.Out.Load() != 10 || st.Failed.Load() != 10 {
		t.Errorf("out %d failed %d; want 10 and 10", st.Out.Load(), st.Failed.Load())
	}
	if src.ackErrs.Load() != 1 || src.acked.Load() != 20 {
		t.Errorf("acked %d, with error %d batches; want 20 acked, the batch with an error", src.acked.Load(), src.ackErrs.Load())
	}
	if !strings.Contains(r.log.String(), "mapper_parsing_exception") {
		t.Errorf("the log does not say why events failed:\n%s", r.log)
	}
}
