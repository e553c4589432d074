// Package aggregate implements Logstash's aggregate filter: it gathers what
// several events of one task (lines sharing a task id) carry into a map, and
// puts it into the task's last event or pushes it as an event of its own.
//
// The code runs in real Ruby, as the ruby filter's does (one Ruby
// co-process per aggregate filter, see that filter), with `event`, `map` (a
// Ruby Hash kept per task), `map_meta` and `new_event_block`, as in
// Logstash. Maps are shared by every aggregate filter of the pipeline with
// the same task_id pattern, so that one filter can create a task's map, a
// second update it and a third close it. The engine keeps each map as
// Ruby's Marshal dump, so a map holds any Ruby value, as in Logstash.
//
// Tasks without an end expire: after timeout seconds since their first
// event (1800 when no filter of the pattern sets one), or inactivity_timeout
// seconds since their last; with push_map_as_event_on_timeout or
// push_previous_map_as_event an expired map becomes an event (with
// timeout_task_id_field, timeout_tags and timeout_code applied). Expiry is
// checked when the engine flushes the filters, every 5 seconds, and once more
// when the pipeline stops (then push_previous_map_as_event pushes the last
// map, tagged _aggregatefinalflush, as Logstash). With
// timeout_timestamp_field, time is the events' time instead of the clock.
// All timeout options belong to one aggregate filter per task_id pattern.
//
// Like Logstash's, the filter needs events in order: a pipeline holding one
// runs one worker unless pipeline.workers is set, and `check` warns when it
// is set above one (Logstash's docs require -w 1). Maps live in memory: at
// most max_maps per task_id pattern (a new task beyond that evicts the
// oldest map as if it had timed out, pushing it when a push option is set;
// counted in maps_evicted and logged), and a warning past
// map_count_warning_threshold. With aggregate_maps_path the maps are
// written to that file when the pipeline stops and read back, and the file
// removed, when it next runs (the file is this engine's own format, not
// Logstash's Marshal file); a file that cannot be read is moved aside to
// <path>.damaged-<time> with an error naming both, and the pipeline starts
// with no maps.
//
// An exception in code tags the event _aggregateexception and passes it on
// without the common options (add_field …), and the task's map keeps what it
// held before; a Ruby co-process that dies fails the event in flight the same
// way and is started again for the next one.
package aggregate

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/plugins/internal/rubyproc"
)

func init() { engine.RegisterFilter("aggregate", New) }

// Options configures the aggregate filter.
type Options struct {
	// TaskID is the task's id, a sprintf pattern such as "%{taskid}"; it must
	// hold a %{…} reference. Events whose id cannot be rendered pass on
	// untouched. Maps are shared by the aggregate filters with the same
	// pattern.
	TaskID string `hcl:"task_id"`
	// Code is Ruby run for each event with `event`, `map` (the task's Hash),
	// `map_meta` (creation_timestamp, lastevent_timestamp, task_id, and
	// timeout and inactivity_timeout, which the code may set for this task;
	// 0 expires it at once) and `new_event_block`.
	Code string `hcl:"code"`
	// MapAction says what to do with the map: "create" (run the code only if
	// the task has no map yet, creating it), "update" (only if it has one),
	// or "create_or_update".
	MapAction string `hcl:"map_action,optional"`
	// EndOfTask deletes the task's map after the code ran.
	EndOfTask bool `hcl:"end_of_task,optional"`
	// AggregateMapsPath is a file where the pipeline's maps are written when
	// it stops and read from when it starts; set it on one aggregate filter
	// of the pipeline only.
	AggregateMapsPath string `hcl:"aggregate_maps_path,optional"`
	// Timeout is how many seconds after its first event a task expires
	// (1800 when no filter of the pattern sets it).
	Timeout *float64 `hcl:"timeout,optional"`
	// InactivityTimeout is how many seconds after its last event a task
	// expires; it must be lower than timeout.
	InactivityTimeout *float64 `hcl:"inactivity_timeout,optional"`
	// TimeoutCode is Ruby run on the event made of an expired map, with the
	// event in `event`.
	TimeoutCode string `hcl:"timeout_code,optional"`
	// PushMapAsEventOnTimeout pushes an expired task's map as a new event.
	PushMapAsEventOnTimeout bool `hcl:"push_map_as_event_on_timeout,optional"`
	// PushPreviousMapAsEvent pushes the previous task's map as a new event
	// when an event of a new task comes (tasks that come one after the
	// other), and expired maps as push_map_as_event_on_timeout does.
	PushPreviousMapAsEvent bool `hcl:"push_previous_map_as_event,optional"`
	// TimeoutTimestampField is the field holding the events' time: timeouts
	// are then measured in event time (for old logs), not by the clock.
	TimeoutTimestampField string `hcl:"timeout_timestamp_field,optional"`
	// TimeoutTaskIDField is the field of a pushed map's event that gets the
	// task id.
	TimeoutTaskIDField string `hcl:"timeout_task_id_field,optional"`
	// TimeoutTags are added to the events made of maps (sprintf patterns).
	TimeoutTags []string `hcl:"timeout_tags,optional"`
	// MapCountWarningThreshold logs a warning when a task_id pattern holds
	// that many maps (again every fifth of it while above); 0 disables it.
	MapCountWarningThreshold int `hcl:"map_count_warning_threshold,optional"`
	// MaxMaps bounds the maps one task_id pattern keeps in memory (not a
	// Logstash option): a new task beyond it evicts the oldest map as a
	// timeout would, counted and logged.
	MaxMaps int `hcl:"max_maps,optional"`
}

// Defaults sets Logstash's defaults.
func (o *Options) Defaults() {
	o.MapAction = "create_or_update"
	o.MapCountWarningThreshold = 5000
	o.MaxMaps = 1_000_000
}

// Validate checks the options on their own; what involves the other
// aggregate filters of the pipeline is checked when they are built.
func (o *Options) Validate() error {
	if !strings.Contains(o.TaskID, "%{") || !strings.Contains(o.TaskID[strings.Index(o.TaskID, "%{"):], "}") {
		return &engine.FieldError{Field: "task_id", Err: fmt.Errorf("Aggregate plugin: task_id pattern '%s' must contain a dynamic expression like '%%{field}'", o.TaskID)}
	}
	switch o.MapAction {
	case "create", "update", "create_or_update":
	default:
		return &engine.FieldError{Field: "map_action", Err: fmt.Errorf(`%q is not one of "create", "update", "create_or_update"`, o.MapAction)}
	}
	for _, f := range []struct {
		name string
		v    *float64
	}{{"timeout", o.Timeout}, {"inactivity_timeout", o.InactivityTimeout}} {
		if f.v != nil && (*f.v < 0 || math.IsNaN(*f.v) || math.IsInf(*f.v, 0)) {
			return &engine.FieldError{Field: f.name, Err: fmt.Errorf("%v is not a number of seconds ≥ 0", *f.v)}
		}
	}
	if o.InactivityTimeout != nil {
		limit := float64(defaultTimeout)
		if o.Timeout != nil {
			limit = *o.Timeout
		}
		if *o.InactivityTimeout > limit {
			timeout := "nil"
			if o.Timeout != nil {
				timeout = fmt.Sprint(*o.Timeout)
			}
			return &engine.FieldError{Field: "inactivity_timeout", Err: fmt.Errorf("Aggregate plugin: For task_id pattern %s, inactivity_timeout (%v) must be lower than timeout (%s)", o.TaskID, *o.InactivityTimeout, timeout)}
		}
	}
	if o.MapCountWarningThreshold < 0 {
		return &engine.FieldError{Field: "map_count_warning_threshold", Err: errors.New("must be 0 (no warning) or more")}
	}
	if o.MaxMaps < 1 {
		return &engine.FieldError{Field: "max_maps", Err: errors.New("must be 1 or more")}
	}
	for _, f := range []struct{ name, src string }{{"code", o.Code}, {"timeout_code", o.TimeoutCode}} {
		if m := rubyproc.JavaOnly.FindString(f.src); m != "" {
			return &engine.FieldError{Field: f.name, Err: fmt.Errorf("uses %q, which needs JRuby (Logstash's Java runtime); rewrite it in plain Ruby", m)}
		}
	}
	return nil
}

// hasTimeoutOptions is Logstash's has_timeout_options?.
func (o *Options) hasTimeoutOptions() bool {
	return o.Timeout != nil || o.InactivityTimeout != nil || o.TimeoutCode != "" || o.PushMapAsEventOnTimeout ||
		o.PushPreviousMapAsEvent || o.TimeoutTimestampField != "" || o.TimeoutTaskIDField != "" || len(o.TimeoutTags) > 0
}

// defaultTimeout is Logstash's DEFAULT_TIMEOUT, in seconds.
const defaultTimeout = 1800

// maxMapBytes bounds one task's map (its Marshal dump): code that makes it
// larger fails for that event, and the map keeps what it held.
const maxMapBytes = 16 << 20

// Filter is one aggregate filter.
type Filter struct {
	o         Options
	taskID    event.Template
	tsField   event.Ref
	hasTSRef  bool
	taskField event.Ref
	hasTaskF  bool
	bin       string
	init      []byte
	log       *slog.Logger
	st        *state
	pat       *pattern
	errs      rubyproc.ErrorLog
	proc      *rubyproc.Proc // under st.mu
	reqBuf    []byte         // under st.mu
	// checkEveryFlush: a map has a timeout of its own (map_meta), so expiry
	// is checked on every flush.
	checkEveryFlush bool
	warnCount       int // events since the last map count warning

	pushed, timedOut, codeErrors, timeoutCodeErrors, evicted, procFailures atomic.Int64
}

var (
	_ engine.Filter             = (*Filter)(nil)
	_ engine.Flusher            = (*Filter)(nil)
	_ engine.NotThreadsafe      = (*Filter)(nil)
	_ engine.NewEventsUnmatched = (*Filter)(nil)
	_ engine.Counted            = (*Filter)(nil)
)

// NotThreadsafe: the filter needs one worker, as Logstash's docs say.
func (*Filter) NotThreadsafe() {}

// NewEventsUnmatched: pushed maps and new events do not get the common
// options, as in Logstash.
func (*Filter) NewEventsUnmatched() {}

// state is what the aggregate filters of one pipeline share.
type state struct {
	mu       sync.Mutex
	patterns map[string]*pattern
	// path is the aggregate_maps_path of the pipeline (one filter sets it);
	// loaded says it was read.
	path   string
	loaded bool
	closed bool
	log    *slog.Logger
	now    func() time.Time // the clock (tests set their own)
}

// pattern holds the maps of one task_id pattern, oldest first.
type pattern struct {
	tasks *list.List // of *task
	byID  map[string]*list.Element
	// flusher is the filter that expires this pattern's maps: the one with
	// timeout options, else the first flushed.
	flusher   *Filter
	lastFlush time.Time
	// timeout and inactivity (seconds) of the flusher.
	timeout, inactivity float64
}

// task is one task's map and times. created and last are the reference
// times (event time with timeout_timestamp_field, else the clock);
// createdSys and lastSys the clock at that moment, as Logstash's
// difference_from_*_to_now, which flushes compare.
type task struct {
	id                  string
	blob                string // the map, Marshal dump in base64 ("" for a new one)
	created, last       time.Time
	createdSys, lastSys time.Time
	timeout, inactivity *float64 // set by code through map_meta
}

func (p *pattern) get(id string) *task {
	if el, ok := p.byID[id]; ok {
		return el.Value.(*task)
	}
	return nil
}

func (p *pattern) remove(id string) {
	if el, ok := p.byID[id]; ok {
		p.tasks.Remove(el)
		delete(p.byID, id)
	}
}

func (p *pattern) add(t *task) {
	p.byID[t.id] = p.tasks.PushBack(t)
}

// shift removes and returns the oldest map.
func (p *pattern) shift() *task {
	el := p.tasks.Front()
	if el == nil {
		return nil
	}
	t := el.Value.(*task)
	p.tasks.Remove(el)
	delete(p.byID, t.id)
	return t
}

func newPattern() *pattern {
	return &pattern{tasks: list.New(), byID: map[string]*list.Element{}}
}

// New builds an aggregate filter: it compiles the code in a Ruby co-process
// and checks the options that involve the pipeline's other aggregate
// filters, as Logstash's register.
func New(o Options, r engine.Resources) (*Filter, error) {
	bin, err := rubyproc.Binary()
	if err != nil {
		return nil, err
	}
	log := r.Logger
	if log == nil {
		log = slog.Default()
	}
	f := &Filter{o: o, bin: bin, log: log}
	if f.taskID, err = event.ParseTemplate(o.TaskID); err != nil {
		return nil, &engine.FieldError{Field: "task_id", Err: err}
	}
	if o.TimeoutTimestampField != "" {
		if f.tsField, err = event.ParseRef(o.TimeoutTimestampField); err != nil {
			return nil, &engine.FieldError{Field: "timeout_timestamp_field", Err: err}
		}
		f.hasTSRef = true
	}
	if o.TimeoutTaskIDField != "" {
		if f.taskField, err = event.ParseRef(o.TimeoutTaskIDField); err != nil {
			return nil, &engine.FieldError{Field: "timeout_task_id_field", Err: err}
		}
		f.hasTaskF = true
	}
	req := map[string]any{"code": o.Code}
	if o.TimeoutCode != "" {
		req["timeout_code"] = o.TimeoutCode
	}
	f.init = event.AppendJSONValue(nil, map[string]any{"op": "init", "aggregate": req})
	p, _, err := rubyproc.Start(bin, f.init, log)
	if err != nil {
		return nil, &engine.FieldError{Field: "code", Err: err}
	}
	p.Close()

	f.st = &state{patterns: map[string]*pattern{}, log: log, now: time.Now}
	if r.Shared != nil {
		f.st = r.Shared("aggregate", func() any { return f.st }).(*state)
	}
	st := f.st
	st.mu.Lock()
	defer st.mu.Unlock()
	pat := st.patterns[o.TaskID]
	if pat == nil {
		pat = newPattern()
		st.patterns[o.TaskID] = pat
	}
	if o.hasTimeoutOptions() {
		if pat.flusher != nil {
			return nil, fmt.Errorf("Aggregate plugin: For task_id pattern '%s', there are more than one filter which defines timeout options. All timeout options have to be defined in only one aggregate filter per task_id pattern. Timeout options are : timeout, inactivity_timeout, timeout_code, push_map_as_event_on_timeout, push_previous_map_as_event, timeout_timestamp_field, timeout_task_id_field, timeout_tags", o.TaskID)
		}
		pat.flusher = f
		pat.timeout, pat.inactivity = f.timeouts()
	}
	if o.AggregateMapsPath != "" {
		if st.path != "" {
			return nil, &engine.FieldError{Field: "aggregate_maps_path", Err: errors.New("Aggregate plugin: Option 'aggregate_maps_path' must be set on only one aggregate filter")}
		}
		st.path = o.AggregateMapsPath
	}
	f.pat = pat
	return f, nil
}

// timeouts are the filter's timeout and inactivity_timeout with their
// defaults (Logstash's init_pipeline_timeout_management).
func (f *Filter) timeouts() (float64, float64) {
	t := float64(defaultTimeout)
	if f.o.Timeout != nil {
		t = *f.o.Timeout
	}
	in := t
	if f.o.InactivityTimeout != nil {
		in = *f.o.InactivityTimeout
	}
	return t, in
}

// Counters are Logstash's aggregate metrics and what the engine adds.
func (f *Filter) Counters() []engine.Counter {
	return []engine.Counter{
		{Name: "pushed_events", Help: "Events made of aggregate maps (timeouts, previous maps).", Value: f.pushed.Load()},
		{Name: "task_timeouts", Help: "Aggregate maps that expired.", Value: f.timedOut.Load()},
		{Name: "code_errors", Help: "Events whose aggregate code raised an exception.", Value: f.codeErrors.Load()},
		{Name: "timeout_code_errors", Help: "Pushed maps whose timeout_code raised an exception.", Value: f.timeoutCodeErrors.Load()},
		{Name: "maps_evicted", Help: "Aggregate maps evicted because max_maps was reached.", Value: f.evicted.Load()},
		{Name: "co_process_failures", Help: "Ruby co-processes that died or answered nonsense.", Value: f.procFailures.Load()},
	}
}

// Filter runs the code on e with its task's map.
func (f *Filter) Filter(_ context.Context, e *event.Event, out []*event.Event) ([]*event.Event, error) {
	id := f.taskID.Render(e)
	if id == f.o.TaskID {
		return append(out, e), engine.ErrNotApplied
	}
	st := f.st
	st.mu.Lock()
	defer st.mu.Unlock()
	f.load()
	pat := f.pat
	f.checkMapCount()
	var pushed []*event.Event
	ref, err := f.refTime(e)
	if err != nil {
		e.AddTag("_aggregateexception")
		f.errs.Log(f.log, "Aggregate exception occurred", err)
		return append(out, e), err
	}
	if f.hasTSRef {
		pushed = f.expireByEventTime(id, ref, pushed)
	}
	t := pat.get(id)
	if t == nil {
		if f.o.MapAction == "update" {
			return append(append(out, e), pushed...), engine.ErrNotApplied
		}
		if f.o.PushPreviousMapAsEvent && pat.tasks.Len() > 0 {
			pushed = f.pushTask(pat.shift(), pushed)
		}
		for pat.tasks.Len() >= f.o.MaxMaps {
			old := pat.shift()
			f.evicted.Add(1)
			f.errs.Log(f.log, "aggregate map evicted: max_maps reached", fmt.Errorf("%d maps for task_id pattern %q", f.o.MaxMaps, f.o.TaskID), "task_id", old.id)
			if f.pushesOnTimeout() {
				pushed = f.pushTask(old, pushed)
			}
		}
		sys := f.st.now()
		t = &task{id: id, created: ref, last: ref, createdSys: sysOf(ref, sys), lastSys: sysOf(ref, sys)}
		pat.add(t)
	} else if f.o.MapAction == "create" {
		return append(append(out, e), pushed...), engine.ErrNotApplied
	}
	sys := f.st.now()
	t.last, t.lastSys = ref, sysOf(ref, sys)

	res, procErr := f.run(e, t, sys)
	if procErr != nil {
		// The co-process failed: the map keeps what it held.
		e.AddTag("_aggregateexception")
		f.codeErrors.Add(1)
		f.errs.Log(f.log, "Aggregate exception occurred", procErr, "task_id", id)
		if f.o.EndOfTask {
			pat.remove(id)
		}
		return append(append(out, e), pushed...), procErr
	}
	// As in Logstash the map keeps what the code did to it, even when it
	// raised after.
	t.blob = res.blob
	t.timeout, t.inactivity = res.timeout, res.inactivity
	if f.o.EndOfTask {
		pat.remove(id)
	}
	if t.timeout != nil || t.inactivity != nil {
		pushed = f.customTimeout(t, pushed)
	}
	if res.kept {
		out = append(out, e)
	}
	out = append(out, res.news...)
	out = append(out, pushed...)
	if res.err != "" {
		f.codeErrors.Add(1)
		err := errors.New("aggregate code: " + res.err)
		f.errs.Log(f.log, "Aggregate exception occurred", err, "task_id", id)
		return out, err
	}
	return out, nil
}

// sysOf is the clock at a reference time as Logstash computes it: the
// reference plus the whole seconds between it and now.
func sysOf(ref, sys time.Time) time.Time {
	return ref.Add(sys.Sub(ref).Truncate(time.Second))
}

// refTime is the event's time with timeout_timestamp_field, else the clock.
func (f *Filter) refTime(e *event.Event) (time.Time, error) {
	if !f.hasTSRef {
		return f.st.now(), nil
	}
	v, _ := e.Get(f.tsField)
	t, ok := v.(time.Time)
	if !ok {
		return time.Time{}, fmt.Errorf("timeout_timestamp_field %s holds %T, not a timestamp", f.o.TimeoutTimestampField, v)
	}
	return t, nil
}

func (f *Filter) pushesOnTimeout() bool {
	fl := f.flusherOf()
	return fl.o.PushMapAsEventOnTimeout || fl.o.PushPreviousMapAsEvent
}

// flusherOf is the filter holding the pattern's timeout options (this one
// when none does).
func (f *Filter) flusherOf() *Filter {
	if f.pat.flusher != nil {
		return f.pat.flusher
	}
	return f
}

// expireByEventTime expires the task's map when the event's time is past
// its timeouts (timeout_timestamp_field).
func (f *Filter) expireByEventTime(id string, ref time.Time, pushed []*event.Event) []*event.Event {
	t := f.pat.get(id)
	if t == nil {
		return pushed
	}
	fl := f.flusherOf()
	timeout, inactivity := fl.timeouts()
	if t.timeout != nil {
		timeout = *t.timeout
	}
	if t.inactivity != nil {
		inactivity = *t.inactivity
	}
	if t.created.Before(ref.Add(-seconds(timeout))) || t.last.Before(ref.Add(-seconds(inactivity))) {
		f.pat.remove(id)
		f.timedOut.Add(1)
		if f.pushesOnTimeout() {
			pushed = f.pushTask(t, pushed)
		}
	}
	return pushed
}

// customTimeout handles a timeout the code set through map_meta: 0 expires
// the task now; another value makes every flush check expiry.
func (f *Filter) customTimeout(t *task, pushed []*event.Event) []*event.Event {
	fl := f.flusherOf()
	if (t.timeout != nil && *t.timeout == 0) || (t.inactivity != nil && *t.inactivity == 0) {
		f.pat.remove(t.id)
		f.timedOut.Add(1)
		if fl.o.PushMapAsEventOnTimeout {
			pushed = f.pushTask(t, pushed)
		}
		return pushed
	}
	fl.checkEveryFlush = true
	return pushed
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// checkMapCount logs Logstash's memory warning.
func (f *Filter) checkMapCount() {
	th := f.o.MapCountWarningThreshold
	if th == 0 {
		return
	}
	n := f.pat.tasks.Len()
	if n < th {
		f.warnCount = 0
		return
	}
	if f.warnCount == 0 {
		f.log.Warn(fmt.Sprintf("Aggregate filter memory warning: task_id pattern '%s' has %d maps in memory (threshold: %d).", f.o.TaskID, n, th),
			"task_id_pattern", f.o.TaskID, "map_count", n, "threshold", th)
	}
	f.warnCount = (f.warnCount + 1) % max(th/5, 1)
}

// Flush expires the pattern's maps (when this filter is the one holding its
// timeout options, or the first flushed), pushing them as events when a push
// option is set; the final flush also pushes the last map with
// push_previous_map_as_event, and tags what it pushes _aggregatefinalflush.
func (f *Filter) Flush(_ context.Context, final bool, out []*event.Event) []*event.Event {
	st := f.st
	st.mu.Lock()
	defer st.mu.Unlock()
	f.load()
	pat := f.pat
	if pat.flusher == nil {
		pat.flusher = f
		pat.timeout, pat.inactivity = f.timeouts()
	}
	if pat.flusher != f {
		return out
	}
	t := f.st.now()
	if !pat.lastFlush.IsZero() && !t.After(pat.lastFlush.Add(seconds(pat.inactivity/2))) && !final && !f.checkEveryFlush {
		return out
	}
	start := len(out)
	minCreated, minLast := t.Add(-seconds(pat.timeout)), t.Add(-seconds(pat.inactivity))
	var next *list.Element
	for el := pat.tasks.Front(); el != nil; el = next {
		next = el.Next()
		k := el.Value.(*task)
		mc, ml := minCreated, minLast
		if k.timeout != nil {
			mc = t.Add(-seconds(*k.timeout))
		}
		if k.inactivity != nil {
			ml = t.Add(-seconds(*k.inactivity))
		}
		if k.createdSys.Before(mc) || k.lastSys.Before(ml) {
			pat.remove(k.id)
			f.timedOut.Add(1)
			if f.o.PushPreviousMapAsEvent || f.o.PushMapAsEventOnTimeout {
				out = f.pushTask(k, out)
			}
		}
	}
	if final && f.o.PushPreviousMapAsEvent && pat.tasks.Len() > 0 {
		out = f.pushTask(pat.shift(), out)
	}
	if pat.tasks.Len() == 0 {
		f.checkEveryFlush = false
	}
	if final {
		for _, e := range out[start:] {
			e.AddTag("_aggregatefinalflush")
		}
	}
	pat.lastFlush = t
	return out
}

// Close writes the maps to aggregate_maps_path (by the filter that has it)
// and stops the co-process.
func (f *Filter) Close() error {
	st := f.st
	st.mu.Lock()
	defer st.mu.Unlock()
	if f.proc != nil {
		f.proc.Close()
		f.proc = nil
	}
	if f.o.AggregateMapsPath == "" || st.closed {
		return nil
	}
	st.closed = true
	f.load()
	return st.store()
}
