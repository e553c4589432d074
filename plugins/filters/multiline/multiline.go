// Package multiline implements the multiline filter, like Logstash's
// (deprecated there in favour of the multiline codec, and still found in
// many configurations): it joins the events of one stream whose source
// field continues the event before (what => "previous") or after (what =>
// "next") into one event.
//
// Each event's source field (message) is tested against pattern (a grok
// pattern: Logstash's library plus patterns_dir; for a list, its first
// element); negate inverts the result. Events are grouped by
// stream_identity ("%{host}.%{path}.%{type}"), rendered per event. With
// "previous", a matching event is held (and tagged multiline) with the
// events before it; a non-matching one ends the held events, which leave as
// one merged event, and is held in turn. With "next", a matching event is
// held (tagged multiline) and the next non-matching one is merged with the
// held events and leaves; a non-matching event with nothing held passes
// unchanged. Held events are dropped from the pipeline (acknowledged);
// only the merged event goes on.
//
// Merging is Logstash's: the source fields are joined with "\n" (duplicates
// kept, unless allow_duplicates is false); other fields present in several
// events become the list of their distinct values, hashes are merged key by
// key; @timestamp is the first event's; [@metadata] is merged the same way.
//
// Held events leave, merged, once the first of them is max_age seconds old
// (by its @timestamp, as Logstash) at a periodic flush (every 5 s), and
// when the pipeline stops. Merged events leaving at a flush do not get the
// common options (add_field, add_tag …), unlike Logstash's.
//
// Limits: at most MaxHeldEvents events are held per stream (the held
// events leave merged when one more would be held) and at most MaxStreams
// streams hold events at once (an event of a further stream passes
// unchanged, with a warning). The filter needs its events in order: as
// Logstash, it makes the pipeline default to one worker.
//
// Failure semantics: an event without the source field counts as not
// matching.
package multiline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/plugins/filters/grok"
)

func init() { engine.RegisterFilter("multiline", New) }

// Budgets on what the filter holds.
const (
	// MaxHeldEvents is the most events held for one stream.
	MaxHeldEvents = 10000
	// MaxStreams is the most streams holding events at once.
	MaxStreams = 10000
)

// Tag is the tag of held (continuation) events, and so of merged ones.
const Tag = "multiline"

// Options configures the multiline filter. Names and defaults are
// Logstash's.
type Options struct {
	// Pattern is the grok pattern the source field is tested against.
	Pattern string `hcl:"pattern"`
	// What is "previous" (a matching event belongs to the events before it)
	// or "next" (a matching event is joined with the events after it).
	What string `hcl:"what"`
	// Negate applies what to the events that do not match instead.
	Negate bool `hcl:"negate,optional"`
	// Source is the field tested and joined.
	Source string `hcl:"source,optional"`
	// StreamIdentity is a sprintf template naming the stream of an event:
	// only events of one stream are joined.
	StreamIdentity string `hcl:"stream_identity,optional"`
	// PatternsDir are files, or directories of files, of further grok
	// pattern definitions.
	PatternsDir []string `hcl:"patterns_dir,optional"`
	// MaxAge is how many seconds after its first event's @timestamp a
	// stream's held events leave at the next periodic flush.
	MaxAge float64 `hcl:"max_age,optional"`
	// AllowDuplicates keeps repeated lines in the joined source field.
	AllowDuplicates bool `hcl:"allow_duplicates,optional"`
	// PeriodicFlush is accepted for Logstash's sake: the filter always
	// flushes periodically, as Logstash's forces it.
	PeriodicFlush bool `hcl:"periodic_flush,optional"`
}

// Defaults sets Logstash's defaults.
func (o *Options) Defaults() {
	o.Source = "message"
	o.StreamIdentity = "%{host}.%{path}.%{type}"
	o.MaxAge = 5
	o.AllowDuplicates = true
	o.PeriodicFlush = true
}

// Validate checks the options; the pattern is compiled by New (it may use
// patterns_dir's files).
func (o *Options) Validate() error {
	fe := func(f string, err error) error { return &engine.FieldError{Field: f, Err: err} }
	if o.Pattern == "" {
		return fe("pattern", errors.New("must not be empty"))
	}
	if o.What != "previous" && o.What != "next" {
		return fe("what", fmt.Errorf("unsupported value %q: want \"previous\" or \"next\"", o.What))
	}
	if _, err := event.ParseRef(o.Source); err != nil {
		return fe("source", err)
	}
	if _, err := event.ParseTemplate(o.StreamIdentity); err != nil {
		return fe("stream_identity", err)
	}
	if o.MaxAge < 0 {
		return fe("max_age", errors.New("must not be negative"))
	}
	return nil
}

// Filter is the multiline filter.
type Filter struct {
	match     *grok.Matcher
	negate    bool
	next      bool
	source    event.Ref
	sourceKey string
	stream    event.Template
	maxAge    time.Duration
	dups      bool
	log       *slog.Logger
	now       func() time.Time

	mu      sync.Mutex
	pending map[string][]*event.Event
}

var (
	_ engine.Filter        = (*Filter)(nil)
	_ engine.Flusher       = (*Filter)(nil)
	_ engine.NotThreadsafe = (*Filter)(nil)
)

// New builds a multiline filter.
func New(o Options, r engine.Resources) (*Filter, error) {
	m, err := grok.CompileMatcher(o.Pattern, o.PatternsDir)
	if err != nil {
		return nil, &engine.FieldError{Field: "pattern", Err: err}
	}
	log := r.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Filter{
		match: m, negate: o.Negate, next: o.What == "next", source: event.MustRef(o.Source), sourceKey: o.Source,
		stream: event.MustTemplate(o.StreamIdentity), maxAge: time.Duration(o.MaxAge * float64(time.Second)),
		dups: o.AllowDuplicates, log: log, now: time.Now, pending: map[string][]*event.Event{},
	}, nil
}

// NotThreadsafe makes the pipeline default to one worker, as Logstash.
func (*Filter) NotThreadsafe() {}

func (f *Filter) matches(e *event.Event) bool {
	v, _ := e.Get(f.source)
	if l, ok := v.([]any); ok && len(l) > 0 {
		v = l[0]
	}
	s, ok := v.(string)
	return (ok && f.match.MatchString(s)) != f.negate
}

// Filter holds, passes or merges e.
func (f *Filter) Filter(_ context.Context, e *event.Event, out []*event.Event) ([]*event.Event, error) {
	match := f.matches(e)
	key := f.stream.Render(e)
	f.mu.Lock()
	defer f.mu.Unlock()
	held, known := f.pending[key]
	if !known && len(f.pending) >= MaxStreams && (match || !f.next) {
		f.log.Warn("multiline: too many streams hold events; event passed unchanged", "max_streams", MaxStreams)
		return append(out, e), nil
	}
	if len(held) >= MaxHeldEvents {
		out = append(out, f.merge(held))
		held = nil
	}
	switch {
	case match:
		e.AddTag(Tag)
		f.pending[key] = append(held, e)
	case f.next:
		if len(held) == 0 {
			return append(out, e), nil
		}
		out = append(out, f.merge(append(held, e)))
		delete(f.pending, key)
	default: // previous, not matching: a new event starts
		if len(held) > 0 {
			out = append(out, f.merge(held))
		}
		f.pending[key] = []*event.Event{e}
	}
	return out, nil
}

// Flush lets out the held events of the streams whose first event is
// max_age old, or all of them when final.
func (f *Filter) Flush(_ context.Context, final bool, out []*event.Event) []*event.Event {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.now()
	keys := slices.Sorted(maps.Keys(f.pending)) // a stable order of the events
	for _, key := range keys {
		held := f.pending[key]
		if len(held) == 0 {
			delete(f.pending, key)
			continue
		}
		if final || now.Sub(held[0].Timestamp()) >= f.maxAge {
			out = append(out, f.merge(held))
			delete(f.pending, key)
		}
	}
	return out
}

var metadataRef = event.MustRef("[@metadata]")

// merge makes one event of events, as Logstash's merge does.
func (f *Filter) merge(events []*event.Event) *event.Event {
	fields := map[string]any{}
	var meta map[string]any
	for _, e := range events {
		c := e.Copy()
		// @timestamp is the first event's (set below): merging every line's
		// into a list of distinct values was quadratic work thrown away.
		cf := c.Fields()
		delete(cf, event.TimestampField)
		mergeMaps(fields, cf, f.sourceKey, f.dups)
		if m := c.Metadata(); len(m) > 0 {
			if meta == nil {
				meta = map[string]any{}
			}
			mergeMaps(meta, m, "", true)
		}
	}
	fields[event.TimestampField] = events[0].Timestamp()
	// The source field: its values joined with newlines.
	if l, ok := fields[f.sourceKey].([]any); ok {
		parts := make([]string, len(l))
		for i, x := range l {
			if s, isString := x.(string); isString {
				parts[i] = s
			} else {
				parts[i] = string(event.AppendJSONValue(nil, x))
			}
		}
		fields[f.sourceKey] = strings.Join(parts, "\n")
	}
	if v, ok := fields["tags"]; ok {
		if _, isList := v.([]any); !isList {
			fields["tags"] = []any{v}
		}
	}
	out, err := event.FromMap(fields)
	if err != nil { // cannot happen: the values come from events
		out = events[0].Copy()
	}
	if meta != nil {
		_ = out.Set(metadataRef, meta)
	}
	return out
}

// mergeMaps merges src into dst as Logstash's event_hash_merge!: hashes key
// by key; other values into the list of distinct values (all values for
// dupsKey), a single value staying single unless either side is a list.
func mergeMaps(dst, src map[string]any, dupsKey string, dups bool) {
	for k, sv := range src {
		dv, ok := dst[k]
		if !ok {
			dst[k] = sv
			continue
		}
		dm, dIsMap := dv.(map[string]any)
		sm, sIsMap := sv.(map[string]any)
		if dIsMap && sIsMap {
			mergeMaps(dm, sm, "", dups)
			continue
		}
		dl, dIsList := dv.([]any)
		sl, sIsList := sv.([]any)
		if !dIsList {
			dl = []any{dv}
		}
		if !sIsList {
			sl = []any{sv}
		}
		var v []any
		if dups && k == dupsKey {
			// In place: dl is dst's own (a copy, or made just above), so
			// merging n lines appends n times instead of copying n²/2.
			v = append(dl, sl...)
		} else {
			v = union(dl, sl)
		}
		if !dIsList && !sIsList && len(v) == 1 {
			dst[k] = v[0]
		} else {
			dst[k] = v
		}
	}
}

func union(a, b []any) []any {
	var out []any
	for _, x := range append(append([]any{}, a...), b...) {
		seen := false
		for _, y := range out {
			if reflect.DeepEqual(x, y) {
				seen = true
				break
			}
		}
		if !seen {
			out = append(out, x)
		}
	}
	return out
}
