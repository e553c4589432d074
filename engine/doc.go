// Package engine is the plugin-author API and the pipeline runtime: start
// here.
//
// # Writing a plugin
//
// A plugin implements one small interface (plugin.go) and registers a
// constructor in init with RegisterInput, RegisterFilter, RegisterOutput or
// RegisterCodec (register.go). The constructor's first argument is the
// plugin's options struct: its hcl tags are Logstash's option names, Defaults
// (Defaulter) fills the options a configuration leaves out, Validate
// (Validator) checks them without I/O (`pipeline check` runs it), and the
// constructor compiles what it needs once. Resources (resources.go) carries
// the plugin's id, logger, codec, batch size and data directory. Option types
// for Logstash's shapes (StringList, Hash, HashOfLists, Bytes, Duration) are
// in optiontypes.go; FieldError, Permanent, BatchError and ErrNotConnected
// (errors.go) say what went wrong and what the engine should do about it.
// example_test.go holds a complete filter, output and input, and
// docs/writing-plugins.md walks through them.
//
// # Lifecycle and contracts
//
// Build (build.go) turns an ir.Pipeline, from either front-end, into a
// Pipeline: every plugin's options are decoded and validated, every
// condition compiled, and every problem reported as a diagnostic with its
// source range, before anything runs. Pipeline.Run (pipeline.go) then runs
// it:
//
//   - Inputs push: Run(ctx, emit) blocks, and emit blocks while the pipeline
//     is full (back-pressure). Cancelling ctx starts a drain: inputs stop,
//     what they emitted is delivered, outputs are closed.
//   - Filters run on a pool of workers, one event at a time, and may drop or
//     split events; a failure tags the event and passes it on.
//   - Outputs receive batches; the engine connects them, retries failures
//     with backoff while holding the batch (never dropping it), and sends
//     permanent failures to the dead letter queue when one is configured.
//   - Acknowledgement: a Batch's Ack runs once, after every event of it was
//     delivered, dropped by a filter, or failed for good (worst status wins).
//
// Settings (build.go, queue.go) size the pipeline: workers, batch size and
// delay, the memory or persisted queue (package engine/pq) and the dead
// letter queue (engine/dlq). Panics in plugins are recovered and reported
// (panics.go); the Bus (bus.go) connects pipelines of one process; Snapshot
// (snapshot.go) and Stats feed the monitoring API (engine/monitor).
//
// # Around the engine
//
// The engine never imports a configuration front-end (package dsl): the
// supervisor (engine/supervisor) receives the loader as a function, and runs,
// reloads and stops pipelines on signals. Events, field references and
// sprintf templates are package engine/event; time formats engine/timefmt;
// Ruby and Java text forms engine/valuefmt; conditions engine/cond. Tests of
// plugins run them through the real engine with engine/enginetest.
package engine
