// Package line implements the line codec: it reads line-oriented text, one event
// per line, and writes one line per event, like Logstash's line codec.
//
// Decoding splits the stream on delimiter ("\n" by default) and removes the
// delimiter and nothing else: with Windows line endings the message keeps its
// trailing "\r" (set delimiter to "\r\n" to drop it), as in Logstash. An empty
// line is an event with an empty message. A last line without a delimiter is
// still an event when the stream ends. With ecs_compatibility "v1" or "v8" (the
// Logstash 8 default), the line is also stored in [event][original].
//
// Encoding writes the format template rendered for the event, or without a
// format Logstash's default "<@timestamp> <host> <message>", followed by the
// delimiter.
//
// Failure semantics: a read error ends decoding with that error (after the
// complete lines before it); a write error is returned by Encode.
package line

import (
	"errors"
	"io"
	"time"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/plugins/internal/charset"
	"github.com/pipelined/pipeline/plugins/internal/ecs"
	"github.com/pipelined/pipeline/plugins/internal/encoder"
	"github.com/pipelined/pipeline/plugins/internal/eventfmt"
	"github.com/pipelined/pipeline/plugins/internal/linereader"
)

func init() { engine.RegisterCodec("line", New) }

// Options configures the line codec.
type Options struct {
	// Format is a sprintf template, such as "%{[host][name]}: %{message}", used
	// when encoding. Without it an event is written as
	// "<@timestamp> <host> <message>".
	Format string `hcl:"format,optional"`
	charset.Option
	// Delimiter separates lines, both when decoding and when encoding.
	Delimiter string `hcl:"delimiter,optional"`
	ecs.Compatibility
}

// Defaults sets Logstash's defaults.
func (o *Options) Defaults() {
	o.Option.Defaults()
	o.Delimiter = "\n"
	o.Compatibility.Defaults()
}

// Validate checks the options.
func (o *Options) Validate() error {
	if o.Delimiter == "" {
		return &engine.FieldError{Field: "delimiter", Err: errors.New("must not be empty")}
	}
	if err := o.Option.Validate(); err != nil {
		return err
	}
	return o.Compatibility.Validate()
}

// Codec is the line codec.
type Codec struct {
	format   eventfmt.Formatter
	convert  charset.Converter
	delim    []byte
	original bool
}

var _ engine.Codec = (*Codec)(nil)

// New builds a line codec.
func New(o Options, _ engine.Resources) (*Codec, error) {
	f, err := eventfmt.New(o.Format)
	if err != nil {
		return nil, err
	}
	conv := o.Option.Converter()
	return &Codec{format: f, convert: conv, delim: []byte(o.Delimiter), original: o.Compatibility.ECS()}, nil
}

// NewDecoder returns a decoder of the lines of r. r is read through a
// bufio.Reader of linereader.BufferSize bytes; a *bufio.Reader of at least
// linereader.MinBufferSize bytes is used directly.
func (c *Codec) NewDecoder(r io.Reader) engine.Decoder {
	return &decoder{c: c, lines: linereader.New(r, c.delim, 0)}
}

type decoder struct {
	c     *Codec
	lines *linereader.Reader
	now   time.Time // when the buffered lines were read
}

// Decode returns the event of the next line, or io.EOF at the end. The lines
// of one read share one @timestamp: the time they were read.
func (d *decoder) Decode() (*event.Event, error) {
	line, err := d.lines.Next()
	if err != nil {
		return nil, err
	}
	if d.lines.Refilled() || d.now.IsZero() {
		d.now = time.Now()
	}
	return ecs.NewMessage(string(d.c.convert(line)), d.now, d.c.original), nil
}

// NewEncoder returns an encoder writing one line per event to w.
func (c *Codec) NewEncoder(w io.Writer) engine.Encoder {
	return encoder.New(w, c.format.Append, c.delim)
}
