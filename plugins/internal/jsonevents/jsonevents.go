// Package jsonevents turns JSON text into events for the json and json_lines
// codecs, as Logstash's Event.from_json and the codecs' parse failure handling
// (a tagged event and a warning) do.
package jsonevents

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"unsafe"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
)

// FailureTag is added to the event made of text that is not valid JSON.
const FailureTag = "_jsonparsefailure"

// Parser builds events from JSON text.
type Parser struct {
	target    event.Ref
	hasTarget bool
	log       *slog.Logger
}

// NewParser returns a parser that puts the decoded data at the top level of the
// event, or under the field reference target when it is not empty, and warns
// on log (nil: nowhere) about text it cannot parse. A bad target is blamed on
// the "target" option.
func NewParser(target string, log *slog.Logger) (Parser, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if target == "" {
		return Parser{log: log}, nil
	}
	r, err := event.ParseRef(target)
	if err != nil {
		return Parser{}, &engine.FieldError{Field: "target", Err: err}
	}
	return Parser{target: r, hasTarget: true, log: log}, nil
}

// Append appends the events of one JSON text to out: none for blank text or
// null, one for an object, one per element for an array of objects. Text that
// is anything else (invalid JSON, a scalar, an array with a non-object element)
// yields one event with the text in message and the tag _jsonparsefailure, and
// a warning saying why; ok is false then.
func (p Parser) Append(out []*event.Event, text []byte) (events []*event.Event, ok bool) {
	return p.append(out, text, false)
}

// AppendString is Append for text held as a string: the events' strings
// that need no unescaping are substrings of text instead of copies
// (event.FromJSONString).
func (p Parser) AppendString(out []*event.Event, text string) (events []*event.Event, ok bool) {
	return p.append(out, unsafe.Slice(unsafe.StringData(text), len(text)), true)
}

func (p Parser) append(out []*event.Event, text []byte, shared bool) (events []*event.Event, ok bool) {
	out, err := p.appendEvents(out, text, shared)
	if err != nil {
		p.log.Warn("JSON parse error, original data now in message field", "err", err)
	}
	return out, err == nil
}

// appendEvents is Append; with shared, text is a string's bytes.
func (p Parser) appendEvents(out []*event.Event, text []byte, shared bool) ([]*event.Event, error) {
	trimmed := bytes.TrimSpace(text)
	if len(trimmed) == 0 {
		return out, nil
	}
	if trimmed[0] == '{' && !p.hasTarget {
		// The common case, one object: FromJSON builds the event from what it
		// parsed, without the copy FromMap makes.
		var e *event.Event
		var err error
		if shared {
			e, err = event.FromJSONString(unsafe.String(&trimmed[0], len(trimmed)))
		} else {
			e, err = event.FromJSON(trimmed)
		}
		if err == nil {
			return append(out, e), nil
		}
		return append(out, failure(text)), err
	}
	v, err := event.ParseJSON(text)
	if err == nil {
		n := len(out)
		switch x := v.(type) {
		case nil:
			return out, nil
		case map[string]any:
			var e *event.Event
			if e, err = p.build(x); err == nil {
				return append(out, e), nil
			}
		case []any:
			for _, el := range x {
				m, ok := el.(map[string]any)
				if !ok {
					err = errors.New("a JSON array must hold objects only")
					break
				}
				var e *event.Event
				if e, err = p.build(m); err != nil {
					break
				}
				out = append(out, e)
			}
			if err == nil {
				return out, nil
			}
			out = out[:n]
		default:
			err = fmt.Errorf("JSON must be an object or an array of objects, got %T", v)
		}
	}
	return append(out, failure(text)), err
}

// failure is the event of text that is not JSON the codecs accept.
func failure(text []byte) *event.Event {
	e := event.NewMessage(string(text))
	e.AddTag(FailureTag)
	return e
}

func (p Parser) build(m map[string]any) (*event.Event, error) {
	if !p.hasTarget {
		return event.FromMap(m)
	}
	e := event.New()
	return e, e.Set(p.target, m)
}
