package engine

import (
	"encoding/json"
	"time"

	"github.com/pipelined/pipeline/engine/event"
)

// Failure examples: each filter keeps the last few events it failed on (at
// most one a second, on the failure path only), for the status page ("why
// does grok fail on these?").

// Budgets of the failure examples of one filter.
const (
	maxFailureExamples = 5
	// maxExampleBytes bounds one example's JSON; a larger event is shown
	// by the start of its message.
	maxExampleBytes = 8 << 10
	// exampleEvery is the least time between two examples of one filter.
	exampleEvery = time.Second
)

// FailureExample is an event a filter failed on.
type FailureExample struct {
	Time time.Time
	// Tag is the last tag the event carried then (the filter's
	// tag_on_failure, e.g. _grokparsefailure).
	Tag string
	// Event is the event's JSON as the filter left it.
	Event []byte
}

// failureExamples is a filter's ring of examples; its filterNode's failMu
// guards it.
type failureExamples struct {
	ring [maxFailureExamples]FailureExample
	n    int // examples taken, ever
	last time.Time
}

// note keeps e as an example if the last one is old enough.
func (x *failureExamples) note(e *event.Event, tag string) {
	now := time.Now()
	if x.n > 0 && now.Sub(x.last) < exampleEvery {
		return
	}
	x.last = now
	b := e.AppendJSON(nil)
	if len(b) > maxExampleBytes {
		msg, _ := e.Get(event.MustRef("message"))
		s, _ := msg.(string)
		if len(s) > maxExampleBytes/2 {
			s = s[:maxExampleBytes/2]
		}
		b, _ = json.Marshal(map[string]any{"message": s, "_example_truncated": true})
	}
	x.ring[x.n%maxFailureExamples] = FailureExample{Time: now, Tag: tag, Event: b}
	x.n++
}

// list returns the examples, oldest first.
func (x *failureExamples) list() []FailureExample {
	k := min(x.n, maxFailureExamples)
	if k == 0 {
		return nil
	}
	out := make([]FailureExample, 0, k)
	for i := x.n - k; i < x.n; i++ {
		out = append(out, x.ring[i%maxFailureExamples])
	}
	return out
}
