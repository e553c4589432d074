// Package json implements the json codec, like Logstash's: it decodes a whole
// payload (a request body, a datagram, a stream) holding one JSON document, and
// encodes each event as compact JSON with no delimiter.
//
// Decoding reads r to its end. An object makes one event, an array of objects
// one event per element, blank input or null no event. Input that is not such
// JSON is never dropped: it becomes one event with the text in message and the
// tag _jsonparsefailure, as in Logstash. A string @timestamp is parsed (a bad one
// gets the tag _timestampparsefailure) and "@metadata" becomes the metadata.
// With target, the decoded object is put under that field instead. With
// ecs_compatibility "v1" or "v8" (the Logstash 8 default), a document that makes
// exactly one event also gets the text in [event][original], unless the JSON set
// that field.
//
// For newline-delimited JSON streams use the json_lines codec.
//
// Encoding writes the event's fields, without [@metadata], as one JSON object with
// sorted keys and @timestamp as an ISO 8601 string, with no trailing newline.
//
// Failure semantics: a read error is returned by Decode; a write error is
// returned by Encode.
package json

import (
	"io"
	"unsafe"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/plugins/internal/charset"
	"github.com/pipelined/pipeline/plugins/internal/ecs"
	"github.com/pipelined/pipeline/plugins/internal/encoder"
	"github.com/pipelined/pipeline/plugins/internal/jsonevents"
)

func init() { engine.RegisterCodec("json", New) }

// Options configures the json codec.
type Options struct {
	charset.Option
	// Target is a field reference, such as "[document]", under which the decoded
	// object is stored. Without it the object's keys become top-level fields.
	Target string `hcl:"target,optional"`
	ecs.Compatibility
}

// Defaults sets Logstash's defaults.
func (o *Options) Defaults() {
	o.Option.Defaults()
	o.Compatibility.Defaults()
}

// Validate checks the options.
func (o *Options) Validate() error {
	if err := o.Option.Validate(); err != nil {
		return err
	}
	if _, err := jsonevents.NewParser(o.Target, nil); err != nil {
		return err
	}
	return o.Compatibility.Validate()
}

// Codec is the json codec.
type Codec struct {
	parser   jsonevents.Parser
	convert  charset.Converter
	original bool
}

var _ engine.Codec = (*Codec)(nil)

// New builds a json codec.
func New(o Options, r engine.Resources) (*Codec, error) {
	p, _ := jsonevents.NewParser(o.Target, r.Logger)
	conv := o.Option.Converter()
	return &Codec{parser: p, convert: conv, original: o.Compatibility.ECS()}, nil
}

// NewDecoder returns a decoder of the JSON document in r.
func (c *Codec) NewDecoder(r io.Reader) engine.Decoder { return &decoder{c: c, r: r} }

type decoder struct {
	c       *Codec
	r       io.Reader
	read    bool
	pending []*event.Event
}

// Decode returns the events of the document one by one, then io.EOF.
func (d *decoder) Decode() (*event.Event, error) {
	if !d.read {
		d.read = true
		b, err := io.ReadAll(d.r)
		if err != nil {
			return nil, err
		}
		b = d.c.convert(b)
		evs, ok := d.c.parser.Append(nil, b)
		if ok && len(evs) == 1 && d.c.original {
			if _, ok := evs[0].Get(ecs.OriginalRef); !ok {
				_ = evs[0].Set(ecs.OriginalRef, string(b))
			}
		}
		d.pending = evs
	}
	if len(d.pending) == 0 {
		return nil, io.EOF
	}
	e := d.pending[0]
	d.pending[0] = nil
	d.pending = d.pending[1:]
	return e, nil
}

// AppendDecoded appends to out the events of the JSON document s: what a
// decoder of s returns, without the decoder, the reader and the copy of s
// (inputs that hold each document as a string, such as the redis input's list
// elements, call it per element). The converter and the parser only read
// their input, so they read s in place; [event][original] is s itself.
func (c *Codec) AppendDecoded(out []*event.Event, s string) []*event.Event {
	b := c.convert(unsafe.Slice(unsafe.StringData(s), len(s)))
	n := len(out)
	var ok bool
	if len(b) == len(s) && (len(b) == 0 || &b[0] == unsafe.StringData(s)) {
		out, ok = c.parser.AppendString(out, s) // not converted: s itself
	} else {
		out, ok = c.parser.Append(out, b)
	}
	if ok && len(out)-n == 1 && c.original {
		if _, ok := out[n].Get(ecs.OriginalRef); !ok {
			orig := s
			if len(b) != len(s) || (len(b) > 0 && &b[0] != unsafe.StringData(s)) {
				orig = string(b) // converted: a copy of its own
			}
			_ = out[n].Set(ecs.OriginalRef, orig)
		}
	}
	return out
}

// NewEncoder returns an encoder writing each event to w as one JSON object.
func (c *Codec) NewEncoder(w io.Writer) engine.Encoder { return encoder.New(w, encoder.JSON, nil) }
