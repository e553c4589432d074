// Package stdin implements the stdin input, like Logstash's: it reads standard
// input through its codec, line by default (one event per line). As in
// Logstash, codec plain is read as line and json as json_lines: standard input
// is a stream, and those codecs would otherwise wait for its end.
//
// Events are sent in batches of up to the pipeline batch size, and a smaller
// batch is sent as soon as no further complete line is buffered: input piped
// from a file moves in full batches, while lines typed at a terminal are sent
// at once. Each event gets the host name in [host][hostname] (ecs_compatibility
// "v1" or "v8", the Logstash 8 default) or in host ("disabled"), unless the
// codec already set that field. The line codec stores the line in
// [event][original] itself; unlike Logstash, this input does not also copy the
// raw read buffer there when the codec does not.
//
// At the end of standard input Run returns, and the pipeline drains and stops.
// When the pipeline is stopped (ctx cancelled) Run stops reading and returns
// at once, after sending a batch it already holds; a read blocked on a terminal
// cannot be interrupted, so the reading goroutine is left to end with the
// process.
//
// Failure semantics: a read or decode error ends Run with that error, after the
// events decoded before it were sent.
package stdin

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/plugins/internal/ecs"
)

func init() {
	engine.RegisterInput("stdin", New, engine.WithDefaultCodec("line"), engine.WithStreamingCodec())
}

// Options configures the stdin input.
type Options struct {
	ecs.Compatibility
}

// Defaults sets the Logstash 8 default, "v8".
func (o *Options) Defaults() { o.Compatibility.Defaults() }

// Validate checks the options.
func (o *Options) Validate() error { return o.Compatibility.Validate() }

// readerSize is the read buffer size; codecs that split lines use a reader of
// this size as is, so the input can tell whether more data is buffered.
const readerSize = 64 << 10

// defaultBatchSize is used when Resources.BatchSize is not set (tests).
const defaultBatchSize = 125

// Input is the stdin input.
type Input struct {
	codec     engine.Codec
	batchSize int
	host      any // the host name, boxed once
	hostRef   event.Ref
	log       *slog.Logger
	stdin     io.Reader // os.Stdin; tests substitute it
}

var _ engine.Input = (*Input)(nil)

// New builds a stdin input. r.Codec must be set; the engine always passes one.
func New(o Options, r engine.Resources) (*Input, error) {
	if r.Codec == nil {
		return nil, fmt.Errorf("stdin: no codec")
	}
	host, err := os.Hostname()
	if err != nil {
		host = "localhost"
	}
	in := &Input{
		codec:     r.Codec,
		batchSize: r.BatchSize,
		host:      host,
		hostRef:   event.MustRef("host"),
		log:       r.Logger,
		stdin:     os.Stdin,
	}
	if o.Compatibility.ECS() {
		in.hostRef = event.MustRef("[host][hostname]")
	}
	if in.batchSize <= 0 {
		in.batchSize = defaultBatchSize
	}
	if in.log == nil {
		in.log = slog.New(slog.DiscardHandler)
	}
	return in, nil
}

// Run reads standard input until its end or until ctx is cancelled.
func (in *Input) Run(ctx context.Context, emit engine.EmitFunc) error {
	if f, ok := in.stdin.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			in.log.Info("the stdin input is now waiting for input")
		}
	}
	br := bufio.NewReaderSize(in.stdin, readerSize)
	dec := in.codec.NewDecoder(br)

	// Reading runs on its own goroutine so that Run can return when ctx is
	// cancelled even while a read blocks on a terminal or an idle pipe.
	batches := make(chan []*event.Event)
	done := make(chan struct{})
	defer close(done)
	var readErr error
	go func() {
		defer close(batches)
		// The codec runs here, on a goroutine the engine does not guard: a
		// panic ends the input with an error, not the process.
		readErr = engine.Guard(in.log, "stdin reader", func() error { return in.read(ctx, br, dec, batches, done) })
	}()
	// With the persisted queue, a batch carries an acknowledgement (there is
	// nothing to acknowledge upstream: a pipe's writer is done once the
	// bytes are in the pipe), so that emit hands the batch to the queue's
	// group committer and returns at once, and the next batches are read
	// and encoded while it is written: with queue.checkpoint.writes 1, the
	// batches that wait meanwhile share one fsync instead of paying one each.
	// The pipeline still writes every batch handed over before it ends.
	var ack engine.AckFunc
	if engine.AckedAtQueueWrite(ctx) {
		ack = func(error) {}
	}
	for {
		select {
		case b, ok := <-batches:
			if !ok {
				return readErr // written before batches was closed
			}
			if err := emit(engine.Batch{Events: b, Ack: ack}); err != nil {
				return err
			}
		case <-ctx.Done():
			// Send a batch that is ready, then stop.
			select {
			case b, ok := <-batches:
				if ok {
					return emit(engine.Batch{Events: b, Ack: ack})
				}
			default:
			}
			return nil
		}
	}
}

// read decodes events into batches and sends them on out until the end of the
// stream, a read error, ctx cancellation (checked between batches) or done.
func (in *Input) read(ctx context.Context, br *bufio.Reader, dec engine.Decoder, out chan<- []*event.Event, done <-chan struct{}) error {
	batch := make([]*event.Event, 0, in.batchSize)
	send := func() bool {
		select {
		case out <- batch:
			batch = make([]*event.Event, 0, in.batchSize)
			return ctx.Err() == nil
		case <-done:
			return false
		}
	}
	for {
		e, err := dec.Decode()
		if e != nil {
			in.decorate(e)
			batch = append(batch, e)
		}
		if err != nil {
			if len(batch) > 0 && !send() {
				return nil
			}
			if err == io.EOF {
				return nil
			}
			return fmt.Errorf("stdin: %w", err)
		}
		if len(batch) >= in.batchSize || len(batch) > 0 && !lineBuffered(br) {
			if !send() {
				return nil
			}
		}
	}
}

// lineBuffered reports whether br holds a complete line: if not, decoding the
// next event may block on a read, so the batch is sent first.
func lineBuffered(br *bufio.Reader) bool {
	n := br.Buffered()
	if n == 0 {
		return false
	}
	b, _ := br.Peek(n)
	return bytes.IndexByte(b, '\n') >= 0
}

func (in *Input) decorate(e *event.Event) {
	if _, ok := e.Get(in.hostRef); !ok {
		_ = e.Set(in.hostRef, in.host)
	}
}
