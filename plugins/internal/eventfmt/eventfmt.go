// Package eventfmt renders events as text for the plain and line encoders: a
// sprintf format, or Logstash's default Event#to_s.
package eventfmt

import (
	"time"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/engine/timefmt"
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
		dst = timefmt.AppendTimestamp(dst, ts)
		dst = append(dst, ' ')
	}
	if v, ok := e.Get(hostRef); ok && v != nil {
		dst = event.AppendJavaString(dst, v)
	} else {
		dst = append(dst, "%{host}"...)
	}
	dst = append(dst, ' ')
	if v, ok := e.Get(messageRef); ok && v != nil {
		dst = event.AppendJavaString(dst, v)
	} else {
		dst = append(dst, "%{message}"...)
	}
	return dst
}
