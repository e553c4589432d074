// Package beats implements the beats input, like Logstash's: a lumberjack v2
// server (github.com/elastic/go-lumber) that Filebeat, Winlogbeat and the other
// Elastic Beats ship to, usually on port 5044.
//
// Each event is the beat's JSON object unchanged, except that its "@metadata"
// object (beat, type, version…) goes to [@metadata], which codecs and outputs
// never serialize; @timestamp is parsed from the beat's RFC 3339 string;
// @version is "1" when the beat did not set it; and, as Logstash's plain codec
// does, an event with a message field gets the tag
// "beats_input_codec_plain_applied" (unless include_codec_tag is false).
//
// Acknowledgement: each lumberjack window (batch) becomes one engine batch, and
// the beat is sent the ACK for it only after the engine acknowledged every
// event (delivered by every output it was routed to, or dropped by a filter).
// Until then the beat gets keepalives (empty ACKs every 3 s) and waits, and the
// input emits no further window from that connection (go-lumber reads at most
// one more into memory, then stops reading), so back-pressure reaches the
// shipper. When the engine reports a failure for a batch, the connection is
// closed without an ACK and the beat resends the window on a new connection.
// On shutdown the server stops accepting and closes every connection; windows
// not yet acknowledged are not ACKed (the beat resends them).
//
// Limits: at most max_connections connections at once (a further client is
// accepted and closed at once, and the beat retries with backoff); a window of
// at most max_window_size events and max_window_bytes bytes (counted after
// inflation, across all its compressed frames); a data frame, a compressed
// frame and what a compressed frame inflates to, of at most max_frame_bytes
// each; and at most max_pending_bytes read and not yet acknowledged over all
// connections. These are checked as the bytes arrive, so a window beyond a
// limit is never acknowledged: its connection is closed. A connection
// that breaks a limit or the protocol (garbage, a frame of an unknown type,
// invalid JSON, a truncated frame that times out) is closed and logged;
// others are unaffected. Per connection the input holds at most the window
// in the pipeline and the one being read.
//
// A codec, when configured, decodes each event's message (or, from a
// lumberjack sender such as Logstash's lumberjack output, its line) and the
// beat's other fields are set over what it decoded, as Logstash's beats input
// does; without one, message is kept as sent and line becomes message.
//
// Agent tokens (not a Logstash feature): lumberjack has no authentication
// frame, so with agent_tokens or agent_tokens_path each agent sends its
// token in every event, in agent_token_field ([fields][agent_token]:
// Filebeat's `fields: {agent_token: "..."}`, or the lumberjack output's
// token option). Every event of a window is checked (in constant time)
// before the window goes to the pipeline; a window with one event whose
// token is missing or unknown is refused whole: not acknowledged, its
// connection closed (the agent keeps its data and resends it), logged as
// "agent refused" with the remote address and the reason — at most one
// line every 10 s, counting the others — counted as refused_bad_token and
// listed among the agents with the reason. The token is removed from every
// accepted event (and its parent object when left empty), so it is never
// stored, and the agent's name goes to [@metadata][agent_name] (and
// agent_name_field when set). Tokens are never logged, and
// --config.debug masks agent_tokens. An agent may have several tokens, to
// rotate them without a gap. Tokens complement mTLS
// (ssl_client_authentication "required" with a CA of the agents only):
// without TLS a token crosses the network in clear.
//
// Only lumberjack v2 is served (every Beats version since 5.0 speaks it);
// lumberjack v1 (logstash-forwarder) is served by the lumberjack input, on
// this input's code (NewV1).
//
// Failure semantics: Run returns an error when the port cannot be bound or the
// pipeline was aborted; a failing connection never ends Run.
package beats

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/elastic/go-lumber/lj"
	lumberlog "github.com/elastic/go-lumber/log"
	lumberv1 "github.com/elastic/go-lumber/server/v1"
	lumber "github.com/elastic/go-lumber/server/v2"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/plugins/internal/ecs"
	"github.com/pipelined/pipeline/plugins/internal/netserver"
	"github.com/pipelined/pipeline/plugins/internal/tlsopt"
)

func init() {
	engine.RegisterInput("beats", New, engine.WithOptionalCodec())
	lumberlog.Logger = lumberLogger{}
}

// CodecTag is the tag Logstash's plain codec leaves on beats events that have
// a message.
const CodecTag = "beats_input_codec_plain_applied"

// Options configures the beats input.
type Options struct {
	// Host is the address to listen on.
	Host string `hcl:"host,optional"`
	// Port is the TCP port to listen on (Beats ship to 5044 by default).
	Port int `hcl:"port"`
	// The ssl_* options, and the Logstash 7 names ssl and ssl_verify_mode.
	tlsopt.Server
	tlsopt.ServerAliases
	tlsopt.BeatsRemoved
	// ClientInactivityTimeout closes a connection after this many seconds
	// without data while none of its windows is in the pipeline; it also bounds
	// the time to receive one window once it started, and to write an ACK. 0
	// disables the idle timeout (windows and ACKs then get 30 s).
	ClientInactivityTimeout float64 `hcl:"client_inactivity_timeout,optional"`
	// IncludeCodecTag adds the tag "beats_input_codec_plain_applied" to events
	// that have a message, as Logstash does; unset, enrich decides
	// (codec_metadata). Logstash's deprecated form of enrich's
	// codec_metadata: set one or the other.
	IncludeCodecTag *bool `hcl:"include_codec_tag,optional"`
	// Enrich lists what the input adds to each event: "source_metadata"
	// (the sender's IP address in [@metadata][input][beats][host][ip], or
	// [@metadata][ip_address] with ecs_compatibility disabled),
	// "codec_metadata" (the codec tag), "ssl_peer_metadata" (the TLS
	// session and the verified client certificate's subject under
	// [@metadata][tls_peer] and [@metadata][input][beats][tls]: who sent
	// the event), or "all", or "none". Unset: source_metadata and
	// codec_metadata, as Logstash.
	Enrich []string `hcl:"enrich,optional"`
	// ecs_compatibility chooses the names of the enrich fields.
	ecs.Compatibility
	// MaxConnections is the most connections served at once (not a Logstash
	// option); a client beyond it is closed at once and logged. 0 means no
	// limit.
	MaxConnections int `hcl:"max_connections,optional"`
	// MaxFrameBytes bounds every lumberjack frame (not a Logstash option): the
	// JSON of one event, the compressed bytes of a compressed frame, and the
	// bytes that compressed frame inflates to (so a compression bomb is cut
	// off). A connection sending a larger frame is closed.
	MaxFrameBytes int64 `hcl:"max_frame_bytes,optional"`
	// MaxWindowSize is the most events in one lumberjack window (not a Logstash
	// option; Filebeat sends 2048 at most by default). A connection announcing
	// a larger window is closed.
	MaxWindowSize int `hcl:"max_window_size,optional"`
	// MaxWindowBytes bounds the JSON bytes of one lumberjack window (not a
	// Logstash option), counted after inflation across all its compressed
	// frames, so small compressed frames cannot add up to a large window. A
	// connection sending a larger window is closed before the window is
	// acknowledged (the beat resends it). A connection holds at most two
	// windows: the one in the pipeline and the one being read.
	MaxWindowBytes int64 `hcl:"max_window_bytes,optional"`
	// MaxPendingBytes bounds the JSON bytes, after inflation, that all
	// connections of this input together have read and the pipeline has not
	// yet acknowledged, plus each open connection's read buffer (as large as
	// the largest event it sent) (not a Logstash option). A connection whose
	// window would go beyond it is closed before the window is acknowledged,
	// and its beat resends the window later, so the memory the input holds
	// stays bounded whatever the number of connections. At least
	// max_window_bytes + max_frame_bytes.
	MaxPendingBytes int64 `hcl:"max_pending_bytes,optional"`
	// AgentTokens maps agent names to their tokens (not a Logstash
	// option): with it (or agent_tokens_path) every event must carry a
	// known token in agent_token_field, or its window is refused whole
	// (not acknowledged, the connection closed: the agent keeps the data
	// and resends it). Give the tokens with ${VAR}; each is at least 16
	// bytes. An agent may have several tokens (one per name and token
	// pair in agent_tokens_path), to rotate them.
	AgentTokens map[string]string `hcl:"agent_tokens,optional"`
	// AgentTokensPath is a file of agent tokens (not a Logstash option),
	// one "<token> <agent name>" a line; blank lines and lines starting
	// with # are skipped. Read when the input starts; at most 4 MiB.
	AgentTokensPath string `hcl:"agent_tokens_path,optional"`
	// AgentTokenField is the field of each event that holds the agent's
	// token (not a Logstash option); it is removed from every accepted
	// event, with its parent object when that is left empty. Filebeat
	// sends [fields][agent_token] with `fields: {agent_token: "..."}`; the
	// lumberjack output with its token option.
	AgentTokenField string `hcl:"agent_token_field,optional"`
	// AgentNameField, when set, is a field that gets the agent's name as
	// well as [@metadata][agent_name] (not a Logstash option).
	AgentNameField string `hcl:"agent_name_field,optional"`
}

// Defaults sets Logstash's defaults and the limits.
func (o *Options) Defaults() {
	o.Host = "0.0.0.0"
	o.ClientInactivityTimeout = 60
	o.Compatibility.Defaults()
	o.MaxConnections = 1000
	// Filebeat cuts a message at 10 MiB by default (max_bytes): with its
	// fields and JSON escaping, an event of it fits in 12 MiB.
	o.MaxFrameBytes = 12 << 20
	o.MaxWindowSize = lumberDefaultWindow
	o.MaxWindowBytes = 12 << 20
	o.MaxPendingBytes = 24 << 20
	o.Server.Defaults()
	o.SSLClientAuthentication = "none"
	o.AgentTokenField = "[fields][agent_token]"
}

const lumberDefaultWindow = 10000

// Validate checks the options. It reads no file.
func (o *Options) Validate() error {
	fe := func(f, format string, args ...any) error {
		return &engine.FieldError{Field: f, Err: fmt.Errorf(format, args...)}
	}
	if o.Port < 0 || o.Port > 65535 {
		return fe("port", "must be between 0 and 65535")
	}
	srv, err := o.ServerAliases.Apply(o.Server)
	if err != nil {
		return err
	}
	if err := srv.Validate(); err != nil {
		return err
	}
	if o.ClientInactivityTimeout < 0 {
		return fe("client_inactivity_timeout", "must not be negative")
	}
	if err := o.Compatibility.Validate(); err != nil {
		return err
	}
	en, err := o.enrichments()
	if err != nil {
		return err
	}
	if en.peer && (!srv.SSLEnabled || srv.SSLClientAuthentication == "none") {
		// Logstash refuses it when the input starts (in register).
		return engine.AtStart(fe("enrich", `ssl_peer_metadata needs ssl_enabled and ssl_client_authentication "optional" or "required"`))
	}
	if o.MaxConnections < 0 {
		return fe("max_connections", "must not be negative")
	}
	if o.MaxFrameBytes < 1024 {
		return fe("max_frame_bytes", "must be at least 1024")
	}
	if o.MaxWindowSize < 1 {
		return fe("max_window_size", "must be at least 1")
	}
	if o.MaxWindowBytes < o.MaxFrameBytes {
		return fe("max_window_bytes", "must be at least max_frame_bytes (%d)", o.MaxFrameBytes)
	}
	if o.MaxPendingBytes < o.MaxWindowBytes+o.MaxFrameBytes {
		return fe("max_pending_bytes", "must be at least max_window_bytes + max_frame_bytes (%d): a window and its connection's read buffer", o.MaxWindowBytes+o.MaxFrameBytes)
	}
	return o.validateTokens()
}

// Input is the beats input.
type Input struct {
	id         string
	addr       string
	tls        *tls.Config
	codecTag   bool
	srcMeta    bool // enrich source_metadata
	peerMeta   bool // enrich ssl_peer_metadata
	enrichRefs enrichRefs
	tokens     *agentTokens // agent_tokens; nil: none
	codec      engine.Codec // the configured codec; nil: message kept as sent
	codecName  string
	idle       time.Duration // client_inactivity_timeout; 0: none
	timeout    time.Duration // in-window read and ACK write timeout
	maxConns   int
	maxFrame   int64
	maxWindow  uint32
	maxWinB    int64 // max_window_bytes
	maxPending int64 // max_pending_bytes
	keepalive  time.Duration
	log        *slog.Logger
	messageRef event.Ref
	// v1 serves lumberjack v1 (logstash-forwarder; the lumberjack input)
	// instead of v2; name is the plugin's name in logs and errors.
	v1   bool
	name string

	// lastDecodeErr is the last event that failed to decode: go-lumber then
	// closes the connection without telling which, so this names the reason
	// in the log (with many failing connections at once, maybe another's).
	lastDecodeErr atomic.Pointer[error]

	conns   sync.Map // remote address → *connState
	nconns  atomic.Int64
	pending atomic.Int64 // bytes read and not yet acknowledged, all connections
	closing atomic.Bool

	// recent are the connections closed lately (agents.go).
	recent recentAgents

	// Connections closed for a budget, by budget.
	refusedFrame, refusedWindowSize, refusedWindowBytes, refusedPending atomic.Uint64
	// Windows refused for a missing or unknown agent token.
	refusedToken atomic.Uint64
}

// Counters reports the connections closed for a budget in /_node/stats and
// /metrics.
func (in *Input) Counters() []engine.Counter {
	return []engine.Counter{
		{Name: "refused_max_frame_bytes", Help: "Connections closed for a frame (or what a compressed frame inflates to) beyond max_frame_bytes.", Value: int64(in.refusedFrame.Load())},
		{Name: "refused_max_window_size", Help: "Connections closed for a window of more events than max_window_size.", Value: int64(in.refusedWindowSize.Load())},
		{Name: "refused_max_window_bytes", Help: "Connections closed for a window beyond max_window_bytes after inflation (not acknowledged: the beat resends it).", Value: int64(in.refusedWindowBytes.Load())},
		{Name: "refused_max_pending_bytes", Help: "Connections closed because their window would take the input past max_pending_bytes (not acknowledged: the beat resends it).", Value: int64(in.refusedPending.Load())},
		{Name: "refused_bad_token", Help: "Connections closed for a window with an event whose agent token is missing or unknown (not acknowledged: the agent resends it).", Value: int64(in.refusedToken.Load())},
	}
}

var _ engine.Input = (*Input)(nil)

// onListen, when set (by tests), is told the bound address of each input.
var onListen func(in *Input, addr net.Addr)

// New builds a beats input; it loads the TLS certificates but opens no socket.
func New(o Options, r engine.Resources) (*Input, error) {
	log := r.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	setLumberLogger(log)
	en, err := o.enrichments()
	if err != nil {
		return nil, err
	}
	in := &Input{
		id:         r.ID,
		addr:       net.JoinHostPort(o.Host, strconv.Itoa(o.Port)),
		codecTag:   en.codec,
		srcMeta:    en.source,
		peerMeta:   en.peer,
		enrichRefs: newEnrichRefs(o.ECS()),
		idle:       time.Duration(o.ClientInactivityTimeout * float64(time.Second)),
		timeout:    30 * time.Second,
		maxConns:   o.MaxConnections,
		maxFrame:   o.MaxFrameBytes,
		maxWindow:  uint32(o.MaxWindowSize),
		maxWinB:    o.MaxWindowBytes,
		maxPending: o.MaxPendingBytes,
		keepalive:  3 * time.Second,
		log:        log,
		messageRef: event.MustRef(event.MessageField),
		codec:      r.Codec,
		codecName:  r.CodecName,
		name:       "beats",
	}
	if in.idle > 0 {
		in.timeout = in.idle
	}
	if in.tokens, err = newAgentTokens(o); err != nil {
		return nil, err
	}
	srv, _ := o.ServerAliases.Apply(o.Server)
	cfg, err := srv.Config()
	if err != nil {
		return nil, err
	}
	if cfg != nil && (en.peer || cfg.ClientAuth != tls.NoClientCert) {
		// The verified client is recorded for ssl_peer_metadata and for
		// the agents' listing in the monitoring API.
		cfg = in.peerConfig(cfg)
	}
	in.tls = cfg
	return in, nil
}

// Run serves connections until ctx is cancelled.
func (in *Input) Run(ctx context.Context, emit engine.EmitFunc) error {
	ln, err := net.Listen("tcp", in.addr)
	if err != nil {
		return fmt.Errorf("beats: %w", err)
	}
	in.log.Info(in.name+": listening", "address", ln.Addr().String(), "tls", in.tls != nil)
	if onListen != nil {
		onListen(in, ln.Addr())
	}
	// Tests of other packages run a beats input on port 0 (the lumberjack
	// output's) and learn its address as they do for netserver's inputs.
	if h := netserver.ListenHook.Load(); h != nil {
		(*h)(in.id, "tcp", ln.Addr(), nil)
	}
	var l net.Listener = &rawListener{Listener: ln, in: in}
	if in.tls != nil {
		l = tls.NewListener(l, in.tls)
	}
	l = &guardListener{Listener: l, in: in}

	ch := make(chan *lj.Batch) // unbuffered: a window is read off only when dispatched
	var srv interface{ Close() error }
	if in.v1 {
		srv, err = lumberv1.NewWithListener(l,
			lumberv1.Timeout(in.timeout),
			lumberv1.MaxWindowSize(in.maxWindow),
			lumberv1.Channel(ch))
	} else {
		srv, err = lumber.NewWithListener(l,
			lumber.Keepalive(in.keepalive),
			lumber.Timeout(in.timeout),
			lumber.MaxWindowSize(in.maxWindow),
			lumber.Channel(ch),
			lumber.JSONDecoder(in.decodeEvent))
	}
	if err != nil {
		_ = ln.Close()
		return fmt.Errorf("beats: %w", err)
	}

	runCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
loop:
	for {
		select {
		case <-runCtx.Done():
			break loop
		case b := <-ch:
			// A connection has at most one window here (go-lumber hands over the
			// next one only after this one is ACKed or the connection closed),
			// so these goroutines are bounded by the connections.
			wg.Go(func() {
				err := engine.Guard(in.log, "beats window handler", func() error { return in.handle(b, emit) })
				var perr *engine.PanicError
				if errors.As(err, &perr) {
					// The window fails: its connection is closed without an
					// ACK, and the beat resends it.
					if st := in.lookup(b.RemoteAddr); st != nil {
						st.kill(perr)
					}
					return
				}
				if err != nil {
					cancel(err)
				}
			})
		}
	}
	in.closing.Store(true)
	err = srv.Close()
	in.log.Info(in.name+": stopped listening", "address", ln.Addr().String())
	wg.Wait()
	if cause := context.Cause(runCtx); cause != nil && !errors.Is(cause, context.Canceled) {
		return cause
	}
	if err != nil && !errors.Is(err, net.ErrClosed) {
		in.log.Debug("beats: close", "error", err)
	}
	return nil
}

// handle emits one window and ACKs it when the engine acknowledges it.
func (in *Input) handle(b *lj.Batch, emit engine.EmitFunc) error {
	events := make([]*event.Event, 0, len(b.Events))
	st := in.lookup(b.RemoteAddr)
	var refused error
	var agent string // the last event's agent name (agent_tokens)
	for _, v := range b.Events {
		e, ok := v.(*event.Event)
		if kv, isV1 := v.(map[string]string); isV1 {
			// A lumberjack v1 event: its key/value pairs are the fields.
			m := make(map[string]any, len(kv))
			for k, s := range kv {
				m[k] = s
			}
			var err error
			if e, err = event.FromMap(m); err == nil {
				ok = true
			}
		}
		if !ok {
			continue // decodeEvent makes only events
		}
		if in.tokens != nil {
			name, err := in.tokens.check(e)
			if err != nil {
				refused = err
				break
			}
			in.tokens.mark(e, name)
			agent = name
		}
		if in.srcMeta || in.peerMeta {
			in.enrich(e, b.RemoteAddr, st)
		}
		events = in.decodeTarget(e, events)
	}
	var w *windowBytes
	if st != nil {
		if refused == nil {
			st.events.Add(int64(len(events)))
			if agent != "" {
				st.agent.Store(&agent)
			}
		}
		w = st.claim()
	}
	if refused != nil {
		in.release(w)
		in.refuse(st, b.RemoteAddr, refused)
		return nil
	}
	defer func() {
		// A panic (recovered by the caller) fails the window: its bytes are
		// released here, as the Ack would (release is idempotent).
		if r := recover(); r != nil {
			in.release(w)
			panic(r)
		}
	}()
	if st == nil || !st.alive() {
		// go-lumber read this window before we closed the connection (after a
		// failed window): the beat resends it, so it is not emitted.
		in.release(w)
		in.log.Debug("beats: dropping a window of a closed connection", "remote", b.RemoteAddr, "events", len(events))
		return nil
	}
	st.begin()
	err := emit(engine.Batch{Events: events, Ack: func(err error) {
		in.release(w)
		st.end()
		if err != nil {
			// Refused for good by an output (counted and logged by the
			// engine, or kept in the dead letter queue): acknowledged as
			// every input does, so the beat does not resend the window
			// for ever (engine.Batch.Ack).
			in.log.Warn("beats: window acknowledged with events an output refused for good",
				"remote", b.RemoteAddr, "events", len(events), "error", err)
		}
		if in.closing.Load() {
			return // the connection is closed: the beat resends
		}
		b.ACK()
	}})
	if err != nil {
		in.release(w)
		st.end()
		st.kill(fmt.Errorf("pipeline aborted: %w", err))
		return fmt.Errorf("beats: %w", err)
	}
	return nil
}

// refuse closes a connection whose window holds a bad token, without
// acknowledging the window, and logs it (at most once every
// tokenLogEvery, with the count of those not logged).
func (in *Input) refuse(st *connState, remote string, why error) {
	in.refusedToken.Add(1)
	if log, suppressed := in.tokens.logRefusal(); log {
		args := []any{"remote", remote, "reason", why.Error()}
		if st != nil {
			if p := st.peer.Load(); p != nil && p.verified {
				args = append(args, "tls_client_subject", p.subject)
			}
		}
		if suppressed > 0 {
			args = append(args, "refused_since_last_logged", suppressed)
		}
		in.log.Warn(in.name+": agent refused: its window is not acknowledged and the connection closed (the agent keeps the data and retries)", args...)
	}
	if st != nil {
		st.kill(why)
	}
}

func (in *Input) lookup(remote string) *connState {
	v, ok := in.conns.Load(remote)
	if !ok {
		return nil
	}
	return v.(*connState)
}

// decodeEvent is go-lumber's JSON decoder: it makes events directly. buf is
// reused by go-lumber; event.FromJSON copies what it keeps.
func (in *Input) decodeEvent(buf []byte, v any) (err error) {
	// go-lumber's connection goroutine calls this: a panic here would end
	// the process, so it fails the connection instead.
	defer func() {
		if perr := engine.Recovered(recover(), in.log, "beats event decoder"); perr != nil {
			err = perr
		}
	}()
	e, err := event.FromJSON(buf)
	if err != nil {
		err = fmt.Errorf("event: %w", err)
		in.lastDecodeErr.Store(&err)
		return err
	}
	p, ok := v.(*any)
	if !ok {
		return fmt.Errorf("beats: unexpected decode target %T", v)
	}
	*p = e
	return nil
}

// lumberLogger sends go-lumber's own log lines to the engine's logger at debug
// level. go-lumber has one global logger, set once in init (it is read without
// synchronisation); it forwards to the logger of the last beats input built,
// which only changes the pipeline and id attributes of these debug lines.
type lumberLogger struct{}

var lumberTarget atomic.Pointer[slog.Logger]

func (lumberLogger) Printf(format string, args ...any) { lumberDebug(fmt.Sprintf(format, args...)) }
func (lumberLogger) Println(args ...any)               { lumberDebug(fmt.Sprint(args...)) }
func (lumberLogger) Print(args ...any)                 { lumberDebug(fmt.Sprint(args...)) }

func lumberDebug(msg string) {
	if l := lumberTarget.Load(); l != nil {
		l.Debug("go-lumber: " + msg)
	}
}

func setLumberLogger(log *slog.Logger) { lumberTarget.Store(log) }

// V1Config configures an Input that serves lumberjack v1 (the protocol of
// logstash-forwarder and of Logstash's lumberjack input) instead of v2.
type V1Config struct {
	Addr string      // host:port to listen on
	TLS  *tls.Config // required by the lumberjack input
	// Timeout bounds the time to receive one window once it started and
	// to write an ACK.
	Timeout time.Duration
}

// NewV1 builds an Input serving lumberjack v1 for the lumberjack input:
// the beats input's server, budgets (at their defaults), acknowledgement
// after the pipeline and codec handling, with v1's key/value data frames
// (the line key is decoded by the codec into message) and no codec tag.
// Lumberjack v1 has no keepalive: a window held in the pipeline longer
// than the sender's timeout is resent by it on a new connection.
func NewV1(c V1Config, r engine.Resources) (*Input, error) {
	var o Options
	o.Defaults()
	in, err := New(o, r)
	if err != nil {
		return nil, err
	}
	in.v1, in.name, in.codecTag, in.srcMeta = true, "lumberjack", false, false
	in.addr, in.tls = c.Addr, c.TLS
	if c.Timeout > 0 {
		in.timeout = c.Timeout
	}
	return in, nil
}
