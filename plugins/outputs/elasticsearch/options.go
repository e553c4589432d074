package elasticsearch

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/redact"
	"github.com/pipelined/pipeline/plugins/internal/tlsopt"
)

// Options configures the elasticsearch output.
type Options struct {
	// Hosts are the Elasticsearch nodes, each a URL ("https://es1:9200",
	// "http://127.0.0.1:4080/es": a path is kept as a prefix of every request)
	// or "host[:port]" (port 9200; the scheme follows ssl_enabled). Requests go
	// round robin to the nodes that answer.
	Hosts []string `hcl:"hosts,optional"`
	DocumentOptions
	TemplateOptions
	ILMOptions
	DataStreamOptions
	HTTPOptions
	ErrorOptions
	// User is the user name for HTTP basic authentication (with password).
	User string `hcl:"user,optional"`
	// Password is the basic authentication password. It is never logged.
	Password string `hcl:"password,optional"`
	// APIKey authenticates with an Elasticsearch API key, written "id:api_key"
	// as Elasticsearch returns them (or already base64-encoded); it requires
	// TLS and excludes user.
	APIKey string `hcl:"api_key,optional"`
	// The ssl_* options, and their Logstash 7 names. Unset, ssl_enabled
	// lets the hosts' schemes decide (plain HTTP for hosts without one); when
	// it is true, every host must be https:// or have no scheme: an http://
	// host is refused by check, so that events are never sent in plaintext
	// while TLS is asked for. The CA and certificate files are read when
	// connecting.
	tlsopt.Client
	tlsopt.ClientAliases
	// Timeout bounds each request (connecting, sending the bulk and reading
	// the answer), in seconds. A request that times out is retried.
	Timeout float64 `hcl:"timeout,optional"`
	// RetryInitialInterval is accepted for compatibility: retries follow the
	// pipeline's backoff (100 ms doubling up to 30 s by default).
	RetryInitialInterval float64 `hcl:"retry_initial_interval,optional"`
	// RetryMaxInterval is accepted for compatibility: see
	// retry_initial_interval.
	RetryMaxInterval float64 `hcl:"retry_max_interval,optional"`
	// HTTPCompression is the old form of compression_level: true is level 1,
	// false is 0 (no compression). Deprecated: accepted with a warning; set
	// compression_level.
	HTTPCompression *bool `hcl:"http_compression,optional"`
	// CompressionLevel is the gzip level of request bodies, 1 (fastest) to 9
	// (smallest); 0 sends them uncompressed (needed for servers that do not
	// accept gzip, such as ZincSearch).
	CompressionLevel int `hcl:"compression_level,optional"`
	// TargetBulkBytes is the size a bulk request grows to before the batch is
	// split into another request (not a Logstash option: Logstash fixes it at
	// 20 MiB). An event larger than this goes alone in its own request.
	TargetBulkBytes int `hcl:"target_bulk_bytes,optional"`
}

// Defaults sets Logstash's defaults.
func (o *Options) Defaults() {
	o.Hosts = []string{"//127.0.0.1"}
	o.DocumentOptions.defaults()
	o.TemplateOptions.defaults()
	o.ILMOptions.defaults()
	o.DataStreamOptions.defaults()
	o.HTTPOptions.defaults()
	o.ErrorOptions.defaults()
	o.Client.Defaults()
	o.Timeout = 60
	o.RetryInitialInterval = 2
	o.RetryMaxInterval = 64
	o.CompressionLevel = 1
	o.TargetBulkBytes = 20 << 20
}

// compressionLevel is the gzip level in effect: compression_level, or what
// the deprecated http_compression says.
func (o *Options) compressionLevel() int {
	if o.HTTPCompression != nil {
		if *o.HTTPCompression {
			return 1
		}
		return 0
	}
	return o.CompressionLevel
}

// actions are the bulk actions.
var actions = map[string]bool{"index": true, "create": true, "update": true, "delete": true}

// Validate checks the options. It reads no file.
func (o *Options) Validate() error {
	fe := func(f, format string, args ...any) error {
		return &engine.FieldError{Field: f, Err: fmt.Errorf(format, args...)}
	}
	if err := o.validateHTTP(); err != nil {
		return err
	}
	if err := o.ErrorOptions.validate(); err != nil {
		return err
	}
	if _, err := o.endpoints(); err != nil {
		return err
	}
	if _, err := o.plan(); err != nil {
		return err
	}
	tlsOn := o.tls()
	if err := o.ClientAliases.Validate(o.Client, tlsOn); err != nil {
		return err
	}
	if err := o.Client.Validate(tlsOn); err != nil {
		return err
	}
	if o.APIKey != "" {
		if o.User != "" {
			return fe("api_key", "set either api_key or user and password, not both")
		}
		if !tlsOn {
			return fe("api_key", "an API key is only sent over TLS: use https:// hosts or set ssl_enabled => true")
		}
	}
	if o.Password != "" && o.User == "" {
		return fe("password", "user is required with password")
	}
	if o.Timeout < 1 {
		return fe("timeout", "must be at least 1 (seconds)")
	}
	if o.RetryInitialInterval < 1 {
		return fe("retry_initial_interval", "must be at least 1 (seconds)")
	}
	if o.RetryMaxInterval < o.RetryInitialInterval {
		return fe("retry_max_interval", "must be at least retry_initial_interval (%g)", o.RetryInitialInterval)
	}
	if o.CompressionLevel < 0 || o.CompressionLevel > 9 {
		return fe("compression_level", "must be between 0 (no compression) and 9")
	}
	if o.HTTPCompression != nil && o.CompressionLevel != 1 {
		return fe("http_compression", "set compression_level only (http_compression is its deprecated form)")
	}
	if o.TargetBulkBytes < 1024 {
		return fe("target_bulk_bytes", "must be at least 1024")
	}
	return nil
}

// tls reports whether requests use TLS (the options being valid).
func (o *Options) tls() bool {
	eps, err := o.endpoints()
	return err == nil && len(eps) > 0 && eps[0].Scheme == "https"
}

// endpoints parses hosts into URLs with a scheme and a port, applying
// ssl_enabled. It refuses an http:// host while ssl_enabled is true (and an
// https:// one while it is false), and a mix of schemes, as Logstash does.
// User information in a URL is kept for the caller to move into the client's
// credentials.
func (o *Options) endpoints() ([]*url.URL, error) {
	bad := func(format string, args ...any) error {
		return &engine.FieldError{Field: "hosts", Err: fmt.Errorf(format, args...)}
	}
	if len(o.Hosts) == 0 {
		return nil, bad("list at least one host")
	}
	ssl, sslName := o.ClientAliases.Enabled(o.Client)
	var out []*url.URL
	scheme := ""
	for _, h := range o.hostList() {
		h = strings.TrimSpace(h)
		if h == "" {
			return nil, bad("a host must not be empty")
		}
		raw := h
		if !strings.Contains(h, "://") && !strings.HasPrefix(h, "//") {
			raw = "//" + h
		}
		u, err := url.Parse(raw)
		if err != nil || u.Host == "" || u.Opaque != "" {
			return nil, bad("%q is not a host, host:port or URL", redact.URL(h))
		}
		switch u.Scheme {
		case "":
		case "http", "https":
			if ssl != nil && *ssl && u.Scheme == "http" {
				return nil, bad("%s => true but host %q is http://, which would send every event in plaintext; write %q (or drop the scheme and keep %s => true)",
					sslName, redactURL(u), "https://"+hostPath(u), sslName)
			}
			if ssl != nil && !*ssl && u.Scheme == "https" {
				return nil, bad("%s => false but host %q is https://; write %q, or set %s => true",
					sslName, redactURL(u), "http://"+hostPath(u), sslName)
			}
		default:
			return nil, bad("%q: unsupported scheme %q: want http or https", redact.URL(h), u.Scheme)
		}
		if u.RawQuery != "" || u.Fragment != "" {
			return nil, bad("%q: a query or fragment is not supported", redactURL(u))
		}
		if u.Scheme == "" {
			u.Scheme = "http"
			if ssl != nil && *ssl {
				u.Scheme = "https"
			}
		}
		if scheme != "" && u.Scheme != scheme {
			return nil, bad("hosts mix http and https; use one scheme for every host")
		}
		scheme = u.Scheme
		if p := u.Port(); p == "" {
			u.Host = net.JoinHostPort(u.Hostname(), "9200")
		} else if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return nil, bad("%q: bad port", redactURL(u))
		}
		u.Path = strings.TrimRight(u.Path, "/")
		u.RawPath = ""
		out = append(out, u)
	}
	return out, nil
}

// hostPath is u without scheme and user information.
func hostPath(u *url.URL) string { return u.Host + u.Path }

// redactURL returns u as a string without its password.
func redactURL(u *url.URL) string { return redact.URL(u.String()) }
