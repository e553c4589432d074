// Package jsonlines implements the json_lines codec, like Logstash's: newline
// delimited JSON (NDJSON), one JSON object per line.
//
// Decoding splits the stream on delimiter ("\n" by default) and parses each line
// as JSON: an object makes one event, an array of objects one event per element,
// a blank line no event. A line that is not such JSON is never dropped: it
// becomes one event with the line in message and the tag _jsonparsefailure, as
// in Logstash. A last line without a delimiter is still decoded when the stream
// ends. A string @timestamp is parsed (a bad one gets the tag
// _timestampparsefailure) and "@metadata" becomes the metadata. With target the
// decoded object is put under that field instead. ecs_compatibility changes
// nothing in this codec (Logstash only warns when ECS is on and target is not
// set); it is accepted for compatibility.
//
// Encoding writes the event's fields, without [@metadata], as one JSON object with
// sorted keys and @timestamp as an ISO 8601 string, followed by the delimiter.
//
// Failure semantics: a read error ends decoding with that error, after the
// complete lines before it. A line longer than decode_size_limit_bytes makes
// Decode return an error (Logstash stops processing there too); decoding may
// continue with the next line. A write error is returned by Encode.
package jsonlines

import (
	"errors"
	"io"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/plugins/internal/charset"
	"github.com/pipelined/pipeline/plugins/internal/ecs"
	"github.com/pipelined/pipeline/plugins/internal/encoder"
	"github.com/pipelined/pipeline/plugins/internal/jsonevents"
	"github.com/pipelined/pipeline/plugins/internal/linereader"
)

func init() { engine.RegisterCodec("json_lines", New) }

// Options configures the json_lines codec.
type Options struct {
	charset.Option
	// Delimiter separates JSON documents, both when decoding and when encoding.
	Delimiter string `hcl:"delimiter,optional"`
	// DecodeSizeLimitBytes is the longest line, in bytes, that the decoder
	// accepts (512 MiB by default).
	DecodeSizeLimitBytes int `hcl:"decode_size_limit_bytes,optional"`
	// Target is a field reference, such as "[document]", under which each decoded
	// object is stored. Without it the object's keys become top-level fields.
	Target string `hcl:"target,optional"`
	ecs.Compatibility
}

// Defaults sets Logstash's defaults.
func (o *Options) Defaults() {
	o.Option.Defaults()
	o.Delimiter = "\n"
	o.DecodeSizeLimitBytes = 512 << 20
	o.Compatibility.Defaults()
}

// Validate checks the options.
func (o *Options) Validate() error {
	if o.Delimiter == "" {
		return &engine.FieldError{Field: "delimiter", Err: errors.New("must not be empty")}
	}
	if o.DecodeSizeLimitBytes <= 0 {
		return &engine.FieldError{Field: "decode_size_limit_bytes", Err: errors.New("must be positive")}
	}
	if err := o.Option.Validate(); err != nil {
		return err
	}
	if _, err := jsonevents.NewParser(o.Target, nil); err != nil {
		return err
	}
	return o.Compatibility.Validate()
}

// Codec is the json_lines codec.
type Codec struct {
	parser  jsonevents.Parser
	convert charset.Converter
	delim   []byte
	limit   int
}

var _ engine.Codec = (*Codec)(nil)

// New builds a json_lines codec.
func New(o Options, r engine.Resources) (*Codec, error) {
	p, _ := jsonevents.NewParser(o.Target, r.Logger)
	conv := o.Option.Converter()
	return &Codec{parser: p, convert: conv, delim: []byte(o.Delimiter), limit: o.DecodeSizeLimitBytes}, nil
}

// NewDecoder returns a decoder of the lines of r. r is read through a
// bufio.Reader of linereader.BufferSize bytes; a *bufio.Reader of at least
// linereader.MinBufferSize bytes is used directly.
func (c *Codec) NewDecoder(r io.Reader) engine.Decoder {
	return &decoder{c: c, lines: linereader.New(r, c.delim, c.limit)}
}

type decoder struct {
	c       *Codec
	lines   *linereader.Reader
	pending []*event.Event
	next    int
}

// Decode returns the next event, or io.EOF at the end.
func (d *decoder) Decode() (*event.Event, error) {
	for d.next >= len(d.pending) {
		line, err := d.lines.Next()
		if err != nil {
			return nil, err
		}
		clear(d.pending)
		d.next = 0
		d.pending, _ = d.c.parser.Append(d.pending[:0], d.c.convert(line))
	}
	e := d.pending[d.next]
	d.pending[d.next] = nil
	d.next++
	return e, nil
}

// NewEncoder returns an encoder writing one JSON object per line to w.
func (c *Codec) NewEncoder(w io.Writer) engine.Encoder {
	return encoder.New(w, encoder.JSON, c.delim)
}
