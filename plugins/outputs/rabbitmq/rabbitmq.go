// Package rabbitmq implements the rabbitmq output, like Logstash's: it
// declares exchange (of exchange_type, durable unless durable => false;
// passively with passive => true) and publishes each event, encoded by the
// output's codec (json by default), to it with the routing key key, a
// sprintf template rendered per event. It speaks AMQP 0-9-1 with
// github.com/rabbitmq/amqp091-go.
//
// # Publisher confirms
//
// The channel is in confirm mode: Write returns only once RabbitMQ has
// confirmed every message of the batch (for a persistent message to a
// durable queue, once it is written to disk). A message the broker refuses
// (a negative confirmation) is retried by the engine with backoff, holding
// the pipeline; a lost connection (broker restart, network) makes the
// engine connect again and publish the batch again. Nothing is lost, and a
// message published before the connection broke may be delivered twice
// (at-least-once). Logstash publishes without confirms and may lose what
// was in flight. A message routed to no queue is confirmed and dropped by
// the broker, as in Logstash (AMQP's mandatory flag is not set).
//
// An event whose encoded body is over the size budget (MaxMessageBytes, 128
// MiB, RabbitMQ's own default limit) fails for good: it goes to the dead
// letter queue when there is one. While the broker blocks publishers
// (a memory or disk alarm) publishing waits, so the pipeline waits; the
// output logs when that starts and ends.
//
// message_properties sets AMQP properties per message: content_type,
// content_encoding, priority (a number; text that is not one counts as 0, as
// Ruby's to_i), correlation_id, reply_to, expiration, message_id, timestamp
// (epoch seconds), type, user_id and app_id; values may be sprintf
// templates. persistent => true (the default) sets delivery mode 2.
package rabbitmq

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/plugins/internal/rabbitmqopt"
	"github.com/pipelined/pipeline/plugins/internal/tlsopt"
)

func init() { engine.RegisterOutput("rabbitmq", New, engine.WithDefaultCodec("json")) }

// exchangeTypes are the exchange types Logstash accepts.
var exchangeTypes = []string{"fanout", "direct", "topic", "x-consistent-hash", "x-modulus-hash"}

// properties are the message_properties names.
var properties = []string{"content_type", "content_encoding", "priority", "correlation_id", "reply_to",
	"expiration", "message_id", "timestamp", "type", "user_id", "app_id"}

// Options configures the rabbitmq output.
type Options struct {
	// Exchange is the exchange published to.
	Exchange string `hcl:"exchange"`
	// ExchangeType is the exchange's type: "fanout", "direct", "topic",
	// "x-consistent-hash" or "x-modulus-hash" (the last two need their
	// broker plugins).
	ExchangeType string `hcl:"exchange_type"`
	// Key is the routing key; %{field} references are replaced per event.
	// Fanout exchanges ignore it.
	Key string `hcl:"key,optional"`
	// Persistent publishes messages persistent (delivery mode 2): a durable
	// queue keeps them across a broker restart.
	Persistent bool `hcl:"persistent,optional"`
	// Durable declares the exchange durable (it survives a broker restart).
	Durable bool `hcl:"durable,optional"`
	// MessageProperties are AMQP properties set on every message, name =>
	// value (see above for the names); values may hold %{field} references.
	MessageProperties engine.Hash `hcl:"message_properties,optional"`

	rabbitmqopt.Connection
	rabbitmqopt.TLS
	// The ssl_* options: TLS to the broker, on with ssl or ssl_enabled.
	tlsopt.Client
}

// Defaults sets Logstash's defaults.
func (o *Options) Defaults() {
	o.Key = "logstash"
	o.Persistent = true
	o.Durable = true
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
	if o.Exchange == "" {
		return fieldErr("exchange", "must not be empty (the default exchange cannot be declared)")
	}
	if !slices.Contains(exchangeTypes, o.ExchangeType) {
		return fieldErr("exchange_type", "unsupported value %q: want one of %s", o.ExchangeType, strings.Join(exchangeTypes, ", "))
	}
	if _, err := event.ParseTemplate(o.Key); err != nil {
		return fieldErr("key", "%v", err)
	}
	for _, p := range o.MessageProperties {
		if !slices.Contains(properties, p.Key) {
			hint := ""
			if p.Key == "headers" {
				hint = " (headers are not supported)"
			}
			return fieldErr("message_properties", "unknown property %q%s: want one of %s", p.Key, hint, strings.Join(properties, ", "))
		}
		if _, err := event.ParseTemplate(p.Value); err != nil {
			return fieldErr("message_properties", "%s: %v", p.Key, err)
		}
	}
	return nil
}

type property struct {
	name     string
	value    event.Template
	constant bool
}

// Output is the rabbitmq output.
type Output struct {
	o      Options
	dialer *rabbitmqopt.Dialer
	key    event.Template
	props  []property
	enc    engine.Encoder
	buf    bytes.Buffer
	log    *slog.Logger

	conn      *amqp.Connection
	ch        *amqp.Channel
	connected bool // a connection was opened before (for the reconnects counter)

	reconnects atomic.Int64
	nacked     atomic.Int64
}

var (
	_ engine.Output  = (*Output)(nil)
	_ engine.Counted = (*Output)(nil)
)

// New builds a rabbitmq output. It reads the TLS files; Connect dials.
func New(o Options, r engine.Resources) (*Output, error) {
	if r.Codec == nil {
		return nil, errors.New("rabbitmq: no codec")
	}
	d, err := rabbitmqopt.NewDialer(o.Connection, o.TLS, o.Client, "pipeline output "+r.ID)
	if err != nil {
		return nil, err
	}
	out := &Output{o: o, dialer: d, log: r.Logger}
	if out.log == nil {
		out.log = slog.New(slog.DiscardHandler)
	}
	out.key, _ = event.ParseTemplate(o.Key)
	for _, p := range o.MessageProperties {
		t, _ := event.ParseTemplate(p.Value)
		out.props = append(out.props, property{name: p.Key, value: t, constant: !strings.Contains(p.Value, "%{")})
	}
	out.enc = r.Codec.NewEncoder(&out.buf)
	return out, nil
}

// Counters reports the reconnections and the messages the broker refused.
func (o *Output) Counters() []engine.Counter {
	return []engine.Counter{
		{Name: "reconnects", Help: "Connections to RabbitMQ opened again after one was lost or failed.", Value: o.reconnects.Load()},
		{Name: "messages_nacked", Help: "Messages RabbitMQ refused to confirm (published again).", Value: o.nacked.Load()},
	}
}

// Connect dials the broker, puts a channel in confirm mode and declares the
// exchange.
func (o *Output) Connect(ctx context.Context) error {
	if o.ch != nil && !o.ch.IsClosed() {
		return nil
	}
	o.drop()
	conn, addr, err := o.dialer.Dial(ctx)
	if err != nil {
		return fmt.Errorf("rabbitmq: %w", err)
	}
	ch, err := o.setup(conn)
	if err != nil {
		conn.Close()
		return fmt.Errorf("rabbitmq: %s: %w", o.dialer.URL(addr), err)
	}
	o.conn, o.ch = conn, ch
	if o.connected {
		o.reconnects.Add(1)
	}
	o.connected = true
	o.watch(conn)
	o.log.Info("rabbitmq: connected", "url", o.dialer.URL(addr), "exchange", o.o.Exchange)
	return nil
}

func (o *Output) setup(conn *amqp.Connection) (*amqp.Channel, error) {
	ch, err := conn.Channel()
	if err != nil {
		return nil, fmt.Errorf("open channel: %w", err)
	}
	if err := ch.Confirm(false); err != nil {
		return nil, fmt.Errorf("confirm mode: %w", err)
	}
	if o.o.Passive {
		err = ch.ExchangeDeclarePassive(o.o.Exchange, o.o.ExchangeType, o.o.Durable, false, false, false, nil)
	} else {
		err = ch.ExchangeDeclare(o.o.Exchange, o.o.ExchangeType, o.o.Durable, false, false, false, nil)
	}
	if err != nil {
		return nil, fmt.Errorf("declare exchange %q of type %q: %w", o.o.Exchange, o.o.ExchangeType, err)
	}
	return ch, nil
}

// watch logs the connection's loss and the broker's blocking, on a guarded
// goroutine that ends with the connection.
func (o *Output) watch(conn *amqp.Connection) {
	closed := conn.NotifyClose(make(chan *amqp.Error, 1))
	blocked := conn.NotifyBlocked(make(chan amqp.Blocking, 4))
	log := o.log
	go func() {
		_ = engine.Guard(log, "rabbitmq connection watcher", func() error {
			for {
				select {
				case e, ok := <-closed:
					if ok && e != nil {
						log.Warn("rabbitmq: connection lost; the batch in flight is published again after reconnecting", "err", e)
					}
					return nil
				case b, ok := <-blocked:
					if !ok {
						return nil
					}
					if b.Active {
						log.Warn("rabbitmq: the broker blocks publishing (see its logs: memory or disk alarm); the pipeline waits", "reason", b.Reason)
					} else {
						log.Warn("rabbitmq: the broker unblocked publishing")
					}
				}
			}
		})
	}()
}

// drop closes the current connection, if any.
func (o *Output) drop() {
	if o.conn != nil {
		_ = o.conn.Close()
	}
	o.conn, o.ch = nil, nil
}

// publishing builds the message properties of e.
func (o *Output) publishing(e *event.Event, body []byte) amqp.Publishing {
	p := amqp.Publishing{Body: body, DeliveryMode: amqp.Transient}
	if o.o.Persistent {
		p.DeliveryMode = amqp.Persistent
	}
	for _, pr := range o.props {
		v := pr.value.Render(e)
		switch pr.name {
		case "content_type":
			p.ContentType = v
		case "content_encoding":
			p.ContentEncoding = v
		case "priority":
			p.Priority = uint8(min(max(rubyToI(v), 0), 255))
		case "correlation_id":
			p.CorrelationId = v
		case "reply_to":
			p.ReplyTo = v
		case "expiration":
			p.Expiration = v
		case "message_id":
			p.MessageId = v
		case "timestamp":
			if n := rubyToI(v); n != 0 {
				p.Timestamp = time.Unix(n, 0)
			}
		case "type":
			p.Type = v
		case "user_id":
			p.UserId = v
		case "app_id":
			p.AppId = v
		}
	}
	return p
}

// rubyToI reads the leading integer of s as Ruby's String#to_i: 0 when
// there is none.
func rubyToI(s string) int64 {
	s = strings.TrimSpace(s)
	end := 0
	if end < len(s) && (s[end] == '-' || s[end] == '+') {
		end++
	}
	for end < len(s) && s[end] >= '0' && s[end] <= '9' {
		end++
	}
	n, _ := strconv.ParseInt(s[:end], 10, 64)
	return n
}

type inflight struct {
	index int
	dc    *amqp.DeferredConfirmation
}

// Write publishes one message per event and returns once RabbitMQ has
// confirmed all of them, or with the events to publish again.
func (o *Output) Write(ctx context.Context, events []*event.Event) error {
	if o.ch == nil || o.ch.IsClosed() {
		o.drop()
		return fmt.Errorf("rabbitmq: %w", engine.ErrNotConnected)
	}
	failed := map[int]error{}
	sent := make([]inflight, 0, len(events))
	for i, e := range events {
		o.buf.Reset()
		if err := o.enc.Encode(e); err != nil {
			failed[i] = engine.Permanent(fmt.Errorf("rabbitmq: encode: %w", err))
			continue
		}
		if o.buf.Len() > rabbitmqopt.MaxMessageBytes {
			failed[i] = engine.Permanent(fmt.Errorf("rabbitmq: message of %d bytes is over the size budget of %d bytes", o.buf.Len(), rabbitmqopt.MaxMessageBytes))
			continue
		}
		body := bytes.Clone(o.buf.Bytes())
		dc, err := o.ch.PublishWithDeferredConfirmWithContext(ctx, o.o.Exchange, o.key.Render(e), false, false, o.publishing(e, body))
		if err != nil {
			// The channel or connection is gone: publish the whole batch
			// again once connected (what was sent may come twice).
			o.drop()
			return fmt.Errorf("rabbitmq: publish to exchange %q: %w: %w", o.o.Exchange, err, engine.ErrNotConnected)
		}
		sent = append(sent, inflight{i, dc})
	}
	var nacked error
	for _, s := range sent {
		ok, err := s.dc.WaitContext(ctx)
		if err != nil {
			return fmt.Errorf("rabbitmq: waiting for confirms: %w", err)
		}
		if ok {
			continue
		}
		if o.ch.IsClosed() {
			// Closing the channel negatively confirms what was pending.
			o.drop()
			return fmt.Errorf("rabbitmq: connection lost before the broker confirmed the batch: %w", engine.ErrNotConnected)
		}
		o.nacked.Add(1)
		nacked = fmt.Errorf("rabbitmq: the broker refused (nack) a message to exchange %q", o.o.Exchange)
		failed[s.index] = nacked
	}
	if len(failed) == 0 {
		return nil
	}
	if nacked != nil && len(failed) == len(events) {
		allRetry := true
		for _, err := range failed {
			if engine.IsPermanent(err) {
				allRetry = false
				break
			}
		}
		if allRetry {
			return nacked
		}
	}
	return &engine.BatchError{Failed: failed}
}

// Close closes the channel and the connection.
func (o *Output) Close(context.Context) error {
	o.drop()
	return nil
}
