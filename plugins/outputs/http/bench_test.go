package http

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/plugins/internal/testkit/plugintest"
)

// benchWrite writes batches of 125 events to a loopback server that reads
// and discards each body; the report is per event. Compare the formats in
// one run: BenchmarkWriteJSON (a request per event, pool_max in flight)
// against BenchmarkWriteJSONBatch (a request per batch).
func benchWrite(b *testing.B, opts string) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
	}))
	defer srv.Close()
	out := plugintest.MustNew(b, New, `url = "`+srv.URL+`/in"
http_method = "post"
`+opts, engine.Resources{})
	if err := out.Connect(context.Background()); err != nil {
		b.Fatal(err)
	}
	defer out.Close(context.Background())
	events := make([]*event.Event, 125)
	for i := range events {
		events[i] = event.NewMessage("Dec  7 10:00:00 web1 sshd[123]: Failed password for invalid user admin from 10.0.0.1 port 22 ssh2")
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := out.Write(context.Background(), events); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(events))/b.Elapsed().Seconds(), "events/s")
}

func BenchmarkWriteJSON(b *testing.B)      { benchWrite(b, ``) }
func BenchmarkWriteJSONBatch(b *testing.B) { benchWrite(b, `format = "json_batch"`) }
func BenchmarkWriteMapping(b *testing.B) {
	benchWrite(b, `mapping = { "resource" = "web1", "text" = "%%{message}", "attributes" = { "m" = "%%{message}" } }`)
}
