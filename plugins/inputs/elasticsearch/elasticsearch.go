// Package elasticsearch implements the elasticsearch input, like Logstash's:
// it runs a Query DSL search on an index (or pattern, alias, list) and emits
// one event per document found (response_type "hits"), or one event holding
// the answer's aggregations (response_type "aggregations"). Without schedule
// the search runs once and the input ends (a one-shot scan: the pipeline
// stops when the events are delivered); with schedule it runs at each time
// of the cron line.
//
// Paging is Logstash's: search_api "search_after" opens a point in time
// (POST /<index>/_pit?keep_alive=<scroll>), pages with search_after on the
// sort values of each page's last hit (sorting by _shard_doc when the query
// has no sort) and closes it; "scroll" pages with the scroll API and clears
// the scroll at the end; "auto" asks the server's version (GET /) and uses
// search_after from version 8, scroll before. Each page asks for size
// documents; size is sent in the request body (Elasticsearch reads it there
// as from the URL) so that servers that only read the body, such as
// ZincSearch, page the same way. A server that returns no scroll id (again
// ZincSearch) ends the search after its first page. slices runs the sliced
// search one slice after the other (Logstash runs them in parallel threads).
//
// Each event holds the document's _source (under target when set); with
// docinfo, docinfo_fields of the hit (_index, _type, _id) go under
// docinfo_target ([@metadata] with ecs_compatibility => disabled,
// [@metadata][input][elasticsearch] otherwise), so that an elasticsearch
// output can write "%{[@metadata][_index]}". A hit that cannot become an
// event (a docinfo_target that is not an object) becomes an event with the
// hit's JSON in [event][original] and the tag _elasticsearch_input_failure.
//
// A failed request (no answer, or a status other than 2xx) fails the search:
// it is started again from the start up to retries times (so documents may
// be emitted twice, at-least-once, as in Logstash), then given up with an
// error in the log; the next scheduled run starts afresh. A request that
// cannot connect to a host tries the next one. The pages are emitted as they
// arrive; emit blocks while the pipeline is full, so a slow pipeline slows
// the search (keep scroll longer than a page takes to go through). Answers
// larger than 256 MiB are refused (lower size). Credentials (password,
// cloud_auth, api_key) are never logged nor put into errors.
package elasticsearch

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/engine/redact"
	"github.com/pipelined/pipeline/plugins/internal/cron"
	"github.com/pipelined/pipeline/plugins/internal/tlsopt"
)

// Budgets for what the server sends.
const (
	// maxResponseBytes bounds one answer (a page of size documents).
	maxResponseBytes = 256 << 20
	// maxErrorBody is how much of an error answer goes into the log.
	maxErrorBody = 1 << 10
)

// failureTag marks an event made of a hit that could not become one.
const failureTag = "_elasticsearch_input_failure"

// Input is the elasticsearch input.
type Input struct {
	opts      Options
	log       *slog.Logger
	batch     int
	eps       []*url.URL
	host      int
	header    http.Header
	query     map[string]any
	sched     *cron.Schedule
	docinfo   event.Ref
	target    *event.Ref
	client    *http.Client
	searchAPI string // resolved: "search_after" or "scroll"

	// now is the clock the schedule reads (tests replace it).
	now func() time.Time
}

var _ engine.Input = (*Input)(nil)

var originalRef = event.MustRef("[event][original]")

// New compiles the options; it connects nowhere.
func New(o Options, r engine.Resources) (*Input, error) {
	in := &Input{opts: o, log: r.Logger, batch: max(r.BatchSize, 1), now: time.Now}
	if in.log == nil {
		in.log = slog.Default()
	}
	var err error
	if in.eps, err = o.endpoints(); err != nil {
		return nil, err
	}
	if in.query, err = o.query(); err != nil {
		return nil, fieldErr("query", "%v", err)
	}
	if o.Schedule != "" {
		if in.sched, err = cron.Parse(o.Schedule); err != nil {
			return nil, fieldErr("schedule", "%v", err)
		}
	}
	if in.docinfo, err = event.ParseRef(o.docinfoTarget()); err != nil {
		return nil, fieldErr("docinfo_target", "%v", err)
	}
	if o.Target != "" {
		t, err := event.ParseRef(o.Target)
		if err != nil {
			return nil, fieldErr("target", "%v", err)
		}
		in.target = &t
	}
	in.header = http.Header{}
	for _, h := range o.CustomHeaders {
		in.header.Set(h.Key, h.Value)
	}
	in.header.Set("Content-Type", "application/json")
	in.header.Set("X-Elastic-Product-Origin", "logstash-input-elasticsearch")
	if a := o.authorization(); a != "" {
		in.header.Set("Authorization", a)
	}
	if o.SearchAPI != "auto" {
		in.searchAPI = o.SearchAPI
	}
	return in, nil
}

// connect builds the HTTP client (reading the TLS files).
func (in *Input) connect() error {
	var cfg *tls.Config
	if in.eps[0].Scheme == "https" {
		var err error
		if cfg, err = in.opts.Client.Config(); err != nil {
			return err
		}
	}
	dialer := &net.Dialer{Timeout: time.Duration(in.opts.ConnectTimeoutSeconds) * time.Second}
	tr := &http.Transport{
		DialContext:           dialer.DialContext,
		TLSClientConfig:       cfg,
		TLSHandshakeTimeout:   time.Duration(in.opts.ConnectTimeoutSeconds) * time.Second,
		ResponseHeaderTimeout: time.Duration(in.opts.SocketTimeoutSeconds) * time.Second,
		MaxIdleConnsPerHost:   4,
	}
	if in.opts.Proxy != "" {
		u, _ := url.Parse(in.opts.Proxy)
		tr.Proxy = http.ProxyURL(u)
	}
	in.client = &http.Client{Transport: tr, Timeout: time.Duration(in.opts.RequestTimeoutSeconds) * time.Second}
	return nil
}

// Run searches once, or at every time of the schedule until ctx ends.
func (in *Input) Run(ctx context.Context, emit engine.EmitFunc) error {
	if err := in.connect(); err != nil {
		return err
	}
	defer in.client.CloseIdleConnections()
	if in.sched == nil {
		return in.runOnce(ctx, emit)
	}
	for {
		next := in.sched.Next(in.now())
		if next.IsZero() {
			in.log.Warn("elasticsearch input: the schedule has no next time; the input ends", "schedule", in.opts.Schedule)
			return nil
		}
		t := time.NewTimer(time.Until(next))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		if err := in.runOnce(ctx, emit); err != nil {
			return err
		}
	}
}

// stopError is returned through a search when emit refused (the pipeline is
// aborting): it is not retried.
type stopError struct{ err error }

func (s stopError) Error() string { return s.err.Error() }

// runOnce runs the search (with its retries); only an emit error is
// returned: a failed search is logged.
func (in *Input) runOnce(ctx context.Context, emit engine.EmitFunc) error {
	job := "aggregation"
	run := func() error { return in.aggregate(ctx, emit) }
	if in.opts.ResponseType == "hits" {
		if in.searchAPI == "" {
			api, err := in.resolveAPI(ctx)
			if err != nil {
				in.log.Error("elasticsearch input: cannot ask the server's version for search_api => auto; the run is skipped", "error", err)
				return nil
			}
			in.searchAPI = api
		}
		slices := []int{-1}
		if in.opts.Slices != nil && *in.opts.Slices > 1 {
			slices = slices[:0]
			for i := 0; i < *in.opts.Slices; i++ {
				slices = append(slices, i)
			}
		}
		for _, slice := range slices {
			var err error
			if in.searchAPI == "scroll" {
				err = in.retryable(ctx, "scroll paginated search", func() error { return in.scroll(ctx, emit, slice) })
			} else {
				err = in.retryable(ctx, "search_after paginated search", func() error { return in.searchAfter(ctx, emit, slice) })
			}
			if err != nil || ctx.Err() != nil {
				return err
			}
		}
		return nil
	}
	return in.retryable(ctx, job, run)
}

// retryable runs fn up to retries+1 times; a final failure is logged and
// nil returned, except a stop (emit failed), which is returned.
func (in *Input) retryable(ctx context.Context, job string, fn func() error) error {
	wait := 100 * time.Millisecond
	var err error
	for attempt := 0; attempt <= in.opts.Retries; attempt++ {
		if err = fn(); err == nil {
			return nil
		}
		var stop stopError
		if errors.As(err, &stop) {
			return stop.err
		}
		if ctx.Err() != nil {
			return nil
		}
		if attempt < in.opts.Retries {
			in.log.Warn("elasticsearch input: "+job+" failed, trying again", "attempt", attempt+1, "error", err)
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(wait):
			}
			wait = min(2*wait, 5*time.Second)
		}
	}
	in.log.Error("elasticsearch input: tried "+job+" unsuccessfully", "attempts", in.opts.Retries+1, "error", err)
	return nil
}

// resolveAPI asks GET / for the version: search_after from 8, scroll before.
func (in *Input) resolveAPI(ctx context.Context) (string, error) {
	r, err := in.do(ctx, "GET", "/", nil, nil)
	if err != nil {
		return "", err
	}
	v, _ := r["version"].(map[string]any)
	num, _ := v["number"].(string)
	major, _ := strconv.Atoi(strings.SplitN(num, ".", 2)[0])
	api := "scroll"
	if major >= 8 {
		api = "search_after"
	}
	in.log.Info("elasticsearch input: search_api => auto resolved to "+api, "version", num)
	return api, nil
}

// body returns the query with extra keys (the query itself is not changed).
func (in *Input) body(extra map[string]any) map[string]any {
	b := make(map[string]any, len(in.query)+len(extra))
	for k, v := range in.query {
		b[k] = v
	}
	for k, v := range extra {
		b[k] = v
	}
	return b
}

func (in *Input) indexPath(suffix string) string {
	return "/" + in.opts.Index + suffix
}

// scroll reads the search with the scroll API.
func (in *Input) scroll(ctx context.Context, emit engine.EmitFunc, slice int) (err error) {
	extra := map[string]any{"size": in.opts.Size}
	if slice >= 0 {
		extra["slice"] = map[string]any{"id": slice, "max": *in.opts.Slices}
	}
	r, err := in.do(ctx, "POST", in.indexPath("/_search"), url.Values{"scroll": {in.opts.Scroll}}, in.body(extra))
	if err != nil {
		return err
	}
	id, _ := r["_scroll_id"].(string)
	defer func() {
		if id != "" {
			if _, cerr := in.do(context.WithoutCancel(ctx), "DELETE", "/_search/scroll", nil, map[string]any{"scroll_id": id}); cerr != nil {
				in.log.Debug("elasticsearch input: clearing the scroll failed (ignored)", "error", cerr)
			}
		}
	}()
	for {
		n, _, err := in.emitHits(emit, r)
		if err != nil || n == 0 || id == "" || ctx.Err() != nil {
			return err
		}
		if r, err = in.do(ctx, "POST", "/_search/scroll", nil, map[string]any{"scroll": in.opts.Scroll, "scroll_id": id}); err != nil {
			return err
		}
		if next, _ := r["_scroll_id"].(string); next != "" {
			id = next
		}
	}
}

// searchAfter reads the search with a point in time and search_after.
func (in *Input) searchAfter(ctx context.Context, emit engine.EmitFunc, slice int) error {
	r, err := in.do(ctx, "POST", in.indexPath("/_pit"), url.Values{"keep_alive": {in.opts.Scroll}}, nil)
	if err != nil {
		return fmt.Errorf("create point in time (PIT): %w", err)
	}
	pit, _ := r["id"].(string)
	if pit == "" {
		return fmt.Errorf("create point in time (PIT): the answer has no id")
	}
	defer func() {
		if _, cerr := in.do(context.WithoutCancel(ctx), "DELETE", "/_pit", nil, map[string]any{"id": pit}); cerr != nil {
			in.log.Debug("elasticsearch input: closing the point in time failed (ignored)", "error", cerr)
		}
	}()
	var after any
	for ctx.Err() == nil {
		extra := map[string]any{"size": in.opts.Size, "pit": map[string]any{"id": pit, "keep_alive": in.opts.Scroll}}
		if _, ok := in.query["sort"]; !ok {
			extra["sort"] = map[string]any{"_shard_doc": "asc"}
		}
		if after != nil {
			extra["search_after"] = after
		}
		if slice >= 0 {
			extra["slice"] = map[string]any{"id": slice, "max": *in.opts.Slices}
		}
		if r, err = in.do(ctx, "POST", "/_search", nil, in.body(extra)); err != nil {
			return err
		}
		n, last, err := in.emitHits(emit, r)
		if err != nil || n == 0 {
			return err
		}
		if id, _ := r["pit_id"].(string); id != "" {
			pit = id
		}
		after = last
		if after == nil {
			in.log.Warn("elasticsearch input: the query got data but the sort value is empty; the search stops")
			return nil
		}
	}
	return nil
}

// aggregate runs the search with size 0 and emits its aggregations.
func (in *Input) aggregate(ctx context.Context, emit engine.EmitFunc) error {
	r, err := in.do(ctx, "POST", in.indexPath("/_search"), nil, in.body(map[string]any{"size": 0}))
	if err != nil {
		return err
	}
	e := in.eventFrom(r, "aggregations")
	if err := emit(engine.Batch{Events: []*event.Event{e}}); err != nil {
		return stopError{err}
	}
	return nil
}

// emitHits emits the page's hits in batches; it returns how many there
// were and the last hit's sort values.
func (in *Input) emitHits(emit engine.EmitFunc, r map[string]any) (int, any, error) {
	hits, _ := r["hits"].(map[string]any)
	list, _ := hits["hits"].([]any)
	var b engine.Batch
	var last any
	for _, h := range list {
		hit, _ := h.(map[string]any)
		if hit == nil {
			continue
		}
		b.Events = append(b.Events, in.eventFrom(hit, "_source"))
		last = hit["sort"]
		if len(b.Events) == in.batch {
			if err := emit(b); err != nil {
				return 0, nil, stopError{err}
			}
			b = engine.Batch{}
		}
	}
	if len(b.Events) > 0 {
		if err := emit(b); err != nil {
			return 0, nil, stopError{err}
		}
	}
	return len(list), last, nil
}

// eventFrom makes the event of a hit (root "_source") or an answer (root
// "aggregations").
func (in *Input) eventFrom(hit map[string]any, root string) *event.Event {
	e, err := in.build(hit, root)
	if err == nil {
		return e
	}
	raw, _ := json.Marshal(hit)
	in.log.Warn("elasticsearch input: event creation error, the hit is in [event][original]", "error", err)
	e = event.New()
	_ = e.Set(originalRef, string(raw))
	e.AddTag(failureTag)
	return e
}

func (in *Input) build(hit map[string]any, root string) (*event.Event, error) {
	src, _ := hit[root].(map[string]any)
	if src == nil {
		src = map[string]any{}
	}
	var e *event.Event
	if in.target != nil {
		e = event.New()
		if err := e.Set(*in.target, src); err != nil {
			return nil, err
		}
	} else {
		var err error
		if e, err = event.FromMap(src); err != nil {
			return nil, err
		}
	}
	if in.opts.Docinfo && root == "_source" {
		var m map[string]any
		switch v, ok := e.Get(in.docinfo); {
		case !ok || v == nil:
			m = map[string]any{}
		default:
			if m, ok = v.(map[string]any); !ok {
				return nil, fmt.Errorf("incompatible event: cannot merge docinfo fields into docinfo_target %s (a %s)", in.docinfo, event.JSONKind(v))
			}
		}
		for _, f := range in.opts.DocinfoFields {
			m[f] = hit[f]
		}
		if err := e.Set(in.docinfo, m); err != nil {
			return nil, err
		}
	}
	return e, nil
}

// do sends a request to the hosts, the current one first, moving to the
// next when one cannot be reached; it returns the answer's JSON object.
func (in *Input) do(ctx context.Context, method, path string, query url.Values, body map[string]any) (map[string]any, error) {
	var payload []byte
	if body != nil {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(body); err != nil {
			return nil, err
		}
		payload = bytes.TrimRight(buf.Bytes(), "\n")
	}
	var lastErr error
	for range in.eps {
		base := in.eps[in.host%len(in.eps)]
		u := *base
		u.Path = base.Path + path
		u.RawQuery = query.Encode()
		where := method + " " + redact.URL(u.String())
		var rd io.Reader
		if payload != nil {
			rd = bytes.NewReader(payload)
		}
		req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
		if err != nil {
			return nil, err
		}
		for k, v := range in.header {
			req.Header[k] = v
		}
		if u.User != nil {
			pw, _ := u.User.Password()
			req.SetBasicAuth(u.User.Username(), pw)
		}
		res, err := in.client.Do(req)
		if err != nil {
			var ue *url.Error
			if errors.As(err, &ue) {
				err = ue.Err
			}
			lastErr = fmt.Errorf("%s: %w", where, tlsopt.Explain(err))
			if ctx.Err() != nil {
				return nil, lastErr
			}
			in.host++
			continue
		}
		data, err := io.ReadAll(io.LimitReader(res.Body, maxResponseBytes+1))
		res.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: reading the answer: %w", where, err)
		}
		if res.StatusCode < 200 || res.StatusCode > 299 {
			return nil, fmt.Errorf("%s answered %d: %s", where, res.StatusCode, bytes.TrimSpace(data[:min(len(data), maxErrorBody)]))
		}
		if len(data) > maxResponseBytes {
			return nil, fmt.Errorf("%s: the answer is larger than %d MiB: lower size", where, maxResponseBytes>>20)
		}
		if method == "DELETE" {
			return nil, nil
		}
		v, err := event.ParseJSON(data)
		if err != nil {
			return nil, fmt.Errorf("%s: the answer is not JSON: %v", where, err)
		}
		m, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s: the answer is not a JSON object", where)
		}
		return m, nil
	}
	return nil, lastErr
}

func init() { engine.RegisterInput("elasticsearch", New) }
