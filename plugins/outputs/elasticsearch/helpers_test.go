package elasticsearch

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pipelined/pipeline/dsl"
	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
)

// source is a finite input for tests: it emits n events made by mk, batch at
// a time, and records how long emit blocked (back-pressure) and the acks.
type source struct {
	n, batch int
	mk       func(i int) *event.Event
	// pace, when set, is called before each batch (to slow the input down).
	pace func(i int)

	emitted  atomic.Int64 // events handed to emit and accepted
	acked    atomic.Int64 // events whose batch was acknowledged
	ackErrs  atomic.Int64 // batches acknowledged with an error
	maxBlock atomic.Int64 // longest single emit call, ns
}

var (
	sources  sync.Map // token → *source
	srcToken atomic.Int64
)

type sourceOptions struct {
	Token string `hcl:"token"`
}

type sourceInput struct{ s *source }

func (in *sourceInput) Run(ctx context.Context, emit engine.EmitFunc) error {
	s := in.s
	for i := 0; i < s.n; i += s.batch {
		if ctx.Err() != nil {
			return nil
		}
		if s.pace != nil {
			s.pace(i)
		}
		k := min(s.batch, s.n-i)
		evs := make([]*event.Event, k)
		for j := range k {
			evs[j] = s.mk(i + j)
		}
		start := time.Now()
		err := emit(engine.Batch{Events: evs, Ack: func(err error) {
			if err != nil {
				s.ackErrs.Add(1)
			}
			s.acked.Add(int64(k))
		}})
		if d := int64(time.Since(start)); d > s.maxBlock.Load() {
			s.maxBlock.Store(d)
		}
		if err != nil {
			return err
		}
		s.emitted.Add(int64(k))
	}
	return nil
}

func init() {
	engine.RegisterInput("estest_source", func(o sourceOptions, _ engine.Resources) (*sourceInput, error) {
		v, ok := sources.Load(o.Token)
		if !ok {
			return nil, fmt.Errorf("unknown token %q", o.Token)
		}
		return &sourceInput{s: v.(*source)}, nil
	})
}

// memDLQ is an in-memory dead letter queue.
type memDLQ struct {
	mu      sync.Mutex
	events  []*event.Event
	reasons []string
	from    []engine.DeadLetterSource
}

func (d *memDLQ) Put(e *event.Event, from engine.DeadLetterSource, reason string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.events = append(d.events, e)
	d.reasons = append(d.reasons, reason)
	d.from = append(d.from, from)
	return nil
}

func (d *memDLQ) len() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.events)
}

// logBuf collects log lines.
type logBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.b.Len() < 1<<20 {
		l.b.Write(p)
	}
	return len(p), nil
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// run is a pipeline run in progress.
type run struct {
	p    *engine.Pipeline
	done chan error
	log  *logBuf
}

// startPipeline runs src → elasticsearch configured with options (HCL
// pipeline-file syntax) until src is exhausted and everything is delivered.
func startPipeline(t testing.TB, src *source, options string, s engine.Settings) *run {
	t.Helper()
	token := fmt.Sprintf("s%d", srcToken.Add(1))
	sources.Store(token, src)
	t.Cleanup(func() { sources.Delete(token) })
	text := fmt.Sprintf("input \"estest_source\" {\n  token = %q\n}\noutput \"elasticsearch\" {\n%s\n}\n", token, options)
	cfg, diags := dsl.LoadSource(t.Name()+".hcl", []byte(text))
	if diags.HasErrors() {
		t.Fatalf("load:\n%s\n%s", text, diags.Error())
	}
	lb := &logBuf{}
	if s.Logger == nil {
		s.Logger = slog.New(slog.NewTextHandler(lb, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if s.RetryInitial == 0 {
		s.RetryInitial = 20 * time.Millisecond
	}
	if s.RetryMax == 0 {
		s.RetryMax = 500 * time.Millisecond
	}
	p, diags := engine.Build(cfg.Pipelines[0], engine.Default, s)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	r := &run{p: p, done: make(chan error, 1), log: lb}
	go func() { r.done <- p.Run(context.Background()) }()
	t.Cleanup(func() {
		select {
		case <-r.done:
		default:
			p.Abort()
			<-r.done
		}
	})
	return r
}

// wait waits for the run to finish within timeout.
func (r *run) wait(t testing.TB, timeout time.Duration) {
	t.Helper()
	select {
	case err := <-r.done:
		r.done <- err // for the cleanup
		if err != nil {
			t.Fatalf("pipeline: %v\nlog:\n%s", err, r.log)
		}
	case <-time.After(timeout):
		st := r.p.Stats()
		t.Fatalf("pipeline did not finish within %v: in %d out %d failed %d dead-lettered %d\nlog:\n%s",
			timeout, st.In.Load(), st.Out.Load(), st.Failed.Load(), st.DeadLettered.Load(), tail(r.log.String(), 4000))
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

var seqRef = event.MustRef("seq")
