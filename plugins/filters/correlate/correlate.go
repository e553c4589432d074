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
// rendered description, cut at 32 KiB; a key is cut at 4 KiB); past that
// a key not seen recently is forgotten (by the clock algorithm, an
// approximation of the least recently seen that costs no memory traffic
// per event), counted (keys_evicted) and logged. Keys whose windows ended are forgotten at once; Absence keys stay
// until evicted (they are the heartbeats being watched). The keys are kept
// in flat tables without pointers, so that a rule watching 100,000 keys
// costs the garbage collector little, and the rules of a pipeline with the
// same key template share one index of their keys (an event's key is
// looked up in memory once, not once per rule; each rule still counts its
// own keys against its max_keys). A rule works through a worker's batch of
// events at once.
//
// Restarts: with state_path the rule's state is written to a file when the
// pipeline stops (and every minute while it changes) and read back when it
// starts, so a threshold window, a quiet window, an open pair or a watched
// heartbeat spanning a restart goes on as if there had been none (with
// time_source "processing", a window that ended while the pipeline was
// down acts at the first flush after the start). The option is named as
// the file's content and not after the aggregate filter's
// aggregate_maps_path, which holds the maps of all aggregate filters of a
// pipeline: each correlate rule has its own file; like it, the file is set
// explicitly, read before the first event and written at stop. A file that
// cannot be read (damaged, of another version, over 1 GiB) is moved aside
// and named in an error log line, and the rule starts empty. Without
// state_path the state is in memory only: a restart forgets open windows,
// counts and watched heartbeats.
package correlate

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strings"
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
	pattern   *matcher
	pattern2  *matcher
	key       event.Template
	desc      event.Template
	copy      []event.Ref
	fieldRefs []event.Ref
	fieldVals []event.Template
	sched     *schedule
	window    int64 // nanoseconds
	keep      int   // timestamps kept per key
	now       func() time.Time
	statePath string    // resolved state_path; "" when not set
	ruleV     any       // rule, boxed once
	typeV     any       // rule_type, boxed once
	tags      []any     // alert_tags without repeats
	ix        *keyIndex // shared by the pipeline's rules with this key template
	keyed     bool      // the rule keeps state per key (all but Single)
	warmSink  uint64    // what warm read (so that its reads are kept)
	// prev is the correlate rule just before this one with the same key
	// template whose output the engine passes to this one unchanged
	// (Resources.Follows): its batches' rendered keys are taken over
	// instead of rendering them again.
	prev *Filter
	// passed are this rule's batches' keys kept for the next rule
	// (handoff), when one follows.
	handoff handoff

	mu        sync.Mutex
	t         *table
	watermark int64
	evicted   int64
	descBuf   []byte
	st        stateIO
}

var (
	_ engine.Filter             = (*Filter)(nil)
	_ engine.BatchFilter        = (*Filter)(nil)
	_ engine.BatchResultsDone   = (*Filter)(nil)
	_ engine.Flusher            = (*Filter)(nil)
	_ engine.NewEventsUnmatched = (*Filter)(nil)
	_ engine.Counted            = (*Filter)(nil)
)

// New compiles the rule.
func New(o Options, r engine.Resources) (*Filter, error) {
	f := &Filter{opts: o, log: r.Logger, rule: o.RuleID, now: time.Now, watermark: minTime,
		window: int64(o.Window * float64(time.Second)), keep: max(o.Thresh, o.OffHoursThresh, 1)}
	if f.log == nil {
		f.log = slog.Default()
	}
	if f.rule == "" {
		f.rule = r.ID
	}
	f.ruleV, f.typeV = f.rule, o.RuleType
	f.keyed = o.RuleType != "Single"
	for _, t := range o.AlertTags {
		if !slices.Contains(f.tags, any(t)) {
			f.tags = append(f.tags, t)
		}
	}
	var err error
	f.source = event.MustRef(o.Source)
	if o.Pattern != "" {
		f.pattern = newMatcher(o.Pattern)
	}
	if o.Pattern2 != "" {
		f.pattern2 = newMatcher(o.Pattern2)
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
	f.ix = sharedIndex(o, r)
	// (Not for a key with the time of rendering in it: "%{{...}}".)
	if p, ok := r.Follows.(*Filter); ok && p.key.String() == f.key.String() && !strings.Contains(o.Key, "%{{") {
		f.prev = p
		p.handoff.on = true
	}
	f.t = f.newTable()
	if err := f.initState(r); err != nil {
		return nil, err
	}
	return f, nil
}

func (f *Filter) newTable() *table {
	keep := 0
	if f.opts.RuleType == "SingleWithThreshold" {
		keep = f.keep
	}
	withDesc := f.opts.RuleType == "PairWithWindow" || f.opts.RuleType == "Absence"
	return newTable(f.ix, keep, withDesc, withDesc && len(f.copy)+len(f.fieldVals) > 0)
}

// sharedIndex is the key index of the pipeline's rules with o's key
// template (one made for the rule when there is no pipeline, or when the
// rules sharing it could hold more keys together than an index can name).
func sharedIndex(o Options, r engine.Resources) *keyIndex {
	if r.Shared == nil || o.RuleType == "Single" {
		return newKeyIndex()
	}
	for n := 0; ; n++ {
		ix := r.Shared(fmt.Sprintf("correlate key index %d %s", n, o.Key), func() any { return newKeyIndex() }).(*keyIndex)
		if ix.budget+o.MaxKeys <= maxSlots {
			ix.budget += o.MaxKeys
			return ix
		}
	}
}

// keyBufs are buffers keys are rendered into, so that rendering a key
// does not allocate.
var keyBufs = sync.Pool{New: func() any { b := make([]byte, 0, 128); return &b }}

// minTime is the watermark before any event.
const minTime = int64(-1 << 63)

func nanos(t time.Time) int64 { return t.UnixNano() }

func fromNanos(n int64) time.Time { return time.Unix(0, n).UTC() }

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
	return f.t.live
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
	at          int64
	key         string
	outcome     string
	count       int64
	first, last int64
	desc        string
	copied      []any
}

// seen is what an event brings to the rule, found without the rule's
// lock: its time and which patterns it matches.
type seen struct {
	t             int64
	first, second bool
}

func (f *Filter) prepare(e *event.Event) seen {
	ts := e.Timestamp()
	if f.opts.TimeSource == "processing" {
		ts = f.now()
	}
	return f.prepareAt(e, nanos(ts))
}

// prepareAt is prepare with the event's time t known.
func (f *Filter) prepareAt(e *event.Event, t int64) seen {
	p := seen{t: t, first: true}
	if f.pattern != nil || f.pattern2 != nil {
		src, _ := e.GetString(f.source)
		p.second = f.pattern2 != nil && f.pattern2.match(src)
		if f.pattern != nil {
			p.first = f.pattern.match(src)
		} else {
			p.first = !p.second
		}
	}
	return p
}

// step applies the rule to e (seen as p, keyed key): it returns the alerts
// of the windows that ended by e's time and the alert e made, if any.
// f.mu is held.
func (f *Filter) step(e *event.Event, p seen, key hkey) ([]alert, *alert) {
	f.load()
	if p.t > f.watermark {
		f.watermark = p.t
	}
	var due []alert
	if len(f.t.due) > 0 && f.t.due[0].at <= f.watermark {
		due = f.sweep(f.watermark)
	}
	var acted *alert
	if p.first || p.second {
		acted = f.see(e, p.t, key, p.first, p.second)
		f.st.dirty = true
	}
	return due, acted
}

// emit appends e and the alert events step returned for it to out.
func (f *Filter) emit(e *event.Event, due []alert, acted *alert, out []*event.Event) ([]*event.Event, error) {
	out = append(out, e)
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

// Filter runs the rule on e.
func (f *Filter) Filter(_ context.Context, e *event.Event, out []*event.Event) ([]*event.Event, error) {
	p := f.prepare(e)
	var key []byte
	if p.first || p.second {
		kb := keyBufs.Get().(*[]byte)
		key = f.key.RenderAppend((*kb)[:0], e)
		defer func() {
			if cap(key) <= maxKeyBytes {
				*kb = key
				keyBufs.Put(kb)
			}
		}()
	}
	k := hkey{b: key}
	if f.keyed && (p.first || p.second) {
		k = f.ix.hkey(key)
	}
	f.mu.Lock()
	due, acted := f.step(e, p, k)
	f.mu.Unlock()
	return f.emit(e, due, acted, out)
}

// batchScratch is FilterBatch's working memory, reused.
type batchScratch struct {
	keys  []byte
	items []batchItem
	dues  []alert // the alerts of windows that ended, of all items in order
	// For the next rule (handoff): the batch's events, the index the
	// items' hashes are of (nil: none hashed), whether their times are
	// the events' @timestamp.
	events    []*event.Event
	hashed    *keyIndex
	eventTime bool // the items' times are the events' @timestamp
}

// release puts sc back for reuse.
func (sc *batchScratch) release() {
	clear(sc.events) // the events are the engine's: not kept alive here
	sc.events, sc.hashed, sc.eventTime = sc.events[:0], nil, false
	if cap(sc.keys) <= maxScratchKeys {
		batchScratches.Put(sc)
	}
}

// find is the position of e in sc's events at or after cur (a few
// positions on at most: the events of the batch come in the same order,
// with the alert events of the rule before between them). sc may be nil.
func (sc *batchScratch) find(e *event.Event, cur int) (int, bool) {
	if sc == nil {
		return 0, false
	}
	for j := cur; j < len(sc.events) && j < cur+4; j++ {
		if sc.events[j] == e {
			return j, true
		}
	}
	return 0, false
}

// handoff keeps a rule's batch scratches, with the batches' keys, until the
// next rule with the same key template takes them (workers run the filters
// of a batch one after the other; each worker has a batch in the rules at
// a time). A batch is known by its first event, which the next rule's batch
// starts with as well (a rule passes every event on, its alerts after it).
type handoff struct {
	on      bool // a rule takes the scratches (set at build)
	mu      sync.Mutex
	pending []*batchScratch
}

// maxHandoff bounds the scratches kept for the next rule: one per worker
// is in use; one that was not taken (the next rule panicked, the pipeline
// stopped) is given back when more come.
const maxHandoff = 16

func (h *handoff) give(sc *batchScratch) {
	h.mu.Lock()
	var drop *batchScratch
	if len(h.pending) >= maxHandoff {
		drop = h.pending[0]
		h.pending = append(h.pending[:0], h.pending[1:]...)
	}
	h.pending = append(h.pending, sc)
	h.mu.Unlock()
	if drop != nil {
		drop.release()
	}
}

// take removes and returns the scratch of the batch that started with
// first, if any.
func (h *handoff) take(first *event.Event) *batchScratch {
	h.mu.Lock()
	defer h.mu.Unlock()
	for i, sc := range h.pending {
		if len(sc.events) > 0 && sc.events[0] == first {
			h.pending = append(h.pending[:i], h.pending[i+1:]...)
			return sc
		}
	}
	return nil
}

// batchItem is one event of a batch (56 bytes).
type batchItem struct {
	p        seen
	off, end int32  // the key in keys
	hint     uint32 // the key's id, if warm found one
	ndue     uint32 // the event's alerts in dues
	flags    uint8  // kRendered, kHashed
	h        uint64 // the key's hash
	acted    *alert
}

// batchItem flags.
const (
	kRendered = 1 << iota // the key is in keys
	kHashed               // h is the key's hash in the rule's index
)

// key is item j's key.
func (sc *batchScratch) key(j int) hkey {
	it := &sc.items[j]
	return hkey{sc.keys[it.off:it.end], it.h}
}

var batchScratches = sync.Pool{New: func() any { return new(batchScratch) }}

// maxScratchKeys bounds the key bytes of a batch kept for reuse.
const maxScratchKeys = 1 << 20

// warm reads, for the keys of a batch, the index entries and the rule's
// slots they lead to, before the rule goes through the events one by one:
// the loads for different keys do not depend on each other, so the
// processor overlaps their cache misses instead of waiting for each in
// turn (with 100,000 keys, the index and the slots are far larger than
// the caches). It only reads; what it finds is a hint. f.mu is held.
func (f *Filter) warm(sc *batchScratch) {
	ix, tb := f.ix, f.t
	var sink uint64
	ix.mu.Lock()
	for j := range sc.items {
		it := &sc.items[j]
		it.hint = none
		if !it.p.first && !it.p.second {
			continue
		}
		if e := ix.idx[ix.home(it.h)]; e != 0 && e>>24 == uint32(it.h>>56) {
			it.hint = entID(e)
			sink += ix.keys[it.hint].hash
		}
	}
	ix.mu.Unlock()
	for j := range sc.items {
		if id := sc.items[j].hint; int(id) < len(tb.slots) {
			sink += uint64(tb.slots[id].flags)
		}
	}
	f.warmSink = sink
}

// FilterBatch runs the rule over the events of a worker's batch that reach
// it, as Filter would one by one, in order: the keys are rendered first,
// then the rule's state is locked once for the whole batch (instead of
// once per event: with several workers the lock and the rule's memory
// would move between CPUs on every event), and the alert events are made
// after.
func (f *Filter) FilterBatch(_ context.Context, events []*event.Event) []engine.FilterResult {
	sc := batchScratches.Get().(*batchScratch)
	sc.keys, sc.dues = sc.keys[:0], sc.dues[:0]
	sc.items = slices.Grow(sc.items[:0], len(events))
	var from *batchScratch // the rule before's keys of these events
	if f.prev != nil && len(events) > 0 {
		from = f.prev.handoff.take(events[0])
	}
	cur := 0 // from's event expected next
	for _, e := range events {
		j, found := from.find(e, cur)
		var it batchItem
		if found {
			cur = j + 1
		}
		if found && from.eventTime && f.opts.TimeSource == "event" {
			// The event's @timestamp, as the rule before read it.
			it.p = f.prepareAt(e, from.items[j].p.t)
		} else {
			it.p = f.prepare(e)
		}
		it.off = int32(len(sc.keys))
		if it.p.first || it.p.second {
			if found && from.items[j].flags&kRendered != 0 {
				// The same event, unchanged since the rule before rendered
				// its key (the engine changed nothing in between, nor did
				// that rule).
				sc.keys = append(sc.keys, from.keys[from.items[j].off:from.items[j].end]...)
				it.flags = from.items[j].flags & kRendered
				if from.hashed == f.ix {
					it.h, it.flags = from.items[j].h, from.items[j].flags
				}
			} else {
				sc.keys = f.key.RenderAppend(sc.keys, e)
				it.flags = kRendered
			}
			if len(sc.keys) > math.MaxInt32 {
				panic("correlate: a batch's keys over 2 GiB")
			}
		}
		it.end = int32(len(sc.keys))
		sc.items = append(sc.items, it)
	}
	if from != nil {
		from.release()
	}
	sc.hashed, sc.eventTime = nil, f.opts.TimeSource == "event"
	if f.keyed {
		for j := range sc.items {
			if it := &sc.items[j]; it.flags == kRendered {
				it.h = f.ix.hkey(sc.keys[it.off:it.end]).h
				it.flags |= kHashed
			}
		}
		sc.hashed = f.ix
	}
	n := 0 // events out, of the events that made alerts
	f.mu.Lock()
	if f.keyed {
		f.warm(sc)
	}
	for j, e := range events {
		it := &sc.items[j]
		var due []alert
		due, it.acted = f.step(e, it.p, sc.key(j))
		if len(due) > 0 {
			sc.dues = append(sc.dues, due...)
			it.ndue = uint32(len(due))
		}
		if len(due) > 0 || it.acted != nil {
			n += 2 + len(due)
		}
	}
	f.mu.Unlock()
	res := f.results(len(events))
	var out []*event.Event
	if n > 0 {
		out = make([]*event.Event, 0, n)
	}
	dues := sc.dues
	for j, e := range events {
		it := &sc.items[j]
		if it.ndue == 0 && it.acted == nil {
			// Nothing appended with an error: the engine passes e on
			// (engine.Filter), without a slice made for it.
			res[j] = engine.FilterResult{Err: engine.ErrNotApplied}
			continue
		}
		start := len(out)
		var err error
		out, err = f.emit(e, dues[:it.ndue], it.acted, out)
		dues = dues[it.ndue:]
		res[j] = engine.FilterResult{Out: out[start:len(out):len(out)], Err: err}
		it.acted = nil
	}
	clear(sc.dues)
	if f.handoff.on {
		// The next rule takes the keys over (and puts sc back).
		sc.events = append(sc.events[:0], events...)
		f.handoff.give(sc)
	} else {
		sc.release()
	}
	return res
}

// resultSlices are FilterBatch's result slices, given back by the engine
// (ResultsDone) and reused: made for every batch of every rule, they were
// the largest allocation of the rules but the alert events.
var resultSlices sync.Pool

// maxPooledResults bounds the result slices kept for reuse.
const maxPooledResults = 1 << 16

// results returns a result slice of length n, its contents undefined.
func (f *Filter) results(n int) []engine.FilterResult {
	if p, ok := resultSlices.Get().(*[]engine.FilterResult); ok && cap(*p) >= n {
		return (*p)[:n]
	}
	return make([]engine.FilterResult, n)
}

// ResultsDone takes back a slice FilterBatch returned, once the engine
// read it.
func (f *Filter) ResultsDone(res []engine.FilterResult) {
	if cap(res) > maxPooledResults {
		return
	}
	clear(res) // the events are the engine's: not kept alive here
	resultSlices.Put(&res)
}

// render fills an alert's description and copied fields from e.
func (f *Filter) render(e *event.Event) (string, []any) {
	return f.desc.Render(e), f.renderCopied(e)
}

// renderCopied takes copy_fields (deep-copied: later filters may change
// e) and renders alert_fields from e.
func (f *Filter) renderCopied(e *event.Event) []any {
	var copied []any
	if n := len(f.copy) + len(f.fieldVals); n > 0 {
		copied = make([]any, n)
		for i, r := range f.copy {
			v, _ := e.Get(r)
			copied[i] = copyValue(v)
		}
		for i, t := range f.fieldVals {
			copied[len(f.copy)+i] = t.Render(e)
		}
	}
	return copied
}

// keep renders e's description and copied fields into slot i.
func (f *Filter) keepDesc(i uint32, e *event.Event) {
	f.descBuf = f.desc.RenderAppend(f.descBuf[:0], e)
	f.t.setDesc(i, f.descBuf)
	if cap(f.descBuf) > 64<<10 {
		f.descBuf = nil
	}
	if f.t.withCopied {
		f.t.copied[i] = f.renderCopied(e)
	}
}

// see applies the rule to a matching event at t; it returns the alert the
// event made, if any. f.mu is held.
func (f *Filter) see(e *event.Event, t int64, key hkey, first, second bool) *alert {
	tb := f.t
	now := func(outcome string, count int64, from int64) *alert {
		desc, copied := f.render(e)
		return &alert{at: t, key: string(key.b), outcome: outcome, count: count, first: from, last: t, desc: desc, copied: copied}
	}
	switch f.opts.RuleType {
	case "Single":
		return now("match", 1, t)
	case "SingleWithSuppress":
		i := f.get(key)
		s := &tb.slots[i]
		if s.flags&fFired != 0 && t < s.firedAt+f.window {
			s.count++
			return nil
		}
		s.flags |= fFired
		s.firedAt, s.count = t, 1
		f.deadline(i, t+f.window)
		return now("match", 1, t)
	case "SingleWithThreshold":
		i := f.get(key)
		s := &tb.slots[i]
		if s.flags&fFired != 0 {
			if t < s.firedAt+f.window {
				s.count++
				return nil
			}
			s.flags &^= fFired
			s.n = 0
		}
		// Slide: events older than window before t fall out.
		ring := tb.ring[int(i)*tb.keep : int(i+1)*tb.keep]
		n := 0
		for _, x := range ring[:s.n] {
			if t-x < f.window {
				ring[n] = x
				n++
			}
		}
		if n == len(ring) {
			copy(ring, ring[1:])
			n--
		}
		ring[n] = t
		n++
		s.n = uint32(n)
		if th := f.threshAt(fromNanos(t)); n >= th {
			from := ring[n-th]
			s.flags |= fFired
			s.firedAt, s.count = from, int64(th)
			f.deadline(i, from+f.window)
			return now("threshold", int64(th), from)
		}
		f.deadline(i, t+f.window)
		return nil
	case "PairWithWindow":
		i, ok := tb.lookup(key)
		if ok && second && tb.slots[i].flags&fOpen != 0 {
			a := now("pair", 2, tb.slots[i].first)
			tb.remove(i)
			return a
		}
		if first && !second && !ok {
			i = f.add(key)
			s := &tb.slots[i]
			s.flags |= fOpen
			s.first, s.last, s.count = t, t, 1
			f.keepDesc(i, e)
			f.deadline(i, t+f.window)
		}
		return nil
	case "Absence":
		i := f.get(key)
		s := &tb.slots[i]
		s.flags |= fOpen
		s.last = t
		if s.count == 0 {
			s.first = t
		}
		s.count++
		f.keepDesc(i, e)
		f.deadline(i, t+f.window)
		return nil
	}
	return nil
}

// get returns key's slot, made (and one not seen recently evicted
// past max_keys) if new, and marks it seen. f.mu is held.
func (f *Filter) get(key hkey) uint32 {
	tb := f.t
	if i, ok := tb.lookup(key); ok {
		tb.touch(i)
		return i
	}
	return f.add(key)
}

// add makes a slot for key (not tracked), evicting a key not seen
// recently past max_keys. f.mu is held.
func (f *Filter) add(key hkey) uint32 {
	tb := f.t
	for tb.live >= f.opts.MaxKeys {
		tb.remove(tb.victim())
		f.evicted++
		if f.evicted == 1 || f.evicted%10000 == 0 {
			f.log.Warn("correlate filter: max_keys reached, forgetting keys not seen recently", "rule", f.rule, "max_keys", f.opts.MaxKeys, "keys_evicted", f.evicted)
		}
	}
	return tb.insert(key)
}

// deadline sets when slot i needs attention. A key's deadlines only move
// later, so one item per key in the heap suffices: a popped item whose
// key's deadline moved is queued again. f.mu is held.
func (f *Filter) deadline(i uint32, d int64) {
	s := &f.t.slots[i]
	s.deadline = d
	s.flags |= fDeadline
	if s.flags&fQueued == 0 {
		s.flags |= fQueued
		f.t.pushDue(d, i)
	}
}

// sweep ends the windows that ended by now: PairWithWindow timeouts and
// Absence alerts are returned; finished keys are forgotten. Only the keys
// due are visited. f.mu is held.
func (f *Filter) sweep(now int64) []alert {
	tb := f.t
	var due []alert
	for len(tb.due) > 0 && tb.due[0].at <= now {
		it := tb.popDue()
		s := &tb.slots[it.slot]
		if s.gen != it.gen || s.flags&fLive == 0 {
			continue
		}
		s.flags &^= fQueued
		if s.flags&fDeadline == 0 {
			continue
		}
		if now < s.deadline {
			s.flags |= fQueued
			tb.pushDue(s.deadline, it.slot)
			continue
		}
		end := s.deadline
		s.flags &^= fDeadline
		f.st.dirty = true
		switch f.opts.RuleType {
		case "PairWithWindow", "Absence":
			a := alert{at: end, key: tb.key(it.slot), outcome: "timeout", count: 1, first: s.first, last: s.last, desc: string(tb.desc(it.slot))}
			if tb.withCopied {
				a.copied = tb.copied[it.slot]
			}
			if f.opts.RuleType == "Absence" {
				a.outcome, a.count = "absent", s.count
			} else {
				tb.remove(it.slot)
			}
			due = append(due, a)
		default:
			tb.remove(it.slot)
		}
	}
	sortAlerts(due)
	return due
}

// Flush ends the windows that ended: by the newest event time seen
// (time_source "event") or the clock ("processing"); and stores the state
// now and then when state_path is set.
func (f *Filter) Flush(_ context.Context, final bool, out []*event.Event) []*event.Event {
	f.mu.Lock()
	f.load()
	now := f.watermark
	if f.opts.TimeSource == "processing" {
		now = nanos(f.now())
	}
	var due []alert
	if len(f.t.due) > 0 && f.t.due[0].at <= now {
		due = f.sweep(now)
	}
	f.mu.Unlock()
	f.storeNowAndThen()
	for _, a := range due {
		out = append(out, f.event(a))
	}
	return out
}

var messageRef, correlateRef = event.MustRef("message"), event.MustRef("correlate")

// event makes the alert event. Its top-level fields are set in its map
// directly (they are of event value types already), its strings boxed in
// one allocation, and the values all alerts of the rule share (rule, type,
// outcome) boxed once: a rule may make an alert for every few events.
func (f *Filter) event(a alert) *event.Event {
	e := event.NewMessageAtSized(a.desc, fromNanos(a.at), 5+len(f.copy)+len(f.fieldRefs))
	strs := event.NewStrings(3)
	var buf [2 * len(time.RFC3339Nano)]byte
	ts := fromNanos(a.first).AppendFormat(buf[:0], time.RFC3339Nano)
	first := len(ts)
	ts = fromNanos(a.last).AppendFormat(ts, time.RFC3339Nano)
	stamps := string(ts)
	c := make(map[string]any, 7)
	c["rule"], c["type"] = f.ruleV, f.typeV
	c["key"] = strs.Box(a.key)
	c["count"] = a.count
	c["outcome"] = outcomes[a.outcome]
	c["first"], c["last"] = strs.Box(stamps[:first]), strs.Box(stamps[first:])
	fields := e.Fields()
	fields["correlate"] = c
	if len(f.tags) > 0 {
		tags := make([]any, len(f.tags))
		copy(tags, f.tags)
		fields[event.TagsField] = tags
	}
	for i, r := range append(f.copy[:len(f.copy):len(f.copy)], f.fieldRefs...) {
		if i < len(a.copied) && a.copied[i] != nil {
			_ = e.Set(r, copyValue(a.copied[i]))
		}
	}
	return e
}

// outcomes are the alerts' outcome values, boxed once.
var outcomes = map[string]any{"match": "match", "threshold": "threshold", "pair": "pair", "timeout": "timeout", "absent": "absent"}

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
