package http

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/engine/redact"
	"github.com/pipelined/pipeline/plugins/internal/httpclient"
	"github.com/pipelined/pipeline/plugins/internal/tlsopt"
)

// Options configures the http output.
type Options struct {
	// URL is where requests go, a sprintf template rendered per event
	// ("https://alerta:8080/api/%{[kind]}"); with format json_batch it is
	// used as written, as Logstash does.
	URL string `hcl:"url"`
	// HTTPMethod is the request method: "put", "post", "patch", "delete",
	// "get" or "head".
	HTTPMethod string `hcl:"http_method"`
	// Format is the body: "json" (one request per event: the event, or
	// mapping, as a JSON object), "json_batch" (one request per batch: a
	// JSON array of them), "form" (one request per event:
	// application/x-www-form-urlencoded fields of the event or mapping) or
	// "message" (one request per event: message rendered).
	Format string `hcl:"format,optional"`
	// Message is the body of format "message", a sprintf template; required
	// with it.
	Message string `hcl:"message,optional"`
	// Mapping chooses what is sent instead of the whole event: a hash whose
	// values are sprintf templates, nested hashes or arrays of them
	// (`mapping => { "resource" => "%{host}" "attributes" => { "ip" =>
	// "%{[source][ip]}" } }`). Every value is sent as a string, as Logstash
	// does. Ignored (with a warning) by format "message".
	Mapping engine.AnyHash `hcl:"mapping,optional"`
	// Headers are added to every request; values are sprintf templates
	// (used as written with json_batch, as Logstash does). A header whose
	// name says it holds a secret (Authorization) is never logged.
	Headers engine.Hash `hcl:"headers,optional"`
	// ContentType is the Content-Type header; unset, "application/json" for
	// json and json_batch, "application/x-www-form-urlencoded" for form and
	// "text/plain" for message.
	ContentType string `hcl:"content_type,optional"`
	// HTTPCompression gzips request bodies (Content-Encoding: gzip).
	HTTPCompression bool `hcl:"http_compression,optional"`
	// RetryFailed retries requests answered with a retryable_codes status
	// or that failed without an answer (timeout, connection refused or
	// reset), with the pipeline's backoff, until they succeed. When false,
	// they fail for good at once, as any other non-2xx answer does.
	RetryFailed bool `hcl:"retry_failed,optional"`
	// RetryableCodes are the HTTP status codes retried.
	RetryableCodes []int `hcl:"retryable_codes,optional"`
	// IgnorableCodes are non-2xx status codes counted as success.
	IgnorableCodes []int `hcl:"ignorable_codes,optional"`
	// The HTTP client options of Logstash's http_client mixin.
	httpclient.Options
	// The ssl_* options apply to https:// URLs (TLS is on for them; setting
	// ssl_enabled => false with one is refused). The CA and certificate
	// files are read when the output connects.
	tlsopt.Client
	tlsopt.MixinAliases
	tlsopt.JavaStores
}

// formats are the format values.
var formats = map[string]string{
	"json":       "application/json",
	"json_batch": "application/json",
	"form":       "application/x-www-form-urlencoded",
	"message":    "text/plain",
}

// methods are the http_method values.
var methods = []string{"put", "post", "patch", "delete", "get", "head"}

// Defaults sets Logstash's defaults.
func (o *Options) Defaults() {
	o.Format = "json"
	o.RetryFailed = true
	o.RetryableCodes = []int{429, 500, 502, 503, 504}
	o.Options.Defaults()
	o.Client.Defaults()
	// The mixin's ssl_supported_protocols default is the JVM's; ours is
	// tlsopt's (TLSv1.2 and TLSv1.3).
}

func fieldErr(field, format string, args ...any) error {
	return &engine.FieldError{Field: field, Err: fmt.Errorf(format, args...)}
}

// Validate checks the options; it reads no file.
func (o *Options) Validate() error {
	known := false
	for _, m := range methods {
		known = known || m == o.HTTPMethod
	}
	if !known {
		return fieldErr("http_method", "unsupported value %q: use one of %s", o.HTTPMethod, strings.Join(methods, ", "))
	}
	if _, ok := formats[o.Format]; !ok {
		return fieldErr("format", "unsupported value %q: use json, json_batch, form or message", o.Format)
	}
	if o.Format == "message" && o.Message == "" {
		return fieldErr("message", "required with format => \"message\"")
	}
	tmpl, err := event.ParseTemplate(o.URL)
	if err != nil {
		return fieldErr("url", "%v", err)
	}
	scheme := ""
	if o.Format == "json_batch" && !tmpl.IsConstant() {
		return fieldErr("url", "url is used as written with format => \"json_batch\" (one request for many events, as Logstash): it cannot hold %%{...}")
	}
	if tmpl.IsConstant() {
		u, err := url.Parse(o.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fieldErr("url", "%q is not an http:// or https:// URL", redact.URL(o.URL))
		}
		scheme = u.Scheme
	} else if s, _, ok := strings.Cut(o.URL, "://"); ok && !strings.Contains(s, "%{") {
		scheme = strings.ToLower(s)
		if scheme != "http" && scheme != "https" {
			return fieldErr("url", "%q: unsupported scheme %q: want http or https", redact.URL(o.URL), s)
		}
	}
	if o.Message != "" {
		if _, err := event.ParseTemplate(o.Message); err != nil {
			return fieldErr("message", "%v", err)
		}
	}
	if _, err := compileMapping(o.Mapping); err != nil {
		return fieldErr("mapping", "%v", err)
	}
	for _, h := range o.Headers {
		if h.Key == "" || strings.ContainsAny(h.Key, " :\r\n") || strings.ContainsAny(h.Value, "\r\n") {
			return fieldErr("headers", "%q is not an HTTP header name and value", h.Key)
		}
		if _, err := event.ParseTemplate(h.Value); err != nil {
			return fieldErr("headers", "%s: %v", h.Key, err)
		}
	}
	if strings.ContainsAny(o.ContentType, "\r\n") {
		return fieldErr("content_type", "must be one line")
	}
	for _, c := range o.RetryableCodes {
		if c < 100 || c > 599 {
			return fieldErr("retryable_codes", "%d is not an HTTP status code", c)
		}
	}
	for _, c := range o.IgnorableCodes {
		if c < 100 || c > 599 {
			return fieldErr("ignorable_codes", "%d is not an HTTP status code", c)
		}
	}
	if err := o.Options.Validate(); err != nil {
		return err
	}
	if err := o.MixinAliases.Validate(o.Client); err != nil {
		return err
	}
	if err := o.JavaStores.Validate(); err != nil {
		return err
	}
	if o.SSLEnabled != nil && !*o.SSLEnabled && scheme == "https" {
		return fieldErr("ssl_enabled", "ssl_enabled => false but url is https://")
	}
	// TLS is used for https:// URLs; a URL whose scheme comes from a field
	// may be one.
	on := scheme != "http" || o.Enabled()
	return o.MixinAliases.Apply(o.Client).Validate(on)
}

// method is the request method in upper case.
func (o *Options) method() string { return strings.ToUpper(o.HTTPMethod) }

// contentType is content_type or the format's default.
func (o *Options) contentType() string {
	if o.ContentType != "" {
		return o.ContentType
	}
	return formats[o.Format]
}

// staticHeaders are headers as written, with Content-Type (json_batch).
func (o *Options) staticHeaders() http.Header {
	h := http.Header{}
	for _, e := range o.Headers {
		h.Set(e.Key, e.Value)
	}
	h.Set("Content-Type", o.contentType())
	return h
}
