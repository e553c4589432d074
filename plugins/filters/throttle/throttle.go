// Package throttle implements the throttle filter, like Logstash's: it counts
// events per key (a sprintf template such as "%{host}%{message}") in time
// slots of period seconds, and "throttles" the events counted below
// before_count or above after_count in their slot. A throttled event gets the
// common options (add_tag => "throttled" is the usual one, followed by a drop
// in a conditional); the others pass on untouched, without them.
//
// Slots are measured on the events' @timestamp, not on the clock, so replayed
// or late events are counted in the slot of their time: a key's slots start at
// the time of its first event, and an event belongs to the slot
// epoch - ((epoch - first) mod period), rounded down as Ruby does for events
// older than the first. Slots older than max_age seconds before a key's
// newest slot are forgotten.
//
// With periodic_flush (the default) the filter runs Logstash's memory
// control every 5 seconds of wall-clock time: keys whose newest event is more
// than max_age older than the newest event of any key are forgotten, and while
// the counters kept exceed max_counters the age kept shrinks by 5 % of
// max_age (down to 5 %), growing back when they fall under 80 % of it. As a
// hard bound beside Logstash's, the filter keeps at most 1,048,576 keys (MaxKeys): past
// that a key is forgotten to make room, and the keys forgotten this way are
// counted (keys_evicted) and logged.
package throttle

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
)

func init() { engine.RegisterFilter("throttle", New) }

// MaxKeys is the most keys the filter counts at once, whatever max_counters
// says (max_counters is a soft target, reached by shrinking max_age).
const MaxKeys = 1 << 20

// flushEvery is how often the memory control runs, as Logstash's periodic
// flush.
const flushEvery = 5 * time.Second

// Options configures the throttle filter.
type Options struct {
	// Key identifies the events counted together; field references such as
	// "%{host}" are replaced by the event's values. Required.
	Key string `hcl:"key"`
	// BeforeCount throttles the events counted below it in their slot; -1
	// (the default) throttles none for this bound.
	BeforeCount int64 `hcl:"before_count,optional"`
	// AfterCount throttles the events counted above it in their slot; -1
	// (the default) throttles none for this bound.
	AfterCount int64 `hcl:"after_count,optional"`
	// Period is the length of a slot in seconds. It may reference fields
	// ("%{[@metadata][period]}"); text that does not start with a number,
	// 0 or a negative number means 60, as in Logstash (which reads it with
	// Ruby's to_i).
	Period string `hcl:"period,optional"`
	// MaxAge is how many seconds a slot is kept before the newest one of
	// its key; the memory control shrinks it while max_counters is exceeded.
	MaxAge int64 `hcl:"max_age,optional"`
	// MaxCounters is the number of slot counters the memory control aims to
	// keep under; -1 turns the memory control's max_age adjustment off.
	MaxCounters int64 `hcl:"max_counters,optional"`
	// PeriodicFlush runs the memory control every 5 seconds.
	PeriodicFlush bool `hcl:"periodic_flush,optional"`
}

// Defaults sets Logstash's defaults.
func (o *Options) Defaults() {
	o.BeforeCount = -1
	o.AfterCount = -1
	o.Period = "60"
	o.MaxAge = 3600
	o.MaxCounters = 100000
	o.PeriodicFlush = true
}

// Validate checks the templates and the bounds.
func (o *Options) Validate() error {
	if _, err := event.ParseTemplate(o.Key); err != nil {
		return &engine.FieldError{Field: "key", Err: err}
	}
	if strings.TrimSpace(o.Key) == "" {
		return &engine.FieldError{Field: "key", Err: errors.New("the key is empty: every event would count together; give a template such as \"%{host}\"")}
	}
	t, err := event.ParseTemplate(o.Period)
	if err != nil {
		return &engine.FieldError{Field: "period", Err: err}
	}
	if t.IsConstant() {
		if n, ok := leadingInt(o.Period); ok && n < 0 {
			return &engine.FieldError{Field: "period", Err: fmt.Errorf("period %q is negative; give a number of seconds", o.Period)}
		}
	}
	for _, c := range []struct {
		name string
		v    int64
	}{{"before_count", o.BeforeCount}, {"after_count", o.AfterCount}, {"max_counters", o.MaxCounters}} {
		if c.v < -1 {
			return &engine.FieldError{Field: c.name, Err: fmt.Errorf("%d is below -1 (-1 turns it off)", c.v)}
		}
	}
	if o.MaxAge <= 0 {
		return &engine.FieldError{Field: "max_age", Err: fmt.Errorf("max_age must be a positive number of seconds, not %d", o.MaxAge)}
	}
	return nil
}

// Filter is the throttle filter. It is safe for concurrent use.
type Filter struct {
	key           event.Template
	period        event.Template
	before, after int64
	maxAgeOrig    int64
	maxCounters   int64
	flush         bool
	log           *slog.Logger
	now           func() time.Time
	maxKeys       int

	mu        sync.Mutex
	keys      map[string]*slots
	maxAge    int64
	lastFlush time.Time
	evicted   int64
}

// slots are the counters of one key.
type slots struct {
	created, latest int64
	count           map[int64]int64
}

var _ engine.Filter = (*Filter)(nil)

// New builds a throttle filter.
func New(o Options, r engine.Resources) (*Filter, error) {
	log := r.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Filter{
		key:         event.MustTemplate(o.Key),
		period:      event.MustTemplate(o.Period),
		before:      o.BeforeCount,
		after:       o.AfterCount,
		maxAgeOrig:  o.MaxAge,
		maxAge:      o.MaxAge,
		maxCounters: o.MaxCounters,
		flush:       o.PeriodicFlush,
		log:         log,
		now:         time.Now,
		maxKeys:     MaxKeys,
		keys:        make(map[string]*slots),
	}, nil
}

// SetClock replaces the wall clock that paces the memory control (tests).
func (f *Filter) SetClock(now func() time.Time) {
	f.mu.Lock()
	f.now = now
	f.mu.Unlock()
}

// Counters reports the keys forgotten to stay within MaxKeys.
func (f *Filter) Counters() []engine.Counter {
	f.mu.Lock()
	defer f.mu.Unlock()
	return []engine.Counter{{Name: "keys_evicted", Help: "Throttle keys forgotten to stay within the filter's key budget.", Value: f.evicted}}
}

// Filter counts e and passes it on; it returns engine.ErrNotApplied (no
// common options) unless e is throttled.
func (f *Filter) Filter(_ context.Context, e *event.Event, out []*event.Event) ([]*event.Event, error) {
	out = append(out, e)
	key := f.key.Render(e)
	period := int64(60)
	if n, ok := leadingInt(f.period.Render(e)); ok && n > 0 {
		period = n
	}
	epoch := e.Timestamp().Unix()

	f.mu.Lock()
	s := f.keys[key]
	if s == nil {
		if len(f.keys) >= f.maxKeys {
			f.evictOne()
		}
		s = &slots{created: epoch, latest: epoch, count: make(map[int64]int64)}
		f.keys[key] = s
	}
	if epoch > s.latest {
		s.latest = epoch
	}
	slot := epoch - floorMod(epoch-s.created, period)
	s.count[slot]++
	count := s.count[slot]
	var newest int64
	first := true
	for k := range s.count {
		if first || k > newest {
			newest, first = k, false
		}
	}
	for k := range s.count {
		if k < newest-f.maxAge {
			delete(s.count, k)
		}
	}
	if f.flush {
		if now := f.now(); now.Sub(f.lastFlush) >= flushEvery {
			f.lastFlush = now
			f.memoryControl()
		}
	}
	f.mu.Unlock()

	if (f.before != -1 && count < f.before) || (f.after != -1 && count > f.after) {
		return out, nil
	}
	return out, engine.ErrNotApplied
}

// evictOne forgets one key (any: map order). Called with f.mu held.
func (f *Filter) evictOne() {
	for k := range f.keys {
		delete(f.keys, k)
		f.evicted++
		f.log.Warn("throttle: key budget reached, a key's counters were forgotten; use a key with fewer distinct values", "max_keys", f.maxKeys, "keys_evicted", f.evicted)
		return
	}
}

// memoryControl is Logstash's flush: it forgets keys idle for more than
// max_age (in event time) and adjusts max_age to max_counters. Called with
// f.mu held.
func (f *Filter) memoryControl() {
	var maxLatest int64
	for _, s := range f.keys {
		if s.latest > maxLatest {
			maxLatest = s.latest
		}
	}
	var total int64
	for k, s := range f.keys {
		if s.latest < maxLatest-f.maxAge {
			delete(f.keys, k)
		} else {
			total += int64(len(s.count))
		}
	}
	if f.maxCounters == -1 {
		return
	}
	over := total - f.maxCounters
	switch {
	case over > 0 && f.maxAge > f.maxAgeOrig*5/100:
		f.maxAge -= f.maxAgeOrig * 5 / 100
		f.log.Warn("throttle: decreased max_age because max_counters is exceeded; use a key with fewer distinct values", "max_age", f.maxAge, "over", over)
	case f.maxAge < f.maxAgeOrig && total < f.maxCounters*80/100:
		f.maxAge += f.maxAgeOrig * 5 / 100
		f.log.Warn("throttle: increased max_age because max_counters is no longer exceeded", "max_age", f.maxAge)
	}
}

// floorMod is Ruby's modulo: the result has the sign of m.
func floorMod(a, m int64) int64 {
	r := a % m
	if r != 0 && (r < 0) != (m < 0) {
		r += m
	}
	return r
}

// leadingInt reads s as Ruby's String#to_i does: leading whitespace, an
// optional sign, then digits (underscores between digits allowed); ok is
// false when no digit starts s.
func leadingInt(s string) (int64, bool) {
	s = strings.TrimLeft(s, " \t\n\v\f\r")
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	var digits []byte
	for ; i < len(s); i++ {
		c := s[i]
		if c >= '0' && c <= '9' {
			digits = append(digits, c)
			continue
		}
		if c == '_' && len(digits) > 0 && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9' {
			continue
		}
		break
	}
	if len(digits) == 0 {
		return 0, false
	}
	n, err := strconv.ParseInt(string(digits), 10, 64)
	if err != nil {
		return 0, false
	}
	if s[0] == '-' {
		n = -n
	}
	return n, true
}
