// Package plain implements the plain codec, like Logstash's: it reads a whole
// payload (a datagram, a request body, a whole stream) as one event, and
// writes events as text without a delimiter.
//
// Decoding reads r to its end and makes one event whose message is all the bytes
// read; an empty stream makes no event. With ecs_compatibility "v1" or "v8" (the
// Logstash 8 default) the text is also stored in [event][original]. For
// line-oriented streams use the line codec instead.
//
// Encoding writes the format template rendered for the event, or without a
// format Logstash's default "<@timestamp> <host> <message>", with nothing after
// it.
//
// Failure semantics: a read error is returned by Decode and the bytes read
// before it are discarded; a write error is returned by Encode.
package plain

import (
	"io"
	"time"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/plugins/internal/charset"
	"github.com/pipelined/pipeline/plugins/internal/ecs"
	"github.com/pipelined/pipeline/plugins/internal/encoder"
	"github.com/pipelined/pipeline/plugins/internal/eventfmt"
)

func init() { engine.RegisterCodec("plain", New) }

// Options configures the plain codec.
type Options struct {
	// Format is a sprintf template, such as "%{message}", used when encoding.
	// Without it an event is written as "<@timestamp> <host> <message>".
	Format string `hcl:"format,optional"`
	charset.Option
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
	return o.Compatibility.Validate()
}

// Codec is the plain codec.
type Codec struct {
	hasFormat bool
	format    eventfmt.Formatter
	convert   charset.Converter
	original  bool
}

var _ engine.Codec = (*Codec)(nil)

// New builds a plain codec.
func New(o Options, _ engine.Resources) (*Codec, error) {
	f, err := eventfmt.New(o.Format)
	if err != nil {
		return nil, err
	}
	conv := o.Option.Converter()
	return &Codec{hasFormat: o.Format != "", format: f, convert: conv, original: o.Compatibility.ECS()}, nil
}

// HasFormat reports whether format is set (the syslog output uses its own
// message option instead of a plain codec without one, as Logstash's does).
func (c *Codec) HasFormat() bool { return c.hasFormat }

// NewDecoder returns a decoder that makes one event of all of r.
func (c *Codec) NewDecoder(r io.Reader) engine.Decoder { return &decoder{c: c, r: r} }

type decoder struct {
	c    *Codec
	r    io.Reader
	done bool
}

// Decode returns the event of the whole stream, then io.EOF.
func (d *decoder) Decode() (*event.Event, error) {
	if d.done {
		return nil, io.EOF
	}
	d.done = true
	b, err := io.ReadAll(d.r)
	if err != nil {
		return nil, err
	}
	if len(b) == 0 {
		return nil, io.EOF
	}
	return ecs.NewMessage(string(d.c.convert(b)), time.Now(), d.c.original), nil
}

// NewEncoder returns an encoder writing events to w as text.
func (c *Codec) NewEncoder(w io.Writer) engine.Encoder {
	return encoder.New(w, c.format.Append, nil)
}
