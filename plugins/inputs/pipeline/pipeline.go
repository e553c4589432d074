// Package pipeline implements the pipeline input, like Logstash's: it
// receives the events that `pipeline` outputs of other pipelines of the same
// process send to its virtual address (pipeline-to-pipeline communication,
// with the pipelines of one pipelines.yml).
//
// Only one pipeline may listen on an address: `pipeline check` refuses a
// configuration where two do, as Logstash refuses to start the second. A
// sender's batch is acknowledged once this pipeline's queue holds the copies
// (the memory queue accepted them, or the persisted queue wrote them), so a
// full queue here blocks the senders, and with persisted queues on both
// sides no acknowledged event is lost when the process is killed. Events
// arrive as full copies, @metadata included; the input's type, tags and
// add_field apply to them as to any input's events.
//
// When the pipeline stops for a reload the address is released at once and
// senders wait (ensure_delivery) until the new pipeline listens again. When
// the process stops, the address is held until every pipeline sending to it
// has drained, so what the upstream pipelines still deliver is not lost
// (Logstash's shutdown order). Pipelines connected in a cycle cannot stop that
// way; as in Logstash, avoid cycles (a second signal aborts).
//
// Failure semantics: none of its own; Run returns when the pipeline stops.
package pipeline

import (
	"context"
	"errors"

	"github.com/pipelined/pipeline/engine"
)

func init() {
	engine.RegisterInput("pipeline", New)
}

// Options configures the pipeline input.
type Options struct {
	// Address is the virtual address this pipeline listens on; pipeline
	// outputs name it in send_to. It must be unique in the process.
	Address string `hcl:"address"`
}

// Validate checks the options.
func (o *Options) Validate() error {
	if o.Address == "" {
		return &engine.FieldError{Field: "address", Err: errors.New("must not be empty")}
	}
	return nil
}

// Input is the pipeline input.
type Input struct {
	l *engine.BusListener
}

var _ engine.Input = (*Input)(nil)

// New declares the address; nothing listens before Run.
func New(o Options, r engine.Resources) (*Input, error) {
	return &Input{l: r.Bus.Listen("address", o.Address)}, nil
}

// Run listens on the address until ctx is cancelled.
func (in *Input) Run(ctx context.Context, emit engine.EmitFunc) error {
	return in.l.Run(ctx, emit)
}
