package e2e_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/pipelined/pipeline/dsl"
	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/plugins/internal/testkit/rabbitmqtest"
)

// TestRabbitMQDocsExample runs testdata/rabbitmq/docs_example.conf, the
// examples of Logstash's rabbitmq input and output docs in one pipeline,
// against a real broker: a message with a timestamp property gets that
// @timestamp (the input's date example), every event is published with
// the routing key and properties the output's example sets, and the input
// acknowledged every message once the output's publish was confirmed (the
// queue is empty after the stop).
func TestRabbitMQDocsExample(t *testing.T) {
	b := rabbitmqtest.Shared(t)
	t.Setenv("RABBITMQ_PORT", strconv.Itoa(b.Port()))
	ch := b.Channel(t)
	if _, err := ch.QueueDeclare("docs_example", true, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	if err := ch.ExchangeDeclare("docs_out", "topic", true, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := ch.QueueDeclare("docs_out_q", false, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	if err := ch.QueueBind("docs_out_q", "logs.#", "docs_out", false, nil); err != nil {
		t.Fatal(err)
	}
	for _, p := range []amqp.Publishing{
		{Body: []byte(`{"message":"stamped","app":"web"}`), Timestamp: time.Unix(1700000000, 0)},
		{Body: []byte(`{"message":"plain","app":"db"}`)},
	} {
		if err := ch.PublishWithContext(context.Background(), "", "docs_example", false, false, p); err != nil {
			t.Fatal(err)
		}
	}

	src, err := os.ReadFile(filepath.Join("testdata", "rabbitmq", "docs_example.conf"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, diags := dsl.LoadSource("docs_example.conf", src)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	p, diags := engine.Build(cfg.Pipelines[0], engine.Default, engine.Settings{Workers: 1, Logger: slog.New(slog.DiscardHandler)})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	defer func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			p.Abort()
		}
	}()

	var got []amqp.Delivery
	deadline := time.Now().Add(60 * time.Second)
	for len(got) < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("%d messages published after 60 s; want 2", len(got))
		}
		d, ok, err := ch.Get("docs_out_q", true)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			got = append(got, d)
			continue
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the pipeline did not stop")
	}
	sort.Slice(got, func(i, j int) bool { return got[i].RoutingKey < got[j].RoutingKey })
	for i, want := range []struct{ key, message string }{{"logs.db", "plain"}, {"logs.web", "stamped"}} {
		d := got[i]
		e, err := event.FromJSON(d.Body)
		if err != nil {
			t.Fatalf("%s: %v", d.Body, err)
		}
		msg, _ := e.GetString(event.MustRef("[message]"))
		if d.RoutingKey != want.key || msg != want.message || d.ContentType != "application/json" || d.Priority != 1 || d.DeliveryMode != amqp.Persistent {
			t.Errorf("published %s with key %q, content type %q, priority %d, delivery mode %d", d.Body, d.RoutingKey, d.ContentType, d.Priority, d.DeliveryMode)
		}
		if _, ok := e.Get(event.MustRef("[@metadata]")); ok {
			t.Errorf("%s: [@metadata] was published", d.Body)
		}
		ts := e.Timestamp()
		if want.message == "stamped" && !ts.Equal(time.Unix(1700000000, 0)) {
			t.Errorf("stamped: @timestamp %v; want the message's timestamp property", ts)
		}
		if want.message == "plain" && time.Since(ts) > 5*time.Minute {
			t.Errorf("plain: @timestamp %v; want the time it was read", ts)
		}
	}
	q, err := ch.QueueDeclarePassive("docs_example", true, false, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if q.Messages != 0 {
		t.Fatalf("%d messages left in the input's queue; want every one acknowledged", q.Messages)
	}
}
