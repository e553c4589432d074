package nats

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/plugins/codecs/json"
	"github.com/pipelined/pipeline/plugins/internal/testkit/natstest"
	"github.com/pipelined/pipeline/plugins/internal/testkit/plugintest"
)

// BenchmarkPublish: the nats output's Write (JSON encoding, sprintf subject
// and msg_id, async publish, waiting for every ack) against a bare nats.go
// JetStream async publisher of the same JSON bodies in the same batches,
// both to one in-process server's memory stream, in the same run. Reported:
// messages per second of each and the ratio output/bare.
func BenchmarkPublish(b *testing.B) {
	const batch, batches = 250, 40
	srv := natstest.Start(b)
	nc, err := nats.Connect(srv.URL())
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	bare, _ := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4000))
	if _, err := bare.CreateStream(context.Background(), jetstream.StreamConfig{Name: "BENCH", Subjects: []string{"bench.>"}, Storage: jetstream.MemoryStorage, MaxMsgs: 100_000}); err != nil {
		b.Fatal(err)
	}
	out := plugintest.MustNew(b, New, fmt.Sprintf("servers = [%q]\nsubject = \"bench.%%%%{[host][name]}\"\nmsg_id = \"%%%%{[id]}\"", srv.URL()),
		engine.Resources{ID: "out", Codec: plugintest.MustCodec(b, json.New), Logger: slog.New(slog.DiscardHandler)})
	defer out.Close(context.Background())
	if err := out.Connect(context.Background()); err != nil {
		b.Fatal(err)
	}
	var events [][]*event.Event
	for i := range batches {
		evs := hostEvents(batch, fmt.Sprintf("h%d", i))
		for _, e := range evs {
			_ = e.Set(event.MustRef("[id]"), fmt.Sprintf("b%d-%p", i, e))
		}
		events = append(events, evs)
	}
	// The bare publisher's bodies: the same events, encoded once up front.
	var buf bytes.Buffer
	enc := plugintest.MustCodec(b, json.New).NewEncoder(&buf)
	bodies := make([][]byte, 0, batch)
	for _, e := range events[0] {
		buf.Reset()
		_ = enc.Encode(e)
		bodies = append(bodies, bytes.Clone(buf.Bytes()))
	}
	var outD, bareD time.Duration
	b.ResetTimer()
	for n := range b.N {
		t0 := time.Now()
		for _, evs := range events {
			if err := out.Write(context.Background(), evs); err != nil {
				b.Fatal(err)
			}
		}
		outD += time.Since(t0)
		t0 = time.Now()
		for i := range batches {
			futures := make([]jetstream.PubAckFuture, 0, batch)
			for j, body := range bodies {
				m := &nats.Msg{Subject: "bench.bare", Data: body, Header: nats.Header{jetstream.MsgIDHeader: []string{fmt.Sprintf("bare-%d-%d-%d", n, i, j)}}}
				f, err := bare.PublishMsgAsync(m)
				if err != nil {
					b.Fatal(err)
				}
				futures = append(futures, f)
			}
			for _, f := range futures {
				select {
				case <-f.Ok():
				case err := <-f.Err():
					b.Fatal(err)
				}
			}
		}
		bareD += time.Since(t0)
		// The next round's msg_ids must be new to the output too.
		for i, evs := range events {
			for _, e := range evs {
				_ = e.Set(event.MustRef("[id]"), fmt.Sprintf("r%d-b%d-%p", n, i, e))
			}
		}
	}
	msgs := float64(batch * batches * b.N)
	b.ReportMetric(msgs/outD.Seconds(), "output_msgs/s")
	b.ReportMetric(msgs/bareD.Seconds(), "bare_msgs/s")
	b.ReportMetric(bareD.Seconds()/outD.Seconds(), "output/bare")
}
