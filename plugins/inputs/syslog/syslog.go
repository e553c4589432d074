// Package syslog implements the syslog input, like Logstash's (plugin 3.7,
// ecs_compatibility "disabled"): it listens on one port for TCP and UDP at
// once (514 by default) and parses each message as RFC 3164 syslog.
//
// Framing, as Logstash: a UDP datagram is one message, whatever newlines it
// holds; on TCP every "\n" ends a message and stays in it (so does a "\r"
// before it), and bytes after the last "\n" when the client closes are
// dropped. Like Logstash's plain codec, text that is not valid UTF-8 is
// replaced by Ruby's inspect escaping of it ("\xFF" for a bad byte, "\n" for
// a newline, "\"" for a quote…) before it is parsed.
//
// Each message becomes an event with message, @timestamp (when it was read),
// @version and host (the sender's IP address), then is matched against
// Logstash's grok pattern "<%{POSINT:priority}>%{SYSLOGLINE}" exactly as
// Logstash runs it: unanchored (text before the first "<" that starts a match
// is skipped), and with the trailing newline kept in message. On a match the
// event gets timestamp (or timestamp8601 and a copy in timestamp, for an ISO
// 8601 timestamp), logsource, program and pid when present, and message (the
// text after the header); priority, and from it severity (priority & 7) and
// facility (priority >> 3), as numbers; and, with use_labels, facility_label
// and severity_label from the label lists (a number beyond a list gets no
// label). timestamp is parsed with "MMM dd HH:mm:ss", "MMM  d HH:mm:ss",
// "MMM d HH:mm:ss" or ISO8601 into @timestamp (a date without a year gets the
// current one, December dates read in January last year's; without a zone it
// is read in timezone, the machine's zone by default); when none fits the
// event is tagged "_dateparsefailure". A message that does not match is tagged
// "_grokparsefailure_sysloginput", keeps its whole text in message, and gets
// priority 13 (user-level, Notice), as RFC 3164 says (Logstash before 3.7.1
// gave 0).
//
// ecs_compatibility is "disabled" by default here (the field names above),
// unlike Logstash 8 whose pipeline default is v8. With "v1" or "v8" the events
// get Logstash's ECS names instead: [log][syslog][priority],
// [log][syslog][facility][code] and [name], [log][syslog][severity][code] and
// [name], [host][ip] (the sender), [host][hostname], [process][name],
// [process][pid] (a number), [event][original] and [service][type], with
// Logstash's ECS pattern (the host name is optional there) and no timestamp
// field left after the date is parsed.
//
// Quirks kept from Logstash (ecs_compatibility "disabled"): "<0>" and a PRI with a leading zero do not match
// (POSINT), nor does a header without a host name ("<13>Nov 24 03:26:46
// app: x": Logstash takes app as the host, then needs a space); RFC 5424
// messages do not match the default pattern (enable rfc5424); a timestamp
// with fractional seconds in the BSD format matches but fails date parsing; a
// priority above 191 has no facility label; with the optional "<facility.
// priority>" field after the timestamp, grok makes priority an array, which
// Logstash then reads as 13.
//
// Beyond Logstash, off by default: rfc5424 parses RFC 5424 messages (version,
// timestamp, host name, app name, process id, message id and structured data
// into nested fields); octet_counting accepts RFC 6587 octet-counted frames
// ("LEN SP MSG") on TCP, detected per frame by a leading digit; ssl_enabled
// serves TCP over TLS (RFC 5425); proxy_protocol reads a PROXY v1 header
// first on each TCP connection (as Logstash's option).
//
// Back-pressure: a TCP connection stops being read while the pipeline is
// full; UDP datagrams beyond queue_size are dropped and counted (a warning
// every 10 s at most). Limits: max_connections, max_line_bytes (a longer
// message is skipped with a warning, the connection goes on), idle_timeout,
// and max_pending_bytes, what all TCP connections together hold read and not
// yet handed to the pipeline: at the bound a connection hands its batch over
// and stops reading until the pipeline takes events; when unfinished
// messages hold more than half of it, the connection with the longest is
// closed (that message is dropped, as at the end of a connection). Both are
// counted (pending_waits, pending_evictions). Each connection reads through a
// pooled 4 KiB buffer, taken once it sends data.
//
// With ecs_compatibility "v1" or "v8" the fields have Logstash's ECS names
// (see the option), and a header without a host name does match, as in
// Logstash's ECS pattern.
//
// Failure semantics: Run returns an error when a port cannot be bound or the
// pipeline was aborted; a bad connection or datagram is logged and never ends
// Run. On shutdown, the messages already read are emitted (with what the
// kernel had received, except on a connection that was waiting for
// max_pending_bytes).
package syslog

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	_ "time/tzdata" // zones on machines without a tz database

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/engine/timefmt"
	"github.com/pipelined/pipeline/plugins/internal/charset"
	"github.com/pipelined/pipeline/plugins/internal/ecs"
	"github.com/pipelined/pipeline/plugins/internal/netserver"
	"github.com/pipelined/pipeline/plugins/internal/tlsopt"
)

func init() { engine.RegisterInput("syslog", New) }

// Logstash's default labels (RFC 3164).
var (
	defaultFacilityLabels = []string{"kernel", "user-level", "mail", "system", "security/authorization", "syslogd", "line printer", "network news", "UUCP", "clock", "security/authorization", "FTP", "NTP", "log audit", "log alert", "clock", "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7"}
	defaultSeverityLabels = []string{"Emergency", "Alert", "Critical", "Error", "Warning", "Notice", "Informational", "Debug"}
)

// Tags added on failures.
const (
	TagParseFailure = "_grokparsefailure_sysloginput"
	TagDateFailure  = "_dateparsefailure"
)

// Options configures the syslog input.
type Options struct {
	// Host is the address to listen on.
	Host string `hcl:"host,optional"`
	// Port is the TCP and UDP port to listen on (ports below 1024 need
	// privileges).
	Port int `hcl:"port,optional"`
	// ProxyProtocol expects a PROXY protocol v1 header at the start of each
	// TCP connection; host is then the client address it names.
	ProxyProtocol bool `hcl:"proxy_protocol,optional"`
	// UseLabels adds facility_label and severity_label.
	UseLabels bool `hcl:"use_labels,optional"`
	// FacilityLabels are the facility names, by number (RFC 3164's by default).
	FacilityLabels []string `hcl:"facility_labels,optional"`
	// SeverityLabels are the severity names, by number (RFC 3164's by default).
	SeverityLabels []string `hcl:"severity_labels,optional"`
	// Timezone is the zone of timestamps that have none, as an IANA name
	// ("Europe/Berlin") or an offset ("+02:00"). Default: the machine's zone,
	// as Logstash uses the JVM's.
	Timezone string `hcl:"timezone,optional"`
	// Locale is the language of month names: only English ("en", "en-US",
	// "en_US") is supported.
	Locale string `hcl:"locale,optional"`
	ecs.Compatibility
	// ServiceType is [service][type] with ECS compatibility on.
	ServiceType string `hcl:"service_type,optional"`
	// RFC5424 parses RFC 5424 messages ("<PRI>1 TIMESTAMP HOST APP PROCID
	// MSGID SD MSG") into priority, severity, facility, version, timestamp
	// (@timestamp from it), logsource, program, pid, msgid, structured_data
	// (an object of SD-ID objects of parameters) and message (a UTF-8 BOM
	// removed). Not a Logstash option; messages that are not RFC 5424 are
	// parsed as by default.
	RFC5424 bool `hcl:"rfc5424,optional"`
	// OctetCounting accepts RFC 6587 octet-counted framing on TCP ("LEN SP
	// MSG", as rsyslog and syslog-ng send with TCP_Framing or syslog()):
	// a frame that starts with a digit is octet-counted, other frames end at
	// "\n". Not a Logstash option.
	OctetCounting bool `hcl:"octet_counting,optional"`
	// The ssl_* options (not Logstash's): TLS on TCP (RFC 5425); UDP is
	// unaffected.
	tlsopt.Server
	// MaxConnections is the most TCP connections at once; 0: no limit.
	MaxConnections int `hcl:"max_connections,optional"`
	// MaxLineBytes is the longest message accepted on TCP; a longer one is
	// skipped with a warning. 0: no limit.
	MaxLineBytes int `hcl:"max_line_bytes,optional"`
	// IdleTimeout closes a TCP connection after this many seconds without
	// data; 0 keeps idle connections open.
	IdleTimeout int `hcl:"idle_timeout,optional"`
	// MaxPendingBytes bounds the bytes all TCP connections together hold,
	// read and not yet handed to the pipeline: their messages (each counted
	// with 2 KiB of overhead), unfinished messages and read buffers. At
	// the bound connections stop reading until the pipeline takes events;
	// when unfinished messages hold more than half of it, the connection
	// with the longest is closed. At least 2 × (max_line_bytes + 4 KiB);
	// 0 means no limit.
	MaxPendingBytes int64 `hcl:"max_pending_bytes,optional"`
	// QueueSize is the number of UDP datagrams held while the pipeline is
	// busy; beyond it datagrams are dropped and counted.
	QueueSize int `hcl:"queue_size,optional"`
	// ReceiveBufferBytes sets the UDP socket's receive buffer (SO_RCVBUF).
	ReceiveBufferBytes int `hcl:"receive_buffer_bytes,optional"`
}

// Defaults sets Logstash's defaults and the limits.
func (o *Options) Defaults() {
	o.Host = "0.0.0.0"
	o.Port = 514
	o.UseLabels = true
	o.FacilityLabels = append([]string(nil), defaultFacilityLabels...)
	o.SeverityLabels = append([]string(nil), defaultSeverityLabels...)
	o.Compatibility.Defaults()
	o.ECSCompatibility = ecs.Disabled
	o.ServiceType = "system"
	o.Server.Defaults()
	o.SSLClientAuthentication = "none"
	o.MaxConnections = 1000
	o.MaxLineBytes = 1 << 20
	o.MaxPendingBytes = 4 << 20
	o.QueueSize = 2000
}

// Validate checks the options without reading files.
func (o *Options) Validate() error {
	fe := func(f, format string, args ...any) error {
		return &engine.FieldError{Field: f, Err: fmt.Errorf(format, args...)}
	}
	if o.Port < 0 || o.Port > 65535 {
		return fe("port", "must be between 0 and 65535")
	}
	if err := o.Compatibility.Validate(); err != nil {
		return err
	}
	if l := o.Locale; l != "" {
		lang, _, _ := strings.Cut(strings.ReplaceAll(l, "_", "-"), "-")
		if !strings.EqualFold(lang, "en") {
			return fe("locale", "locale %q is not supported: only English (en, en-US, …) month names are", l)
		}
	}
	if o.Timezone != "" {
		if _, err := timefmt.LoadJodaZone(o.Timezone); err != nil {
			return fe("timezone", "%v (use an IANA zone name such as \"Europe/Berlin\" or an offset such as \"+02:00\")", err)
		}
	}
	for name, v := range map[string]int{"max_connections": o.MaxConnections, "max_line_bytes": o.MaxLineBytes, "idle_timeout": o.IdleTimeout, "receive_buffer_bytes": o.ReceiveBufferBytes} {
		if v < 0 {
			return fe(name, "must not be negative")
		}
	}
	if least := 2 * (int64(o.MaxLineBytes) + netserver.ReadBufferSize); o.MaxPendingBytes != 0 && o.MaxPendingBytes < least {
		return fe("max_pending_bytes", "must be 0 (no limit) or at least 2 × (max_line_bytes + 4 KiB) = %d: unfinished messages may hold half of it", least)
	}
	if o.QueueSize < 1 {
		return fe("queue_size", "must be at least 1")
	}
	return o.Server.Validate()
}

// Input is the syslog input.
type Input struct {
	tcp       *netserver.TCP
	udp       *netserver.UDP
	parser    *Parser
	batchSize int
	proxy     bool
	octets    bool
	maxLine   int
	log       *slog.Logger
	emit      engine.EmitFunc
	skipped   atomic.Uint64

	warnMu      sync.Mutex
	lastWarn    time.Time
	warnedTotal uint64 // skipped at the last warning
}

// tooLong counts a message skipped for max_line_bytes and warns at most
// once every 10 s, with the count since the last warning: a client sending
// nothing but long messages must not turn each into a log line.
func (in *Input) tooLong(peer string) {
	total := in.skipped.Add(1)
	in.warnMu.Lock()
	defer in.warnMu.Unlock()
	if !in.lastWarn.IsZero() && time.Since(in.lastWarn) < 10*time.Second {
		return
	}
	in.log.Warn("syslog: message longer than max_line_bytes skipped", "peer", peer, "max_line_bytes", in.maxLine,
		"skipped_since_last_warning", total-in.warnedTotal, "skipped_total", total)
	in.lastWarn, in.warnedTotal = time.Now(), total
}

var _ engine.Input = (*Input)(nil)

// New builds a syslog input; it loads the TLS files but opens no socket.
func New(o Options, r engine.Resources) (*Input, error) {
	log := r.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	p, err := NewParser(o)
	if err != nil {
		return nil, err
	}
	in := &Input{
		parser:    p,
		batchSize: r.BatchSize,
		proxy:     o.ProxyProtocol,
		octets:    o.OctetCounting,
		maxLine:   o.MaxLineBytes,
		log:       log,
	}
	if in.batchSize <= 0 {
		in.batchSize = 125
	}
	addr := net.JoinHostPort(o.Host, strconv.Itoa(o.Port))
	in.tcp = &netserver.TCP{
		Addr: addr, MaxConns: o.MaxConnections, Idle: time.Duration(o.IdleTimeout) * time.Second,
		Log: log, Name: "syslog", ID: r.ID, Handle: in.handle,
		Pending: &netserver.Pending{Max: o.MaxPendingBytes, Log: log, Name: "syslog"},
	}
	if in.tcp.TLS, err = o.Server.Config(); err != nil {
		return nil, err
	}
	in.udp = &netserver.UDP{
		Addr: addr, BufferSize: 65507, ReceiveBufferBytes: o.ReceiveBufferBytes,
		Workers: 1, QueueSize: o.QueueSize, BatchSize: in.batchSize,
		Log: log, Name: "syslog", ID: r.ID, Decode: in.decodeDatagram,
	}
	return in, nil
}

// Dropped is the number of UDP datagrams dropped because the queue was full.
func (in *Input) Dropped() uint64 { return in.udp.Dropped() }

// Counters reports the drops and skipped messages in /_node/stats and
// /metrics.
func (in *Input) Counters() []engine.Counter {
	return []engine.Counter{
		{Name: "datagrams_received", Help: "UDP datagrams read.", Value: int64(in.udp.Received())},
		{Name: "datagrams_dropped", Help: "UDP datagrams dropped because the input's queue was full (UDP cannot push back).", Value: int64(in.udp.Dropped())},
		{Name: "messages_too_long", Help: "TCP messages longer than max_line_bytes, skipped.", Value: int64(in.skipped.Load())},
		{Name: "pending_waits", Help: "Times a TCP connection stopped reading because the input held max_pending_bytes.", Value: int64(in.tcp.Pending.Waits())},
		{Name: "pending_evictions", Help: "TCP connections closed because unfinished messages held more than half of max_pending_bytes (those messages dropped).", Value: int64(in.tcp.Pending.Evictions())},
		{Name: "pending_bytes_peak", Help: "The most bytes the TCP connections held at once, read and not yet handed to the pipeline.", Value: in.tcp.Pending.Peak()},
	}
}

// Run serves TCP and UDP until ctx is cancelled.
func (in *Input) Run(ctx context.Context, emit engine.EmitFunc) error {
	in.emit = emit
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// TCP first: with port 0 (tests), UDP then takes the same port.
	ln, err := net.Listen("tcp", in.tcp.Addr)
	if err != nil {
		return fmt.Errorf("syslog: %w", err)
	}
	host, _, _ := net.SplitHostPort(in.tcp.Addr)
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	pc, err := net.ListenPacket("udp", net.JoinHostPort(host, port))
	if err != nil {
		_ = ln.Close()
		return fmt.Errorf("syslog: %w", err)
	}
	errs := make(chan error, 2)
	go func() { errs <- in.udp.Serve(ctx, pc.(*net.UDPConn), emit) }()
	go func() { errs <- in.tcp.Serve(ctx, ln) }()
	var first error
	for range 2 {
		if err := <-errs; err != nil && first == nil {
			first = err
			cancel() // one side failing (port taken) stops the other
		}
	}
	return first
}

func (in *Input) decodeDatagram(p []byte, from netip.AddrPort, out []*event.Event) []*event.Event {
	return append(out, in.parser.Event(p, from.Addr().String(), time.Now()))
}

// handle reads one TCP connection: messages end at "\n" (kept), or are
// octet-counted when enabled.
func (in *Input) handle(c *netserver.Conn) error {
	r, err := netserver.Lazy(c)
	if err != nil {
		if netserver.IsClosed(err) {
			return nil
		}
		return err
	}
	if c.Hold != nil {
		r = c.Hold.Reader(r)
	}
	if c.Hold != nil {
		// No read buffer while the input's budget is used up.
		if err := c.Hold.Wait(); err != nil {
			return err
		}
	}
	br := netserver.GetReader(r)
	defer netserver.PutReader(br)
	b := netserver.Batcher{Emit: in.emit, Size: in.batchSize}
	if c.Hold != nil {
		c.Hold.Flush, c.Hold.Buffered, b.Hold = b.Flush, br.Buffered, c.Hold
	}
	host := c.Peer.Addr().String()
	if in.proxy {
		h, err := netserver.ReadProxyV1(br)
		if err != nil {
			return err
		}
		if !h.Unknown {
			host = h.Source.Addr().String()
		}
	}
	consumed := func() {
		if c.Hold != nil {
			c.Hold.Consumed()
		}
	}
	var acc []byte
	skipping := false
	now := time.Now()
	for {
		if in.octets && len(acc) == 0 && !skipping {
			if first, err := br.Peek(1); err == nil && isDigit(first[0]) {
				frame, err := in.readCounted(br, c.Peer.String())
				consumed()
				if err != nil {
					if ferr := b.Flush(); ferr != nil {
						return ferr
					}
					return err
				}
				if frame != nil {
					if err := b.Add(in.parser.Event(frame, host, now)); err != nil {
						return err
					}
				}
				if err := in.maybeFlush(&b, br, &now); err != nil {
					return err
				}
				continue
			}
		}
		chunk, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			if !skipping {
				acc = append(acc, chunk...)
				if in.maxLine > 0 && len(acc) > in.maxLine {
					skipping, acc = true, acc[:0]
				}
			}
			if skipping {
				consumed() // what is skipped is not held
			}
			continue
		}
		if err != nil {
			// The end of the connection: an unterminated message is dropped,
			// as Logstash does.
			if ferr := b.Flush(); ferr != nil {
				return ferr
			}
			if len(acc)+len(chunk) > 0 {
				in.log.Debug("syslog: connection closed in the middle of a message, dropping it", "peer", c.Peer.String(), "bytes", len(acc)+len(chunk))
			}
			if netserver.IsClosed(err) {
				return nil
			}
			return err
		}
		if skipping {
			skipping = false
			in.tooLong(c.Peer.String())
			continue
		}
		line := chunk
		if len(acc) > 0 {
			acc = append(acc, chunk...)
			line = acc
		}
		if in.maxLine > 0 && len(line) > in.maxLine+1 {
			in.tooLong(c.Peer.String())
		} else if err := b.Add(in.parser.Event(line, host, now)); err != nil {
			return err
		}
		acc = acc[:0]
		if err := in.maybeFlush(&b, br, &now); err != nil {
			return err
		}
	}
}

// maybeFlush emits the batch when no complete message is buffered (the next
// read may block), and takes a new read time.
func (in *Input) maybeFlush(b *netserver.Batcher, br *bufio.Reader, now *time.Time) error {
	n := br.Buffered()
	if n > 0 {
		if p, _ := br.Peek(n); bytes.IndexByte(p, '\n') >= 0 {
			return nil
		}
	}
	*now = time.Now()
	return b.Flush()
}

// readCounted reads one octet-counted frame. It returns nil for a frame
// skipped for its length.
func (in *Input) readCounted(br *bufio.Reader, peer string) ([]byte, error) {
	n := 0
	for digits := 0; ; digits++ {
		c, err := br.ReadByte()
		if err != nil {
			return nil, err
		}
		if c == ' ' && digits > 0 {
			break
		}
		if !isDigit(c) || digits >= 9 {
			return nil, fmt.Errorf("octet counting: bad frame length")
		}
		n = n*10 + int(c-'0')
	}
	if in.maxLine > 0 && n > in.maxLine {
		if _, err := br.Discard(n); err != nil {
			return nil, err
		}
		in.tooLong(peer)
		return nil, nil
	}
	if n <= countedChunk {
		frame := make([]byte, n)
		if _, err := ioReadFull(br, frame); err != nil {
			return nil, err
		}
		return frame, nil
	}
	// A large frame grows as its bytes arrive: the length is the client's
	// word, and with max_line_bytes = 0 it may announce up to 1 GB that it
	// never sends.
	frame := make([]byte, 0, countedChunk)
	for len(frame) < n {
		if len(frame) == cap(frame) {
			frame = slices.Grow(frame, min(cap(frame), n-len(frame)))
		}
		m, err := br.Read(frame[len(frame):min(cap(frame), n)])
		frame = frame[:len(frame)+m]
		if err != nil {
			return nil, err
		}
	}
	return frame, nil
}

// countedChunk is the most bytes allocated for an octet-counted frame before
// its bytes arrive.
const countedChunk = 64 << 10

func ioReadFull(br *bufio.Reader, p []byte) (int, error) {
	n := 0
	for n < len(p) {
		m, err := br.Read(p[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// Parser turns raw syslog messages into events; it is safe for concurrent
// use.
type Parser struct {
	loc            *time.Location
	useLabels      bool
	facilityLabels []string
	severityLabels []string
	rfc5424        bool
	bsd            []*timefmt.JodaParser
	now            func() time.Time
	f              *fieldSet
	ecs            bool
	serviceType    string
	pattern        matcher
	// The labels and service type boxed once (any(s) allocates).
	facilityBoxed, severityBoxed []any
	serviceTypeBoxed             any
	// fields is how many top-level fields the event of a typical line
	// has (0: unknown), so that its map is made at that size.
	fields int
}

// typicalLine is an RFC 3164 line with every part, parsed once by NewParser
// to learn how many fields an event gets with its options.
var typicalLine = []byte("<86>Nov 24 03:26:46 web-07 sshd[28472]: Accepted publickey for deploy\n")

// NewParser builds a parser for the options.
func NewParser(o Options) (*Parser, error) {
	p := &Parser{
		loc:            time.Local,
		useLabels:      o.UseLabels,
		facilityLabels: o.FacilityLabels,
		severityLabels: o.SeverityLabels,
		rfc5424:        o.RFC5424,
		now:            time.Now,
		f:              &legacyFields,
		pattern:        linePattern,
		bsd:            []*timefmt.JodaParser{mustJoda("MMM dd HH:mm:ss"), mustJoda("MMM  d HH:mm:ss"), mustJoda("MMM d HH:mm:ss")},
	}
	if o.Compatibility.ECS() {
		p.ecs, p.f, p.pattern, p.serviceType = true, &ecsFields, ecsLinePattern, o.ServiceType
	}
	if o.Timezone != "" {
		loc, err := timefmt.LoadJodaZone(o.Timezone)
		if err != nil {
			return nil, &engine.FieldError{Field: "timezone", Err: err}
		}
		p.loc = loc
	}
	for _, l := range p.facilityLabels {
		p.facilityBoxed = append(p.facilityBoxed, l)
	}
	for _, l := range p.severityLabels {
		p.severityBoxed = append(p.severityBoxed, l)
	}
	p.serviceTypeBoxed = p.serviceType
	p.fields = len(p.Event(typicalLine, "127.0.0.1", time.Unix(0, 0)).Fields())
	return p, nil
}

// fieldSet names the fields the input sets, by ecs_compatibility.
type fieldSet struct {
	host, priority, severity, facility, facilityLabel, severityLabel event.Ref
	logsource, program, pid, version, msgid, structuredData          event.Ref
}

var (
	legacyFields = fieldSet{
		host: event.MustRef("host"), priority: event.MustRef("priority"), severity: event.MustRef("severity"),
		facility: event.MustRef("facility"), facilityLabel: event.MustRef("facility_label"), severityLabel: event.MustRef("severity_label"),
		logsource: event.MustRef("logsource"), program: event.MustRef("program"), pid: event.MustRef("pid"),
		version: event.MustRef("version"), msgid: event.MustRef("msgid"), structuredData: event.MustRef("structured_data"),
	}
	ecsFields = fieldSet{
		host: event.MustRef("[host][ip]"), priority: event.MustRef("[log][syslog][priority]"), severity: event.MustRef("[log][syslog][severity][code]"),
		facility: event.MustRef("[log][syslog][facility][code]"), facilityLabel: event.MustRef("[log][syslog][facility][name]"), severityLabel: event.MustRef("[log][syslog][severity][name]"),
		logsource: event.MustRef("[host][hostname]"), program: event.MustRef("[process][name]"), pid: event.MustRef("[process][pid]"),
		version: event.MustRef("[log][syslog][version]"), msgid: event.MustRef("[log][syslog][msgid]"), structuredData: event.MustRef("[log][syslog][structured_data]"),
	}
	refTimestamp     = event.MustRef("timestamp")
	refTimestamp8601 = event.MustRef("timestamp8601")
	refMessage       = event.MustRef("message")
	refOriginal      = event.MustRef("[event][original]")
	refServiceType   = event.MustRef("[service][type]")
)

// Event makes the event of one raw message from host, read at now.
func (p *Parser) Event(raw []byte, host string, now time.Time) *event.Event {
	msg := charset.Text(raw)
	// The event, its string fields' headers (host, original, timestamp,
	// logsource, program, pid, message) and its parsed @timestamp in one
	// allocation. (Before NewParser learnt the fields, as BenchmarkEventMap's
	// peer, one allocation each and the map grown.)
	var e *event.Event
	var sb *event.Strings
	if p.fields > 0 {
		e, sb = event.NewMessageAtBlock(msg, now, p.fields)
	} else {
		e = event.NewMessageAtSized(msg, now, p.fields)
	}
	_ = e.Set(p.f.host, sb.Box(host))
	if p.ecs {
		_ = e.Set(refOriginal, sb.Box(msg))
		if p.serviceType != "" {
			_ = e.Set(refServiceType, p.serviceTypeBoxed)
		}
	}
	if p.rfc5424 && p.rfc5424Event(e, msg) {
		return e
	}
	p.relay(e, msg, sb)
	return e
}

// relay is Logstash's syslog_relay: the grok match, priority, date, labels.
func (p *Parser) relay(e *event.Event, msg string, sb *event.Strings) {
	if r, ok := fastParse(msg); ok {
		p.fastRelay(e, msg, &r, sb)
		return
	}
	p.matchRelay(e, msg)
}

// matchRelay is relay through the general matcher.
func (p *Parser) matchRelay(e *event.Event, msg string) {
	st := state{s: msg}
	if !st.match(p.pattern) {
		e.AddTag(TagParseFailure)
		p.setPriority(e, 13, nil)
		p.labels(e, 13, nil)
		return
	}
	pri, _ := st.get(capPriority)
	ts, isBSD := st.get(capTimestamp)
	ts8601, isISO := st.get(capTimestamp8601)
	if isBSD {
		_ = e.Set(refTimestamp, ts)
	}
	if isISO {
		_ = e.Set(refTimestamp8601, ts8601)
	}
	_, dupPriority := st.get(capFacilityPriority)
	if v, ok := st.get(capLogsource); ok {
		_ = e.Set(p.f.logsource, v)
	}
	if v, ok := st.get(capProgram); ok {
		_ = e.Set(p.f.program, v)
	}
	if v, ok := st.get(capPid); ok {
		p.setPid(e, v, nil)
	}
	if v, ok := st.get(capMessage); ok && v != "" {
		_ = e.Set(refMessage, v)
	}
	// A second priority capture (from "<facility.priority>") makes grok
	// store an array, which Logstash's to_i cannot read: 13.
	var n int64 = 13
	var bigN *big.Int
	if !dupPriority {
		if v, err := strconv.ParseInt(pri, 10, 64); err == nil {
			n = v
		} else {
			bigN, _ = new(big.Int).SetString(pri, 10)
		}
	}
	p.setPriority(e, n, bigN)
	if isISO {
		ts = ts8601
		_ = e.Set(refTimestamp, ts)
	}
	p.date(e, ts, nil, nil)
	p.labels(e, n, bigN)
}

// setPid sets the process id: a string without ECS, an integer with it
// (grok's :int).
func (p *Parser) setPid(e *event.Event, v string, sb *event.Strings) {
	if !p.ecs {
		_ = e.Set(p.f.pid, sb.Box(v))
		return
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		_ = e.Set(p.f.pid, n)
	} else {
		f, _ := strconv.ParseFloat(v, 64)
		_ = e.Set(p.f.pid, f)
	}
}

// date is the date filter on timestamp; with ECS the timestamp field is
// removed afterwards, as Logstash does.
func (p *Parser) date(e *event.Event, ts string, r *fastResult, sb *event.Strings) {
	var t time.Time
	ok := false
	if r != nil && !r.iso {
		t, ok = p.fastDate(r)
	}
	if !ok {
		t, ok = p.parseDate(ts)
	}
	if ok {
		e.SetTimestampFrom(sb, t)
	} else {
		e.AddTag(TagDateFailure)
	}
	if p.ecs {
		e.Delete(refTimestamp)
	}
}

// fastRelay is relay for a line fastParse accepted: the same fields.
func (p *Parser) fastRelay(e *event.Event, msg string, r *fastResult, sb *event.Strings) {
	ts := msg[r.tsStart:r.tsEnd]
	tsBoxed := sb.Box(ts)
	_ = e.Set(refTimestamp, tsBoxed)
	if r.iso && !p.ecs {
		_ = e.Set(refTimestamp8601, tsBoxed)
	}
	_ = e.Set(p.f.logsource, sb.Box(msg[r.hostStart:r.hostEnd]))
	if r.progEnd > 0 {
		_ = e.Set(p.f.program, sb.Box(msg[r.progStart:r.progEnd]))
	}
	if r.pidEnd > 0 {
		p.setPid(e, msg[r.pidStart:r.pidEnd], sb)
	}
	if r.msgStart < len(msg) {
		_ = e.Set(refMessage, sb.Box(msg[r.msgStart:]))
	}
	p.setPriority(e, r.pri, nil)
	p.date(e, ts, r, sb)
	p.labels(e, r.pri, nil)
}

func (p *Parser) setPriority(e *event.Event, n int64, bigN *big.Int) {
	if bigN != nil {
		// Beyond int64 (Ruby's Integer has no bound): stored as a float.
		sev := new(big.Int).And(bigN, big.NewInt(7)).Int64()
		fac, _ := new(big.Float).SetInt(new(big.Int).Rsh(bigN, 3)).Float64()
		pf, _ := new(big.Float).SetInt(bigN).Float64()
		_ = e.Set(p.f.priority, pf)
		_ = e.Set(p.f.severity, sev)
		_ = e.Set(p.f.facility, fac)
		return
	}
	_ = e.Set(p.f.priority, n)
	_ = e.Set(p.f.severity, n&7)
	_ = e.Set(p.f.facility, n>>3)
}

func (p *Parser) labels(e *event.Event, n int64, bigN *big.Int) {
	if !p.useLabels {
		return
	}
	sev := n & 7
	fac := n >> 3
	if bigN != nil {
		sev = new(big.Int).And(bigN, big.NewInt(7)).Int64()
		fac = -1
	}
	if fac >= 0 && fac < int64(len(p.facilityBoxed)) {
		_ = e.Set(p.f.facilityLabel, p.facilityBoxed[fac])
	}
	if sev < int64(len(p.severityBoxed)) {
		_ = e.Set(p.f.severityLabel, p.severityBoxed[sev])
	}
}

// mustJoda compiles one of the input's fixed patterns.
func mustJoda(p string) *timefmt.JodaParser {
	jp, err := timefmt.NewJodaParser(p)
	if err != nil {
		panic(err)
	}
	return jp
}

// parseDate is the date filter of Logstash's syslog input.
func (p *Parser) parseDate(s string) (time.Time, bool) {
	now := p.now()
	// The BSD patterns begin with a month name: a timestamp that begins with
	// a digit can only be ISO 8601, so it skips three failing parses.
	if s != "" && s[0] >= '0' && s[0] <= '9' {
		if t, err := timefmt.ParseISO8601(s, p.loc, now); err == nil {
			return t, true
		}
		return time.Time{}, false
	}
	for _, jp := range p.bsd {
		if t, err := jp.Parse(s, p.loc, now); err == nil {
			return t, true
		}
	}
	if t, err := timefmt.ParseISO8601(s, p.loc, now); err == nil {
		return t, true
	}
	return time.Time{}, false
}
