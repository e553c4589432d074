package event

import (
	"fmt"
	"math/big"
	"slices"
	"strconv"
	"time"

	"github.com/pipelined/pipeline/engine/timefmt"
	"github.com/pipelined/pipeline/engine/valuefmt"
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
	case nil, bool, int64, float64, time.Time, *big.Int:
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
	case *big.Int:
		return x.Append(dst, 10)
	case float64:
		return valuefmt.AppendJavaDouble(dst, x)
	case time.Time:
		return timefmt.AppendTimestamp(dst, x)
	}
	// Not an event value type (someone wrote to Fields() directly).
	if n, err := Normalize(v); err == nil {
		return AppendJavaString(dst, n)
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
			dst = AppendJavaString(dst, x)
		}
	}
	return dst
}

// AppendJavaString appends String.valueOf(v) for the Java form Logstash gives
// the event value v, as Event#to_s prints a field: a string as is, a map as
// {k=v, k2=v2} (keys sorted here, for stable output), a list as [a, b], null as
// null, a float as Double.toString and a timestamp as timefmt.AppendTimestamp.
func AppendJavaString(dst []byte, v any) []byte {
	switch x := v.(type) {
	case []any:
		dst = append(dst, '[')
		for i, el := range x {
			if i > 0 {
				dst = append(dst, ", "...)
			}
			dst = AppendJavaString(dst, el)
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
			dst = AppendJavaString(dst, x[k])
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
