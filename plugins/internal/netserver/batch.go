package netserver

import (
	"fmt"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
)

// Batcher gathers the events of one connection into batches of up to Size
// events. The owner calls Flush when it would otherwise block on a read, so
// a batch never waits for data that may not come.
type Batcher struct {
	Emit engine.EmitFunc
	Size int
	// Hold, if set, counts the events held against the input's pending
	// budget, and is settled once they are emitted.
	Hold   *Hold
	events []*event.Event
}

// Add appends e and emits the batch when it is full. Its error wraps ErrAbort.
func (b *Batcher) Add(e *event.Event) error {
	if b.events == nil {
		b.events = make([]*event.Event, 0, b.Size)
	}
	b.events = append(b.events, e)
	if b.Hold != nil {
		b.Hold.AddEvent()
	}
	if len(b.events) >= b.Size {
		return b.Flush()
	}
	return nil
}

// Len is the number of events held.
func (b *Batcher) Len() int { return len(b.events) }

// Flush emits the events held, if any. It blocks while the pipeline is full.
func (b *Batcher) Flush() error {
	if len(b.events) == 0 {
		if b.Hold != nil {
			b.Hold.Settle() // bytes skipped or refused by the decoder
		}
		return nil
	}
	err := b.Emit(engine.Batch{Events: b.events})
	b.events = nil
	if b.Hold != nil {
		b.Hold.Settle()
	}
	if err != nil {
		return fmt.Errorf("%w: %v", ErrAbort, err)
	}
	return nil
}
