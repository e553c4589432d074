package rabbitmq

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/enginetest"
	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/plugins/codecs/json"
	"github.com/pipelined/pipeline/plugins/internal/testkit/plugintest"
	"github.com/pipelined/pipeline/plugins/internal/testkit/rabbitmqtest"
	"github.com/pipelined/pipeline/plugins/internal/testkit/servertest"
	"github.com/pipelined/pipeline/plugins/internal/testkit/testpki"
)

// TestMain runs the tests with a shared broker, or, with KILL_HELPER_PORT
// set, is the consumer process TestKilledConsumer kills.
func TestMain(m *testing.M) {
	if port := os.Getenv("KILL_HELPER_PORT"); port != "" {
		os.Exit(killHelper(port))
	}
	os.Exit(rabbitmqtest.Main(m))
}

// killHelper consumes queue "killed" with an emit that never acknowledges
// (the outputs have not delivered yet) and prints "received N" as events
// arrive, until it is killed.
func killHelper(port string) int {
	var o Options
	o.Defaults()
	o.Host, o.Queue = engine.StringList{"127.0.0.1"}, "killed"
	o.Port, _ = strconv.Atoi(port)
	in, err := New(o, engine.Resources{ID: "killed", BatchSize: 125, Codec: plugintest.MustCodec(&testing.T{}, json.New),
		Logger: slog.New(slog.NewTextHandler(os.Stderr, nil))})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	n := 0
	err = in.Run(context.Background(), func(b engine.Batch) error {
		n += len(b.Events)
		fmt.Printf("received %d\n", n)
		return nil
	})
	fmt.Fprintln(os.Stderr, err)
	return 1
}

func newInput(t *testing.T, b *rabbitmqtest.Broker, extra string) *Input {
	t.Helper()
	src := fmt.Sprintf("host = \"127.0.0.1\"\nconnect_retry_interval = 0.2\n%s", extra)
	if !strings.Contains(extra, "port =") {
		src = fmt.Sprintf("port = %d\n%s", b.Port(), src)
	}
	logs := &servertest.Output{Limit: 1 << 20}
	in := plugintest.MustNew(t, New, src, engine.Resources{ID: "in", Pipeline: "main", BatchSize: 125,
		Codec: plugintest.MustCodec(t, json.New), Logger: slog.New(slog.NewTextHandler(logs, nil))})
	in.ackWait = 200 * time.Millisecond
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("input log:\n%s", servertest.Tail(logs.String(), 4000))
		}
	})
	return in
}

// collector is an emit that keeps the batches; it acknowledges them when
// ack is set.
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
	return messagesOf(c.events)
}

func messagesOf(evs []*event.Event) []string {
	var out []string
	for _, e := range evs {
		s, _ := e.GetString(event.MustRef("[message]"))
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// running is an input running on its own goroutine.
type running struct {
	cancel context.CancelFunc
	done   chan error
}

// start runs in; it is stopped when t ends, if the test did not stop it.
func start(t *testing.T, in *Input, col *collector) *running {
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- in.Run(ctx, col.emit) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-r.done:
		case <-time.After(30 * time.Second):
		}
	})
	return r
}

func (r *running) stop(t *testing.T) {
	t.Helper()
	r.cancel()
	select {
	case err := <-r.done:
		r.done <- err // for the cleanup
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return within 30 s")
	}
}

func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func publish(t *testing.T, ch *amqp.Channel, exchange, key string, bodies ...string) {
	t.Helper()
	if err := ch.Confirm(false); err != nil {
		t.Fatal(err)
	}
	for _, body := range bodies {
		dc, err := ch.PublishWithDeferredConfirmWithContext(context.Background(), exchange, key, false, false,
			amqp.Publishing{Body: []byte(body), ContentType: "application/json"})
		if err != nil {
			t.Fatal(err)
		}
		if !dc.Wait() {
			t.Fatalf("publish %s: nacked", body)
		}
	}
}

func jsonMessages(prefix string, n int) (bodies, want []string) {
	for i := range n {
		m := fmt.Sprintf("%s %02d", prefix, i)
		bodies = append(bodies, fmt.Sprintf(`{"message":%q}`, m))
		want = append(want, m)
	}
	return bodies, want
}

// declared declares queue passively on a connection of its own: nil when
// the queue exists and has a consumer (the input bound it and subscribed).
func declared(t *testing.T, b *rabbitmqtest.Broker, queue string) error {
	t.Helper()
	c, err := amqp.Dial(b.URL())
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer c.Close()
	ch, err := c.Channel()
	if err != nil {
		t.Fatalf("channel: %v", err)
	}
	q, err := ch.QueueDeclarePassive(queue, false, false, false, false, nil)
	if err == nil && q.Consumers == 0 {
		return fmt.Errorf("queue %s has no consumer yet", queue)
	}
	return err
}

func ready(t *testing.T, ch *amqp.Channel, queue string) int {
	t.Helper()
	q, err := ch.QueueDeclarePassive(queue, false, false, false, false, nil)
	if err != nil {
		t.Fatalf("queue %s: %v", queue, err)
	}
	return q.Messages
}

// TestAckFollowsPipeline: a message is acknowledged only once the pipeline
// acknowledged its batch. A consumer stopped with batches unacknowledged
// (as if killed before its outputs delivered) leaves exactly those
// messages to be delivered again, flagged redeliver; the acknowledged ones
// are gone.
func TestAckFollowsPipeline(t *testing.T) {
	b := rabbitmqtest.Shared(t)
	ch := b.Channel(t)
	if _, err := ch.QueueDeclare("ack_follows", false, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	bodies, want := jsonMessages("m", 40)
	publish(t, ch, "", "ack_follows", bodies...)

	in := newInput(t, b, "queue = \"ack_follows\"\nmetadata_enabled = \"basic\"")
	in.batch = 10 // several batches
	col := &collector{}
	r := start(t, in, col)
	waitFor(t, "40 events", 30*time.Second, func() bool { return len(col.messages()) == 40 })
	// The pipeline acknowledges the second batch only: the first, unacked,
	// holds it back (acks go in order), so nothing is acknowledged yet.
	col.mu.Lock()
	batches := append([]engine.Batch(nil), col.batches...)
	col.mu.Unlock()
	if len(batches) < 3 {
		t.Fatalf("%d batches; want at least 3", len(batches))
	}
	batches[1].Ack(nil)
	time.Sleep(200 * time.Millisecond)
	batches[0].Ack(nil) // now both go, in one multiple-ack
	acked := messagesOf(append(append([]*event.Event(nil), batches[0].Events...), batches[1].Events...))
	time.Sleep(200 * time.Millisecond)
	r.stop(t) // the rest is never acknowledged

	if got := ready(t, ch, "ack_follows"); got != 40-len(acked) {
		t.Fatalf("%d messages ready after the stop; want %d (40 less the %d acknowledged)", got, 40-len(acked), len(acked))
	}
	in2 := newInput(t, b, "queue = \"ack_follows\"\nmetadata_enabled = \"basic\"")
	col2 := &collector{ack: true}
	r2 := start(t, in2, col2)
	waitFor(t, "the unacknowledged events again", 30*time.Second, func() bool { return len(col2.messages()) == 40-len(acked) })
	time.Sleep(300 * time.Millisecond) // anything more would come now
	r2.stop(t)
	got := col2.messages()
	all := append(append([]string(nil), acked...), got...)
	sort.Strings(all)
	if strings.Join(all, ",") != strings.Join(want, ",") {
		t.Fatalf("acknowledged %v + redelivered %v; want each of %v once", acked, got, want)
	}
	for _, e := range col2.events {
		if v, _ := e.Get(event.MustRef("[@metadata][rabbitmq_properties][redeliver]")); v != true {
			t.Fatalf("redelivered event without redeliver: %v", e)
		}
	}
	if n := ready(t, ch, "ack_follows"); n != 0 {
		t.Fatalf("%d messages left after the second consumer acknowledged all", n)
	}
}

// TestAckFalse: with ack => false the broker forgets messages as it sends
// them; a stop does not bring them back.
func TestAckFalse(t *testing.T) {
	b := rabbitmqtest.Shared(t)
	ch := b.Channel(t)
	if _, err := ch.QueueDeclare("ack_false", false, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	bodies, want := jsonMessages("n", 10)
	publish(t, ch, "", "ack_false", bodies...)
	in := newInput(t, b, "queue = \"ack_false\"\nack = false")
	col := &collector{}
	r := start(t, in, col)
	waitFor(t, "10 events", 30*time.Second, func() bool { return len(col.messages()) == 10 })
	r.stop(t)
	if got := col.messages(); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("got %v; want %v", got, want)
	}
	for _, b := range col.batches {
		if b.Ack != nil {
			t.Fatal("a batch carries an Ack with ack => false")
		}
	}
	if n := ready(t, ch, "ack_false"); n != 0 {
		t.Fatalf("%d messages back in the queue with ack => false", n)
	}
}

// TestExchangeBinding: the input declares the exchange of exchange_type and
// binds its queue with key; for a topic exchange only matching routing keys
// arrive, a fanout exchange ignores the key.
func TestExchangeBinding(t *testing.T) {
	b := rabbitmqtest.Shared(t)
	ch := b.Channel(t)
	for _, tc := range []struct {
		typ, key string
		sent     map[string]string // routing key → message
		want     []string
	}{
		{"direct", "web", map[string]string{"web": "d1", "db": "d2"}, []string{"d1"}},
		{"topic", "app.*.error", map[string]string{"app.web.error": "t1", "app.web.info": "t2", "app.db.error": "t3"}, []string{"t1", "t3"}},
		{"fanout", "ignored", map[string]string{"x": "f1", "y": "f2"}, []string{"f1", "f2"}},
	} {
		t.Run(tc.typ, func(t *testing.T) {
			ex := "in_" + tc.typ
			in := newInput(t, b, fmt.Sprintf("queue = \"q_%s\"\nexchange = %q\nexchange_type = %q\nkey = %q", tc.typ, ex, tc.typ, tc.key))
			col := &collector{ack: true}
			r := start(t, in, col)
			// The queue is bound once the input consumes.
			waitFor(t, "the binding", 30*time.Second, func() bool { return declared(t, b, "q_"+tc.typ) == nil })
			var keys []string
			for k := range tc.sent {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				publish(t, ch, ex, k, fmt.Sprintf(`{"message":%q}`, tc.sent[k]))
			}
			waitFor(t, "the routed events", 30*time.Second, func() bool { return len(col.messages()) >= len(tc.want) })
			time.Sleep(300 * time.Millisecond)
			r.stop(t)
			if got := col.messages(); strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Fatalf("got %v; want %v", got, tc.want)
			}
		})
	}
}

// TestMetadata: metadata_enabled none, basic and extended put Logstash's
// fields in [@metadata].
func TestMetadata(t *testing.T) {
	b := rabbitmqtest.Shared(t)
	ch := b.Channel(t)
	ts := time.Unix(1700000000, 0)
	for _, level := range []string{"none", "basic", "extended", "true"} {
		t.Run(level, func(t *testing.T) {
			q := "meta_" + level
			if _, err := ch.QueueDeclare(q, false, false, false, false, nil); err != nil {
				t.Fatal(err)
			}
			body := `{"message":"hello"}`
			err := ch.PublishWithContext(context.Background(), "", q, false, false, amqp.Publishing{
				Body: []byte(body), ContentType: "application/json", AppId: "app", CorrelationId: "c-1",
				DeliveryMode: amqp.Persistent, Priority: 3, MessageId: "id-1", Timestamp: ts, Type: "log",
				Headers: amqp.Table{"tenant": "acme", "attempt": int32(2), "nested": amqp.Table{"ok": true}},
			})
			if err != nil {
				t.Fatal(err)
			}
			in := newInput(t, b, fmt.Sprintf("queue = %q\nmetadata_enabled = %q", q, level))
			col := &collector{ack: true}
			r := start(t, in, col)
			waitFor(t, "the event", 30*time.Second, func() bool { return len(col.messages()) == 1 })
			r.stop(t)
			e := col.events[0]
			get := func(ref string) any {
				v, _ := e.Get(event.MustRef(ref))
				return v
			}
			if level == "none" {
				if v := get("[@metadata]"); v != nil && len(v.(map[string]any)) > 0 {
					t.Fatalf("[@metadata] = %v; want nothing with none", v)
				}
				return
			}
			for ref, want := range map[string]any{
				"[@metadata][rabbitmq_headers][tenant]":              "acme",
				"[@metadata][rabbitmq_headers][attempt]":             int64(2),
				"[@metadata][rabbitmq_headers][nested][ok]":          true,
				"[@metadata][rabbitmq_properties][app-id]":           "app",
				"[@metadata][rabbitmq_properties][correlation-id]":   "c-1",
				"[@metadata][rabbitmq_properties][content-type]":     "application/json",
				"[@metadata][rabbitmq_properties][delivery-mode]":    int64(2),
				"[@metadata][rabbitmq_properties][priority]":         int64(3),
				"[@metadata][rabbitmq_properties][message-id]":       "id-1",
				"[@metadata][rabbitmq_properties][timestamp]":        int64(1700000000),
				"[@metadata][rabbitmq_properties][type]":             "log",
				"[@metadata][rabbitmq_properties][exchange]":         "",
				"[@metadata][rabbitmq_properties][routing-key]":      q,
				"[@metadata][rabbitmq_properties][redeliver]":        nil, // only when true
				"[@metadata][rabbitmq_properties][content-encoding]": nil,
			} {
				if got := get(ref); got != want {
					t.Errorf("%s = %#v; want %#v", ref, got, want)
				}
			}
			if tag, _ := get("[@metadata][rabbitmq_properties][consumer-tag]").(string); tag == "" {
				t.Error("no consumer-tag")
			}
			payload := get("[@metadata][rabbitmq_payload]")
			if level == "extended" && payload != body {
				t.Errorf("payload = %#v; want %q", payload, body)
			}
			if level != "extended" && payload != nil {
				t.Errorf("payload = %#v with %s", payload, level)
			}
		})
	}
}

// TestReconnectAfterBrokerRestart: the input survives a broker restart: it
// connects again, declares its queue again and delivers what is published
// after; the reconnection is counted.
func TestReconnectAfterBrokerRestart(t *testing.T) {
	b := rabbitmqtest.Shared(t)
	in := newInput(t, b, "queue = \"restart_q\"\ndurable = true")
	col := &collector{ack: true}
	r := start(t, in, col)
	ch := b.Channel(t)
	waitFor(t, "the queue", 30*time.Second, func() bool { return declared(t, b, "restart_q") == nil })
	publish(t, ch, "", "restart_q", `{"message":"before"}`)
	waitFor(t, "the first event", 30*time.Second, func() bool { return len(col.messages()) == 1 })

	b.Restart(t)
	ch = b.Channel(t)
	publish(t, ch, "", "restart_q", `{"message":"after"}`)
	waitFor(t, "the event published after the restart", 90*time.Second, func() bool { return len(col.messages()) == 2 })
	r.stop(t)
	if got := col.messages(); strings.Join(got, ",") != "after,before" {
		t.Fatalf("got %v", got)
	}
	if n := in.Counters()[0].Value; n < 1 {
		t.Fatalf("reconnects = %d; want at least 1", n)
	}
}

// TestAutomaticRecoveryOff: with automatic_recovery => false a lost
// connection ends the input with an error.
func TestAutomaticRecoveryOff(t *testing.T) {
	b := rabbitmqtest.Shared(t)
	in := newInput(t, b, "queue = \"norecovery\"\nexclusive = true\nautomatic_recovery = false")
	col := &collector{ack: true}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- in.Run(ctx, col.emit) }()
	waitFor(t, "the queue", 30*time.Second, func() bool {
		select {
		case err := <-done:
			t.Fatalf("Run ended early: %v", err)
		default:
		}
		// An exclusive queue of another connection answers RESOURCE_LOCKED.
		err := declared(t, b, "norecovery")
		return err != nil && strings.Contains(err.Error(), "RESOURCE_LOCKED")
	})
	b.Restart(t)
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "automatic_recovery") {
			t.Fatalf("Run = %v; want the lost connection", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("Run did not end after the connection was lost")
	}
}

// TestEngineAcknowledges: through the real engine, every message whose
// event the output delivered is acknowledged before the input stops: none
// is left in the queue (an unacknowledged one would be requeued when the
// input's channel closed).
func TestEngineAcknowledges(t *testing.T) {
	b := rabbitmqtest.Shared(t)
	ch := b.Channel(t)
	if _, err := ch.QueueDeclare("engine_acks", true, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	bodies, want := jsonMessages("e", 30)
	publish(t, ch, "", "engine_acks", bodies...)
	got := enginetest.Input(t, "rabbitmq", fmt.Sprintf("host = \"127.0.0.1\"\nport = %d\nqueue = \"engine_acks\"\ndurable = true", b.Port()), 10*time.Second)
	if m := messagesOf(got); strings.Join(m, ",") != strings.Join(want, ",") {
		t.Fatalf("got %v; want %v", m, want)
	}
	if n := ready(t, ch, "engine_acks"); n != 0 {
		t.Fatalf("%d messages back in the queue after the pipeline delivered and stopped; want 0", n)
	}
}

// TestKilledConsumer: a consumer process killed (SIGKILL) after it received
// messages and before the pipeline acknowledged them acknowledged none of
// them: RabbitMQ delivers every one again, flagged redeliver.
func TestKilledConsumer(t *testing.T) {
	b := rabbitmqtest.Shared(t)
	ch := b.Channel(t)
	if _, err := ch.QueueDeclare("killed", false, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	bodies, want := jsonMessages("k", 25)
	publish(t, ch, "", "killed", bodies...)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), "KILL_HELPER_PORT="+strconv.Itoa(b.Port()))
	out := &servertest.Output{Limit: 1 << 20}
	cmd.Stdout = out
	p := servertest.Run(t, "consumer", cmd)
	waitFor(t, "the consumer to receive the 25 messages", 60*time.Second, func() bool {
		return strings.Contains(out.String(), "received 25\n")
	})
	if got := ready(t, ch, "killed"); got != 0 {
		t.Fatalf("%d messages ready while the consumer holds them; want 0", got)
	}
	p.Stop(syscall.SIGKILL, time.Second)
	// The broker notices the dead connection and requeues what it held.
	waitFor(t, "the messages back in the queue", 30*time.Second, func() bool { return ready(t, ch, "killed") == 25 })
	in := newInput(t, b, "queue = \"killed\"\nmetadata_enabled = \"basic\"")
	col := &collector{ack: true}
	r := start(t, in, col)
	waitFor(t, "25 events", 30*time.Second, func() bool { return len(col.messages()) == 25 })
	r.stop(t)
	if got := col.messages(); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("got %v; want %v", got, want)
	}
	for _, e := range col.events {
		if v, _ := e.Get(event.MustRef("[@metadata][rabbitmq_properties][redeliver]")); v != true {
			t.Fatalf("event without redeliver after the kill: %v", e)
		}
	}
}

// TestTLS: with ssl => true the input verifies the broker's certificate
// against ssl_certificate_authorities: it consumes over TLS when the CA is
// the broker's, and refuses to connect (logging why) when it is not.
func TestTLS(t *testing.T) {
	b := rabbitmqtest.Shared(t)
	ch := b.Channel(t)
	if _, err := ch.QueueDeclare("tls_q", false, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	publish(t, ch, "", "tls_q", `{"message":"secure"}`)
	src := fmt.Sprintf("port = %d\nqueue = \"tls_q\"\nssl = true\nssl_version = \"TLSv1.2\"\nssl_certificate_authorities = [%q]", b.TLSPort(), b.CAFile())
	in := newInput(t, b, src)
	col := &collector{ack: true}
	r := start(t, in, col)
	waitFor(t, "the event over TLS", 60*time.Second, func() bool { return len(col.messages()) == 1 })
	r.stop(t)

	other := testpki.NewCA(t, "other")
	bad := newInput(t, b, fmt.Sprintf("port = %d\nqueue = \"tls_q\"\nssl = true\nssl_certificate_authorities = [%q]", b.TLSPort(), other.File))
	logs := &servertest.Output{}
	bad.log = slog.New(slog.NewTextHandler(logs, nil))
	r = start(t, bad, &collector{ack: true})
	waitFor(t, "the refused certificate in the log", 30*time.Second, func() bool {
		return strings.Contains(logs.String(), "not signed by a CA in ssl_certificate_authorities")
	})
	r.stop(t)
}
