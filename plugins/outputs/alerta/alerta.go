// Package alerta implements the alerta output: it sends events to Alerta
// (https://alerta.io), the alert consolidation server, through its REST API:
// each event becomes one alert (POST <url>/alert with resource, event,
// environment, severity, correlate, service, group, value, text, tags,
// attributes, origin, type and timeout), or with heartbeat => true one
// heartbeat (POST <url>/heartbeat with origin, timeout and tags; Alerta
// raises an alert of its own when a heartbeat's timeout passes without a
// new one). Logstash has no Alerta output: this replaces the http output
// with an Alerta mapping, or a script beside SEC, with the API's field
// names as option names. Every string is a sprintf template rendered per
// event.
//
// Authentication: api_key is sent as "Authorization: Key <api_key>" and is
// never logged nor put into an error.
//
// Answers, as the http output: a 2xx (Alerta answers 201) is a success. A
// 429 or 5xx, or a request that failed without an answer (connection
// refused or reset, timeout), is retried by the engine with its backoff
// while it holds the batch (back-pressure, nothing dropped, for as long as
// it takes). Any other status (400 for a malformed alert, 401 or 403 for a
// wrong key) fails the event for good: it goes to the dead letter queue
// when the pipeline has one, with the status and the start of Alerta's
// answer as the reason. A batch is acknowledged only once every one of its
// events got a final answer. Alerta de-duplicates alerts by environment,
// resource, event and severity, so a retried alert that had arrived
// raises a duplicate count, never a second alert.
package alerta

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/engine/redact"
	"github.com/pipelined/pipeline/plugins/internal/httpclient"
	"github.com/pipelined/pipeline/plugins/internal/tlsopt"
)

func init() { engine.RegisterOutput("alerta", New) }

// Options configures the alerta output.
type Options struct {
	// URL is Alerta's API endpoint ("http://alerta:8080/api"); /alert or
	// /heartbeat is appended.
	URL string `hcl:"url"`
	// APIKey is sent as "Authorization: Key <api_key>"; unset, no
	// Authorization header (Alerta with AUTH_REQUIRED off). Never logged.
	APIKey string `hcl:"api_key,optional"`
	// Heartbeat sends heartbeats (origin, timeout, tags) instead of alerts.
	Heartbeat bool `hcl:"heartbeat,optional"`
	// Resource is the alert's resource (a host, a service instance:
	// "%{[host][name]}"). Required for alerts.
	Resource string `hcl:"resource,optional"`
	// Event is the alert's event name ("SshAuthFailure"). Required for
	// alerts.
	Event string `hcl:"event,optional"`
	// Environment is the alert's environment.
	Environment string `hcl:"environment,optional"`
	// Severity is one of Alerta's severities (security, critical, major,
	// minor, warning, indeterminate, informational, normal, ok, cleared,
	// debug, trace, unknown), a template.
	Severity string `hcl:"severity,optional"`
	// Correlate are the events that correlate with this one (their alerts
	// are replaced by it), templates.
	Correlate []string `hcl:"correlate,optional"`
	// Service are the services affected, templates.
	Service []string `hcl:"service,optional"`
	// Group is the alert's event group.
	Group string `hcl:"group,optional"`
	// Value is the alert's value (a count, a figure).
	Value string `hcl:"value,optional"`
	// Text is the alert's description; unset, the event's message.
	Text string `hcl:"text,optional"`
	// Tags are the alert's or heartbeat's tags, templates.
	Tags []string `hcl:"tags,optional"`
	// Attributes are extra key/value pairs of the alert; values are
	// templates.
	Attributes engine.Hash `hcl:"attributes,optional"`
	// Origin is who sent the alert or heartbeat (a heartbeat is known by
	// its origin: "%{[host][name]}_backup").
	Origin string `hcl:"origin,optional"`
	// Type is the alert's type.
	Type string `hcl:"type,optional"`
	// Timeout is the alert's or heartbeat's timeout in seconds, a template
	// that must render a whole number (Alerta's default is 86400).
	Timeout string `hcl:"timeout,optional"`
	// The HTTP client options of Logstash's http_client mixin.
	httpclient.Options
	// The ssl_* options apply to an https:// url.
	tlsopt.Client
}

// severities are Alerta's default severity names.
var severities = []string{"security", "critical", "major", "minor", "warning", "indeterminate", "informational", "normal", "ok", "cleared", "debug", "trace", "unknown"}

// Defaults sets Alerta's defaults.
func (o *Options) Defaults() {
	o.Environment = "Production"
	o.Severity = "normal"
	o.Type = "exceptionAlert"
	o.Origin = "pipeline"
	o.Timeout = "86400"
	o.Options.Defaults()
	o.Client.Defaults()
}

func fieldErr(field, format string, args ...any) error {
	return &engine.FieldError{Field: field, Err: fmt.Errorf(format, args...)}
}

// Validate checks the options; it reads no file.
func (o *Options) Validate() error {
	u, err := url.Parse(o.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fieldErr("url", "%q is not an http:// or https:// URL", redact.URL(o.URL))
	}
	if !o.Heartbeat {
		if o.Resource == "" {
			return fieldErr("resource", "required for alerts (heartbeat => false)")
		}
		if o.Event == "" {
			return fieldErr("event", "required for alerts (heartbeat => false)")
		}
	}
	if strings.ContainsAny(o.APIKey, "\r\n") {
		return fieldErr("api_key", "must be one line")
	}
	one := map[string]string{"resource": o.Resource, "event": o.Event, "environment": o.Environment, "severity": o.Severity,
		"group": o.Group, "value": o.Value, "text": o.Text, "origin": o.Origin, "type": o.Type, "timeout": o.Timeout}
	for name, v := range one {
		t, err := event.ParseTemplate(v)
		if err != nil {
			return fieldErr(name, "%v", err)
		}
		if name == "severity" && t.IsConstant() && !contains(severities, strings.ToLower(v)) {
			return fieldErr("severity", "unknown severity %q: use one of %s", v, strings.Join(severities, ", "))
		}
		if name == "timeout" && t.IsConstant() {
			if n, err := strconv.Atoi(v); err != nil || n < 0 {
				return fieldErr("timeout", "%q is not a number of seconds", v)
			}
		}
	}
	for name, list := range map[string][]string{"correlate": o.Correlate, "service": o.Service, "tags": o.Tags} {
		for _, v := range list {
			if _, err := event.ParseTemplate(v); err != nil {
				return fieldErr(name, "%v", err)
			}
		}
	}
	for _, kv := range o.Attributes {
		if _, err := event.ParseTemplate(kv.Value); err != nil {
			return fieldErr("attributes", "%s: %v", kv.Key, err)
		}
	}
	if err := o.Options.Validate(); err != nil {
		return err
	}
	if o.SSLEnabled != nil && !*o.SSLEnabled && u.Scheme == "https" {
		return fieldErr("ssl_enabled", "ssl_enabled => false but url is https://")
	}
	return o.Client.Validate(u.Scheme == "https" || o.Enabled())
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// Output is the alerta output.
type Output struct {
	opts     Options
	log      *slog.Logger
	endpoint string
	one      map[string]event.Template
	lists    map[string][]event.Template
	attrs    []attr
	client   *httpclient.Client
}

type attr struct {
	key string
	val event.Template
}

var _ engine.Output = (*Output)(nil)

// New compiles the templates; it opens nothing.
func New(o Options, r engine.Resources) (*Output, error) {
	out := &Output{opts: o, log: r.Logger, one: map[string]event.Template{}, lists: map[string][]event.Template{}}
	if out.log == nil {
		out.log = slog.Default()
	}
	out.endpoint = strings.TrimRight(o.URL, "/") + "/alert"
	if o.Heartbeat {
		out.endpoint = strings.TrimRight(o.URL, "/") + "/heartbeat"
	}
	for name, v := range map[string]string{"resource": o.Resource, "event": o.Event, "environment": o.Environment, "severity": o.Severity,
		"group": o.Group, "value": o.Value, "text": o.Text, "origin": o.Origin, "type": o.Type, "timeout": o.Timeout} {
		if v == "" {
			continue
		}
		t, err := event.ParseTemplate(v)
		if err != nil {
			return nil, fieldErr(name, "%v", err)
		}
		out.one[name] = t
	}
	for name, list := range map[string][]string{"correlate": o.Correlate, "service": o.Service, "tags": o.Tags} {
		for _, v := range list {
			t, err := event.ParseTemplate(v)
			if err != nil {
				return nil, fieldErr(name, "%v", err)
			}
			out.lists[name] = append(out.lists[name], t)
		}
	}
	for _, kv := range o.Attributes {
		t, err := event.ParseTemplate(kv.Value)
		if err != nil {
			return nil, fieldErr("attributes", "%s: %v", kv.Key, err)
		}
		out.attrs = append(out.attrs, attr{kv.Key, t})
	}
	return out, nil
}

// Connect loads the TLS files and builds the client; Alerta is reached at
// the first Write (a server that is down then is retried).
func (o *Output) Connect(context.Context) error {
	if o.client != nil {
		return nil
	}
	cfg, err := o.opts.Client.Config()
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

// body renders the event's alert or heartbeat as Alerta's JSON.
func (o *Output) body(e *event.Event) ([]byte, error) {
	m := map[string]any{}
	str := func(name string) string {
		t, ok := o.one[name]
		if !ok {
			return ""
		}
		return t.Render(e)
	}
	list := func(name string) []string {
		out := []string{}
		for _, t := range o.lists[name] {
			out = append(out, t.Render(e))
		}
		return out
	}
	timeout, err := strconv.Atoi(strings.TrimSpace(str("timeout")))
	if err != nil || timeout < 0 {
		return nil, fmt.Errorf("alerta: timeout %q is not a number of seconds", str("timeout"))
	}
	m["origin"] = str("origin")
	m["timeout"] = timeout
	m["tags"] = list("tags")
	if !o.opts.Heartbeat {
		for _, k := range []string{"resource", "event", "environment", "severity", "group", "value", "type"} {
			if v := str(k); v != "" {
				m[k] = v
			}
		}
		if sev, _ := m["severity"].(string); sev != "" {
			m["severity"] = strings.ToLower(sev)
		}
		text := str("text")
		if _, set := o.one["text"]; !set {
			text, _ = e.Message()
		}
		m["text"] = text
		m["correlate"] = list("correlate")
		m["service"] = list("service")
		attrs := map[string]string{}
		for _, a := range o.attrs {
			attrs[a.key] = a.val.Render(e)
		}
		m["attributes"] = attrs
		if m["resource"] == nil || m["event"] == nil {
			return nil, errors.New("alerta: resource or event renders empty for this event")
		}
	}
	return json.Marshal(m)
}

// Write sends one request per event, up to pool_max at once.
func (o *Output) Write(ctx context.Context, events []*event.Event) error {
	if o.client == nil {
		return engine.ErrNotConnected
	}
	return httpclient.SendEach(ctx, o.log, "alerta output request", o.opts.PoolMax, events, o.send)
}

// send posts one event; nil on success, Permanent for a failure for good.
func (o *Output) send(ctx context.Context, e *event.Event) error {
	body, err := o.body(e)
	if err != nil {
		o.log.Error("alerta output: the event cannot be sent, it failed", "error", err)
		return engine.Permanent(err)
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	if o.opts.APIKey != "" {
		h.Set("Authorization", "Key "+o.opts.APIKey)
	}
	where := "POST " + redact.URL(o.endpoint)
	res, err := o.client.Do(ctx, "POST", o.endpoint, body, h)
	if err != nil {
		err = fmt.Errorf("alerta: %s: %w", where, tlsopt.Explain(err))
		o.log.Warn("alerta output: request failed, will retry", "error", err)
		return err
	}
	defer res.Body.Close()
	head := httpclient.ReadHead(res)
	code := res.StatusCode
	if code >= 200 && code <= 299 {
		return nil
	}
	head = bytes.TrimSpace(head)
	if o.opts.APIKey != "" {
		head = bytes.ReplaceAll(head, []byte(o.opts.APIKey), []byte("[api_key]"))
	}
	err = fmt.Errorf("alerta: %s answered %d %s: %s", where, code, http.StatusText(code), head)
	if code == http.StatusTooManyRequests || code >= 500 {
		o.log.Warn("alerta output: retryable answer, will retry", "code", code, "error", err)
		return err
	}
	o.log.Error("alerta output: Alerta refused the event, it failed", "code", code, "error", err)
	return engine.Permanent(err)
}
