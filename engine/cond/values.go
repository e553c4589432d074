package cond

import (
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/pipelined/pipeline/engine/timefmt"
	"github.com/pipelined/pipeline/engine/valuefmt"
)

// truthy is Logstash's EventCondition.valueIsTruthy: nil, false, "" and
// "false" are false (the last because it tests toString()), all else is true.
func truthy(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case bool:
		return x
	case string:
		return x != "" && x != "false"
	}
	return true
}

// valuesEqual is Ruby's == on event values: numbers compare numerically
// across int64 and float64, strings never equal numbers, arrays and maps
// compare element by element.
func valuesEqual(a, b any) bool {
	switch x := a.(type) {
	case nil:
		return b == nil
	case string:
		y, ok := b.(string)
		return ok && x == y
	case int64:
		return equalInt(b, x)
	case float64:
		switch y := b.(type) {
		case float64:
			return x == y
		case int64:
			return intEqualsFloat(y, x)
		}
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	case time.Time:
		y, ok := b.(time.Time)
		return ok && x.Equal(y)
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !valuesEqual(x[i], y[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, xv := range x {
			yv, ok := y[k]
			if !ok || !valuesEqual(xv, yv) {
				return false
			}
		}
		return true
	}
	return false
}

// equalInt reports whether v is a number equal to k.
func equalInt(v any, k int64) bool {
	switch x := v.(type) {
	case int64:
		return x == k
	case float64:
		return intEqualsFloat(k, x)
	}
	return false
}

// intEqualsFloat compares exactly, as Ruby does (no rounding of large ints).
func intEqualsFloat(i int64, f float64) bool {
	c, ok := cmpIntFloat(i, f)
	return ok && c == 0
}

// cmpIntFloat compares i and f exactly; ok is false when f is NaN.
func cmpIntFloat(i int64, f float64) (int, bool) {
	switch {
	case math.IsNaN(f):
		return 0, false
	case f >= 0x1p63:
		return -1, true
	case f < -0x1p63:
		return 1, true
	}
	t := math.Trunc(f)
	ti := int64(t)
	switch {
	case i < ti:
		return -1, true
	case i > ti:
		return 1, true
	case f > t:
		return -1, true
	case f < t:
		return 1, true
	}
	return 0, true
}

func cmpFloat(a, b float64) (int, bool) {
	switch {
	case math.IsNaN(a) || math.IsNaN(b):
		return 0, false
	case a < b:
		return -1, true
	case a > b:
		return 1, true
	}
	return 0, true
}

// compareValues orders two values of comparable types: numbers, strings
// (byte-wise) and timestamps. ok is false for any other combination.
func compareValues(a, b any) (int, bool) {
	switch x := a.(type) {
	case int64:
		switch y := b.(type) {
		case int64:
			switch {
			case x < y:
				return -1, true
			case x > y:
				return 1, true
			}
			return 0, true
		case float64:
			return cmpIntFloat(x, y)
		}
	case float64:
		switch y := b.(type) {
		case float64:
			return cmpFloat(x, y)
		case int64:
			c, ok := cmpIntFloat(y, x)
			return -c, ok
		}
	case string:
		if y, ok := b.(string); ok {
			return strings.Compare(x, y), true
		}
	case time.Time:
		if y, ok := b.(time.Time); ok {
			return x.Compare(y), true
		}
	}
	return 0, false
}

// stringInValue is `"k" in v` for a constant string k: a substring of a
// string, or an element (==) of an array.
func stringInValue(k string, v any) bool {
	switch x := v.(type) {
	case string:
		return strings.Contains(x, k)
	case []any:
		for _, e := range x {
			if s, ok := e.(string); ok && s == k {
				return true
			}
		}
	}
	return false
}

// valueIn is `a in b` where b comes from the event: substring for two
// strings, membership (==) for an array, equality otherwise. A nil, array or
// map on the left is never in anything (Logstash's FieldInField).
func valueIn(a, b any) bool {
	switch a.(type) {
	case nil, []any, map[string]any:
		return false
	}
	switch y := b.(type) {
	case nil:
		return false
	case string:
		x, ok := a.(string)
		return ok && strings.Contains(y, x)
	case []any:
		for _, e := range y {
			if valuesEqual(a, e) {
				return true
			}
		}
		return false
	}
	return valuesEqual(a, b)
}

// stringSet holds the string forms of an array literal's items, for `in`
// against a literal list. Logstash compares val.toString() with
// found.toString() there (EventCondition.Compiler.FieldInConstantList).
type stringSet struct {
	list []string
	m    map[string]struct{} // for larger lists
}

const stringSetMapMin = 8

func newStringSet(items []any) *stringSet {
	s := &stringSet{}
	for _, it := range items {
		var buf [64]byte
		if b, ok := appendStringForm(buf[:0], it); ok {
			s.list = append(s.list, string(b))
		}
	}
	if len(s.list) >= stringSetMapMin {
		s.m = make(map[string]struct{}, len(s.list))
		for _, v := range s.list {
			s.m[v] = struct{}{}
		}
	}
	return s
}

func (s *stringSet) containsString(v string) bool {
	if s.m != nil {
		_, ok := s.m[v]
		return ok
	}
	for _, e := range s.list {
		if e == v {
			return true
		}
	}
	return false
}

func (s *stringSet) containsBytes(b []byte) bool {
	if s.m != nil {
		_, ok := s.m[string(b)]
		return ok
	}
	for _, e := range s.list {
		if string(b) == e {
			return true
		}
	}
	return false
}

// containsValue reports whether v's string form is in the set. Missing
// values, arrays and maps never match.
func (s *stringSet) containsValue(v any) bool {
	if x, ok := v.(string); ok {
		return s.containsString(x)
	}
	var buf [64]byte
	b, ok := appendStringForm(buf[:0], v)
	return ok && s.containsBytes(b)
}

// scalarString is the string form of a constant (a string or a number).
func scalarString(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	b, _ := appendStringForm(nil, v)
	return string(b)
}

// appendStringForm appends the toString() form Logstash gives a scalar event
// value: integers in decimal, floats as Ruby's Float#to_s, booleans as
// true/false, timestamps in ISO 8601 UTC with at least millisecond
// precision. ok is false for nil, arrays and maps.
func appendStringForm(dst []byte, v any) ([]byte, bool) {
	switch x := v.(type) {
	case string:
		return append(dst, x...), true
	case int64:
		return strconv.AppendInt(dst, x, 10), true
	case float64:
		return valuefmt.AppendRubyFloat(dst, x), true
	case bool:
		return strconv.AppendBool(dst, x), true
	case time.Time:
		return timefmt.AppendTimestamp(dst, x), true
	}
	return dst, false
}
