package kafka

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/pipelined/pipeline/dsl"
	"github.com/pipelined/pipeline/engine"
	_ "github.com/pipelined/pipeline/plugins/codecs/json"
	_ "github.com/pipelined/pipeline/plugins/inputs/generator"
	_ "github.com/pipelined/pipeline/plugins/outputs/null"
)

// runUntil runs the pipeline src until n events are out and returns how long
// that took.
func runUntil(b *testing.B, src string, n int64) time.Duration {
	cfg, diags := dsl.LoadSource("bench.hcl", []byte(src))
	if diags.HasErrors() {
		b.Fatal(diags.Error())
	}
	p, diags := engine.Build(cfg.Pipelines[0], engine.Default, engine.Settings{Workers: 2, Logger: slog.New(slog.DiscardHandler)})
	if diags.HasErrors() {
		b.Fatal(diags.Error())
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	start := time.Now()
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	for p.Stats().Out.Load() < n {
		time.Sleep(time.Millisecond)
	}
	d := time.Since(start)
	cancel()
	<-done
	return d
}

// BenchmarkInputThroughput: the kafka input (kfake on loopback, JSON
// records, 4 partitions, 2 consumer threads) into the null output, against
// the generator input into the same output, as events per second; the ratio
// is reported as kafka/generator.
func BenchmarkInputThroughput(b *testing.B) {
	const n = 100000
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(4, "bench"))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	addr := c.ListenAddrs()[0]
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ProducerLinger(5*time.Millisecond))
	if err != nil {
		b.Fatal(err)
	}
	rs := make([]*kgo.Record, n)
	for i := range rs {
		rs[i] = &kgo.Record{Topic: "bench", Value: fmt.Appendf(nil, `{"message":"GET /index.html 200 %d","seq":%d}`, i, i)}
	}
	if err := cl.ProduceSync(context.Background(), rs...).FirstErr(); err != nil {
		b.Fatal(err)
	}
	cl.Close()
	var kafka, gen time.Duration
	for i := 0; i < b.N; i++ {
		kafka += runUntil(b, fmt.Sprintf(`
input "kafka" {
  bootstrap_servers = %q
  topics = ["bench"]
  group_id = "g%d"
  auto_offset_reset = "earliest"
  consumer_threads = 2
  codec "json" {}
}
output "null" {}
`, addr, i), n)
		gen += runUntil(b, fmt.Sprintf(`
input "generator" {
  message = "{\"message\":\"GET /index.html 200 1\",\"seq\":1}"
  count = %d
  codec "json" {}
}
output "null" {}
`, n), n)
	}
	b.ReportMetric(float64(n*b.N)/kafka.Seconds(), "kafka_events/s")
	b.ReportMetric(float64(n*b.N)/gen.Seconds(), "generator_events/s")
	b.ReportMetric(gen.Seconds()/kafka.Seconds(), "kafka/generator")
}
