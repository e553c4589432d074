// Package kafka implements the kafka output, like Logstash's: each event is
// encoded with the output's codec (plain by default, as Logstash) and
// produced as one record to topic_id, keyed by message_key, with franz-go, a
// pure-Go Kafka client.
//
// Write returns only once every record of the batch is acknowledged by the
// brokers as acks asks ("0": sent; "1": written by the partition leader;
// "all": by every in-sync replica, with idempotent writes so that retries do
// not duplicate). While the brokers are unreachable the client retries each
// record for up to two minutes (Kafka's delivery.timeout.ms); then Write
// fails and the engine retries the batch, holding the pipeline: no event is
// dropped. A record the brokers refuse for good (too large, a topic name
// Kafka does not accept, no authorization) fails permanently: it goes to the
// dead letter queue when there is one. With retries set, as in Logstash, an
// event is given up after that many failed attempts of its batch (Logstash
// warns that this loses data; so does this output).
//
// Records with the same key go to the same partition: keys are hashed with
// Kafka's murmur2, as the Java client does, so keyed records share partitions
// with those produced by other Kafka clients.
//
// The tests run against kfake, franz-go's in-process Kafka protocol server
// (real sockets, the real client): no Kafka broker can be installed where
// they run.
package kafka

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/plugins/internal/kafkaopt"
	"github.com/pipelined/pipeline/plugins/internal/tlsopt"
)

func init() { engine.RegisterOutput("kafka", New, engine.WithDefaultCodec("plain")) }

const stringSerializer = "org.apache.kafka.common.serialization.StringSerializer"

// Options configures the kafka output.
type Options struct {
	// TopicID is the topic written to; %{field} references are replaced per event.
	TopicID string `hcl:"topic_id"`
	// MessageKey is the record key; %{field} references are replaced per
	// event. Unset, records have no key (and are spread over the partitions).
	MessageKey string `hcl:"message_key,optional"`
	// MessageHeaders are record headers, name => value; values may hold
	// %{field} references.
	MessageHeaders engine.Hash `hcl:"message_headers,optional"`
	// Acks is "0", "1" or "all": how many replicas must have written a record
	// before Write counts it delivered.
	Acks string `hcl:"acks,optional"`
	// CompressionType is "none", "gzip", "snappy", "lz4" or "zstd".
	CompressionType string `hcl:"compression_type,optional"`
	// BatchSize is accepted for compatibility: records of a partition are
	// batched up to max_request_size.
	BatchSize int `hcl:"batch_size,optional"`
	// LingerMs is how long the client waits for more records before sending
	// a partition's batch.
	LingerMs int `hcl:"linger_ms,optional"`
	// MaxRequestSize is the largest batch of records sent to a partition at
	// once, in bytes; a larger record fails permanently.
	MaxRequestSize int `hcl:"max_request_size,optional"`
	// ClientID names the client to the brokers.
	ClientID string `hcl:"client_id,optional"`
	// Retries, when set, gives an event up after that many failed attempts
	// of its batch (data loss, as in Logstash). Unset, failed batches are
	// retried until they are delivered.
	Retries *int `hcl:"retries,optional"`
	// RetryBackoffMs is the wait before a failed produce request is retried.
	RetryBackoffMs int `hcl:"retry_backoff_ms,optional"`
	// RequestTimeoutMs is how long a produce request may wait for the broker's answer.
	RequestTimeoutMs int `hcl:"request_timeout_ms,optional"`
	// Partitioner is "default" (by key's murmur2 hash; keyless records stick
	// to a partition per batch), "uniform_sticky" (the same) or "round_robin".
	Partitioner string `hcl:"partitioner,optional"`
	// KeySerializer must be Kafka's StringSerializer or ByteArraySerializer.
	KeySerializer string `hcl:"key_serializer,optional"`
	// ValueSerializer must be Kafka's StringSerializer or ByteArraySerializer.
	ValueSerializer string `hcl:"value_serializer,optional"`

	kafkaopt.Connection
	kafkaopt.JavaTLS
	// The ssl_* options: TLS to the brokers (on with security_protocol SSL
	// or SASL_SSL).
	tlsopt.Client
}

// Defaults sets Logstash's defaults.
func (o *Options) Defaults() {
	o.Acks = "1"
	o.CompressionType = "none"
	o.BatchSize = 16384
	o.MaxRequestSize = 1048576
	o.RetryBackoffMs = 100
	o.RequestTimeoutMs = 40000
	o.KeySerializer = stringSerializer
	o.ValueSerializer = stringSerializer
	o.Connection.Defaults()
	o.JavaTLS.Defaults()
	o.Client.Defaults()
}

func fieldErr(field, format string, args ...any) error {
	return &engine.FieldError{Field: field, Err: fmt.Errorf(format, args...)}
}

// Validate checks the options.
func (o *Options) Validate() error {
	if o.TopicID == "" {
		return fieldErr("topic_id", "must not be empty")
	}
	if _, err := event.ParseTemplate(o.TopicID); err != nil {
		return fieldErr("topic_id", "%v", err)
	}
	if _, err := event.ParseTemplate(o.MessageKey); err != nil {
		return fieldErr("message_key", "%v", err)
	}
	for _, h := range o.MessageHeaders {
		if _, err := event.ParseTemplate(h.Value); err != nil {
			return fieldErr("message_headers", "%s: %v", h.Key, err)
		}
	}
	switch o.Acks {
	case "0", "1", "all", "-1":
	default:
		return fieldErr("acks", "unsupported value %q: want \"0\", \"1\" or \"all\"", o.Acks)
	}
	if _, err := compression(o.CompressionType); err != nil {
		return fieldErr("compression_type", "%v", err)
	}
	switch o.Partitioner {
	case "", "default", "uniform_sticky", "round_robin":
	default:
		return fieldErr("partitioner", "unsupported value %q: want \"default\", \"uniform_sticky\" or \"round_robin\" (Java partitioner classes cannot be loaded)", o.Partitioner)
	}
	if o.BatchSize < 0 || o.LingerMs < 0 {
		return fieldErr("linger_ms", "must not be negative")
	}
	if o.MaxRequestSize < 1 || o.MaxRequestSize > 1<<30 {
		return fieldErr("max_request_size", "must be between 1 and %d", 1<<30)
	}
	if o.Retries != nil && *o.Retries < 0 {
		return fieldErr("retries", "a negative retry count (%d) is not valid", *o.Retries)
	}
	if o.RetryBackoffMs < 0 || o.RequestTimeoutMs < 1 {
		return fieldErr("request_timeout_ms", "must be positive")
	}
	for name, v := range map[string]string{"key_serializer": o.KeySerializer, "value_serializer": o.ValueSerializer} {
		switch v {
		case stringSerializer, "org.apache.kafka.common.serialization.ByteArraySerializer":
		default:
			return fieldErr(name, "unsupported class %q: only StringSerializer and ByteArraySerializer are available", v)
		}
	}
	return kafkaopt.ValidateSecurity(o.Connection, o.JavaTLS, o.Client)
}

func compression(s string) (kgo.CompressionCodec, error) {
	switch s {
	case "none":
		return kgo.NoCompression(), nil
	case "gzip":
		return kgo.GzipCompression(), nil
	case "snappy":
		return kgo.SnappyCompression(), nil
	case "lz4":
		return kgo.Lz4Compression(), nil
	case "zstd":
		return kgo.ZstdCompression(), nil
	}
	return kgo.CompressionCodec{}, fmt.Errorf("unsupported value %q: want \"none\", \"gzip\", \"snappy\", \"lz4\" or \"zstd\"", s)
}

type header struct {
	name  string
	value event.Template
}

// Output is the kafka output.
type Output struct {
	opts    []kgo.Opt
	topic   event.Template
	key     event.Template
	hasKey  bool
	headers []header
	retries int // -1: unlimited
	enc     engine.Encoder
	buf     bytes.Buffer
	log     *slog.Logger

	cl       *kgo.Client
	attempts map[*event.Event]int // failed attempts per event, when retries is set

	// deliveryTimeout bounds how long one record is retried within a Write
	// (Kafka's delivery.timeout.ms); tests shorten it.
	deliveryTimeout time.Duration
}

var _ engine.Output = (*Output)(nil)

// New builds a kafka output. It reads the TLS and JAAS files; Connect dials.
func New(o Options, r engine.Resources) (*Output, error) {
	if r.Codec == nil {
		return nil, errors.New("kafka: no codec")
	}
	base, err := kafkaopt.ClientOpts(o.Connection, o.JavaTLS, o.Client)
	if err != nil {
		return nil, err
	}
	out := &Output{retries: -1, log: r.Logger, deliveryTimeout: 2 * time.Minute}
	if out.log == nil {
		out.log = slog.New(slog.DiscardHandler)
	}
	out.topic, _ = event.ParseTemplate(o.TopicID)
	out.key, _ = event.ParseTemplate(o.MessageKey)
	out.hasKey = o.MessageKey != ""
	for _, h := range o.MessageHeaders {
		t, _ := event.ParseTemplate(h.Value)
		out.headers = append(out.headers, header{h.Key, t})
	}
	if o.Retries != nil {
		out.retries = *o.Retries
		out.attempts = map[*event.Event]int{}
		out.log.Warn("kafka output is configured with finite retries: events are dropped after that many failed attempts", "retries", out.retries)
	}
	codec, _ := compression(o.CompressionType)
	opts := append(base,
		kgo.ProducerBatchCompression(codec),
		kgo.ProducerBatchMaxBytes(int32(o.MaxRequestSize)),
		kgo.ProducerLinger(time.Duration(o.LingerMs)*time.Millisecond),
		kgo.ProduceRequestTimeout(time.Duration(o.RequestTimeoutMs)*time.Millisecond),
		kgo.RetryBackoffFn(func(int) time.Duration { return time.Duration(o.RetryBackoffMs) * time.Millisecond }),
	)
	if o.ClientID != "" {
		opts = append(opts, kgo.ClientID(o.ClientID))
	}
	switch o.Acks {
	case "0":
		opts = append(opts, kgo.RequiredAcks(kgo.NoAck()), kgo.DisableIdempotentWrite())
	case "1":
		opts = append(opts, kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite())
	default:
		opts = append(opts, kgo.RequiredAcks(kgo.AllISRAcks()))
	}
	if o.Partitioner == "round_robin" {
		opts = append(opts, kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	} else {
		// nil: Kafka's murmur2 key hash, as the Java client's default partitioner.
		opts = append(opts, kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)))
	}
	out.opts = opts
	out.enc = r.Codec.NewEncoder(&out.buf)
	return out, nil
}

// Connect builds the client and checks that a broker answers.
func (o *Output) Connect(ctx context.Context) error {
	if o.cl != nil {
		return nil
	}
	cl, err := kgo.NewClient(append(o.opts, kgo.RecordDeliveryTimeout(o.deliveryTimeout))...)
	if err != nil {
		return engine.Permanent(fmt.Errorf("kafka: %w", err))
	}
	if err := cl.Ping(ctx); err != nil {
		cl.Close()
		return fmt.Errorf("kafka: no broker answers: %w", tlsopt.Explain(err))
	}
	o.cl = cl
	return nil
}

// permanent reports errors that retrying the same record cannot fix.
func permanent(err error) bool {
	switch {
	case errors.Is(err, kerr.MessageTooLarge), errors.Is(err, kerr.RecordListTooLarge),
		errors.Is(err, kerr.InvalidTopicException), errors.Is(err, kerr.TopicAuthorizationFailed),
		errors.Is(err, kerr.InvalidRecord):
		return true
	}
	return false
}

// Write produces one record per event and returns once the brokers
// acknowledged all of them (as acks asks), or with the events that failed.
func (o *Output) Write(ctx context.Context, events []*event.Event) error {
	if o.cl == nil {
		return fmt.Errorf("kafka: %w", engine.ErrNotConnected)
	}
	records := make([]*kgo.Record, 0, len(events))
	failed := map[int]error{}
	idx := make([]int, 0, len(events)) // event index of each record
	for i, e := range events {
		o.buf.Reset()
		if err := o.enc.Encode(e); err != nil {
			failed[i] = engine.Permanent(fmt.Errorf("kafka: encode: %w", err))
			continue
		}
		topic := o.topic.Render(e)
		if topic == "" {
			failed[i] = engine.Permanent(fmt.Errorf("kafka: topic_id %q renders empty", o.topic.String()))
			continue
		}
		r := &kgo.Record{Topic: topic, Value: bytes.Clone(o.buf.Bytes())}
		if o.hasKey {
			r.Key = []byte(o.key.Render(e))
		}
		for _, h := range o.headers {
			r.Headers = append(r.Headers, kgo.RecordHeader{Key: h.name, Value: []byte(h.value.Render(e))})
		}
		records = append(records, r)
		idx = append(idx, i)
	}
	results := o.cl.ProduceSync(ctx, records...)
	var retry error
	for j, res := range results {
		i := idx[j]
		if res.Err == nil {
			if o.attempts != nil {
				delete(o.attempts, events[i])
			}
			continue
		}
		err := fmt.Errorf("kafka: topic %q: %w", res.Record.Topic, tlsopt.Explain(res.Err))
		switch {
		case permanent(res.Err):
			failed[i] = engine.Permanent(err)
		case o.retries >= 0 && o.attempts[events[i]] >= o.retries:
			delete(o.attempts, events[i])
			failed[i] = engine.Permanent(fmt.Errorf("%w (given up after %d retries)", err, o.retries))
		default:
			if o.attempts != nil {
				o.attempts[events[i]]++
			}
			failed[i] = err
			retry = err
		}
	}
	if len(failed) == 0 {
		return nil
	}
	if len(failed) == len(events) && retry != nil {
		allRetry := true
		for _, err := range failed {
			if engine.IsPermanent(err) {
				allRetry = false
				break
			}
		}
		if allRetry {
			return retry
		}
	}
	return &engine.BatchError{Failed: failed}
}

// Close flushes and closes the client.
func (o *Output) Close(ctx context.Context) error {
	if o.cl == nil {
		return nil
	}
	err := o.cl.Flush(ctx)
	o.cl.Close()
	o.cl = nil
	return err
}
