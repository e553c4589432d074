package rubyproc

import (
	"strconv"
	"time"

	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/engine/timefmt"
)

// The wire form of an event is {"f": fields, "m": metadata} in JSON, with
// every time value written as {"\u0000ts": <nanoseconds since the epoch>} so that it comes
// back from Ruby as a time (LogStash::Timestamp there), not as a string.
const tsKey = "\x00ts"

// AppendEvent appends the wire form of e: {"f": fields, "m": metadata}.
func AppendEvent(dst []byte, e *event.Event) []byte {
	dst = append(dst, `{"f":`...)
	dst = appendMap(dst, e.Fields())
	if m := e.Metadata(); len(m) > 0 {
		dst = append(dst, `,"m":`...)
		dst = appendMap(dst, m)
	}
	return append(dst, '}')
}

func appendMap(dst []byte, m map[string]any) []byte {
	dst = append(dst, '{')
	first := true
	for k, v := range m {
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = event.AppendJSONValue(dst, k)
		dst = append(dst, ':')
		dst = AppendValue(dst, v)
	}
	return append(dst, '}')
}

// AppendValue appends the wire form of v (times as {"\u0000ts": ns}).
func AppendValue(dst []byte, v any) []byte {
	switch x := v.(type) {
	case map[string]any:
		return appendMap(dst, x)
	case []any:
		dst = append(dst, '[')
		for i, el := range x {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = AppendValue(dst, el)
		}
		return append(dst, ']')
	case time.Time:
		// Nanoseconds since the epoch: Ruby reads an integer far faster than
		// it parses ISO 8601; times beyond 2262 go as text.
		dst = append(dst, `{"\u0000ts":`...)
		if y := x.Year(); y > 1677 && y < 2262 {
			dst = strconv.AppendInt(dst, x.UnixNano(), 10)
		} else {
			dst = event.AppendJSONValue(dst, x)
		}
		return append(dst, '}')
	}
	return event.AppendJSONValue(dst, v)
}

// FromWire makes an event of its wire form.
func FromWire(w map[string]any) *event.Event {
	f, _ := w["f"].(map[string]any)
	if f == nil {
		f = map[string]any{}
	}
	RestoreTimes(f)
	meta, _ := w["m"].(map[string]any)
	if meta != nil {
		RestoreTimes(meta)
	}
	return event.FromParsed(f, meta)
}

// RestoreTimes turns the wire form of times in v back into times, in place.
func RestoreTimes(v any) any {
	switch x := v.(type) {
	case map[string]any:
		if len(x) == 1 {
			switch ts := x[tsKey].(type) {
			case int64:
				return time.Unix(0, ts).UTC()
			case string:
				if t, err := timefmt.ParseTimestamp(ts); err == nil {
					return t
				}
			}
		}
		for k, el := range x {
			switch el.(type) {
			case map[string]any, []any:
				x[k] = RestoreTimes(el)
			}
		}
	case []any:
		for i, el := range x {
			switch el.(type) {
			case map[string]any, []any:
				x[i] = RestoreTimes(el)
			}
		}
	}
	return v
}
