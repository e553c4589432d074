// Package event holds the log event that flows through a pipeline, parsed field
// references (Ref) and sprintf templates (Template).
//
// An Event is a JSON-like tree. Its values are only: nil, bool, int64, float64,
// string, time.Time, []any and map[string]any, and *big.Int for an integer
// beyond int64 that a filter computed exactly (Ruby's Bignum; treat it as
// immutable). @timestamp, @version, message and
// tags are ordinary fields; [@metadata] lives beside the fields and is never
// serialized by codecs or outputs.
//
// Time parsing and formatting (Joda patterns, ISO 8601, Logstash's timestamp
// text) are package timefmt's; the Ruby and Java text forms of values
// (Float#to_s, Double.toString, inspect) are package valuefmt's.
package event

import (
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"reflect"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/pipelined/pipeline/engine/timefmt"
)

// Well-known field names.
const (
	TimestampField = "@timestamp"
	VersionField   = "@version"
	MessageField   = "message"
	TagsField      = "tags"
	MetadataField  = "@metadata"

	// TimestampFailureTag and TimestampFailureField are set by FromMap, as by
	// Logstash's Event(Map), when the given @timestamp cannot be parsed: the
	// event gets the tag, the current time, and the original value in the field.
	TimestampFailureTag   = "_timestampparsefailure"
	TimestampFailureField = "_@timestamp"
)

// Acker is the engine's acknowledgement hook carried by an event. Plugins never
// call it: the engine retains one reference per copy of the event in flight and
// releases it when the copy is delivered or dropped.
type Acker interface {
	Retain(n int)
	Release(err error)
}

// Event is one log record. A filter may mutate the event it receives and must not
// keep it after returning; outputs must treat events as read-only, because one
// event may be shared by several outputs.
type Event struct {
	fields map[string]any
	meta   map[string]any
	acker  Acker
	// routes is how many outputs still have the event in hand, so that the
	// pipeline counts it out once, when the last of them is done with it.
	routes atomic.Int32
}

// New returns an event with @timestamp set to now (UTC, millisecond precision as
// in Logstash) and @version "1".
func New() *Event { return NewAt(time.Now()) }

// NewAt returns an event with @timestamp t (in UTC, truncated to milliseconds
// as New does) and @version "1". Inputs and codecs that make many events at
// once, such as the lines of one read buffer, stamp them all with one clock
// reading this way: in Logstash @timestamp is the time an event was read.
func NewAt(t time.Time) *Event {
	return &Event{fields: map[string]any{
		TimestampField: boxStamp(t.UTC().Truncate(time.Millisecond)),
		VersionField:   "1",
	}}
}

// NewMessage returns New() with the message field set.
func NewMessage(msg string) *Event { return NewMessageAt(msg, time.Now()) }

// NewMessageAt returns NewAt(t) with the message field set.
func NewMessageAt(msg string, t time.Time) *Event {
	return &Event{fields: map[string]any{
		TimestampField: boxStamp(t.UTC().Truncate(time.Millisecond)),
		VersionField:   "1",
		MessageField:   msg,
	}}
}

// NewMessageAtSized is NewMessageAt with room for size top-level fields in
// all, for a producer that knows how many it sets (a parser that sets a dozen
// fields on every event): the map is made once at its size instead of
// growing from the three fields set here.
func NewMessageAtSized(msg string, t time.Time, size int) *Event {
	m := make(map[string]any, max(size, 3))
	m[TimestampField] = boxStamp(t.UTC().Truncate(time.Millisecond))
	m[VersionField] = "1"
	m[MessageField] = msg
	return &Event{fields: m}
}

// Strings boxes strings into interface values (any) whose string headers
// share one allocation, for a producer that sets several string fields on
// each new event: any(s) allocates a header per string. Make one per event
// with NewStrings; beyond its capacity, and for a nil *Strings, Box is any(s).
// A slot is written once, before its interface value exists, and never
// again, so the values are as immutable as any(s). Not for concurrent use.
type Strings struct {
	s  []string
	ts *time.Time // NewMessageAtBlock's @timestamp slot, until used
}

// MaxBlockStrings is the most strings NewMessageAtBlock's Strings holds.
const MaxBlockStrings = 8

// eventBlock is an event allocated with the headers of its boxed strings and
// its parsed @timestamp: one allocation where there were three.
type eventBlock struct {
	e    Event
	b    Strings
	strs [MaxBlockStrings]string
	ts   time.Time
}

// NewMessageAtBlock is NewMessageAtSized whose event comes in one allocation
// with a Strings of MaxBlockStrings slots and a slot for the @timestamp that
// SetTimestampFrom sets: for a parser that sets several string fields and
// the time it read from the message on each event. The block stays alive as
// long as the event or any value boxed in it.
func NewMessageAtBlock(msg string, t time.Time, size int) (*Event, *Strings) {
	blk := &eventBlock{}
	m := make(map[string]any, max(size, 3))
	m[TimestampField] = boxStamp(t.UTC().Truncate(time.Millisecond))
	m[VersionField] = "1"
	m[MessageField] = msg
	blk.e.fields = m
	blk.b = Strings{s: blk.strs[:0:MaxBlockStrings], ts: &blk.ts}
	return &blk.e, &blk.b
}

// SetTimestampFrom is SetTimestamp boxing t in b's @timestamp slot (once;
// then, and for a nil b, as SetTimestamp does).
func (e *Event) SetTimestampFrom(b *Strings, t time.Time) {
	if b == nil || b.ts == nil {
		e.SetTimestamp(t)
		return
	}
	*b.ts = t.UTC()
	var v any
	*(*eface)(unsafe.Pointer(&v)) = eface{typ: timeType, data: unsafe.Pointer(b.ts)}
	b.ts = nil
	e.fields[TimestampField] = v
}

// NewStrings returns a Strings with room for n strings.
func NewStrings(n int) Strings { return Strings{s: make([]string, 0, n)} }

// Box returns s as an interface value.
func (b *Strings) Box(s string) any {
	if b == nil || len(b.s) == cap(b.s) || s == "" {
		return s
	}
	b.s = append(b.s, s)
	var v any
	*(*eface)(unsafe.Pointer(&v)) = eface{typ: stringType, data: unsafe.Pointer(&b.s[len(b.s)-1])}
	return v
}

// lastStamp holds the latest @timestamp that NewAt or SetTimestamp boxed (a
// time.Time). Events made from one read buffer, or in one millisecond, carry
// the same time, so they share one boxed copy instead of allocating one each;
// a boxed value is never modified, so sharing it is safe.
var lastStamp atomic.Value

// boxStamp returns t, which must be in UTC without a monotonic reading (so
// that == is Equal), as an interface value: the cached one when it is equal.
// Only a later time replaces the cache, so that inputs stamping different
// times concurrently do not take turns overwriting it.
func boxStamp(t time.Time) any {
	v := lastStamp.Load()
	if v != nil {
		last := v.(time.Time)
		if last == t {
			return v
		}
		if !t.After(last) {
			return t
		}
	}
	v = t
	lastStamp.Store(v)
	return v
}

// FromMap builds an event from decoded JSON-like data. Values are normalised to
// the closed set of event types; an "@metadata" key holding an object becomes
// the event metadata (any other "@metadata" value is dropped, as in Logstash).
// A string @timestamp is parsed as lenient ISO 8601 (a missing zone means UTC).
// A missing or null @timestamp is set to now and a missing @version to "1".
// Like Logstash, an @timestamp that cannot be parsed is not an error: the event
// gets the current time, the tag "_timestampparsefailure" and the original
// value in the field "_@timestamp". m is not modified or retained.
func FromMap(m map[string]any) (*Event, error) {
	fields := make(map[string]any, len(m)+2)
	for k, v := range m {
		nv, err := Normalize(v)
		if err != nil {
			return nil, fmt.Errorf("field %q: %w", k, err)
		}
		fields[k] = nv
	}
	return fromNormalized(fields), nil
}

// fromNormalized is FromMap for a map that holds only event value types, such
// as ParseJSON returns: the event takes m over as its fields, without a copy.
func fromNormalized(m map[string]any) *Event { return finishEvent(nil, m, true, true) }

// jsonBlock is an event decoded from JSON together with what its values
// need most often, in one allocation: its boxed @timestamp and the headers
// of its first string values (the decoder's first slab, see jsonParser.box).
type jsonBlock struct {
	e    Event
	t    time.Time
	strs [4]string
}

// finishEvent makes the event of the fields m (taken over), in blk if not
// nil: @metadata split off, @timestamp parsed or set, @version set if
// missing. mayMeta and mayVersion false say m has no such key (the decoder
// saw every top-level key), which saves looking.
func finishEvent(blk *jsonBlock, m map[string]any, mayMeta, mayVersion bool) *Event {
	var e *Event
	ts := m[TimestampField]
	if s, ok := ts.(string); ok {
		if t, err := timefmt.ParseTimestamp(s); err == nil {
			var tp *time.Time
			if blk != nil {
				blk.t = t
				e, tp = &blk.e, &blk.t
			} else {
				// The event and its boxed @timestamp in one allocation.
				b := &struct {
					e Event
					t time.Time
				}{t: t}
				e, tp = &b.e, &b.t
			}
			var v any
			*(*eface)(unsafe.Pointer(&v)) = eface{typ: timeType, data: unsafe.Pointer(tp)}
			m[TimestampField] = v
			ts = v
		}
	}
	if e == nil {
		if blk != nil {
			e = &blk.e
		} else {
			e = new(Event)
		}
	}
	e.fields = m
	if mayMeta {
		if md, ok := m[MetadataField]; ok {
			if mm, ok := md.(map[string]any); ok {
				e.meta = mm
			}
			delete(m, MetadataField)
		}
	}
	switch ts.(type) {
	case time.Time:
	case nil:
		m[TimestampField] = time.Now().UTC().Truncate(time.Millisecond)
	default:
		m[TimestampField] = time.Now().UTC().Truncate(time.Millisecond)
		e.AddTag(TimestampFailureTag)
		m[TimestampFailureField] = ts
	}
	if mayVersion {
		if _, ok := m[VersionField]; !ok {
			m[VersionField] = "1"
		}
	} else {
		m[VersionField] = versionOne
	}
	return e
}

// Normalize converts v to the closed set of event value types, copying maps
// and slices. It rejects types that have no JSON meaning.
func Normalize(v any) (any, error) {
	switch x := v.(type) {
	case nil, bool, int64, float64, string:
		return x, nil
	case time.Time:
		return x.UTC(), nil
	case *big.Int:
		// Integers beyond int64 stay exact (Ruby's Bignum), e.g. from mutate's
		// convert; the ones that fit are int64, as every other integer.
		if x.IsInt64() {
			return x.Int64(), nil
		}
		return x, nil
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i, nil
		}
		f, err := x.Float64()
		if err != nil {
			return nil, fmt.Errorf("invalid number %q", string(x))
		}
		return f, nil
	case int:
		return int64(x), nil
	case int8:
		return int64(x), nil
	case int16:
		return int64(x), nil
	case int32:
		return int64(x), nil
	case uint:
		return uintToValue(uint64(x)), nil
	case uint8:
		return int64(x), nil
	case uint16:
		return int64(x), nil
	case uint32:
		return int64(x), nil
	case uint64:
		return uintToValue(x), nil
	case float32:
		return float64(x), nil
	case []byte:
		return string(x), nil
	case []string:
		out := make([]any, len(x))
		for i, s := range x {
			out[i] = s
		}
		return out, nil
	case []any:
		out := make([]any, len(x))
		for i, s := range x {
			n, err := Normalize(s)
			if err != nil {
				return nil, err
			}
			out[i] = n
		}
		return out, nil
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, s := range x {
			n, err := Normalize(s)
			if err != nil {
				return nil, err
			}
			out[k] = n
		}
		return out, nil
	case map[string]string:
		out := make(map[string]any, len(x))
		for k, s := range x {
			out[k] = s
		}
		return out, nil
	case fmt.Stringer:
		return x.String(), nil
	}
	return normalizeReflect(v)
}

// normalizeReflect handles the types Normalize has no case for: named basic
// types, other slices and arrays, and maps with string keys.
func normalizeReflect(v any) (any, error) {
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Bool:
		return rv.Bool(), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return rv.Int(), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return uintToValue(rv.Uint()), nil
	case reflect.Float32, reflect.Float64:
		return rv.Float(), nil
	case reflect.String:
		return rv.String(), nil
	case reflect.Slice, reflect.Array:
		if rv.Kind() == reflect.Slice && rv.IsNil() {
			return nil, nil
		}
		out := make([]any, rv.Len())
		for i := range out {
			n, err := Normalize(rv.Index(i).Interface())
			if err != nil {
				return nil, err
			}
			out[i] = n
		}
		return out, nil
	case reflect.Map:
		if rv.Type().Key().Kind() != reflect.String {
			break
		}
		if rv.IsNil() {
			return nil, nil
		}
		out := make(map[string]any, rv.Len())
		it := rv.MapRange()
		for it.Next() {
			n, err := Normalize(it.Value().Interface())
			if err != nil {
				return nil, err
			}
			out[it.Key().String()] = n
		}
		return out, nil
	case reflect.Pointer, reflect.Interface:
		if rv.IsNil() {
			return nil, nil
		}
		return Normalize(rv.Elem().Interface())
	}
	return nil, fmt.Errorf("unsupported value type %T", v)
}

func uintToValue(u uint64) any {
	if u > math.MaxInt64 {
		return float64(u)
	}
	return int64(u)
}

// Get returns the value at r.
func (e *Event) Get(r Ref) (any, bool) {
	var cur any
	if r.meta {
		if len(r.path) == 0 {
			if e.meta == nil {
				return nil, false
			}
			return e.meta, true
		}
		cur = e.meta
	} else {
		if len(r.path) == 0 {
			return nil, false // zero Ref
		}
		cur = e.fields
	}
	for _, p := range r.path {
		switch c := cur.(type) {
		case map[string]any:
			v, ok := c[p.key]
			if !ok {
				return nil, false
			}
			cur = v
		case []any:
			if !p.isIndex {
				return nil, false
			}
			i := p.index
			if i < 0 {
				i += len(c)
			}
			if i < 0 || i >= len(c) {
				return nil, false
			}
			cur = c[i]
		default:
			return nil, false
		}
	}
	return cur, true
}

// GetString returns the value at r if it is a string.
func (e *Event) GetString(r Ref) (string, bool) {
	v, ok := e.Get(r)
	if !ok {
		return "", false
	}
	s, ok := v.(string)
	return s, ok
}

// Set stores v at r, creating intermediate maps. It fails if v is not an event
// value type, if a path element crosses a non-map value (an array is crossed
// only by an in-range index), or if top-level @timestamp would not be a time.
func (e *Event) Set(r Ref, v any) error {
	// A top-level field other than @timestamp, and a value Normalize keeps
	// as it is: what set and setPath would do, without their calls (a
	// parser sets a dozen fields on each event).
	if len(r.path) == 1 && !r.meta && e.fields != nil && r.path[0].key != TimestampField {
		switch v.(type) {
		case string, int64, float64, bool, nil:
			e.fields[r.path[0].key] = v
			return nil
		}
	}
	v, err := Normalize(v)
	if err != nil {
		return err
	}
	return e.set(r, v)
}

// set is Set for an already normalised value.
func (e *Event) set(r Ref, v any) error {
	if r.meta && len(r.path) == 0 {
		m, ok := v.(map[string]any)
		if !ok {
			return fmt.Errorf("set [@metadata]: want a map, got %T", v)
		}
		e.meta = m
		return nil
	}
	if len(r.path) == 0 {
		return fmt.Errorf("set: empty field reference")
	}
	var root map[string]any
	if r.meta {
		if e.meta == nil {
			e.meta = map[string]any{}
		}
		root = e.meta
	} else {
		if len(r.path) == 1 && r.path[0].key == TimestampField {
			if _, ok := v.(time.Time); !ok {
				return fmt.Errorf("set %s: want a timestamp, got %T", r, v)
			}
		}
		if e.fields == nil {
			e.fields = map[string]any{}
		}
		root = e.fields
	}
	return setPath(root, r.path, v, r)
}

// setPath stores v at path below the map cur.
func setPath(cur map[string]any, path []segment, v any, r Ref) error {
	last := len(path) - 1
	for i, p := range path[:last] {
		next, ok := cur[p.key]
		if !ok || next == nil {
			cur[p.key] = newPath(path[i+1:], v)
			return nil
		}
		switch n := next.(type) {
		case map[string]any:
			cur = n
		case []any:
			// Only an index crosses an array.
			if !path[i+1].isIndex {
				return fmt.Errorf("set %s: %q is an array", r, p.key)
			}
			return setInArray(n, path[i+1:], v, r)
		default:
			return fmt.Errorf("set %s: %q holds a %T, not an object", r, p.key, next)
		}
	}
	cur[path[last].key] = v
	return nil
}

// newPath returns the maps that hold v at path, built from the inside out so
// that each is made at its final size (one entry).
func newPath(path []segment, v any) map[string]any {
	m := map[string]any{path[len(path)-1].key: v}
	for i := len(path) - 2; i >= 0; i-- {
		m = map[string]any{path[i].key: m}
	}
	return m
}

func setInArray(arr []any, rest []segment, v any, r Ref) error {
	p := rest[0]
	i := p.index
	if i < 0 {
		i += len(arr)
	}
	if i < 0 || i >= len(arr) {
		return fmt.Errorf("set %s: index %d out of range", r, p.index)
	}
	if len(rest) == 1 {
		arr[i] = v
		return nil
	}
	switch el := arr[i].(type) {
	case map[string]any:
		return setPath(el, rest[1:], v, r)
	case []any:
		if !rest[1].isIndex {
			return fmt.Errorf("set %s: element %d is an array", r, p.index)
		}
		return setInArray(el, rest[1:], v, r)
	}
	return fmt.Errorf("set %s: element %d holds a %T, not an object", r, p.index, arr[i])
}

// Delete removes the value at r and returns it.
func (e *Event) Delete(r Ref) (any, bool) {
	if len(r.path) == 0 {
		if r.meta && e.meta != nil {
			m := e.meta
			e.meta = nil
			return m, true
		}
		return nil, false
	}
	parent := r
	parent.path = r.path[:len(r.path)-1]
	var container any
	if len(parent.path) == 0 {
		if r.meta {
			container = e.meta
		} else {
			container = e.fields
		}
	} else {
		c, ok := e.Get(parent)
		if !ok {
			return nil, false
		}
		container = c
	}
	last := r.path[len(r.path)-1]
	switch c := container.(type) {
	case map[string]any:
		v, ok := c[last.key]
		if ok {
			delete(c, last.key)
		}
		return v, ok
	case []any:
		// Removing an array element in place would change the slice header held by
		// the parent; Logstash removes it, so rebuild and store the shorter slice.
		if !last.isIndex {
			return nil, false
		}
		i := last.index
		if i < 0 {
			i += len(c)
		}
		if i < 0 || i >= len(c) {
			return nil, false
		}
		v := c[i]
		n := make([]any, 0, len(c)-1)
		n = append(append(n, c[:i]...), c[i+1:]...)
		if err := e.set(parent, n); err != nil {
			return nil, false
		}
		return v, true
	}
	return nil, false
}

// Timestamp returns @timestamp, or the zero time if it is missing or not a time.
func (e *Event) Timestamp() time.Time {
	t, _ := e.fields[TimestampField].(time.Time)
	return t
}

// SetTimestamp sets @timestamp (stored in UTC).
func (e *Event) SetTimestamp(t time.Time) { e.fields[TimestampField] = boxStamp(t.UTC()) }

// Message returns the message field if it is a string.
func (e *Event) Message() (string, bool) {
	s, ok := e.fields[MessageField].(string)
	return s, ok
}

// Tags returns the tags field as strings (non-string elements are skipped).
func (e *Event) Tags() []string {
	switch t := e.fields[TagsField].(type) {
	case []any:
		out := make([]string, 0, len(t))
		for _, v := range t {
			if s, ok := v.(string); ok {
				out = append(out, s)
			}
		}
		return out
	case string:
		return []string{t}
	}
	return nil
}

// HasTag reports whether tag is in the tags field.
func (e *Event) HasTag(tag string) bool {
	switch t := e.fields[TagsField].(type) {
	case []any:
		for _, v := range t {
			if v == tag {
				return true
			}
		}
	case string:
		return t == tag
	}
	return false
}

// AddTag appends tags that are not present yet, like Logstash.
func (e *Event) AddTag(tags ...string) {
	var cur []any
	switch t := e.fields[TagsField].(type) {
	case []any:
		cur = t
	case string:
		cur = []any{t}
	}
	for _, tag := range tags {
		dup := false
		for _, v := range cur {
			if v == tag {
				dup = true
				break
			}
		}
		if !dup {
			cur = append(cur, tag)
		}
	}
	if cur != nil {
		e.fields[TagsField] = cur
	}
}

// RemoveTag removes every occurrence of the given tags.
func (e *Event) RemoveTag(tags ...string) {
	t, ok := e.fields[TagsField].([]any)
	if !ok {
		if s, ok := e.fields[TagsField].(string); ok {
			for _, tag := range tags {
				if s == tag {
					e.fields[TagsField] = []any{}
				}
			}
		}
		return
	}
	out := t[:0]
	for _, v := range t {
		keep := true
		for _, tag := range tags {
			if v == tag {
				keep = false
				break
			}
		}
		if keep {
			out = append(out, v)
		}
	}
	e.fields[TagsField] = out
}

// Fields returns the event's top-level fields, without @metadata. Callers must
// not modify the returned map; it is meant for codecs and outputs.
func (e *Event) Fields() map[string]any { return e.fields }

// Metadata returns the [@metadata] map (nil if empty). Read-only.
func (e *Event) Metadata() map[string]any { return e.meta }

// Clone returns a deep copy that shares the acknowledgement: the engine counts
// it as one more copy in flight.
func (e *Event) Clone() *Event {
	c := &Event{fields: deepCopyMap(e.fields), acker: e.acker}
	if e.meta != nil {
		c.meta = deepCopyMap(e.meta)
	}
	if e.acker != nil {
		e.acker.Retain(1)
	}
	return c
}

// Copy returns a deep copy, @metadata included, that is not part of e's
// acknowledgement: for handing an event to another pipeline, which
// acknowledges its copy on its own (Logstash's pipeline output clones too).
func (e *Event) Copy() *Event {
	c := &Event{fields: deepCopyMap(e.fields)}
	if e.meta != nil {
		c.meta = deepCopyMap(e.meta)
	}
	return c
}

func deepCopyMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = deepCopy(v)
	}
	return out
}

func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		return deepCopyMap(x)
	case []any:
		out := make([]any, len(x))
		for i, s := range x {
			out[i] = deepCopy(s)
		}
		return out
	}
	return v
}

// SetAcker attaches the engine's acknowledgement hook. Only the engine calls it.
func (e *Event) SetAcker(a Acker) { e.acker = a }

// Acker returns the acknowledgement hook, or nil.
func (e *Event) Acker() Acker { return e.acker }

// SetRoutes records that the event was handed to n outputs. Only the engine
// calls it.
func (e *Event) SetRoutes(n int) { e.routes.Store(int32(n)) }

// routeFailed marks, above the count of outputs still holding the event,
// that one of them gave up on it.
const routeFailed = 1 << 16

// RouteDone records that one of the outputs is done with the event: it
// delivered it, or gave up on it (failed). It reports whether that was the
// last output and every output delivered it. Only the engine calls it.
func (e *Event) RouteDone(failed bool) bool {
	d := int32(-1)
	if failed {
		d += routeFailed
	}
	v := e.routes.Add(d)
	return v&(routeFailed-1) == 0 && v < routeFailed
}
