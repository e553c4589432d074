// Package eventfmt renders events as text for the plain and line encoders: a
// sprintf format, or Logstash's default Event#to_s.
package eventfmt

import (
	"slices"
	"strconv"
	"time"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
)

// Formatter renders an event with a format template, or with AppendString when
// no format was given.
type Formatter struct {
	tmpl   event.Template
	format bool
}

// New parses format; "" selects AppendString. A bad template is blamed on the
// "format" option.
func New(format string) (Formatter, error) {
	if format == "" {
		return Formatter{}, nil
	}
	t, err := event.ParseTemplate(format)
	if err != nil {
		return Formatter{}, &engine.FieldError{Field: "format", Err: err}
	}
	return Formatter{tmpl: t, format: true}, nil
}

// Append appends the rendered event to dst.
func (f Formatter) Append(dst []byte, e *event.Event) []byte {
	if f.format {
		return f.tmpl.RenderAppend(dst, e)
	}
	return AppendString(dst, e)
}

var (
	hostRef    = event.MustRef("host")
	messageRef = event.MustRef(event.MessageField)
)

// AppendString appends Logstash's Event#to_s: "<@timestamp> <host> <message>",
// the timestamp in ISO 8601 UTC (left out, with its space, when the event has
// none) and a missing host or message written as the literal "%{host}" or
// "%{message}". Values print as Java's toString does, so an ECS host object
// prints as {hostname=web-1}.
func AppendString(dst []byte, e *event.Event) []byte {
	if ts, ok := e.Fields()[event.TimestampField].(time.Time); ok {
		dst = AppendTimestamp(dst, ts)
		dst = append(dst, ' ')
	}
	if v, ok := e.Get(hostRef); ok && v != nil {
		dst = appendJava(dst, v)
	} else {
		dst = append(dst, "%{host}"...)
	}
	dst = append(dst, ' ')
	if v, ok := e.Get(messageRef); ok && v != nil {
		dst = appendJava(dst, v)
	} else {
		dst = append(dst, "%{message}"...)
	}
	return dst
}

// AppendTimestamp appends t as Logstash prints a timestamp: ISO 8601 UTC with
// millisecond precision (more digits when the time has them), e.g.
// 2026-11-24T10:00:01.000Z.
func AppendTimestamp(dst []byte, t time.Time) []byte {
	n := len(dst)
	dst = event.AppendJSONValue(dst, t) // "…Z", quoted
	copy(dst[n:], dst[n+1:len(dst)-1])
	return dst[:len(dst)-2]
}

// appendJava appends v as Java's String.valueOf prints Logstash's value: maps
// as {k=v, k2=v2} (keys sorted here), lists as [a, b], null as null.
func appendJava(dst []byte, v any) []byte {
	switch x := v.(type) {
	case string:
		return append(dst, x...)
	case nil:
		return append(dst, "null"...)
	case bool:
		return strconv.AppendBool(dst, x)
	case int64:
		return strconv.AppendInt(dst, x, 10)
	case time.Time:
		return AppendTimestamp(dst, x)
	case []any:
		dst = append(dst, '[')
		for i, el := range x {
			if i > 0 {
				dst = append(dst, ", "...)
			}
			dst = appendJava(dst, el)
		}
		return append(dst, ']')
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		dst = append(dst, '{')
		for i, k := range keys {
			if i > 0 {
				dst = append(dst, ", "...)
			}
			dst = append(dst, k...)
			dst = append(dst, '=')
			dst = appendJava(dst, x[k])
		}
		return append(dst, '}')
	}
	// float64 prints as Java's Double.toString, which is also its JSON form;
	// only NaN and infinities are quoted there.
	n := len(dst)
	dst = event.AppendJSONValue(dst, v)
	if len(dst)-n >= 2 && dst[n] == '"' {
		copy(dst[n:], dst[n+1:len(dst)-1])
		dst = dst[:len(dst)-2]
	}
	return dst
}
