package csv_test

import (
	"context"
	"testing"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/plugins/filters/csv"
	"github.com/pipelined/pipeline/plugins/filters/dissect"
	"github.com/pipelined/pipeline/plugins/internal/testkit/plugintest"
)

const benchLine = `2026-01-02T03:04:05Z,200,"GET /index.html",1234,"Mozilla/5.0, like Gecko"`

func bench(b *testing.B, f engine.Filter) {
	ctx := context.Background()
	out := make([]*event.Event, 0, 1)
	b.ReportAllocs()
	for b.Loop() {
		e := event.NewMessage(benchLine)
		out, _ = f.Filter(ctx, e, out[:0])
	}
}

// BenchmarkCSV parses a five-column line with quotes and one conversion;
// BenchmarkDissectPeer splits a line of the same shape with dissect, the
// nearest filter, for a ratio.
func BenchmarkCSV(b *testing.B) {
	bench(b, plugintest.MustNew(b, csv.New, `columns = ["ts", "status", "request", "bytes", "agent"]
convert = { "bytes" = "integer" }`, engine.Resources{}))
}

func BenchmarkDissectPeer(b *testing.B) {
	bench(b, plugintest.MustNew(b, dissect.New, `mapping = { "message" = "%%{ts},%%{status},\"%%{request}\",%%{bytes},\"%%{agent}\"" }
convert_datatype = { "bytes" = "int" }`, engine.Resources{}))
}
