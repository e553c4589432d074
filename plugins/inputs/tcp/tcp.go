// Package tcp implements the tcp input in server mode, like Logstash's: it
// accepts TCP (or TLS) connections and decodes each with its codec, line by
// default (one event per line; json_lines for newline-delimited JSON). As in
// Logstash, codec plain is read as line and json as json_lines: a connection
// is a stream, and those codecs would otherwise wait for its end.
//
// Each event gets the client's address, unless the codec already set the
// field: with ecs_compatibility "disabled", host (the client's host name when
// dns_reverse_lookup_enabled, else its IP address), port and, with TLS and a
// verified client certificate, sslsubject; the IP address also goes to
// [@metadata][ip_address]. With "v1" or "v8" (the Logstash 8 default) the same
// values go to [@metadata][input][tcp][source][name], [ip] and [port], and
// [@metadata][input][tcp][tls][client][subject]. With proxy_protocol, the
// client is the one the PROXY v1 header names, and the proxy's address goes to
// proxy_host and proxy_port (ECS: [@metadata][input][tcp][proxy][ip], [port]).
//
// As in Logstash, a last line without a newline is still an event when the
// client closes the connection, and the line codec keeps a trailing "\r".
//
// Back-pressure: each connection is read by its own goroutine, which stops
// reading while the pipeline is full (its events are emitted synchronously),
// so the client's writes block; nothing is dropped. Events are emitted in
// batches of up to the pipeline batch size: a smaller batch goes as soon as
// no further complete line has arrived.
//
// Limits, beyond Logstash: at most max_connections connections at once (a
// further one is accepted and closed at once, with a warning at most every
// 10 s); a line of at most max_line_bytes (a longer one closes the connection
// with a warning: without a newline a line codec would have to buffer it
// all); idle_timeout closes a connection that sends nothing for that long.
// A connection gets its 4 KiB read buffer (pooled) only once it sends data
// (an idle one costs about 10 KiB). max_pending_bytes bounds what all
// connections together hold, read and not yet handed to the pipeline: the
// events of their batches, their unfinished lines and their buffers. At the
// bound a connection hands its batch over and stops reading (the client's
// writes block) until the pipeline takes events; when unfinished lines hold
// more than half of it, the connection with the longest is closed (its line
// is refused, not emitted). Both are counted (pending_waits,
// pending_evictions) and logged at most every 10 s. Bytes are not checked
// for UTF-8: the codec's charset decides (UTF-8 keeps them as they are).
//
// Only server mode is supported (mode "client" is refused by validation).
//
// Failure semantics: Run returns an error when the port cannot be bound or the
// pipeline was aborted; a failing connection (reset, TLS handshake failure,
// over-long line, bad PROXY header) is closed and logged and never ends Run.
// On shutdown the listener closes, each connection stops reading, and the
// events already read are emitted (with what the kernel had received for
// it, except on a connection that was waiting for max_pending_bytes).
package tcp

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/plugins/internal/ecs"
	"github.com/pipelined/pipeline/plugins/internal/netserver"
	"github.com/pipelined/pipeline/plugins/internal/tlsopt"
)

func init() {
	engine.RegisterInput("tcp", New, engine.WithDefaultCodec("line"), engine.WithStreamingCodec())
}

// Options configures the tcp input.
type Options struct {
	// Host is the address to listen on.
	Host string `hcl:"host,optional"`
	// Port is the TCP port to listen on.
	Port int `hcl:"port"`
	// Mode must be "server" (Logstash's client mode, which connects out, is
	// not supported).
	Mode string `hcl:"mode,optional"`
	// ProxyProtocol expects a PROXY protocol v1 header (as sent by HAProxy)
	// at the start of each connection; the client address is then the one
	// the header names.
	ProxyProtocol bool `hcl:"proxy_protocol,optional"`
	// DNSReverseLookupEnabled puts the client's host name, found by a reverse
	// DNS lookup once per connection, in host; otherwise its IP address.
	DNSReverseLookupEnabled bool `hcl:"dns_reverse_lookup_enabled,optional"`
	// TCPKeepAlive turns on TCP keep-alive probes on accepted connections.
	TCPKeepAlive bool `hcl:"tcp_keep_alive,optional"`
	// The ssl_* options.
	tlsopt.Server
	tlsopt.ExtraChain
	ecs.Compatibility
	// MaxConnections is the most connections served at once (not a Logstash
	// option); 0 means no limit.
	MaxConnections int `hcl:"max_connections,optional"`
	// MaxLineBytes is the longest line accepted, in bytes (not a Logstash
	// option); a connection sending a longer one is closed. 0 means no limit.
	MaxLineBytes int `hcl:"max_line_bytes,optional"`
	// IdleTimeout closes a connection after this many seconds without data
	// (not a Logstash option); 0 keeps idle connections open.
	IdleTimeout int `hcl:"idle_timeout,optional"`
	// MaxPendingBytes bounds the bytes all connections together hold, read
	// and not yet handed to the pipeline (not a Logstash option): their
	// events (each counted with 2 KiB of overhead), unfinished lines and
	// read buffers. At the bound connections stop reading until the pipeline
	// takes events (TCP pushes the clients back); when unfinished lines hold
	// more than half of it, the connection with the longest is closed and
	// its line refused. At least 2 × (max_line_bytes + 4 KiB); 0 means no
	// limit.
	MaxPendingBytes int64 `hcl:"max_pending_bytes,optional"`
	tlsopt.TCPRemoved
}

// Defaults sets Logstash's defaults and the limits.
func (o *Options) Defaults() {
	o.Host = "0.0.0.0"
	o.Mode = "server"
	o.DNSReverseLookupEnabled = true
	o.Server.Defaults()
	o.Compatibility.Defaults()
	o.MaxConnections = 1000
	o.MaxLineBytes = 1 << 20
	o.MaxPendingBytes = 4 << 20
}

// Validate checks the options without reading files.
func (o *Options) Validate() error {
	fe := func(f, format string, args ...any) error {
		return &engine.FieldError{Field: f, Err: fmt.Errorf(format, args...)}
	}
	if o.Port < 0 || o.Port > 65535 {
		return fe("port", "must be between 0 and 65535")
	}
	if o.Mode != "server" {
		return fe("mode", "only \"server\" is supported, not %q", o.Mode)
	}
	if o.MaxConnections < 0 {
		return fe("max_connections", "must not be negative")
	}
	if o.MaxLineBytes < 0 {
		return fe("max_line_bytes", "must not be negative")
	}
	if o.IdleTimeout < 0 {
		return fe("idle_timeout", "must not be negative")
	}
	if least := 2 * (int64(o.MaxLineBytes) + netserver.ReadBufferSize); o.MaxPendingBytes != 0 && o.MaxPendingBytes < least {
		return fe("max_pending_bytes", "must be 0 (no limit) or at least 2 × (max_line_bytes + 4 KiB) = %d: unfinished lines may hold half of it", least)
	}
	if err := o.Compatibility.Validate(); err != nil {
		return err
	}
	return o.Server.Validate()
}

// Input is the tcp input.
type Input struct {
	srv       *netserver.TCP
	codec     engine.Codec
	batchSize int
	proxy     bool
	reverse   bool
	maxLine   int
	log       *slog.Logger
	fields    fieldRefs
	emit      engine.EmitFunc
}

type fieldRefs struct {
	host, ip, port, subject, proxyHost, proxyPort event.Ref
}

var _ engine.Input = (*Input)(nil)

// New builds a tcp input; it loads the TLS files but opens no socket.
func New(o Options, r engine.Resources) (*Input, error) {
	if r.Codec == nil {
		return nil, errors.New("tcp: no codec")
	}
	log := r.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	in := &Input{
		codec:     r.Codec,
		batchSize: max(r.BatchSize, 1),
		proxy:     o.ProxyProtocol,
		reverse:   o.DNSReverseLookupEnabled,
		maxLine:   o.MaxLineBytes,
		log:       log,
	}
	if r.BatchSize <= 0 {
		in.batchSize = 125
	}
	if o.Compatibility.ECS() {
		in.fields = fieldRefs{
			host:      event.MustRef("[@metadata][input][tcp][source][name]"),
			ip:        event.MustRef("[@metadata][input][tcp][source][ip]"),
			port:      event.MustRef("[@metadata][input][tcp][source][port]"),
			subject:   event.MustRef("[@metadata][input][tcp][tls][client][subject]"),
			proxyHost: event.MustRef("[@metadata][input][tcp][proxy][ip]"),
			proxyPort: event.MustRef("[@metadata][input][tcp][proxy][port]"),
		}
	} else {
		in.fields = fieldRefs{
			host:      event.MustRef("host"),
			ip:        event.MustRef("[@metadata][ip_address]"),
			port:      event.MustRef("port"),
			subject:   event.MustRef("sslsubject"),
			proxyHost: event.MustRef("proxy_host"),
			proxyPort: event.MustRef("proxy_port"),
		}
	}
	in.srv = &netserver.TCP{
		Pending:  &netserver.Pending{Max: o.MaxPendingBytes, Log: log, Name: "tcp"},
		Addr:     net.JoinHostPort(o.Host, strconv.Itoa(o.Port)),
		MaxConns: o.MaxConnections,
		// Logstash's tcp_keep_alive (off by default) also covers TLS
		// connections, so it is set on the listener, not per connection.
		NoKeepAlive: !o.TCPKeepAlive,
		Idle:        time.Duration(o.IdleTimeout) * time.Second,
		Log:         log,
		Name:        "tcp",
		Handle:      in.handle,
		ID:          r.ID,
	}
	var err error
	if in.srv.TLS, err = o.Server.Config(); err != nil {
		return nil, err
	}
	if err := o.ExtraChain.Apply(in.srv.TLS); err != nil {
		return nil, err
	}
	return in, nil
}

// Stats returns the connection counters.
func (in *Input) Stats() netserver.Stats { return in.srv.Stats() }

// Counters reports the pending-bytes budget in /_node/stats and /metrics.
func (in *Input) Counters() []engine.Counter {
	p := in.srv.Pending
	return []engine.Counter{
		{Name: "pending_waits", Help: "Times a connection stopped reading because the input held max_pending_bytes.", Value: int64(p.Waits())},
		{Name: "pending_evictions", Help: "Connections closed because unfinished lines held more than half of max_pending_bytes (their lines refused).", Value: int64(p.Evictions())},
		{Name: "pending_bytes_peak", Help: "The most bytes the input's connections held at once, read and not yet handed to the pipeline.", Value: p.Peak()},
	}
}

// Run serves connections until ctx is cancelled.
func (in *Input) Run(ctx context.Context, emit engine.EmitFunc) error {
	in.emit = emit
	return in.srv.Run(ctx)
}

// peer is what events of one connection are decorated with.
type peer struct {
	name, ip             any
	port                 any
	subject              any
	proxyHost, proxyPort any
}

func (in *Input) handle(c *netserver.Conn) error {
	p := peer{}
	var subject string
	if tc, ok := c.Conn.(*tls.Conn); ok {
		_ = tc.SetDeadline(time.Now().Add(30 * time.Second))
		if err := tc.Handshake(); err != nil {
			return fmt.Errorf("TLS handshake: %w", err)
		}
		_ = tc.SetDeadline(time.Time{})
		if cs := tc.ConnectionState(); len(cs.PeerCertificates) > 0 {
			subject = cs.PeerCertificates[0].Subject.String()
			p.subject = subject
		}
	}
	r, err := netserver.Lazy(c)
	if err != nil {
		if netserver.IsClosed(err) {
			return nil
		}
		return err
	}
	var b netserver.Batcher
	if c.Hold != nil {
		r = c.Hold.Reader(r)
	}
	lim := &netserver.LineLimiter{R: r, Max: in.maxLine}
	if c.Hold != nil {
		// No read buffer while the input's budget is used up.
		if err := c.Hold.Wait(); err != nil {
			return err
		}
	}
	br := netserver.GetReader(lim)
	defer netserver.PutReader(br)
	if c.Hold != nil {
		c.Hold.Flush, c.Hold.Buffered, b.Hold = b.Flush, br.Buffered, c.Hold
	}
	client := c.Peer
	if in.proxy {
		h, err := netserver.ReadProxyV1(br)
		if err != nil {
			return err
		}
		if !h.Unknown {
			p.proxyHost = c.Peer.Addr().String()
			p.proxyPort = int64(c.Peer.Port())
			client = h.Source
		}
	}
	ip := client.Addr().String()
	p.ip = ip
	p.name = ip
	p.port = int64(client.Port())
	if in.reverse {
		p.name = lookupName(client.Addr())
	}
	in.log.Debug("tcp: new connection", "peer", c.Peer.String(), "client", client.String())

	dec := in.codec.NewDecoder(br)
	b.Emit, b.Size = in.emit, in.batchSize
	badRun := 0
	for {
		e, err := dec.Decode()
		if err == nil {
			badRun = 0
		}
		if e != nil {
			in.decorate(e, &p)
			if err := b.Add(e); err != nil {
				return err
			}
		}
		if err != nil {
			if ferr := b.Flush(); ferr != nil {
				return ferr
			}
			if errors.Is(lim.Err, netserver.ErrAbort) {
				return lim.Err // the pipeline was aborted while a read flushed
			}
			if lim.Err == nil && badRun < 1000 {
				// Bad data, not a read error: the codec skipped it.
				badRun++
				in.log.Warn("tcp: cannot decode data", "peer", c.Peer.String(), "error", err)
				continue
			}
			if netserver.IsClosed(err) {
				return nil
			}
			return err
		}
		if b.Len() > 0 && !lineBuffered(br) {
			if err := b.Flush(); err != nil {
				return err
			}
		}
	}
}

func (in *Input) decorate(e *event.Event, p *peer) {
	set := func(r event.Ref, v any) {
		if v == nil {
			return
		}
		if _, ok := e.Get(r); !ok {
			_ = e.Set(r, v)
		}
	}
	set(in.fields.host, p.name)
	set(in.fields.ip, p.ip)
	set(in.fields.port, p.port)
	set(in.fields.subject, p.subject)
	set(in.fields.proxyHost, p.proxyHost)
	set(in.fields.proxyPort, p.proxyPort)
}

// lineBuffered reports whether br holds a complete line, so that decoding the
// next event will not block on a read.
func lineBuffered(br *bufio.Reader) bool {
	n := br.Buffered()
	if n == 0 {
		return false
	}
	b, _ := br.Peek(n)
	return bytes.IndexByte(b, '\n') >= 0
}

// lookupName is the client's host name as Java's InetAddress.getHostName
// finds it: the first name of a reverse lookup, else the address. Answers
// are cached for 30 s, as the JVM caches lookups, so a client reconnecting
// in a loop does not cost a DNS query each time.
func lookupName(a netip.Addr) string {
	nameCache.mu.Lock()
	if c, ok := nameCache.m[a]; ok && time.Now().Before(c.expires) {
		nameCache.mu.Unlock()
		return c.name
	}
	nameCache.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	name := a.String()
	if names, err := net.DefaultResolver.LookupAddr(ctx, name); err == nil && len(names) > 0 {
		name = strings.TrimSuffix(names[0], ".")
	}
	nameCache.mu.Lock()
	if nameCache.m == nil || len(nameCache.m) >= 4096 {
		nameCache.m = map[netip.Addr]cachedName{}
	}
	nameCache.m[a] = cachedName{name, time.Now().Add(30 * time.Second)}
	nameCache.mu.Unlock()
	return name
}

type cachedName struct {
	name    string
	expires time.Time
}

var nameCache struct {
	mu sync.Mutex
	m  map[netip.Addr]cachedName
}
