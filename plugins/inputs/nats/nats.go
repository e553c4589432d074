// Package nats implements the nats input: it consumes messages from NATS
// with github.com/nats-io/nats.go and decodes each with the input's codec
// (json by default). Logstash has no nats input of its own; the option names
// follow NATS's.
//
// # JetStream: a durable pull consumer, at-least-once
//
// With jetstream => true (the default) the input creates (or updates) the
// durable pull consumer named durable on stream (filtered to subject when
// set; the stream itself is created first when subjects is set), fetches
// batches of up to the pipeline's batch size and acknowledges each message
// only once the engine has acknowledged the batch holding its events: every
// event delivered by every output, dropped by a filter, or failed for good
// (then kept by the dead letter queue, or counted and logged). Several
// inputs, in one engine or in many, that name the same stream and durable
// share the messages: this is how indexers scale out.
//
// max_ack_pending bounds the messages delivered and not yet acknowledged
// across all of the consumer's inputs: a full pipeline stops the deliveries
// (back-pressure), and it bounds what a crashed engine has in flight, hence
// the duplicates after one. While a batch is in the pipeline the input tells
// JetStream it is in progress every third of ack_wait, so a slow output
// does not make JetStream deliver the messages again; a message not
// acknowledged within ack_wait after its engine stopped (crash, lost
// connection) is delivered again, to any of the consumer's inputs (at
// least once; duplicates possible). max_deliver bounds the deliveries of one
// message (-1: unlimited); JetStream then stops delivering it and publishes
// a MAX_DELIVERIES advisory. Messages fetched while the input stops, and
// those whose batch the pipeline did not accept, are negatively
// acknowledged with nak_delay, so another input gets them after that delay.
//
// Each event gets [@metadata][nats][subject] and, with JetStream,
// [@metadata][nats][stream], [sequence] (the stream sequence) and
// [num_delivered] (1 on the first delivery).
//
// # Core NATS: at-most-once
//
// With jetstream => false the input subscribes to subject (in queue_group,
// when set, to share the messages with other subscribers of that group).
// Core NATS keeps nothing: messages published while no input runs, or that
// arrive faster than the pipeline takes them (the server drops a slow
// consumer's messages; counted as messages_dropped), are lost.
package nats

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/plugins/internal/natsopt"
	"github.com/pipelined/pipeline/plugins/internal/tlsopt"
)

func init() { engine.RegisterInput("nats", New, engine.WithDefaultCodec("json")) }

// Options configures the nats input.
type Options struct {
	// Subject is the subject consumed (wildcards * and > allowed): with
	// JetStream the consumer's filter (unset: every subject of the stream),
	// with core NATS the subscription's subject (required).
	Subject string `hcl:"subject,optional"`
	// QueueGroup is the core NATS queue group: subscribers of one group
	// share the messages. Unused with JetStream (the durable consumer is
	// shared instead).
	QueueGroup string `hcl:"queue_group,optional"`
	// Durable is the name of the JetStream durable consumer; inputs with the
	// same stream and durable share its messages.
	Durable string `hcl:"durable,optional"`
	// AckWait is how long JetStream waits for a message's acknowledgement
	// before delivering it again (the input keeps a batch in the pipeline
	// alive meanwhile).
	AckWait engine.Duration `hcl:"ack_wait,optional"`
	// MaxAckPending is the most messages delivered and not yet acknowledged,
	// across all inputs of the consumer.
	MaxAckPending int `hcl:"max_ack_pending,optional"`
	// MaxDeliver is the most times one message is delivered; -1 is
	// unlimited.
	MaxDeliver int `hcl:"max_deliver,optional"`
	// NakDelay is the delay before JetStream delivers again a message the
	// input gave back (stopping, or a batch the pipeline did not accept).
	NakDelay engine.Duration `hcl:"nak_delay,optional"`
	// FetchMaxWait is how long one fetch waits for a full batch; what came
	// is passed on as soon as no message arrives for a moment.
	FetchMaxWait engine.Duration `hcl:"fetch_max_wait,optional"`

	natsopt.Connection
	natsopt.Stream
	// The ssl_* options: TLS to the servers, on with ssl_enabled or tls://
	// URLs.
	tlsopt.Client
}

// Defaults sets the defaults.
func (o *Options) Defaults() {
	o.Durable = "pipeline"
	o.AckWait = engine.Duration(30 * time.Second)
	o.MaxAckPending = 1000
	o.MaxDeliver = -1
	o.NakDelay = engine.Duration(time.Second)
	o.FetchMaxWait = engine.Duration(time.Second)
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
	if o.Subject != "" {
		if err := natsopt.CheckSubject(o.Subject, true); err != nil {
			return fieldErr("subject", "%v", err)
		}
	}
	if !o.JetStream {
		if o.Subject == "" {
			return fieldErr("subject", "is required with jetstream => false")
		}
		if len(o.Subjects) > 0 {
			return fieldErr("subjects", "creates a JetStream stream, and jetstream is false")
		}
		return nil
	}
	if o.Stream.Stream == "" {
		return fieldErr("stream", "is required with jetstream => true")
	}
	if !natsopt.ValidName(o.Durable) {
		return fieldErr("durable", "%q is not a valid consumer name", o.Durable)
	}
	if o.QueueGroup != "" {
		return fieldErr("queue_group", "is for core NATS; with JetStream inputs share the durable consumer")
	}
	if o.AckWait < engine.Duration(time.Second) {
		return fieldErr("ack_wait", "must be at least 1s")
	}
	if o.MaxAckPending < 1 {
		return fieldErr("max_ack_pending", "must be at least 1")
	}
	if o.MaxDeliver == 0 || o.MaxDeliver < -1 {
		return fieldErr("max_deliver", "must be -1 (unlimited) or at least 1")
	}
	if o.NakDelay < 0 {
		return fieldErr("nak_delay", "must not be negative")
	}
	if o.FetchMaxWait < engine.Duration(100*time.Millisecond) {
		return fieldErr("fetch_max_wait", "must be at least 100ms")
	}
	return nil
}

// Input is the nats input.
type Input struct {
	o      Options
	dialer *natsopt.Dialer
	codec  engine.Codec
	log    *slog.Logger
	batch  int

	// Tests shorten these.
	stopWait  time.Duration // how long a stop waits for the batches in flight
	idleFlush time.Duration // a partial batch is emitted after this long without a message

	refused    atomic.Int64
	dropped    atomic.Int64
	nakked     atomic.Int64
	redelivers atomic.Int64
}

// stopWait is how long a stop waits for the batches in flight (tests
// shorten it).
var stopWait = 10 * time.Second

var (
	_ engine.Input   = (*Input)(nil)
	_ engine.Counted = (*Input)(nil)
)

// New builds a nats input. It reads the TLS and key files; Run connects.
func New(o Options, r engine.Resources) (*Input, error) {
	d, log, err := natsopt.Setup(o.Connection, o.Client, "input", r)
	if err != nil {
		return nil, err
	}
	in := &Input{o: o, dialer: d, codec: r.Codec, log: log, batch: r.BatchSize,
		stopWait: stopWait, idleFlush: 10 * time.Millisecond}
	if in.batch <= 0 {
		in.batch = 125
	}
	return in, nil
}

// Counters reports what the input refused, lost or gave back.
func (in *Input) Counters() []engine.Counter {
	return []engine.Counter{
		{Name: "messages_refused", Help: "Messages over the size budget, terminated (never delivered again).", Value: in.refused.Load()},
		{Name: "messages_dropped", Help: "Core NATS messages the server dropped because the input was too slow (jetstream => false).", Value: in.dropped.Load()},
		{Name: "messages_nakked", Help: "JetStream messages given back (stopping, or a batch the pipeline did not accept).", Value: in.nakked.Load()},
		{Name: "messages_redelivered", Help: "JetStream messages received that had been delivered before (possible duplicates).", Value: in.redelivers.Load()},
	}
}

// Run consumes until ctx is cancelled.
func (in *Input) Run(ctx context.Context, emit engine.EmitFunc) error {
	var nc *nats.Conn
	for attempt := 0; ; attempt++ {
		var err error
		nc, err = in.dialer.Dial(ctx)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return nil
		}
		in.log.Warn("nats: cannot connect; trying again", "err", err, "retry_in", in.o.ReconnectWait.D().String())
		if !sleep(ctx, in.o.ReconnectWait.D()) {
			return nil
		}
	}
	defer nc.Close()
	in.log.Info("nats: connected", "url", nc.ConnectedUrlRedacted(), "jetstream", in.o.JetStream)
	if !in.o.JetStream {
		return in.core(ctx, nc, emit)
	}
	return in.jetstream(ctx, nc, emit)
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// consumer creates the stream (if asked to) and the durable consumer.
func (in *Input) consumer(ctx context.Context, js jetstream.JetStream) (jetstream.Consumer, error) {
	cctx, cancel := context.WithTimeout(ctx, in.o.AckWait.D())
	defer cancel()
	if err := in.o.Stream.Ensure(cctx, js); err != nil {
		return nil, err
	}
	c, err := js.CreateOrUpdateConsumer(cctx, in.o.Stream.Stream, jetstream.ConsumerConfig{
		Durable:       in.o.Durable,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       in.o.AckWait.D(),
		MaxAckPending: in.o.MaxAckPending,
		MaxDeliver:    in.o.MaxDeliver,
		FilterSubject: in.o.Subject,
		DeliverPolicy: jetstream.DeliverAllPolicy,
	})
	if err != nil {
		return nil, fmt.Errorf("nats: consumer %q on stream %q: %w", in.o.Durable, in.o.Stream.Stream, err)
	}
	return c, nil
}

// jetstream fetches and emits batches until ctx ends, then waits for the
// batches in flight.
func (in *Input) jetstream(ctx context.Context, nc *nats.Conn, emit engine.EmitFunc) error {
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("nats: jetstream: %w", err)
	}
	tr := newTracker(in.o.AckWait.D() / 3)
	defer in.finish(tr)
	trDone := make(chan struct{})
	defer close(trDone)
	go func() {
		_ = engine.Guard(in.log, "nats in-progress ticker", func() error { tr.heartbeat(trDone); return nil })
	}()
	var cons jetstream.Consumer
	for ctx.Err() == nil {
		if cons == nil {
			if cons, err = in.consumer(ctx, js); err != nil {
				if ctx.Err() != nil {
					break
				}
				in.log.Warn("nats: cannot set up the consumer; trying again", "err", err, "retry_in", in.o.ReconnectWait.D().String())
				sleep(ctx, in.o.ReconnectWait.D())
				continue
			}
			in.log.Info("nats: consuming", "stream", in.o.Stream.Stream, "durable", in.o.Durable, "subject", in.o.Subject)
		}
		if err := in.fetch(ctx, cons, tr, emit); err != nil {
			if ctx.Err() != nil {
				break
			}
			if errors.Is(err, errEmit) {
				return err
			}
			in.log.Warn("nats: fetch failed; trying again", "err", err, "retry_in", in.o.ReconnectWait.D().String())
			if errors.Is(err, jetstream.ErrConsumerNotFound) || errors.Is(err, jetstream.ErrConsumerDeleted) {
				cons = nil
			}
			sleep(ctx, in.o.ReconnectWait.D())
		}
	}
	return nil
}

var errEmit = errors.New("the pipeline refused a batch")

// fetch runs one fetch request: its messages are emitted in batches, a
// partial one as soon as none arrive for idleFlush.
func (in *Input) fetch(ctx context.Context, cons jetstream.Consumer, tr *tracker, emit engine.EmitFunc) error {
	req, err := cons.Fetch(in.batch, jetstream.FetchMaxWait(in.o.FetchMaxWait.D()))
	if err != nil {
		return err
	}
	msgs := req.Messages()
	var batch []jetstream.Msg
	idle := time.NewTimer(time.Hour)
	defer idle.Stop()
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		b := batch
		batch = nil
		if ctx.Err() != nil {
			in.nak(b)
			return nil
		}
		return in.emitJS(b, tr, emit)
	}
	for {
		select {
		case m, ok := <-msgs:
			if !ok {
				if err := flush(); err != nil {
					return err
				}
				if err := req.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) && !errors.Is(err, context.DeadlineExceeded) {
					return err
				}
				return nil
			}
			batch = append(batch, m)
			idle.Reset(in.idleFlush)
		case <-idle.C:
			if err := flush(); err != nil {
				return err
			}
		case <-ctx.Done():
			// Stopping: what is fetched and not emitted goes back; the
			// request's remaining messages are given back as they come.
			in.nak(batch)
			batch = nil
			for m := range msgs {
				in.nak([]jetstream.Msg{m})
			}
			return nil
		}
	}
}

func (in *Input) nak(msgs []jetstream.Msg) {
	for _, m := range msgs {
		if err := m.NakWithDelay(in.o.NakDelay.D()); err == nil {
			in.nakked.Add(1)
		}
	}
}

var (
	refSubject   = event.MustRef("[@metadata][nats][subject]")
	refStream    = event.MustRef("[@metadata][nats][stream]")
	refSequence  = event.MustRef("[@metadata][nats][sequence]")
	refDelivered = event.MustRef("[@metadata][nats][num_delivered]")
)

// emitJS decodes the messages and emits their events; each message is
// acknowledged when the batch is.
func (in *Input) emitJS(msgs []jetstream.Msg, tr *tracker, emit engine.EmitFunc) error {
	var events []*event.Event
	keep := msgs[:0:0]
	var r bytes.Reader
	for _, m := range msgs {
		data := m.Data()
		if len(data) > natsopt.MaxMessageBytes {
			in.refused.Add(1)
			in.log.Warn("nats: message over the size budget terminated (not delivered again)", "bytes", len(data), "budget", natsopt.MaxMessageBytes, "subject", m.Subject())
			_ = m.Term()
			continue
		}
		keep = append(keep, m)
		start := len(events)
		events = in.decodeOne(&r, data, events)
		md, _ := m.Metadata()
		if md != nil && md.NumDelivered > 1 {
			in.redelivers.Add(1)
		}
		for _, e := range events[start:] {
			_ = e.Set(refSubject, m.Subject())
			if md != nil {
				_ = e.Set(refStream, md.Stream)
				_ = e.Set(refSequence, int64(md.Sequence.Stream))
				_ = e.Set(refDelivered, int64(md.NumDelivered))
			}
		}
	}
	if len(keep) == 0 {
		return nil
	}
	if len(events) == 0 {
		// Nothing decoded (logged): nothing to wait for.
		for _, m := range keep {
			_ = m.Ack()
		}
		return nil
	}
	p := tr.add(keep)
	if err := emit(engine.Batch{Events: events, Ack: func(error) { tr.ack(p) }}); err != nil {
		tr.drop(p)
		in.nak(keep)
		return fmt.Errorf("%w: %w", errEmit, err)
	}
	return nil
}

// decodeOne appends the events of one message. A codec that panics on it
// fails that message like one that does not decode: logged, and what it
// decoded before is kept.
func (in *Input) decodeOne(r *bytes.Reader, body []byte, out []*event.Event) (res []*event.Event) {
	defer func() {
		if perr := engine.Recovered(recover(), in.log, "nats codec"); perr != nil {
			res = out
		}
	}()
	r.Reset(body)
	dec := in.codec.NewDecoder(r)
	for range len(body) + 1 {
		e, err := dec.Decode()
		if err != nil {
			if err != io.EOF {
				in.log.Warn("nats: cannot decode message", "err", err)
			}
			break
		}
		out = append(out, e)
	}
	return out
}

// finish waits (up to stopWait) for the batches in flight to be
// acknowledged, so their messages are acknowledged before the connection
// closes; those still pending are delivered again after ack_wait.
func (in *Input) finish(tr *tracker) {
	deadline := time.NewTimer(in.stopWait)
	defer deadline.Stop()
	for {
		n, changed := tr.outstanding()
		if n == 0 {
			return
		}
		select {
		case <-changed:
		case <-deadline.C:
			in.log.Warn("nats: stopping with batches not acknowledged; JetStream delivers their messages again after ack_wait", "batches", n)
			return
		}
	}
}

// tracker keeps the batches in the pipeline: it acknowledges their messages
// when the engine acknowledges them, and tells JetStream they are in
// progress meanwhile.
type tracker struct {
	mu      sync.Mutex
	pending map[*pendingBatch]struct{}
	changed chan struct{}
	every   time.Duration
}

type pendingBatch struct{ msgs []jetstream.Msg }

func newTracker(every time.Duration) *tracker {
	return &tracker{pending: map[*pendingBatch]struct{}{}, changed: make(chan struct{}), every: every}
}

func (t *tracker) add(msgs []jetstream.Msg) *pendingBatch {
	p := &pendingBatch{msgs: msgs}
	t.mu.Lock()
	t.pending[p] = struct{}{}
	t.mu.Unlock()
	return p
}

// remove forgets p and wakes finish.
func (t *tracker) remove(p *pendingBatch) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.pending[p]; !ok {
		return false
	}
	delete(t.pending, p)
	close(t.changed)
	t.changed = make(chan struct{})
	return true
}

func (t *tracker) ack(p *pendingBatch) {
	if !t.remove(p) {
		return
	}
	for _, m := range p.msgs {
		// A failed ack (connection lost) means JetStream delivers the
		// message again after ack_wait: a duplicate, never a loss.
		_ = m.Ack()
	}
}

func (t *tracker) drop(p *pendingBatch) { t.remove(p) }

func (t *tracker) outstanding() (int, <-chan struct{}) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.pending), t.changed
}

// heartbeat marks the pending messages in progress every t.every until done.
func (t *tracker) heartbeat(done <-chan struct{}) {
	tick := time.NewTicker(t.every)
	defer tick.Stop()
	for {
		select {
		case <-done:
			return
		case <-tick.C:
		}
		t.mu.Lock()
		var msgs []jetstream.Msg
		for p := range t.pending {
			msgs = append(msgs, p.msgs...)
		}
		t.mu.Unlock()
		for _, m := range msgs {
			_ = m.InProgress()
		}
	}
}

// core subscribes with core NATS and emits batches until ctx ends.
func (in *Input) core(ctx context.Context, nc *nats.Conn, emit engine.EmitFunc) error {
	ch := make(chan *nats.Msg, in.batch*4)
	var sub *nats.Subscription
	var err error
	if in.o.QueueGroup != "" {
		sub, err = nc.ChanQueueSubscribe(in.o.Subject, in.o.QueueGroup, ch)
	} else {
		sub, err = nc.ChanSubscribe(in.o.Subject, ch)
	}
	if err != nil {
		return fmt.Errorf("nats: subscribe to %q: %w", in.o.Subject, err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	// The server delivers to the subscription once it has processed the
	// SUB: wait for that (a PING round trip) so that what is published after
	// "subscribed" is logged reaches this input. Should it fail, the client
	// sends the SUB again on reconnecting.
	if err := nc.FlushTimeout(in.o.ConnectTimeout.D()); err != nil {
		in.log.Warn("nats: the server has not confirmed the subscription yet", "err", err)
	}
	in.log.Info("nats: subscribed (core NATS, at-most-once)", "subject", in.o.Subject, "queue_group", in.o.QueueGroup)
	var r bytes.Reader
	var lastDropped int
	for {
		var batch []*nats.Msg
		select {
		case <-ctx.Done():
			return nil
		case m := <-ch:
			batch = append(batch, m)
		}
		timer := time.NewTimer(in.idleFlush)
	collect:
		for len(batch) < in.batch {
			select {
			case m := <-ch:
				batch = append(batch, m)
			case <-timer.C:
				break collect
			}
		}
		timer.Stop()
		if d, err := sub.Dropped(); err == nil && d > lastDropped {
			in.dropped.Add(int64(d - lastDropped))
			lastDropped = d
		}
		var events []*event.Event
		for _, m := range batch {
			if len(m.Data) > natsopt.MaxMessageBytes {
				in.refused.Add(1)
				continue
			}
			start := len(events)
			events = in.decodeOne(&r, m.Data, events)
			for _, e := range events[start:] {
				_ = e.Set(refSubject, m.Subject)
			}
		}
		if len(events) > 0 {
			if err := emit(engine.Batch{Events: events}); err != nil {
				return err
			}
		}
	}
}
