package kafka

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/plugins/codecs/plain"
	"github.com/pipelined/pipeline/plugins/internal/testkit/plugintest"
)

// cluster starts kfake, franz-go's in-process Kafka protocol server, on
// loopback with topic "logs" of three partitions.
func cluster(t *testing.T) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, "logs"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func produce(t *testing.T, c *kfake.Cluster, topic string, from, to int) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var rs []*kgo.Record
	for i := from; i < to; i++ {
		rs = append(rs, &kgo.Record{Topic: topic, Key: []byte(fmt.Sprintf("k%d", i)), Value: []byte(fmt.Sprintf("line %d", i)),
			Headers: []kgo.RecordHeader{{Key: "h", Value: []byte("v")}}})
	}
	if err := cl.ProduceSync(context.Background(), rs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

func plainCodec(t testing.TB) engine.Codec { return plugintest.MustCodec(t, plain.New) }

func newInput(t *testing.T, c *kfake.Cluster, extra string) *Input {
	t.Helper()
	src := fmt.Sprintf("bootstrap_servers = %q\ntopics = [\"logs\"]\nauto_offset_reset = \"earliest\"\n%s", c.ListenAddrs()[0], extra)
	in := plugintest.MustNew(t, New, src, engine.Resources{ID: "in", Pipeline: "main", Codec: plainCodec(t), Logger: slog.New(slog.DiscardHandler)})
	in.ackWait = 200 * time.Millisecond
	return in
}

// collector is an emit that keeps the batches, acknowledging them or not.
type collector struct {
	mu      sync.Mutex
	ack     bool
	events  []*event.Event
	batches []engine.Batch
}

func (c *collector) emit(b engine.Batch) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.events = append(c.events, b.Events...)
	c.batches = append(c.batches, b)
	if c.ack && b.Ack != nil {
		b.Ack(nil)
	}
	return nil
}

func (c *collector) messages() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, e := range c.events {
		s, _ := e.GetString(event.MustRef("[message]"))
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// run runs in until col holds n events (or fails after 20 s), then stops it.
func run(t *testing.T, in *Input, col *collector, n int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- in.Run(ctx, col.emit) }()
	deadline := time.Now().Add(20 * time.Second)
	for len(col.messages()) < n {
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("got %d events after 20 s; want %d", len(col.messages()), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // anything more would arrive now
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return")
	}
}

func want(from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, fmt.Sprintf("line %d", i))
	}
	sort.Strings(out)
	return out
}

func equal(t *testing.T, got, want []string) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %d messages %v\nwant %d %v", len(got), got, len(want), want)
	}
}

// TestOffsetsCommittedAfterAck: a consumer stopped before the pipeline
// acknowledged its batches commits nothing, so the group's next consumer
// reads every record again; once acknowledged, records are not read again.
func TestOffsetsCommittedAfterAck(t *testing.T) {
	c := cluster(t)
	produce(t, c, "logs", 0, 50)

	unacked := &collector{}
	run(t, newInput(t, c, ""), unacked, 50)
	equal(t, unacked.messages(), want(0, 50))

	acked := &collector{ack: true}
	run(t, newInput(t, c, ""), acked, 50)
	equal(t, acked.messages(), want(0, 50)) // read again: nothing was acknowledged

	produce(t, c, "logs", 50, 60)
	next := &collector{ack: true}
	run(t, newInput(t, c, ""), next, 10)
	equal(t, next.messages(), want(50, 60)) // the acknowledged 50 are not read again
}

// TestOutOfOrderAcks: a batch acknowledged before an earlier one does not
// commit past the earlier one.
func TestOutOfOrderAcks(t *testing.T) {
	c := cluster(t)
	produce(t, c, "logs", 0, 30)
	col := &collector{}
	run(t, newInput(t, c, "max_poll_records = 5\nenable_auto_commit = false"), col, 30)
	if len(col.batches) < 2 {
		t.Fatalf("got %d batches; want several", len(col.batches))
	}
	// Acknowledge all but the first batch: nothing may be committed. (The
	// consumer has stopped, so these acknowledgements come too late anyway;
	// acknowledge before stopping in the second run below.)
	again := &collector{}
	in := newInput(t, c, "max_poll_records = 5\nenable_auto_commit = false")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- in.Run(ctx, again.emit) }()
	deadline := time.Now().Add(20 * time.Second)
	for len(again.messages()) < 30 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	again.mu.Lock()
	for _, b := range again.batches[1:] {
		b.Ack(nil)
	}
	again.mu.Unlock()
	time.Sleep(300 * time.Millisecond)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	equal(t, again.messages(), want(0, 30))

	last := &collector{ack: true}
	run(t, newInput(t, c, ""), last, 30)
	equal(t, last.messages(), want(0, 30)) // the first batch was never acknowledged: all again
}

// TestDecorateEvents: basic and extended metadata, as Logstash names them.
func TestDecorateEvents(t *testing.T) {
	c := cluster(t)
	produce(t, c, "logs", 0, 1)
	col := &collector{ack: true}
	run(t, newInput(t, c, `decorate_events = "extended"`+"\ngroup_id = \"g\""), col, 1)
	e := col.events[0]
	for ref, want := range map[string]any{
		"[@metadata][kafka][topic]":          "logs",
		"[@metadata][kafka][consumer_group]": "g",
		"[@metadata][kafka][offset]":         int64(0),
		"[@metadata][kafka][key]":            "k0",
		"[@metadata][kafka][headers][h]":     "v",
	} {
		got, _ := e.Get(event.MustRef(ref))
		if got != want {
			t.Errorf("%s = %#v; want %#v", ref, got, want)
		}
	}
	if ts, _ := e.Get(event.MustRef("[@metadata][kafka][timestamp]")); ts == nil {
		t.Error("no timestamp")
	}
	if p, _ := e.Get(event.MustRef("[@metadata][kafka][partition]")); p == nil {
		t.Error("no partition")
	}
}

// TestTopicsPatternAndThreads: a pattern matching whole names, read by two
// consumers of one group: every record once.
func TestTopicsPatternAndThreads(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "app-a", "app-b", "xapp-c"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	produce(t, c, "app-a", 0, 20)
	produce(t, c, "app-b", 20, 40)
	produce(t, c, "xapp-c", 40, 50)
	src := fmt.Sprintf("bootstrap_servers = %q\ntopics_pattern = \"app-.*\"\nauto_offset_reset = \"earliest\"\nconsumer_threads = 2", c.ListenAddrs()[0])
	in := plugintest.MustNew(t, New, src, engine.Resources{Codec: plainCodec(t)})
	in.ackWait = 200 * time.Millisecond
	col := &collector{ack: true}
	run(t, in, col, 40)
	equal(t, col.messages(), want(0, 40))
}

// TestValidate: bad options are refused at check with the option named.
func TestValidate(t *testing.T) {
	for _, tc := range []struct{ src, field string }{
		{`auto_offset_reset = "smallest"`, "auto_offset_reset"},
		{`decorate_events = "all"`, "decorate_events"},
		{`consumer_threads = 0`, "consumer_threads"},
		{`topics_pattern = "("`, "topics_pattern"},
		{`security_protocol = "SASL_SSL"`, "sasl_mechanism"},
		{"security_protocol = \"SASL_PLAINTEXT\"\nsasl_mechanism = \"PLAIN\"", "sasl_jaas_config"},
		{"security_protocol = \"SASL_PLAINTEXT\"\nsasl_mechanism = \"PLAIN\"\nsasl_jaas_config = \"x required;\"", "sasl_jaas_config"},
		{`ssl_truststore_location = "/x.jks"`, "ssl_truststore_type"},
		{`bootstrap_servers = "localhost"`, "bootstrap_servers"},
		{`value_deserializer_class = "io.confluent.kafka.serializers.KafkaAvroDeserializer"`, "value_deserializer_class"},
		{`partition_assignment_strategy = "magic"`, "partition_assignment_strategy"},
	} {
		o := plugintest.NewOptions[Options](t, tc.src)
		err := o.Validate()
		fe, ok := err.(*engine.FieldError)
		if !ok || fe.Field != tc.field {
			t.Errorf("%s: got %v; want an error on %s", tc.src, err, tc.field)
		}
	}
}
