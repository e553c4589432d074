// Package httpclient declares once the options of Logstash's HTTP client
// mixin (logstash-mixin-http_client: timeouts, connection pool, keepalive,
// automatic retries, redirects, cookies, proxy, basic authentication), as an
// option group that plugins embed in their Options struct, and builds the Go
// client they describe. The http output uses it; the http_poller input would.
//
// The ssl_* options are tlsopt.Client's; New takes the *tls.Config its
// Config loaded.
package httpclient

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"time"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/redact"
)

// Options are the HTTP client options of Logstash's http_client mixin, with
// its names and defaults.
type Options struct {
	// RequestTimeout bounds a whole request (connecting, sending, reading
	// the answer), in seconds.
	RequestTimeout float64 `hcl:"request_timeout,optional"`
	// SocketTimeout is how long, in seconds, to wait for the server to start
	// answering once the request is sent (Go's client has no per-read
	// timeout: this bounds the wait for the response headers).
	SocketTimeout float64 `hcl:"socket_timeout,optional"`
	// ConnectTimeout bounds establishing a connection (TCP and TLS), in
	// seconds.
	ConnectTimeout float64 `hcl:"connect_timeout,optional"`
	// FollowRedirects follows 3xx answers (up to 10) when true.
	FollowRedirects bool `hcl:"follow_redirects,optional"`
	// PoolMax is the most connections open at once, and the most requests
	// an output sends at once.
	PoolMax int `hcl:"pool_max,optional"`
	// PoolMaxPerRoute is the most connections open at once to one host.
	PoolMaxPerRoute int `hcl:"pool_max_per_route,optional"`
	// Keepalive reuses connections between requests when true.
	Keepalive bool `hcl:"keepalive,optional"`
	// AutomaticRetries is how many times a request that failed without an
	// answer (connection refused, reset, timed out) is sent again at once,
	// for idempotent methods (GET, HEAD, PUT, DELETE, OPTIONS, TRACE), or for
	// every method with retry_non_idempotent. The plugin's own retries come
	// after these.
	AutomaticRetries int `hcl:"automatic_retries,optional"`
	// RetryNonIdempotent lets automatic_retries resend POST and PATCH
	// requests too.
	RetryNonIdempotent bool `hcl:"retry_non_idempotent,optional"`
	// ValidateAfterInactivity is accepted for compatibility (the Java
	// client's stale-connection check, in milliseconds): Go's client
	// detects a connection the server closed when it reuses it, and
	// automatic_retries covers the rest.
	ValidateAfterInactivity int `hcl:"validate_after_inactivity,optional"`
	// Cookies keeps the cookies servers set and sends them back, as a
	// browser does, when true.
	Cookies bool `hcl:"cookies,optional"`
	// Proxy is the URL of an HTTP proxy ("http://proxy:3128", with
	// user:password@ if it asks for them); unset, no proxy is used whatever
	// the environment says. Logstash's hash form is not accepted: write the
	// URL.
	Proxy string `hcl:"proxy,optional"`
	// User is the user name for HTTP basic authentication, sent with every
	// request (password is then required).
	User string `hcl:"user,optional"`
	// Password is the basic authentication password. It is never logged.
	Password string `hcl:"password,optional"`
}

// DocTitle names the group in the plugin reference.
func (Options) DocTitle() string { return "HTTP client" }

// Defaults sets the mixin's defaults.
func (o *Options) Defaults() {
	o.RequestTimeout = 60
	o.SocketTimeout = 10
	o.ConnectTimeout = 10
	o.FollowRedirects = true
	o.PoolMax = 50
	o.PoolMaxPerRoute = 25
	o.Keepalive = true
	o.AutomaticRetries = 1
	o.ValidateAfterInactivity = 200
	o.Cookies = true
}

func fieldErr(field, format string, args ...any) error {
	return &engine.FieldError{Field: field, Err: fmt.Errorf(format, args...)}
}

// Validate checks the options; it reads nothing.
func (o Options) Validate() error {
	for _, t := range []struct {
		name string
		v    float64
	}{{"request_timeout", o.RequestTimeout}, {"socket_timeout", o.SocketTimeout}, {"connect_timeout", o.ConnectTimeout}} {
		if t.v <= 0 {
			return fieldErr(t.name, "must be above 0 (seconds)")
		}
	}
	if o.PoolMax < 1 {
		return fieldErr("pool_max", "must be at least 1")
	}
	if o.PoolMaxPerRoute < 1 {
		return fieldErr("pool_max_per_route", "must be at least 1")
	}
	if o.AutomaticRetries < 0 {
		return fieldErr("automatic_retries", "must not be negative")
	}
	if o.Proxy != "" {
		u, err := url.Parse(o.Proxy)
		if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "socks5") {
			return fieldErr("proxy", "%q is not a proxy URL (http://host:port)", redact.URL(o.Proxy))
		}
	}
	if o.User != "" && o.Password == "" {
		// The mixin's words: "User '…' specified without password!"
		return fieldErr("password", "user %q is set without a password", o.User)
	}
	if o.Password != "" && o.User == "" {
		return fieldErr("user", "password is set without a user")
	}
	return nil
}

func seconds(f float64) time.Duration { return time.Duration(f * float64(time.Second)) }

// Client sends requests as the options say.
type Client struct {
	HTTP    *http.Client
	opts    Options
	retries int
}

// New builds the client of validated options; tlsCfg (nil for Go's
// defaults) is used for https:// URLs.
func New(o Options, tlsCfg *tls.Config) *Client {
	dialer := &net.Dialer{Timeout: seconds(o.ConnectTimeout), KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		DialContext:           dialer.DialContext,
		TLSClientConfig:       tlsCfg,
		TLSHandshakeTimeout:   seconds(o.ConnectTimeout),
		ResponseHeaderTimeout: seconds(o.SocketTimeout),
		MaxIdleConns:          o.PoolMax,
		MaxIdleConnsPerHost:   o.PoolMaxPerRoute,
		MaxConnsPerHost:       o.PoolMaxPerRoute,
		IdleConnTimeout:       90 * time.Second,
		DisableKeepAlives:     !o.Keepalive,
		ForceAttemptHTTP2:     tlsCfg == nil,
	}
	if o.Proxy != "" {
		u, _ := url.Parse(o.Proxy)
		tr.Proxy = http.ProxyURL(u)
	}
	c := &http.Client{Transport: tr, Timeout: seconds(o.RequestTimeout)}
	if !o.FollowRedirects {
		c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	}
	if o.Cookies {
		c.Jar, _ = cookiejar.New(nil)
	}
	return &Client{HTTP: c, opts: o, retries: o.AutomaticRetries}
}

// idempotent are the methods automatic_retries resends without
// retry_non_idempotent (Apache HttpClient's list).
var idempotent = map[string]bool{"GET": true, "HEAD": true, "PUT": true, "DELETE": true, "OPTIONS": true, "TRACE": true}

// Do sends a request with method to url with body (which may be nil) and
// headers, with basic authentication when user is set, resending it up to
// automatic_retries times when it failed without an answer. The caller
// closes the response body.
func (c *Client) Do(ctx context.Context, method, rawURL string, body []byte, header http.Header) (*http.Response, error) {
	attempts := 1
	if idempotent[method] || c.opts.RetryNonIdempotent {
		attempts += c.retries
	}
	var err error
	for i := 0; i < attempts; i++ {
		var req *http.Request
		var rd io.Reader
		if body != nil {
			rd = bytes.NewReader(body)
		}
		req, err = http.NewRequestWithContext(ctx, method, rawURL, rd)
		if err != nil {
			return nil, err
		}
		for k, vs := range header {
			req.Header[k] = vs
		}
		if c.opts.User != "" {
			req.SetBasicAuth(c.opts.User, c.opts.Password)
		}
		var res *http.Response
		res, err = c.HTTP.Do(req)
		if err == nil {
			return res, nil
		}
		if ctx.Err() != nil {
			break
		}
	}
	return nil, cleanErr(err)
}

// cleanErr strips a *url.Error of its URL's password.
func cleanErr(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s %s: %w", ue.Op, redact.URL(ue.URL), ue.Err)
	}
	return err
}

// Close closes idle connections.
func (c *Client) Close() { c.HTTP.CloseIdleConnections() }
