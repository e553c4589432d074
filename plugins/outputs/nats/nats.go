// Package nats implements the nats output: it publishes each event, encoded
// by the output's codec (json by default), to a NATS subject, a sprintf
// template rendered per event (logs.%{[host][name]}), with
// github.com/nats-io/nats.go. Logstash has no nats output of its own; the
// option names follow NATS's.
//
// # JetStream: at-least-once
//
// With jetstream => true (the default) each message is published to
// JetStream asynchronously, and Write returns only once the stream has
// acknowledged every message of the batch (stored, and replicated to a
// quorum of a replicated stream). A message the stream refuses or does not
// acknowledge within ack_timeout (a server failing over, a stream over its
// limits, no stream for the subject) is published again by the engine with
// backoff, holding the pipeline; a message over the size budget or with a
// subject that cannot be published to fails for good (to the dead letter
// queue when there is one). A message published before a failure may
// therefore be stored twice. msg_id sets the Nats-Msg-Id header, which makes
// JetStream drop a message whose id it has seen within the stream's
// duplicate window (2 minutes by default): with
// msg_id => "%{[@metadata][fingerprint]}" after a fingerprint filter, or a
// sprintf of fields that identify an event, a batch published again is
// stored once. An event whose msg_id template references a missing field is
// published without the header (counted as msg_id_missing).
//
// With stream and subjects set, the output creates the stream (replicas,
// max_age and storage apply) when it does not exist; otherwise the stream
// capturing the subjects must exist.
//
// # Core NATS: at-most-once
//
// With jetstream => false messages are published with core NATS and Write
// returns once the server has received them (a flush): a subscriber that is
// not connected, or a server that fails, loses them. Use it only where
// losing events is acceptable.
package nats

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/plugins/internal/natsopt"
	"github.com/pipelined/pipeline/plugins/internal/tlsopt"
)

func init() { engine.RegisterOutput("nats", New, engine.WithDefaultCodec("json")) }

// Options configures the nats output.
type Options struct {
	// Subject is the subject published to; %{field} references are replaced
	// per event. An event whose subject renders empty, with white space or
	// with a wildcard fails for good.
	Subject string `hcl:"subject"`
	// MsgID, when set, is the message id (the Nats-Msg-Id header) JetStream
	// deduplicates on; %{field} references are replaced per event.
	MsgID string `hcl:"msg_id,optional"`
	// AckTimeout is how long a JetStream publish waits for its
	// acknowledgement before it is published again.
	AckTimeout engine.Duration `hcl:"ack_timeout,optional"`
	// MaxPending is the most JetStream publishes awaiting acknowledgement
	// at a time; a larger batch waits for acknowledgements to publish the
	// rest.
	MaxPending int `hcl:"max_pending,optional"`

	natsopt.Connection
	natsopt.Stream
	// The ssl_* options: TLS to the servers, on with ssl_enabled or tls://
	// URLs.
	tlsopt.Client
}

// Defaults sets the defaults.
func (o *Options) Defaults() {
	o.AckTimeout = engine.Duration(10 * time.Second)
	o.MaxPending = 4000
	o.Connection.Defaults()
	o.Stream.Defaults()
	o.Client.Defaults()
}

func fieldErr(field, format string, args ...any) error {
	return &engine.FieldError{Field: field, Err: fmt.Errorf(format, args...)}
}

// Validate checks the options.
func (o *Options) Validate() error {
	if err := o.Connection.Validate(o.Client); err != nil {
		return err
	}
	if err := o.Stream.Validate(); err != nil {
		return err
	}
	t, err := event.ParseTemplate(o.Subject)
	if err != nil {
		return fieldErr("subject", "%v", err)
	}
	if t.IsConstant() {
		if err := natsopt.CheckSubject(o.Subject, false); err != nil {
			return fieldErr("subject", "%v", err)
		}
	}
	if _, err := event.ParseTemplate(o.MsgID); err != nil {
		return fieldErr("msg_id", "%v", err)
	}
	if o.MsgID != "" && !o.JetStream {
		return fieldErr("msg_id", "is a JetStream header, and jetstream is false")
	}
	if len(o.Subjects) > 0 && !o.JetStream {
		return fieldErr("subjects", "creates a JetStream stream, and jetstream is false")
	}
	if o.AckTimeout <= 0 {
		return fieldErr("ack_timeout", "must be positive")
	}
	if o.MaxPending < 1 || o.MaxPending > 1_000_000 {
		return fieldErr("max_pending", "must be from 1 to 1000000")
	}
	return nil
}

// Output is the nats output.
type Output struct {
	o       Options
	dialer  *natsopt.Dialer
	subject event.Template
	msgID   event.Template
	enc     engine.Encoder
	buf     bytes.Buffer
	log     *slog.Logger

	nc        *nats.Conn
	js        jetstream.JetStream
	connected bool

	reconnects   atomic.Int64
	refused      atomic.Int64
	msgIDMissing atomic.Int64
}

var (
	_ engine.Output  = (*Output)(nil)
	_ engine.Counted = (*Output)(nil)
)

// New builds a nats output. It reads the TLS and key files; Connect dials.
func New(o Options, r engine.Resources) (*Output, error) {
	d, log, err := natsopt.Setup(o.Connection, o.Client, "output", r)
	if err != nil {
		return nil, err
	}
	out := &Output{o: o, dialer: d, log: log}
	out.subject, _ = event.ParseTemplate(o.Subject)
	out.msgID, _ = event.ParseTemplate(o.MsgID)
	out.enc = r.Codec.NewEncoder(&out.buf)
	return out, nil
}

// Counters reports reconnections, refused publishes and ids not rendered.
func (o *Output) Counters() []engine.Counter {
	return []engine.Counter{
		{Name: "reconnects", Help: "Connections to NATS opened again after the output closed a failed one.", Value: o.reconnects.Load()},
		{Name: "publishes_refused", Help: "JetStream publishes refused or not acknowledged in time (published again).", Value: o.refused.Load()},
		{Name: "msg_id_missing", Help: "Events published without Nats-Msg-Id because msg_id referenced a missing field.", Value: o.msgIDMissing.Load()},
	}
}

// Connect dials the servers and, with JetStream, creates the stream when
// asked to.
func (o *Output) Connect(ctx context.Context) error {
	if o.nc != nil && !o.nc.IsClosed() {
		return nil
	}
	o.drop()
	nc, err := o.dialer.Dial(ctx)
	if err != nil {
		return err
	}
	if o.o.JetStream {
		js, err := jetstream.New(nc,
			jetstream.WithPublishAsyncMaxPending(o.o.MaxPending),
			jetstream.WithPublishAsyncTimeout(o.o.AckTimeout.D()))
		if err != nil {
			nc.Close()
			return fmt.Errorf("nats: jetstream: %w", err)
		}
		cctx, cancel := context.WithTimeout(ctx, o.o.AckTimeout.D())
		err = o.o.Stream.Ensure(cctx, js)
		cancel()
		if err != nil {
			nc.Close()
			return err
		}
		o.js = js
	}
	o.nc = nc
	if o.connected {
		o.reconnects.Add(1)
	}
	o.connected = true
	o.log.Info("nats: connected", "url", nc.ConnectedUrlRedacted(), "jetstream", o.o.JetStream)
	return nil
}

func (o *Output) drop() {
	if o.nc != nil {
		o.nc.Close()
	}
	o.nc, o.js = nil, nil
}

// message builds the message of e, or a permanent error.
func (o *Output) message(e *event.Event, maxPayload int64) (*nats.Msg, error) {
	subject := o.subject.Render(e)
	if err := natsopt.CheckSubject(subject, false); err != nil {
		return nil, engine.Permanent(fmt.Errorf("nats: %w", err))
	}
	o.buf.Reset()
	if err := o.enc.Encode(e); err != nil {
		return nil, engine.Permanent(fmt.Errorf("nats: encode: %w", err))
	}
	budget := min(int64(natsopt.MaxMessageBytes), maxPayload)
	if int64(o.buf.Len()) > budget {
		return nil, engine.Permanent(fmt.Errorf("nats: message of %d bytes is over the size budget of %d bytes (the server's max_payload or %d)", o.buf.Len(), budget, natsopt.MaxMessageBytes))
	}
	m := &nats.Msg{Subject: subject, Data: bytes.Clone(o.buf.Bytes())}
	if o.o.MsgID != "" {
		id := o.msgID.Render(e)
		if id == "" || (!o.msgID.IsConstant() && strings.Contains(id, "%{")) {
			o.msgIDMissing.Add(1)
		} else {
			m.Header = nats.Header{jetstream.MsgIDHeader: []string{id}}
		}
	}
	return m, nil
}

type inflight struct {
	index int
	paf   jetstream.PubAckFuture
}

// Write publishes the batch and returns once every message is acknowledged
// (JetStream) or flushed (core NATS), or with the events to publish again.
func (o *Output) Write(ctx context.Context, events []*event.Event) error {
	if o.nc == nil || o.nc.IsClosed() {
		o.drop()
		return fmt.Errorf("nats: %w", engine.ErrNotConnected)
	}
	maxPayload := o.nc.MaxPayload()
	if maxPayload <= 0 {
		maxPayload = natsopt.MaxMessageBytes
	}
	failed := map[int]error{}
	if !o.o.JetStream {
		for i, e := range events {
			m, err := o.message(e, maxPayload)
			if err != nil {
				failed[i] = err
				continue
			}
			if err := o.nc.PublishMsg(m); err != nil {
				return o.connErr(err)
			}
		}
		fctx, cancel := context.WithTimeout(ctx, o.o.AckTimeout.D())
		err := o.nc.FlushWithContext(fctx)
		cancel()
		if err != nil {
			return o.connErr(err)
		}
		return batchErr(failed, len(events))
	}
	sent := make([]inflight, 0, len(events))
	for i, e := range events {
		m, err := o.message(e, maxPayload)
		if err != nil {
			failed[i] = err
			continue
		}
		paf, err := o.js.PublishMsgAsync(m)
		if err != nil {
			if o.nc.IsClosed() {
				o.drop()
				return fmt.Errorf("nats: publish: %w: %w", err, engine.ErrNotConnected)
			}
			o.refused.Add(1)
			failed[i] = fmt.Errorf("nats: publish to %q: %w", m.Subject, err)
			continue
		}
		sent = append(sent, inflight{i, paf})
	}
	for _, s := range sent {
		select {
		case <-s.paf.Ok():
		case err := <-s.paf.Err():
			o.refused.Add(1)
			failed[s.index] = fmt.Errorf("nats: JetStream did not acknowledge a message to %q: %w", s.paf.Msg().Subject, err)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return batchErr(failed, len(events))
}

// connErr turns a publish error into a retry, after a reconnect if the
// connection is closed.
func (o *Output) connErr(err error) error {
	if o.nc == nil || o.nc.IsClosed() {
		o.drop()
		return fmt.Errorf("nats: %w: %w", err, engine.ErrNotConnected)
	}
	return fmt.Errorf("nats: %w", err)
}

// batchErr is the engine's form of the failures: nil, one retry of the whole
// batch when everything failed to publish for a reason worth retrying, or
// the failed events.
func batchErr(failed map[int]error, n int) error {
	if len(failed) == 0 {
		return nil
	}
	if len(failed) == n {
		var first error
		for _, err := range failed {
			if engine.IsPermanent(err) {
				return &engine.BatchError{Failed: failed}
			}
			first = err
		}
		return first
	}
	return &engine.BatchError{Failed: failed}
}

// Close closes the connection (what is published is acknowledged already).
func (o *Output) Close(context.Context) error {
	o.drop()
	return nil
}
