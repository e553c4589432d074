// Package elasticsearch implements the elasticsearch output, like Logstash's:
// it writes events to Elasticsearch (or a server speaking its bulk API, such
// as ZincSearch) with the _bulk API.
//
// Where events go follows Logstash 8's defaults, which depend on
// ecs_compatibility (v8 unless set):
//   - with only connection options (and routing, pipeline, action =>
//     "create", data_stream_*), events go to a data stream,
//     "logs-generic-default" by default or as the data_stream_* options and
//     each event's own [data_stream] fields say, with create actions;
//   - otherwise to index (sprintf, a daily index named after @timestamp in
//     UTC), or, when index is unset or ilm_rollover_alias is set, to an ILM
//     rollover alias ("ecs-logstash", or "logstash" with ecs_compatibility =>
//     disabled).
//
// On the first successful connection, before anything is written, the output
// installs the index template (unless one of that name exists, or
// manage_template is off, as it is for data streams), and with ILM creates the
// rollover alias with its first index and the default lifecycle policy when
// they are missing. A failure there (a refused template, a missing
// ilm_policy, data streams on a server older than 7.9) fails the connection
// with the reason, and the engine retries it while the pipeline waits.
//
// Each Write sends the pipeline batch as one synchronous bulk request, split
// into several when its NDJSON body would grow past target_bulk_bytes (20 MiB
// by default, as Logstash). Every event is one action, rendered per event:
// index, action, document_id, routing, pipeline, version and, for updates, the
// partial document or script with its upsert. The document is the event as
// JSON without [@metadata]. Nothing is buffered between Writes, so an event is
// acked only once Elasticsearch answered for it.
//
// Per-item results of a bulk answer decide each event's fate:
//   - 2xx, and 409 (version conflict) for a create: delivered;
//   - 429 and 5xx: retried, only those events, with the pipeline's backoff;
//   - 400, 404 (mapping errors, a bad index name…) and any other status:
//     refused for good; the engine puts the event in the dead letter queue when
//     one is configured, otherwise it counts and logs it as failed. A rendered
//     action that is not index, create, update or delete, an update or
//     delete without a document id, or an index name still holding a
//     %{...} reference the event could not fill, fails the same way without
//     being sent.
//
// A request that fails as a whole (node down, timeout, a 5xx or 429 answer to
// the whole bulk, authentication refused, an answer that is not a bulk answer)
// is retried with backoff while the pipeline waits: back-pressure, never a
// drop. A 413 (request too large) splits the request in two; a single event
// answered 413 fails for good. Retried requests may index an event twice when
// Elasticsearch chooses the ids (at-least-once); set document_id for
// exactly-once.
//
// Connect reads the TLS files and checks that a node answers GET / (which
// proves the certificate over TLS and, on Elasticsearch, the credentials);
// errors name the node and what to fix: an untrusted certificate names the CA
// files, a 401 says to check user and password. With TLS on (https:// hosts, or ssl_enabled => true)
// the client refuses to send any request that is not https, and check
// refuses an http:// host together with ssl_enabled (or ssl) => true.
package elasticsearch

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/elastic/elastic-transport-go/v8/elastictransport"
	"github.com/elastic/go-elasticsearch/v8/esapi"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
)

func init() { engine.RegisterOutput("elasticsearch", New) }

// Output is the elasticsearch output.
type Output struct {
	opts     Options
	hosts    []*url.URL // without user information
	user     string
	password string
	tlsOn    bool
	timeout  time.Duration
	target   int
	log      *slog.Logger

	plan        *plan
	t           bulkTemplates
	fixedAction string         // the action when constant
	template    map[string]any // the template file's content, or nil
	version     string         // the version the server announced
	major       int            // its major version (0: unknown)
	setupDone   bool           // templates, ILM and data stream checks done
	quiet       map[int]bool   // failed events of this Write not to log
	bulkPath    string         // path and query of bulk requests
	dsJSON      []byte         // the stream's data_stream object, encoded

	client    *elastictransport.Client
	transport *http.Transport
	sign      func(*http.Request) error // request signing (amazon_es), or nil

	// Per-Write state, reused.
	buf   []byte
	items []item
	resp  bytes.Buffer
	ok    okResponse
}

// item is one event's action (and source) lines in buf.
type item struct {
	idx        int // index in the written events
	start, end int
	action     string
}

var _ engine.Output = (*Output)(nil)

// New builds an elasticsearch output. It opens and reads nothing.
func New(o Options, r engine.Resources) (*Output, error) {
	eps, _ := o.endpoints()
	out := &Output{
		opts:     o,
		user:     o.User,
		password: o.Password,
		tlsOn:    eps[0].Scheme == "https",
		timeout:  time.Duration(o.Timeout * float64(time.Second)),
		target:   o.TargetBulkBytes,
		log:      r.Logger,
	}
	for _, u := range eps {
		if u.User != nil {
			// Credentials in a URL become the client's, so that no URL we log
			// or put in an error carries them.
			if out.user == "" {
				out.user = u.User.Username()
				out.password, _ = u.User.Password()
			}
			u.User = nil
		}
		out.hosts = append(out.hosts, u)
	}
	out.plan, _ = o.plan()
	for _, f := range []struct {
		t   *event.Template
		src string
	}{
		{&out.t.index, out.plan.index}, {&out.t.action, out.plan.action}, {&out.t.id, o.DocumentID},
		{&out.t.routing, o.Routing}, {&out.t.pipeline, o.Pipeline}, {&out.t.version, o.Version},
		{&out.t.docType, o.DocumentType}, {&out.t.upsert, o.Upsert}, {&out.t.script, o.Script},
		{&out.t.parent, o.Parent},
	} {
		*f.t, _ = event.ParseTemplate(f.src) // checked by Validate
	}
	if out.t.action.IsConstant() {
		out.fixedAction = out.plan.action
	}
	if o.Template != "" {
		t, err := readTemplate(o.Template)
		if err != nil {
			return nil, &engine.FieldError{Field: "template", Err: err}
		}
		out.template = t
	}
	if out.log == nil {
		out.log = slog.New(slog.DiscardHandler)
	}
	if o.CloudAuth != "" {
		out.user, out.password, _ = strings.Cut(o.CloudAuth, ":")
	}
	if o.Sniffing {
		out.log.Warn("elasticsearch: sniffing is not supported: requests go to hosts as written")
	}
	out.quiet = map[int]bool{}
	out.bulkPath = bulkPath(o.BulkPath)
	out.dsJSON = event.AppendJSONValue(nil, out.syncedDataStream(nil))
	if o.HTTPCompression != nil {
		out.log.Warn("elasticsearch: option http_compression is deprecated, use compression_level")
	}
	if len(o.FailureTypeLoggingWhitelist) > 0 {
		out.log.Warn("elasticsearch: option failure_type_logging_whitelist is deprecated, use silence_errors_in_log")
	}
	if o.DocumentType != "" {
		out.log.Warn("elasticsearch: option document_type is deprecated: document types were deprecated in Elasticsearch 7 and cannot be set since Elasticsearch 8; it is sent to Elasticsearch 7 only")
	}
	return out, nil
}

// hostList is the hosts for messages.
func (o *Output) hostList() string {
	s := make([]string, len(o.hosts))
	for i, u := range o.hosts {
		s[i] = u.String()
	}
	return strings.Join(s, ", ")
}

// SignRequests makes every request go through sign just before it is sent
// (AWS Signature Version 4 for the amazon_es output). Call it before
// Connect.
func (o *Output) SignRequests(sign func(*http.Request) error) { o.sign = sign }

// newClient builds the client, reading the TLS files.
func (o *Output) newClient() error {
	tr := &http.Transport{
		Proxy:                 o.opts.proxyFunc(), // never an environment proxy
		DialContext:           (&net.Dialer{Timeout: o.timeout, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   o.timeout,
		ResponseHeaderTimeout: o.timeout,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	if o.tlsOn {
		cfg, err := o.tlsConfig()
		if err != nil {
			return err
		}
		tr.TLSClientConfig = cfg
	}
	urls := make([]*url.URL, len(o.hosts))
	for i, u := range o.hosts {
		c := *u
		urls[i] = &c
	}
	// The transport of go-elasticsearch with its esapi requests, without the
	// client wrapper: that one pulls in the typed API (a long compile) and
	// refuses servers that do not announce themselves as Elasticsearch.
	cfg := elastictransport.Config{
		UserAgent:    "pipeline-elasticsearch-output",
		URLs:         urls,
		Username:     o.user,
		Password:     o.password,
		Header:       o.opts.headers(),
		Transport:    &guard{next: tr, tlsOn: o.tlsOn, params: o.opts.Parameters, sign: o.sign},
		DisableRetry: true, // the engine retries, with backoff and back-pressure
	}
	if k := o.opts.APIKey; k != "" {
		cfg.APIKey = k // already encoded
		if strings.Contains(k, ":") {
			cfg.APIKey = base64.StdEncoding.EncodeToString([]byte(k)) // "id:api_key", as Logstash takes it
		}
	}
	if lvl := o.opts.compressionLevel(); lvl > 0 {
		cfg.CompressRequestBody = true
		cfg.CompressRequestBodyLevel = lvl
		cfg.PoolCompressor = true
	}
	c, err := elastictransport.New(cfg)
	if err != nil {
		return fmt.Errorf("elasticsearch %s: %w", o.hostList(), err)
	}
	o.client, o.transport = c, tr
	return nil
}

// tlsConfig reads the CA and client certificate files.
func (o *Output) tlsConfig() (*tls.Config, error) {
	cfg, err := o.opts.ClientAliases.Apply(o.opts.Client).Config()
	if err != nil {
		return nil, fmt.Errorf("elasticsearch: %w", err)
	}
	return cfg, nil
}

// guard is the client's RoundTripper: with TLS on it refuses any request that
// is not https (nothing may go out in plaintext, whatever the client library
// does), and it puts the node's address into transport errors.
type guard struct {
	next   http.RoundTripper
	tlsOn  bool
	params engine.Hash // parameters, added to every request
	sign   func(*http.Request) error
}

func (g *guard) RoundTrip(req *http.Request) (*http.Response, error) {
	where := req.URL.Scheme + "://" + req.URL.Host
	if g.tlsOn && req.URL.Scheme != "https" {
		if req.Body != nil {
			_ = req.Body.Close()
		}
		return nil, &nodeError{node: where, err: errors.New("refusing to send a request in plaintext while TLS is on")}
	}
	fixRawPath(req.URL)
	addParameters(req.URL, g.params)
	if g.sign != nil {
		// Last, over the request as it goes out (compressed body included).
		if err := g.sign(req); err != nil {
			return nil, &nodeError{node: where, err: err}
		}
	}
	res, err := g.next.RoundTrip(req)
	if err != nil {
		return nil, &nodeError{node: where, err: err}
	}
	return res, nil
}

// fixRawPath keeps an escaped path whole under a host's path prefix: the
// client library prefixes Path but not RawPath, which would turn the "%2F" of
// a rollover index name such as "<logstash-{now/d}-000001>" back into a "/".
func fixRawPath(u *url.URL) {
	if u.RawPath == "" {
		return
	}
	dec, err := url.PathUnescape(u.RawPath)
	if err != nil || dec == u.Path || !strings.HasSuffix(u.Path, dec) {
		return
	}
	prefix := u.Path[:len(u.Path)-len(dec)]
	u.RawPath = (&url.URL{Path: prefix}).EscapedPath() + u.RawPath
}

// nodeError is a transport failure talking to one node.
type nodeError struct {
	node string
	err  error
}

func (e *nodeError) Error() string { return e.node + ": " + e.err.Error() }
func (e *nodeError) Unwrap() error { return e.err }

// Connect builds the client on first use and checks that a node answers.
func (o *Output) Connect(ctx context.Context) error {
	if o.client == nil {
		if err := o.newClient(); err != nil {
			return err
		}
	}
	var errs []error
	for range o.hosts { // the client goes round robin: try each node once
		err := o.ping(ctx)
		if err == nil {
			if !o.setupDone {
				if err := o.setup(ctx); err != nil {
					return err
				}
				o.setupDone = true
			}
			return nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return errors.Join(errs...)
}

// ping sends GET / and explains a failure.
func (o *Output) ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	res, err := esapi.InfoRequest{}.Do(ctx, o.client)
	if err != nil {
		return o.describe(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(res.Body, 64<<10))
	if res.IsError() {
		return o.statusError("GET /", res.StatusCode, body)
	}
	var info struct {
		Version struct {
			Number string `json:"number"`
		} `json:"version"`
	}
	_ = json.Unmarshal(body, &info)
	o.version = info.Version.Number
	o.major = majorVersion(o.version)
	o.log.Info("connected to elasticsearch", "hosts", o.hostList(), "version", info.Version.Number)
	return nil
}

// describe turns a transport error into a clear one. Connection failures wrap
// engine.ErrNotConnected, so that the engine checks the node again (Connect)
// before retrying.
func (o *Output) describe(err error) error {
	var unknownCA x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var invalid x509.CertificateInvalidError
	var recHdr tls.RecordHeaderError
	node := o.hostList()
	var ne *nodeError
	if errors.As(err, &ne) {
		node = ne.node
	}
	switch {
	case errors.As(err, &unknownCA):
		src := o.opts.ClientAliases.Apply(o.opts.Client).TrustSource()
		return fmt.Errorf("elasticsearch %s: TLS: the server's certificate is not signed by a CA in %s (wrong CA file?): %w: %w", node, src, engine.ErrNotConnected, err)
	case errors.As(err, &hostErr):
		return fmt.Errorf("elasticsearch %s: TLS: the server's certificate is not valid for this host name (connect with a name it lists): %w: %w", node, engine.ErrNotConnected, err)
	case errors.As(err, &invalid):
		return fmt.Errorf("elasticsearch %s: TLS: the server's certificate is invalid: %w: %w", node, engine.ErrNotConnected, err)
	case errors.As(err, &recHdr):
		return fmt.Errorf("elasticsearch %s: TLS: the server does not speak TLS (is it plain http?): %w: %w", node, engine.ErrNotConnected, err)
	case errors.Is(err, context.Canceled):
		return fmt.Errorf("elasticsearch %s: %w", node, err)
	}
	if ne != nil {
		return fmt.Errorf("elasticsearch %s: %w", ne.Error(), engine.ErrNotConnected)
	}
	return fmt.Errorf("elasticsearch %s: %w: %w", node, engine.ErrNotConnected, err)
}

// statusError explains an error answer to a whole request.
func (o *Output) statusError(what string, status int, body []byte) error {
	hint := ""
	switch status {
	case http.StatusUnauthorized:
		hint = " (authentication failed: check user and password, or api_key)"
	case http.StatusForbidden:
		hint = " (the user may not do this: check its roles)"
	}
	return fmt.Errorf("elasticsearch %s: %s answered %d%s: %s", o.hostList(), what, status, hint, errorText(body))
}

// errorText extracts the reason from an error body, or returns it shortened.
func errorText(body []byte) string {
	var e struct {
		Error json.RawMessage `json:"error"`
	}
	if json.Unmarshal(body, &e) == nil && len(e.Error) > 0 {
		return itemReason(e.Error)
	}
	s := strings.TrimSpace(string(body))
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

// Write sends the events as bulk requests and sorts out the per-item answers.
func (o *Output) Write(ctx context.Context, events []*event.Event) error {
	if o.client == nil {
		return fmt.Errorf("elasticsearch: %w", engine.ErrNotConnected)
	}
	failed := map[int]error{}
	clear(o.quiet)
	o.buf = o.buf[:0]
	o.items = o.items[:0]
	for i, e := range events {
		start := len(o.buf)
		b, action, err := o.appendAction(o.buf, e)
		if err != nil {
			o.buf = o.buf[:start]
			failed[i] = engine.Permanent(err)
			continue
		}
		o.buf = b
		o.items = append(o.items, item{idx: i, start: start, end: len(o.buf), action: action})
	}
	var whole error // the error of a request that failed as a whole
	sent := 0       // items whose request was answered item by item
	for start := 0; start < len(o.items); {
		end, size := start, 0
		for end < len(o.items) && (end == start || size+o.items[end].end-o.items[end].start <= o.target) {
			size += o.items[end].end - o.items[end].start
			end++
		}
		n, err := o.send(ctx, o.items[start:end], failed)
		sent += n
		if err != nil {
			whole = err
			for _, it := range o.items[start:end] {
				if _, ok := failed[it.idx]; !ok {
					failed[it.idx] = err
				}
			}
			if ctx.Err() != nil || errors.Is(err, engine.ErrNotConnected) {
				// Stop here; the items not sent yet fail with the same
				// error, so none of them is taken as delivered.
				for _, it := range o.items[end:] {
					failed[it.idx] = err
				}
				break
			}
		}
		start = end
	}
	if len(failed) == 0 {
		return nil
	}
	if whole != nil && sent == 0 && len(failed) == len(events) && len(o.items) == len(events) {
		return whole // nothing got through: retry the batch as such
	}
	o.logFailures(failed, len(events))
	return &engine.BatchError{Failed: failed}
}

// logFailures logs a summary of the items that failed in one Write.
func (o *Output) logFailures(failed map[int]error, total int) {
	retry, permanent := 0, 0
	var firstRetry, firstPerm error
	for i, err := range failed {
		if o.quiet[i] {
			continue
		}
		if engine.IsPermanent(err) {
			permanent++
			if firstPerm == nil {
				firstPerm = err
			}
		} else {
			retry++
			if firstRetry == nil {
				firstRetry = err
			}
		}
	}
	if permanent > 0 {
		o.log.Warn("elasticsearch refused events for good", "events", permanent, "of", total, "example", firstPerm)
	}
	if retry > 0 {
		o.log.Warn("elasticsearch could not take events now; retrying them", "events", retry, "of", total, "example", firstRetry)
	}
}

// send sends the items as one bulk request. It records per-item failures in
// failed and returns how many items were answered item by item, or an error
// when the request failed as a whole. A 413 answer splits the request.
func (o *Output) send(ctx context.Context, items []item, failed map[int]error) (int, error) {
	first, last := items[0].start, items[len(items)-1].end
	body := o.buf[first:last]
	rctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodPost, o.bulkPath, bytes.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("elasticsearch: bulk path %q: %w", o.bulkPath, err)
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	res, err := o.client.Perform(req)
	if err != nil {
		return 0, o.describe(err)
	}
	o.resp.Reset()
	_, rerr := o.resp.ReadFrom(res.Body)
	res.Body.Close()
	if rerr != nil {
		return 0, fmt.Errorf("elasticsearch %s: reading the bulk answer: %w", o.hostList(), rerr)
	}
	if res.StatusCode == http.StatusRequestEntityTooLarge {
		if len(items) == 1 {
			failed[items[0].idx] = engine.Permanent(fmt.Errorf("elasticsearch: the event alone (%d bytes) is larger than the server accepts (413)", len(body)))
			return 1, nil
		}
		h := len(items) / 2
		n1, err1 := o.send(ctx, items[:h], failed)
		if err1 != nil {
			return n1, err1
		}
		n2, err2 := o.send(ctx, items[h:], failed)
		return n1 + n2, err2
	}
	if res.StatusCode > 299 {
		return 0, o.statusError("_bulk", res.StatusCode, o.resp.Bytes())
	}
	return o.parse(items, failed)
}

// okResponse is decoded first: it tells whether any item failed without
// decoding the items.
type okResponse struct {
	Errors bool            `json:"errors"`
	Error  json.RawMessage `json:"error"`
	Items  []struct{}      `json:"items"`
}

// fullResponse is decoded when some item failed.
type fullResponse struct {
	Items []map[string]bulkItem `json:"items"`
}

type bulkItem struct {
	Status int             `json:"status"`
	Error  json.RawMessage `json:"error"`
}

// parse reads a 2xx bulk answer.
func (o *Output) parse(items []item, failed map[int]error) (int, error) {
	body := o.resp.Bytes()
	o.ok = okResponse{Items: o.ok.Items[:0]}
	if err := json.Unmarshal(body, &o.ok); err != nil {
		return 0, fmt.Errorf("elasticsearch %s: the bulk answer is not JSON (%v): %s", o.hostList(), err, errorText(body))
	}
	if len(o.ok.Error) > 0 && string(o.ok.Error) != "null" {
		// ZincSearch stops at the first failing document and answers 200 with
		// "error": which items were stored is unknown, so retry them all.
		return 0, fmt.Errorf("elasticsearch %s: the bulk request failed: %s", o.hostList(), itemReason(o.ok.Error))
	}
	if len(o.ok.Items) != len(items) {
		return 0, fmt.Errorf("elasticsearch %s: the bulk answer has %d items for %d actions", o.hostList(), len(o.ok.Items), len(items))
	}
	if !o.ok.Errors {
		return len(items), nil
	}
	// Decoded afresh: json reuses the maps of a reused slice without clearing
	// them, which would mix up the items of two answers.
	var full fullResponse
	if err := json.Unmarshal(body, &full); err != nil || len(full.Items) != len(items) {
		return 0, fmt.Errorf("elasticsearch %s: unreadable bulk answer: %v", o.hostList(), err)
	}
	for i, m := range full.Items {
		it := items[i]
		var res bulkItem
		for _, v := range m {
			res = v
		}
		typ := errorType(res.Error)
		if res.Status >= 300 && typ != "" && slices.Contains(o.opts.DropErrorTypes, typ) {
			// Dropped on request: delivered as far as the pipeline goes.
			if !o.silenced(typ) {
				o.log.Warn("elasticsearch: dropped an event (drop_error_types)", "status", res.Status, "error", itemReason(res.Error))
			}
			continue
		}
		err := itemError(it.action, res)
		if err != nil && !engine.IsPermanent(err) && slices.Contains(o.opts.DLQCustomCodes, res.Status) {
			err = engine.Permanent(err)
		}
		if err != nil {
			failed[it.idx] = err
			if o.silenced(typ) {
				o.quiet[it.idx] = true
			}
		}
	}
	return len(items), nil
}

// silenced reports whether errors of type typ are kept out of the log
// (silence_errors_in_log, failure_type_logging_whitelist).
func (o *Output) silenced(typ string) bool {
	return typ != "" && (slices.Contains(o.opts.SilenceErrorsInLog, typ) || slices.Contains(o.opts.FailureTypeLoggingWhitelist, typ))
}

// itemError classifies one item's answer: nil when delivered, a plain error
// when it is worth retrying, a permanent one otherwise.
func itemError(action string, r bulkItem) error {
	switch s := r.Status; {
	case s >= 200 && s < 300:
		return nil
	case s == http.StatusConflict && action == "create":
		return nil // the document is there already: a retry of a delivered event
	case s == http.StatusTooManyRequests || s >= 500:
		return fmt.Errorf("elasticsearch: %s answered %d: %s", action, s, itemReason(r.Error))
	default:
		return engine.Permanent(fmt.Errorf("elasticsearch: %s answered %d: %s", action, s, itemReason(r.Error)))
	}
}

// itemReason renders an error value ({"type":…,"reason":…} or a string).
func itemReason(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var e struct {
		Type     string `json:"type"`
		Reason   string `json:"reason"`
		CausedBy *struct {
			Type   string `json:"type"`
			Reason string `json:"reason"`
		} `json:"caused_by"`
	}
	if json.Unmarshal(raw, &e) == nil && (e.Type != "" || e.Reason != "") {
		msg := e.Type + ": " + e.Reason
		if e.CausedBy != nil && (e.CausedBy.Type != "" || e.CausedBy.Reason != "") {
			msg += " (caused by " + e.CausedBy.Type + ": " + e.CausedBy.Reason + ")"
		}
		return msg
	}
	if len(raw) == 0 {
		return "no reason given"
	}
	return string(raw)
}

// Close closes the client's connections.
func (o *Output) Close(ctx context.Context) error {
	if o.client != nil {
		o.transport.CloseIdleConnections()
		o.client = nil
	}
	return nil
}
