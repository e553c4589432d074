package rabbitmq

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/plugins/codecs/json"
	"github.com/pipelined/pipeline/plugins/internal/testkit/plugintest"
	"github.com/pipelined/pipeline/plugins/internal/testkit/rabbitmqtest"
	"github.com/pipelined/pipeline/plugins/internal/testkit/servertest"
)

func TestMain(m *testing.M) { os.Exit(rabbitmqtest.Main(m)) }

func newOutput(t *testing.T, b *rabbitmqtest.Broker, opts string) *Output {
	t.Helper()
	src := fmt.Sprintf("host = \"127.0.0.1\"\nport = %d\n%s", b.Port(), opts)
	logs := &servertest.Output{Limit: 1 << 20}
	out := plugintest.MustNew(t, New, src, engine.Resources{ID: "out", Pipeline: "main",
		Codec: plugintest.MustCodec(t, json.New), Logger: slog.New(slog.NewTextHandler(logs, nil))})
	t.Cleanup(func() {
		_ = out.Close(context.Background())
		if t.Failed() {
			t.Logf("output log:\n%s", servertest.Tail(logs.String(), 4000))
		}
	})
	connect(t, out)
	return out
}

// connect calls Connect until it succeeds, as the engine does.
func connect(t *testing.T, out *Output) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		err := out.Connect(context.Background())
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("Connect: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func events(t *testing.T, msgs ...string) []*event.Event {
	t.Helper()
	var out []*event.Event
	for _, m := range msgs {
		e := event.NewMessage(m)
		route, _, _ := strings.Cut(m, ":")
		_ = e.Set(event.MustRef("[route]"), route)
		_ = e.Set(event.MustRef("[@metadata][prio]"), "7")
		out = append(out, e)
	}
	return out
}

// bindQueue declares a transient queue bound to exchange with key.
func bindQueue(t *testing.T, ch *amqp.Channel, queue, exchange, key string, args amqp.Table) {
	t.Helper()
	if _, err := ch.QueueDeclare(queue, false, false, false, false, args); err != nil {
		t.Fatal(err)
	}
	if err := ch.QueueBind(queue, key, exchange, false, nil); err != nil {
		t.Fatal(err)
	}
}

// drain gets every message of queue.
func drain(t *testing.T, ch *amqp.Channel, queue string) []amqp.Delivery {
	t.Helper()
	var out []amqp.Delivery
	for range 10000 {
		d, ok, err := ch.Get(queue, true)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		out = append(out, d)
	}
	return out
}

func messages(t *testing.T, ds []amqp.Delivery) []string {
	t.Helper()
	var out []string
	for _, d := range ds {
		e, err := event.FromJSON(d.Body)
		if err != nil {
			t.Fatalf("%s: %v", d.Body, err)
		}
		s, _ := e.GetString(event.MustRef("[message]"))
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// TestRouting: the output declares the exchange and publishes with the
// routing key rendered per event; direct, topic and fanout exchanges route
// as RabbitMQ does.
func TestRouting(t *testing.T) {
	b := rabbitmqtest.Shared(t)
	ch := b.Channel(t)
	for _, tc := range []struct {
		typ      string
		bindings map[string]string // queue → binding key
		want     map[string][]string
	}{
		{"direct", map[string]string{"d_web": "web", "d_db": "db"},
			map[string][]string{"d_web": {"web:1", "web:2"}, "d_db": {"db:1"}}},
		{"topic", map[string]string{"t_all": "#", "t_web": "web"},
			map[string][]string{"t_all": {"db:1", "web:1", "web:2"}, "t_web": {"web:1", "web:2"}}},
		{"fanout", map[string]string{"f_a": "x", "f_b": "y"},
			map[string][]string{"f_a": {"db:1", "web:1", "web:2"}, "f_b": {"db:1", "web:1", "web:2"}}},
	} {
		t.Run(tc.typ, func(t *testing.T) {
			ex := "out_" + tc.typ
			out := newOutput(t, b, fmt.Sprintf("exchange = %q\nexchange_type = %q\nkey = \"%%%%{[route]}\"\ndurable = false", ex, tc.typ))
			for q, k := range tc.bindings {
				bindQueue(t, ch, q, ex, k, nil)
			}
			if err := out.Write(context.Background(), events(t, "web:1", "db:1", "web:2")); err != nil {
				t.Fatal(err)
			}
			// Write returned: the broker confirmed, so the messages are queued.
			for q, want := range tc.want {
				if got := messages(t, drain(t, ch, q)); strings.Join(got, ",") != strings.Join(want, ",") {
					t.Errorf("queue %s: %v; want %v", q, got, want)
				}
			}
		})
	}
}

// TestPublisherConfirms: Write returns nil only for messages the broker
// confirmed; a message it refuses (a queue full with x-overflow
// reject-publish nacks) fails that event, retryably and counted, and
// publishing it again once there is room delivers it.
func TestPublisherConfirms(t *testing.T) {
	b := rabbitmqtest.Shared(t)
	ch := b.Channel(t)
	out := newOutput(t, b, "exchange = \"confirms\"\nexchange_type = \"direct\"\nkey = \"k\"\nmessage_properties = {\n  content_type = \"application/json\"\n  priority = \"%%{[@metadata][prio]}\"\n  app_id = \"pipeline\"\n}")
	bindQueue(t, ch, "bounded", "confirms", "k", amqp.Table{"x-max-length": int64(2), "x-overflow": "reject-publish"})
	evs := events(t, "a", "b", "c", "d")
	err := out.Write(context.Background(), evs)
	var be *engine.BatchError
	if !errors.As(err, &be) || len(be.Failed) != 2 {
		t.Fatalf("Write = %v; want 2 of 4 events failed (nacked)", err)
	}
	for i, ferr := range be.Failed {
		if engine.IsPermanent(ferr) || i < 2 {
			t.Fatalf("event %d: %v; want the last two failed, retryably", i, ferr)
		}
	}
	if n := out.Counters()[1].Value; n != 2 {
		t.Fatalf("messages_nacked = %d; want 2", n)
	}
	got := drain(t, ch, "bounded")
	if m := messages(t, got); strings.Join(m, ",") != "a,b" {
		t.Fatalf("queued %v; want a,b", m)
	}
	d := got[0]
	if d.ContentType != "application/json" || d.Priority != 7 || d.AppId != "pipeline" || d.DeliveryMode != amqp.Persistent || d.RoutingKey != "k" {
		t.Fatalf("properties %+v", d)
	}
	// The engine publishes the failed events again: now there is room.
	if err := out.Write(context.Background(), []*event.Event{evs[2], evs[3]}); err != nil {
		t.Fatal(err)
	}
	if m := messages(t, drain(t, ch, "bounded")); strings.Join(m, ",") != "c,d" {
		t.Fatalf("queued %v; want c,d", m)
	}
}

// TestReconnectAfterBrokerRestart: a Write after the broker restarted says
// "not connected" (the engine then connects again and publishes the batch
// again); once connected, persistent messages to a durable exchange and
// queue are published and confirmed, and the reconnection is counted.
func TestReconnectAfterBrokerRestart(t *testing.T) {
	b := rabbitmqtest.Shared(t)
	ch := b.Channel(t)
	if _, err := ch.QueueDeclare("durable_out", true, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	out := newOutput(t, b, "exchange = \"durable_ex\"\nexchange_type = \"fanout\"")
	if err := ch.QueueBind("durable_out", "", "durable_ex", false, nil); err != nil {
		t.Fatal(err)
	}
	if err := out.Write(context.Background(), events(t, "before")); err != nil {
		t.Fatal(err)
	}
	b.Restart(t)
	var err error
	for range 50 { // the loss may be noticed by the first publish or its confirm
		if err = out.Write(context.Background(), events(t, "after")); err != nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !errors.Is(err, engine.ErrNotConnected) {
		t.Fatalf("Write after the restart = %v; want ErrNotConnected", err)
	}
	connect(t, out)
	if err := out.Write(context.Background(), events(t, "after")); err != nil {
		t.Fatal(err)
	}
	if n := out.Counters()[0].Value; n != 1 {
		t.Fatalf("reconnects = %d; want 1", n)
	}
	ch = b.Channel(t)
	if m := messages(t, drain(t, ch, "durable_out")); strings.Join(m, ",") != "after,before" {
		t.Fatalf("queued %v; want the persistent message from before the restart and the one after", m)
	}
}

// TestRubyToI: priority text reads as Ruby's String#to_i.
func TestRubyToI(t *testing.T) {
	for in, want := range map[string]int64{"7": 7, " 12abc": 12, "abc": 0, "": 0, "-3": -3, "%{[x]}": 0} {
		if got := rubyToI(in); got != want {
			t.Errorf("rubyToI(%q) = %d; want %d", in, got, want)
		}
	}
}
