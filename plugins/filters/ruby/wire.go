package ruby

import (
	"fmt"
	"strconv"
	"time"

	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/engine/timefmt"
)

// The wire form of an event is {"f": fields, "m": metadata} in JSON, with
// every time value written as {"\u0000ts": <nanoseconds since the epoch>} so that it comes
// back from Ruby as a time (LogStash::Timestamp there), not as a string.
const tsKey = "\x00ts"

func appendEvent(dst []byte, e *event.Event) []byte {
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
		dst = appendValue(dst, v)
	}
	return append(dst, '}')
}

func appendValue(dst []byte, v any) []byte {
	switch x := v.(type) {
	case map[string]any:
		return appendMap(dst, x)
	case []any:
		dst = append(dst, '[')
		for i, el := range x {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendValue(dst, el)
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

// result is what the code made of one event.
type result struct {
	orig *event.Event   // the event's new content; nil if cancelled
	news []*event.Event // events the code created
	err  string         // the exception, if the code raised one
	tag  bool           // the event could not be sent back and is tagged here
}

// decodeResponse reads the answer to a message of n events: one result
// each, in order.
func decodeResponse(b []byte, n int) ([]result, error) {
	v, err := event.ParseJSON(b)
	if err != nil {
		return nil, fmt.Errorf("ruby co-process: bad answer: %w", err)
	}
	m, _ := v.(map[string]any)
	if msg, ok := m["error"].(string); ok {
		return nil, fmt.Errorf("ruby co-process: %s", msg)
	}
	rs, _ := m["r"].([]any)
	if len(rs) != n {
		return nil, fmt.Errorf("ruby co-process: want %d results, got %d", n, len(rs))
	}
	out := make([]result, n)
	for i, x := range rs {
		r, _ := x.(map[string]any)
		out[i] = decodeResult(r)
	}
	return out, nil
}

func decodeResult(r map[string]any) result {
	var res result
	if o, ok := r["o"].(map[string]any); ok {
		res.orig = fromWire(o)
	}
	news, _ := r["n"].([]any)
	for _, n := range news {
		if w, ok := n.(map[string]any); ok {
			res.news = append(res.news, fromWire(w))
		}
	}
	res.err, _ = r["x"].(string)
	res.tag, _ = r["tag"].(bool)
	return res
}

func fromWire(w map[string]any) *event.Event {
	f, _ := w["f"].(map[string]any)
	if f == nil {
		f = map[string]any{}
	}
	restoreTimes(f)
	meta, _ := w["m"].(map[string]any)
	if meta != nil {
		restoreTimes(meta)
	}
	return event.FromParsed(f, meta)
}

// restoreTimes turns the wire form of times back into time values, in place.
func restoreTimes(v any) any {
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
				x[k] = restoreTimes(el)
			}
		}
	case []any:
		for i, el := range x {
			switch el.(type) {
			case map[string]any, []any:
				x[i] = restoreTimes(el)
			}
		}
	}
	return v
}
