package elasticsearch

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/redact"
	"github.com/pipelined/pipeline/plugins/internal/cloudid"
)

// HTTPOptions are Logstash's options for reaching the cluster beyond hosts
// and credentials: Elastic Cloud, a path prefix, a proxy, extra headers and
// query parameters, and the connection-pool tuning Logstash's Java client
// takes (accepted; Go's client sizes its pool itself).
type HTTPOptions struct {
	// CloudID is an Elastic Cloud deployment's Cloud ID ("<label>:<base64>"):
	// it names the https:// host to use instead of hosts, which must then be
	// left unset.
	CloudID string `hcl:"cloud_id,optional"`
	// CloudAuth is "<user>:<password>" for an Elastic Cloud deployment, in
	// place of user and password. It is never logged.
	CloudAuth string `hcl:"cloud_auth,optional"`
	// Path is a path prefix for every request, for hosts written without
	// one (Elasticsearch behind a proxy that maps it under a path); a host
	// with a path of its own and path together are refused.
	Path string `hcl:"path,optional"`
	// Proxy is the URL of an HTTP proxy to send requests through; empty (the
	// default) uses none, whatever the environment says.
	Proxy string `hcl:"proxy,optional"`
	// CustomHeaders are HTTP headers added to every request.
	CustomHeaders engine.Hash `hcl:"custom_headers,optional"`
	// Parameters are query parameters added to every request.
	Parameters engine.Hash `hcl:"parameters,optional"`
	// BulkPath is the path of bulk requests under each host's URL; unset,
	// "/_bulk". Unless it sets filter_path, answers are asked to hold only
	// what the output reads (filter_path=errors,items.*.error,items.*.status,
	// as Logstash asks).
	BulkPath string `hcl:"bulk_path,optional"`
	// Sniffing asks the cluster for its nodes in Logstash. Accepted for
	// compatibility: requests go to hosts as written (a warning says so when
	// it is true).
	Sniffing bool `hcl:"sniffing,optional"`
	// SniffingDelay is accepted for compatibility: see sniffing.
	SniffingDelay float64 `hcl:"sniffing_delay,optional"`
	// SniffingPath is accepted for compatibility: see sniffing.
	SniffingPath string `hcl:"sniffing_path,optional"`
	// PoolMax is accepted for compatibility (Logstash's connection pool size).
	PoolMax int `hcl:"pool_max,optional"`
	// PoolMaxPerRoute is accepted for compatibility (Logstash's connections
	// per node).
	PoolMaxPerRoute int `hcl:"pool_max_per_route,optional"`
	// ResurrectDelay is accepted for compatibility: a node that failed is
	// tried again at the next retry.
	ResurrectDelay float64 `hcl:"resurrect_delay,optional"`
	// ValidateAfterInactivity is accepted for compatibility (Logstash's stale
	// connection check, in milliseconds).
	ValidateAfterInactivity int `hcl:"validate_after_inactivity,optional"`
	// HealthcheckPath is accepted for compatibility: nodes are checked with
	// GET / under their path.
	HealthcheckPath string `hcl:"healthcheck_path,optional"`
}

func (o *HTTPOptions) defaults() {
	o.SniffingDelay = 5
	o.PoolMax = 1000
	o.PoolMaxPerRoute = 100
	o.ResurrectDelay = 5
	o.ValidateAfterInactivity = 10000
}

// defaultHosts is hosts' default: set to anything else, hosts was given.
var defaultHosts = []string{"//127.0.0.1"}

// validateHTTP checks the HTTP options (cloud_id against hosts, cloud_auth
// against user and api_key, the proxy URL, path against host paths).
func (o *Options) validateHTTP() error {
	fe := func(f, format string, args ...any) error {
		return &engine.FieldError{Field: f, Err: fmt.Errorf(format, args...)}
	}
	if o.CloudID != "" {
		if !slices.Equal(o.Hosts, defaultHosts) {
			return fe("cloud_id", "set either cloud_id or hosts, not both")
		}
		if _, err := cloudHost(o.CloudID); err != nil {
			return fe("cloud_id", "%v", err)
		}
	}
	if o.CloudAuth != "" {
		if o.User != "" || o.Password != "" {
			return fe("cloud_auth", "set either cloud_auth or user and password, not both")
		}
		if o.APIKey != "" {
			return fe("cloud_auth", "set either cloud_auth or api_key, not both")
		}
		if u, _, ok := strings.Cut(o.CloudAuth, ":"); !ok || u == "" {
			return fe("cloud_auth", "want \"<user>:<password>\"")
		}
	}
	if o.Proxy != "" {
		u, err := url.Parse(o.Proxy)
		if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "socks5") {
			return fe("proxy", "%q is not a proxy URL (http://host:port)", redact.URL(o.Proxy))
		}
	}
	if p := strings.Trim(o.Path, "/"); p != "" && o.CloudID == "" {
		for _, h := range o.Hosts {
			raw := h
			if !strings.Contains(h, "://") && !strings.HasPrefix(h, "//") {
				raw = "//" + h
			}
			if u, err := url.Parse(raw); err == nil && strings.Trim(u.Path, "/") != "" {
				return fe("path", "host %q has a path of its own: set the path in every host or in path, not both", redact.URL(h))
			}
		}
	}
	for _, h := range o.CustomHeaders {
		if h.Key == "" || strings.ContainsAny(h.Key, " :\r\n") || strings.ContainsAny(h.Value, "\r\n") {
			return fe("custom_headers", "%q is not an HTTP header name and value", h.Key)
		}
	}
	return nil
}

// cloudHost decodes a Cloud ID into the Elasticsearch URL it names.
var cloudHost = cloudid.Host

// hostList returns hosts as configured: the Cloud ID's host, or hosts with
// path added where they have none.
func (o *Options) hostList() []string {
	if o.CloudID != "" {
		h, _ := cloudHost(o.CloudID)
		return []string{h}
	}
	p := strings.Trim(o.Path, "/")
	if p == "" {
		return o.Hosts
	}
	out := make([]string, len(o.Hosts))
	for i, h := range o.Hosts {
		out[i] = strings.TrimRight(strings.TrimSpace(h), "/") + "/" + p
	}
	return out
}

// applyHTTP sets the proxy of the client's transport.
func (o *Options) proxyFunc() func(*http.Request) (*url.URL, error) {
	if o.Proxy == "" {
		return nil // never an environment proxy: hosts are what is configured
	}
	u, _ := url.Parse(o.Proxy)
	return http.ProxyURL(u)
}

// headers returns custom_headers as an http.Header (nil when none).
func (o *Options) headers() http.Header {
	if len(o.CustomHeaders) == 0 {
		return nil
	}
	h := http.Header{}
	for _, e := range o.CustomHeaders {
		h.Add(e.Key, e.Value)
	}
	return h
}

// addParameters adds parameters to a request's query.
func addParameters(u *url.URL, params engine.Hash) {
	if len(params) == 0 {
		return
	}
	// Appended as written, so that the query already there (filter_path)
	// keeps its form.
	var b strings.Builder
	b.WriteString(u.RawQuery)
	for _, p := range params {
		if b.Len() > 0 {
			b.WriteByte('&')
		}
		b.WriteString(url.QueryEscape(p.Key) + "=" + url.QueryEscape(p.Value))
	}
	u.RawQuery = b.String()
}

// ErrorOptions say what happens to documents Elasticsearch refuses.
type ErrorOptions struct {
	// DLQCustomCodes are further item statuses that fail an event for good
	// (dead letter queue) rather than being retried; 400 and 404 always do,
	// and so does every status other than 429 and 5xx here.
	DLQCustomCodes []int `hcl:"dlq_custom_codes,optional"`
	// DLQOnFailedIndexnameInterpolation fails an event for good when the
	// index still holds a %{...} reference after rendering (the event lacks
	// the field); false sends it as it is, for Elasticsearch to refuse.
	DLQOnFailedIndexnameInterpolation bool `hcl:"dlq_on_failed_indexname_interpolation,optional"`
	// DropErrorTypes are item error types (such as
	// "version_conflict_engine_exception") whose events are dropped: counted
	// as delivered, not retried and not dead-lettered, with a warning unless
	// silenced.
	DropErrorTypes []string `hcl:"drop_error_types,optional"`
	// SilenceErrorsInLog are item error types that are not logged.
	SilenceErrorsInLog []string `hcl:"silence_errors_in_log,optional"`
	// FailureTypeLoggingWhitelist is the old name of silence_errors_in_log.
	// Deprecated: accepted with a warning.
	FailureTypeLoggingWhitelist []string `hcl:"failure_type_logging_whitelist,optional"`
}

func (o *ErrorOptions) defaults() { o.DLQOnFailedIndexnameInterpolation = true }

// validate checks dlq_custom_codes as Logstash does.
func (o *ErrorOptions) validate() error {
	for _, c := range o.DLQCustomCodes {
		bad := ""
		switch {
		case c == 400 || c == 404:
			bad = "already goes to the dead letter queue"
		case c == 200 || c == 201:
			bad = "is a success code"
		case c == 409:
			bad = "is the conflict code"
		case c < 100 || c > 599:
			bad = "is not an HTTP status"
		}
		if bad != "" {
			return &engine.FieldError{Field: "dlq_custom_codes", Err: fmt.Errorf("%d %s", c, bad)}
		}
	}
	return nil
}

// errorType returns the type of an item's error ("" when none).
func errorType(raw []byte) string {
	var e struct {
		Type string `json:"type"`
	}
	if len(raw) == 0 || json.Unmarshal(raw, &e) != nil {
		return ""
	}
	return e.Type
}

// bulkPath is the path and query of bulk requests for bulk_path.
func bulkPath(opt string) string {
	p := "/_bulk"
	if opt != "" {
		p = "/" + strings.TrimLeft(opt, "/")
		for strings.Contains(p, "//") {
			p = strings.ReplaceAll(p, "//", "/")
		}
	}
	if strings.Contains(p, "?filter_path=") || strings.Contains(p, "&filter_path=") {
		return p
	}
	sep := "?"
	if strings.Contains(p, "?") {
		sep = "&"
	}
	return p + sep + "filter_path=errors,items.*.error,items.*.status"
}
