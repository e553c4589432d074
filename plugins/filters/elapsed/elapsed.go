// Package elapsed implements the elapsed filter, like Logstash's: it measures
// the time between a "start event" (tagged start_tag) and an "end event"
// (tagged end_tag) that share the value of unique_id_field.
//
// A start event is remembered by its id (keep_start_event "first" keeps the
// first of several, "last" the newest). When the end event with that id
// comes, the end event gets the tags "elapsed" and "elapsed_match", the field
// elapsed_time (seconds between the two @timestamps, a float),
// elapsed_timestamp_start (the start event's @timestamp) and the id; with
// new_event_on_match the end event is left as it is and a new event carrying
// these (and host) follows it instead. An end event whose start was not seen
// is tagged "elapsed_end_without_start". Start and end events get the common
// options; events without the id or without either tag pass untouched,
// without them.
//
// A start event whose end does not come within timeout seconds expires: when
// the engine flushes its filters (every 5 seconds, and once as the pipeline
// stops) each remembered start ages by 5 seconds, as in Logstash, and one
// reaching timeout is forgotten and reported by a new event tagged "elapsed"
// and "elapsed_expired_error" with host, the id, elapsed_time (its age) and
// elapsed_timestamp_start. With periodic_flush false only the final flush
// ages them. Only the start's @timestamp and id are kept, not the event.
// Unlike Logstash, expiry events do not get the common options (add_tag
// ...): the engine passes flushed events on without them.
//
// The filter remembers at most MaxStartEvents start events: past that, new
// start events are not remembered, counted (start_events_dropped) and
// logged.
package elapsed

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
)

func init() { engine.RegisterFilter("elapsed", New) }

// MaxStartEvents is the most start events remembered at once.
const MaxStartEvents = 1 << 20

// flushAge is how much older each flush makes a remembered start event, in
// seconds: Logstash's periodic flush interval.
const flushAge = 5

// Options configures the elapsed filter.
type Options struct {
	// StartTag is the tag of start events. Required.
	StartTag string `hcl:"start_tag"`
	// EndTag is the tag of end events. Required.
	EndTag string `hcl:"end_tag"`
	// UniqueIDField is the field whose value pairs a start event with its
	// end event. Required.
	UniqueIDField string `hcl:"unique_id_field"`
	// Timeout is how many seconds a start event waits for its end event
	// before it expires.
	Timeout int64 `hcl:"timeout,optional"`
	// NewEventOnMatch makes a new event for each match instead of adding
	// the elapsed fields to the end event.
	NewEventOnMatch bool `hcl:"new_event_on_match,optional"`
	// KeepStartEvent says which of several start events with one id is
	// kept: "first" or "last".
	KeepStartEvent string `hcl:"keep_start_event,optional"`
	// PeriodicFlush ages the remembered start events at every periodic
	// flush; when false, only at the final one.
	PeriodicFlush bool `hcl:"periodic_flush,optional"`
}

// Defaults sets Logstash's defaults.
func (o *Options) Defaults() {
	o.Timeout = 1800
	o.KeepStartEvent = "first"
	o.PeriodicFlush = true
}

// Validate checks the options.
func (o *Options) Validate() error {
	if o.StartTag == "" {
		return &engine.FieldError{Field: "start_tag", Err: fmt.Errorf("must not be empty")}
	}
	if o.EndTag == "" {
		return &engine.FieldError{Field: "end_tag", Err: fmt.Errorf("must not be empty")}
	}
	if _, err := event.ParseRef(o.UniqueIDField); err != nil {
		return &engine.FieldError{Field: "unique_id_field", Err: err}
	}
	if o.KeepStartEvent != "first" && o.KeepStartEvent != "last" {
		return &engine.FieldError{Field: "keep_start_event", Err: fmt.Errorf("%q is not \"first\" or \"last\"", o.KeepStartEvent)}
	}
	if o.Timeout <= 0 {
		return &engine.FieldError{Field: "timeout", Err: fmt.Errorf("must be a positive number of seconds, not %d", o.Timeout)}
	}
	return nil
}

// Tags and fields the filter sets.
const (
	TagElapsed         = "elapsed"
	TagMatch           = "elapsed_match"
	TagEndWithoutStart = "elapsed_end_without_start"
	TagExpired         = "elapsed_expired_error"
)

var (
	elapsedTimeRef  = event.MustRef("elapsed_time")
	timestampRef    = event.MustRef("elapsed_timestamp_start")
	hostRef         = event.MustRef("host")
	errNotAppliedTo = engine.ErrNotApplied
)

// start is what the filter keeps of a start event.
type start struct {
	id  any // the id as the event held it
	at  time.Time
	age int64
}

// Filter is the elapsed filter. It is safe for concurrent use.
type Filter struct {
	startTag, endTag string
	id               event.Ref
	timeout          int64
	newEvent         bool
	keepLast         bool
	periodic         bool
	host             string
	log              *slog.Logger
	maxStarts        int

	mu      sync.Mutex
	starts  map[string]*start
	dropped int64
}

var (
	_ engine.Filter  = (*Filter)(nil)
	_ engine.Flusher = (*Filter)(nil)
)

// New builds an elapsed filter.
func New(o Options, r engine.Resources) (*Filter, error) {
	host, _ := os.Hostname()
	log := r.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Filter{
		startTag: o.StartTag, endTag: o.EndTag, id: event.MustRef(o.UniqueIDField),
		timeout: o.Timeout, newEvent: o.NewEventOnMatch, keepLast: o.KeepStartEvent == "last",
		periodic: o.PeriodicFlush, host: host, log: log, maxStarts: MaxStartEvents,
		starts: make(map[string]*start),
	}, nil
}

// Counters reports the start events not remembered for the budget.
func (f *Filter) Counters() []engine.Counter {
	f.mu.Lock()
	defer f.mu.Unlock()
	return []engine.Counter{{Name: "start_events_dropped", Help: "Start events the elapsed filter did not remember because it held MaxStartEvents already.", Value: f.dropped}}
}

// key is the map key of an id value: its JSON text.
func key(v any) string { return string(event.AppendJSONValue(nil, v)) }

// Filter pairs start and end events.
func (f *Filter) Filter(_ context.Context, e *event.Event, out []*event.Event) ([]*event.Event, error) {
	out = append(out, e)
	id, ok := e.Get(f.id)
	if !ok || id == nil {
		return out, errNotAppliedTo
	}
	switch {
	case e.HasTag(f.startTag):
		k := key(id)
		f.mu.Lock()
		if _, ok := f.starts[k]; !ok || f.keepLast {
			if !ok && len(f.starts) >= f.maxStarts {
				f.dropped++
				f.mu.Unlock()
				f.log.Warn("elapsed: start event not remembered: the filter holds MaxStartEvents already", "max_start_events", f.maxStarts, "start_events_dropped", f.dropped)
				return out, nil
			}
			f.starts[k] = &start{id: cloneValue(id), at: e.Timestamp()}
		}
		f.mu.Unlock()
		return out, nil
	case e.HasTag(f.endTag):
		k := key(id)
		f.mu.Lock()
		s, ok := f.starts[k]
		if ok {
			delete(f.starts, k)
		}
		f.mu.Unlock()
		if !ok {
			e.AddTag(TagEndWithoutStart)
			return out, nil
		}
		elapsed := e.Timestamp().Sub(s.at).Seconds()
		if f.newEvent {
			n := event.New()
			_ = n.Set(hostRef, f.host)
			f.addInfo(n, elapsed, s.id, s.at)
			return append(out, n), nil
		}
		f.addInfo(e, elapsed, s.id, s.at)
		return out, nil
	}
	return out, errNotAppliedTo
}

func (f *Filter) addInfo(e *event.Event, elapsed float64, id any, at time.Time) {
	e.AddTag(TagElapsed, TagMatch)
	_ = e.Set(elapsedTimeRef, elapsed)
	_ = e.Set(f.id, cloneValue(id))
	_ = e.Set(timestampRef, at)
}

// Flush ages the remembered start events by 5 seconds and appends an
// expiry event for each one that reached timeout (engine.Flusher: the
// engine calls it every 5 seconds and once, final, as the pipeline stops).
func (f *Filter) Flush(_ context.Context, final bool, out []*event.Event) []*event.Event {
	if !f.periodic && !final {
		return out
	}
	f.mu.Lock()
	type kept struct {
		k string
		s *start
	}
	var expired []kept
	for k, s := range f.starts {
		s.age += flushAge
		if s.age >= f.timeout {
			delete(f.starts, k)
			expired = append(expired, kept{k, s})
		}
	}
	f.mu.Unlock()
	slices.SortFunc(expired, func(a, b kept) int {
		if c := a.s.at.Compare(b.s.at); c != 0 {
			return c
		}
		return strings.Compare(a.k, b.k)
	})
	for _, x := range expired {
		s := x.s
		n := event.New()
		n.AddTag(TagElapsed, TagExpired)
		_ = n.Set(hostRef, f.host)
		_ = n.Set(f.id, s.id)
		_ = n.Set(elapsedTimeRef, s.age)
		_ = n.Set(timestampRef, s.at)
		out = append(out, n)
	}
	return out
}

// cloneValue copies the lists and hashes of an event value, so the filter
// keeps nothing of the event it was given.
func cloneValue(v any) any {
	switch x := v.(type) {
	case []any:
		c := make([]any, len(x))
		for i, el := range x {
			c[i] = cloneValue(el)
		}
		return c
	case map[string]any:
		c := make(map[string]any, len(x))
		for k, el := range x {
			c[k] = cloneValue(el)
		}
		return c
	}
	return v
}
