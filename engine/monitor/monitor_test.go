package monitor

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/dlq"
	"github.com/pipelined/pipeline/engine/event"
)

var update = flag.Bool("update", false, "rewrite testdata/metrics.txt")

// fixed is a pipeline whose counters are given (a fake for the formatting
// tests; the CLI test in main_test.go checks a real pipeline's counts).
type fixed struct {
	mu sync.Mutex
	s  engine.Snapshot
}

func (f *fixed) Snapshot() engine.Snapshot {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.s
}

func sample() *fixed {
	return &fixed{s: engine.Snapshot{
		Name: "main", Workers: 2, BatchSize: 125, BatchDelay: 50 * time.Millisecond,
		In: 1000, Filtered: 990, Out: 985, Dropped: 10, Failed: 2, DeadLettered: 3, Retries: 4,
		Duration: 1500 * time.Millisecond, QueuePush: 20 * time.Millisecond, QueueEvents: 7,
		Inputs:  []engine.PluginSnapshot{{ID: "in", Type: "generator", Out: 1000, Duration: 15 * time.Millisecond}},
		Filters: []engine.PluginSnapshot{{ID: "parse", Type: "grok", In: 1000, Out: 990, Dropped: 10, Duration: 900 * time.Millisecond}},
		Outputs: []engine.PluginSnapshot{{ID: `es"1`, Type: "elasticsearch", In: 990, Out: 985, Failed: 2, DeadLettered: 3, Duration: 2 * time.Second}},
	}}
}

func get(t *testing.T, h http.Handler, path string, auth ...string) (int, []byte) {
	t.Helper()
	r := httptest.NewRequest("GET", path, nil)
	if len(auth) == 2 {
		r.SetBasicAuth(auth[0], auth[1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Code, w.Body.Bytes()
}

func withDLQ(t *testing.T) *dlq.Writer {
	t.Helper()
	w, err := dlq.Open(dlq.Options{Dir: t.TempDir(), MaxBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	if err := w.Put(event.NewMessage("x"), engine.DeadLetterSource{Pipeline: "main"}, "r"); err != nil {
		t.Fatal(err)
	}
	return w
}

func TestPipelinesStatsShape(t *testing.T) {
	d := withDLQ(t)
	s := New(Options{Version: "1.2.3"}, func() []Source { return []Source{{Pipeline: sample(), DLQ: d}} })
	code, body := get(t, s.Handler(), "/_node/stats/pipelines")
	if code != 200 {
		t.Fatalf("status %d: %s", code, body)
	}
	var got struct {
		Version   string `json:"version"`
		Pipelines map[string]struct {
			Events  map[string]int64 `json:"events"`
			Plugins map[string][]struct {
				ID     string           `json:"id"`
				Name   string           `json:"name"`
				Events map[string]int64 `json:"events"`
			} `json:"plugins"`
			Queue   map[string]any `json:"queue"`
			Reloads map[string]any `json:"reloads"`
			DLQ     map[string]any `json:"dead_letter_queue"`
		} `json:"pipelines"`
	}
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	p, ok := got.Pipelines["main"]
	if !ok || got.Version != "1.2.3" {
		t.Fatalf("no pipeline main or wrong version in %s", body)
	}
	wantEvents := map[string]int64{"in": 1000, "filtered": 990, "out": 985, "duration_in_millis": 1500,
		"queue_push_duration_in_millis": 20, "dropped": 10, "unrouted": 0, "failed": 2, "dead_lettered": 3}
	for k, v := range wantEvents {
		if p.Events[k] != v {
			t.Errorf("events.%s = %d; want %d", k, p.Events[k], v)
		}
	}
	if in := p.Plugins["inputs"]; len(in) != 1 || in[0].ID != "in" || in[0].Name != "generator" || in[0].Events["out"] != 1000 || in[0].Events["queue_push_duration_in_millis"] != 15 {
		t.Errorf("inputs = %+v", in)
	}
	if f := p.Plugins["filters"]; len(f) != 1 || f[0].Events["in"] != 1000 || f[0].Events["out"] != 990 || f[0].Events["duration_in_millis"] != 900 {
		t.Errorf("filters = %+v", f)
	}
	if o := p.Plugins["outputs"]; len(o) != 1 || o[0].ID != `es"1` || o[0].Events["out"] != 985 || o[0].Events["duration_in_millis"] != 2000 {
		t.Errorf("outputs = %+v", o)
	}
	if p.Queue["type"] != "memory" || p.Queue["events_count"] != float64(7) {
		t.Errorf("queue = %v", p.Queue)
	}
	if p.Reloads["successes"] != float64(0) || p.Reloads["failures"] != float64(0) {
		t.Errorf("reloads = %v", p.Reloads)
	}
	st := d.Stats()
	if p.DLQ["queue_size_in_bytes"] != float64(st.SizeBytes) || st.SizeBytes == 0 || p.DLQ["max_queue_size_in_bytes"] != float64(1<<20) ||
		p.DLQ["storage_policy"] != "drop_newer" || p.DLQ["dropped_events"] != float64(0) {
		t.Errorf("dead_letter_queue = %v; want %+v", p.DLQ, st)
	}

	// One pipeline, the node stats, node info, events.
	for path, want := range map[string]string{
		"/_node/stats/pipelines/main": `"main":{`,
		"/_node/stats":                `"pipelines":{"main"`,
		"/":                           `"status":"green"`,
		"/_node/stats/events":         `"events":{"duration_in_millis":1500,"filtered":990,"in":1000,"out":985,"queue_push_duration_in_millis":20}`,
		"/_node/pipelines":            `"pipelines":{"main":{"batch_delay":50,"batch_size":125,"config_reload_automatic":false,"dead_letter_queue_enabled":true,"dead_letter_queue_path":"` + d.Dir() + `","workers":2}}`,
		"/_node/pipelines/main":       `"workers":2`,
	} {
		code, body := get(t, s.Handler(), path)
		if code != 200 || !bytes.Contains(body, []byte(want)) {
			t.Errorf("GET %s = %d %s; want it to contain %s", path, code, body, want)
		}
	}
	if code, _ := get(t, s.Handler(), "/_node/pipelines/nope"); code != 404 {
		t.Errorf("unknown pipeline settings: status %d; want 404", code)
	}
	if code, body := get(t, s.Handler(), "/_node/stats/pipelines/nope"); code != 404 || !bytes.Contains(body, []byte(`no pipeline with id \"nope\"`)) {
		t.Errorf("unknown pipeline: %d %s", code, body)
	}
}

func TestMetricsText(t *testing.T) {
	d := withDLQ(t)
	s := New(Options{}, func() []Source { return []Source{{Pipeline: sample(), DLQ: d}} })
	code, body := get(t, s.Handler(), "/metrics")
	if code != 200 {
		t.Fatalf("status %d", code)
	}
	// The DLQ size depends on the host name in no way, but on the record's
	// timestamp length; normalise it.
	body = []byte(strings.Replace(string(body), "pipeline_dead_letter_queue_size_bytes{pipeline=\"main\"} "+strconv.FormatInt(d.Stats().SizeBytes, 10),
		"pipeline_dead_letter_queue_size_bytes{pipeline=\"main\"} SIZE", 1))
	golden := filepath.Join("testdata", "metrics.txt")
	if *update {
		os.WriteFile(golden, body, 0o644)
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if string(body) != string(want) {
		t.Errorf("metrics differ from %s (run with -update to accept)\n--- got:\n%s", golden, body)
	}
	// Every sample line is name{labels} value, and every family has HELP and TYPE.
	families := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(string(body)), "\n") {
		if strings.HasPrefix(line, "# TYPE ") {
			families[strings.Fields(line)[2]] = true
			continue
		}
		if strings.HasPrefix(line, "#") {
			continue
		}
		name := line[:strings.IndexAny(line, "{ ")]
		if !families[name] {
			t.Errorf("sample %q before its TYPE line", line)
		}
	}
}

func TestBasicAuth(t *testing.T) {
	s := New(Options{Username: "ops", Password: "s3cret"}, func() []Source { return []Source{{Pipeline: sample()}} })
	for _, tc := range []struct {
		auth []string
		want int
	}{{nil, 401}, {[]string{"ops", "wrong"}, 401}, {[]string{"op", "s3cret"}, 401}, {[]string{"ops", "s3cret"}, 200}} {
		if code, _ := get(t, s.Handler(), "/metrics", tc.auth...); code != tc.want {
			t.Errorf("auth %v: status %d; want %d", tc.auth, code, tc.want)
		}
	}
}

// Listen takes the first free port of the range, over loopback.
func TestListenFirstFreePort(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	port := busy.Addr().(*net.TCPAddr).Port
	if port == 65535 {
		t.Skip("no port after the busy one")
	}
	s := New(Options{Port: strconv.Itoa(port) + "-" + strconv.Itoa(min(port+20, 65535))}, func() []Source { return []Source{{Pipeline: sample()}} })
	addr, err := s.Listen()
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve()
	defer s.Close()
	if got := addr.(*net.TCPAddr).Port; got <= port {
		t.Errorf("listened on %d; want a port after the busy %d", got, port)
	}
	resp, err := http.Get("http://" + addr.String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Contains(b, []byte(`"http_address":"`+addr.String()+`"`)) {
		t.Errorf("node info %s lacks http_address %s", b, addr)
	}
	// A single busy port is an error.
	s2 := New(Options{Port: strconv.Itoa(port)}, nil)
	if _, err := s2.Listen(); err == nil {
		t.Error("Listen on a busy port succeeded")
	}
	for _, bad := range []string{"x", "9700-9600", "70000", ""} {
		if _, _, err := ParsePortRange(bad); err == nil {
			t.Errorf("ParsePortRange(%q) succeeded", bad)
		}
	}
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func TestLogStatus(t *testing.T) {
	p := sample()
	var buf syncBuf
	log := slog.New(slog.NewTextHandler(&buf, nil))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		LogStatus(ctx, 20*time.Millisecond, log, func() []Source { return []Source{{Pipeline: p}} })
		close(done)
	}()
	// Events keep coming in; some status line after the first must show a
	// rate (the first one's rate covers the events since the start).
	rated := regexp.MustCompile(`msg=status .*in_per_sec=[1-9]`)
	deadline := time.Now().Add(5 * time.Second)
	var line string
	for time.Now().Before(deadline) && line == "" {
		p.mu.Lock()
		p.s.In += 100
		p.mu.Unlock()
		time.Sleep(5 * time.Millisecond)
		lines := strings.Split(buf.String(), "\n")
		for _, l := range lines[1:] {
			if rated.MatchString(l) {
				line = l
			}
		}
	}
	cancel()
	<-done
	if line == "" {
		t.Fatalf("no status line with an input rate:\n%s", buf.String())
	}
	for _, want := range []string{"pipeline=main", "out_per_sec=0", "queue=7", "dropped=10", "failed=2"} {
		if !strings.Contains(line, want) {
			t.Errorf("status line %q lacks %s", line, want)
		}
	}
}

// TestReloadCounts: the per-pipeline and process reload counts, the last
// error and config_reload_automatic are reported as counted.
func TestReloadCounts(t *testing.T) {
	var node, main Reloads
	main.Succeeded()
	main.Failed("a.conf:3:1: error: Unknown plugin")
	main.Failed("a.conf:4:1: error: Unknown plugin")
	node.Succeeded()
	node.Failed("x")
	s := New(Options{Reloads: &node, ReloadAutomatic: true}, func() []Source { return []Source{{Pipeline: sample(), Reloads: &main}} })
	_, body := get(t, s.Handler(), "/_node/stats/pipelines/main")
	var got struct {
		Pipelines map[string]struct {
			Reloads struct {
				Successes, Failures int64
				LastError           struct{ Message string } `json:"last_error"`
				LastSuccess         *string                  `json:"last_success_timestamp"`
				LastFailure         *string                  `json:"last_failure_timestamp"`
			} `json:"reloads"`
		} `json:"pipelines"`
	}
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	r := got.Pipelines["main"].Reloads
	if r.Successes != 1 || r.Failures != 2 || r.LastError.Message != "a.conf:4:1: error: Unknown plugin" || r.LastSuccess == nil || r.LastFailure == nil {
		t.Errorf("reloads = %+v in %s", r, body)
	}
	_, body = get(t, s.Handler(), "/_node/stats")
	if !bytes.Contains(body, []byte(`"reloads":{"failures":1,"successes":1}`)) {
		t.Errorf("node reloads missing: %s", body)
	}
	_, body = get(t, s.Handler(), "/_node/pipelines/main")
	if !bytes.Contains(body, []byte(`"config_reload_automatic":true`)) {
		t.Errorf("config_reload_automatic missing: %s", body)
	}
	_, body = get(t, s.Handler(), "/metrics")
	for _, want := range []string{`pipeline_reloads_successes_total{pipeline="main"} 1`, `pipeline_reloads_failures_total{pipeline="main"} 2`} {
		if !bytes.Contains(body, []byte(want+"\n")) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

// A pipeline whose output stalls turns the node red, /_health_report says why
// in Logstash's shape, the output's delivery state is in its stats, and the
// status line becomes a WARN naming the reason (#23).
func TestHealthReportAndStalledStatus(t *testing.T) {
	stalled := sample()
	stalled.s.Health = engine.Health{Status: engine.HealthRed, Reasons: []string{"output elasticsearch (id es) stalled: failing for 45s"}}
	stalled.s.Outputs[0].FailingFor = 45 * time.Second
	stalled.s.Outputs[0].InFlight = 250
	stalled.s.Outputs[0].LastError = "connection refused"
	healthy := sample()
	healthy.s.Name = "other"
	healthy.s.Health = engine.Health{Status: engine.HealthGreen}
	srv := New(Options{}, func() []Source { return []Source{{Pipeline: stalled}, {Pipeline: healthy}} })

	if code, body := get(t, srv.Handler(), "/"); code != 200 || !bytes.Contains(body, []byte(`"status":"red"`)) {
		t.Errorf("GET / = %d %s; want status red", code, body)
	}
	code, body := get(t, srv.Handler(), "/_health_report")
	var rep struct {
		Status     string `json:"status"`
		Indicators struct {
			Pipelines struct {
				Status     string `json:"status"`
				Indicators map[string]struct {
					Status    string `json:"status"`
					Symptom   string `json:"symptom"`
					Diagnosis []struct {
						Cause string `json:"cause"`
					} `json:"diagnosis"`
				} `json:"indicators"`
			} `json:"pipelines"`
		} `json:"indicators"`
	}
	if err := json.Unmarshal(body, &rep); code != 200 || err != nil {
		t.Fatalf("GET /_health_report = %d %s (%v)", code, body, err)
	}
	main, other := rep.Indicators.Pipelines.Indicators["main"], rep.Indicators.Pipelines.Indicators["other"]
	if rep.Status != "red" || rep.Indicators.Pipelines.Status != "red" || main.Status != "red" ||
		!strings.Contains(main.Symptom, "(id es) stalled") || len(main.Diagnosis) != 1 || other.Status != "green" {
		t.Errorf("health report %s", body)
	}
	_, body = get(t, srv.Handler(), "/_node/stats/pipelines/main")
	for _, want := range []string{`"health":{"reasons":["output elasticsearch (id es) stalled: failing for 45s"],"status":"red"}`,
		`"delivery":{"batch_age_millis":0,"failing_for_millis":45000,"in_flight":250,"last_error":"connection refused"}`} {
		if !bytes.Contains(body, []byte(want)) {
			t.Errorf("pipeline stats %s lack %s", body, want)
		}
	}

	var buf syncBuf
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		LogStatus(ctx, 10*time.Millisecond, slog.New(slog.NewTextHandler(&buf, nil)), func() []Source { return []Source{{Pipeline: stalled}} })
		close(done)
	}()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) && !strings.Contains(buf.String(), "msg=status") {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done
	line := strings.SplitN(buf.String(), "\n", 2)[0]
	for _, want := range []string{"level=WARN", "health=red", "(id es) stalled", `1: 250 in flight, failing for 45s`} {
		if !strings.Contains(line, want) {
			t.Errorf("status line %q lacks %s", line, want)
		}
	}
}

// TestStatusPageFields checks what the status page reads beyond Logstash's
// shape: each plugin's rate_history (sampled by the server: here at every
// request), the interval and a filter's failure_examples. (The beats
// input's agents are its Details, tested with it.)
func TestStatusPageFields(t *testing.T) {
	f := sample()
	f.s.Filters[0].FailureExamples = []engine.FailureExample{{Time: time.Unix(1700000000, 0), Tag: "_grokparsefailure", Event: []byte(`{"message":"not matching"}`)}}
	f.s.QueueOldestAge = 1500 * time.Millisecond
	s := New(Options{HistoryInterval: time.Nanosecond}, func() []Source { return []Source{{Pipeline: f}} })
	var body []byte
	for i := 0; i < 4; i++ {
		f.mu.Lock()
		f.s.Inputs[0].Out += 100
		f.s.Filters[0].In += 100
		f.mu.Unlock()
		time.Sleep(time.Millisecond) // samples need distinct times
		var code int
		code, body = get(t, s.Handler(), "/_node/stats/pipelines")
		if code != 200 {
			t.Fatalf("status %d", code)
		}
	}
	var got struct {
		Pipelines map[string]struct {
			Every   int64          `json:"rate_history_interval_millis"`
			Queue   map[string]any `json:"queue"`
			Plugins map[string][]struct {
				ID          string    `json:"id"`
				RateHistory []float64 `json:"rate_history"`
				Examples    []struct {
					Time, Tag string
					Event     map[string]any
				} `json:"failure_examples"`
			} `json:"plugins"`
		} `json:"pipelines"`
	}
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	p := got.Pipelines["main"]
	if age, ok := p.Queue["oldest_age_in_millis"]; !ok || age != float64(1500) {
		t.Errorf("queue.oldest_age_in_millis = %v (present %v), want 1500", age, ok)
	}
	if p.Every != 0 { // 1 ns in milliseconds
		t.Errorf("rate_history_interval_millis = %d", p.Every)
	}
	in, filter, out := p.Plugins["inputs"][0], p.Plugins["filters"][0], p.Plugins["outputs"][0]
	for _, x := range [][]float64{in.RateHistory, filter.RateHistory} {
		if len(x) != 3 {
			t.Errorf("rate_history %v, want 3 rates (4 samples)", x)
		}
		for _, r := range x {
			if r <= 0 {
				t.Errorf("rate_history %v: a rate is not positive", x)
			}
		}
	}
	if len(out.RateHistory) != 3 || out.RateHistory[0] != 0 {
		t.Errorf("output rate_history %v, want 3 zeros", out.RateHistory)
	}
	if len(filter.Examples) != 1 || filter.Examples[0].Tag != "_grokparsefailure" || filter.Examples[0].Event["message"] != "not matching" ||
		filter.Examples[0].Time != "2023-11-14T22:13:20Z" {
		t.Errorf("failure_examples = %+v", filter.Examples)
	}
}

// TestRateHistoryRing: the ring keeps the last historyLen rates.
func TestRateHistoryRing(t *testing.T) {
	var x series
	t0 := time.Unix(0, 0)
	for i := 0; i < 3*historyLen; i++ {
		x.add(t0.Add(time.Duration(i)*time.Second), int64(i*i))
	}
	r := x.rates()
	if len(r) != historyLen {
		t.Fatalf("%d rates, want %d", len(r), historyLen)
	}
	// Between samples i-1 and i: i² - (i-1)² = 2i-1 events in a second.
	if last := r[len(r)-1]; last != float64(2*(3*historyLen-1)-1) {
		t.Errorf("last rate %v", last)
	}
}

// TestTapBudget: at most maxTaps tap streams are attached at once; one
// more is refused with 429 until one ends.
func TestTapBudget(t *testing.T) {
	s := New(Options{}, func() []Source { return nil })
	ts := httptest.NewServer(s.Handler())
	defer ts.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	get := func(ctx context.Context) *http.Response {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, "GET", ts.URL+"/_node/tap?dropped=true", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	var held []*http.Response
	for range maxTaps {
		resp := get(ctx)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("tap %d: status %d", len(held)+1, resp.StatusCode)
		}
		held = append(held, resp)
	}
	resp := get(context.Background())
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("tap %d: status %d; want 429", maxTaps+1, resp.StatusCode)
	}
	cancel() // ends the held streams
	for _, r := range held {
		r.Body.Close()
	}
	deadline := time.Now().Add(10 * time.Second)
	for s.taps.Load() > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := s.taps.Load(); n != 0 {
		t.Fatalf("%d taps still counted after their clients left", n)
	}
}
