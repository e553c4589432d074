package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

var jsonTestTime = time.Date(2026, 11, 24, 10, 0, 1, 0, time.UTC)

func TestAppendJSONValue(t *testing.T) {
	tests := []struct {
		name string
		in   any
		want string
	}{
		{"null", nil, `null`},
		{"true", true, `true`},
		{"int", int64(-42), `-42`},
		{"int from int", 7, `7`},
		{"float", 1.5, `1.5`},
		{"integral float keeps fraction", 3.0, `3.0`},
		{"negative zero", math.Copysign(0, -1), `-0.0`},
		{"zero", 0.0, `0.0`},
		{"small float", 0.001, `0.001`},
		{"smaller float", 0.0001, `1.0E-4`},
		{"large float", 1e7, `1.0E7`},
		{"just below 1e7", 9999999.5, `9999999.5`},
		{"huge float", 1.2345e300, `1.2345E300`},
		{"tiny float", 5e-324, `4.9E-324`}, // Double.toString(Double.MIN_VALUE)
		{"NaN", math.NaN(), `"NaN"`},
		{"+Inf", math.Inf(1), `"Infinity"`},
		{"-Inf", math.Inf(-1), `"-Infinity"`},
		{"string", "hello", `"hello"`},
		{"quote and backslash", `a"b\c`, `"a\"b\\c"`},
		{"short escapes", "\n\r\t\b\f", `"\n\r\t\b\f"`},
		{"control chars", "\x00\x01\x1f\x7f", `"\u0000\u0001\u001F` + "\x7f" + `"`},
		{"no HTML escaping", "<a&b>", `"<a&b>"`},
		{"unicode kept", "héllo ☃ 😀", `"héllo ☃ 😀"`},
		{"line separators kept", "\u2028\u2029", "\"\u2028\u2029\""},
		{"invalid UTF-8", "a\xffb\xc3", `"a` + "\uFFFD" + `b` + "\uFFFD" + `"`},
		{"time ms", jsonTestTime.Add(123 * time.Millisecond), `"2026-11-24T10:00:01.123Z"`},
		{"time whole second", jsonTestTime, `"2026-11-24T10:00:01.000Z"`},
		{"time micro", jsonTestTime.Add(123456 * time.Microsecond), `"2026-11-24T10:00:01.123456Z"`},
		{"time nano", jsonTestTime.Add(1), `"2026-11-24T10:00:01.000000001Z"`},
		{"time zone converted", time.Date(2026, 11, 24, 11, 0, 1, 0, time.FixedZone("CET", 3600)), `"2026-11-24T10:00:01.000Z"`},
		{"array", []any{int64(1), "a", nil, []any{}}, `[1,"a",null,[]]`},
		{"object sorted", map[string]any{"b": int64(1), "a": map[string]any{}, "c": []any{true}}, `{"a":{},"b":1,"c":[true]}`},
		{"string slice", []string{"x", "y"}, `["x","y"]`},
		{"unsupported", struct{}{}, `null`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := string(AppendJSONValue(nil, tc.in))
			if got != tc.want {
				t.Errorf("AppendJSONValue(%#v) = %s; want %s", tc.in, got, tc.want)
			}
			if !json.Valid([]byte(got)) {
				t.Errorf("AppendJSONValue(%#v) = %s: not valid JSON", tc.in, got)
			}
		})
	}
}

func TestAppendJSONFloatRoundTrips(t *testing.T) {
	for _, f := range []float64{0.1, 1.0 / 3, 2.5e-8, 123456.789, 9.999999999999999e22, math.MaxFloat64, math.SmallestNonzeroFloat64, -7.0, 1e21, 100} {
		b := AppendJSONValue(nil, f)
		v, err := ParseJSON(b)
		if err != nil {
			t.Fatalf("ParseJSON(%s): %v", b, err)
		}
		if v != f {
			t.Errorf("%v encoded as %s reads back as %#v", f, b, v)
		}
	}
}

func TestAppendJSONEvent(t *testing.T) {
	e, err := FromMap(map[string]any{
		"@timestamp": jsonTestTime,
		"message":    "hi",
		"n":          3.0,
		"host":       map[string]any{"name": "h1"},
		"tags":       []any{"a"},
		"@metadata":  map[string]any{"secret": "x"},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"@timestamp":"2026-11-24T10:00:01.000Z","@version":"1","host":{"name":"h1"},"message":"hi","n":3.0,"tags":["a"]}`
	if got := string(e.AppendJSON(nil)); got != want {
		t.Errorf("AppendJSON = %s; want %s", got, want)
	}
	// Appends to what is there.
	if got := string(e.AppendJSON([]byte("x"))); got != "x"+want {
		t.Errorf("AppendJSON(x) = %s", got)
	}
}

func TestFromJSONRoundTrip(t *testing.T) {
	in := map[string]any{
		"@timestamp": jsonTestTime.Add(5 * time.Millisecond),
		"message":    "line \"one\"\n\ttab ☃",
		"int":        int64(math.MaxInt64),
		"neg":        int64(math.MinInt64),
		"float":      2.0,
		"frac":       -0.25,
		"big":        1e300,
		"bool":       false,
		"null":       nil,
		"nested":     map[string]any{"a": []any{int64(1), map[string]any{"b": "c"}}, "empty": map[string]any{}},
		"tags":       []any{"x", "y"},
	}
	e, err := FromMap(in)
	if err != nil {
		t.Fatal(err)
	}
	b := e.AppendJSON(nil)
	back, err := FromJSON(b)
	if err != nil {
		t.Fatalf("FromJSON(%s): %v", b, err)
	}
	if !reflect.DeepEqual(back.Fields(), e.Fields()) {
		t.Errorf("round trip:\n got %#v\nwant %#v", back.Fields(), e.Fields())
	}
	if b2 := back.AppendJSON(nil); string(b2) != string(b) {
		t.Errorf("re-encoded:\n got %s\nwant %s", b2, b)
	}
}

func TestFromJSON(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		want     map[string]any // fields other than @timestamp
		wantMeta map[string]any
	}{
		{
			name: "numbers",
			in:   `{"i":1,"n":-12,"z":0,"f":1.0,"e":1e3,"E":2E-2,"big":123456789012345678901,"max":9223372036854775807,"min":-9223372036854775808}`,
			want: map[string]any{"i": int64(1), "n": int64(-12), "z": int64(0), "f": 1.0, "e": 1000.0, "E": 0.02,
				"big": 123456789012345678901.0, "max": int64(math.MaxInt64), "min": int64(math.MinInt64), "@version": "1"},
		},
		{
			name: "escapes",
			in:   `{"s":"a\"b\\c\/d\b\f\n\r\t\u00e9\u2603\ud83d\ude00"}`,
			want: map[string]any{"s": "a\"b\\c/d\b\f\n\r\té☃😀", "@version": "1"},
		},
		{
			name: "lone surrogates",
			in:   `{"s":"\ud800x\udc00\ud800\u0041"}`,
			want: map[string]any{"s": "\uFFFDx\uFFFD\uFFFDA", "@version": "1"},
		},
		{
			name: "invalid UTF-8 replaced",
			in:   "{\"s\":\"a\xffb\",\"k\xfe\":1}",
			want: map[string]any{"s": "a\uFFFDb", "k\uFFFD": int64(1), "@version": "1"},
		},
		{
			name: "whitespace and duplicates",
			in:   " \n{ \"a\" : [ 1 , 2 ] ,\r\n\t\"a\" : true , \"@version\":\"2\" } \n",
			want: map[string]any{"a": true, "@version": "2"},
		},
		{
			name:     "metadata split off",
			in:       `{"@metadata":{"k":"v"},"message":"m"}`,
			want:     map[string]any{"message": "m", "@version": "1"},
			wantMeta: map[string]any{"k": "v"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, err := FromJSON([]byte(tc.in))
			if err != nil {
				t.Fatalf("FromJSON(%s): %v", tc.in, err)
			}
			got := map[string]any{}
			for k, v := range e.Fields() {
				if k != TimestampField {
					got[k] = v
				}
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("FromJSON(%s) =\n %#v\nwant %#v", tc.in, got, tc.want)
			}
			if !reflect.DeepEqual(e.Metadata(), tc.wantMeta) {
				t.Errorf("metadata = %#v; want %#v", e.Metadata(), tc.wantMeta)
			}
		})
	}
}

func TestFromJSONTimestamp(t *testing.T) {
	e, err := FromJSON([]byte(`{"@timestamp":"2026-11-24T11:00:01.5+01:00"}`))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := e.Timestamp(), jsonTestTime.Add(500*time.Millisecond); !got.Equal(want) {
		t.Errorf("@timestamp = %v; want %v", got, want)
	}
	before := time.Now().Add(-time.Second)
	e, err = FromJSON([]byte(`{"message":"no time"}`))
	if err != nil {
		t.Fatal(err)
	}
	if e.Timestamp().Before(before) {
		t.Errorf("missing @timestamp not set to now: %v", e.Timestamp())
	}
}

func TestParseJSONErrors(t *testing.T) {
	for _, in := range []string{
		``, ` `, `{`, `}`, `{"a"}`, `{"a":}`, `{"a":1,}`, `{a:1}`, `[1,]`, `[1 2]`, `"abc`, `"a\x"`, `"\u12"`,
		"\"a\x01b\"", `01`, `-`, `1.`, `.5`, `1e`, `1e+`, `+1`, `tru`, `nul`, `{"a":1} x`, `{} {}`, `NaN`, `1e400`,
		strings.Repeat("[", MaxDecodeDepth+1) + strings.Repeat("]", MaxDecodeDepth+1),
	} {
		if v, err := ParseJSON([]byte(in)); err == nil {
			t.Errorf("ParseJSON(%q) = %#v; want an error", in, v)
		} else if !errors.Is(err, ErrJSONSyntax) {
			t.Errorf("ParseJSON(%q) error %v does not wrap ErrJSONSyntax", in, err)
		}
	}
	for _, in := range []string{`[]`, `1`, `"s"`, `null`, `[{}]`} {
		if _, err := FromJSON([]byte(in)); err == nil {
			t.Errorf("FromJSON(%s): want an error for a non-object", in)
		}
	}
}

func TestParseJSONAgreesWithEncodingJSON(t *testing.T) {
	docs := []string{
		`{"a":[1,2.5,"x",null,true,{"b":{}}],"c":"\u00e9\n","d":-0.0,"e":1E+2}`,
		`[{"message":"one"},{"message":"two"}]`,
		`"just a string"`,
		`-123`,
	}
	for _, d := range docs {
		got, err := ParseJSON([]byte(d))
		if err != nil {
			t.Fatalf("ParseJSON(%s): %v", d, err)
		}
		dec := json.NewDecoder(strings.NewReader(d))
		dec.UseNumber()
		var ref any
		if err := dec.Decode(&ref); err != nil {
			t.Fatal(err)
		}
		want, err := Normalize(ref)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("ParseJSON(%s) = %#v; encoding/json gives %#v", d, got, want)
		}
	}
}

func benchEvent() *Event {
	e := NewMessage("<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8")
	e.SetTimestamp(jsonTestTime)
	_ = e.Set(MustRef("[host][name]"), "web-01")
	_ = e.Set(MustRef("[event][original]"), "<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8")
	_ = e.Set(MustRef("priority"), 34)
	_ = e.Set(MustRef("duration"), 0.25)
	e.AddTag("syslog", "parsed")
	return e
}

func BenchmarkAppendJSON(b *testing.B) {
	e := benchEvent()
	buf := e.AppendJSON(nil)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		buf = e.AppendJSON(buf[:0])
	}
}

func BenchmarkEncodingJSONMarshal(b *testing.B) {
	e := benchEvent()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := json.Marshal(e.Fields()); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFromJSON(b *testing.B) {
	data := benchEvent().AppendJSON(nil)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := FromJSON(data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodingJSONUnmarshal(b *testing.B) {
	data := benchEvent().AppendJSON(nil)
	b.ReportAllocs()
	for b.Loop() {
		dec := json.NewDecoder(strings.NewReader(string(data)))
		dec.UseNumber()
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			b.Fatal(err)
		}
		if _, err := FromMap(m); err != nil {
			b.Fatal(err)
		}
	}
}

func TestAppendJSONManyKeysSorted(t *testing.T) {
	for _, n := range []int{2, 16, 17, 32, 33, 100} {
		m := map[string]any{}
		for i := range n {
			m[string(rune('a'+i%26))+strings.Repeat("x", i/26)+"k"] = int64(i)
		}
		want, err := json.Marshal(m) // encoding/json sorts keys too
		if err != nil {
			t.Fatal(err)
		}
		if got := AppendJSONValue(nil, m); string(got) != string(want) {
			t.Errorf("%d keys:\n got %s\nwant %s", n, got, want)
		}
	}
}

// AppendJSONWithMetadata keeps [@metadata], and FromJSON reads the event back
// whole, with or without other fields.
func TestAppendJSONWithMetadataRoundTrip(t *testing.T) {
	for _, js := range []string{
		`{"@metadata":{"beat":"filebeat","n":1},"a":{"b":[1,"x"]},"message":"hi"}`,
		`{"@metadata":{"k":"v"}}`,
		`{"message":"no metadata"}`,
	} {
		e, err := FromJSON([]byte(js))
		if err != nil {
			t.Fatal(err)
		}
		out := e.AppendJSONWithMetadata(nil)
		back, err := FromJSON(out)
		if err != nil {
			t.Fatalf("%s: %v", out, err)
		}
		if got, want := string(back.AppendJSONWithMetadata(nil)), string(out); got != want {
			t.Errorf("round trip: %s; want %s", got, want)
		}
	}
	only := &Event{fields: map[string]any{}, meta: map[string]any{"k": "v"}}
	if got := string(only.AppendJSONWithMetadata(nil)); got != `{"@metadata":{"k":"v"}}` {
		t.Errorf("metadata only: %s", got)
	}
}

// TestStoredBigInteger: an integer beyond int64 (a *big.Int, e.g. from
// mutate's convert) is written exactly and comes back exactly from a queue
// record; at the edge such a number stays a float, as before.
func TestStoredBigInteger(t *testing.T) {
	const digits = "123456789012345678901234567890123456789"
	b, _ := new(big.Int).SetString(digits, 10)
	e := NewMessage("x")
	if err := e.Set(MustRef("n"), b); err != nil {
		t.Fatal(err)
	}
	js := e.AppendJSONWithMetadata(nil)
	if !strings.Contains(string(js), `"n":`+digits) {
		t.Fatalf("JSON %s", js)
	}
	back, err := FromStoredJSON(js)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := back.Get(MustRef("n")); fmt.Sprint(v) != digits {
		t.Errorf("read back %T %v; want %s exactly", v, v, digits)
	}
	edge, err := FromJSON(js)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := edge.Get(MustRef("n")); fmt.Sprintf("%T", v) != "float64" {
		t.Errorf("at the edge %T; want float64", v)
	}
}

// TestSortKVs: the prefix sort orders keys as a plain sort does, for keys
// that share prefixes, are shorter than eight bytes, hold zero bytes, or are
// not ASCII.
func TestSortKVs(t *testing.T) {
	keys := []string{"@timestamp", "@version", "facility", "facility_label", "host", "a", "ab", "ab\x00", "ab\x00c", "abcdefgh", "abcdefg", "abcdefghi",
		"abcdefgha", "", "é", "\xff", "priority", "program", "pid"}
	for n := range 17 {
		for seed := range 20 {
			kvs := make([]jsonKV, 0, n)
			for i := range n {
				kvs = append(kvs, jsonKV{k: keys[(i*7+seed*3)%len(keys)]})
			}
			want := make([]string, len(kvs))
			for i := range kvs {
				want[i] = kvs[i].k
			}
			slices.Sort(want)
			sortKVs(kvs)
			for i := range kvs {
				if kvs[i].k != want[i] {
					t.Fatalf("n %d seed %d: got %q at %d; want %q", n, seed, kvs[i].k, i, want[i])
				}
			}
		}
	}
}

// BenchmarkSortKVs sorts a flat syslog event's thirteen keys with sortKVs
// and, as the peer in the same run, with the insertion sort on whole strings
// it replaced (#20); it reports the ratio of their times.
func BenchmarkSortKVs(b *testing.B) {
	keys := []string{"severity", "@version", "host", "facility_label", "logsource", "pid", "@timestamp", "timestamp", "priority", "message", "facility", "program", "severity_label"}
	base := make([]jsonKV, len(keys))
	for i, k := range keys {
		base[i] = jsonKV{k: k}
	}
	kvs := make([]jsonKV, len(keys))
	var tNew, tOld time.Duration
	for b.Loop() {
		start := time.Now()
		for range 100 {
			copy(kvs, base)
			sortKVs(kvs)
		}
		mid := time.Now()
		for range 100 {
			copy(kvs, base)
			for i := 1; i < len(kvs); i++ {
				for j := i; j > 0 && kvs[j].k < kvs[j-1].k; j-- {
					kvs[j], kvs[j-1] = kvs[j-1], kvs[j]
				}
			}
		}
		tNew += mid.Sub(start)
		tOld += time.Since(mid)
	}
	b.ReportMetric(float64(tNew.Nanoseconds())/float64(100*b.N), "prefix-ns/sort")
	b.ReportMetric(float64(tOld.Nanoseconds())/float64(100*b.N), "strings-ns/sort")
	b.ReportMetric(tOld.Seconds()/tNew.Seconds(), "speedup")
}

// FuzzParseJSON checks the decoder against encoding/json (numbers as
// json.Number, normalized): the same documents are accepted, but for the
// nesting budget and numbers beyond float64, and they decode to the same
// values. The in-place form for strings (FromJSONString's) decodes to the
// same, and what the copying form returned does not change when the input
// buffer is overwritten afterwards (its strings are copies, not views).
func FuzzParseJSON(f *testing.F) {
	for _, s := range []string{
		`{"a":[1,2.5,"x",null,true,{"b":{}}],"c":"\u00e9\n","d":-0.0,"e":1E+2}`,
		`{"message":"\u003c25\u003eJan 24 08:15:14 db-16 dhclient[48365]: DHCPACK","host":"vm","type":"syslog"}`,
		`{"s":"a\"b\\c\/d\b\f\n\r\t\u00e9\u2603\ud83d\ude00","k":"\ud800x\udc00\ud800\u0041"}`,
		"{\"s\":\"a\xffb\",\"k\xfe\":1,\"a\":1,\"a\":\"dup\"}",
		`[{"message":"one"},{"message":"two"}]`, `"just a string"`, `-123`, `123456789012345678901`,
		`{"@timestamp":"2026-11-24T11:00:01.5+01:00","@version":"1","":""}`, `{"a":1e400}`, `[[[[[]]]]]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		b := slices.Clone(in)
		got, err := ParseJSON(b)
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber()
		var ref any
		refErr := dec.Decode(&ref)
		if refErr == nil {
			if _, tail := dec.Token(); tail != io.EOF {
				refErr = fmt.Errorf("data after the value")
			}
		}
		var want any
		if refErr == nil {
			if want, refErr = Normalize(ref); refErr != nil {
				refErr = nil // a number beyond float64: only ours refuses it
				if err == nil {
					t.Fatalf("ParseJSON(%q) = %#v; want an error for a number out of range", b, got)
				}
				return
			}
		}
		switch {
		case err != nil && refErr == nil:
			if !strings.Contains(err.Error(), "nesting deeper") && !strings.Contains(err.Error(), "out of range") {
				t.Fatalf("ParseJSON(%q): %v; encoding/json decodes it to %#v", b, err, want)
			}
			return
		case err == nil && refErr != nil:
			t.Fatalf("ParseJSON(%q) = %#v; encoding/json: %v", b, got, refErr)
		case err != nil:
			return
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("ParseJSON(%q) = %#v; encoding/json gives %#v", b, got, want)
		}
		shared, err := parseJSON([]byte(string(b)), MaxDecodeDepth, true)
		if err != nil || !reflect.DeepEqual(shared, got) {
			t.Fatalf("in place: %#v, %v; want %#v", shared, err, got)
		}
		for i := range b {
			b[i] = 'x'
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("the decoded values changed with the input buffer: %#v; want %#v", got, want)
		}
	})
}

// TestJSONSkipPlain: the word-at-a-time scan stops where a byte-at-a-time
// one does, whatever the special byte and its place in the word.
func TestJSONSkipPlain(t *testing.T) {
	special := func(c byte) bool { return c < 0x20 || c == '"' || c == '\\' || c >= 0x80 }
	for _, c := range []byte{0, 0x1f, '"', '\\', 0x80, 0xff, 0x20, '!', '#', '[', ']', 0x7f} {
		for pos := range 24 {
			for start := range 3 {
				b := []byte(strings.Repeat("a", 24))
				b[pos] = c
				s := string(b)
				want := start
				for want < len(s) && !special(s[want]) {
					want++
				}
				got := jsonSkipPlain(s, start)
				// The scan stops at the incomplete word at the end at the
				// latest: the caller reads that byte by byte.
				want = min(want, start+(len(s)-start)/8*8)
				if got != want {
					t.Errorf("jsonSkipPlain(%q, %d) = %d; want %d", s, start, got, want)
				}
			}
		}
	}
}

// BenchmarkFromJSONW4 decodes one element of the W4 workload (a syslog line
// as go-redis's producer encodes it) held as a string, as the redis input
// does.
func BenchmarkFromJSONW4(b *testing.B) {
	s := `{"@timestamp":"2026-12-08T00:03:05.95746751Z","message":"\u003c87\u003eOct  9 00:48:51 cache-01 sudo[45853]: nagios : TTY=pts/5 ; PWD=/home/backup ; USER=root ; COMMAND=/usr/bin/systemctl restart postgresql","host":"vm","type":"syslog"}`
	b.SetBytes(int64(len(s)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := FromJSONString(s); err != nil {
			b.Fatal(err)
		}
	}
}
