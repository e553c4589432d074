// Package jsonevents turns JSON text into events for the json and json_lines
// codecs, as Logstash's Event.from_json and the codecs' parse failure handling
// do.
package jsonevents

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
)

// FailureTag is added to the event made of text that is not valid JSON.
const FailureTag = "_jsonparsefailure"

// Parser builds events from JSON text.
type Parser struct {
	target    event.Ref
	hasTarget bool
}

// NewParser returns a parser that puts the decoded data at the top level of the
// event, or under the field reference target when it is not empty. A bad
// target is blamed on the "target" option.
func NewParser(target string) (Parser, error) {
	if target == "" {
		return Parser{}, nil
	}
	r, err := event.ParseRef(target)
	if err != nil {
		return Parser{}, &engine.FieldError{Field: "target", Err: err}
	}
	return Parser{target: r, hasTarget: true}, nil
}

// Append appends the events of one JSON text to out: none for blank text or
// null, one for an object, one per element for an array of objects. Text that
// is anything else (invalid JSON, a scalar, an array with a non-object element)
// yields one event with the text in message and the tag _jsonparsefailure; the
// returned error says why, for logging.
func (p Parser) Append(out []*event.Event, text []byte) ([]*event.Event, error) {
	if len(bytes.TrimSpace(text)) == 0 {
		return out, nil
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
	e := event.NewMessage(string(text))
	e.AddTag(FailureTag)
	return append(out, e), err
}

func (p Parser) build(m map[string]any) (*event.Event, error) {
	if !p.hasTarget {
		return event.FromMap(m)
	}
	e := event.New()
	return e, e.Set(p.target, m)
}
