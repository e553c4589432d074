// Package monitor serves the monitoring API of Logstash's :9600 port for our
// pipelines, and logs a periodic status line.
//
// Endpoints (GET only):
//
//	/                              node info: id, name, host, version, http_address, status
//	/_node                         node info with the jvm and os sections
//	/_node/stats                   node info, events of all pipelines, every pipeline, jvm, process, os
//	/_node/stats/<section>         one section: jvm, process, os, events, reloads, queue
//	/_node/stats/pipelines         every pipeline, in Logstash's shape
//	/_node/stats/pipelines/<id>    one pipeline
//	/_node/stats/events            events of all pipelines
//	/_node/pipelines[/<id>]        each pipeline's settings
//	/_health_report                green/yellow/red per pipeline with the reasons, as Logstash's
//	/metrics                       the same counters in Prometheus text format
//
// The JSON follows Logstash's shape (pipelines.<id>.events, plugins.inputs/
// filters/outputs[].events, queue, reloads, dead_letter_queue) with a few extra
// keys Logstash lacks (events.dropped, unrouted, failed, filter_failed,
// dead_lettered; a filter's failed and failure_tags).
// The jvm section maps Go's runtime figures onto the JVM's names (see
// process.go). Queries of a pipeline id or path that does not exist answer a
// JSON 404. With a user name
// set, every request needs HTTP basic authentication.
package monitor

import (
	"cmp"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pipelined/pipeline/dsl/ir"
	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/dlq"
)

// Source is one pipeline to report, with its dead letter queue if it has one
// and its reload counts (which outlive each generation of the pipeline).
type Source struct {
	Pipeline interface{ Snapshot() engine.Snapshot }
	DLQ      *dlq.Writer
	Reloads  *Reloads
}

// Options configure the API server.
type Options struct {
	// Host is the address to listen on (api.http.host, default 127.0.0.1).
	Host string
	// Port is a port or a range "9600-9700" (api.http.port): the first free
	// port of the range is taken, as Logstash does.
	Port string
	// Username and Password turn on basic authentication (api.auth.type basic).
	Username, Password string
	Version            string
	Logger             *slog.Logger
	// Reloads are the process's reload counts (/_node/stats "reloads"), and
	// ReloadAutomatic says whether --config.reload.automatic is on.
	Reloads         *Reloads
	ReloadAutomatic bool
	// HistoryInterval is how often each plugin's event count is sampled for
	// the rate history the status page draws (default
	// DefaultHistoryInterval; the last 60 samples are kept).
	HistoryInterval time.Duration
}

// Server is the monitoring API.
type Server struct {
	o       Options
	sources func() []Source
	id      string
	name    string
	started time.Time
	cpu     cpuSampler // process.cpu.percent between requests
	srv     *http.Server
	ln      net.Listener
	hist    history
	taps    atomic.Int64 // tap streams attached (serveTap)
	stop    chan struct{}
	once    sync.Once
}

// New builds a server reporting the pipelines that sources returns at each
// request (so a reload can swap them).
func New(o Options, sources func() []Source) *Server {
	if o.Host == "" {
		o.Host = "127.0.0.1"
	}
	if o.Port == "" {
		o.Port = "9600-9700"
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	host, err := os.Hostname()
	if err != nil {
		host = "localhost"
	}
	var b [16]byte
	_, _ = rand.Read(b[:])
	if o.HistoryInterval <= 0 {
		o.HistoryInterval = DefaultHistoryInterval
	}
	s := &Server{o: o, sources: sources, id: hex.EncodeToString(b[:]), name: host, started: time.Now(),
		hist: history{every: o.HistoryInterval}, stop: make(chan struct{})}
	s.srv = &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: 60 * time.Second, MaxHeaderBytes: 64 << 10}
	return s
}

// ParsePortRange reads "9600" or "9600-9700".
var ParsePortRange = ir.ParsePortRange

// Listen binds the first free port of the range and returns the address.
func (s *Server) Listen() (net.Addr, error) {
	lo, hi, err := ParsePortRange(s.o.Port)
	if err != nil {
		return nil, err
	}
	var errs []error
	for port := lo; port <= hi; port++ {
		ln, err := net.Listen("tcp", net.JoinHostPort(s.o.Host, strconv.Itoa(port)))
		if err == nil {
			s.ln = ln
			return ln.Addr(), nil
		}
		errs = append(errs, err)
		if len(errs) > 3 {
			errs = errs[len(errs)-1:]
		}
	}
	return nil, fmt.Errorf("monitoring API: no free port in %s on %s: %w", s.o.Port, s.o.Host, errors.Join(errs...))
}

// Serve answers requests until Close; call Listen first.
func (s *Server) Serve() error {
	go s.sampleLoop(s.stop)
	err := s.srv.Serve(s.ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Close stops the server.
func (s *Server) Close() error {
	s.once.Do(func() { close(s.stop) })
	return s.srv.Close()
}

func (s *Server) address() string {
	if s.ln != nil {
		return s.ln.Addr().String()
	}
	return net.JoinHostPort(s.o.Host, s.o.Port)
}

// Handler returns the API's HTTP handler.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, r, s.nodeInfo(s.snapshots()))
	})
	mux.HandleFunc("GET /_node/stats", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, r, s.nodeStats())
	})
	// One section of /_node/stats (jvm, process, os, reloads, queue, …),
	// with the node info, as Logstash answers it.
	mux.HandleFunc("GET /_node/stats/{section}", func(w http.ResponseWriter, r *http.Request) {
		m := s.nodeStats()
		sec := r.PathValue("section")
		v, ok := m[sec]
		if _, info := s.nodeInfo(nil)[sec]; !ok || info {
			jsonNotFound(w, r, fmt.Sprintf("no section %q in /_node/stats", sec))
			return
		}
		out := s.nodeInfo(s.snapshots())
		out[sec] = v
		writeJSON(w, r, out)
	})
	// /_node: the node info with its jvm and os sections (Metricbeat's node
	// metricset).
	mux.HandleFunc("GET /_node", func(w http.ResponseWriter, r *http.Request) {
		m := s.nodeInfo(s.snapshots())
		m["jvm"] = s.jvmStats()
		m["os"] = osStats()
		writeJSON(w, r, m)
	})
	// Every other path: a JSON 404, as Logstash's API, not Go's text one.
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		jsonNotFound(w, r, "no such endpoint")
	})
	mux.HandleFunc("GET /_health_report", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, r, s.healthReport())
	})
	mux.HandleFunc("GET /_node/stats/events", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, r, map[string]any{"events": totalEvents(s.snapshots())})
	})
	mux.HandleFunc("GET /_node/stats/pipelines", func(w http.ResponseWriter, r *http.Request) {
		snaps := s.snapshots()
		m := s.nodeInfo(snaps)
		m["pipelines"] = pipelinesJSON(snaps)
		writeJSON(w, r, m)
	})
	mux.HandleFunc("GET /_node/stats/pipelines/{id}", func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		snaps := s.snapshots()
		for _, p := range snaps {
			if p.snap.Name == id {
				m := s.nodeInfo(snaps)
				m["pipelines"] = map[string]any{id: pipelineJSON(p)}
				writeJSON(w, r, m)
				return
			}
		}
		notFound(w, r, id)
	})
	nodePipelines := func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		snaps := s.snapshots()
		m := s.nodeInfo(snaps)
		ps := map[string]any{}
		for _, p := range snaps {
			if id != "" && p.snap.Name != id {
				continue
			}
			var path any
			if p.dlqDir != "" {
				path = p.dlqDir
			}
			ps[p.snap.Name] = map[string]any{
				"workers": p.snap.Workers, "batch_size": p.snap.BatchSize, "batch_delay": p.snap.BatchDelay.Milliseconds(),
				"config_reload_automatic": s.o.ReloadAutomatic, "dead_letter_queue_enabled": p.snap.DeadLetterQueue || p.dlq != nil,
				"dead_letter_queue_path": path,
			}
		}
		if id != "" && len(ps) == 0 {
			notFound(w, r, id)
			return
		}
		m["pipelines"] = ps
		writeJSON(w, r, m)
	}
	mux.HandleFunc("GET /_node/pipelines", nodePipelines)
	mux.HandleFunc("GET /_node/pipelines/{id}", nodePipelines)
	// Not in Logstash: sampled events entering or leaving plugins, as JSON
	// lines (pipeline tap).
	mux.HandleFunc("GET /_node/tap", s.serveTap)
	// Not in Logstash: the status page (statuspage.go).
	mux.Handle("GET /status/", statusPage())
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/status/", http.StatusMovedPermanently)
	})
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		_, _ = w.Write(appendMetrics(nil, s.snapshots()))
	})
	if s.o.Username == "" {
		return mux
	}
	user, pass := []byte(s.o.Username), []byte(s.o.Password)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		// Both compared in constant time, always, so timing tells nothing.
		uok := subtle.ConstantTimeCompare([]byte(u), user)
		pok := subtle.ConstantTimeCompare([]byte(p), pass)
		if !ok || uok&pok != 1 {
			w.Header().Set("WWW-Authenticate", `Basic realm="pipeline monitoring API"`)
			http.Error(w, "authentication required", http.StatusUnauthorized)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// snap is a pipeline snapshot with its dead letter queue figures.
type snap struct {
	// rates is each plugin's rate history (kind, NUL, id), sampled every
	// rateEvery.
	rates     map[string][]float64
	rateEvery time.Duration
	snap      engine.Snapshot
	dlq       *dlq.Stats
	dlqDir    string
	reloads   ReloadStats
}

func (s *Server) snapshots() []snap {
	src := s.sources()
	out := make([]snap, 0, len(src))
	for _, x := range src {
		sn := snap{snap: x.Pipeline.Snapshot(), reloads: x.Reloads.Stats()}
		if x.DLQ != nil {
			st := x.DLQ.Stats()
			sn.dlq, sn.dlqDir = &st, x.DLQ.Dir()
		}
		out = append(out, sn)
	}
	s.hist.observe(time.Now(), out)
	return out
}

func (s *Server) nodeInfo(snaps []snap) map[string]any {
	m := map[string]any{
		"host": s.name, "name": s.name, "id": s.id, "ephemeral_id": s.id,
		"version": s.o.Version, "http_address": s.address(), "status": worstHealth(snaps), "snapshot": false,
	}
	if len(snaps) > 0 {
		p := snaps[0].snap
		m["pipeline"] = map[string]any{"workers": p.Workers, "batch_size": p.BatchSize,
			"batch_delay": p.BatchDelay.Milliseconds()}
	}
	return m
}

func totalEvents(snaps []snap) map[string]any {
	var in, filtered, out, dur, push int64
	for _, p := range snaps {
		in += p.snap.In
		filtered += p.snap.Filtered
		out += p.snap.Out
		dur += p.snap.Duration.Milliseconds()
		push += p.snap.QueuePush.Milliseconds()
	}
	return map[string]any{"in": in, "filtered": filtered, "out": out,
		"duration_in_millis": dur, "queue_push_duration_in_millis": push}
}

func pipelinesJSON(snaps []snap) map[string]any {
	m := make(map[string]any, len(snaps))
	for _, p := range snaps {
		m[p.snap.Name] = pipelineJSON(p)
	}
	return m
}

func pipelineJSON(p snap) map[string]any {
	s := p.snap
	plugin := func(ps engine.PluginSnapshot, events map[string]any) map[string]any {
		for _, c := range ps.Counters {
			events[c.Name] = c.Value
		}
		m := map[string]any{"id": ps.ID, "name": ps.Type, "events": events}
		for k, v := range ps.Details {
			if _, taken := m[k]; !taken && k != "delivery" && k != "failure_tags" {
				m[k] = v
			}
		}
		return m
	}
	// Not in Logstash: events per second between the samples of the last
	// minutes, oldest first (the status page's sparklines).
	withRates := func(kind string, m map[string]any) map[string]any {
		r := p.rates[kind+"\x00"+m["id"].(string)]
		if r == nil {
			r = []float64{}
		}
		m["rate_history"] = r
		return m
	}
	inputs := make([]any, 0, len(s.Inputs))
	for _, x := range s.Inputs {
		inputs = append(inputs, withRates("input", plugin(x, map[string]any{"out": x.Out, "queue_push_duration_in_millis": x.Duration.Milliseconds()})))
	}
	filters := make([]any, 0, len(s.Filters))
	for _, x := range s.Filters {
		f := plugin(x, map[string]any{"in": x.In, "out": x.Out,
			"duration_in_millis": x.Duration.Milliseconds(), "dropped": x.Dropped, "failed": x.Failed})
		// Not in Logstash: the events it failed on by the tag they got.
		f["failure_tags"] = failureTags(x.FailureTags)
		// Not in Logstash: the last events it failed on (at most one a
		// second), e.g. the lines grok did not match.
		f["failure_examples"] = failureExamplesJSON(x.FailureExamples)
		withRates("filter", f)
		// Not in Logstash: true when duration_in_millis was extrapolated from
		// sampled calls (a filter cheaper than 2 µs a call), false when every
		// call was timed.
		f["duration_estimated"] = x.DurationEstimated
		filters = append(filters, f)
	}
	outputs := make([]any, 0, len(s.Outputs))
	for _, x := range s.Outputs {
		o := plugin(x, map[string]any{"in": x.In, "out": x.Out,
			"duration_in_millis": x.Duration.Milliseconds(), "failed": x.Failed, "dead_lettered": x.DeadLettered})
		// Not in Logstash (its outputs run inside the worker): what a stall
		// looks like from outside.
		var lastErr any
		if x.LastError != "" {
			lastErr = x.LastError
		}
		o["delivery"] = map[string]any{"in_flight": x.InFlight, "failing_for_millis": x.FailingFor.Milliseconds(),
			"batch_age_millis": x.BatchAge.Milliseconds(), "last_error": lastErr}
		outputs = append(outputs, withRates("output", o))
	}
	m := map[string]any{
		"events": map[string]any{
			"in": s.In, "filtered": s.Filtered, "out": s.Out,
			"duration_in_millis":            s.Duration.Milliseconds(),
			"queue_push_duration_in_millis": s.QueuePush.Milliseconds(),
			"dropped":                       s.Dropped, "unrouted": s.Unrouted, "failed": s.Failed,
			"filter_failed": s.FilterFailed,
			"dead_lettered": s.DeadLettered,
		},
		// Not in Logstash: events.unrouted by the condition chain of the
		// output section they went through (beside events, whose values
		// stay numbers for Logstash's clients).
		"unrouted_by_conditions": nonNilCounts(s.UnroutedChains),
		"plugins":                map[string]any{"inputs": inputs, "codecs": []any{}, "filters": filters, "outputs": outputs},
		"reloads":                p.reloads.json(),
		"panics_recovered":       s.Panics,
		// Not in Logstash: the interval of the plugins' rate_history.
		"rate_history_interval_millis": p.rateEvery.Milliseconds(),
		"health":                       map[string]any{"status": s.Health.Status, "reasons": nonNil(s.Health.Reasons)},
		"queue": map[string]any{"type": cmp.Or(s.QueueType, "memory"), "events_count": s.QueueEvents,
			"queue_size_in_bytes": s.QueueBytes, "max_queue_size_in_bytes": s.QueueMaxBytes,
			"write_errors": s.QueueWriteErrors, "read_errors": s.QueueReadErrors, "write_failing": s.QueueFailing,
			// Not in Logstash: how long the oldest event has waited.
			"oldest_age_in_millis": s.QueueOldestAge.Milliseconds()},
	}
	if p.dlq != nil {
		var lastErr any
		if p.dlq.LastError != "" {
			lastErr = p.dlq.LastError
		}
		m["dead_letter_queue"] = map[string]any{
			"queue_size_in_bytes": p.dlq.SizeBytes, "max_queue_size_in_bytes": p.dlq.MaxBytes,
			"storage_policy": p.dlq.StoragePolicy, "dropped_events": p.dlq.Dropped, "expired_events": p.dlq.Expired,
			"last_error": lastErr, "path": p.dlqDir,
		}
	}
	return m
}

// failureTags is a filter's failures by tag, {} when there are none.
func failureTags(m map[string]int64) map[string]int64 {
	if m == nil {
		return map[string]int64{}
	}
	return m
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// worstHealth is the node's status: its worst pipeline's.
func worstHealth(snaps []snap) string {
	h := engine.HealthGreen
	for _, p := range snaps {
		if engine.Worse(p.snap.Health.Status, h) {
			h = p.snap.Health.Status
		}
	}
	return h
}

// healthReport is /_health_report in the shape of Logstash's (8.16+): the
// node status and one indicator per pipeline with its symptom and, when not
// green, a diagnosis per reason.
func (s *Server) healthReport() map[string]any {
	snaps := s.snapshots()
	m := s.nodeInfo(snaps)
	pipes := map[string]any{}
	for _, p := range snaps {
		h := p.snap.Health
		ind := map[string]any{"status": h.Status}
		if h.Status == engine.HealthGreen {
			ind["symptom"] = "The pipeline is healthy"
		} else {
			ind["symptom"] = h.Reasons[0]
			diag := make([]any, 0, len(h.Reasons))
			for _, r := range h.Reasons {
				diag = append(diag, map[string]any{"cause": r,
					"action": "Check the logs of this pipeline and the system it writes to; nothing is lost while it waits"})
			}
			ind["diagnosis"] = diag
			ind["impacts"] = []any{map[string]any{"severity": 2, "description": "Events are not delivered; the inputs slow down or wait"}}
		}
		pipes[p.snap.Name] = ind
	}
	status := worstHealth(snaps)
	m["status"] = status
	m["indicators"] = map[string]any{"pipelines": map[string]any{"status": status, "indicators": pipes}}
	return m
}

func notFound(w http.ResponseWriter, r *http.Request, id string) {
	jsonNotFound(w, r, fmt.Sprintf("no pipeline with id %q", id))
}

func jsonNotFound(w http.ResponseWriter, r *http.Request, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusNotFound)
	_ = json.NewEncoder(w).Encode(map[string]any{"status": 404, "path": r.URL.Path, "error": msg})
}

// nodeStats is /_node/stats: node info, events, pipelines, reloads, queue
// and the jvm, process and os sections.
func (s *Server) nodeStats() map[string]any {
	snaps := s.snapshots()
	m := s.nodeInfo(snaps)
	m["events"] = totalEvents(snaps)
	m["pipelines"] = pipelinesJSON(snaps)
	rs := s.o.Reloads.Stats()
	m["reloads"] = map[string]any{"successes": rs.Successes, "failures": rs.Failures}
	var queued int64
	for _, p := range snaps {
		queued += p.snap.QueueEvents
	}
	m["queue"] = map[string]any{"events_count": queued}
	proc := s.processStats()
	proc["uptime_in_millis"] = time.Since(s.started).Milliseconds()
	proc["panics_recovered"] = engine.PanicsRecovered()
	m["process"] = proc
	m["jvm"] = s.jvmStats()
	m["os"] = osStats()
	return m
}

func writeJSON(w http.ResponseWriter, r *http.Request, v any) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	// ?pretty as in Logstash.
	if _, ok := r.URL.Query()["pretty"]; ok {
		enc.SetIndent("", "  ")
	}
	_ = enc.Encode(v)
}

func nonNilCounts(m map[string]int64) map[string]int64 {
	if m == nil {
		return map[string]int64{}
	}
	return m
}
