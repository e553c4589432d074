package engine

import (
	"path"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pipelined/pipeline/engine/event"
)

// Taps: `pipeline tap` watches events as they enter or leave plugins of a
// running pipeline. With nobody tapping, the hooks cost one atomic load per
// batch (worker) or per emitted or delivered batch; the per-event hooks of
// the filters run only while a tap is attached.

// Tap kinds: an event leaving a plugin (an input's emitted events, what a
// filter passes on, what an output delivered) or entering one (a filter's
// or an output's).
const (
	TapOutputOf = "output_of"
	TapInputOf  = "input_of"
)

// Kinds of a tap of events not delivered (TapSpec.Dropped), with a
// reason: dropped by a filter (drop), unrouted (no output condition
// matched; the reason names the condition chain) and failed (a filter
// failed on it and tagged it, or an output refused it for good).
const (
	TapDropped  = "dropped"
	TapUnrouted = "unrouted"
	TapFailed   = "failed"
)

// tapHooks turns the hooks on; only the benchmark of their cost turns them
// off, as the peer of a pipeline without tap support.
var tapHooks = true

// tapBuffer bounds the events waiting for a slow tap reader; more are
// skipped (and counted in TapStream.Skipped).
const tapBuffer = 256

// TapSpec selects what a tap samples.
type TapSpec struct {
	// OutputsOf and InputsOf are globs (path.Match) of plugin ids.
	OutputsOf, InputsOf []string
	// Dropped samples the events not delivered: dropped, unrouted and
	// failed, with the reason.
	Dropped bool
	// Interval: at most one event per plugin and kind per Interval (0:
	// every event, as far as the reader keeps up).
	Interval time.Duration
}

// TapEvent is one sampled event.
type TapEvent struct {
	Pipeline, Plugin, Kind string
	// Reason says why an event of kind dropped, unrouted or failed was not
	// delivered.
	Reason string
	// Event is the event's JSON, with [@metadata], as it was then.
	Event []byte
}

// TapStream is an attached tap: read C until Close.
type TapStream struct {
	C       <-chan TapEvent
	ch      chan TapEvent
	spec    TapSpec
	pl      *Pipeline
	mu      sync.Mutex
	last    map[string]time.Time // plugin+kind → last sample
	closed  bool
	skipped atomic.Int64
}

// Skipped counts the events the stream could not take (its buffer was
// full).
func (s *TapStream) Skipped() int64 { return s.skipped.Load() }

// Close detaches the tap and closes C.
func (s *TapStream) Close() {
	s.pl.taps.remove(s)
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		s.closed = true
		close(s.ch)
	}
}

// Tap attaches a tap to the pipeline.
func (p *Pipeline) Tap(spec TapSpec) *TapStream {
	ch := make(chan TapEvent, tapBuffer)
	s := &TapStream{C: ch, ch: ch, spec: spec, pl: p, last: map[string]time.Time{}}
	p.taps.add(s)
	return s
}

// tapHub holds a pipeline's taps.
type tapHub struct {
	active atomic.Bool
	mu     sync.Mutex
	subs   atomic.Pointer[[]*TapStream]
}

func (h *tapHub) add(s *TapStream) {
	h.mu.Lock()
	defer h.mu.Unlock()
	var subs []*TapStream
	if cur := h.subs.Load(); cur != nil {
		subs = append(subs, *cur...)
	}
	subs = append(subs, s)
	h.subs.Store(&subs)
	h.active.Store(true)
}

func (h *tapHub) remove(s *TapStream) {
	h.mu.Lock()
	defer h.mu.Unlock()
	cur := h.subs.Load()
	if cur == nil {
		return
	}
	var subs []*TapStream
	for _, x := range *cur {
		if x != s {
			subs = append(subs, x)
		}
	}
	h.subs.Store(&subs)
	h.active.Store(len(subs) > 0)
}

// offer hands events at plugin id, of kind, to the taps that want them.
func (p *Pipeline) tapOffer(id, kind string, evs []*event.Event) {
	cur := p.taps.subs.Load()
	if cur == nil {
		return
	}
	for _, s := range *cur {
		s.offer(p.name, id, kind, evs)
	}
}

// tapOfferWhy hands one event not delivered to the taps that sample them;
// reason is only called when one does.
func (p *Pipeline) tapOfferWhy(id, kind string, reason func() string, e *event.Event) {
	cur := p.taps.subs.Load()
	if cur == nil {
		return
	}
	var why string
	for _, s := range *cur {
		if !s.spec.Dropped {
			continue
		}
		if why == "" {
			why = reason()
		}
		s.offerWhy(p.name, id, kind, why, e)
	}
}

func (s *TapStream) offerWhy(pipeline, id, kind, why string, e *event.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || !s.due(kind+"\x00"+id) {
		return
	}
	select {
	case s.ch <- TapEvent{Pipeline: pipeline, Plugin: id, Kind: kind, Reason: why, Event: e.AppendJSONWithMetadata(nil)}:
	default:
		s.skipped.Add(1)
	}
}

// due reports whether the Interval lets one more event of key through now
// (and notes it); s.mu is held.
func (s *TapStream) due(key string) bool {
	if s.spec.Interval <= 0 {
		return true
	}
	now := time.Now()
	if now.Sub(s.last[key]) < s.spec.Interval {
		return false
	}
	s.last[key] = now
	return true
}

// failedReason says what failed on e: the filter, and the tag it put.
func failedReason(n *filterNode, e *event.Event) string {
	why := "filter " + n.id + " (" + n.typ + ") failed"
	if tags := e.Tags(); len(tags) > 0 {
		why += ": tagged " + tags[len(tags)-1]
	}
	return why
}

func errText(err error) string {
	if err == nil {
		return "(no reason given)"
	}
	return err.Error()
}

func (s *TapStream) wants(id, kind string) bool {
	globs := s.spec.OutputsOf
	if kind == TapInputOf {
		globs = s.spec.InputsOf
	}
	for _, g := range globs {
		if ok, _ := path.Match(g, id); ok {
			return true
		}
	}
	return false
}

func (s *TapStream) offer(pipeline, id, kind string, evs []*event.Event) {
	if len(evs) == 0 || !s.wants(id, kind) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	key := kind + "\x00" + id
	for _, e := range evs {
		if !s.due(key) {
			return
		}
		select {
		case s.ch <- TapEvent{Pipeline: pipeline, Plugin: id, Kind: kind, Event: e.AppendJSONWithMetadata(nil)}:
		default:
			s.skipped.Add(1)
		}
	}
}
