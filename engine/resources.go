package engine

import (
	"log/slog"
	"time"
)

// Resources are handed to a plugin constructor.
type Resources struct {
	// ID is the plugin id: the block's second label in HCL, `id =>` in .conf, or
	// a generated "<type>_<n>".
	ID string
	// Pipeline is the name of the pipeline the plugin belongs to.
	Pipeline string
	// Logger already carries the pipeline, plugin kind, type and id.
	Logger *slog.Logger
	// Codec is the codec configured with `codec` (or the plugin's default codec);
	// nil for plugins registered without one.
	Codec Codec
	// CodecName is the name Codec was configured by ("json"), as Logstash's
	// codec config_name; "" when Codec is nil.
	CodecName string
	// BatchSize is the pipeline batch size: inputs should emit batches of up to
	// this many events.
	BatchSize int
	// DataDir is the engine's data directory (path.data), under which plugins
	// keep their state, e.g. <DataDir>/plugins/inputs/<type>/…; empty means
	// "data" in the working directory.
	DataDir string
	// Bus is the plugin's access to the bus that connects the pipelines of
	// the process (used by the pipeline input and output).
	Bus *BusPort
	// Shared returns the value the pipeline keeps under key, made by mk the
	// first time one of its plugins asks: state that several plugins of one
	// pipeline share, as Logstash plugins share class variables keyed by
	// pipeline id (the aggregate filters' maps). Every Build makes a new
	// set, so a reloaded pipeline starts afresh. Call it from the
	// constructor only (Build is not concurrent).
	Shared func(key string, mk func() any) any
	// Now is the clock plugins read "now" from where it changes what they
	// make of an event (the date filter's year for a date without one);
	// nil means time.Now. `pipeline test` fixes it.
	Now func() time.Time
	// Follows is, for a filter, the filter plugin just before it in the
	// same block with nothing between them (no conditional) and without
	// common options (add_field, add_tag, remove_field, remove_tag): the
	// events the filter gets in a worker's batch are that filter's output,
	// which the engine did not change after it. nil otherwise. Filters of
	// one type use it to pass on per-batch work about the same events (the
	// correlate filters' rendered keys).
	Follows any
}
