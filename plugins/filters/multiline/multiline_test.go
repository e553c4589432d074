package multiline

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/plugins/internal/testkit/plugintest"
)

func msgAt(s string, t time.Time) *event.Event {
	e := event.NewMessageAt(s, t)
	return e
}

// TestMaxAge: held events leave at a periodic flush once the first is
// max_age old by its @timestamp, not before; a final flush lets out all.
func TestMaxAge(t *testing.T) {
	f := plugintest.MustNew(t, New, `pattern = "^\\s"
what = "previous"
max_age = 10`, engine.Resources{})
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := t0
	f.now = func() time.Time { return now }
	ctx := context.Background()
	for _, m := range []string{"head", " cont"} {
		if out, _ := f.Filter(ctx, msgAt(m, t0), nil); len(out) != 0 {
			t.Fatalf("%q passed on %d events; want it held", m, len(out))
		}
	}
	now = t0.Add(9 * time.Second)
	if out := f.Flush(ctx, false, nil); len(out) != 0 {
		t.Fatalf("flush before max_age let out %d events", len(out))
	}
	now = t0.Add(10 * time.Second)
	out := f.Flush(ctx, false, nil)
	if len(out) != 1 {
		t.Fatalf("flush at max_age let out %d events; want 1", len(out))
	}
	if m, _ := out[0].Message(); m != "head\n cont" || !out[0].HasTag(Tag) {
		t.Errorf("merged event: %q, tags %v", m, out[0].Tags())
	}
	f.Filter(ctx, msgAt("other", now), nil)
	if out := f.Flush(ctx, true, nil); len(out) != 1 {
		t.Errorf("final flush let out %d events; want 1", len(out))
	}
}

// TestBudgets: a stream holds at most MaxHeldEvents events (they leave
// merged when one more comes), and at most MaxStreams streams hold events
// (an event of one more passes unchanged).
func TestBudgets(t *testing.T) {
	f := plugintest.MustNew(t, New, `pattern = "^\\s"
what = "previous"
stream_identity = "%%{message}"`, engine.Resources{})
	ctx := context.Background()
	t0 := time.Now()
	for i := range MaxStreams {
		if out, _ := f.Filter(ctx, msgAt(string(rune('a'+i%26))+time.Duration(i).String(), t0), nil); len(out) != 0 {
			t.Fatalf("event %d passed on", i)
		}
	}
	e := msgAt("one more stream", t0)
	if out, _ := f.Filter(ctx, e, nil); len(out) != 1 || out[0] != e {
		t.Fatalf("an event beyond MaxStreams gave %d events; want it unchanged", len(out))
	}
	g := plugintest.MustNew(t, New, `pattern = "^\\s"
what = "previous"`, engine.Resources{})
	g.Filter(ctx, msgAt("head", t0), nil)
	for i := 1; i < MaxHeldEvents; i++ {
		if out, _ := g.Filter(ctx, msgAt(" x", t0), nil); len(out) != 0 {
			t.Fatalf("continuation %d passed on", i)
		}
	}
	out, _ := g.Filter(ctx, msgAt(" y", t0), nil)
	if len(out) != 1 {
		t.Fatalf("at MaxHeldEvents, %d events left; want the merged one", len(out))
	}
	if m, _ := out[0].Message(); len(m) != len("head")+(MaxHeldEvents-1)*len("\n x") {
		t.Errorf("merged event of %d bytes", len(m))
	}
}

// BenchmarkMerge merges a stack trace of n lines held for one stream; the
// cost per line should not grow with n (compare n=100 to n=5000).
func BenchmarkMerge(b *testing.B) {
	for _, n := range []int{100, 5000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			f := plugintest.MustNew(b, New, `pattern = "^\\s"
what = "previous"`, engine.Resources{})
			t0 := time.Now()
			held := make([]*event.Event, n)
			for i := range held {
				held[i] = msgAt(" at frame", t0)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if m, _ := f.merge(held).Message(); len(m) != n*len(" at frame")+n-1 {
					b.Fatalf("merged message of %d bytes", len(m))
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/line")
		})
	}
}
