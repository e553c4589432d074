// Package http implements the http input, like Logstash's: it accepts HTTP
// (or HTTPS) requests and turns each request's body into events with a codec
// chosen by the request's Content-Type (additional_codecs, "application/json"
// to json by default), or the input's codec (plain by default). Any method
// and path are accepted.
//
// Each event gets the client's IP address in remote_host_target_field and the
// request's headers, names lower-cased with "-" turned into "_", plus
// request_method, request_path (the path with its query), http_version,
// http_host, http_accept and http_user_agent, in
// request_headers_target_field. With ecs_compatibility => disabled they go to
// [host] and [headers]; with ECS (v1, v8) to [host][ip] and
// [@metadata][input][http][request][headers], and the event also gets
// [http][method], [http][version], [http][request][mime_type],
// [http][request][body][bytes], [url][domain], [url][port], [url][path] and
// [user_agent][original], as Logstash sets them.
//
// The response is sent once the request's events were accepted by the
// pipeline's queue (written to the persisted queue when there is one), as
// Logstash answers once it pushed them: response_code (200) with
// response_headers and the body "ok" (none for 204). A request is answered
// 401 without valid basic authentication when user and password are set,
// 413 when its body is larger than max_content_length, 500 when the codec
// cannot decode it (nothing of it is kept), and 503 while the pipeline stops.
//
// Back-pressure: threads requests are decoded and pushed at a time; up to
// max_pending_requests more wait for them; beyond that a request is answered
// 429 (Too Many Requests) at once, so that while the pipeline is full clients
// are told to retry rather than piling up connections, as Logstash does.
package http

import (
	"bytes"
	"context"
	"crypto/subtle"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pipelined/pipeline/dsl/ir"
	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/plugins/internal/ecs"
	"github.com/pipelined/pipeline/plugins/internal/tlsopt"
)

func init() { engine.RegisterInput("http", New, engine.WithDefaultCodec("plain")) }

// Options configures the http input. Names and defaults are Logstash's.
type Options struct {
	// Host is the address to listen on.
	Host string `hcl:"host,optional"`
	// Port is the port to listen on (0 picks a free one).
	Port int `hcl:"port,optional"`
	// User is the user name clients must send with HTTP basic
	// authentication (with password); unset, no authentication is asked.
	User string `hcl:"user,optional"`
	// Password goes with user. It is never logged.
	Password string `hcl:"password,optional"`
	tlsopt.Server
	tlsopt.Handshake
	// AdditionalCodecs maps request content types (without parameters, such
	// as "application/json") to the codec, with its default options, that
	// decodes their bodies; other content types use the input's codec.
	AdditionalCodecs engine.Hash `hcl:"additional_codecs,optional"`
	// ResponseHeaders are the headers of successful responses.
	ResponseHeaders engine.Hash `hcl:"response_headers,optional"`
	// ResponseCode is the status of successful responses: 200, 201, 202 or
	// 204 (without a body).
	ResponseCode int `hcl:"response_code,optional"`
	// RemoteHostTargetField is the field that gets the client's IP address.
	// Unset, it is "host", or "[host][ip]" with ECS compatibility.
	RemoteHostTargetField string `hcl:"remote_host_target_field,optional"`
	// RequestHeadersTargetField is the field that gets the request's headers.
	// Unset, it is "headers", or "[@metadata][input][http][request][headers]"
	// with ECS compatibility.
	RequestHeadersTargetField string `hcl:"request_headers_target_field,optional"`
	// Threads is how many requests are decoded and pushed to the pipeline at
	// a time; 0 (the default) is the number of CPUs, as in Logstash.
	Threads int `hcl:"threads,optional"`
	// MaxPendingRequests is how many more requests may wait for a thread;
	// beyond, requests are answered 429.
	MaxPendingRequests int `hcl:"max_pending_requests,optional"`
	// MaxContentLength is the largest body accepted, in bytes; a larger one
	// is answered 413.
	MaxContentLength int `hcl:"max_content_length,optional"`
	// ecs_compatibility chooses the target fields (see the description).
	ecs.Compatibility
}

// Defaults sets Logstash's defaults.
func (o *Options) Defaults() {
	o.Host = "0.0.0.0"
	o.Port = 8080
	o.Server.Defaults()
	o.Handshake.Defaults()
	o.AdditionalCodecs = engine.Hash{{Key: "application/json", Value: "json"}}
	o.ResponseHeaders = engine.Hash{{Key: "Content-Type", Value: "text/plain"}}
	o.ResponseCode = 200
	o.MaxPendingRequests = 200
	o.MaxContentLength = 100 << 20
	o.Compatibility.Defaults()
}

// Validate checks the options without I/O.
func (o *Options) Validate() error {
	fe := func(f, format string, args ...any) error {
		return &engine.FieldError{Field: f, Err: fmt.Errorf(format, args...)}
	}
	if o.Port < 0 || o.Port > 65535 {
		return fe("port", "must be between 0 and 65535")
	}
	if (o.User == "") != (o.Password == "") {
		if o.User == "" {
			return fe("user", "required with password")
		}
		return fe("password", "required with user")
	}
	if err := o.Server.Validate(); err != nil {
		return err
	}
	if err := o.Handshake.Validate(); err != nil {
		return err
	}
	for _, e := range o.AdditionalCodecs {
		mt, _, err := mime.ParseMediaType(e.Key)
		if err != nil || mt != strings.ToLower(e.Key) || !strings.Contains(mt, "/") {
			return fe("additional_codecs", "%q is not a content type such as \"application/json\" (without parameters)", e.Key)
		}
		if _, ok := engine.Default.Lookup(ir.Codec, e.Value); !ok {
			return fe("additional_codecs", "%q: there is no codec named %q", e.Key, e.Value)
		}
	}
	for _, e := range o.ResponseHeaders {
		if !headerName.MatchString(e.Key) || strings.ContainsAny(e.Value, "\r\n") {
			return fe("response_headers", "%q: not a valid header", e.Key)
		}
	}
	switch o.ResponseCode {
	case 200, 201, 202, 204:
	default:
		return fe("response_code", "unsupported value %d: want 200, 201, 202 or 204", o.ResponseCode)
	}
	for _, f := range []struct{ name, v string }{
		{"remote_host_target_field", o.RemoteHostTargetField}, {"request_headers_target_field", o.RequestHeadersTargetField},
	} {
		if f.v != "" {
			if _, err := event.ParseRef(f.v); err != nil {
				return fe(f.name, "%v", err)
			}
		}
	}
	if o.Threads < 0 {
		return fe("threads", "must not be negative (0 is the number of CPUs)")
	}
	if o.MaxPendingRequests < 0 {
		return fe("max_pending_requests", "must not be negative")
	}
	if o.MaxContentLength < 1 {
		return fe("max_content_length", "must be at least 1")
	}
	return o.Compatibility.Validate()
}

// headerName is an HTTP header name (RFC 9110 token).
var headerName = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")

// Input is the http input.
type Input struct {
	opts      Options
	log       *slog.Logger
	batch     int
	codec     engine.Codec
	codecs    map[string]engine.Codec // by content type
	token     string                  // the expected Authorization value, or ""
	hostRef   event.Ref
	headerRef event.Ref
	ecsOn     bool
	workers   chan struct{}
	admit     int64
	pending   atomic.Int64
	emit      engine.EmitFunc

	mu   sync.Mutex
	addr net.Addr
	up   chan struct{} // closed once listening

	rejected atomic.Int64
}

var _ engine.Input = (*Input)(nil)

// New builds the input and the codecs of additional_codecs. It opens
// nothing: Run listens.
func New(o Options, r engine.Resources) (*Input, error) {
	if r.Codec == nil {
		return nil, errors.New("http: no codec")
	}
	in := &Input{opts: o, log: r.Logger, batch: max(r.BatchSize, 1), codec: r.Codec,
		codecs: map[string]engine.Codec{}, ecsOn: o.ECS(), up: make(chan struct{})}
	if in.log == nil {
		in.log = slog.New(slog.DiscardHandler)
	}
	for _, e := range o.AdditionalCodecs {
		f, _ := engine.Default.Lookup(ir.Codec, e.Value)
		c, err := f.BuildWithDefaults(r)
		if err != nil {
			return nil, &engine.FieldError{Field: "additional_codecs", Err: fmt.Errorf("codec %q: %w", e.Value, err)}
		}
		in.codecs[e.Key] = c.(engine.Codec)
	}
	if o.User != "" {
		in.token = "Basic " + base64.StdEncoding.EncodeToString([]byte(o.User+":"+o.Password))
	}
	host, headers := o.RemoteHostTargetField, o.RequestHeadersTargetField
	if host == "" {
		host = "host"
		if in.ecsOn {
			host = "[host][ip]"
		}
	}
	if headers == "" {
		headers = "headers"
		if in.ecsOn {
			headers = "[@metadata][input][http][request][headers]"
		}
	}
	in.hostRef, in.headerRef = event.MustRef(host), event.MustRef(headers)
	threads := o.Threads
	if threads == 0 {
		threads = runtime.NumCPU()
	}
	in.workers = make(chan struct{}, threads)
	in.admit = int64(threads + o.MaxPendingRequests)
	return in, nil
}

// Addr is the address listened on, once Run listens (nil before).
func (in *Input) Addr() net.Addr {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.addr
}

// Listening is closed once Run listens.
func (in *Input) Listening() <-chan struct{} { return in.up }

// Counters reports the requests answered 429.
func (in *Input) Counters() []engine.Counter {
	return []engine.Counter{{Name: "requests_rejected", Help: "Requests answered 429 (Too Many Requests) because threads and max_pending_requests were all taken.", Value: in.rejected.Load()}}
}

// Run listens and serves until ctx is cancelled.
func (in *Input) Run(ctx context.Context, emit engine.EmitFunc) error {
	in.emit = emit
	cfg, err := in.opts.Server.Config()
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(in.opts.Host, strconv.Itoa(in.opts.Port)))
	if err != nil {
		return fmt.Errorf("http: could not bind to %s:%d: %w", in.opts.Host, in.opts.Port, err)
	}
	in.mu.Lock()
	in.addr = ln.Addr()
	in.mu.Unlock()
	srv := &http.Server{
		Handler:           in,
		ReadHeaderTimeout: 60 * time.Second,
		ErrorLog:          slog.NewLogLogger(in.log.Handler(), slog.LevelDebug),
	}
	if cfg != nil {
		cfg = cfg.Clone()
		cfg.NextProtos = []string{"http/1.1"}
		ln = &handshakeListener{Listener: ln, cfg: cfg, timeout: in.opts.Handshake.Timeout()}
	}
	in.log.Info("http: listening", "address", ln.Addr().String(), "ssl_enabled", cfg != nil)
	close(in.up)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	// Requests being pushed finish (emit returns while the pipeline stops);
	// then idle connections close.
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
	}
	<-done
	return nil
}

// handshakeListener does the TLS handshake of each connection with a
// deadline, so that a client that connects and says nothing holds no
// goroutine for long.
type handshakeListener struct {
	net.Listener
	cfg     *tls.Config
	timeout time.Duration
}

func (l *handshakeListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	tc := tls.Server(c, l.cfg)
	_ = c.SetDeadline(time.Now().Add(l.timeout))
	return &deadlineReset{Conn: tc}, nil
}

// deadlineReset completes the handshake on first use and lifts its deadline.
type deadlineReset struct {
	*tls.Conn
	once sync.Once
	err  error
}

func (c *deadlineReset) handshake() error {
	c.once.Do(func() {
		c.err = c.Conn.Handshake()
		_ = c.Conn.SetDeadline(time.Time{})
	})
	return c.err
}

func (c *deadlineReset) Read(p []byte) (int, error) {
	if err := c.handshake(); err != nil {
		return 0, err
	}
	return c.Conn.Read(p)
}

func (c *deadlineReset) Write(p []byte) (int, error) {
	if err := c.handshake(); err != nil {
		return 0, err
	}
	return c.Conn.Write(p)
}

// ConnectionState lets net/http see the TLS state (r.TLS).
func (c *deadlineReset) ConnectionState() tls.ConnectionState { return c.Conn.ConnectionState() }

// fail answers status with an empty body.
func fail(w http.ResponseWriter, status int) {
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(status)
}

// ServeHTTP handles one request: admission, authentication, decoding,
// pushing, answering.
func (in *Input) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if in.pending.Add(1) > in.admit {
		in.pending.Add(-1)
		in.rejected.Add(1)
		fail(w, http.StatusTooManyRequests)
		return
	}
	defer in.pending.Add(-1)
	select {
	case in.workers <- struct{}{}:
	case <-req.Context().Done():
		return
	}
	defer func() { <-in.workers }()

	if in.token != "" {
		got := req.Header.Get("Authorization")
		if got == "" {
			w.Header().Set("WWW-Authenticate", `Basic realm="Logstash HTTP Input"`)
			fail(w, http.StatusUnauthorized)
			return
		}
		if subtle.ConstantTimeCompare([]byte(got), []byte(in.token)) != 1 {
			fail(w, http.StatusUnauthorized)
			return
		}
	}
	req.Header.Del("Authorization") // never put in events
	limit := int64(in.opts.MaxContentLength)
	if req.ContentLength > limit {
		fail(w, http.StatusRequestEntityTooLarge)
		return
	}
	body, err := io.ReadAll(io.LimitReader(req.Body, limit+1))
	if err != nil {
		fail(w, http.StatusBadRequest)
		return
	}
	if int64(len(body)) > limit {
		fail(w, http.StatusRequestEntityTooLarge)
		return
	}
	headers := formatHeaders(req)
	codec := in.codec
	if mt, _, err := mime.ParseMediaType(req.Header.Get("Content-Type")); err == nil {
		if c, ok := in.codecs[mt]; ok {
			codec = c
		}
	}
	var events []*event.Event
	dec := codec.NewDecoder(bytes.NewReader(body))
	for {
		e, err := dec.Decode()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			in.log.Error("http: unable to process event", "error", err, "path", req.URL.Path)
			fail(w, http.StatusInternalServerError)
			return
		}
		in.decorate(e, headers, remoteIP(req.RemoteAddr))
		events = append(events, e)
	}
	for len(events) > 0 {
		n := min(len(events), in.batch)
		if err := in.emit(engine.Batch{Events: events[:n]}); err != nil {
			fail(w, http.StatusServiceUnavailable)
			return
		}
		events = events[n:]
	}
	for _, h := range in.opts.ResponseHeaders {
		w.Header().Set(h.Key, h.Value)
	}
	if in.opts.ResponseCode == http.StatusNoContent {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	w.Header().Set("Content-Length", "2")
	w.WriteHeader(in.opts.ResponseCode)
	_, _ = w.Write([]byte("ok"))
}

// formatHeaders renders the request's headers as Logstash does: names
// lower-cased with "-" as "_", the last value of a repeated header, and the
// request line's parts. Headers Logstash always sets are nil when absent.
func formatHeaders(req *http.Request) map[string]any {
	h := make(map[string]any, len(req.Header)+6)
	for k, v := range req.Header {
		if len(v) > 0 {
			h[strings.ReplaceAll(strings.ToLower(k), "-", "_")] = v[len(v)-1]
		}
	}
	move := func(from, to string) {
		v, ok := h[from]
		delete(h, from)
		if !ok {
			v = nil
		}
		h[to] = v
	}
	move("accept", "http_accept")
	move("user_agent", "http_user_agent")
	delete(h, "host")
	h["http_host"] = req.Host
	h["request_method"] = req.Method
	h["request_path"] = req.RequestURI
	h["http_version"] = req.Proto
	return h
}

// remoteIP is the IP of a "host:port" remote address.
func remoteIP(addr string) string {
	if host, _, err := net.SplitHostPort(addr); err == nil {
		return host
	}
	return addr
}

// hostPort splits an HTTP Host value as Logstash's get_domain_port does:
// "name:port" and "[v6]:port" give a port; anything else is all domain.
var hostPort = regexp.MustCompile(`^(([^:]+)|\[(.*)\]):(\d+)$`)

var (
	httpVersionRef = event.MustRef("[http][version]")
	userAgentRef   = event.MustRef("[user_agent][original]")
	domainRef      = event.MustRef("[url][domain]")
	portRef        = event.MustRef("[url][port]")
	methodRef      = event.MustRef("[http][method]")
	pathRef        = event.MustRef("[url][path]")
	bytesRef       = event.MustRef("[http][request][body][bytes]")
	mimeRef        = event.MustRef("[http][request][mime_type]")
)

// decorate sets the ECS fields, the headers and the remote host.
func (in *Input) decorate(e *event.Event, headers map[string]any, remote string) {
	if in.ecsOn {
		set := func(r event.Ref, key string) {
			if v, ok := headers[key].(string); ok && v != "" {
				_ = e.Set(r, v)
			}
		}
		set(httpVersionRef, "http_version")
		set(userAgentRef, "http_user_agent")
		if host, _ := headers["http_host"].(string); host != "" {
			if m := hostPort.FindStringSubmatch(host); m != nil {
				_ = e.Set(domainRef, m[2]+m[3])
				if p, err := strconv.ParseInt(m[4], 10, 64); err == nil {
					_ = e.Set(portRef, p)
				}
			} else {
				_ = e.Set(domainRef, host)
			}
		}
		set(methodRef, "request_method")
		set(pathRef, "request_path")
		set(bytesRef, "content_length")
		set(mimeRef, "content_type")
	}
	// Each event gets its own copy: a filter changing one must not change
	// the others of the request.
	hc := make(map[string]any, len(headers))
	for k, v := range headers {
		hc[k] = v
	}
	_ = e.Set(in.headerRef, hc)
	_ = e.Set(in.hostRef, remote)
}
