package kafka

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/pipelined/pipeline/dsl"
	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/plugins/codecs/plain"
	_ "github.com/pipelined/pipeline/plugins/inputs/kafka"
	"github.com/pipelined/pipeline/plugins/internal/testkit/plugintest"
)

// cluster starts kfake, franz-go's in-process Kafka protocol server, on
// loopback (port 0: any free one) with the topics given, three partitions each.
func cluster(t *testing.T, port int, topics ...string) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(kfake.Ports(port), kfake.SeedTopics(3, topics...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func messageCodec(t testing.TB) engine.Codec {
	t.Helper()
	c, err := plugintest.CodecBuilder(plain.New)([]byte(`format = "%%{message}"`))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func newOutput(t *testing.T, addr, extra string) *Output {
	t.Helper()
	src := fmt.Sprintf("bootstrap_servers = %q\n%s", addr, extra)
	return plugintest.MustNew(t, New, src, engine.Resources{ID: "out", Codec: messageCodec(t), Logger: slog.New(slog.DiscardHandler)})
}

func events(from, to int) []*event.Event {
	var out []*event.Event
	for i := from; i < to; i++ {
		e := event.NewMessage(fmt.Sprintf("line %d", i))
		_ = e.Set(event.MustRef("[user]"), fmt.Sprintf("u%d", i%4))
		_ = e.Set(event.MustRef("[app]"), "web")
		out = append(out, e)
	}
	return out
}

// consume reads every record of topic from the start until n arrived (or 20 s).
func consume(t *testing.T, addr, topic string, n int) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var out []*kgo.Record
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for len(out) < n {
		f := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("topic %s: %d records after 20 s; want %d", topic, len(out), n)
		}
		out = append(out, f.Records()...)
	}
	return out
}

func values(rs []*kgo.Record) []string {
	var out []string
	for _, r := range rs {
		out = append(out, string(r.Value))
	}
	sort.Strings(out)
	return out
}

func want(from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, fmt.Sprintf("line %d", i))
	}
	sort.Strings(out)
	return out
}

// TestKeyedRecords: topic_id and message_key are rendered per event; records
// with one key share a partition; headers are rendered too.
func TestKeyedRecords(t *testing.T) {
	c := cluster(t, 0, "logs-web")
	addr := c.ListenAddrs()[0]
	for _, acks := range []string{"0", "1", "all"} {
		t.Run("acks="+acks, func(t *testing.T) {
			c.Close()
			c = cluster(t, 0, "logs-web")
			addr = c.ListenAddrs()[0]
			o := newOutput(t, addr, fmt.Sprintf("topic_id = \"logs-%%%%{app}\"\nmessage_key = \"%%%%{user}\"\nacks = %q\ncompression_type = \"zstd\"\nmessage_headers = { \"who\" = \"%%%%{user}\" }", acks))
			ctx := context.Background()
			if err := o.Connect(ctx); err != nil {
				t.Fatal(err)
			}
			if err := o.Write(ctx, events(0, 40)); err != nil {
				t.Fatal(err)
			}
			if err := o.Close(ctx); err != nil {
				t.Fatal(err)
			}
			rs := consume(t, addr, "logs-web", 40)
			if fmt.Sprint(values(rs)) != fmt.Sprint(want(0, 40)) {
				t.Fatalf("got %v", values(rs))
			}
			parts := map[string]int32{}
			for _, r := range rs {
				i, _ := strconv.Atoi(string(r.Value[len("line "):]))
				if k := fmt.Sprintf("u%d", i%4); string(r.Key) != k {
					t.Fatalf("record %q has key %q; want %q", r.Value, r.Key, k)
				}
				if p, ok := parts[string(r.Key)]; ok && p != r.Partition {
					t.Fatalf("key %s in partitions %d and %d", r.Key, p, r.Partition)
				}
				parts[string(r.Key)] = r.Partition
				if len(r.Headers) != 1 || r.Headers[0].Key != "who" || string(r.Headers[0].Value) != string(r.Key) {
					t.Fatalf("headers %v", r.Headers)
				}
			}
		})
	}
}

// TestBrokerDown: with the broker gone, Write does not return success; it
// fails (to be retried by the engine) after the delivery timeout, or
// succeeds once a broker is back on the address, and nothing is lost.
func TestBrokerDown(t *testing.T) {
	c := cluster(t, 0, "logs")
	addr := c.ListenAddrs()[0]
	_, ps, _ := net.SplitHostPort(addr)
	port, _ := strconv.Atoi(ps)
	o := newOutput(t, addr, `topic_id = "logs"`+"\nacks = \"all\"")
	ctx := context.Background()
	if err := o.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	if err := o.Write(ctx, events(0, 10)); err != nil {
		t.Fatal(err)
	}
	c.Close()

	// Down for longer than the delivery timeout: Write fails, not permanently.
	o.Close(ctx)
	o.deliveryTimeout = time.Second
	c2 := cluster(t, port, "logs")
	if err := o.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	c2.Close()
	if err := o.Write(ctx, events(10, 20)); err == nil || engine.IsPermanent(err) {
		t.Fatalf("Write with the broker down: %v; want a retryable error", err)
	}
	o.Close(ctx)

	// Back while Write waits: the same Write succeeds.
	o.deliveryTimeout = 2 * time.Minute
	c3 := cluster(t, port, "logs")
	if err := o.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	c3.Close()
	done := make(chan error, 1)
	go func() { done <- o.Write(ctx, events(10, 20)) }()
	time.Sleep(500 * time.Millisecond)
	select {
	case err := <-done:
		t.Fatalf("Write returned %v with the broker down", err)
	default:
	}
	c4 := cluster(t, port, "logs")
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Write did not return after the broker came back")
	}
	o.Close(ctx)
	// kfake keeps no data across restarts: the new broker holds what was
	// written after it started, which must be the whole batch.
	if got := values(consume(t, c4.ListenAddrs()[0], "logs", 10)); fmt.Sprint(got) != fmt.Sprint(want(10, 20)) {
		t.Fatalf("got %v", got)
	}
}

// TestPipelineRoundTrip runs kafka input → engine → kafka output: every
// record arrives once; the input's group then commits what the pipeline
// acknowledged, so a second run reads only the new record.
func TestPipelineRoundTrip(t *testing.T) {
	c := cluster(t, 0, "in", "out")
	addr := c.ListenAddrs()[0]
	prod, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	send := func(from, to int) {
		var rs []*kgo.Record
		for i := from; i < to; i++ {
			rs = append(rs, &kgo.Record{Topic: "in", Value: []byte(fmt.Sprintf("line %d", i))})
		}
		if err := prod.ProduceSync(context.Background(), rs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	src := fmt.Sprintf(`
input "kafka" "in" {
  bootstrap_servers = %[1]q
  topics            = ["in"]
  auto_offset_reset = "earliest"
  decorate_events   = "basic"
}

output "kafka" "out" {
  bootstrap_servers = %[1]q
  topic_id          = "out"
  message_key       = "%%{[@metadata][kafka][partition]}"
  acks              = "all"
  codec "plain" { format = "%%{message}" }
}
`, addr)
	runOnce := func(total int) {
		cfg, diags := dsl.LoadSource("kafka.hcl", []byte(src))
		if diags.HasErrors() {
			t.Fatal(diags.Error())
		}
		p, diags := engine.Build(cfg.Pipelines[0], engine.Default, engine.Settings{Workers: 2, Logger: slog.New(slog.DiscardHandler)})
		if diags.HasErrors() {
			t.Fatal(diags.Error())
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- p.Run(ctx) }()
		consume(t, addr, "out", total)
		time.Sleep(200 * time.Millisecond)
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("pipeline did not stop")
		}
	}
	const n = 500
	send(0, n)
	runOnce(n)
	send(n, n+1)
	runOnce(n + 1)
	got := values(consume(t, addr, "out", n+1))
	if fmt.Sprint(got) != fmt.Sprint(want(0, n+1)) {
		t.Fatalf("out holds %d records; want %d, each once", len(got), n+1)
	}
}

// TestValidate: bad options are refused at check with the option named.
func TestValidate(t *testing.T) {
	for _, tc := range []struct{ src, field string }{
		{`topic_id = ""`, "topic_id"},
		{"topic_id = \"t\"\nacks = \"2\"", "acks"},
		{"topic_id = \"t\"\ncompression_type = \"brotli\"", "compression_type"},
		{"topic_id = \"t\"\nretries = -1", "retries"},
		{"topic_id = \"t\"\npartitioner = \"com.example.P\"", "partitioner"},
		{"topic_id = \"t\"\nsecurity_protocol = \"SASL_SSL\"\nsasl_mechanism = \"OAUTHBEARER\"", "sasl_mechanism"},
		{"topic_id = \"t\"\nvalue_serializer = \"x.Y\"", "value_serializer"},
	} {
		o := plugintest.NewOptions[Options](t, tc.src)
		err := o.Validate()
		fe, ok := err.(*engine.FieldError)
		if !ok || fe.Field != tc.field {
			t.Errorf("%s: got %v; want an error on %s", tc.src, err, tc.field)
		}
	}
}

// TestPipelineAbortedBeforeAck: a pipeline whose output cannot deliver is
// aborted with the records read but not acknowledged; the input commits
// nothing, so the next run of the pipeline (same group) delivers them all.
func TestPipelineAbortedBeforeAck(t *testing.T) {
	c := cluster(t, 0, "in", "out")
	addr := c.ListenAddrs()[0]
	prod, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	const n = 100
	var rs []*kgo.Record
	for i := range n {
		rs = append(rs, &kgo.Record{Topic: "in", Value: []byte(fmt.Sprintf("line %d", i))})
	}
	if err := prod.ProduceSync(context.Background(), rs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	// A port nothing listens on: the output never connects.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := l.Addr().String()
	l.Close()
	src := func(out string) string {
		return fmt.Sprintf(`
input "kafka" "in" {
  bootstrap_servers = %q
  topics            = ["in"]
  auto_offset_reset = "earliest"
}
output "kafka" "out" {
  bootstrap_servers = %q
  topic_id          = "out"
  codec "plain" { format = "%%{message}" }
}
`, addr, out)
	}
	build := func(s string) *engine.Pipeline {
		cfg, diags := dsl.LoadSource("kafka.hcl", []byte(s))
		if diags.HasErrors() {
			t.Fatal(diags.Error())
		}
		p, diags := engine.Build(cfg.Pipelines[0], engine.Default, engine.Settings{Workers: 2, Logger: slog.New(slog.DiscardHandler)})
		if diags.HasErrors() {
			t.Fatal(diags.Error())
		}
		return p
	}

	p := build(src(dead))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	deadline := time.Now().Add(20 * time.Second)
	for p.Stats().In.Load() < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d events in after 20 s", p.Stats().In.Load())
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	p.Abort()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("aborted pipeline did not stop")
	}

	p = build(src(addr))
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	go func() { done <- p.Run(ctx) }()
	got := values(consume(t, addr, "out", n))
	cancel()
	<-done
	if fmt.Sprint(got) != fmt.Sprint(want(0, n)) {
		t.Fatalf("out holds %v; want every record once", got)
	}
}
