// Package kafka implements the kafka input, like Logstash's: it joins the
// consumer group group_id, reads the topics (or those matching
// topics_pattern) and decodes each record's value with the input's codec,
// plain by default. It uses franz-go, a pure-Go Kafka client.
//
// # Offsets are committed after the pipeline acknowledges
//
// Logstash commits the offsets of records it has polled, whether or not the
// pipeline has delivered their events, so a crash loses the records in
// flight. This input instead commits a record's offset only once the engine
// has acknowledged the batch holding it (every event delivered by every
// output, dropped by a filter, or failed for good), and in order: a batch
// acknowledged before an earlier one of the same consumer waits for it.
// Acknowledged offsets are committed every auto_commit_interval_ms, when
// partitions are revoked in a rebalance, and when the input stops (after
// waiting up to ten seconds for the batches in flight). So every record is
// delivered at least once: records read but not acknowledged when the engine
// stops or dies are read again by the next consumer of the group.
// enable_auto_commit => true (Logstash's default) means exactly this;
// enable_auto_commit => false commits acknowledged offsets after each batch
// instead of on the interval.
//
// decorate_events => "basic" (or true) sets [@metadata][kafka][topic],
// [consumer_group], [partition], [offset], [key] and [timestamp] (epoch
// milliseconds), as Logstash; "extended" adds [@metadata][kafka][headers][name]
// for each header whose value is valid UTF-8.
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
	"io"
	"log/slog"
	"regexp"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/plugins/internal/kafkaopt"
	"github.com/pipelined/pipeline/plugins/internal/tlsopt"
)

func init() { engine.RegisterInput("kafka", New, engine.WithDefaultCodec("plain")) }

const stringDeserializer = "org.apache.kafka.common.serialization.StringDeserializer"

// Options configures the kafka input.
type Options struct {
	// Topics are the topics read.
	Topics []string `hcl:"topics,optional"`
	// TopicsPattern is a regular expression matching whole topic names to read
	// instead of topics; new matching topics are picked up as they appear.
	TopicsPattern string `hcl:"topics_pattern,optional"`
	// GroupID is the consumer group: consumers sharing it share the partitions.
	GroupID string `hcl:"group_id,optional"`
	// GroupInstanceID makes the consumer a static member of the group (with
	// "-<n>" appended for thread n when consumer_threads is above 1).
	GroupInstanceID string `hcl:"group_instance_id,optional"`
	// ClientID names the client to the brokers; thread n uses "<client_id>-<n>".
	ClientID string `hcl:"client_id,optional"`
	// AutoOffsetReset is where a partition without a committed offset (or an
	// out-of-range one) starts: "earliest", "latest" (Kafka's default) or
	// "none" (fail instead).
	AutoOffsetReset string `hcl:"auto_offset_reset,optional"`
	// ConsumerThreads is the number of consumers run side by side in the group.
	ConsumerThreads int `hcl:"consumer_threads,optional"`
	// DecorateEvents is "none", "basic" or "extended" (true and false are
	// Logstash's older spellings of basic and none).
	DecorateEvents string `hcl:"decorate_events,optional"`
	// EnableAutoCommit true commits acknowledged offsets every
	// auto_commit_interval_ms; false after each acknowledged batch. Offsets
	// are never committed before the pipeline acknowledges their records.
	EnableAutoCommit bool `hcl:"enable_auto_commit,optional"`
	// AutoCommitIntervalMs is how often acknowledged offsets are committed.
	AutoCommitIntervalMs int `hcl:"auto_commit_interval_ms,optional"`
	// PollTimeoutMs is accepted for compatibility: the consumer waits for
	// records until some arrive or the pipeline stops.
	PollTimeoutMs int `hcl:"poll_timeout_ms,optional"`
	// MaxPollRecords is the most records emitted as one batch.
	MaxPollRecords int `hcl:"max_poll_records,optional"`
	// FetchMaxBytes is the most bytes a broker returns for one fetch.
	FetchMaxBytes int `hcl:"fetch_max_bytes,optional"`
	// FetchMaxWaitMs is how long a broker waits for fetch_min_bytes.
	FetchMaxWaitMs int `hcl:"fetch_max_wait_ms,optional"`
	// FetchMinBytes is the least data a broker waits for before answering a fetch.
	FetchMinBytes int `hcl:"fetch_min_bytes,optional"`
	// MaxPartitionFetchBytes is the most bytes fetched from one partition at once.
	MaxPartitionFetchBytes int `hcl:"max_partition_fetch_bytes,optional"`
	// SessionTimeoutMs is how long the group waits for a silent consumer
	// before giving its partitions to others.
	SessionTimeoutMs int `hcl:"session_timeout_ms,optional"`
	// HeartbeatIntervalMs is how often the consumer tells the group it is alive.
	HeartbeatIntervalMs int `hcl:"heartbeat_interval_ms,optional"`
	// IsolationLevel is "read_uncommitted" or "read_committed" (skip records
	// of aborted transactions).
	IsolationLevel string `hcl:"isolation_level,optional"`
	// PartitionAssignmentStrategy is "range", "round_robin", "sticky" or
	// "cooperative_sticky"; unset, franz-go's default (cooperative sticky).
	PartitionAssignmentStrategy string `hcl:"partition_assignment_strategy,optional"`
	// AutoCreateTopics lets subscribing create a missing topic, when the
	// broker allows it.
	AutoCreateTopics bool `hcl:"auto_create_topics,optional"`
	// ClientRack is the rack, for fetching from the closest replica.
	ClientRack string `hcl:"client_rack,optional"`
	// KeyDeserializerClass must be Kafka's StringDeserializer or ByteArrayDeserializer.
	KeyDeserializerClass string `hcl:"key_deserializer_class,optional"`
	// ValueDeserializerClass must be Kafka's StringDeserializer or ByteArrayDeserializer.
	ValueDeserializerClass string `hcl:"value_deserializer_class,optional"`

	kafkaopt.Connection
	kafkaopt.JavaTLS
	// The ssl_* options: TLS to the brokers (on with security_protocol SSL
	// or SASL_SSL).
	tlsopt.Client
}

// Defaults sets Logstash's defaults.
func (o *Options) Defaults() {
	o.Topics = []string{"logstash"}
	o.GroupID = "logstash"
	o.ClientID = "logstash"
	o.ConsumerThreads = 1
	o.DecorateEvents = "none"
	o.EnableAutoCommit = true
	o.AutoCommitIntervalMs = 5000
	o.PollTimeoutMs = 100
	o.MaxPollRecords = 500
	o.FetchMaxBytes = 52428800
	o.FetchMaxWaitMs = 500
	o.MaxPartitionFetchBytes = 1048576
	o.SessionTimeoutMs = 10000
	o.HeartbeatIntervalMs = 3000
	o.IsolationLevel = "read_uncommitted"
	o.AutoCreateTopics = true
	o.KeyDeserializerClass = stringDeserializer
	o.ValueDeserializerClass = stringDeserializer
	o.Connection.Defaults()
	o.JavaTLS.Defaults()
	o.Client.Defaults()
}

func fieldErr(field, format string, args ...any) error {
	return &engine.FieldError{Field: field, Err: fmt.Errorf(format, args...)}
}

// Validate checks the options.
func (o *Options) Validate() error {
	if o.TopicsPattern != "" {
		if _, err := regexp.Compile(o.TopicsPattern); err != nil {
			return fieldErr("topics_pattern", "%v", err)
		}
	} else if len(o.Topics) == 0 {
		return fieldErr("topics", "list at least one topic, or set topics_pattern")
	}
	if o.GroupID == "" {
		return fieldErr("group_id", "must not be empty")
	}
	switch o.AutoOffsetReset {
	case "", "earliest", "latest", "none":
	default:
		return fieldErr("auto_offset_reset", "unsupported value %q: want \"earliest\", \"latest\" or \"none\"", o.AutoOffsetReset)
	}
	if o.ConsumerThreads < 1 {
		return fieldErr("consumer_threads", "must be at least 1")
	}
	if _, err := metadataLevel(o.DecorateEvents); err != nil {
		return fieldErr("decorate_events", "%v", err)
	}
	for _, f := range []struct {
		name string
		v    int
	}{
		{"auto_commit_interval_ms", o.AutoCommitIntervalMs}, {"max_poll_records", o.MaxPollRecords},
		{"fetch_max_bytes", o.FetchMaxBytes}, {"max_partition_fetch_bytes", o.MaxPartitionFetchBytes},
		{"session_timeout_ms", o.SessionTimeoutMs}, {"heartbeat_interval_ms", o.HeartbeatIntervalMs},
		{"fetch_max_wait_ms", o.FetchMaxWaitMs},
	} {
		if f.v < 1 {
			return fieldErr(f.name, "must be at least 1")
		}
	}
	if o.FetchMinBytes < 0 || o.PollTimeoutMs < 0 {
		return fieldErr("fetch_min_bytes", "must not be negative")
	}
	switch o.IsolationLevel {
	case "read_uncommitted", "read_committed":
	default:
		return fieldErr("isolation_level", "unsupported value %q: want \"read_uncommitted\" or \"read_committed\"", o.IsolationLevel)
	}
	if _, err := balancer(o.PartitionAssignmentStrategy); err != nil {
		return fieldErr("partition_assignment_strategy", "%v", err)
	}
	for name, v := range map[string]string{"key_deserializer_class": o.KeyDeserializerClass, "value_deserializer_class": o.ValueDeserializerClass} {
		switch v {
		case stringDeserializer, "org.apache.kafka.common.serialization.ByteArrayDeserializer":
		default:
			return fieldErr(name, "unsupported class %q: only StringDeserializer and ByteArrayDeserializer (the bytes as they are) are available", v)
		}
	}
	return kafkaopt.ValidateSecurity(o.Connection, o.JavaTLS, o.Client)
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

func balancer(s string) (kgo.GroupBalancer, error) {
	switch s {
	case "":
		return nil, nil
	case "range", "org.apache.kafka.clients.consumer.RangeAssignor":
		return kgo.RangeBalancer(), nil
	case "round_robin", "org.apache.kafka.clients.consumer.RoundRobinAssignor":
		return kgo.RoundRobinBalancer(), nil
	case "sticky", "org.apache.kafka.clients.consumer.StickyAssignor":
		return kgo.StickyBalancer(), nil
	case "cooperative_sticky", "org.apache.kafka.clients.consumer.CooperativeStickyAssignor":
		return kgo.CooperativeStickyBalancer(), nil
	}
	return nil, fmt.Errorf("unsupported value %q: want \"range\", \"round_robin\", \"sticky\" or \"cooperative_sticky\"", s)
}

// Input is the kafka input.
type Input struct {
	o     Options
	base  []kgo.Opt
	meta  level
	codec engine.Codec
	log   *slog.Logger

	ackWait time.Duration // how long Run waits for acknowledgements at the end; tests shorten it
}

var _ engine.Input = (*Input)(nil)

// New builds a kafka input. It reads the TLS and JAAS files; it connects to nothing.
func New(o Options, r engine.Resources) (*Input, error) {
	if r.Codec == nil {
		return nil, errors.New("kafka: no codec")
	}
	base, err := kafkaopt.ClientOpts(o.Connection, o.JavaTLS, o.Client)
	if err != nil {
		return nil, err
	}
	meta, _ := metadataLevel(o.DecorateEvents)
	in := &Input{o: o, base: base, meta: meta, codec: r.Codec, log: r.Logger, ackWait: 10 * time.Second}
	if in.log == nil {
		in.log = slog.New(slog.DiscardHandler)
	}
	return in, nil
}

// clientOpts are the franz-go options of consumer thread n.
func (in *Input) clientOpts(n int) []kgo.Opt {
	o := in.o
	opts := append([]kgo.Opt(nil), in.base...)
	clientID := o.ClientID
	if clientID == "" {
		clientID = "logstash"
	}
	opts = append(opts,
		kgo.ClientID(fmt.Sprintf("%s-%d", clientID, n)),
		kgo.ConsumerGroup(o.GroupID),
		kgo.AutoCommitMarks(),
		kgo.AutoCommitInterval(time.Duration(o.AutoCommitIntervalMs)*time.Millisecond),
		kgo.FetchMaxBytes(int32(min(o.FetchMaxBytes, 1<<30))),
		kgo.FetchMaxWait(time.Duration(o.FetchMaxWaitMs)*time.Millisecond),
		kgo.FetchMaxPartitionBytes(int32(min(o.MaxPartitionFetchBytes, 1<<30))),
		kgo.SessionTimeout(time.Duration(o.SessionTimeoutMs)*time.Millisecond),
		kgo.HeartbeatInterval(time.Duration(o.HeartbeatIntervalMs)*time.Millisecond),
	)
	if o.FetchMinBytes > 0 {
		opts = append(opts, kgo.FetchMinBytes(int32(min(o.FetchMinBytes, 1<<30))))
	}
	if o.TopicsPattern != "" {
		// Java's Pattern.matcher(topic).matches() matches the whole name.
		opts = append(opts, kgo.ConsumeRegex(), kgo.ConsumeTopics("^(?:"+o.TopicsPattern+")$"))
	} else {
		opts = append(opts, kgo.ConsumeTopics(o.Topics...))
	}
	switch o.AutoOffsetReset {
	case "earliest":
		opts = append(opts, kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	case "none":
		opts = append(opts, kgo.ConsumeResetOffset(kgo.NoResetOffset()))
	default: // Kafka's default is latest
		opts = append(opts, kgo.ConsumeResetOffset(kgo.NewOffset().AtEnd()))
	}
	if o.GroupInstanceID != "" {
		id := o.GroupInstanceID
		if o.ConsumerThreads > 1 {
			id = fmt.Sprintf("%s-%d", id, n)
		}
		opts = append(opts, kgo.InstanceID(id))
	}
	if o.IsolationLevel == "read_committed" {
		opts = append(opts, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	}
	if b, _ := balancer(o.PartitionAssignmentStrategy); b != nil {
		opts = append(opts, kgo.Balancers(b))
	}
	if o.AutoCreateTopics {
		opts = append(opts, kgo.AllowAutoTopicCreation())
	}
	if o.ClientRack != "" {
		opts = append(opts, kgo.Rack(o.ClientRack))
	}
	return opts
}

// Run consumes until ctx is cancelled.
func (in *Input) Run(ctx context.Context, emit engine.EmitFunc) error {
	var wg sync.WaitGroup
	errs := make([]error, in.o.ConsumerThreads)
	for n := range in.o.ConsumerThreads {
		// A panic on one of these goroutines (the engine guards only Run's)
		// ends this input with an error, not the process.
		wg.Go(func() {
			errs[n] = engine.Guard(in.log, "kafka consumer", func() error { return in.consume(ctx, emit, n) })
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// pending is one emitted batch: the last record of each partition it holds.
type pending struct {
	last  []*kgo.Record
	acked bool
}

// tracker marks offsets for commit in the order the batches were emitted,
// whatever the order of their acknowledgements.
type tracker struct {
	cl      *kgo.Client
	mu      sync.Mutex
	queue   []*pending
	changed chan struct{} // signalled when a batch is acknowledged
	commit  bool          // commit after each acknowledged batch (enable_auto_commit false)
	log     *slog.Logger
}

func (t *tracker) add(records []*kgo.Record) *pending {
	type tp struct {
		topic string
		part  int32
	}
	last := map[tp]*kgo.Record{}
	for _, r := range records {
		k := tp{r.Topic, r.Partition}
		if cur := last[k]; cur == nil || r.Offset > cur.Offset {
			last[k] = r
		}
	}
	p := &pending{}
	for _, r := range last {
		p.last = append(p.last, r)
	}
	t.mu.Lock()
	t.queue = append(t.queue, p)
	t.mu.Unlock()
	return p
}

func (t *tracker) ack(p *pending) {
	t.mu.Lock()
	p.acked = true
	var done []*kgo.Record
	for len(t.queue) > 0 && t.queue[0].acked {
		done = append(done, t.queue[0].last...)
		t.queue[0] = nil
		t.queue = t.queue[1:]
	}
	t.mu.Unlock()
	if len(done) > 0 {
		t.cl.MarkCommitRecords(done...)
		if t.commit {
			// On a goroutine: Ack runs on an engine goroutine that must not
			// wait for the broker. A failed commit is retried with the next one.
			// Guarded (no one else guards this goroutine): a panic is
			// counted and logged, and fails safe as a failed commit does.
			go func() {
				err := engine.Guard(t.log, "kafka offset commit", func() error { return t.cl.CommitMarkedOffsets(context.Background()) })
				if err != nil {
					t.log.Warn("kafka: cannot commit offsets; they are committed with the next batch or at stop", "err", err)
				}
			}()
		}
	}
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

// consume runs consumer thread n.
func (in *Input) consume(ctx context.Context, emit engine.EmitFunc, n int) error {
	cl, err := kgo.NewClient(in.clientOpts(n)...)
	if err != nil {
		return fmt.Errorf("kafka: %w", err)
	}
	tr := &tracker{cl: cl, changed: make(chan struct{}, 1), commit: !in.o.EnableAutoCommit, log: in.log}
	defer in.finish(cl, tr)
	var lastErr time.Time
	for {
		fetches := cl.PollRecords(ctx, in.o.MaxPollRecords)
		if ctx.Err() != nil {
			// Records polled but not emitted are not marked: the next
			// consumer of the group reads them again.
			return nil
		}
		if fetches.IsClientClosed() {
			return nil
		}
		fetches.EachError(func(topic string, part int32, err error) {
			// franz-go retries these itself; log at most once a second.
			if time.Since(lastErr) > time.Second {
				lastErr = time.Now()
				in.log.Warn("kafka: fetch failed; retrying", "topic", topic, "partition", part, "err", tlsopt.Explain(err))
			}
		})
		records := fetches.Records()
		if len(records) == 0 {
			continue
		}
		p := tr.add(records)
		events := in.decode(records)
		if len(events) == 0 {
			tr.ack(p)
			continue
		}
		if err := emit(engine.Batch{Events: events, Ack: func(error) { tr.ack(p) }}); err != nil {
			return err
		}
	}
}

// finish waits (up to ackWait) for the acknowledgement of the batches
// emitted, commits what was acknowledged and leaves the group.
func (in *Input) finish(cl *kgo.Client, tr *tracker) {
	deadline := time.NewTimer(in.ackWait)
	defer deadline.Stop()
	for tr.outstanding() > 0 {
		select {
		case <-tr.changed:
		case <-deadline.C:
			in.log.Warn("kafka: stopping with batches not acknowledged; their records are read again by the group's next consumer", "batches", tr.outstanding())
			goto commit
		}
	}
commit:
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := cl.CommitMarkedOffsets(ctx); err != nil {
		in.log.Warn("kafka: cannot commit offsets at stop; acknowledged records may be read again", "err", err)
	}
	cl.Close()
}

var (
	refTopic     = event.MustRef("[@metadata][kafka][topic]")
	refGroup     = event.MustRef("[@metadata][kafka][consumer_group]")
	refPartition = event.MustRef("[@metadata][kafka][partition]")
	refOffset    = event.MustRef("[@metadata][kafka][offset]")
	refKey       = event.MustRef("[@metadata][kafka][key]")
	refTimestamp = event.MustRef("[@metadata][kafka][timestamp]")
)

// decode turns the records' values into events with the codec.
func (in *Input) decode(records []*kgo.Record) []*event.Event {
	out := make([]*event.Event, 0, len(records))
	var r bytes.Reader
	for _, rec := range records {
		start := len(out)
		out = in.decodeOne(&r, rec.Value, out)
		if in.meta == metaNone {
			continue
		}
		for _, e := range out[start:] {
			in.decorate(e, rec)
		}
	}
	return out
}

func (in *Input) decorate(e *event.Event, rec *kgo.Record) {
	_ = e.Set(refTopic, rec.Topic)
	_ = e.Set(refGroup, in.o.GroupID)
	_ = e.Set(refPartition, int64(rec.Partition))
	_ = e.Set(refOffset, rec.Offset)
	if rec.Key != nil {
		_ = e.Set(refKey, string(rec.Key))
	} else {
		_ = e.Set(refKey, nil)
	}
	_ = e.Set(refTimestamp, rec.Timestamp.UnixMilli())
	if in.meta != metaExtended {
		return
	}
	for _, h := range rec.Headers {
		if h.Value == nil || !utf8.Valid(h.Value) {
			continue
		}
		ref, err := event.ParseRef("[@metadata][kafka][headers][" + h.Key + "]")
		if err != nil {
			continue
		}
		_ = e.Set(ref, string(h.Value))
	}
}

// decodeOne appends the events of one record. A codec that panics on it (it
// runs on goroutines the engine does not guard) fails that record like one
// that does not decode: logged, and what it decoded before is kept.
func (in *Input) decodeOne(r *bytes.Reader, value []byte, out []*event.Event) (res []*event.Event) {
	defer func() {
		if perr := engine.Recovered(recover(), in.log, "kafka codec"); perr != nil {
			res = out
		}
	}()
	r.Reset(value)
	dec := in.codec.NewDecoder(r)
	for {
		e, err := dec.Decode()
		if err != nil {
			if err != io.EOF {
				in.log.Warn("kafka: cannot decode record", "err", err)
			}
			break
		}
		out = append(out, e)
	}
	return out
}
