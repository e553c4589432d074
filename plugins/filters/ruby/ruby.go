// Package ruby implements Logstash's ruby filter with real Ruby: the user's
// code runs in a Ruby co-process (the `ruby` on PATH, or $PIPELINE_RUBY) that
// a small shim turns into Logstash's filter environment: an `event`
// (LogStash::Event with get, set, remove, include?, tag, to_hash, cancel,
// clone, sprintf, timestamp), LogStash::Timestamp, `new_event_block`, `@logger`,
// and for `path` scripts register(params), filter(event) and the inline `test`
// blocks, which run when the filter is built and refuse the pipeline if one
// fails, as in Logstash.
//
// Events cross to Ruby as JSON over pipes, a whole batch in one request
// (at most 1,024 events and 4 MiB of JSON in a message; a larger batch takes
// several) and all its results in one answer; each pipeline worker gets its
// own co-process, started when it first needs one.
// Instance variables set in `init` are therefore per worker: with
// pipeline.workers > 1 a counter kept in @count counts that worker's events
// (Logstash shares one instance between workers and leaves thread safety to
// the code; neither gives a global count without care).
//
// An exception in the user's code tags the event with tag_on_exception and
// passes it on without the common options (add_field …), as Logstash does. A
// co-process that dies (exit!, a crash) or answers nonsense fails the
// message in flight: each of its events is passed on tagged the same way
// (and counted in the plugin's co_process_failures and events_failed); the
// next batch starts a new co-process. What the code prints on stdout is
// logged at info, on stderr at warn.
//
// Code that needs JRuby (java_import, Java::, require 'java') is refused when
// the pipeline is built, as is code that does not compile, and a pipeline with
// a ruby filter on a machine without Ruby.
package ruby

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/plugins/internal/rubyproc"
)

func init() { engine.RegisterFilter("ruby", New) }

// Options configures the ruby filter.
type Options struct {
	// Code is Ruby run for every event, with the event in `event`. It cannot
	// be used together with path.
	Code string `hcl:"code,optional"`
	// Init is Ruby run once when the filter starts (per worker), before code.
	Init string `hcl:"init,optional"`
	// Path is a Ruby script defining filter(event), which returns the array
	// of events to pass on, and optionally register(params) and tests.
	Path string `hcl:"path,optional"`
	// ScriptParams is handed to the script's register method.
	ScriptParams engine.AnyHash `hcl:"script_params,optional"`
	// TagOnException is added to an event whose code raised an exception.
	TagOnException string `hcl:"tag_on_exception,optional"`
}

// Defaults sets Logstash's defaults.
func (o *Options) Defaults() { o.TagOnException = "_rubyexception" }

// Validate checks that exactly one of code and path is set and that the code
// does not need JRuby.
func (o *Options) Validate() error {
	switch {
	case o.Code == "" && o.Path == "":
		return &engine.FieldError{Field: "code", Err: errors.New(`set either "code" (inline Ruby) or "path" (a script file)`)}
	case o.Code != "" && o.Path != "":
		return &engine.FieldError{Field: "path", Err: errors.New(`"code" and "path" cannot be used together`)}
	}
	for _, f := range []struct{ name, src string }{{"code", o.Code}, {"init", o.Init}} {
		if m := rubyproc.JavaOnly.FindString(f.src); m != "" {
			return &engine.FieldError{Field: f.name, Err: fmt.Errorf("uses %q, which needs JRuby (Logstash's Java runtime); rewrite it in plain Ruby", m)}
		}
	}
	if o.Path != "" {
		b, err := os.ReadFile(o.Path)
		if err != nil {
			return &engine.FieldError{Field: "path", Err: fmt.Errorf("cannot read the script: %w", err)}
		}
		if m := rubyproc.JavaOnly.Find(b); m != nil {
			return &engine.FieldError{Field: "path", Err: fmt.Errorf("%s uses %q, which needs JRuby (Logstash's Java runtime); rewrite it in plain Ruby", o.Path, m)}
		}
	}
	return nil
}

// Filter is the ruby filter. It is safe for concurrent use: each caller gets
// a co-process of its own.
type Filter struct {
	bin  string
	init []byte // the init request, sent to each new co-process
	tag  string
	log  *slog.Logger
	errs rubyproc.ErrorLog

	mu     sync.Mutex
	idle   []*rubyproc.Proc
	closed bool

	procFailures, eventsFailed atomic.Int64
}

var (
	_ engine.BatchFilter = (*Filter)(nil)
	_ engine.Counted     = (*Filter)(nil)
)

// Budgets of one request to the co-process: a batch larger than either is
// sent in several messages.
const (
	maxBatchEvents = 1024
	maxBatchBytes  = 4 << 20
)

// Counters reports the co-process failures and the events they failed.
func (f *Filter) Counters() []engine.Counter {
	return []engine.Counter{
		{Name: "co_process_failures", Help: "Ruby co-processes that died or answered nonsense (their message's events were passed on tagged).", Value: f.procFailures.Load()},
		{Name: "events_failed", Help: "Events passed on tagged because their Ruby co-process failed.", Value: f.eventsFailed.Load()},
	}
}

// New builds a ruby filter. It starts one co-process to compile the code (and
// run a script's tests), so that errors stop the pipeline before it runs.
func New(o Options, r engine.Resources) (*Filter, error) {
	bin, err := rubyproc.Binary()
	if err != nil {
		return nil, err
	}
	log := r.Logger
	if log == nil {
		log = slog.Default()
	}
	req := map[string]any{"op": "init", "tag": o.TagOnException}
	if o.Path != "" {
		req["path"] = o.Path
		params := map[string]any(o.ScriptParams)
		if params == nil {
			params = map[string]any{}
		}
		req["params"] = params
	} else {
		req["code"] = o.Code
		if o.Init != "" {
			req["init"] = o.Init
		}
	}
	f := &Filter{bin: bin, tag: o.TagOnException, log: log}
	f.init = event.AppendJSONValue(nil, req)
	p, err := f.start()
	if err != nil {
		return nil, err
	}
	p.Close()
	return f, nil
}

// start runs a co-process with the filter's code.
func (f *Filter) start() (*rubyproc.Proc, error) {
	p, m, err := rubyproc.Start(f.bin, f.init, f.log)
	if err != nil {
		return nil, err
	}
	if t, ok := m["tests"].(map[string]any); ok {
		f.log.Info("ruby script tests passed", "passed", t["passed"])
	}
	return p, nil
}

// Filter runs the code on e in a co-process.
func (f *Filter) Filter(ctx context.Context, e *event.Event, out []*event.Event) ([]*event.Event, error) {
	r := f.FilterBatch(ctx, []*event.Event{e})[0]
	return append(out, r.Out...), r.Err
}

// FilterBatch runs the code on events in a co-process, as few messages as
// the budgets allow.
func (f *Filter) FilterBatch(_ context.Context, events []*event.Event) []engine.FilterResult {
	res := make([]engine.FilterResult, len(events))
	var p *rubyproc.Proc
	for i := 0; i < len(events); {
		if p == nil {
			var err error
			if p, err = f.get(); err != nil {
				for ; i < len(events); i++ {
					res[i] = f.fail(events[i], err)
				}
				break
			}
		}
		buf := append(p.Buf[:0], `{"op":"filter","events":[`...)
		j := i
		for j < len(events) && j-i < maxBatchEvents && (j == i || len(buf) < maxBatchBytes) {
			if j > i {
				buf = append(buf, ',')
			}
			buf = rubyproc.AppendEvent(buf, events[j])
			j++
		}
		buf = append(buf, "]}"...)
		p.Buf = buf
		chunk := events[i:j]
		rs, err := batch(p, buf, len(chunk))
		if err != nil {
			// The co-process is gone or out of step: its events fail, the
			// next message gets a new one.
			p.Close()
			p = nil
			f.procFailures.Add(1)
			for k, e := range chunk {
				res[i+k] = f.fail(e, err)
			}
			i = j
			continue
		}
		for k, e := range chunk {
			res[i+k] = f.apply(e, rs[k])
		}
		i = j
	}
	if p != nil {
		f.put(p)
	}
	return res
}

// batch sends one message of n events and decodes the n results.
func batch(p *rubyproc.Proc, req []byte, n int) ([]result, error) {
	resp, err := p.Call(req)
	if err != nil {
		return nil, err
	}
	return decodeResponse(resp, n)
}

// apply makes the result of one event what the engine passes on.
func (f *Filter) apply(e *event.Event, res result) engine.FilterResult {
	var out []*event.Event
	if res.orig != nil {
		e.Replace(res.orig)
		out = append(out, e)
	}
	for _, n := range res.news {
		out = append(out, e.Derive(n))
	}
	if res.tag {
		e.AddTag(f.tag)
	}
	if res.err != "" {
		if res.orig == nil {
			out = append(out, e)
		}
		err := errors.New("ruby exception: " + res.err)
		f.errs.Log(f.log, "Ruby exception occurred", err)
		return engine.FilterResult{Out: out, Err: err}
	}
	return engine.FilterResult{Out: out}
}

// fail passes e on tagged when its code could not run at all.
func (f *Filter) fail(e *event.Event, err error) engine.FilterResult {
	e.AddTag(f.tag)
	f.eventsFailed.Add(1)
	f.errs.Log(f.log, "ruby co-process failed; its events are passed on tagged", err)
	return engine.FilterResult{Out: []*event.Event{e}, Err: err}
}

// Close stops the co-processes; the engine calls it once the workers stopped.
func (f *Filter) Close() error {
	f.mu.Lock()
	idle := f.idle
	f.idle, f.closed = nil, true
	f.mu.Unlock()
	for _, p := range idle {
		p.Close()
	}
	return nil
}

func (f *Filter) get() (*rubyproc.Proc, error) {
	f.mu.Lock()
	if n := len(f.idle); n > 0 {
		p := f.idle[n-1]
		f.idle = f.idle[:n-1]
		f.mu.Unlock()
		return p, nil
	}
	f.mu.Unlock()
	return f.start()
}

func (f *Filter) put(p *rubyproc.Proc) {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		p.Close()
		return
	}
	f.idle = append(f.idle, p)
	f.mu.Unlock()
}
