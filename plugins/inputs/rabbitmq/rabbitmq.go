// Package rabbitmq implements the rabbitmq input, like Logstash's: it
// declares queue (a server-named, transient queue when queue is empty),
// binds it to exchange with the routing key key (declaring the exchange
// first when exchange_type is set), subscribes, and decodes each message
// body with the input's codec, json by default. It speaks AMQP 0-9-1 with
// github.com/rabbitmq/amqp091-go.
//
// # Acknowledgements follow the pipeline
//
// With ack => true (the default) a message is acknowledged to RabbitMQ only
// once the engine has acknowledged the batch holding its events (every event
// delivered by every output, dropped by a filter, or failed for good), and
// in order: a batch acknowledged before an earlier one waits for it, then
// one multiple-ack covers both. prefetch_count bounds the messages in flight
// unacknowledged, so a full pipeline stops the broker's deliveries
// (back-pressure). Logstash acknowledges when it hands the event to its
// queue; here a message whose events the outputs have not delivered is
// never acknowledged. When the input stops it cancels its subscription,
// waits up to ten seconds for the batches in flight, acknowledges those
// that completed and closes its channel: RabbitMQ requeues every message
// not acknowledged, so a stop, a crash or a lost connection redelivers
// them (flagged redeliver; at-least-once, duplicates possible). With ack =>
// false RabbitMQ forgets a message as soon as it sent it.
//
// # Connection loss
//
// A lost connection (broker restart, network, heartbeat timeout) is logged
// and counted (the reconnects counter), and the input connects again after
// connect_retry_interval, doubling the wait for each failure in a row up
// to eight times that; the queue, exchange and binding are declared again
// and the subscription renewed (a failed subscription waits
// subscription_retry_interval_seconds). With automatic_recovery => false
// the input ends with an error instead.
//
// # Metadata
//
// metadata_enabled => "basic" (or true) sets [@metadata][rabbitmq_headers]
// (the message's headers, {} when it has none) and
// [@metadata][rabbitmq_properties]: app-id, consumer-tag,
// content-encoding, content-type, correlation-id, delivery-mode,
// exchange, expiration, message-id, priority, redeliver, reply-to,
// routing-key, timestamp (epoch seconds), type and user-id, each when the
// message has it (redeliver only when true, as Logstash). "extended" also
// sets [@metadata][rabbitmq_payload] to the raw body. Logstash's
// cluster-id is never set (AMQP 0-9-1 reserves that property).
//
// A message over the size budget (MaxMessageBytes, 128 MiB, RabbitMQ's own
// default limit) is rejected without requeue (a dead-letter exchange of the
// queue receives it), logged and counted (messages_rejected).
package rabbitmq

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/plugins/internal/rabbitmqopt"
	"github.com/pipelined/pipeline/plugins/internal/tlsopt"
)

func init() { engine.RegisterInput("rabbitmq", New, engine.WithDefaultCodec("json")) }

// Options configures the rabbitmq input.
type Options struct {
	// Queue is the queue consumed. Empty, RabbitMQ creates a transient
	// queue with a generated name.
	Queue string `hcl:"queue,optional"`
	// Durable declares the queue (and the exchange, when exchange_type is
	// set) durable: it survives a broker restart. It must match an existing
	// queue's setting, or RabbitMQ refuses the declaration.
	Durable bool `hcl:"durable,optional"`
	// Exclusive declares the queue exclusive: only this connection may use
	// it, and it is deleted when the connection closes.
	Exclusive bool `hcl:"exclusive,optional"`
	// AutoDelete deletes the queue when its last consumer unsubscribes.
	AutoDelete bool `hcl:"auto_delete,optional"`
	// Exchange is the exchange the queue is bound to; unset, the queue is
	// not bound (messages reach it through the default exchange).
	Exchange string `hcl:"exchange,optional"`
	// ExchangeType, when set, declares exchange with this type first
	// ("direct", "fanout", "topic", "headers", "x-consistent-hash"…).
	ExchangeType string `hcl:"exchange_type,optional"`
	// Key is the routing key of the binding: ignored by fanout exchanges;
	// topic exchanges take the wildcards * and #.
	Key string `hcl:"key,optional"`
	// PrefetchCount is the most messages delivered and not yet acknowledged
	// (with ack => true): the pipeline's back-pressure reaches the broker
	// through it.
	PrefetchCount int `hcl:"prefetch_count,optional"`
	// Ack acknowledges each message once the pipeline has delivered its
	// events (true), or lets RabbitMQ forget it as it is sent (false: a
	// crash loses what is in flight).
	Ack bool `hcl:"ack,optional"`
	// MetadataEnabled is "none", "basic" (headers and properties in
	// [@metadata]) or "extended" (also the raw payload); true and false are
	// Logstash's older spellings of basic and none.
	MetadataEnabled string `hcl:"metadata_enabled,optional"`
	// SubscriptionRetryIntervalSeconds is the wait after a failed
	// subscription before trying again.
	SubscriptionRetryIntervalSeconds float64 `hcl:"subscription_retry_interval_seconds,optional"`
	// Threads is the number of consumers run side by side, each on its own
	// connection.
	Threads int `hcl:"threads,optional"`

	rabbitmqopt.Connection
	rabbitmqopt.TLS
	// The ssl_* options: TLS to the broker, on with ssl or ssl_enabled.
	tlsopt.Client
}

// Defaults sets Logstash's defaults.
func (o *Options) Defaults() {
	o.Key = "logstash"
	o.PrefetchCount = 256
	o.Ack = true
	o.MetadataEnabled = "none"
	o.SubscriptionRetryIntervalSeconds = 5
	o.Threads = 1
	o.Connection.Defaults()
	o.TLS.Defaults()
	o.Client.Defaults()
}

func fieldErr(field, format string, args ...any) error {
	return &engine.FieldError{Field: field, Err: fmt.Errorf(format, args...)}
}

// Validate checks the options.
func (o *Options) Validate() error {
	if err := o.Connection.Validate(); err != nil {
		return err
	}
	if err := o.TLS.Validate(o.Client); err != nil {
		return err
	}
	if o.ExchangeType != "" && o.Exchange == "" {
		return fieldErr("exchange_type", "declares the exchange named by exchange, which is not set")
	}
	if o.PrefetchCount < 0 || o.PrefetchCount > math.MaxUint16 {
		return fieldErr("prefetch_count", "must be from 0 to %d", math.MaxUint16)
	}
	if _, err := metadataLevel(o.MetadataEnabled); err != nil {
		return fieldErr("metadata_enabled", "%v", err)
	}
	if o.SubscriptionRetryIntervalSeconds <= 0 {
		return fieldErr("subscription_retry_interval_seconds", "must be positive")
	}
	if o.Threads < 1 {
		return fieldErr("threads", "must be at least 1")
	}
	if o.Exclusive && o.Threads > 1 && o.Queue != "" {
		return fieldErr("exclusive", "an exclusive queue can have one consumer only, and threads is %d", o.Threads)
	}
	return nil
}

type level int

const (
	metaNone level = iota
	metaBasic
	metaExtended
)

func metadataLevel(s string) (level, error) {
	switch s {
	case "none", "false":
		return metaNone, nil
	case "basic", "true":
		return metaBasic, nil
	case "extended":
		return metaExtended, nil
	}
	return 0, fmt.Errorf("unsupported value %q: want \"none\", \"basic\" or \"extended\"", s)
}

// Input is the rabbitmq input.
type Input struct {
	o      Options
	dialer *rabbitmqopt.Dialer
	meta   level
	codec  engine.Codec
	log    *slog.Logger
	batch  int
	args   amqp.Table

	reconnects atomic.Int64
	rejected   atomic.Int64

	// Tests shorten these.
	ackWait    time.Duration // how long a stop waits for the batches in flight
	batchDelay time.Duration // how long a batch waits for more messages
}

var (
	_ engine.Input   = (*Input)(nil)
	_ engine.Counted = (*Input)(nil)
)

// New builds a rabbitmq input. It reads the TLS files; it connects to nothing.
func New(o Options, r engine.Resources) (*Input, error) {
	if r.Codec == nil {
		return nil, errors.New("rabbitmq: no codec")
	}
	d, err := rabbitmqopt.NewDialer(o.Connection, o.TLS, o.Client, "pipeline input "+r.ID)
	if err != nil {
		return nil, err
	}
	meta, _ := metadataLevel(o.MetadataEnabled)
	if canonical, old := map[string]string{"true": "basic", "false": "none"}[o.MetadataEnabled]; old && r.Logger != nil {
		r.Logger.Warn("rabbitmq: deprecated value for metadata_enabled", "value", o.MetadataEnabled, "use", canonical)
	}
	in := &Input{o: o, dialer: d, meta: meta, codec: r.Codec, log: r.Logger, batch: r.BatchSize,
		args: o.QueueArguments(), ackWait: 10 * time.Second, batchDelay: 10 * time.Millisecond}
	if in.log == nil {
		in.log = slog.New(slog.DiscardHandler)
	}
	if in.batch <= 0 {
		in.batch = 125
	}
	return in, nil
}

// Counters reports the reconnections and the messages rejected for their size.
func (in *Input) Counters() []engine.Counter {
	return []engine.Counter{
		{Name: "reconnects", Help: "Connections to RabbitMQ opened again after one was lost or failed.", Value: in.reconnects.Load()},
		{Name: "messages_rejected", Help: "RabbitMQ messages rejected (not requeued) because their body was over the size budget.", Value: in.rejected.Load()},
	}
}

// Run consumes until ctx is cancelled.
func (in *Input) Run(ctx context.Context, emit engine.EmitFunc) error {
	var wg sync.WaitGroup
	errs := make([]error, in.o.Threads)
	for n := range in.o.Threads {
		// A panic on one of these goroutines (the engine guards only Run's)
		// ends this input with an error, not the process.
		wg.Go(func() {
			errs[n] = engine.Guard(in.log, "rabbitmq consumer", func() error { return in.consume(ctx, emit) })
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// errSubscribe marks a failed subscription, retried after
// subscription_retry_interval_seconds.
var errSubscribe = errors.New("subscribe")

// consume runs one consumer: sessions, one per connection, until ctx ends.
func (in *Input) consume(ctx context.Context, emit engine.EmitFunc) error {
	bo := rabbitmqopt.NewBackoff(in.o.ConnectRetryInterval)
	for attempt := 0; ; attempt++ {
		consumed, err := in.session(ctx, emit)
		if ctx.Err() != nil {
			return nil
		}
		if consumed {
			bo.Reset()
			if !in.o.AutomaticRecovery {
				return fmt.Errorf("rabbitmq: connection lost and automatic_recovery is false: %w", err)
			}
		}
		wait := bo.Next()
		if errors.Is(err, errSubscribe) {
			wait = time.Duration(in.o.SubscriptionRetryIntervalSeconds * float64(time.Second))
		}
		in.reconnects.Add(1)
		in.log.Warn("rabbitmq: connection failed or lost; connecting again", "err", err, "retry_in", wait.String())
		if !rabbitmqopt.Sleep(ctx, wait) {
			return nil
		}
	}
}

// session runs one connection: connect, declare, subscribe, consume. It
// reports whether it got to consuming, and why it ended.
func (in *Input) session(ctx context.Context, emit engine.EmitFunc) (consumed bool, err error) {
	conn, addr, err := in.dialer.Dial(ctx)
	if err != nil {
		return false, err
	}
	defer conn.Close()
	closed := conn.NotifyClose(make(chan *amqp.Error, 1))
	ch, err := conn.Channel()
	if err != nil {
		return false, fmt.Errorf("open channel: %w", err)
	}
	defer ch.Close()
	if err := ch.Qos(in.o.PrefetchCount, 0, false); err != nil {
		return false, fmt.Errorf("set prefetch_count: %w", err)
	}
	queue, err := in.declare(ch)
	if err != nil {
		return false, err
	}
	deliveries, err := ch.Consume(queue, "", !in.o.Ack, false, false, false, nil)
	if err != nil {
		return false, fmt.Errorf("%w to queue %q: %w", errSubscribe, queue, err)
	}
	in.log.Info("rabbitmq: consuming", "url", in.dialer.URL(addr), "queue", queue)
	tr := &tracker{ch: ch, changed: make(chan struct{}, 1), log: in.log}
	defer in.finish(tr)
	for {
		batch, tags, ok := in.collect(ctx, deliveries)
		if ctx.Err() != nil && in.o.Ack {
			// Stopping: what was received and not emitted is requeued when
			// the channel closes. (Without ack RabbitMQ has forgotten it:
			// it is emitted below, and the drain delivers it.)
			batch = nil
		}
		if !ok && len(batch) == 0 {
			if ctx.Err() != nil {
				return true, nil
			}
			select {
			case e := <-closed:
				if e != nil {
					return true, e
				}
			default:
			}
			return true, errors.New("the broker closed the subscription")
		}
		events := in.decode(ch, batch)
		var b engine.Batch
		b.Events = events
		if in.o.Ack {
			p := tr.add(tags)
			if len(events) == 0 {
				tr.ack(p)
			} else {
				b.Ack = func(error) { tr.ack(p) }
			}
		}
		if len(events) > 0 {
			if err := emit(b); err != nil {
				return true, err
			}
		}
		if !ok {
			continue // the loop sees the closed channel or ctx next
		}
	}
}

// declare declares the queue (and exchange) and binds them; it returns the
// queue's name.
func (in *Input) declare(ch *amqp.Channel) (string, error) {
	o := in.o
	var q amqp.Queue
	var err error
	if o.Passive {
		q, err = ch.QueueDeclarePassive(o.Queue, o.Durable, o.AutoDelete, o.Exclusive, false, in.args)
	} else {
		q, err = ch.QueueDeclare(o.Queue, o.Durable, o.AutoDelete, o.Exclusive, false, in.args)
	}
	if err != nil {
		return "", fmt.Errorf("declare queue %q: %w", o.Queue, err)
	}
	if o.Exchange == "" {
		return q.Name, nil
	}
	if o.ExchangeType != "" {
		if err := ch.ExchangeDeclare(o.Exchange, o.ExchangeType, o.Durable, false, false, false, nil); err != nil {
			return "", fmt.Errorf("declare exchange %q of type %q: %w", o.Exchange, o.ExchangeType, err)
		}
	}
	if err := ch.QueueBind(q.Name, o.Key, o.Exchange, false, nil); err != nil {
		return "", fmt.Errorf("bind queue %q to exchange %q with key %q: %w", q.Name, o.Exchange, o.Key, err)
	}
	return q.Name, nil
}

// collect waits for a first delivery, then takes more until the batch is
// full or none comes for batchDelay. ok is false when the deliveries
// channel closed or ctx ended (what was collected is still returned).
func (in *Input) collect(ctx context.Context, deliveries <-chan amqp.Delivery) (batch []amqp.Delivery, tags []uint64, ok bool) {
	select {
	case <-ctx.Done():
		return nil, nil, false
	case d, open := <-deliveries:
		if !open {
			return nil, nil, false
		}
		batch = append(batch, d)
	}
	timer := time.NewTimer(in.batchDelay)
	defer timer.Stop()
	for len(batch) < in.batch {
		select {
		case d, open := <-deliveries:
			if !open {
				return batch, tagsOf(batch), false
			}
			batch = append(batch, d)
		case <-timer.C:
			return batch, tagsOf(batch), true
		case <-ctx.Done():
			return batch, tagsOf(batch), false
		}
	}
	return batch, tagsOf(batch), true
}

func tagsOf(batch []amqp.Delivery) []uint64 {
	tags := make([]uint64, len(batch))
	for i, d := range batch {
		tags[i] = d.DeliveryTag
	}
	return tags
}

// decode turns the deliveries into events with the codec; a message over
// the budget is rejected.
func (in *Input) decode(ch *amqp.Channel, batch []amqp.Delivery) []*event.Event {
	out := make([]*event.Event, 0, len(batch))
	var r bytes.Reader
	for _, d := range batch {
		if len(d.Body) > rabbitmqopt.MaxMessageBytes {
			in.rejected.Add(1)
			in.log.Warn("rabbitmq: message over the size budget rejected (not requeued)", "bytes", len(d.Body), "budget", rabbitmqopt.MaxMessageBytes, "routing_key", d.RoutingKey)
			if in.o.Ack {
				_ = ch.Reject(d.DeliveryTag, false)
			}
			continue
		}
		start := len(out)
		out = in.decodeOne(&r, d.Body, out)
		if in.meta == metaNone {
			continue
		}
		for _, e := range out[start:] {
			in.decorate(e, &d)
		}
	}
	return out
}

// decodeOne appends the events of one message. A codec that panics on it (it
// runs on goroutines the engine does not guard) fails that message like one
// that does not decode: logged, and what it decoded before is kept.
func (in *Input) decodeOne(r *bytes.Reader, body []byte, out []*event.Event) (res []*event.Event) {
	defer func() {
		if perr := engine.Recovered(recover(), in.log, "rabbitmq codec"); perr != nil {
			res = out
		}
	}()
	r.Reset(body)
	dec := in.codec.NewDecoder(r)
	for {
		e, err := dec.Decode()
		if err != nil {
			if err != io.EOF {
				in.log.Warn("rabbitmq: cannot decode message", "err", err)
			}
			break
		}
		out = append(out, e)
	}
	return out
}

var (
	refHeaders    = event.MustRef("[@metadata][rabbitmq_headers]")
	refProperties = event.MustRef("[@metadata][rabbitmq_properties]")
	refPayload    = event.MustRef("[@metadata][rabbitmq_payload]")
)

func (in *Input) decorate(e *event.Event, d *amqp.Delivery) {
	headers := map[string]any{}
	for k, v := range d.Headers {
		headers[k] = tableValue(v, 0)
	}
	_ = e.Set(refHeaders, headers)
	_ = e.Set(refProperties, properties(d))
	if in.meta == metaExtended && d.Body != nil {
		_ = e.Set(refPayload, string(d.Body))
	}
}

// properties are Logstash's rabbitmq_properties of a delivery: each
// property the message has.
func properties(d *amqp.Delivery) map[string]any {
	p := map[string]any{
		"exchange":    d.Exchange,
		"routing-key": d.RoutingKey,
	}
	str := func(name, v string) {
		if v != "" {
			p[name] = v
		}
	}
	str("app-id", d.AppId)
	str("consumer-tag", d.ConsumerTag)
	str("content-encoding", d.ContentEncoding)
	str("content-type", d.ContentType)
	str("correlation-id", d.CorrelationId)
	str("expiration", d.Expiration)
	str("message-id", d.MessageId)
	str("reply-to", d.ReplyTo)
	str("type", d.Type)
	str("user-id", d.UserId)
	if d.DeliveryMode != 0 {
		p["delivery-mode"] = int64(d.DeliveryMode)
	}
	if d.Priority != 0 {
		p["priority"] = int64(d.Priority)
	}
	if d.Redelivered {
		p["redeliver"] = true
	}
	if !d.Timestamp.IsZero() {
		// AMQP timestamps have second resolution.
		p["timestamp"] = d.Timestamp.Unix()
	}
	return p
}

// tableValue converts an AMQP field value to an event value; depth bounds
// nested tables and arrays.
func tableValue(v any, depth int) any {
	if depth > 100 {
		return nil
	}
	switch x := v.(type) {
	case nil, bool, string, float64, int64:
		return x
	case int8:
		return int64(x)
	case uint8:
		return int64(x)
	case int16:
		return int64(x)
	case uint16:
		return int64(x)
	case int32:
		return int64(x)
	case uint32:
		return int64(x)
	case int:
		return int64(x)
	case float32:
		return float64(x)
	case time.Time:
		return x
	case []byte:
		if utf8.Valid(x) {
			return string(x)
		}
		return string(bytes.ToValidUTF8(x, []byte("\uFFFD")))
	case amqp.Decimal:
		return float64(x.Value) / math.Pow10(int(x.Scale))
	case amqp.Table:
		m := make(map[string]any, len(x))
		for k, v := range x {
			m[k] = tableValue(v, depth+1)
		}
		return m
	case []any:
		l := make([]any, len(x))
		for i, v := range x {
			l[i] = tableValue(v, depth+1)
		}
		return l
	}
	return fmt.Sprint(v)
}

// pending is one emitted batch: the delivery tags it holds.
type pending struct {
	last  uint64
	acked bool
}

// tracker acknowledges deliveries in the order their batches were emitted,
// whatever the order of the pipeline's acknowledgements: one multiple-ack
// up to the last tag of the acknowledged run.
type tracker struct {
	ch      *amqp.Channel
	mu      sync.Mutex
	queue   []*pending
	changed chan struct{}
	log     *slog.Logger
}

func (t *tracker) add(tags []uint64) *pending {
	p := &pending{}
	for _, tag := range tags {
		p.last = max(p.last, tag)
	}
	t.mu.Lock()
	t.queue = append(t.queue, p)
	t.mu.Unlock()
	return p
}

func (t *tracker) ack(p *pending) {
	t.mu.Lock()
	p.acked = true
	var upTo uint64
	for len(t.queue) > 0 && t.queue[0].acked {
		upTo = max(upTo, t.queue[0].last)
		t.queue[0] = nil
		t.queue = t.queue[1:]
	}
	if upTo > 0 {
		// Under the lock: acks go out in order. A closed channel (the
		// connection was lost) fails; RabbitMQ has requeued those
		// messages already and delivers them again.
		if err := t.ch.Ack(upTo, true); err != nil {
			t.log.Warn("rabbitmq: cannot acknowledge; the broker delivers these messages again", "err", err)
		}
	}
	t.mu.Unlock()
	select {
	case t.changed <- struct{}{}:
	default:
	}
}

func (t *tracker) outstanding() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.queue)
}

// finish waits (up to ackWait, when stopping) for the acknowledgement of
// the batches emitted; the channel is closed after it, which requeues the
// rest.
func (in *Input) finish(tr *tracker) {
	if tr.outstanding() == 0 || tr.ch.IsClosed() {
		return
	}
	deadline := time.NewTimer(in.ackWait)
	defer deadline.Stop()
	for tr.outstanding() > 0 {
		select {
		case <-tr.changed:
		case <-deadline.C:
			in.log.Warn("rabbitmq: stopping with batches not acknowledged; RabbitMQ delivers their messages again", "batches", tr.outstanding())
			return
		}
	}
}
