package mutate

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/big"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/plugins/internal/testkit/plugintest"
)

func TestConvertValue(t *testing.T) {
	ts := time.Date(2026, 1, 2, 3, 4, 5, 500e6, time.UTC)
	tests := []struct {
		kind string
		in   any
		want any // an error value means "fails"
	}{
		{"integer", "42", int64(42)},
		{"integer", " 42\n", int64(42)},
		{"integer", "1,000", int64(1000)},
		{"integer", "7.9", int64(7)},
		{"integer", "-7.9", int64(-7)},
		{"integer", ".5", int64(0)},
		{"integer", "+3", int64(3)},
		{"integer", "1e3", int64(1000)},
		{"integer", "1E-1", int64(0)},
		{"integer", "1_000", int64(1000)},
		{"integer", "0x1A", int64(26)},
		{"integer", "-0xff", int64(-255)},
		{"integer", "0x1.8p+1", int64(3)},
		{"integer", "9223372036854775807", int64(math.MaxInt64)},
		// Beyond int64 Ruby gives a Bignum; the value stays exact (issue #19
		// found _mutate_error).
		{"integer", "9223372036854775808", bigInt("9223372036854775808")},
		{"integer", "-9223372036854775809", bigInt("-9223372036854775809")},
		{"integer", "123456789012345678901234567890123456789", bigInt("123456789012345678901234567890123456789")},
		{"integer", "1.5e30", bigInt("1500000000000000000000000000000")},
		{"integer", "123456789012345678.9", int64(123456789012345678)},
		{"integer", "abc", errors.New("")},
		{"integer", "12abc", errors.New("")},
		{"integer", "", errors.New("")},
		{"integer", "inf", errors.New("")},
		{"integer", "NaN", errors.New("")},
		{"integer", "1__0", errors.New("")},
		{"integer", true, int64(1)},
		{"integer", false, int64(0)},
		{"integer", int64(5), int64(5)},
		{"integer", 2.99, int64(2)},
		{"integer", math.Inf(1), errors.New("")},
		{"integer", 1e19, bigInt("10000000000000000000")},
		{"integer", ts, int64(1767323045)},
		{"integer", map[string]any{}, errors.New("")},
		{"integer", []any{"1"}, errors.New("")},
		{"integer_eu", "1,5", int64(1)},
		{"integer_eu", "1.234.567,8", int64(1234567)},
		{"integer_eu", "1.000", int64(1000)},
		{"integer_eu", 2.5, int64(2)},
		{"float", "1.5", 1.5},
		{"float", "3,141.5926", 3141.5926},
		{"float", "1e3", 1000.0},
		{"float", "-1.5E-3", -0.0015},
		{"float", "0x1A", 26.0},
		{"float", "-0x1.8p+1", -3.0},
		{"float", "1e400", errors.New("")},
		{"float", "abc", errors.New("")},
		{"float", "", errors.New("")},
		{"float", "Infinity", errors.New("")},
		{"float", int64(3), 3.0},
		{"float", true, 1.0},
		{"float", false, 0.0},
		{"float", ts, 1767323045.5},
		{"float_eu", "1.234,5", 1234.5},
		{"float_eu", "3141,5926", 3141.5926},
		{"float_eu", "3.141", 3141.0},
		{"string", int64(1234), "1234"},
		{"string", 1.5, "1.5"},
		{"string", 3.0, "3.0"},
		{"string", 1e16, "1.0e+16"},
		{"string", 1e15, "1000000000000000.0"},
		{"string", 0.0001, "0.0001"},
		{"string", 0.00001, "1.0e-05"},
		{"string", true, "true"},
		{"string", "s", "s"},
		{"string", ts, "2026-01-02T03:04:05.500Z"},
		{"string", []any{"a", int64(1), nil}, `["a", 1, nil]`},
		{"string", map[string]any{"b": int64(1), "a": "x"}, `{"a"=>"x", "b"=>1}`},
		{"boolean", "true", true},
		{"boolean", "T", true},
		{"boolean", "yes", true},
		{"boolean", "Y", true},
		{"boolean", "1", true},
		{"boolean", "1.0", true},
		{"boolean", "1x0", true}, // /1.0/: the dot matches any character
		{"boolean", "FALSE", false},
		{"boolean", "f", false},
		{"boolean", "No", false},
		{"boolean", "n", false},
		{"boolean", "0", false},
		{"boolean", "0.0", false},
		{"boolean", "", false},
		{"boolean", "x\nyes", true}, // /^…$/ matches any line, as in Ruby
		{"boolean", "maybe", "maybe"},
		{"boolean", "yess", "yess"},
		{"boolean", int64(1), true},
		{"boolean", int64(0), false},
		{"boolean", int64(2), int64(2)},
		{"boolean", -1.0, -1.0},
		{"boolean", 1.0, true},
		{"boolean", 0.0, false},
		{"boolean", true, true},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%s/%v", tc.kind, tc.in), func(t *testing.T) {
			got, err := convertValue(convertKinds[tc.kind], tc.in)
			if _, wantErr := tc.want.(error); wantErr {
				if err == nil {
					t.Errorf("convert %s %#v = %#v; want an error", tc.kind, tc.in, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("convert %s %#v: %v", tc.kind, tc.in, err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("convert %s %#v = %#v; want %#v", tc.kind, tc.in, got, tc.want)
			}
		})
	}
}

func TestGsubReplacement(t *testing.T) {
	tests := []struct {
		re, repl, in, want string
	}{
		{`(\w+)@(\w+)`, `\2 at \1`, "me@host, you@there", "host at me, there at you"},
		{`o`, `[\0\&]`, "foo", "f[oo][oo]"},
		{`b`, "<\\`|\\'>", "abc", "a<a|c>c"},
		{`(?P<x>\d)`, `\k<x>\k<x>`, "a1b2", "a11b22"},
		{`(?<x>\d)`, `\k<x>`, "a1", "a1"},
		{`\d`, `\k<nosuch>`, "a1", "a"},
		{`\d`, `\k<`, "a1", `a\k<`},
		{`(a)|(b)`, `[\2]`, "ab", "[][b]"},
		{`a`, `\9`, "a", ""},
		{`a`, `\\1`, "a", `\1`},
		{`a`, `\n\`, "a", `\n\`},
		{`a`, `$1 ${1}`, "a", "$1 ${1}"},
		{`x*`, `-`, "abc", "-a-b-c-"},
		{`^`, `> `, "l1\nl2", "> l1\n> l2"},
		{`é`, `e`, "café é", "cafe e"},
		{`nomatch`, `x`, "abc", "abc"},
	}
	for _, tc := range tests {
		re, err := compileRuby(tc.re)
		if err != nil {
			t.Fatal(err)
		}
		if got := gsub(re, tc.in, parseReplacement(tc.repl)); got != tc.want {
			t.Errorf("gsub(%q, %q, %q) = %q; want %q", tc.in, tc.re, tc.repl, got, tc.want)
		}
	}
}

func TestRubySplit(t *testing.T) {
	tests := []struct {
		s, sep string
		want   []any
	}{
		{"a,b,c", ",", []any{"a", "b", "c"}},
		{"a,b,,", ",", []any{"a", "b"}},
		{",a", ",", []any{"", "a"}},
		{",,,", ",", []any{}},
		{"", ",", []any{}},
		{"  a \t b\n", " ", []any{"a", "b"}},
		{"a  b", "  ", []any{"a", "b"}},
		{"añb", "", []any{"a", "ñ", "b"}},
		{"a.b", ".", []any{"a", "b"}},
	}
	for _, tc := range tests {
		if got := rubySplit(tc.s, tc.sep); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("split(%q, %q) = %#v; want %#v", tc.s, tc.sep, got, tc.want)
		}
	}
}

func TestStringHelpers(t *testing.T) {
	for in, want := range map[string]string{
		"":            "",
		"hELLO wORLD": "Hello world",
		"Already":     "Already",
		"élan":        "Élan",
		"ǆemal":       "ǅemal", // title case, not upper case
		" x":          " x",
	} {
		if got := capitalize(in); got != want {
			t.Errorf("capitalize(%q) = %q; want %q", in, got, want)
		}
	}
	if got := rubyStrip("\x00\t\n\v\f\r a b \r\n\x00"); got != "a b" {
		t.Errorf("rubyStrip = %q", got)
	}
	if got := rubyStrip("\u00a0a\u00a0"); got != "\u00a0a\u00a0" {
		t.Errorf("rubyStrip stripped non-ASCII space: %q", got)
	}
}

func TestValidate(t *testing.T) {
	for _, o := range []Options{
		{Gsub: []string{"a", "b"}},
		{Convert: map[string]string{"a": "int"}},
	} {
		var fe *engine.FieldError
		if err := o.Validate(); !errors.As(err, &fe) {
			t.Errorf("Validate(%+v) = %v; want a FieldError", o, err)
		}
	}
	for _, tc := range []struct {
		opts, field string
	}{
		{`rename = { "[a" = "b" }`, "rename"},
		{`rename = { "a" = "[b" }`, "rename"},
		{`update = { "a" = "%%{[b}" }`, "update"},
		{`gsub = ["a", "(", "b"]`, "gsub"},
		{`gsub = ["a", "%%{[x}", "b"]`, "gsub"},
		{`gsub = ["[a", "x", "b"]`, "gsub"},
		{`uppercase = ["[a"]`, "uppercase"},
		{`strip = ["a]"]`, "strip"},
		{`merge = { "a" = "[b" }`, "merge"},
		{`split = { "[a" = "," }`, "split"},
	} {
		_, err := New(plugintest.NewOptions[Options](t, tc.opts), engine.Resources{})
		var fe *engine.FieldError
		if !errors.As(err, &fe) || fe.Field != tc.field {
			t.Errorf("New(%s) = %v; want a FieldError on %s", tc.opts, err, tc.field)
		}
	}
}

// coerce values may be written as numbers or booleans; they become strings.
func TestCoerceNonStringValue(t *testing.T) {
	f := plugintest.MustNew(t, New, `coerce = { n = 5, b = false }`, engine.Resources{})
	e := event.NewMessage("m")
	_ = e.Set(event.MustRef("n"), nil)
	_ = e.Set(event.MustRef("b"), nil)
	if _, err := f.Filter(context.Background(), e, nil); err != nil {
		t.Fatal(err)
	}
	if v, _ := e.Get(event.MustRef("n")); v != "5" {
		t.Errorf("n = %#v; want \"5\"", v)
	}
	if v, _ := e.Get(event.MustRef("b")); v != "false" {
		t.Errorf("b = %#v; want \"false\"", v)
	}
}

// copy and merge make deep copies: changing the source afterwards does not
// change the copy.
func TestDeepCopies(t *testing.T) {
	f := plugintest.MustNew(t, New, `
copy  = { "src" = "[dst][copy]" }
merge = { "h" = "src", "l" = "list" }
`, engine.Resources{})
	e, err := event.FromMap(map[string]any{
		"src":  map[string]any{"k": []any{"a", map[string]any{"x": "y"}}},
		"h":    map[string]any{},
		"l":    []any{},
		"list": []any{map[string]any{"z": 1}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Filter(context.Background(), e, nil); err != nil {
		t.Fatal(err)
	}
	_ = e.Set(event.MustRef("[src][k][1][x]"), "changed")
	_ = e.Set(event.MustRef("[list][0][z]"), 2)
	for ref, want := range map[string]any{
		"[dst][copy][k][1][x]": "y",
		"[h][k][1][x]":         "y",
		"[l][0][z]":            int64(1),
	} {
		if got, _ := e.Get(event.MustRef(ref)); got != want {
			t.Errorf("%s = %#v; want %#v", ref, got, want)
		}
	}
}

func TestFilterAppends(t *testing.T) {
	f := plugintest.MustNew(t, New, `uppercase = ["message"]`, engine.Resources{})
	prev := event.NewMessage("earlier")
	e := event.NewMessage("m")
	got, err := f.Filter(context.Background(), e, []*event.Event{prev})
	if err != nil || len(got) != 2 || got[0] != prev || got[1] != e {
		t.Errorf("Filter = %v, %v; want [prev e], nil", got, err)
	}
}

func TestFailureReturnsError(t *testing.T) {
	f := plugintest.MustNew(t, New, `convert = { n = "integer" }`+"\n"+`tag_on_failure = "bad"`, engine.Resources{})
	e := event.NewMessage("m")
	_ = e.Set(event.MustRef("n"), "x")
	got, err := f.Filter(context.Background(), e, nil)
	if err == nil || len(got) != 1 || got[0] != e || !e.HasTag("bad") {
		t.Errorf("Filter = %v, %v, tags %v; want the tagged event and an error", got, err, e.Tags())
	}
}

// Filter is called from several workers at once; run with -race. (The
// options are plain HCL here: "%%{" is a literal "%{".)
func TestConcurrent(t *testing.T) {
	f := plugintest.MustNew(t, New, `
gsub      = ["message", "%%{pat}", "<%%{pat}\\0>"]
rename    = { "a" = "b_%%{pat}" }
uppercase = ["message"]
convert   = { "n" = "integer" }
`, engine.Resources{})
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				e := event.NewMessage("x y x")
				_ = e.Set(event.MustRef("pat"), "x")
				_ = e.Set(event.MustRef("a"), w)
				_ = e.Set(event.MustRef("n"), fmt.Sprint(i))
				out, err := f.Filter(context.Background(), e, nil)
				if err != nil || len(out) != 1 {
					t.Error(err)
					return
				}
				if m, _ := e.Message(); m != "<XX> Y <XX>" {
					t.Errorf("message = %q", m)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// BenchmarkMutate5Ops runs five common operations on a typical event.
func BenchmarkMutate5Ops(b *testing.B) {
	f := plugintest.MustNew(b, New, `
rename    = { "host" = "[host][name]" }
replace   = { "service" = "%%{program}-svc" }
convert   = { "bytes" = "integer" }
gsub      = ["path", "/+", "/"]
lowercase = ["method"]
`, engine.Resources{})
	base := map[string]any{
		"message": "GET //a//b 200 1234",
		"host":    "web-1",
		"program": "nginx",
		"bytes":   "1234",
		"path":    "//a//b",
		"method":  "GET",
	}
	events := make([]*event.Event, b.N)
	for i := range events {
		e, err := event.FromMap(base)
		if err != nil {
			b.Fatal(err)
		}
		events[i] = e
	}
	out := make([]*event.Event, 0, 1)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := f.Filter(ctx, events[i], out[:0]); err != nil {
			b.Fatal(err)
		}
	}
}

func bigInt(s string) *big.Int {
	b, ok := new(big.Int).SetString(s, 10)
	if !ok {
		panic(s)
	}
	return b
}

// TestConvertBigIntegerJSON: an integer beyond int64 is written exactly,
// as a JSON number, and prints as Ruby does in a string.
func TestConvertBigIntegerJSON(t *testing.T) {
	const digits = "123456789012345678901234567890123456789"
	e := event.NewMessage(digits)
	v, err := convertValue(convertKinds["integer"], digits)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Set(event.MustRef("n"), v); err != nil {
		t.Fatal(err)
	}
	if js := string(e.AppendJSON(nil)); !strings.Contains(js, `"n":`+digits+`,`) && !strings.Contains(js, `"n":`+digits+`}`) {
		t.Errorf("JSON %s: want n as the exact number", js)
	}
	if s, err := convertValue(convertKinds["string"], v); err != nil || s != digits {
		t.Errorf("to string: %v, %v", s, err)
	}
}
