package engine

import (
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// The option types below hold Logstash's value shapes that no plain Go type
// decodes into (gohcl loses a hash's written order and cannot take "a string
// or a list"). The engine decodes them from the syntax once, so a plugin's
// Options struct holds typed Go values only and never imports HCL.
//
// Each one may be used as an Options field with an hcl tag like any other;
// its zero value is "not given", and Defaults may set it.

// StringList is a list of strings that also accepts a single string, which
// becomes a one-element list (Logstash's `host => "a"` or `host => ["a",
// "b"]`). Numbers and booleans are taken as their text; nested lists and
// hashes are refused.
type StringList []string

// URIList is a list of URIs as Logstash's `:validate => :uri, :list =>
// true` takes it: a string or a list of strings, each string split at
// whitespace, so `hosts => "http://a:9200 http://b:9200"` is two hosts.
type URIList []string

// Hash is a Logstash hash of strings in the order it was written:
// `rename => { "a" => "b" "c" => "d" }`. A key given twice keeps its first
// place and its last value, as a Ruby hash literal does. Numbers and booleans
// are taken as their text, and a one-element list as its element (as for a
// string option). Logstash's flat array form, ["a", "b", "c", "d"], is
// accepted too.
type Hash []HashEntry

// HashEntry is one key and value of a Hash.
type HashEntry struct{ Key, Value string }

// Get returns the value of key.
func (h Hash) Get(key string) (string, bool) {
	for _, e := range h {
		if e.Key == key {
			return e.Value, true
		}
	}
	return "", false
}

// HashOfLists is a Logstash hash whose values are a string or a list of
// strings, in the order it was written: grok's `match => { "message" =>
// ["p1", "p2"] }`. A key given twice (also in the flat array form ["message",
// "p1", "message", "p2"]) gets the values of both, in order.
type HashOfLists []ListEntry

// ListEntry is one key of a HashOfLists and its values.
type ListEntry struct {
	Key    string
	Values []string
}

// Bytes is a byte count written as a number or as Logstash's bytes strings:
// "512", "10kb" (SI units, base 1000: k M G T P E) or "10KiB" (binary units,
// base 1024: Ki Mi Gi Ti Pi Ei), case-insensitive, with an optional space and
// an optional trailing "b".
type Bytes int64

// Duration is a time span written as a Go duration ("30s", "1h30m") or as
// Logstash's time values ("30 s", "5m", "1d", "500ms", "10micros",
// "10nanos").
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// Seconds is a time span written as Logstash's file input writes its
// FriendlyDurations options: a number of seconds (1, 2.5, "3600") or a
// number with a unit ("1 second", "5m", "250ms", "2 weeks", "21.5d").
type Seconds time.Duration

// Days is Seconds with days as the unit of a bare number (Logstash's
// sincedb_clean_after).
type Days time.Duration

// D returns s as a time.Duration.
func (s Seconds) D() time.Duration { return time.Duration(s) }

// D returns d as a time.Duration.
func (d Days) D() time.Duration { return time.Duration(d) }

// shapeDecoder is implemented by the option types the engine decodes from the
// syntax itself; the unexported method keeps the set closed.
type shapeDecoder interface {
	decodeShape(a *hcl.Attribute, item string) hcl.Diagnostics
}

var (
	_ shapeDecoder = (*StringList)(nil)
	_ shapeDecoder = (*URIList)(nil)
	_ shapeDecoder = (*Hash)(nil)
	_ shapeDecoder = (*HashOfLists)(nil)
	_ shapeDecoder = (*Bytes)(nil)
	_ shapeDecoder = (*Duration)(nil)
	_ shapeDecoder = (*Seconds)(nil)
	_ shapeDecoder = (*Days)(nil)
)

// DocType and DocValue name each option type and its value for the generated
// plugin reference.
func (StringList) DocType() string  { return "string or list(string)" }
func (URIList) DocType() string     { return "uri or list(uri)" }
func (Hash) DocType() string        { return "hash(string)" }
func (HashOfLists) DocType() string { return "hash(string or list(string))" }
func (Bytes) DocType() string       { return "bytes" }
func (Duration) DocType() string    { return "duration" }
func (Seconds) DocType() string     { return "number (seconds) or duration" }
func (Days) DocType() string        { return "number (days) or duration" }

func (l StringList) DocValue() any {
	if l == nil {
		return nil
	}
	return []string(l)
}

func (l URIList) DocValue() any {
	if l == nil {
		return nil
	}
	return []string(l)
}

func (h Hash) DocValue() any {
	if h == nil {
		return nil
	}
	m := make(map[string]string, len(h))
	for _, e := range h {
		m[e.Key] = e.Value
	}
	return m
}

func (h HashOfLists) DocValue() any {
	if h == nil {
		return nil
	}
	m := make(map[string][]string, len(h))
	for _, e := range h {
		m[e.Key] = e.Values
	}
	return m
}

func (b Bytes) DocValue() any    { return int64(b) }
func (d Duration) DocValue() any { return time.Duration(d).String() }
func (s Seconds) DocValue() any  { return time.Duration(s).String() }
func (d Days) DocValue() any     { return time.Duration(d).String() }

// shapeError is the diagnostic of a value that does not fit its option type,
// worded as the engine words a FieldError on the same option.
func shapeError(a *hcl.Attribute, format string, args ...any) hcl.Diagnostics {
	r := a.Range
	return hcl.Diagnostics{{
		Severity: hcl.DiagError,
		Summary:  fmt.Sprintf("Invalid value for %q", a.Name),
		Detail:   fmt.Sprintf(format, args...) + ".",
		Subject:  &r,
	}}
}

// value evaluates an expression without variables, as gohcl does.
func value(a *hcl.Attribute, e hcl.Expression) (cty.Value, hcl.Diagnostics) {
	v, diags := e.Value(nil)
	if diags.HasErrors() {
		return cty.NilVal, diags
	}
	if !v.IsWhollyKnown() {
		return cty.NilVal, shapeError(a, "the value is not known")
	}
	return v, nil
}

// stringsOf takes a string or a list of strings. Numbers and booleans are
// taken as their text, as gohcl does for a string option.
func stringsOf(v cty.Value) ([]string, bool) {
	if v.IsNull() {
		return nil, false
	}
	t := v.Type()
	if t.IsPrimitiveType() {
		s, err := convert.Convert(v, cty.String)
		if err != nil {
			return nil, false
		}
		return []string{s.AsString()}, true
	}
	if !t.IsTupleType() && !t.IsListType() && !t.IsSetType() {
		return nil, false
	}
	out := make([]string, 0, v.LengthInt())
	for it := v.ElementIterator(); it.Next(); {
		_, el := it.Element()
		if el.IsNull() || !el.Type().IsPrimitiveType() {
			return nil, false
		}
		s, err := convert.Convert(el, cty.String)
		if err != nil {
			return nil, false
		}
		out = append(out, s.AsString())
	}
	return out, true
}

// single is Logstash's value.first for options that take one value: a
// one-element list is its element.
func single(v cty.Value) cty.Value {
	if !v.IsNull() && (v.Type().IsTupleType() || v.Type().IsListType()) && v.LengthInt() == 1 {
		return v.Index(cty.NumberIntVal(0))
	}
	return v
}

func (l *StringList) decodeShape(a *hcl.Attribute, item string) hcl.Diagnostics {
	v, diags := value(a, a.Expr)
	if diags.HasErrors() {
		return diags
	}
	if v.IsNull() {
		return nil
	}
	s, ok := stringsOf(v)
	if !ok {
		return shapeError(a, "want a %s or a list of %ss; got %s", item, item, v.Type().FriendlyName())
	}
	*l = s
	return nil
}

func (l *URIList) decodeShape(a *hcl.Attribute, item string) hcl.Diagnostics {
	var sl StringList
	if diags := sl.decodeShape(a, item); diags.HasErrors() {
		return diags
	}
	if sl == nil {
		return nil
	}
	out := URIList{}
	for _, s := range sl {
		out = append(out, strings.Fields(s)...)
	}
	*l = out
	return nil
}

// entries walks a hash in written order: an object constructor item by item,
// Logstash's flat array [k, v, k, v…] pair by pair, and any other hash value
// (from a function or variable, whose order is lost) by sorted keys.
func entries(a *hcl.Attribute, each func(key string, v cty.Value) hcl.Diagnostics) hcl.Diagnostics {
	key := func(e hcl.Expression) (string, hcl.Diagnostics) {
		k, diags := value(a, e)
		if diags.HasErrors() {
			return "", diags
		}
		if k.IsNull() || !k.Type().IsPrimitiveType() {
			return "", shapeError(a, "keys must be strings")
		}
		s, err := convert.Convert(k, cty.String)
		if err != nil {
			return "", shapeError(a, "keys must be strings")
		}
		return s.AsString(), nil
	}
	switch e := a.Expr.(type) {
	case *hclsyntax.ObjectConsExpr:
		for _, it := range e.Items {
			k, diags := key(it.KeyExpr)
			if diags.HasErrors() {
				return diags
			}
			v, diags := value(a, it.ValueExpr)
			if diags.HasErrors() {
				return diags
			}
			if diags := each(k, v); diags.HasErrors() {
				return diags
			}
		}
		return nil
	case *hclsyntax.TupleConsExpr:
		if len(e.Exprs)%2 != 0 {
			return shapeError(a, "the array form needs key, value pairs; got %d items", len(e.Exprs))
		}
		for i := 0; i < len(e.Exprs); i += 2 {
			k, diags := key(e.Exprs[i])
			if diags.HasErrors() {
				return diags
			}
			v, diags := value(a, e.Exprs[i+1])
			if diags.HasErrors() {
				return diags
			}
			if diags := each(k, v); diags.HasErrors() {
				return diags
			}
		}
		return nil
	}
	v, diags := value(a, a.Expr)
	if diags.HasErrors() {
		return diags
	}
	if v.IsNull() {
		return nil
	}
	t := v.Type()
	switch {
	case t.IsObjectType() || t.IsMapType():
		m := v.AsValueMap()
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if diags := each(k, m[k]); diags.HasErrors() {
				return diags
			}
		}
		return nil
	case t.IsTupleType() || t.IsListType():
		l := v.AsValueSlice()
		if len(l)%2 != 0 {
			return shapeError(a, "the array form needs key, value pairs; got %d items", len(l))
		}
		for i := 0; i < len(l); i += 2 {
			if l[i].IsNull() || l[i].Type() != cty.String {
				return shapeError(a, "keys must be strings")
			}
			if diags := each(l[i].AsString(), l[i+1]); diags.HasErrors() {
				return diags
			}
		}
		return nil
	}
	return shapeError(a, "want a hash, e.g. { key = \"value\" }; got %s", t.FriendlyName())
}

func (h *Hash) decodeShape(a *hcl.Attribute, item string) hcl.Diagnostics {
	out := Hash{}
	diags := entries(a, func(k string, v cty.Value) hcl.Diagnostics {
		v = single(v)
		if v.IsNull() || !v.Type().IsPrimitiveType() {
			return shapeError(a, "key %q: want a %s; got %s", k, item, shown(v))
		}
		s, _ := convert.Convert(v, cty.String)
		for i := range out {
			if out[i].Key == k {
				out[i].Value = s.AsString()
				return nil
			}
		}
		out = append(out, HashEntry{k, s.AsString()})
		return nil
	})
	if diags.HasErrors() {
		return diags
	}
	*h = out
	return nil
}

func (h *HashOfLists) decodeShape(a *hcl.Attribute, item string) hcl.Diagnostics {
	out := HashOfLists{}
	diags := entries(a, func(k string, v cty.Value) hcl.Diagnostics {
		s, ok := stringsOf(v)
		if !ok {
			return shapeError(a, "key %q: want a %s or a list of %ss; got %s", k, item, item, v.Type().FriendlyName())
		}
		for i := range out {
			if out[i].Key == k {
				out[i].Values = append(out[i].Values, s...)
				return nil
			}
		}
		out = append(out, ListEntry{k, s})
		return nil
	})
	if diags.HasErrors() {
		return diags
	}
	*h = out
	return nil
}

var bytesRE = regexp.MustCompile(`^(?i)(\d+(?:\.\d+)?)\s*(?:([kmgtpe])(i)?)?b?$`)

// ParseBytes reads a Logstash bytes string (see Bytes).
func ParseBytes(s string) (int64, error) {
	m := bytesRE.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return 0, fmt.Errorf("%q is not a byte size; write e.g. \"512\", \"64kb\" or \"10MiB\"", s)
	}
	n, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a byte size", s)
	}
	if m[2] != "" {
		base := 1000.0
		if m[3] != "" {
			base = 1024
		}
		n *= math.Pow(base, float64(strings.IndexByte("kmgtpe", strings.ToLower(m[2])[0])+1))
	}
	if n >= math.MaxInt64 {
		return 0, fmt.Errorf("%q is too large", s)
	}
	return int64(n), nil
}

func (b *Bytes) decodeShape(a *hcl.Attribute, _ string) hcl.Diagnostics {
	v, diags := value(a, a.Expr)
	if diags.HasErrors() {
		return diags
	}
	v = single(v)
	switch {
	case v.IsNull():
	case v.Type() == cty.Number:
		f, _ := v.AsBigFloat().Float64()
		if f < 0 || f != math.Trunc(f) || f >= math.MaxInt64 {
			return shapeError(a, "a byte count must be a whole number of 0 or more")
		}
		*b = Bytes(f)
	case v.Type() == cty.String:
		n, err := ParseBytes(v.AsString())
		if err != nil {
			return shapeError(a, "%s", err)
		}
		*b = Bytes(n)
	default:
		return shapeError(a, "want a byte size such as \"10MiB\"; got %s", v.Type().FriendlyName())
	}
	return nil
}

var timeValueRE = regexp.MustCompile(`^(\d+)\s*(nanos|micros|ms|s|m|h|d)$`)

// ParseDuration reads a Go duration or a Logstash time value (see Duration).
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if d, err := time.ParseDuration(s); err == nil {
		return d, nil
	}
	m := timeValueRE.FindStringSubmatch(s)
	if m == nil {
		return 0, fmt.Errorf("%q is not a duration; write e.g. \"30s\", \"500ms\" or \"1h\"", s)
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	unit := map[string]time.Duration{"nanos": time.Nanosecond, "micros": time.Microsecond, "ms": time.Millisecond,
		"s": time.Second, "m": time.Minute, "h": time.Hour, "d": 24 * time.Hour}[m[2]]
	if err != nil || n > math.MaxInt64/int64(unit) {
		return 0, fmt.Errorf("%q is too long", s)
	}
	return time.Duration(n) * unit, nil
}

func (d *Duration) decodeShape(a *hcl.Attribute, _ string) hcl.Diagnostics {
	v, diags := value(a, a.Expr)
	if diags.HasErrors() {
		return diags
	}
	v = single(v)
	switch {
	case v.IsNull():
	case v.Type() == cty.String:
		p, err := ParseDuration(v.AsString())
		if err != nil {
			return shapeError(a, "%s", err)
		}
		*d = Duration(p)
	default:
		return shapeError(a, "want a duration such as \"30s\"; got %s", v.Type().FriendlyName())
	}
	return nil
}

// friendlyRE is the shape Logstash's FriendlyDurations accepts: a decimal
// number, at most one space, and an optional unit word.
var friendlyRE = regexp.MustCompile(`^(\d+(?:\.\d+)?) ?([a-z]*)$`)

// friendlyUnits maps FriendlyDurations' unit words to their length; a word
// its pattern accepts that is not here (s, sec, seconds, …) means seconds.
var friendlyUnits = map[string]time.Duration{
	"m": time.Minute, "min": time.Minute, "mins": time.Minute, "minute": time.Minute, "minutes": time.Minute,
	"h": time.Hour, "hour": time.Hour, "hours": time.Hour,
	"d": 24 * time.Hour, "day": 24 * time.Hour, "days": 24 * time.Hour,
	"w": 7 * 24 * time.Hour, "week": 7 * 24 * time.Hour, "weeks": 7 * 24 * time.Hour,
	"ms": time.Millisecond, "msec": time.Millisecond, "msecs": time.Millisecond,
	"us": time.Microsecond, "usec": time.Microsecond, "usecs": time.Microsecond,
}

// friendlyWordRE is the unit words FriendlyDurations' pattern accepts.
var friendlyWordRE = regexp.MustCompile(`^(?:s(?:ec)?(?:ond)?s?|m(?:in)?(?:ute)?s?|h(?:our)?s?|d(?:ay)?s?|w(?:eek)?s?|us(?:ec)?s?|ms(?:ec)?s?)$`)

// ParseFriendlyDuration reads a FriendlyDurations value; unit is the length
// of a bare number ("3600", or a unit word that names no other length).
func ParseFriendlyDuration(s string, unit time.Duration) (time.Duration, error) {
	s = strings.TrimSpace(s)
	m := friendlyRE.FindStringSubmatch(s)
	if m == nil || m[2] != "" && !friendlyWordRE.MatchString(m[2]) {
		return 0, fmt.Errorf("%q is not a duration; write a number of %s or e.g. \"250ms\", \"60 sec\", \"18h\", \"1 day\", \"2w\"", s, unitName(unit))
	}
	n, _ := strconv.ParseFloat(m[1], 64)
	if m[2] != "" {
		unit = time.Second
		if u, ok := friendlyUnits[m[2]]; ok {
			unit = u
		}
	}
	if n*float64(unit) > math.MaxInt64 {
		return 0, fmt.Errorf("%q is too long", s)
	}
	return time.Duration(n * float64(unit)), nil
}

func unitName(unit time.Duration) string {
	if unit == 24*time.Hour {
		return "days"
	}
	return "seconds"
}

func decodeFriendly(a *hcl.Attribute, unit time.Duration) (time.Duration, bool, hcl.Diagnostics) {
	v, diags := value(a, a.Expr)
	if diags.HasErrors() {
		return 0, false, diags
	}
	v = single(v)
	var text string
	switch {
	case v.IsNull():
		return 0, false, nil
	case v.Type() == cty.String:
		text = v.AsString()
	case v.Type() == cty.Number:
		text = v.AsBigFloat().Text('f', -1)
	default:
		return 0, false, shapeError(a, "want a number of %s or a duration such as \"30s\"; got %s", unitName(unit), v.Type().FriendlyName())
	}
	d, err := ParseFriendlyDuration(text, unit)
	if err != nil {
		return 0, false, shapeError(a, "%s", err)
	}
	return d, true, nil
}

func (s *Seconds) decodeShape(a *hcl.Attribute, _ string) hcl.Diagnostics {
	d, ok, diags := decodeFriendly(a, time.Second)
	if ok {
		*s = Seconds(d)
	}
	return diags
}

func (d *Days) decodeShape(a *hcl.Attribute, _ string) hcl.Diagnostics {
	v, ok, diags := decodeFriendly(a, 24*time.Hour)
	if ok {
		*d = Days(v)
	}
	return diags
}
