// Package lumberjack implements the lumberjack output, like Logstash's: it
// ships events over TLS with the lumberjack v2 protocol (what Filebeat and
// Winlogbeat speak) to a beats or lumberjack input, on
// github.com/elastic/go-lumber's v2 client.
//
// # Delivery
//
// Write returns only when the receiver acknowledged the whole batch (sent
// as windows of at most flush_size events), so the pipeline acknowledges its inputs —
// and a persisted queue frees the events — only once the centre has them.
// What the receiver acknowledged of a window cut by an error is not sent
// again; the rest is, on the next host. A receiver that does not
// acknowledge within timeout (a dead or hijacked connection, idle or not)
// has its connection torn down and the window is sent again: at-least-once.
// While no host can be reached the engine retries with backoff and the
// pipeline holds, so the inputs (and a persisted queue) back up: nothing is
// dropped.
//
// # Hosts
//
// hosts are tried in order (failover): the output stays on the first host
// that answers and moves to the next one when it fails. With loadbalance
// each batch goes to the next host in turn.
//
// # Format
//
// Without a codec each event is sent as the JSON document of its fields,
// as Filebeat sends its events, so a beats input (this engine's or
// Logstash's with its default codec) receives the event as it was. With a
// codec, each event is sent as Logstash's lumberjack output sends it: a
// document {"line": <the codec's output>}, for a receiving Logstash beats
// input that decodes line with the same codec.
//
// # Agent token
//
// With token set, every event is sent with the token in token_field
// ([fields][agent_token] by default), for a beats input that checks agent
// tokens (its agent_tokens or agent_tokens_path): it removes the token and
// records the agent's name. The events in the pipeline are not changed.
// A centre that refuses the token closes the connection without an
// acknowledgement, so the batch is retried with backoff and stays in the
// queue until the centre accepts it. Give the token with ${VAR}; it is
// never logged and --config.debug masks it.
//
// # TLS
//
// TLS is always on, as in Logstash. ssl_certificate is the receiver's
// certificate or the CA that signed it, trusted for this connection (the
// Logstash meaning of the option); ssl_client_certificate and
// ssl_client_key add a client certificate for a receiver that requires one
// (ssl_client_authentication => "required" on the beats input).
package lumberjack

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	v2 "github.com/elastic/go-lumber/client/v2"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/plugins/internal/tlsopt"
)

func init() { engine.RegisterOutput("lumberjack", New, engine.WithOptionalCodec()) }

// MaxDocumentBytes bounds one event's document: a larger one fails for good
// (the dead letter queue takes it when there is one), as the beats input's
// own frame budget would refuse it.
const MaxDocumentBytes = 64 << 20

// Options configures the lumberjack output.
type Options struct {
	// Hosts are the receivers, as host names or addresses, each optionally
	// with its own :port.
	Hosts []string `hcl:"hosts"`
	// Port is the receivers' port (for hosts given without one).
	Port int `hcl:"port"`
	// The ssl_* options.
	tlsopt.Lumberjack
	// FlushSize is the most events sent in one window (Logstash's: the
	// events buffered before a send); a larger batch goes as several
	// windows, each acknowledged before the next is sent.
	FlushSize int `hcl:"flush_size,optional"`
	// IdleFlushTime is accepted for compatibility: the pipeline's
	// batch_delay plays its part.
	IdleFlushTime float64 `hcl:"idle_flush_time,optional"`
	// Loadbalance sends each batch to the next host in turn instead of
	// staying on one (not a Logstash option; Filebeat's).
	Loadbalance bool `hcl:"loadbalance,optional"`
	// Timeout is how long, in seconds, connecting and waiting for the
	// receiver's acknowledgement of a window may take before the
	// connection is torn down and the window sent again (not a Logstash
	// option; Filebeat's, same default).
	Timeout float64 `hcl:"timeout,optional"`
	// CompressionLevel is the zlib level of the windows, 0 (none) to 9
	// (not a Logstash option; Filebeat's, same default).
	CompressionLevel int `hcl:"compression_level,optional"`
	// Token is this agent's token for a beats input with agent_tokens
	// (not a Logstash option): sent in token_field of every event. Give it
	// with ${VAR}; it is never logged.
	Token string `hcl:"token,optional"`
	// TokenField is the field the token goes in (not a Logstash option):
	// the beats input's agent_token_field, [fields][agent_token] by
	// default (where Filebeat sends `fields: {agent_token: ...}`). The
	// events in the pipeline are not changed.
	TokenField string `hcl:"token_field,optional"`
}

// Defaults sets Logstash's defaults (and Filebeat's for the options
// Logstash does not have).
func (o *Options) Defaults() {
	o.FlushSize = 1024
	o.IdleFlushTime = 1
	o.Timeout = 30
	o.CompressionLevel = 3
	o.TokenField = "[fields][agent_token]"
}

// Validate checks the options without reading files.
func (o *Options) Validate() error {
	fe := func(f, format string, args ...any) error {
		return &engine.FieldError{Field: f, Err: fmt.Errorf(format, args...)}
	}
	if len(o.Hosts) == 0 {
		return fe("hosts", "give at least one host")
	}
	if o.Port < 1 || o.Port > 65535 {
		return fe("port", "must be between 1 and 65535")
	}
	for _, h := range o.Hosts {
		if _, err := address(h, o.Port); err != nil {
			return fe("hosts", "%v", err)
		}
	}
	if o.Timeout <= 0 {
		return fe("timeout", "must be positive")
	}
	if o.CompressionLevel < 0 || o.CompressionLevel > 9 {
		return fe("compression_level", "must be between 0 and 9")
	}
	if o.FlushSize < 1 {
		return fe("flush_size", "must be at least 1")
	}
	keys, err := event.PlainKeys(o.TokenField)
	if err != nil {
		return fe("token_field", "%v", err)
	}
	if keys[0] == "line" {
		return fe("token_field", "must not be line (the document's line with a codec)")
	}
	if strings.ContainsAny(o.Token, " \t\r\n") {
		return fe("token", "must not hold white space")
	}
	return o.Lumberjack.Validate()
}

// address is host with port unless it names its own.
func address(host string, port int) (string, error) {
	if host == "" {
		return "", errors.New("an empty host")
	}
	if h, p, err := net.SplitHostPort(host); err == nil {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 || h == "" {
			return "", fmt.Errorf("%q: not host:port", host)
		}
		return host, nil
	}
	return net.JoinHostPort(host, strconv.Itoa(port)), nil
}

// Output is a lumberjack output.
type Output struct {
	o     Options
	log   *slog.Logger
	tls   *tls.Config
	addrs []string
	codec engine.Codec

	cur   int // index of the host in use (or to try next)
	conns []*v2.SyncClient
	buf   bytes.Buffer
	enc   engine.Encoder
	// tokenJSON is the document members that carry the token
	// ("fields":{"agent_token":"..."}), tokenRoot its top-level key;
	// nil: no token.
	tokenJSON []byte
	tokenRoot string
	tokenRef  event.Ref
}

// New builds a lumberjack output; it loads the certificates but connects
// to nothing.
func New(o Options, r engine.Resources) (*Output, error) {
	cfg, err := o.Lumberjack.Config()
	if err != nil {
		return nil, err
	}
	out := &Output{o: o, log: r.Logger, tls: cfg, codec: r.Codec}
	if out.log == nil {
		out.log = slog.New(slog.DiscardHandler)
	}
	for _, h := range o.Hosts {
		a, _ := address(h, o.Port)
		out.addrs = append(out.addrs, a)
	}
	out.conns = make([]*v2.SyncClient, len(out.addrs))
	if r.Codec != nil {
		out.enc = r.Codec.NewEncoder(&out.buf)
	}
	if o.Token != "" {
		keys, _ := event.PlainKeys(o.TokenField)
		out.tokenRoot, out.tokenRef = keys[0], event.MustRef(o.TokenField)
		var j []byte
		for i, k := range keys {
			if i > 0 {
				j = append(j, '{')
			}
			j = append(event.AppendJSONValue(j, k), ':')
		}
		j = event.AppendJSONValue(j, o.Token)
		for range keys[1:] {
			j = append(j, '}')
		}
		out.tokenJSON = j
	}
	return out, nil
}

func (o *Output) timeout() time.Duration { return time.Duration(o.o.Timeout * float64(time.Second)) }

// Connect connects to a host, starting with the one in use, in order.
func (o *Output) Connect(ctx context.Context) error {
	var errs []error
	for range o.addrs {
		if o.conns[o.cur] != nil {
			return nil
		}
		if err := o.dial(ctx, o.cur); err == nil {
			return nil
		} else {
			errs = append(errs, err)
		}
		o.cur = (o.cur + 1) % len(o.addrs)
	}
	return fmt.Errorf("lumberjack: no host reachable: %w", errors.Join(errs...))
}

func (o *Output) dial(ctx context.Context, i int) error {
	d := tls.Dialer{NetDialer: &net.Dialer{Timeout: o.timeout()}, Config: o.tls}
	c, err := d.DialContext(ctx, "tcp", o.addrs[i])
	if err != nil {
		return fmt.Errorf("%s: %w", o.addrs[i], err)
	}
	cl, err := v2.NewSyncClientWithConn(c, v2.Timeout(o.timeout()), v2.CompressionLevel(o.o.CompressionLevel),
		v2.JSONEncoder(func(v any) ([]byte, error) { return v.([]byte), nil }))
	if err != nil {
		c.Close()
		return fmt.Errorf("%s: %w", o.addrs[i], err)
	}
	o.conns[i] = cl
	o.log.Info("lumberjack: connected", "host", o.addrs[i])
	return nil
}

func (o *Output) drop(i int) {
	if o.conns[i] != nil {
		o.conns[i].Close()
		o.conns[i] = nil
	}
}

// documents renders the events; an event that cannot be rendered, or is
// over MaxDocumentBytes, fails for good.
func (o *Output) documents(events []*event.Event) ([]any, []int, map[int]error) {
	docs := make([]any, 0, len(events))
	idx := make([]int, 0, len(events))
	failed := map[int]error{}
	for i, e := range events {
		var doc []byte
		if o.enc == nil {
			if _, clash := e.Fields()[o.tokenRoot]; o.tokenJSON != nil && clash {
				// The token goes inside an object the event has: into a
				// copy, the event is not changed for other outputs.
				c := e.Copy()
				if err := c.Set(o.tokenRef, o.o.Token); err != nil {
					failed[i] = engine.Permanent(fmt.Errorf("lumberjack: token_field %s: the event's %s is not an object", o.o.TokenField, o.tokenRoot))
					continue
				}
				doc = c.AppendJSON(nil)
			} else {
				doc = o.withToken(e.AppendJSON(nil))
			}
		} else {
			o.buf.Reset()
			if err := o.enc.Encode(e); err != nil {
				failed[i] = engine.Permanent(fmt.Errorf("lumberjack: encode: %w", err))
				continue
			}
			doc = o.withToken(append(event.AppendJSONValue([]byte(`{"line":`), o.buf.String()), '}'))
		}
		if len(doc) > MaxDocumentBytes {
			failed[i] = engine.Permanent(fmt.Errorf("lumberjack: an event of %d bytes is over the document budget of %d bytes", len(doc), MaxDocumentBytes))
			continue
		}
		docs = append(docs, doc)
		idx = append(idx, i)
	}
	return docs, idx, failed
}

// withToken adds the token's members to a JSON object that lacks its
// top-level key.
func (o *Output) withToken(doc []byte) []byte {
	if o.tokenJSON == nil || len(doc) < 2 {
		return doc
	}
	doc = doc[:len(doc)-1]
	if len(doc) > 1 {
		doc = append(doc, ',')
	}
	return append(append(doc, o.tokenJSON...), '}')
}

// Write sends the batch as one window and returns once the receiver
// acknowledged all of it.
func (o *Output) Write(ctx context.Context, events []*event.Event) error {
	docs, idx, failed := o.documents(events)
	if len(docs) > 0 && o.o.Loadbalance {
		o.cur = (o.cur + 1) % len(o.addrs)
	}
	// A batch goes as windows of at most flush_size events, one after
	// another: a receiver refuses a window above its own limit (the
	// beats input's max_window_size), and a batch handed to the output
	// can be larger than pipeline.batch.size.
	for sent := 0; sent < len(docs); {
		end := min(sent+o.o.FlushSize, len(docs))
		if o.conns[o.cur] == nil {
			if err := o.Connect(ctx); err != nil {
				if sent == 0 && len(failed) == 0 {
					return fmt.Errorf("%w: %w", err, engine.ErrNotConnected)
				}
				for _, j := range idx[sent:] {
					failed[j] = err
				}
				break
			}
		}
		i := o.cur
		n, err := o.conns[i].Send(docs[sent:end])
		if err != nil {
			o.drop(i)
			o.log.Warn("lumberjack: window not acknowledged; sending the rest again", "host", o.addrs[i],
				"acknowledged", n, "events", end-sent, "error", err)
			o.cur = (i + 1) % len(o.addrs)
			if sent+n == 0 && len(failed) == 0 {
				return fmt.Errorf("lumberjack: %s: %w: %w", o.addrs[i], err, engine.ErrNotConnected)
			}
			for _, j := range idx[sent+n:] {
				failed[j] = fmt.Errorf("lumberjack: %s: %w", o.addrs[i], err)
			}
			break
		}
		sent = end
	}
	if len(failed) == 0 {
		return nil
	}
	return &engine.BatchError{Failed: failed}
}

// Close closes the connections.
func (o *Output) Close(context.Context) error {
	for i := range o.conns {
		o.drop(i)
	}
	return nil
}
