package engine

import (
	"errors"
	"fmt"

	"github.com/pipelined/pipeline/engine/event"
)

// ErrNotConnected tells the engine that an output lost its connection: the engine
// calls Connect again before retrying the batch.
var ErrNotConnected = errors.New("not connected")

// ErrNotApplied is returned (possibly wrapped) by a filter that left an event
// alone because it did not apply, e.g. its source field is absent: the engine
// passes the event on and skips the common options, as Logstash does when a
// filter does not call filter_matched, without logging a failure. Events
// other than e that the filter appended (new events, as clone's copies of an
// e it leaves alone) get the common options all the same.
var ErrNotApplied = errors.New("filter not applied")

type permanentError struct{ err error }

func (p permanentError) Error() string { return p.err.Error() }
func (p permanentError) Unwrap() error { return p.err }

// Permanent marks err as a failure that retrying cannot fix.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanentError{err}
}

// IsPermanent reports whether err was marked with Permanent.
func IsPermanent(err error) bool {
	var p permanentError
	return errors.As(err, &p)
}

// BatchError reports per-event failures of an output Write. Failed maps the
// index of an event in the written slice to its error; events not listed were
// delivered.
type BatchError struct {
	Failed map[int]error
}

func (b *BatchError) Error() string {
	for i, err := range b.Failed {
		return fmt.Sprintf("%d events failed, e.g. event %d: %v", len(b.Failed), i, err)
	}
	return "no events failed"
}

// FieldError is returned by Options.Validate or a plugin constructor to blame one
// option; the engine reports it as a diagnostic on that option's source range.
type FieldError struct {
	Field string // the option name, e.g. "match"
	Err   error
}

func (f *FieldError) Error() string { return fmt.Sprintf("%s: %v", f.Field, f.Err) }
func (f *FieldError) Unwrap() error { return f.Err }

// DeadLetterQueue keeps events that an output refused for good, with where and
// why, so they can be inspected and replayed. Put must be safe for concurrent
// use; an event is acknowledged only after Put returned nil.
type DeadLetterQueue interface {
	Put(e *event.Event, from DeadLetterSource, reason string) error
}

// DeadLetterSource names the output that refused an event.
type DeadLetterSource struct {
	Pipeline   string
	PluginType string // "elasticsearch"
	PluginID   string
}

// startError marks an error found only when the pipeline starts; see AtStart.
type startError struct{ err error }

func (s startError) Error() string { return s.err.Error() }
func (s startError) Unwrap() error { return s.err }

// AtStart marks err, returned by Options.Validate or a plugin constructor, as
// one Logstash's plugin raises only in its register method, when the
// pipeline starts, and not when the configuration is tested: `logstash -t`
// (runner.rb, config.test_and_exit) constructs the plugins of
// JavaPipeline.new, which validates their options, but never calls register
// (JavaPipeline#start_workers → register_plugins does). Such errors often
// depend on the machine the pipeline runs on (grok pattern files) or on
// settings the test does not see. `pipeline run` refuses them as any other
// error; `pipeline check` (Settings.Check) reports them as warnings, so a
// configuration Logstash's test accepts is accepted, and names what the run
// would refuse. A FieldError inside still blames its option.
func AtStart(err error) error {
	if err == nil {
		return nil
	}
	return startError{err}
}

// IsAtStart reports whether err was marked with AtStart.
func IsAtStart(err error) bool {
	var s startError
	return errors.As(err, &s)
}
