package useragent_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/plugins/filters/useragent"
	"github.com/pipelined/pipeline/plugins/internal/testkit/plugintest"
)

const chrome = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/89.0.4389.90 Safari/537.36 Edg/89.0.774.50"

// BenchmarkCached parses the same text again and again (the LRU cache
// answers); BenchmarkUncached makes every text new (the embedded patterns
// run), for the ratio a cache hit saves.
func BenchmarkCached(b *testing.B) { run(b, false) }

func BenchmarkUncached(b *testing.B) { run(b, true) }

func run(b *testing.B, unique bool) {
	f := plugintest.MustNew(b, useragent.New, `source = "message"`, engine.Resources{})
	ctx := context.Background()
	out := make([]*event.Event, 0, 1)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		s := chrome
		if unique {
			i++
			s += " n/" + strconv.Itoa(i)
		}
		out, _ = f.Filter(ctx, event.NewMessage(s), out[:0])
	}
}
