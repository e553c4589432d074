package nats

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pipelined/pipeline/dsl/ir"
	"github.com/pipelined/pipeline/plugins/internal/testkit/natstest"
	"github.com/pipelined/pipeline/plugins/internal/testkit/plugintest"
)

// quoted renders servers as an HCL list.
func quoted(urls ...string) string {
	var q []string
	for _, u := range urls {
		q = append(q, fmt.Sprintf("%q", u))
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// shipperSrc is a pipeline publishing count generated events, each with a
// unique [uid] (shipper name and sequence), to the LOGS stream.
func shipperSrc(servers, name string, count, replicas int) string {
	return fmt.Sprintf(`input "generator" {
  message = "event from %[2]s"
  count = %[3]d
  add_field = { shipper = %[2]q }
}
filter "mutate" {
  add_field = { uid = "%%%%{shipper}-%%%%{[event][sequence]}" }
}
output "nats" {
  servers = %[1]s
  subject = "logs.%%%%{shipper}"
  msg_id = "%%%%{uid}"
  stream = "LOGS"
  subjects = ["logs.>"]
  replicas = %[4]d
  ack_timeout = "2s"
  reconnect_wait = "200ms"
}
`, servers, name, count, replicas)
}

// indexerSrc is a pipeline consuming LOGS with the durable "indexers".
func indexerSrc(t testing.TB, servers string, c *collector, extra string) string {
	return fmt.Sprintf(`input "nats" {
  servers = %s
  stream = "LOGS"
  durable = "indexers"
  ack_wait = "2s"
  nak_delay = "100ms"
  fetch_max_wait = "200ms"
  reconnect_wait = "200ms"
%s
}
%s`, servers, extra, collectBlock(t, c))
}

func consumerInfo(t *testing.T, url string) *jetstream.ConsumerInfo {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := js.Consumer(ctx, "LOGS", "indexers")
	if err != nil {
		return nil
	}
	info, err := c.Info(ctx)
	if err != nil {
		return nil
	}
	return info
}

// TestRoundTrip: events published by the nats output from one engine
// pipeline reach another through the nats input, each once, and every
// message is acknowledged once delivered.
func TestRoundTrip(t *testing.T) {
	srv := natstest.Start(t)
	servers := quoted(srv.URL())
	const n = 2000
	ship := start(t, "shipper", shipperSrc(servers, "s1", n, 1), 125)
	c := newCollector()
	start(t, "indexer", indexerSrc(t, servers, c, ""), 125)
	waitFor(t, 30*time.Second, func() string { return fmt.Sprintf("%d of %d events", c.unique(), n) }, func() bool { return c.unique() == n })
	if err := ship.wait(30 * time.Second); err != nil {
		t.Fatalf("shipper: %v", err)
	}
	waitFor(t, 10*time.Second, func() string { return "the consumer's acknowledgements" }, func() bool {
		info := consumerInfo(t, srv.URL())
		return info != nil && info.AckFloor.Stream == n && info.NumAckPending == 0 && info.NumPending == 0
	})
	if u, total := c.counts(); u != n || total != n {
		t.Errorf("got %d events, %d unique; want %d once each", total, u, n)
	}
}

// TestAckFollowsPipeline: a message is acknowledged only once the pipeline
// delivered its event: with the output held shut nothing is acknowledged;
// an input stopped then gives its messages back, and another gets them.
func TestAckFollowsPipeline(t *testing.T) {
	srv := natstest.Start(t)
	servers := quoted(srv.URL())
	const n = 300
	ship := start(t, "shipper", shipperSrc(servers, "s1", n, 1), 100)
	if err := ship.wait(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	held := newCollector()
	held.gate = make(chan struct{})
	in := start(t, "held", indexerSrc(t, servers, held, "max_ack_pending = 100"), 50)
	waitFor(t, 10*time.Second, func() string { return "messages delivered to the held input" }, func() bool {
		info := consumerInfo(t, srv.URL())
		return info != nil && info.NumAckPending == 100
	})
	// Several times ack_wait (2 s) later, the in-progress heartbeats kept
	// the messages with this input: none was acknowledged nor redelivered.
	time.Sleep(3 * time.Second)
	info := consumerInfo(t, srv.URL())
	if info.AckFloor.Stream != 0 || info.NumAckPending != 100 || info.NumRedelivered != 0 {
		t.Fatalf("with the output held: ack floor %d, pending acks %d, redelivered %d; want 0, 100 (max_ack_pending), 0",
			info.AckFloor.Stream, info.NumAckPending, info.NumRedelivered)
	}
	// Stop with the output still held: the engine's stop ends the held
	// Write, nothing is acknowledged.
	go func() { time.Sleep(500 * time.Millisecond); in.pl.Abort() }()
	_ = in.stop()
	if u := held.unique(); u != 0 {
		t.Fatalf("held output wrote %d events", u)
	}
	c := newCollector()
	start(t, "second", indexerSrc(t, servers, c, ""), 50)
	waitFor(t, 20*time.Second, func() string { return fmt.Sprintf("%d of %d events", c.unique(), n) }, func() bool { return c.unique() == n })
	if c.redelivered.Load() == 0 {
		t.Errorf("no event came with num_delivered > 1; the first input's messages should have been delivered again")
	}
}

// TestCoreSubscription: with jetstream => false the input subscribes with
// core NATS and decodes what is published.
func TestCoreSubscription(t *testing.T) {
	srv := natstest.Start(t)
	c := newCollector()
	r := start(t, "core", fmt.Sprintf(`input "nats" {
  servers = [%q]
  jetstream = false
  subject = "core.>"
  queue_group = "idx"
}
%s`, srv.URL(), collectBlock(t, c)), 50)
	nc, err := nats.Connect(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	waitFor(t, 10*time.Second, func() string { return "the subscription" }, func() bool { return strings.Contains(r.logs.String(), "subscribed") })
	for i := range 20 {
		_ = nc.Publish("core.a", fmt.Appendf(nil, `{"uid":"u%d"}`, i))
	}
	_ = nc.Flush()
	waitFor(t, 10*time.Second, func() string { return fmt.Sprintf("%d of 20", c.unique()) }, func() bool { return c.unique() == 20 })
}

// TestCheckDiagnostics: `pipeline check` points at the option at fault.
func TestCheckDiagnostics(t *testing.T) {
	for _, tc := range []struct{ opts, want string }{
		{`durable = "x"`, "is required with jetstream => true"},
		{"stream = \"S\"\ndurable = \"a.b\"", "not a valid consumer name"},
		{"stream = \"S\"\nmax_deliver = 0", "-1 (unlimited) or at least 1"},
		{"stream = \"S\"\nack_wait = \"10ms\"", "at least 1s"},
		{"stream = \"S\"\nqueue_group = \"g\"", "core NATS"},
		{"jetstream = false", "is required with jetstream => false"},
		{"stream = \"S\"\nsubject = \"a..b\"", "empty token"},
	} {
		diags := plugintest.BuildDiags(t, ir.Input, "nats", tc.opts)
		if !diags.HasErrors() || !strings.Contains(diags.Error(), tc.want) {
			t.Errorf("%s: diags %v; want %q", tc.opts, diags, tc.want)
		}
	}
	o := plugintest.NewOptions[Options](t, "servers = [\"nats://n1:4222\", \"nats://n2:4222\"]\nstream = \"LOGS\"\nsubject = \"logs.>\"\ndurable = \"indexers\"\nmax_ack_pending = 5000\nmax_deliver = 10\nack_wait = \"1m\"")
	if err := o.Validate(); err != nil {
		t.Errorf("typical configuration: %v", err)
	}
}
