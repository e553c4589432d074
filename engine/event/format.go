package event

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"
)

// This file renders event values as text the way Logstash's sprintf does
// (org.logstash.StringInterpolation): the value is converted to its Java form
// and printed with toString(), except that a List is joined with "," (KeyNode.join)
// and a Map is written as JSON (Jackson).

// appendValue appends v as StringInterpolation renders a field value. v must
// not be nil (a nil field renders as a missing one, literally).
func appendValue(dst []byte, v any) []byte {
	switch x := v.(type) {
	case string:
		return append(dst, x...)
	case []any:
		return appendJoined(dst, x)
	case map[string]any:
		return AppendJSONValue(dst, x) // json.go: Jackson-compatible, sorted keys
	case nil, bool, int64, float64, time.Time:
		return appendScalar(dst, v)
	}
	// Not an event value type (someone wrote to Fields() directly).
	if n, err := Normalize(v); err == nil {
		return appendValue(dst, n)
	}
	return fmt.Append(dst, v)
}

// appendScalar appends the Java toString() form of a non-container value.
func appendScalar(dst []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(dst, "null"...)
	case string:
		return append(dst, x...)
	case bool:
		return strconv.AppendBool(dst, x)
	case int64:
		return strconv.AppendInt(dst, x, 10)
	case float64:
		return appendJavaDouble(dst, x)
	case time.Time:
		return appendTimestamp(dst, x)
	}
	// Not an event value type (someone wrote to Fields() directly).
	if n, err := Normalize(v); err == nil {
		return appendJavaString(dst, n)
	}
	return fmt.Append(dst, v)
}

// appendJoined is KeyNode.join(list, ","): nested lists are flattened, a null
// element is empty and any other element uses its toString().
func appendJoined(dst []byte, list []any) []byte {
	for i, el := range list {
		if i > 0 {
			dst = append(dst, ',')
		}
		switch x := el.(type) {
		case nil:
		case []any:
			dst = appendJoined(dst, x)
		default:
			dst = appendJavaString(dst, x)
		}
	}
	return dst
}

// appendJavaString appends String.valueOf(v) for v's Java form: a map prints as
// {k=v, k2=v2} (keys sorted here, for stable output), a list as [a, b], null as
// null.
func appendJavaString(dst []byte, v any) []byte {
	switch x := v.(type) {
	case []any:
		dst = append(dst, '[')
		for i, el := range x {
			if i > 0 {
				dst = append(dst, ", "...)
			}
			dst = appendJavaString(dst, el)
		}
		return append(dst, ']')
	case map[string]any:
		dst = append(dst, '{')
		for i, k := range sortedKeys(x) {
			if i > 0 {
				dst = append(dst, ", "...)
			}
			dst = append(dst, k...)
			dst = append(dst, '=')
			dst = appendJavaString(dst, x[k])
		}
		return append(dst, '}')
	}
	return appendScalar(dst, v)
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// appendJavaDouble appends f as Java's Double.toString does (JDK 19+, which
// prints the shortest digits that round-trip, at least two): plain decimal with at least one
// fraction digit for 1e-3 <= |f| < 1e7 ("1.5", "3.0", "100.0"), otherwise
// computerized scientific notation ("1.0E7", "1.234E-5"); "NaN", "Infinity",
// "-Infinity", "0.0", "-0.0".
func appendJavaDouble(dst []byte, f float64) []byte {
	switch {
	case math.IsNaN(f):
		return append(dst, "NaN"...)
	case math.IsInf(f, 1):
		return append(dst, "Infinity"...)
	case math.IsInf(f, -1):
		return append(dst, "-Infinity"...)
	case f == 0:
		if math.Signbit(f) {
			return append(dst, "-0.0"...)
		}
		return append(dst, "0.0"...)
	}
	var buf [32]byte
	b := strconv.AppendFloat(buf[:0], f, 'e', -1, 64) // -d.ddde±XX
	if b[1] == 'e' || b[0] == '-' && b[2] == 'e' {
		// One shortest digit: Java picks the closest two-digit decimal that
		// still rounds to f (4.9E-324, not 5.0E-324).
		var buf2 [32]byte
		b2 := strconv.AppendFloat(buf2[:0], f, 'e', 1, 64)
		if g, err := strconv.ParseFloat(string(b2), 64); err == nil && g == f {
			b = append(buf[:0], b2...)
		}
	}
	if b[0] == '-' {
		dst = append(dst, '-')
		b = b[1:]
	}
	// Split into digits and decimal exponent: value = 0.d1d2d3... × 10^(exp+1).
	var digs [24]byte
	nd := 0
	i := 0
	for ; b[i] != 'e'; i++ {
		if b[i] != '.' {
			digs[nd] = b[i]
			nd++
		}
	}
	for nd > 1 && digs[nd-1] == '0' {
		nd--
	}
	exp := 0
	neg := b[i+1] == '-'
	for _, c := range b[i+2:] {
		exp = exp*10 + int(c-'0')
	}
	if neg {
		exp = -exp
	}
	d := digs[:nd]
	if exp >= -3 && exp < 7 {
		if exp < 0 {
			dst = append(dst, '0', '.')
			for j := -1; j > exp; j-- {
				dst = append(dst, '0')
			}
			return append(dst, d...)
		}
		// exp+1 integer digits.
		if nd <= exp+1 {
			dst = append(dst, d...)
			for j := nd; j < exp+1; j++ {
				dst = append(dst, '0')
			}
			return append(dst, '.', '0')
		}
		dst = append(dst, d[:exp+1]...)
		dst = append(dst, '.')
		return append(dst, d[exp+1:]...)
	}
	dst = append(dst, d[0], '.')
	if nd > 1 {
		dst = append(dst, d[1:]...)
	} else {
		dst = append(dst, '0')
	}
	dst = append(dst, 'E')
	return strconv.AppendInt(dst, int64(exp), 10)
}
