// Package http implements the http output, like Logstash's: it sends events
// to an HTTP(S) endpoint (a webhook, Alerta's /alert and /heartbeat, any REST
// API). Each event is one request (format json, form or message), or each
// batch is one request holding a JSON array (format json_batch). mapping
// chooses what is sent instead of the whole event; url, headers, message and
// mapping values are sprintf templates rendered per event.
//
// Answers: a 2xx status, or one of ignorable_codes, is a success. A status in
// retryable_codes (429, 500, 502, 503, 504 by default), or a request that
// failed without an answer (connection refused or reset, timeout, TLS
// handshake failure), is retried: the output hands the event (or the whole
// json_batch request) back to the engine, which retries it with its backoff
// (100 ms doubling to 30 s) while holding the batch, so the pipeline
// back-pressures its inputs and nothing is dropped, for as long as it takes,
// as Logstash retries forever. With retry_failed => false those fail for good
// at once instead. Any other status (a 4xx such as 400 or 401) fails the
// event for good: it goes to the dead letter queue when the pipeline has one
// (the reason names the method, URL, status and the start of the answer),
// otherwise it is counted and logged as failed. A batch is acknowledged only
// once every one of its events got a final answer.
//
// Up to pool_max requests are in flight at once (pool_max_per_route per
// host), so events of a batch may arrive in another order than they were
// sent, as in Logstash. Logstash's own retry timer (attempt² seconds, at most
// 60) is replaced by the pipeline's backoff. A Write the engine made from
// several batches waiting for the output (when the endpoint is slower than
// the pipeline) sends their events together in one json_batch request.
//
// Bodies: json is the event as the json codec writes it (without
// [@metadata]) or the mapping; form is the top-level fields of the event or
// mapping as key=value pairs (values as Ruby's to_s prints them; keys in
// sorted order, where Logstash keeps the hash's order), URL-encoded as Ruby's
// CGI.escape does. With http_compression the body is gzipped.
//
// TLS: https:// URLs are verified against ssl_certificate_authorities (or the
// system's CAs) unless ssl_verification_mode is "none"; ssl_certificate and
// ssl_key are presented to servers that ask for a client certificate; the
// Logstash 8 names cacert, client_cert and client_key are accepted with a
// warning. Java key and trust stores are refused with advice to convert them
// to PEM. The password, the proxy's password and secret-looking headers
// (Authorization) are never logged nor put into errors.
package http

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/engine/redact"
	"github.com/pipelined/pipeline/plugins/internal/httpclient"
	"github.com/pipelined/pipeline/plugins/internal/tlsopt"
)

// Output is the http output.
type Output struct {
	opts    Options
	log     *slog.Logger
	method  string
	url     event.Template
	message event.Template
	mapping node
	headers []header
	static  http.Header
	ctype   string
	tls     tlsopt.Client

	client *httpclient.Client
}

type header struct {
	name  string
	value event.Template
}

var _ engine.Output = (*Output)(nil)

// New compiles the templates and the mapping; it opens nothing.
func New(o Options, r engine.Resources) (*Output, error) {
	out := &Output{opts: o, log: r.Logger, method: o.method(), ctype: o.contentType(), static: o.staticHeaders()}
	if out.log == nil {
		out.log = slog.Default()
	}
	var err error
	if out.url, err = event.ParseTemplate(o.URL); err != nil {
		return nil, fieldErr("url", "%v", err)
	}
	if o.Format == "message" {
		if out.message, err = event.ParseTemplate(o.Message); err != nil {
			return nil, fieldErr("message", "%v", err)
		}
		if o.Mapping != nil {
			out.log.Warn("http output: mapping is not used with format => \"message\" and is ignored")
		}
	} else if o.Mapping != nil {
		if out.mapping, err = compileMapping(o.Mapping); err != nil {
			return nil, fieldErr("mapping", "%v", err)
		}
	}
	for _, h := range o.Headers {
		t, err := event.ParseTemplate(h.Value)
		if err != nil {
			return nil, fieldErr("headers", "%s: %v", h.Key, err)
		}
		out.headers = append(out.headers, header{name: h.Key, value: t})
	}
	out.tls = o.MixinAliases.Apply(o.Client)
	return out, nil
}

// Connect loads the TLS files and builds the client (no request is sent:
// an endpoint that is down shows at the first Write, which is retried).
func (o *Output) Connect(context.Context) error {
	if o.client != nil {
		return nil
	}
	cfg, err := o.tls.Config()
	if err != nil {
		return engine.Permanent(err)
	}
	o.client = httpclient.New(o.opts.Options, cfg)
	return nil
}

// Close closes idle connections.
func (o *Output) Close(context.Context) error {
	if o.client != nil {
		o.client.Close()
	}
	return nil
}

// outcome is what an answer means.
type outcome int

const (
	success outcome = iota
	retry
	failure
)

// Write sends the events and returns once each got a final answer or must
// be retried: nil when all succeeded, a *engine.BatchError listing the
// events to retry (plain errors) and those failed for good (Permanent).
func (o *Output) Write(ctx context.Context, events []*event.Event) error {
	if o.client == nil {
		return engine.ErrNotConnected
	}
	if o.opts.Format == "json_batch" {
		body := []byte{'['}
		for i, e := range events {
			if i > 0 {
				body = append(body, ',')
			}
			body = o.appendJSON(body, e)
		}
		body = append(body, ']')
		res, err := o.send(ctx, o.opts.URL, body, o.static)
		if res == success {
			return nil
		}
		if res == failure {
			return engine.Permanent(err)
		}
		return err
	}
	return httpclient.SendEach(ctx, o.log, "http output request", o.opts.PoolMax, events, o.sendEvent)
}

// sendEvent sends one event's request; nil on success.
func (o *Output) sendEvent(ctx context.Context, e *event.Event) error {
	var body []byte
	switch o.opts.Format {
	case "message":
		body = o.message.RenderAppend(nil, e)
	case "form":
		body = o.appendForm(nil, e)
	default:
		body = o.appendJSON(nil, e)
	}
	h := make(http.Header, len(o.headers)+1)
	for _, hd := range o.headers {
		h.Set(hd.name, hd.value.Render(e))
	}
	h.Set("Content-Type", o.ctype)
	res, err := o.send(ctx, o.url.Render(e), body, h)
	switch res {
	case success:
		return nil
	case failure:
		return engine.Permanent(err)
	}
	return err
}

// send makes one request and says what its answer means; err describes a
// retry or a failure.
func (o *Output) send(ctx context.Context, url string, body []byte, h http.Header) (outcome, error) {
	if o.opts.HTTPCompression {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		_, _ = zw.Write(body)
		_ = zw.Close()
		body = buf.Bytes()
		h = h.Clone()
		h.Set("Content-Encoding", "gzip")
	}
	where := o.method + " " + redact.URL(url)
	res, err := o.client.Do(ctx, o.method, url, body, h)
	if err != nil {
		err = fmt.Errorf("http: %s: %w", where, tlsopt.Explain(err))
		if ctx.Err() != nil {
			return retry, err
		}
		if !o.opts.RetryFailed {
			o.log.Error("http output: request failed, not retried (retry_failed => false)", "error", err)
			return failure, err
		}
		o.log.Warn("http output: request failed, will retry", "error", err)
		return retry, err
	}
	defer res.Body.Close()
	head := httpclient.ReadHead(res)
	code := res.StatusCode
	if code >= 200 && code <= 299 || slices.Contains(o.opts.IgnorableCodes, code) {
		return success, nil
	}
	err = fmt.Errorf("http: %s answered %s: %s", where, statusText(code), bytes.TrimSpace(head))
	if slices.Contains(o.opts.RetryableCodes, code) {
		if !o.opts.RetryFailed {
			o.log.Error("http output: retryable answer, not retried (retry_failed => false)", "code", code, "error", err)
			return failure, err
		}
		if code == http.StatusTooManyRequests {
			o.log.Debug("http output: 429, will retry (flow control by the server)", "url", redact.URL(url))
		} else {
			o.log.Warn("http output: retryable answer, will retry", "code", code, "error", err)
		}
		return retry, err
	}
	o.log.Error("http output: non-2xx answer, the event failed", "code", code, "error", err)
	return failure, err
}

func statusText(code int) string {
	if t := http.StatusText(code); t != "" {
		return strconv.Itoa(code) + " " + t
	}
	return strconv.Itoa(code)
}

func init() { engine.RegisterOutput("http", New) }
