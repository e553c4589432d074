package generator

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
	jsoncodec "github.com/pipelined/pipeline/plugins/codecs/json"
	"github.com/pipelined/pipeline/plugins/codecs/plain"
	"github.com/pipelined/pipeline/plugins/internal/testkit/plugintest"
)

func plainCodec(t testing.TB, opts string) engine.Codec {
	t.Helper()
	return plugintest.MustNew(t, plain.New, opts, engine.Resources{})
}

func newInput(t testing.TB, opts string, codec engine.Codec, batchSize int) *Input {
	t.Helper()
	return plugintest.MustNew(t, New, opts, engine.Resources{Codec: codec, BatchSize: batchSize})
}

// collect runs in and returns the events and the batch sizes.
func collect(t *testing.T, in *Input) ([]*event.Event, []int) {
	t.Helper()
	var mu sync.Mutex
	var events []*event.Event
	var sizes []int
	err := in.Run(context.Background(), func(b engine.Batch) error {
		mu.Lock()
		defer mu.Unlock()
		events = append(events, b.Events...)
		sizes = append(sizes, len(b.Events))
		return nil
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return events, sizes
}

func TestMillionEvents(t *testing.T) {
	in := newInput(t, "count = 1000000", plainCodec(t, ""), 125)
	n, batches := 0, 0
	var last *event.Event
	err := in.Run(context.Background(), func(b engine.Batch) error {
		if len(b.Events) != 125 {
			t.Fatalf("batch of %d events; want 125", len(b.Events))
		}
		n += len(b.Events)
		batches++
		last = b.Events[len(b.Events)-1]
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n != 1000000 || batches != 8000 {
		t.Fatalf("emitted %d events in %d batches; want 1000000 in 8000", n, batches)
	}
	if seq, _ := last.Get(event.MustRef("[event][sequence]")); seq != int64(999999) {
		t.Errorf("last sequence %v; want 999999", seq)
	}
	if m, _ := last.Message(); m != "Hello world!" {
		t.Errorf("message %q; want the default", m)
	}
}

func TestFields(t *testing.T) {
	host := mustHost(t)
	tests := []struct {
		name, opts, plainOpts string
		batchSize             int
		wantMsgs, wantSeq     string
		wantSizes             string
		hostRef, seqRef       string
		original              bool
	}{
		{
			name: "lines cycle per pass", opts: `lines = ["a", "b"]` + "\ncount = 3", batchSize: 4,
			wantMsgs: "a b a b a b", wantSeq: "0 0 1 1 2 2", wantSizes: "[4 2]",
			hostRef: "[host][name]", seqRef: "[event][sequence]", original: true,
		},
		{
			name: "ecs disabled", opts: "count = 2\nmessage = \"m\"\necs_compatibility = \"disabled\"", plainOpts: `ecs_compatibility = "disabled"`,
			batchSize: 125, wantMsgs: "m m", wantSeq: "0 1", wantSizes: "[2]", hostRef: "host", seqRef: "sequence",
		},
		{
			name: "two threads", opts: "count = 3\nthreads = 2", batchSize: 2,
			wantMsgs: "Hello world! Hello world! Hello world! Hello world! Hello world! Hello world!",
			wantSeq:  "0 0 1 1 2 2", wantSizes: "[1 1 2 2]", hostRef: "[host][name]", seqRef: "[event][sequence]", original: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			events, sizes := collect(t, newInput(t, tc.opts, plainCodec(t, tc.plainOpts), tc.batchSize))
			var msgs, seqs []string
			seqRef, hostRef := event.MustRef(tc.seqRef), event.MustRef(tc.hostRef)
			for _, e := range events {
				m, _ := e.Message()
				msgs = append(msgs, m)
				s, _ := e.Get(seqRef)
				seqs = append(seqs, fmt.Sprint(s))
				if h, _ := e.GetString(hostRef); h != host {
					t.Errorf("%s = %q; want %q", tc.hostRef, h, host)
				}
				if o, ok := e.GetString(event.MustRef("[event][original]")); ok != tc.original || ok && o != m {
					t.Errorf("[event][original] = %q, %v; want the message: %v", o, ok, tc.original)
				}
			}
			if tc.name == "two threads" {
				// The threads interleave: compare sorted sequences.
				seqs = sortStrings(seqs)
				sizes = sortInts(sizes)
			}
			if got := strings.Join(msgs, " "); got != tc.wantMsgs {
				t.Errorf("messages %q; want %q", got, tc.wantMsgs)
			}
			if got := strings.Join(seqs, " "); got != tc.wantSeq {
				t.Errorf("sequences %q; want %q", got, tc.wantSeq)
			}
			if got := fmt.Sprint(sizes); got != tc.wantSizes {
				t.Errorf("batch sizes %s; want %s", got, tc.wantSizes)
			}
		})
	}
}

func TestTimestamps(t *testing.T) {
	c := plugintest.MustNew(t, jsoncodec.New, "", engine.Resources{})
	in := newInput(t, `lines = ["{\"@timestamp\":\"2020-01-01T00:00:00Z\",\"a\":1}", "{\"b\":2}"]`+"\ncount = 2", c, 10)
	time.Sleep(5 * time.Millisecond)
	start := time.Now().Truncate(time.Millisecond)
	events, _ := collect(t, in)
	if len(events) != 4 {
		t.Fatalf("%d events; want 4", len(events))
	}
	for i, e := range events {
		ts := e.Timestamp()
		if i%2 == 0 {
			if !ts.Equal(time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)) {
				t.Errorf("event %d: @timestamp %v; want the one from the JSON", i, ts)
			}
		} else if ts.Before(start) {
			t.Errorf("event %d: @timestamp %v; want the time it was generated (after %v)", i, ts, start)
		}
	}
	// Copies do not share maps.
	_ = events[0].Set(event.MustRef("a"), 2)
	if v, _ := events[2].Get(event.MustRef("a")); v != int64(1) {
		t.Errorf("events share state: a = %v", v)
	}
}

func TestCancel(t *testing.T) {
	in := newInput(t, "", plainCodec(t, ""), 10) // count 0: forever
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	err := in.Run(ctx, func(b engine.Batch) error {
		n += len(b.Events)
		if n >= 100 {
			cancel()
		}
		return nil
	})
	if err != nil || n != 100 {
		t.Errorf("Run = %v after %d events; want nil after 100", err, n)
	}
}

func TestEmitError(t *testing.T) {
	boom := errors.New("aborted")
	in := newInput(t, "count = 5", plainCodec(t, ""), 2)
	if err := in.Run(context.Background(), func(engine.Batch) error { return boom }); !errors.Is(err, boom) {
		t.Errorf("Run = %v; want %v", err, boom)
	}
}

func TestMessageFromStdin(t *testing.T) {
	in := newInput(t, "message = \"stdin\"\ncount = 2", plainCodec(t, ""), 10)
	in.stdin = strings.NewReader("typed line\nignored\n")
	events, _ := collect(t, in)
	for _, e := range events {
		if m, _ := e.Message(); m != "typed line\n" {
			t.Errorf("message %q; want the first line of stdin", m)
		}
	}
	if len(events) != 2 {
		t.Errorf("%d events; want 2", len(events))
	}
}

func TestOptionsValidate(t *testing.T) {
	for _, hcl := range []string{"count = -1", "threads = 0", `ecs_compatibility = "x"`} {
		o := plugintest.NewOptions[Options](t, hcl)
		if err := o.Validate(); err == nil {
			t.Errorf("Validate(%s) = nil; want an error", hcl)
		}
	}
}

func mustHost(t *testing.T) string {
	return newInput(t, "", plainCodec(t, ""), 1).host.(string)
}

func sortStrings(s []string) []string {
	out := append([]string(nil), s...)
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j] < out[j-1]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

func sortInts(s []int) []int {
	out := append([]int(nil), s...)
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j] < out[j-1]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

func BenchmarkGenerate(b *testing.B) {
	for _, ecs := range []string{"disabled", "v8"} {
		b.Run("ecs="+ecs, func(b *testing.B) {
			opts := fmt.Sprintf("count = 100000\necs_compatibility = %q", ecs)
			c := plainCodec(b, fmt.Sprintf("ecs_compatibility = %q", ecs))
			b.ReportAllocs()
			for b.Loop() {
				in := newInput(b, opts, c, 125)
				if err := in.Run(context.Background(), func(engine.Batch) error { return nil }); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*100000), "ns/event")
		})
	}
}
