package nats

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pipelined/pipeline/dsl"
	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/plugins/internal/testkit/natstest"
	_ "github.com/pipelined/pipeline/plugins/outputs/null"
)

// drainTime runs src until n events are out and returns how long it took.
func drainTime(b *testing.B, src string, n int64) time.Duration {
	cfg, diags := dsl.LoadSource("bench.hcl", []byte(src))
	if diags.HasErrors() {
		b.Fatal(diags.Error())
	}
	p, diags := engine.Build(cfg.Pipelines[0], engine.Default, engine.Settings{Workers: 2, BatchSize: 250, Logger: slog.New(slog.DiscardHandler)})
	if diags.HasErrors() {
		b.Fatal(diags.Error())
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	start := time.Now()
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	deadline := start.Add(2 * time.Minute)
	for p.Stats().Out.Load() < n {
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d events after 2 minutes", p.Stats().Out.Load(), n)
		}
		time.Sleep(time.Millisecond)
	}
	d := time.Since(start)
	cancel()
	<-done
	return d
}

// BenchmarkConsume: one nats input against two inputs sharing the durable
// consumer, each draining the same stream of JSON messages into the null
// output, in the same run. Reported: events per second of each and the
// ratio two/one (the scale-out of consumers within one engine; on one
// 2-CPU machine that also runs the server it is bounded by the CPUs).
func BenchmarkConsume(b *testing.B) {
	const n = 50_000
	srv := natstest.Start(b)
	nc, err := nats.Connect(srv.URL())
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4000))
	if _, err := js.CreateStream(context.Background(), jetstream.StreamConfig{Name: "LOGS", Subjects: []string{"logs.>"}, Storage: jetstream.MemoryStorage}); err != nil {
		b.Fatal(err)
	}
	for i := range n {
		if _, err := js.PublishAsync("logs.web", fmt.Appendf(nil, `{"message":"GET /index.html 200 %d","uid":"u%d"}`, i, i)); err != nil {
			b.Fatal(err)
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(time.Minute):
		b.Fatal("preload not acknowledged within a minute")
	}
	input := func(durable string) string {
		return fmt.Sprintf("input \"nats\" {\n  servers = [%q]\n  stream = \"LOGS\"\n  durable = %q\n  max_ack_pending = 5000\n}\n", srv.URL(), durable)
	}
	var one, two time.Duration
	for i := range b.N {
		one += drainTime(b, input(fmt.Sprintf("one%d", i))+"output \"null\" {}\n", n)
		d := fmt.Sprintf("two%d", i)
		two += drainTime(b, strings.Repeat(input(d), 2)+"output \"null\" {}\n", n)
	}
	b.ReportMetric(float64(n*b.N)/one.Seconds(), "one_input_events/s")
	b.ReportMetric(float64(n*b.N)/two.Seconds(), "two_inputs_events/s")
	b.ReportMetric(one.Seconds()/two.Seconds(), "two/one")
}
