// Package drop implements the drop filter, like Logstash's: it drops every event
// that reaches it, or a random share of them with percentage. Put it inside a
// conditional to drop selected events.
//
// A dropped event is not passed on; the engine acknowledges it as handled, so a
// source waiting for acknowledgements is not held up. Dropping with a percentage
// below 100 draws a random number per event, independently.
//
// Failure semantics: none; the filter never fails.
package drop

import (
	"context"
	"errors"
	"math/rand/v2"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
)

func init() { engine.RegisterFilter("drop", New) }

// Options configures the drop filter.
type Options struct {
	// Percentage is the share of events to drop, from 0 to 100; each event is
	// dropped with this probability. 100 drops every event.
	Percentage float64 `hcl:"percentage,optional"`
}

// Defaults sets Logstash's default: drop everything.
func (o *Options) Defaults() { o.Percentage = 100 }

// Validate checks that percentage is between 0 and 100.
func (o *Options) Validate() error {
	if o.Percentage < 0 || o.Percentage > 100 {
		return &engine.FieldError{Field: "percentage", Err: errors.New("must be between 0 and 100")}
	}
	return nil
}

// Filter is the drop filter.
type Filter struct {
	all  bool
	prob float64
}

var _ engine.Filter = (*Filter)(nil)

// New builds a drop filter.
func New(o Options, _ engine.Resources) (*Filter, error) {
	return &Filter{all: o.Percentage >= 100, prob: o.Percentage / 100}, nil
}

// Filter drops e (appends nothing), or passes it on when the random draw spares
// it.
func (f *Filter) Filter(_ context.Context, e *event.Event, out []*event.Event) ([]*event.Event, error) {
	if f.all || rand.Float64() < f.prob {
		return out, nil
	}
	return append(out, e), nil
}
