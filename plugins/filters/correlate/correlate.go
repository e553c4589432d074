// Package correlate implements the correlate filter: event correlation in
// the stream, with the rule types of SEC (the Simple Event Correlator), for
// alerting without a second daemon tailing files. Logstash has no such
// filter (aggregate and elapsed are the nearest, throttle counts but does
// not alert): the name says what it does, as a Logstash user would search
// for it, and the rule types keep SEC's names so that SEC rules translate
// one to one (docs: examples/alerting/README.md puts them side by side).
//
// One filter block is one rule. An event is seen by the rule when it
// reaches the filter (choose events with a conditional around it, as
// usual) and its source field matches pattern (when set). The rule keys
// events with key, a sprintf template (SEC's desc: "%{[user][name]}-%{[source][ip]}"),
// and acts per key:
//
//   - Single: on every event.
//   - SingleWithThreshold: when thresh events of the key arrived within
//     window seconds (a sliding window, as SEC's: the oldest events fall out
//     of it); then it stays quiet for the key until window seconds after the
//     first counted event: one alert per window per key. With
//     business_hours, thresh applies within them and off_hours_thresh
//     outside them and on holidays, by the time of the event in timezone
//     (daylight saving changes follow the zone).
//   - SingleWithSuppress: on the key's first event, then not for window
//     seconds.
//   - PairWithWindow: an event matching pattern opens a window for its key;
//     an event of the same key matching pattern2 within window seconds
//     closes it and the rule acts with outcome "pair"; when the window ends
//     first, it acts with outcome "timeout" (SEC's action and action2).
//   - Absence: once a key was seen, window seconds without a new event of
//     the key make the rule act once with outcome "absent" (a missed
//     heartbeat: a backup that stopped completing); the next event of the key
//     re-arms it.
//
// Acting means: with emit (the default) a new alert event goes into the
// pipeline after the event that made the rule act, for the filters that
// follow and for outputs chosen by conditionals (`if "alert" in [tags]`):
// its message is description, its [correlate] field holds rule, type, key,
// count, first, last (ISO 8601) and outcome, its tags are alert_tags, and
// copy_fields are copied into it and alert_fields set. An alert made by an event is
// acknowledged with that event (its input's batch is acknowledged once the
// alert was delivered too); a timeout or absence alert is made on a timer,
// as the aggregate filter's, without acknowledgement. The common options
// (add_tag, add_field …) apply to the events that made the rule act, and
// to no other event, so emit => false marks them in place instead.
//
// Time: with time_source "event" (the default) windows are measured on the
// events' @timestamp, so replayed and late logs correlate as they happened
// and tests are deterministic; time moves on as events reach the filter
// (windows of PairWithWindow and Absence close when a later event, of any
// key, shows that their end passed, or at the periodic flush). With
// "processing" the clock is the machine's and those windows close every 5
// seconds (the flush interval) even while no event arrives.
//
// Memory: at most max_keys keys are tracked (a key costs its key string,
// its timestamps, at most max(thresh, off_hours_thresh) of them, and its
// rendered description); past that the key least recently seen is
// forgotten, counted (keys_evicted) and logged. Keys whose windows ended
// are forgotten at once; Absence keys stay until evicted (they are the
// heartbeats being watched). State is kept in memory only: a restart
// forgets open windows, counts and watched heartbeats (an alert whose
// window spans the restart does not fire, and a counted threshold starts
// again from zero).
package correlate

import (
	"container/heap"
	"container/list"
	"context"
	"log/slog"
	"regexp"
	"sync"
	"time"

	_ "time/tzdata" // zones on machines without a tz database

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
)

func init() { engine.RegisterFilter("correlate", New) }

// Filter is one correlation rule.
type Filter struct {
	opts      Options
	log       *slog.Logger
	rule      string
	source    event.Ref
	pattern   *regexp.Regexp
	pattern2  *regexp.Regexp
	key       event.Template
	desc      event.Template
	copy      []event.Ref
	fieldRefs []event.Ref
	fieldVals []event.Template
	sched     *schedule
	window    time.Duration
	keep      int // timestamps kept per key
	now       func() time.Time

	mu        sync.Mutex
	keys      map[string]*entry
	lru       *list.List // of *entry, least recently seen first
	watermark time.Time
	due       deadlines // keys by when they need attention, at most one item per key
	evicted   int64
}

// entry is one key's state.
type entry struct {
	key     string
	elem    *list.Element
	times   []time.Time // SingleWithThreshold: counted events
	count   int64
	first   time.Time
	last    time.Time
	fired   bool
	firedAt time.Time // start of the quiet window
	open    bool      // PairWithWindow window open; Absence armed
	desc    string
	copied  []any
	// deadline is when the key needs attention (its window ends); queued
	// tells that it has an item in f.due; dead that it was forgotten.
	deadline time.Time
	queued   bool
	dead     bool
}

var (
	_ engine.Filter             = (*Filter)(nil)
	_ engine.Flusher            = (*Filter)(nil)
	_ engine.NewEventsUnmatched = (*Filter)(nil)
	_ engine.Counted            = (*Filter)(nil)
)

// New compiles the rule.
func New(o Options, r engine.Resources) (*Filter, error) {
	f := &Filter{opts: o, log: r.Logger, rule: o.RuleID, keys: map[string]*entry{}, lru: list.New(), now: time.Now,
		window: time.Duration(o.Window * float64(time.Second)), keep: max(o.Thresh, o.OffHoursThresh, 1)}
	if f.log == nil {
		f.log = slog.Default()
	}
	if f.rule == "" {
		f.rule = r.ID
	}
	var err error
	f.source = event.MustRef(o.Source)
	if o.Pattern != "" {
		f.pattern = regexp.MustCompile(o.Pattern)
	}
	if o.Pattern2 != "" {
		f.pattern2 = regexp.MustCompile(o.Pattern2)
	}
	if f.key, err = event.ParseTemplate(o.Key); err != nil {
		return nil, err
	}
	if f.desc, err = event.ParseTemplate(o.Description); err != nil {
		return nil, err
	}
	for _, c := range o.CopyFields {
		f.copy = append(f.copy, event.MustRef(c))
	}
	for _, kv := range o.AlertFields {
		t, err := event.ParseTemplate(kv.Value)
		if err != nil {
			return nil, err
		}
		f.fieldRefs = append(f.fieldRefs, event.MustRef(kv.Key))
		f.fieldVals = append(f.fieldVals, t)
	}
	if f.sched, err = newSchedule(o.BusinessHours, o.Timezone, o.Holidays); err != nil {
		return nil, err
	}
	return f, nil
}

// SetClock replaces the clock of time_source "processing" (tests).
func (f *Filter) SetClock(now func() time.Time) { f.now = now }

// NewEventsUnmatched: alert events do not get the common options.
func (*Filter) NewEventsUnmatched() {}

// Counters reports the keys forgotten to stay within max_keys.
func (f *Filter) Counters() []engine.Counter {
	f.mu.Lock()
	defer f.mu.Unlock()
	return []engine.Counter{{Name: "keys_evicted", Help: "Correlation keys forgotten to stay within max_keys.", Value: f.evicted}}
}

// Keys is how many keys the rule tracks now.
func (f *Filter) Keys() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.keys)
}

// threshAt is the threshold at t.
func (f *Filter) threshAt(t time.Time) int {
	if f.sched == nil || f.opts.OffHoursThresh == 0 || f.sched.inside(t) {
		return f.opts.Thresh
	}
	return f.opts.OffHoursThresh
}

// alert is one action of the rule.
type alert struct {
	at          time.Time
	key         string
	outcome     string
	count       int64
	first, last time.Time
	desc        string
	copied      []any
}

// Filter runs the rule on e.
func (f *Filter) Filter(_ context.Context, e *event.Event, out []*event.Event) ([]*event.Event, error) {
	out = append(out, e)
	t := e.Timestamp()
	if f.opts.TimeSource == "processing" {
		t = f.now()
	}
	first, second := true, false
	if f.pattern != nil || f.pattern2 != nil {
		src, _ := e.GetString(f.source)
		second = f.pattern2 != nil && f.pattern2.MatchString(src)
		if f.pattern != nil {
			first = f.pattern.MatchString(src)
		} else {
			first = !second
		}
	}
	f.mu.Lock()
	if t.After(f.watermark) {
		f.watermark = t
	}
	var due []alert
	if n := f.next(); !n.IsZero() && !f.watermark.Before(n) {
		due = f.sweep(f.watermark)
	}
	var acted *alert
	if first || second {
		acted = f.see(e, t, first, second)
	}
	f.mu.Unlock()
	for _, a := range due {
		out = append(out, f.event(a))
	}
	if acted == nil {
		return out, engine.ErrNotApplied
	}
	if f.opts.Emit {
		out = append(out, e.Derive(f.event(*acted)))
	}
	return out, nil
}

// render fills an alert's description and copied fields from e.
func (f *Filter) render(e *event.Event) (string, []any) {
	var copied []any
	if n := len(f.copy) + len(f.fieldVals); n > 0 {
		copied = make([]any, n)
		for i, r := range f.copy {
			copied[i], _ = e.Get(r)
		}
		for i, t := range f.fieldVals {
			copied[len(f.copy)+i] = t.Render(e)
		}
	}
	return f.desc.Render(e), copied
}

// see applies the rule to a matching event at t; it returns the alert the
// event made, if any. f.mu is held.
func (f *Filter) see(e *event.Event, t time.Time, first, second bool) *alert {
	key := f.key.Render(e)
	now := func(outcome string, count int64, from time.Time) *alert {
		desc, copied := f.render(e)
		return &alert{at: t, key: key, outcome: outcome, count: count, first: from, last: t, desc: desc, copied: copied}
	}
	switch f.opts.RuleType {
	case "Single":
		return now("match", 1, t)
	case "SingleWithSuppress":
		ent := f.get(key)
		if ent.fired && t.Before(ent.firedAt.Add(f.window)) {
			ent.count++
			return nil
		}
		ent.fired, ent.firedAt, ent.count = true, t, 1
		f.deadline(ent, t.Add(f.window))
		return now("match", 1, t)
	case "SingleWithThreshold":
		ent := f.get(key)
		if ent.fired {
			if t.Before(ent.firedAt.Add(f.window)) {
				ent.count++
				return nil
			}
			ent.fired, ent.times = false, ent.times[:0]
		}
		// Slide: events older than window before t fall out.
		keep := ent.times[:0]
		for _, x := range ent.times {
			if t.Sub(x) < f.window {
				keep = append(keep, x)
			}
		}
		ent.times = append(keep, t)
		if len(ent.times) > f.keep {
			ent.times = append(ent.times[:0], ent.times[len(ent.times)-f.keep:]...)
		}
		if th := f.threshAt(t); len(ent.times) >= th {
			from := ent.times[len(ent.times)-th]
			ent.fired, ent.firedAt, ent.count = true, from, int64(th)
			f.deadline(ent, from.Add(f.window))
			return now("threshold", int64(th), from)
		}
		f.deadline(ent, t.Add(f.window))
		return nil
	case "PairWithWindow":
		ent, ok := f.keys[key]
		if ok && ent.open && second {
			f.drop(ent)
			return now("pair", 2, ent.first)
		}
		if first && !second && !ok {
			ent = f.get(key)
			ent.open, ent.first, ent.last, ent.count = true, t, t, 1
			ent.desc, ent.copied = f.render(e)
			f.deadline(ent, t.Add(f.window))
		}
		return nil
	case "Absence":
		ent := f.get(key)
		ent.open, ent.last = true, t
		if ent.count == 0 {
			ent.first = t
		}
		ent.count++
		ent.desc, ent.copied = f.render(e)
		f.deadline(ent, t.Add(f.window))
		return nil
	}
	return nil
}

// get returns key's entry, made (and the least recently seen one evicted
// past max_keys) if new, and marks it seen. f.mu is held.
func (f *Filter) get(key string) *entry {
	if ent, ok := f.keys[key]; ok {
		f.lru.MoveToBack(ent.elem)
		return ent
	}
	for len(f.keys) >= f.opts.MaxKeys {
		old := f.lru.Front().Value.(*entry)
		f.drop(old)
		f.evicted++
		if f.evicted == 1 || f.evicted%10000 == 0 {
			f.log.Warn("correlate filter: max_keys reached, forgetting the least recently seen keys", "rule", f.rule, "max_keys", f.opts.MaxKeys, "keys_evicted", f.evicted)
		}
	}
	ent := &entry{key: key}
	ent.elem = f.lru.PushBack(ent)
	f.keys[key] = ent
	return ent
}

func (f *Filter) drop(ent *entry) {
	f.lru.Remove(ent.elem)
	delete(f.keys, ent.key)
	ent.dead = true
}

// deadline sets when ent needs attention. A key's deadlines only move
// later, so one item per key in f.due suffices: a popped item whose key's
// deadline moved is queued again. f.mu is held.
func (f *Filter) deadline(ent *entry, d time.Time) {
	ent.deadline = d
	if !ent.queued {
		ent.queued = true
		heap.Push(&f.due, item{at: d, ent: ent})
	}
}

// next is the earliest pending deadline; zero when none.
func (f *Filter) next() time.Time {
	if len(f.due) == 0 {
		return time.Time{}
	}
	return f.due[0].at
}

// sweep ends the windows that ended by now: PairWithWindow timeouts and
// Absence alerts are returned; finished keys are forgotten. Only the keys
// due are visited. f.mu is held.
func (f *Filter) sweep(now time.Time) []alert {
	var due []alert
	for len(f.due) > 0 && !now.Before(f.due[0].at) {
		it := heap.Pop(&f.due).(item)
		ent := it.ent
		ent.queued = false
		if ent.dead || ent.deadline.IsZero() {
			continue
		}
		if now.Before(ent.deadline) {
			ent.queued = true
			heap.Push(&f.due, item{at: ent.deadline, ent: ent})
			continue
		}
		end := ent.deadline
		ent.deadline = time.Time{}
		switch f.opts.RuleType {
		case "PairWithWindow":
			due = append(due, alert{at: end, key: ent.key, outcome: "timeout", count: 1, first: ent.first, last: ent.last, desc: ent.desc, copied: ent.copied})
			f.drop(ent)
		case "Absence":
			due = append(due, alert{at: end, key: ent.key, outcome: "absent", count: ent.count, first: ent.first, last: ent.last, desc: ent.desc, copied: ent.copied})
		default:
			f.drop(ent)
		}
	}
	sortAlerts(due)
	return due
}

// Flush ends the windows that ended: by the newest event time seen
// (time_source "event") or the clock ("processing").
func (f *Filter) Flush(_ context.Context, final bool, out []*event.Event) []*event.Event {
	f.mu.Lock()
	now := f.watermark
	if f.opts.TimeSource == "processing" {
		now = f.now()
	}
	var due []alert
	if n := f.next(); !n.IsZero() && !now.Before(n) {
		due = f.sweep(now)
	}
	f.mu.Unlock()
	for _, a := range due {
		out = append(out, f.event(a))
	}
	return out
}

// event makes the alert event.
func (f *Filter) event(a alert) *event.Event {
	e := event.NewAt(a.at)
	_ = e.Set(event.MustRef("message"), a.desc)
	c := map[string]any{
		"rule": f.rule, "type": f.opts.RuleType, "key": a.key, "count": a.count, "outcome": a.outcome,
		"first": a.first.UTC().Format(time.RFC3339Nano), "last": a.last.UTC().Format(time.RFC3339Nano),
	}
	_ = e.Set(event.MustRef("correlate"), c)
	for i, r := range append(f.copy[:len(f.copy):len(f.copy)], f.fieldRefs...) {
		if i < len(a.copied) && a.copied[i] != nil {
			_ = e.Set(r, copyValue(a.copied[i]))
		}
	}
	if len(f.opts.AlertTags) > 0 {
		e.AddTag(f.opts.AlertTags...)
	}
	return e
}

// copyValue deep-copies maps and slices of an event value.
func copyValue(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, vv := range x {
			m[k] = copyValue(vv)
		}
		return m
	case []any:
		s := make([]any, len(x))
		for i, vv := range x {
			s[i] = copyValue(vv)
		}
		return s
	}
	return v
}
