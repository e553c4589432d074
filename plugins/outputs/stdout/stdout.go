// Package stdout implements the stdout output, like Logstash's: it writes each
// event to standard output through its codec, rubydebug by default.
//
// Each batch is encoded into a buffer and flushed to standard output before
// Write returns, so output appears batch by batch and nothing is held back.
//
// Failure semantics: a write error (standard output closed, say) is returned
// from Write and the engine retries the whole batch, so events written before
// the error may appear twice. Connect and Close never fail, except that Close
// reports an error flushing what is left.
package stdout

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
)

func init() {
	engine.RegisterOutput("stdout", New, engine.WithDefaultCodec("rubydebug"))
}

// Options configures the stdout output. It has no options of its own; the
// output is shaped by its codec.
type Options struct{}

// Output is the stdout output.
type Output struct {
	codec engine.Codec
	w     io.Writer // os.Stdout; tests substitute it
	bw    *bufio.Writer
	enc   engine.Encoder
}

var _ engine.Output = (*Output)(nil)

// New builds a stdout output. r.Codec must be set; the engine always passes one.
func New(_ Options, r engine.Resources) (*Output, error) {
	if r.Codec == nil {
		return nil, fmt.Errorf("stdout: no codec")
	}
	return &Output{codec: r.Codec, w: os.Stdout}, nil
}

// Connect prepares the writer; it does not fail.
func (o *Output) Connect(context.Context) error {
	if o.bw == nil {
		o.bw = bufio.NewWriterSize(o.w, 64<<10)
		o.enc = o.codec.NewEncoder(o.bw)
	}
	return nil
}

// Write encodes the events and flushes them to standard output.
func (o *Output) Write(ctx context.Context, events []*event.Event) error {
	if o.bw == nil {
		_ = o.Connect(ctx)
	}
	for _, e := range events {
		if err := o.enc.Encode(e); err != nil {
			o.bw.Reset(o.w) // a bufio.Writer keeps its error; start clean for the retry
			return fmt.Errorf("stdout: write: %w", err)
		}
	}
	if err := o.bw.Flush(); err != nil {
		o.bw.Reset(o.w)
		return fmt.Errorf("stdout: write: %w", err)
	}
	return nil
}

// Close flushes anything left (nothing, after a successful Write).
func (o *Output) Close(context.Context) error {
	if o.bw == nil {
		return nil
	}
	if err := o.bw.Flush(); err != nil {
		return fmt.Errorf("stdout: write: %w", err)
	}
	return nil
}
