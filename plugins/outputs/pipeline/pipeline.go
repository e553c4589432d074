// Package pipeline implements the pipeline output, like Logstash's: it sends
// a full copy of each event, @metadata included, to the `pipeline` inputs of
// other pipelines of the same process listening on the addresses in send_to
// (pipeline-to-pipeline communication: the distributor, output isolator,
// forked path and collector patterns of Logstash's documentation).
//
// Write returns once every address's pipeline has taken the events into its
// queue (its memory queue accepted them, or its persisted queue wrote them),
// so this pipeline's batch is acknowledged only then: a full downstream queue
// blocks this pipeline (back-pressure), and with persisted queues on both
// sides no acknowledged event is lost when the process is killed. Addresses
// are served in the order of send_to; each gets its own copies, so changes
// made downstream are not seen upstream or by the other addresses.
//
// With ensure_delivery true (the default), an address nothing listens on —
// its pipeline is starting, being reloaded, or missing from the
// configuration — makes Write wait until a pipeline listens there, logging a
// warning; `pipeline check` warns about an address no pipeline of the
// configuration listens on. With ensure_delivery false, the events such an
// address does not take are dropped with a warning and counted in the
// output's events_dropped (the monitoring API), as Logstash discards them; a
// listening pipeline whose queue is full still blocks the output either way.
//
// Failure semantics: Write never fails by itself; it returns an error only
// when the pipeline is aborted while it waits, leaving the batch
// unacknowledged.
package pipeline

import (
	"context"
	"errors"
	"slices"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
)

func init() {
	engine.RegisterOutput("pipeline", New)
}

// Options configures the pipeline output.
type Options struct {
	// SendTo lists the virtual addresses to send every event to (each is a
	// pipeline input's address).
	SendTo engine.StringList `hcl:"send_to"`
	// EnsureDelivery makes the output wait while an address has no listening
	// pipeline; false drops (and counts) the events such an address does
	// not take.
	EnsureDelivery bool `hcl:"ensure_delivery,optional"`
}

// Defaults sets Logstash's defaults.
func (o *Options) Defaults() { o.EnsureDelivery = true }

// Validate checks the options.
func (o *Options) Validate() error {
	if len(o.SendTo) == 0 {
		return &engine.FieldError{Field: "send_to", Err: errors.New("list at least one address")}
	}
	for _, a := range o.SendTo {
		if a == "" {
			return &engine.FieldError{Field: "send_to", Err: errors.New("an address must not be empty")}
		}
	}
	return nil
}

// Output is the pipeline output.
type Output struct {
	s *engine.BusSender
}

var (
	_ engine.Output  = (*Output)(nil)
	_ engine.Counted = (*Output)(nil)
)

// New declares the addresses; nothing is sent before Write.
func New(o Options, r engine.Resources) (*Output, error) {
	// An address listed twice gets the events once, as Logstash keeps a set.
	var addrs []string
	for _, a := range o.SendTo {
		if !slices.Contains(addrs, a) {
			addrs = append(addrs, a)
		}
	}
	return &Output{s: r.Bus.Sender("send_to", addrs, o.EnsureDelivery)}, nil
}

// Connect does nothing: the bus is in the process.
func (*Output) Connect(context.Context) error { return nil }

// Write sends the events to every address; see the package doc.
func (o *Output) Write(ctx context.Context, events []*event.Event) error {
	return o.s.Send(ctx, events)
}

// Close does nothing.
func (*Output) Close(context.Context) error { return nil }

// Counters reports the events dropped with ensure_delivery false in
// /_node/stats ("events_dropped") and /metrics
// (pipeline_output_events_dropped_total).
func (o *Output) Counters() []engine.Counter {
	return []engine.Counter{{Name: "events_dropped",
		Help:  "Events a pipeline output with ensure_delivery false dropped because their address had no listening pipeline.",
		Value: o.s.Dropped()}}
}
