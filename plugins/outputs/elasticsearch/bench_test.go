//go:build esbench

package elasticsearch

import (
	"bytes"
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	es "github.com/elastic/go-elasticsearch/v8"
	"github.com/elastic/go-elasticsearch/v8/esutil"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/plugins/internal/testkit/zinctest"
)

// benchEvent is the event both sides send: a syslog-like record.
func benchEvent(i int) *event.Event {
	e := event.NewAt(time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Millisecond))
	_ = e.Set(event.MustRef("message"), fmt.Sprintf("<34>Nov 24 10:00:01 web-%02d sshd[%d]: Accepted publickey for deploy from 10.0.%d.%d port 51234", i%16, 1000+i%5000, i%256, (i/256)%256))
	_ = e.Set(event.MustRef("[host][name]"), fmt.Sprintf("web-%02d", i%16))
	_ = e.Set(seqRef, int64(i))
	return e
}

// BenchmarkZincBulk sends b.N events to a fresh ZincSearch through the whole
// pipeline (source input → engine → elasticsearch output) and, as the peer in
// the same run, through a plain esutil.BulkIndexer loop (the client library's
// own bulk helper with its defaults: NumCPU workers, 5 MB flushes). Both
// build the same documents (event JSON) for the same daily index and finish
// when every document is acknowledged by the server. Run with
//
//	go test -tags esbench -run '^$' -bench ZincBulk -benchtime 1000000x ./plugins/outputs/elasticsearch
//
// and compare events/s. The esbench build tag keeps it, and esutil with the
// typed API it pulls in (a long compile), out of ordinary test runs.
func BenchmarkZincBulk(b *testing.B) {
	for _, batch := range []int{125, 1000, 5000} {
		b.Run(fmt.Sprintf("pipeline/batch=%d", batch), func(b *testing.B) {
			zs := zinctest.Start(b)
			src := &source{n: b.N, batch: batch, mk: benchEvent}
			b.ResetTimer()
			start := time.Now()
			r := startPipeline(b, src, zincOptions(zs, `  index = "bench-%{+YYYY.MM.dd}"`), engine.Settings{Workers: 2, BatchSize: batch})
			r.wait(b, 30*time.Minute)
			el := time.Since(start)
			b.StopTimer()
			if got := r.p.Stats().Out.Load(); got != int64(b.N) {
				b.Fatalf("delivered %d of %d", got, b.N)
			}
			b.ReportMetric(float64(b.N)/el.Seconds(), "events/s")
		})
	}
	// The same events into a data stream (create actions, data_stream
	// fields synced into every document), against the index runs above.
	b.Run("pipeline-data-stream/batch=1000", func(b *testing.B) {
		zs := zinctest.Start(b, zinctest.ESVersion("8.15.0"))
		src := &source{n: b.N, batch: 1000, mk: benchEvent}
		b.ResetTimer()
		start := time.Now()
		r := startPipeline(b, src, zincOptions(zs, ""), engine.Settings{Workers: 2, BatchSize: 1000})
		r.wait(b, 30*time.Minute)
		el := time.Since(start)
		b.StopTimer()
		if got := r.p.Stats().Out.Load(); got != int64(b.N) {
			b.Fatalf("delivered %d of %d", got, b.N)
		}
		b.ReportMetric(float64(b.N)/el.Seconds(), "events/s")
	})
	b.Run("esutil", func(b *testing.B) {
		zs := zinctest.Start(b)
		c, err := es.NewClient(es.Config{Addresses: []string{zs.URL()}, Username: zinctest.User, Password: zinctest.Password})
		if err != nil {
			b.Fatal(err)
		}
		var failed atomic.Int64
		bi, err := esutil.NewBulkIndexer(esutil.BulkIndexerConfig{Client: c, OnError: func(_ context.Context, err error) {
			failed.Add(1)
		}})
		if err != nil {
			b.Fatal(err)
		}
		idx := event.MustTemplate("bench-%{+YYYY.MM.dd}")
		b.ResetTimer()
		start := time.Now()
		ctx := context.Background()
		for i := range b.N {
			e := benchEvent(i)
			err := bi.Add(ctx, esutil.BulkIndexerItem{
				Action: "index", Index: idx.Render(e), Body: bytes.NewReader(e.AppendJSON(nil)),
				OnFailure: func(context.Context, esutil.BulkIndexerItem, esutil.BulkIndexerResponseItem, error) { failed.Add(1) },
			})
			if err != nil {
				b.Fatal(err)
			}
		}
		if err := bi.Close(ctx); err != nil {
			b.Fatal(err)
		}
		el := time.Since(start)
		b.StopTimer()
		st := bi.Stats()
		if failed.Load() != 0 || st.NumFailed != 0 || st.NumIndexed != uint64(b.N) {
			b.Fatalf("indexed %d, failed %d/%d of %d", st.NumIndexed, st.NumFailed, failed.Load(), b.N)
		}
		b.ReportMetric(float64(b.N)/el.Seconds(), "events/s")
	})
}
