package event

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"reflect"
	"strings"
	"testing"
	"time"
)

// binaryRoundTrip encodes e and decodes it back.
func binaryRoundTrip(t testing.TB, e *Event) *Event {
	t.Helper()
	var d BinaryDecoder
	got, err := d.DecodeBinary(BinaryVersion, e.AppendBinary(nil))
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	return got
}

// Every event value type comes back as it was, metadata included: the
// binary encoding is exact where JSON is not (times in any field, NaN,
// infinities, big integers, floats that are whole).
func TestBinaryRoundTrip(t *testing.T) {
	e := loadEvent(t, "event.json")
	bigNeg, _ := new(big.Int).SetString("-123456789012345678901234567890", 10)
	bigPos, _ := new(big.Int).SetString("98765432109876543210", 10)
	extra := map[string]any{
		"nan":      math.NaN(),
		"inf":      math.Inf(-1),
		"negzero":  math.Copysign(0, -1),
		"minint":   int64(math.MinInt64),
		"maxint":   int64(math.MaxInt64),
		"bigneg":   bigNeg,
		"bigpos":   bigPos,
		"old":      time.Date(1601, 1, 1, 0, 0, 0, 1, time.UTC),
		"far":      time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
		"utf8":     "héllo \x00 \xff",
		"nested":   map[string]any{"a": []any{map[string]any{}, []any{}, nil}},
		"emptykey": map[string]any{"": "v"},
	}
	for k, v := range extra {
		if err := e.Set(MustRef("["+k+"]"), v); err != nil && k != "emptykey" {
			t.Fatal(k, err)
		}
	}
	e.Fields()["emptykey"] = extra["emptykey"]
	_ = e.Set(MustRef("[@metadata][index]"), "logs")
	_ = e.Set(MustRef("[@metadata][n]"), int64(3))

	got := binaryRoundTrip(t, e)
	for k, want := range e.Fields() {
		v := got.Fields()[k]
		if f, ok := want.(float64); ok && math.IsNaN(f) {
			if g, ok := v.(float64); !ok || !math.IsNaN(g) {
				t.Errorf("%s = %#v; want NaN", k, v)
			}
			continue
		}
		if f, ok := want.(float64); ok && f == 0 && math.Signbit(f) {
			if g, ok := v.(float64); !ok || !math.Signbit(g) {
				t.Errorf("%s = %#v; want -0", k, v)
			}
			continue
		}
		if !reflect.DeepEqual(v, want) {
			t.Errorf("%s = %#v (%T); want %#v (%T)", k, v, v, want, want)
		}
	}
	if len(got.Fields()) != len(e.Fields()) {
		t.Errorf("%d fields; want %d", len(got.Fields()), len(e.Fields()))
	}
	if !reflect.DeepEqual(got.Metadata(), e.Metadata()) {
		t.Errorf("metadata = %v; want %v", got.Metadata(), e.Metadata())
	}
	if ts := got.Timestamp(); !ts.Equal(e.Timestamp()) || ts.Location() != time.UTC {
		t.Errorf("@timestamp = %v; want %v in UTC", ts, e.Timestamp())
	}
}

// An event without metadata has none after decoding (not an empty map), as
// FromStoredJSON gives it.
func TestBinaryNoMetadata(t *testing.T) {
	e := NewMessage("x")
	if got := binaryRoundTrip(t, e); got.Metadata() != nil {
		t.Errorf("metadata = %#v; want nil", got.Metadata())
	}
}

// Events of a batch stamped alike share one boxed @timestamp.
func TestBinaryDecoderSharesTimestamps(t *testing.T) {
	now := time.Date(2026, 12, 7, 1, 2, 3, 4e6, time.UTC)
	var d BinaryDecoder
	b := NewMessageAt("a", now).AppendBinary(nil)
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := d.DecodeBinary(BinaryVersion, b); err != nil {
			t.Fatal(err)
		}
	})
	// The event, its map (two), one string for the strings; the time and
	// the boxed values are shared.
	if allocs > 4 {
		t.Errorf("%v allocations per decoded event", allocs)
	}
}

// Values boxed by slabs stay what they were while later events are
// decoded (a slot is never written twice), and compare, switch and print as
// ordinary values.
func TestBinaryBoxedValuesStay(t *testing.T) {
	var d BinaryDecoder
	var evs []*Event
	for i := range 3 * slabSize {
		e := NewMessage(fmt.Sprintf("message %d", i))
		e.Fields()["n"] = int64(1000 + i)
		e.Fields()["neg"] = int64(-i - 1)
		e.Fields()["small"] = int64(i % 256)
		e.Fields()["nested"] = map[string]any{"s": fmt.Sprint("s", i), "l": []any{fmt.Sprint("l", i), int64(1 << 40)}}
		got, err := d.DecodeBinary(BinaryVersion, e.AppendBinary(nil))
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, got)
	}
	for i, e := range evs {
		f := e.Fields()
		want := map[string]any{
			"message": fmt.Sprintf("message %d", i), "n": int64(1000 + i), "neg": int64(-i - 1), "small": int64(i % 256),
			"@version": "1", "@timestamp": f["@timestamp"],
			"nested": map[string]any{"s": fmt.Sprint("s", i), "l": []any{fmt.Sprint("l", i), int64(1 << 40)}},
		}
		if !reflect.DeepEqual(f, want) {
			t.Fatalf("event %d = %v; want %v", i, f, want)
		}
		if m, ok := f["message"].(string); !ok || m != fmt.Sprintf("message %d", i) || f["n"] != any(int64(1000+i)) {
			t.Fatalf("event %d: %#v %#v", i, f["message"], f["n"])
		}
		if s := fmt.Sprint(f["n"]); s != fmt.Sprint(1000+i) {
			t.Fatalf("printed %s", s)
		}
	}
}

// Damaged encodings (cut short, wrong tags, counts beyond the bytes, nesting
// beyond MaxStoredDepth, an unknown version) are errors, never a panic.
func TestBinaryDamage(t *testing.T) {
	good := loadEvent(t, "event.json").AppendBinary(nil)
	var d BinaryDecoder
	for i := range good {
		if _, err := d.DecodeBinary(BinaryVersion, good[:i]); err == nil {
			t.Fatalf("cut at %d of %d: no error", i, len(good))
		}
	}
	if _, err := d.DecodeBinary(BinaryVersion, append(good[:len(good):len(good)], 0)); err == nil {
		t.Error("trailing byte: no error")
	}
	if _, err := d.DecodeBinary(BinaryVersion+1, good); err == nil || !strings.Contains(err.Error(), "version") {
		t.Errorf("unknown version: %v", err)
	}
	deep := []byte{1, 1, 'a'}
	for range MaxStoredDepth + 5 {
		deep = append(deep, binArray, 1)
	}
	deep = append(deep, binNil, 0)
	if _, err := d.DecodeBinary(BinaryVersion, deep); !errors.Is(err, errBinary) {
		t.Errorf("too deep: %v", err)
	}
	for _, c := range [][]byte{
		{0xff, 0xff, 0xff, 0xff, 0x0f, 0},                                                  // a map of 4G entries in 6 bytes
		{1, 1, 'a', binArray, 0xff, 0xff, 0x7f, 0},                                         // an array beyond the bytes
		{1, 1, 'a', 99, 0},                                                                 // unknown tag
		{1, 1, 'a', binTime, 0, 0x80, 0x94, 0xeb, 0xdc, 0x03, 0},                           // 1e9 ns
		{1, 1, 'a', binBig, 2, 0, 0},                                                       // bad sign
		{1, 1, 'a', binInt, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 0}, // varint overflow
	} {
		if _, err := d.DecodeBinary(BinaryVersion, c); err == nil {
			t.Errorf("%x: no error", c)
		}
	}
}

// FuzzDecodeBinary: any bytes decode to an event or an error, never a
// panic, and an event decoded re-encodes to one that decodes alike.
func FuzzDecodeBinary(f *testing.F) {
	f.Add(loadEvent(f, "event.json").AppendBinary(nil))
	f.Add(NewMessage("x").AppendBinary(nil))
	f.Add([]byte{1, 1, 'a', binArray, 2, binBig, 1, 1, 5, binTime, 3, 7, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		var d BinaryDecoder
		e, err := d.DecodeBinary(BinaryVersion, b)
		if err != nil {
			return
		}
		again, err := d.DecodeBinary(BinaryVersion, e.AppendBinary(nil))
		if err != nil {
			t.Fatalf("re-encoded event does not decode: %v", err)
		}
		if len(again.Fields()) != len(e.Fields()) || len(again.Metadata()) != len(e.Metadata()) {
			t.Fatalf("re-encoded event differs: %v / %v", again.Fields(), e.Fields())
		}
	})
}

func BenchmarkBinaryEvent(b *testing.B) {
	e := loadEvent(b, "event.json")
	b.Run("encode", func(b *testing.B) {
		var buf []byte
		b.ReportAllocs()
		for b.Loop() {
			buf = e.AppendBinary(buf[:0])
		}
	})
	b.Run("encode_json", func(b *testing.B) {
		var buf []byte
		b.ReportAllocs()
		for b.Loop() {
			buf = e.AppendJSONWithMetadata(buf[:0])
		}
	})
	bin := e.AppendBinary(nil)
	js := e.AppendJSONWithMetadata(nil)
	b.Run("decode", func(b *testing.B) {
		var d BinaryDecoder
		b.ReportAllocs()
		for b.Loop() {
			if _, err := d.DecodeBinary(BinaryVersion, bin); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decode_json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := FromStoredJSON(js); err != nil {
				b.Fatal(err)
			}
		}
	})
}
