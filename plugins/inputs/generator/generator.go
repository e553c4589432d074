// Package generator implements the generator input, like Logstash's: it emits
// the same message, or a fixed list of lines, over and over, mainly to test and
// measure pipelines.
//
// Each line is decoded with the input's codec (plain by default, so the line is
// the message; with codec json a line may hold a JSON object). Every event gets
// the host name in [host][name] (ecs_compatibility "v1" or "v8", the Logstash 8
// default) or host ("disabled"), unless the codec set it, and the sequence
// number in [event][sequence] or sequence. As in Logstash, the sequence number
// counts passes over the lines, from 0: all lines of one pass share it, and
// count is the number of passes (so count 3 with 2 lines makes 6 events). Each
// event gets the current time as @timestamp, unless the decoded line set one.
//
// Events are emitted in batches of the pipeline batch size. Run returns after
// count passes (count 0 means forever) or when ctx is cancelled, checked
// between batches. With threads above 1, that many generators run side by side,
// each with its own sequence and count, as Logstash's threads do.
//
// Failure semantics: Run returns an error only when emit does (the pipeline was
// aborted), or when message is "stdin" and no line could be read.
package generator

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/plugins/internal/ecs"
)

func init() {
	engine.RegisterInput("generator", New, engine.WithDefaultCodec("plain"))
}

// Options configures the generator input.
type Options struct {
	// Message is the text of every event. The value "stdin" reads one line from
	// standard input at start and uses it instead.
	Message string `hcl:"message,optional"`
	// Lines, when set, are emitted in order on each pass instead of message.
	Lines []string `hcl:"lines,optional"`
	// Count is the number of passes over the lines (events, with message alone);
	// 0 generates forever.
	Count int64 `hcl:"count,optional"`
	// Threads is the number of generators running side by side; each emits count
	// passes.
	Threads int `hcl:"threads,optional"`
	ecs.Compatibility
}

// Defaults sets Logstash's defaults.
func (o *Options) Defaults() {
	o.Message = "Hello world!"
	o.Threads = 1
	o.Compatibility.Defaults()
}

// Validate checks the options.
func (o *Options) Validate() error {
	if o.Count < 0 {
		return &engine.FieldError{Field: "count", Err: errors.New("must not be negative")}
	}
	if o.Threads < 1 {
		return &engine.FieldError{Field: "threads", Err: errors.New("must be at least 1")}
	}
	return o.Compatibility.Validate()
}

const defaultBatchSize = 125

// Input is the generator input.
type Input struct {
	codec       engine.Codec
	lines       []string
	fromStdin   bool
	count       int64
	threads     int
	batchSize   int
	host        any // the host name, boxed once
	hostRef     event.Ref
	sequenceRef event.Ref
	stdin       io.Reader // for message "stdin"; tests substitute it
}

var _ engine.Input = (*Input)(nil)

// New builds a generator input. r.Codec must be set; the engine always passes
// one.
func New(o Options, r engine.Resources) (*Input, error) {
	if r.Codec == nil {
		return nil, fmt.Errorf("generator: no codec")
	}
	host, err := os.Hostname()
	if err != nil {
		host = "localhost"
	}
	in := &Input{
		codec:       r.Codec,
		lines:       o.Lines,
		count:       o.Count,
		threads:     o.Threads,
		batchSize:   r.BatchSize,
		host:        host,
		hostRef:     event.MustRef("host"),
		sequenceRef: event.MustRef("sequence"),
		stdin:       os.Stdin,
	}
	if o.Compatibility.ECS() {
		in.hostRef = event.MustRef("[host][name]")
		in.sequenceRef = event.MustRef("[event][sequence]")
	}
	if len(in.lines) == 0 {
		in.lines = []string{o.Message}
		in.fromStdin = o.Message == "stdin"
	}
	if in.batchSize <= 0 {
		in.batchSize = defaultBatchSize
	}
	return in, nil
}

// template is one decoded line: each emitted event is a copy.
type template struct {
	e *event.Event
	// stamp: @timestamp was set by the codec to the decoding time, so each
	// copy gets the time it is made instead.
	stamp bool
}

// Run generates events until count passes are done or ctx is cancelled.
func (in *Input) Run(ctx context.Context, emit engine.EmitFunc) error {
	lines := in.lines
	if in.fromStdin {
		line, err := bufio.NewReader(in.stdin).ReadString('\n')
		if err != nil && (err != io.EOF || line == "") {
			return fmt.Errorf("generator: read message from stdin: %w", err)
		}
		lines = []string{line} // Logstash keeps the newline
	}
	tmpls, err := in.decode(lines)
	if err != nil {
		return err
	}
	if len(tmpls) == 0 {
		return nil
	}
	if in.threads == 1 {
		return in.generate(ctx, tmpls, emit)
	}
	var mu sync.Mutex
	serialEmit := func(b engine.Batch) error {
		mu.Lock()
		defer mu.Unlock()
		return emit(b)
	}
	errs := make([]error, in.threads)
	var wg sync.WaitGroup
	for i := range in.threads {
		wg.Go(func() {
			errs[i] = engine.Guard(nil, "generator thread", func() error { return in.generate(ctx, tmpls, serialEmit) })
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// decode runs every line through the codec once.
func (in *Input) decode(lines []string) ([]template, error) {
	var out []template
	for _, line := range lines {
		before := time.Now().Add(-time.Millisecond)
		dec := in.codec.NewDecoder(strings.NewReader(line))
		for {
			e, err := dec.Decode()
			if err == io.EOF {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("generator: decode %q: %w", line, err)
			}
			after := time.Now()
			ts := e.Timestamp()
			out = append(out, template{e: e, stamp: !ts.Before(before) && !ts.After(after)})
		}
	}
	return out, nil
}

// generate emits count passes over tmpls (forever when count is 0).
func (in *Input) generate(ctx context.Context, tmpls []template, emit engine.EmitFunc) error {
	batch := make([]*event.Event, 0, in.batchSize)
	for seq := int64(0); in.count == 0 || seq < in.count; seq++ {
		for _, t := range tmpls {
			e := t.e.Clone()
			if t.stamp {
				e.SetTimestamp(time.Now().Truncate(time.Millisecond))
			}
			if _, ok := e.Get(in.hostRef); !ok {
				_ = e.Set(in.hostRef, in.host)
			}
			_ = e.Set(in.sequenceRef, seq)
			batch = append(batch, e)
			if len(batch) == in.batchSize {
				if err := emit(engine.Batch{Events: batch}); err != nil {
					return err
				}
				if ctx.Err() != nil {
					return nil
				}
				batch = make([]*event.Event, 0, in.batchSize)
			}
		}
	}
	if len(batch) > 0 {
		return emit(engine.Batch{Events: batch})
	}
	return nil
}
