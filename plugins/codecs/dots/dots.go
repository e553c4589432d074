// Package dots implements the dots codec, like Logstash's: encoding writes
// one "." per event and nothing else (no newline), a progress display for
// benchmarks and smoke tests (stdout { codec => dots }).
//
// Decoding is not supported: Decode returns an error, as in Logstash.
//
// Failure semantics: a write error is returned by Encode.
package dots

import (
	"errors"
	"io"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
)

func init() { engine.RegisterCodec("dots", New) }

// Options configures the dots codec; it has none of its own.
type Options struct{}

// Codec is the dots codec.
type Codec struct{}

var _ engine.Codec = (*Codec)(nil)

// New builds a dots codec.
func New(Options, engine.Resources) (*Codec, error) { return &Codec{}, nil }

// ErrDecodeUnsupported is returned by Decode.
var ErrDecodeUnsupported = errors.New("dots: decoding is not supported")

// NewDecoder returns a decoder whose Decode always fails.
func (*Codec) NewDecoder(io.Reader) engine.Decoder { return decoder{} }

type decoder struct{}

func (decoder) Decode() (*event.Event, error) { return nil, ErrDecodeUnsupported }

// NewEncoder returns an encoder writing "." per event.
func (*Codec) NewEncoder(w io.Writer) engine.Encoder { return encoder{w} }

type encoder struct{ w io.Writer }

var dot = []byte{'.'}

func (e encoder) Encode(*event.Event) error {
	_, err := e.w.Write(dot)
	return err
}
