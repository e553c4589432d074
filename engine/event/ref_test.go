package event

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pipelined/pipeline/engine/internal/tsvtest"
)

// refPath prints a parsed Ref as testdata/refs.txt does.
func refPath(r Ref) string {
	var b strings.Builder
	if r.meta {
		b.WriteString("[@metadata]")
	}
	for _, s := range r.path {
		b.WriteString("[" + s.key)
		if s.isIndex {
			b.WriteString("#")
		}
		b.WriteString("]")
	}
	return b.String()
}

// TestParseRefFile runs testdata/refs.txt.
func TestParseRefFile(t *testing.T) {
	for _, c := range tsvtest.Read(t, "testdata/refs.txt", 2, 2) {
		src, want := c.Fields[0], c.Fields[1]
		t.Run(src, func(t *testing.T) {
			r, err := ParseRef(src)
			if wantErr, ok := strings.CutPrefix(want, "error: "); ok {
				if err == nil {
					t.Fatalf("%s: ParseRef(%q) = %s; want error containing %q", c.Pos, src, refPath(r), wantErr)
				}
				if !strings.Contains(err.Error(), wantErr) {
					t.Errorf("%s: ParseRef(%q) error = %q; want it to contain %q", c.Pos, src, err, wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("%s: ParseRef(%q): %v", c.Pos, src, err)
			}
			if got := refPath(r); got != want {
				t.Errorf("%s: ParseRef(%q) = %s; want %s", c.Pos, src, got, want)
			}
			if r.String() != src {
				t.Errorf("%s: ParseRef(%q).String() = %q", c.Pos, src, r.String())
			}
			if r.IsMetadata() != strings.HasPrefix(want, "[@metadata]") {
				t.Errorf("%s: ParseRef(%q).IsMetadata() = %v", c.Pos, src, r.IsMetadata())
			}
		})
	}
}

func TestRefZeroAndMust(t *testing.T) {
	var r Ref
	if !r.IsZero() {
		t.Error("Ref{}.IsZero() = false; want true")
	}
	if MustRef("a").IsZero() {
		t.Error("MustRef(a).IsZero() = true; want false")
	}
	if _, ok := New().Get(r); ok {
		t.Error("Get(Ref{}) found a value; want none")
	}
	defer func() {
		if recover() == nil {
			t.Error("MustRef([a) did not panic")
		}
	}()
	MustRef("[a")
}

const nestedJSON = `{
	"@timestamp": "2026-11-24T10:00:01Z",
	"message": "hi",
	"host": {"name": "web-1", "ip": ["10.0.0.1", "10.0.0.2", "10.0.0.3"]},
	"list": [{"k": "v0"}, {"k": "v1"}, [10, 20]],
	"n": null,
	"s": "str",
	"@metadata": {"beat": "filebeat", "deep": {"x": 1}}
}`

func TestGet(t *testing.T) {
	tests := []struct {
		ref   string
		want  any
		found bool
	}{
		{"message", "hi", true},
		{"[message]", "hi", true},
		{"[host][name]", "web-1", true},
		{"[host][ip][0]", "10.0.0.1", true},
		{"[host][ip][2]", "10.0.0.3", true},
		{"[host][ip][-1]", "10.0.0.3", true},
		{"[host][ip][-3]", "10.0.0.1", true},
		{"[host][ip][3]", nil, false},
		{"[host][ip][-4]", nil, false},
		{"[host][ip][x]", nil, false},
		{"[list][1][k]", "v1", true},
		{"[list][-1][0]", int64(10), true},
		{"[list][2][-1]", int64(20), true},
		{"[host][0]", nil, false},
		{"[s][x]", nil, false},
		{"n", nil, true},
		{"[n][x]", nil, false},
		{"nope", nil, false},
		{"[nope][deeper]", nil, false},
		{"[@metadata][beat]", "filebeat", true},
		{"[@metadata][deep][x]", int64(1), true},
		{"[@metadata][nope]", nil, false},
		{"@metadata", map[string]any{"beat": "filebeat", "deep": map[string]any{"x": int64(1)}}, true},
		{"[@timestamp]", time.Date(2026, 11, 24, 10, 0, 1, 0, time.UTC), true},
	}
	e := eventFromJSON(t, nestedJSON)
	for _, tc := range tests {
		t.Run(tc.ref, func(t *testing.T) {
			got, found := e.Get(MustRef(tc.ref))
			if found != tc.found || !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Get(%q) = %#v, %v; want %#v, %v", tc.ref, got, found, tc.want, tc.found)
			}
		})
	}
}

func TestGetString(t *testing.T) {
	e := eventFromJSON(t, nestedJSON)
	if s, ok := e.GetString(MustRef("[host][name]")); !ok || s != "web-1" {
		t.Errorf("GetString([host][name]) = %q, %v; want web-1, true", s, ok)
	}
	if s, ok := e.GetString(MustRef("[host][ip]")); ok {
		t.Errorf("GetString([host][ip]) = %q, true; want false", s)
	}
	if _, ok := e.GetString(MustRef("nope")); ok {
		t.Error("GetString(nope) = true; want false")
	}
}

func TestGetOnEmptyMetadata(t *testing.T) {
	e := New()
	for _, ref := range []string{"[@metadata]", "[@metadata][x]"} {
		if v, ok := e.Get(MustRef(ref)); ok {
			t.Errorf("Get(%q) on an event without metadata = %#v, true; want not found", ref, v)
		}
	}
}

func TestSet(t *testing.T) {
	tests := []struct {
		name  string
		ref   string
		value any
		check string // reference to read back; defaults to ref
		want  any    // read back value; defaults to value
	}{
		{name: "replace top level", ref: "message", value: "new"},
		{name: "new top level", ref: "fresh", value: int64(1)},
		{name: "nested existing", ref: "[host][name]", value: "web-2"},
		{name: "creates intermediates", ref: "[a][b][c]", value: "deep"},
		{name: "replaces null intermediate", ref: "[n][x]", value: true},
		{name: "array index", ref: "[host][ip][1]", value: "10.9.9.9"},
		{name: "array negative index", ref: "[host][ip][-1]", value: "last", check: "[host][ip][2]"},
		{name: "map inside array", ref: "[list][0][k]", value: "changed"},
		{name: "new key in map inside array", ref: "[list][1][new][x]", value: 1.5},
		{name: "array inside array", ref: "[list][2][0]", value: int64(11)},
		{name: "numeric key in map", ref: "[host][0]", value: "zero"},
		{name: "metadata", ref: "[@metadata][beat]", value: "winlogbeat"},
		{name: "metadata creates", ref: "[@metadata][x][y]", value: "z"},
		{name: "whole metadata", ref: "[@metadata]", value: map[string]any{"only": "this"}},
		{name: "normalises int", ref: "i", value: 7, want: int64(7)},
		{name: "normalises string slice", ref: "ss", value: []string{"a", "b"}, want: []any{"a", "b"}},
		{name: "normalises int slice", ref: "is", value: []int{1, 2}, want: []any{int64(1), int64(2)}},
		{name: "normalises map", ref: "ms", value: map[string]int{"a": 1}, want: map[string]any{"a": int64(1)}},
		{name: "timestamp", ref: "@timestamp", value: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)},
		{name: "nested @timestamp is an ordinary field", ref: "[x][@timestamp]", value: "not a time"},
		{name: "nil value", ref: "nil", value: nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := eventFromJSON(t, nestedJSON)
			if err := e.Set(MustRef(tc.ref), tc.value); err != nil {
				t.Fatalf("Set(%q, %#v): %v", tc.ref, tc.value, err)
			}
			check, want := tc.check, tc.want
			if check == "" {
				check = tc.ref
			}
			if want == nil {
				want = tc.value
			}
			got, ok := e.Get(MustRef(check))
			if !ok || !reflect.DeepEqual(got, want) {
				t.Errorf("after Set(%q, %#v): Get(%q) = %#v, %v; want %#v", tc.ref, tc.value, check, got, ok, want)
			}
		})
	}
}

func TestSetErrors(t *testing.T) {
	tests := []struct {
		name  string
		ref   string
		value any
		want  string
	}{
		{"through a string", "[s][x]", "v", "not an object"},
		{"through an array by name", "[host][ip][x]", "v", "is an array"},
		{"array index out of range", "[host][ip][3]", "v", "out of range"},
		{"array negative index out of range", "[host][ip][-4]", "v", "out of range"},
		{"through array element string", "[host][ip][0][x]", "v", "not an object"},
		{"timestamp not a time", "@timestamp", "2026-01-01", "want a timestamp"},
		{"metadata not a map", "[@metadata]", "x", "want a map"},
		{"unsupported type", "x", make(chan int), "unsupported value type"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := eventFromJSON(t, nestedJSON)
			before := fmt.Sprint(e.Fields())
			err := e.Set(MustRef(tc.ref), tc.value)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Set(%q) error = %v; want one containing %q", tc.ref, err, tc.want)
			}
			if after := fmt.Sprint(e.Fields()); after != before {
				t.Errorf("failed Set(%q) changed the event:\n%s\nwant\n%s", tc.ref, after, before)
			}
		})
	}
}

func TestSetOnZeroEvent(t *testing.T) {
	var e Event
	if err := e.Set(MustRef("[a][b]"), "v"); err != nil {
		t.Fatal(err)
	}
	if s, _ := e.GetString(MustRef("[a][b]")); s != "v" {
		t.Errorf("GetString([a][b]) = %q; want v", s)
	}
}

func TestDelete(t *testing.T) {
	tests := []struct {
		name  string
		ref   string
		want  any
		found bool
		check string // reference to read after deleting
		after any    // its value; absent if nil
	}{
		{name: "top level", ref: "message", want: "hi", found: true},
		{name: "nested", ref: "[host][name]", want: "web-1", found: true},
		{name: "missing", ref: "nope", found: false},
		{name: "missing nested", ref: "[nope][x]", found: false},
		{name: "through a string", ref: "[s][x]", found: false},
		{name: "null value", ref: "n", want: nil, found: true},
		{name: "array element", ref: "[host][ip][1]", want: "10.0.0.2", found: true,
			check: "[host][ip]", after: []any{"10.0.0.1", "10.0.0.3"}},
		{name: "array negative index", ref: "[host][ip][-1]", want: "10.0.0.3", found: true,
			check: "[host][ip]", after: []any{"10.0.0.1", "10.0.0.2"}},
		{name: "array first", ref: "[host][ip][0]", want: "10.0.0.1", found: true,
			check: "[host][ip]", after: []any{"10.0.0.2", "10.0.0.3"}},
		{name: "array out of range", ref: "[host][ip][3]", found: false,
			check: "[host][ip]", after: []any{"10.0.0.1", "10.0.0.2", "10.0.0.3"}},
		{name: "array by name", ref: "[host][ip][x]", found: false},
		{name: "array in array", ref: "[list][2][0]", want: int64(10), found: true,
			check: "[list][2]", after: []any{int64(20)}},
		{name: "map in array", ref: "[list][0][k]", want: "v0", found: true,
			check: "[list][0]", after: map[string]any{}},
		{name: "metadata field", ref: "[@metadata][beat]", want: "filebeat", found: true},
		{name: "whole metadata", ref: "[@metadata]", found: true,
			want: map[string]any{"beat": "filebeat", "deep": map[string]any{"x": int64(1)}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := eventFromJSON(t, nestedJSON)
			r := MustRef(tc.ref)
			got, found := e.Delete(r)
			if found != tc.found || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("Delete(%q) = %#v, %v; want %#v, %v", tc.ref, got, found, tc.want, tc.found)
			}
			if found && tc.check == "" {
				if v, ok := e.Get(r); ok {
					t.Errorf("after Delete(%q): Get = %#v, true; want not found", tc.ref, v)
				}
			}
			if tc.check != "" {
				v, ok := e.Get(MustRef(tc.check))
				if !ok || !reflect.DeepEqual(v, tc.after) {
					t.Errorf("after Delete(%q): Get(%q) = %#v, %v; want %#v", tc.ref, tc.check, v, ok, tc.after)
				}
			}
		})
	}
}

func TestDeleteArrayElementDoesNotAliasOriginal(t *testing.T) {
	e := eventFromJSON(t, nestedJSON)
	before, _ := e.Get(MustRef("[host][ip]"))
	old := before.([]any)
	e.Delete(MustRef("[host][ip][0]"))
	if old[0] != "10.0.0.1" || len(old) != 3 {
		t.Errorf("Delete changed the old array in place: %#v", old)
	}
}

func TestTags(t *testing.T) {
	tests := []struct {
		name   string
		start  any // tags field before; nil means absent
		add    []string
		remove []string
		want   []string
	}{
		{name: "add to none", add: []string{"a", "b"}, want: []string{"a", "b"}},
		{name: "add dedupes", start: []any{"a"}, add: []string{"a", "b", "b"}, want: []string{"a", "b"}},
		{name: "add to string tag", start: "a", add: []string{"b", "a"}, want: []string{"a", "b"}},
		{name: "add nothing", want: nil},
		{name: "remove", start: []any{"a", "b", "c", "b"}, remove: []string{"b"}, want: []string{"a", "c"}},
		{name: "remove several", start: []any{"a", "b", "c"}, remove: []string{"a", "c", "x"}, want: []string{"b"}},
		{name: "remove string tag", start: "a", remove: []string{"a"}, want: []string{}},
		{name: "remove other string tag", start: "a", remove: []string{"b"}, want: []string{"a"}},
		{name: "remove from none", remove: []string{"a"}, want: nil},
		{name: "non-string elements skipped", start: []any{"a", int64(1)}, want: []string{"a"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := New()
			if tc.start != nil {
				if err := e.Set(MustRef(TagsField), tc.start); err != nil {
					t.Fatal(err)
				}
			}
			e.AddTag(tc.add...)
			e.RemoveTag(tc.remove...)
			got := e.Tags()
			if !reflect.DeepEqual(got, tc.want) && !(len(got) == 0 && len(tc.want) == 0 && (got == nil) == (tc.want == nil)) {
				t.Errorf("Tags() = %#v; want %#v", got, tc.want)
			}
			for _, tag := range tc.want {
				if !e.HasTag(tag) {
					t.Errorf("HasTag(%q) = false; want true", tag)
				}
			}
			for _, tag := range tc.remove {
				if e.HasTag(tag) {
					t.Errorf("HasTag(%q) = true after RemoveTag; want false", tag)
				}
			}
		})
	}
}

func TestHasTag(t *testing.T) {
	e := New()
	if e.HasTag("a") {
		t.Error("HasTag on an event without tags = true")
	}
	e.Fields()[TagsField] = "solo"
	if !e.HasTag("solo") || e.HasTag("other") {
		t.Errorf("HasTag with a string tags field: solo=%v other=%v; want true, false", e.HasTag("solo"), e.HasTag("other"))
	}
}

// countingAcker records Retain and Release calls.
type countingAcker struct {
	retained atomic.Int64
	released atomic.Int64
}

func (a *countingAcker) Retain(n int)      { a.retained.Add(int64(n)) }
func (a *countingAcker) Release(err error) { a.released.Add(1) }

func TestClone(t *testing.T) {
	e := eventFromJSON(t, nestedJSON)
	ack := &countingAcker{}
	e.SetAcker(ack)
	c := e.Clone()
	if got := ack.retained.Load(); got != 1 {
		t.Errorf("Clone called Retain for %d copies; want 1", got)
	}
	if ack.released.Load() != 0 {
		t.Error("Clone called Release")
	}
	if c.Acker() != Acker(ack) {
		t.Error("clone does not share the acker")
	}
	if !reflect.DeepEqual(c.Fields(), e.Fields()) || !reflect.DeepEqual(c.Metadata(), e.Metadata()) {
		t.Fatalf("clone differs:\n%v %v\nwant\n%v %v", c.Fields(), c.Metadata(), e.Fields(), e.Metadata())
	}
	// Mutating the clone, deep down, must not touch the original.
	for _, ref := range []string{"[host][name]", "[host][ip][0]", "[list][0][k]", "[list][2][1]", "[@metadata][deep][x]"} {
		if err := c.Set(MustRef(ref), "changed"); err != nil {
			t.Fatalf("Set(%q) on clone: %v", ref, err)
		}
		if v, _ := e.Get(MustRef(ref)); v == "changed" {
			t.Errorf("Set(%q) on the clone changed the original", ref)
		}
	}
	c.AddTag("clone")
	if e.HasTag("clone") {
		t.Error("AddTag on the clone tagged the original")
	}
}

func TestCloneWithoutAckerOrMetadata(t *testing.T) {
	e := NewMessage("x")
	c := e.Clone()
	if c.Acker() != nil || c.Metadata() != nil {
		t.Errorf("Clone() acker=%v metadata=%v; want nil, nil", c.Acker(), c.Metadata())
	}
	if m, _ := c.Message(); m != "x" {
		t.Errorf("clone Message() = %q; want x", m)
	}
}

func TestNewEvent(t *testing.T) {
	before := time.Now().UTC().Truncate(time.Millisecond)
	e := NewMessage("m")
	ts := e.Timestamp()
	if ts.Before(before) || ts.After(time.Now()) || ts.Location() != time.UTC || ts.Nanosecond()%int(time.Millisecond) != 0 {
		t.Errorf("New() @timestamp = %v; want now, UTC, millisecond precision", ts)
	}
	if v, _ := e.GetString(MustRef(VersionField)); v != "1" {
		t.Errorf("New() @version = %q; want 1", v)
	}
	want := time.Date(2030, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 3600))
	e.SetTimestamp(want)
	if got := e.Timestamp(); !got.Equal(want) || got.Location() != time.UTC {
		t.Errorf("Timestamp() after SetTimestamp = %v; want %v in UTC", got, want)
	}
}

func TestNewAt(t *testing.T) {
	at := time.Date(2030, 1, 2, 3, 4, 5, 123456789, time.FixedZone("x", 3600))
	want := time.Date(2030, 1, 2, 2, 4, 5, 123000000, time.UTC)
	a, b := NewAt(at), NewMessageAt("m", at)
	for _, e := range []*Event{a, b} {
		if got := e.Timestamp(); got != want {
			t.Errorf("@timestamp = %v; want %v (UTC, milliseconds)", got, want)
		}
		if v, _ := e.GetString(MustRef(VersionField)); v != "1" {
			t.Errorf("@version = %q; want 1", v)
		}
	}
	if _, ok := a.Get(MustRef(MessageField)); ok {
		t.Error("NewAt set a message")
	}
	if m, _ := b.Message(); m != "m" {
		t.Errorf("NewMessageAt message = %q", m)
	}
	// Events stamped alike share nothing that a change to one would show in
	// the other.
	b.SetTimestamp(at.Add(time.Hour))
	if got := a.Timestamp(); got != want {
		t.Errorf("after changing another event: @timestamp = %v; want %v", got, want)
	}
}

func TestNewAtConcurrent(t *testing.T) {
	base := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 1000 {
				at := base.Add(time.Duration(g*7+i%5) * time.Millisecond)
				if got := NewMessageAt("m", at).Timestamp(); got != at {
					t.Errorf("@timestamp = %v; want %v", got, at)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestFromMap(t *testing.T) {
	tests := []struct {
		name  string
		in    map[string]any
		check map[string]any // reference -> value
		meta  map[string]any // nil: no metadata
	}{
		{
			name: "ints become int64",
			in:   map[string]any{"a": 1, "b": int32(2), "c": uint8(3), "d": uint64(1 << 63), "e": float32(1.5)},
			check: map[string]any{
				"a": int64(1), "b": int64(2), "c": int64(3), "d": float64(1 << 63), "e": 1.5,
			},
		},
		{
			name:  "slices and maps",
			in:    map[string]any{"s": []string{"x", "y"}, "m": map[string]string{"k": "v"}, "n": []any{1, []int{2}}},
			check: map[string]any{"s": []any{"x", "y"}, "m": map[string]any{"k": "v"}, "n": []any{int64(1), []any{int64(2)}}},
		},
		{
			name:  "json numbers",
			in:    map[string]any{"i": json.Number("12"), "f": json.Number("1.5"), "big": json.Number("1e400")},
			check: map[string]any{"i": int64(12), "f": 1.5},
		},
		{
			name:  "bytes become a string",
			in:    map[string]any{"b": []byte("raw")},
			check: map[string]any{"b": "raw"},
		},
		{
			name:  "timestamp string",
			in:    map[string]any{"@timestamp": "2026-11-24T10:00:01.123+01:00"},
			check: map[string]any{"@timestamp": time.Date(2026, 11, 24, 9, 0, 1, 123_000_000, time.UTC), "@version": "1"},
		},
		{
			name:  "timestamp time",
			in:    map[string]any{"@timestamp": time.Date(2026, 11, 24, 10, 0, 0, 0, time.FixedZone("x", 7200)), "@version": "2"},
			check: map[string]any{"@timestamp": time.Date(2026, 11, 24, 8, 0, 0, 0, time.UTC), "@version": "2"},
		},
		{
			name:  "metadata separated",
			in:    map[string]any{"@metadata": map[string]any{"beat": "x", "n": 1}, "message": "m"},
			check: map[string]any{"message": "m", "[@metadata][beat]": "x", "[@metadata][n]": int64(1)},
			meta:  map[string]any{"beat": "x", "n": int64(1)},
		},
		{
			name:  "non-object metadata dropped",
			in:    map[string]any{"@metadata": "oops", "message": "m"},
			check: map[string]any{"message": "m"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, err := FromMap(tc.in)
			if tc.name == "json numbers" {
				if err == nil || !strings.Contains(err.Error(), "big") {
					t.Fatalf("FromMap(1e400) error = %v; want one naming field big", err)
				}
				delete(tc.in, "big")
				e, err = FromMap(tc.in)
			}
			if err != nil {
				t.Fatalf("FromMap(%v): %v", tc.in, err)
			}
			for ref, want := range tc.check {
				got, ok := e.Get(MustRef(ref))
				if !ok || !reflect.DeepEqual(got, want) {
					t.Errorf("FromMap(%v): Get(%q) = %#v, %v; want %#v", tc.in, ref, got, ok, want)
				}
			}
			if !reflect.DeepEqual(e.Metadata(), tc.meta) {
				t.Errorf("FromMap(%v): Metadata() = %#v; want %#v", tc.in, e.Metadata(), tc.meta)
			}
			if _, ok := e.Fields()[MetadataField]; ok {
				t.Errorf("FromMap(%v): @metadata left among the fields", tc.in)
			}
			if _, ok := e.Fields()[TimestampField].(time.Time); !ok {
				t.Errorf("FromMap(%v): @timestamp = %#v; want a time", tc.in, e.Fields()[TimestampField])
			}
			if e.HasTag(TimestampFailureTag) {
				t.Errorf("FromMap(%v) tagged %s", tc.in, TimestampFailureTag)
			}
		})
	}
}

func TestFromMapTimestampDefaults(t *testing.T) {
	before := time.Now().UTC().Truncate(time.Millisecond)
	for _, in := range []map[string]any{{}, {"@timestamp": nil}} {
		e, err := FromMap(in)
		if err != nil {
			t.Fatal(err)
		}
		if ts := e.Timestamp(); ts.Before(before) || ts.After(time.Now()) {
			t.Errorf("FromMap(%v) @timestamp = %v; want now", in, ts)
		}
		if v, _ := e.GetString(MustRef(VersionField)); v != "1" {
			t.Errorf("FromMap(%v) @version = %q; want 1", in, v)
		}
	}
}

// Like Logstash's Event(Map): a bad @timestamp is kept in _@timestamp and tagged.
func TestFromMapBadTimestamp(t *testing.T) {
	tests := []struct {
		name string
		ts   any
		want any
	}{
		{"unparsable string", "yesterday", "yesterday"},
		{"number", 1795514401, int64(1795514401)},
		{"object", map[string]any{"a": "b"}, map[string]any{"a": "b"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := time.Now().UTC().Truncate(time.Millisecond)
			e, err := FromMap(map[string]any{"@timestamp": tc.ts, "tags": "x"})
			if err != nil {
				t.Fatalf("FromMap(@timestamp=%#v): %v", tc.ts, err)
			}
			if ts := e.Timestamp(); ts.Before(before) {
				t.Errorf("@timestamp = %v; want now", ts)
			}
			if got := e.Tags(); !reflect.DeepEqual(got, []string{"x", TimestampFailureTag}) {
				t.Errorf("Tags() = %q; want [x %s]", got, TimestampFailureTag)
			}
			if got, _ := e.Get(MustRef(TimestampFailureField)); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("%s = %#v; want %#v", TimestampFailureField, got, tc.want)
			}
		})
	}
}

func TestFromMapUnsupported(t *testing.T) {
	_, err := FromMap(map[string]any{"f": func() {}})
	if err == nil || !strings.Contains(err.Error(), `field "f"`) {
		t.Errorf("FromMap(func) error = %v; want one naming field f", err)
	}
}

func TestNormalizeErrors(t *testing.T) {
	for _, v := range []any{make(chan int), func() {}, map[int]string{1: "a"}, []any{complex(1, 2)}} {
		if _, err := Normalize(v); err == nil || !strings.Contains(err.Error(), "unsupported") {
			t.Errorf("Normalize(%T) error = %v; want unsupported value type", v, err)
		}
	}
}

func BenchmarkGetNested(b *testing.B) {
	e := eventFromJSON(b, nestedJSON)
	refs := []struct{ name, ref string }{
		{"top", "message"},
		{"nested", "[host][name]"},
		{"array", "[host][ip][-1]"},
		{"metadata", "[@metadata][deep][x]"},
	}
	for _, r := range refs {
		ref := MustRef(r.ref)
		b.Run(r.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, ok := e.Get(ref); !ok {
					b.Fatal("not found")
				}
			}
		})
	}
}
