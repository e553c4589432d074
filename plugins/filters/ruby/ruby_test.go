package ruby

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/plugins/internal/rubyproc"
)

func newFilter(t testing.TB, o Options) *Filter {
	t.Helper()
	if o.TagOnException == "" {
		o.TagOnException = "_rubyexception"
	}
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	f, err := New(o, engine.Resources{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// Each concurrent caller gets a co-process of its own, and every result
// belongs to the event that was sent.
func TestConcurrentWorkersAndClose(t *testing.T) {
	f := newFilter(t, Options{Code: "event.set('double', event.get('n') * 2)"})
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				n := int64(w*1000 + i)
				e := event.New()
				e.Set(event.MustRef("n"), n)
				out, err := f.Filter(context.Background(), e, nil)
				if err != nil || len(out) != 1 || out[0] != e {
					errs <- fmt.Errorf("n=%d: out=%v err=%v", n, out, err)
					return
				}
				if v, _ := e.Get(event.MustRef("double")); v != 2*n {
					errs <- fmt.Errorf("n=%d: double=%v", n, v)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	f.mu.Lock()
	procs := append([]*rubyproc.Proc(nil), f.idle...)
	f.mu.Unlock()
	if len(procs) == 0 || len(procs) > 4 {
		t.Fatalf("%d idle co-processes after 4 workers", len(procs))
	}
	f.Close()
	for _, p := range procs {
		select {
		case <-p.Done():
		default:
			t.Fatal("a co-process is still running after Close")
		}
	}
}

func TestNoRubyIsAClearError(t *testing.T) {
	t.Setenv("PIPELINE_RUBY", "/nonexistent/ruby")
	_, err := New(Options{Code: "event", TagOnException: "x"}, engine.Resources{})
	if err == nil || !strings.Contains(err.Error(), "PIPELINE_RUBY") || !strings.Contains(err.Error(), "install Ruby") {
		t.Fatalf("err = %v", err)
	}
}

// Times survive the round trip as times wherever they are, not only in
// @timestamp.
func TestTimesStayTimes(t *testing.T) {
	f := newFilter(t, Options{Code: "event.set('cls', event.get('[a][when]').class.name); event.set('[b][0]', event.get('[a][when]') + 1)"})
	defer f.Close()
	e := event.New()
	when := e.Timestamp().Add(-3600e9)
	e.Set(event.MustRef("[a][when]"), when)
	e.Set(event.MustRef("b"), []any{"x"})
	if _, err := f.Filter(context.Background(), e, nil); err != nil {
		t.Fatal(err)
	}
	if v, _ := e.Get(event.MustRef("cls")); v != "LogStash::Timestamp" {
		t.Fatalf("class in Ruby = %v", v)
	}
	got, _ := e.Get(event.MustRef("[a][when]"))
	if tt, ok := got.(interface{ Unix() int64 }); !ok || tt.Unix() != when.Unix() {
		t.Fatalf("[a][when] = %#v", got)
	}
	b, _ := e.Get(event.MustRef("[b][0]"))
	if tt, ok := b.(interface{ Unix() int64 }); !ok || tt.Unix() != when.Unix()+1 {
		t.Fatalf("[b][0] = %#v", b)
	}
}

// New events share the acknowledgement of the event they came from.
func TestNewEventsShareTheAck(t *testing.T) {
	f := newFilter(t, Options{Code: "new_event_block.call(LogStash::Event.new('x' => 1)); new_event_block.call(event.clone)"})
	defer f.Close()
	var a countingAcker
	e := event.New()
	e.SetAcker(&a)
	out, err := f.Filter(context.Background(), e, nil)
	if err != nil || len(out) != 3 || out[0] != e {
		t.Fatalf("out=%d err=%v", len(out), err)
	}
	if a.retained != 2 {
		t.Fatalf("retained %d, want 2", a.retained)
	}
	for _, x := range out[1:] {
		if x.Acker() != e.Acker() {
			t.Fatal("a new event does not carry the acknowledgement")
		}
	}
}

type countingAcker struct{ retained int }

func (a *countingAcker) Retain(n int)      { a.retained += n }
func (a *countingAcker) Release(err error) {}

// A batch crosses in one message and comes back in order; a co-process that
// dies fails the message in flight (every event tagged, counted) and the
// next batch gets a new co-process.
func TestBatchCrashFailsTheMessageAndRestarts(t *testing.T) {
	f := newFilter(t, Options{Code: "exit!(3) if event.get('die'); event.set('pid', Process.pid)"})
	defer f.Close()
	batch := func(die bool) []engine.FilterResult {
		evs := make([]*event.Event, 300)
		for i := range evs {
			evs[i] = event.New()
			evs[i].Set(event.MustRef("n"), int64(i))
			if die && i == 150 {
				evs[i].Set(event.MustRef("die"), true)
			}
		}
		res := f.FilterBatch(context.Background(), evs)
		if len(res) != len(evs) {
			t.Fatalf("%d results for %d events", len(res), len(evs))
		}
		for i, r := range res {
			if len(r.Out) != 1 || r.Out[0] != evs[i] {
				t.Fatalf("event %d: out %v", i, r.Out)
			}
		}
		return res
	}
	pidOf := func(r engine.FilterResult) any { v, _ := r.Out[0].Get(event.MustRef("pid")); return v }
	first := batch(false)
	if pidOf(first[0]) == nil || pidOf(first[0]) != pidOf(first[299]) {
		t.Fatalf("one co-process should take the whole batch: pids %v and %v", pidOf(first[0]), pidOf(first[299]))
	}
	for _, r := range batch(true) {
		if r.Err == nil || !r.Out[0].HasTag("_rubyexception") || pidOf(r) != nil {
			t.Fatalf("after a crash: err %v, tags %v, pid %v; want every event failed and tagged", r.Err, r.Out[0].Tags(), pidOf(r))
		}
	}
	after := batch(false)
	if p := pidOf(after[0]); p == nil || p == pidOf(first[0]) || after[0].Err != nil {
		t.Fatalf("next batch: pid %v (before the crash %v), err %v; want a new co-process", p, pidOf(first[0]), after[0].Err)
	}
	c := f.Counters()
	if c[0].Value != 1 || c[1].Value != 300 {
		t.Fatalf("counters %+v; want 1 co-process failure, 300 events failed", c)
	}
}

// A batch over the byte budget goes in several messages, in order.
func TestBatchSplitsOverTheByteBudget(t *testing.T) {
	f := newFilter(t, Options{Code: "event.set('len', event.get('message').size)"})
	defer f.Close()
	big := strings.Repeat("x", maxBatchBytes/3)
	evs := make([]*event.Event, 7)
	for i := range evs {
		evs[i] = event.NewMessage(big + strings.Repeat("y", i))
	}
	for i, r := range f.FilterBatch(context.Background(), evs) {
		if v, _ := r.Out[0].Get(event.MustRef("len")); r.Err != nil || v != int64(len(big)+i) {
			t.Fatalf("event %d: len %v err %v", i, v, r.Err)
		}
	}
}
