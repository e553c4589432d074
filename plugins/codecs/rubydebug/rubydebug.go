// Package rubydebug implements the rubydebug codec, Logstash's human-readable
// event dump (Ruby's amazing_print), the default codec of the stdout output:
//
//	{
//	    "@timestamp" => 2026-11-24T10:00:01.000Z,
//	      "@version" => "1",
//	          "host" => {
//	        "hostname" => "web-1"
//	    },
//	       "message" => "hello",
//	          "tags" => [
//	        [0] "a"
//	    ]
//	}
//
// Keys are sorted (Logstash prints them in hash order) and right-aligned within
// each object; strings are quoted and escaped as Ruby's String#inspect does;
// timestamps, numbers (floats as Ruby prints them: 1.0, 1.0e+20), true, false and
// nil are bare. With metadata set, [@metadata] is printed too, as a field named
// "@metadata". Output is plain text, without colours.
//
// Decoding is not supported: Decode returns an error, as in Logstash.
//
// Failure semantics: a write error is returned by Encode.
package rubydebug

import (
	"errors"
	"io"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/engine/timefmt"
	"github.com/pipelined/pipeline/engine/valuefmt"
	"github.com/pipelined/pipeline/plugins/internal/encoder"
)

func init() { engine.RegisterCodec("rubydebug", New) }

// Options configures the rubydebug codec.
type Options struct {
	// Metadata also prints the event's [@metadata], as a field named "@metadata".
	Metadata bool `hcl:"metadata,optional"`
}

// Codec is the rubydebug codec.
type Codec struct {
	metadata bool
}

var _ engine.Codec = (*Codec)(nil)

// New builds a rubydebug codec.
func New(o Options, _ engine.Resources) (*Codec, error) {
	return &Codec{metadata: o.Metadata}, nil
}

// ErrDecodeUnsupported is returned by Decode.
var ErrDecodeUnsupported = errors.New("rubydebug: decoding is not supported")

// NewDecoder returns a decoder whose Decode always fails.
func (c *Codec) NewDecoder(io.Reader) engine.Decoder { return decoder{} }

type decoder struct{}

func (decoder) Decode() (*event.Event, error) { return nil, ErrDecodeUnsupported }

// NewEncoder returns an encoder writing one dump per event, and a newline, to
// w in one Write.
func (c *Codec) NewEncoder(w io.Writer) engine.Encoder {
	return encoder.New(w, c.appendEvent, []byte{'\n'})
}

// appendEvent appends the dump of e's fields, and of its metadata if enabled.
func (c *Codec) appendEvent(dst []byte, e *event.Event) []byte {
	fields := e.Fields()
	if meta := e.Metadata(); c.metadata && len(meta) > 0 {
		m := make(map[string]any, len(fields)+1)
		for k, v := range fields {
			m[k] = v
		}
		m[event.MetadataField] = meta
		fields = m
	}
	return Append(dst, fields)
}

// indentStep is amazing_print's default indentation.
const indentStep = 4

// Append appends the rubydebug form of an event value (usually the fields map)
// to dst, without a final newline.
func Append(dst []byte, v any) []byte { return appendValue(dst, v, 0) }

// appendValue writes v whose opening line is already indented; indent is the
// indentation of that line, used for nested lines and the closing bracket.
func appendValue(dst []byte, v any, indent int) []byte {
	switch x := v.(type) {
	case map[string]any:
		if len(x) == 0 {
			return append(dst, "{}"...)
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		quoted := make([][]byte, len(keys))
		width := 0
		for i, k := range keys {
			quoted[i] = valuefmt.AppendRubyString(nil, k)
			width = max(width, utf8.RuneCount(quoted[i]))
		}
		dst = append(dst, "{\n"...)
		for i, k := range keys {
			dst = appendSpaces(dst, indent+indentStep+width-utf8.RuneCount(quoted[i]))
			dst = append(dst, quoted[i]...)
			dst = append(dst, " => "...)
			dst = appendValue(dst, x[k], indent+indentStep)
			if i < len(keys)-1 {
				dst = append(dst, ',')
			}
			dst = append(dst, '\n')
		}
		dst = appendSpaces(dst, indent)
		return append(dst, '}')
	case []any:
		if len(x) == 0 {
			return append(dst, "[]"...)
		}
		width := len(strconv.Itoa(len(x) - 1))
		dst = append(dst, "[\n"...)
		for i, el := range x {
			dst = appendSpaces(dst, indent+indentStep)
			dst = append(dst, '[')
			n := strconv.Itoa(i)
			dst = appendSpaces(dst, width-len(n))
			dst = append(dst, n...)
			dst = append(dst, "] "...)
			dst = appendValue(dst, el, indent+indentStep)
			if i < len(x)-1 {
				dst = append(dst, ',')
			}
			dst = append(dst, '\n')
		}
		dst = appendSpaces(dst, indent)
		return append(dst, ']')
	case string:
		return valuefmt.AppendRubyString(dst, x)
	case nil:
		return append(dst, "nil"...)
	case bool:
		return strconv.AppendBool(dst, x)
	case int64:
		return strconv.AppendInt(dst, x, 10)
	case float64:
		return valuefmt.AppendRubyFloat(dst, x)
	case time.Time:
		return timefmt.AppendTimestamp(dst, x)
	}
	if n, err := event.Normalize(v); err == nil {
		return appendValue(dst, n, indent)
	}
	return append(dst, "nil"...)
}

func appendSpaces(dst []byte, n int) []byte {
	for range n {
		dst = append(dst, ' ')
	}
	return dst
}
