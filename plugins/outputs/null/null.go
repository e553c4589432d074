// Package null implements the null output, like Logstash's: it accepts every
// event and writes nothing. It is useful to measure a pipeline without output
// costs, or to discard a branch. It takes a codec, as every Logstash output
// does, but never uses it.
//
// Failure semantics: none; Write always succeeds at once, so events are
// acknowledged as delivered.
package null

import (
	"context"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
)

func init() {
	engine.RegisterOutput("null", New, engine.WithDefaultCodec("plain"))
}

// Options configures the null output. It has none.
type Options struct{}

// Output is the null output.
type Output struct{}

var _ engine.Output = (*Output)(nil)

// New builds a null output.
func New(Options, engine.Resources) (*Output, error) { return &Output{}, nil }

// Connect does nothing.
func (*Output) Connect(context.Context) error { return nil }

// Write discards the events.
func (*Output) Write(context.Context, []*event.Event) error { return nil }

// Close does nothing.
func (*Output) Close(context.Context) error { return nil }
