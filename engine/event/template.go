package event

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pipelined/pipeline/engine/timefmt"
)

// Template is a parsed Logstash sprintf string such as "%{host}-%{+YYYY.MM.dd}".
// Parse it once, when a plugin is built, with ParseTemplate; rendering never
// parses. A Template is immutable and safe for concurrent use; the zero value
// renders as "".
//
// Rendering follows Logstash's StringInterpolation.evaluate:
//
//   - %{ref} is the value of the field reference ref ("message", "[a][b]",
//     "[@metadata][x]"): a string as is, an integer in decimal, a float as
//     Java's Double.toString (1.5, 3.0, 1.0E20), a bool as true/false, a time as
//     ISO 8601 UTC with milliseconds (2026-11-24T10:00:01.000Z), an array as its
//     elements joined with "," (nested arrays flattened, null elements empty) and
//     an object as JSON with sorted keys. A missing field, or one holding null,
//     is left as written: "%{ref}".
//   - %{+FORMAT} is @timestamp in UTC formatted with the Joda-Time pattern FORMAT
//     (see timefmt.JodaFormat); %{+%s} is @timestamp in whole seconds since the epoch.
//     Both render as "" when the event has no @timestamp.
//   - %{{TIME_NOW}} is the current time, as ISO 8601 UTC.
//   - A "%{" with no "}" after it, and everything after it, is literal text.
//
// What Logstash would only trip over per event is refused by ParseTemplate: an
// invalid field reference (%{[a}), an empty one (%{}), a bad Joda pattern and
// Java-style %{{pattern}} time formats, which are not supported.
type Template struct {
	src   string
	parts []part // nil when the template is constant
}

type partKind uint8

const (
	partLiteral partKind = iota
	partField
	partDate
	partEpoch
	partNow
)

type part struct {
	kind partKind
	text string // partLiteral: the text; partField: "%{ref}" as written, for a missing field
	ref  Ref
	date timefmt.JodaFormat
}

// timeNowPattern is the one Java-style pattern supported, %{{TIME_NOW}}: the
// time of rendering.
const timeNowPattern = "TIME_NOW"

// ParseTemplate parses a sprintf template. See Template for the syntax.
func ParseTemplate(s string) (Template, error) {
	t := Template{src: s}
	var parts []part
	addLiteral := func(text string) {
		if text == "" {
			return
		}
		if n := len(parts); n > 0 && parts[n-1].kind == partLiteral {
			parts[n-1].text += text
			return
		}
		parts = append(parts, part{kind: partLiteral, text: text})
	}
	dynamic := false
	pos := 0
	for {
		open := strings.Index(s[pos:], "%{")
		if open < 0 {
			break
		}
		open += pos
		end := strings.IndexByte(s[open+2:], '}')
		if end < 0 {
			break // unclosed: the rest is literal
		}
		close := open + 2 + end
		content := s[open+2 : close]
		addLiteral(s[pos:open])
		switch {
		case content == "+%s" || content == "+%":
			// Logstash matches any prefix of "+%s" (regionMatches); "" and "+"
			// are refused below as the typos they are.
			parts = append(parts, part{kind: partEpoch})
		case strings.HasPrefix(content, "{") && close+1 < len(s) && s[close+1] == '}':
			// Java-style %{{pattern}}.
			pattern := content[1:]
			close++
			if pattern != timeNowPattern {
				return Template{src: s}, fmt.Errorf("template %q: Java-style time format %%{{%s}} is not supported; use a Joda-Time format such as %%{+%s}", s, pattern, pattern)
			}
			parts = append(parts, part{kind: partNow})
		case strings.HasPrefix(content, "+"):
			f, err := timefmt.ParseJoda(content[1:])
			if err != nil {
				return Template{src: s}, fmt.Errorf("template %q: %w", s, err)
			}
			parts = append(parts, part{kind: partDate, date: f})
		default:
			r, err := ParseRef(content)
			if err != nil {
				return Template{src: s}, fmt.Errorf("template %q: %w", s, err)
			}
			parts = append(parts, part{kind: partField, ref: r, text: s[open : close+1]})
		}
		dynamic = true
		pos = close + 1
	}
	if !dynamic {
		return t, nil
	}
	addLiteral(s[pos:])
	t.parts = parts
	return t, nil
}

// MustTemplate parses s or panics; for constants in plugin code.
func MustTemplate(s string) Template {
	t, err := ParseTemplate(s)
	if err != nil {
		panic(err)
	}
	return t
}

// String returns the template as written.
func (t Template) String() string { return t.src }

// IsConstant reports whether the template has no references: Render returns
// String() without looking at the event.
func (t Template) IsConstant() bool { return t.parts == nil }

// Ref returns the field reference when the whole template is one field
// reference, such as "%{[host][name]}".
func (t Template) Ref() (Ref, bool) {
	if len(t.parts) == 1 && t.parts[0].kind == partField {
		return t.parts[0].ref, true
	}
	return Ref{}, false
}

var renderBufs = sync.Pool{New: func() any { b := make([]byte, 0, 256); return &b }}

// Render returns the template rendered for e. A constant template, or one that
// is a single reference to a string field, renders without allocating.
func (t Template) Render(e *Event) string {
	if t.parts == nil {
		return t.src
	}
	if len(t.parts) == 1 && t.parts[0].kind == partField {
		if v, ok := e.Get(t.parts[0].ref); ok {
			if s, ok := v.(string); ok {
				return s
			}
		}
	}
	bp := renderBufs.Get().(*[]byte)
	b := t.RenderAppend((*bp)[:0], e)
	s := string(b)
	if cap(b) <= 64<<10 {
		*bp = b
		renderBufs.Put(bp)
	}
	return s
}

// RenderAppend appends the template rendered for e to dst and returns the
// extended buffer.
func (t Template) RenderAppend(dst []byte, e *Event) []byte {
	if t.parts == nil {
		return append(dst, t.src...)
	}
	for i := range t.parts {
		p := &t.parts[i]
		switch p.kind {
		case partLiteral:
			dst = append(dst, p.text...)
		case partField:
			v, ok := e.Get(p.ref)
			if !ok || v == nil {
				dst = append(dst, p.text...)
				continue
			}
			dst = appendValue(dst, v)
		case partDate:
			if ts, ok := e.fields[TimestampField].(time.Time); ok {
				dst = p.date.AppendFormat(dst, ts.UTC())
			}
		case partEpoch:
			if ts, ok := e.fields[TimestampField].(time.Time); ok {
				dst = strconv.AppendInt(dst, ts.Unix(), 10)
			}
		case partNow:
			dst = timefmt.AppendTimestamp(dst, time.Now().UTC().Truncate(time.Microsecond))
		}
	}
	return dst
}
