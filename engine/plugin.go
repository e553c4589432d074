package engine

import (
	"context"
	"io"

	"github.com/pipelined/pipeline/engine/event"
)

// Input produces events.
//
// The engine calls Run exactly once, on its own goroutine. Run reads its source
// and hands events downstream with emit, then blocks until ctx is cancelled
// (return nil) or the source fails unrecoverably (return the error). An input
// whose source is finite (stdin at EOF, generator after count) returns nil when
// it is exhausted; the pipeline drains and stops when every input has returned.
//
// emit blocks while the pipeline is full: this is back-pressure, and an input
// must not buffer around it (stop reading instead). emit keeps accepting batches
// while the pipeline drains after ctx is cancelled, so a batch already read is
// never lost; it returns an error only when the pipeline is aborted, in which case
// the batch was not accepted and its Ack will never be called. With the
// persisted queue, a batch without an Ack is on disk when emit returns (an
// input may then acknowledge its source); a batch with an Ack may still be
// being written, and its Ack says when it is.
type Input interface {
	Run(ctx context.Context, emit EmitFunc) error
}

// Counter is one figure a plugin keeps of what it refused or lost at the
// edge, for monitoring.
type Counter struct {
	// Name is a snake_case noun phrase, e.g. "datagrams_dropped": the key in
	// the plugin's "events" in /_node/stats and, with the plugin kind and
	// "_total", the Prometheus metric name.
	Name string
	// Help is one sentence for the metric's HELP line.
	Help  string
	Value int64
}

// Counted is implemented by a plugin (of any kind) that counts what it
// refuses or drops before the pipeline sees it, e.g. UDP datagrams dropped
// for a full queue: the engine reports these with the plugin's own counters,
// so no drop is visible in the log only. Counters must be cheap and safe to
// call at any time from any goroutine, before Run and after it returned.
type Counted interface {
	Counters() []Counter
}

// Detailed is implemented by a plugin with state to show in the monitoring
// API beyond counters, e.g. the beats input's connected agents. Details
// returns values that encode to JSON (maps, slices, strings, numbers,
// bools, times), added to the plugin's object in /_node/stats under keys of
// its own (a key the engine uses already is not replaced). It must be
// cheap, bounded in size whatever the load (a plugin lists at most a named
// number of items), and safe to call at any time from any goroutine.
type Detailed interface {
	Details() map[string]any
}

// EmitFunc hands one batch to the pipeline. It is safe for concurrent use: a
// server input may call it from one goroutine per connection. See Input.
type EmitFunc func(b Batch) error

// Batch is a group of events from one read of the source.
type Batch struct {
	Events []*event.Event
	// Ack, if non-nil, is called exactly once, on an engine goroutine, after every
	// event of the batch was delivered by every output it was routed to, or
	// deliberately dropped by a filter, or failed permanently. err is nil or the
	// worst failure. Inputs whose source can acknowledge (beats, redis) do it here,
	// whatever err is: an event an output refused for good was already kept in
	// the dead letter queue, or counted and logged with its reason (as Logstash
	// drops it), and resending it would fail the same way. This is the one
	// policy for every input; users who prefer a stall to a skip set
	// pipeline.on_permanent_failure: hold, and the engine retries such events
	// instead of acknowledging them.
	Ack AckFunc
}

// AckFunc acknowledges a batch. See Batch.
type AckFunc func(err error)

// AckedAtQueueWrite reports whether the pipeline that passed ctx to an
// input's Run acknowledges the input's batches once the persisted queue
// holds them (queue.type persisted: written, and fsynced as
// queue.checkpoint.writes says, as Logstash acknowledges to its inputs),
// rather than once the outputs delivered them (the memory queue). The queue
// then owns the events: an input that records positions (the file input's
// sincedb) can record them right away, so a crash re-reads nothing the queue
// already holds.
func AckedAtQueueWrite(ctx context.Context) bool {
	v, _ := ctx.Value(queueAckKey{}).(bool)
	return v
}

type queueAckKey struct{}

// Filter transforms one event.
//
// Filter appends the events to pass on to out and returns the extended slice,
// like strconv.AppendInt: e itself (possibly modified), nothing (drop: the engine
// acknowledges the event), or several (split: append e.Clone() copies). It may be
// called concurrently from several workers, so it must not mutate shared state
// without synchronisation, and it must not keep e after returning.
//
// A non-nil error means e failed this filter (a parse failure, say): the filter
// should have tagged e (tag_on_failure) and appended it; the engine logs the error
// at debug level and skips the common add_field/add_tag/remove_field/remove_tag
// options. A failing filter cannot drop: if it appended nothing, the engine
// passes e on.
//
// A filter that holds resources outside the process (the ruby filter's
// co-processes) may also have a Close() error method: the engine calls it
// once, after the last Filter call of a pipeline run.
type Filter interface {
	Filter(ctx context.Context, e *event.Event, out []*event.Event) ([]*event.Event, error)
}

// Output delivers batches of events.
//
// The engine calls Connect until it returns nil, retrying with capped exponential
// backoff, then Write for each batch, from one goroutine at a time. Write returns
// only once the whole batch is durably accepted (nil) or has failed:
//   - ErrNotConnected (wrapped or not): the engine calls Connect again, then
//     retries the batch;
//   - a *BatchError: only the listed events are retried (or failed, if their
//     error is Permanent);
//   - Permanent(err): the batch failed for good; the engine logs and counts it and
//     acknowledges the events as failed;
//   - any other error: the engine retries the whole batch with backoff, holding
//     it, which blocks the pipeline upstream (back-pressure, never a drop).
//
// Events are shared by every output they were routed to and must not be
// modified. Close is called once, after the last Write returned.
type Output interface {
	Connect(ctx context.Context) error
	Write(ctx context.Context, events []*event.Event) error
	Close(ctx context.Context) error
}

// Codec turns bytes into events and back. A codec value is built once per plugin
// and may create many decoders and encoders (one per connection, say).
type Codec interface {
	NewDecoder(r io.Reader) Decoder
	NewEncoder(w io.Writer) Encoder
}

// Decoder reads events from a stream. Decode returns an event or an error, never
// both; io.EOF at the end of the stream.
type Decoder interface {
	Decode() (*event.Event, error)
}

// Encoder writes events to a stream. It does not buffer: the plugin that owns the
// writer decides when to flush.
type Encoder interface {
	Encode(e *event.Event) error
}
