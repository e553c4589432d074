// Package deadletterqueue implements the dead_letter_queue input, like
// Logstash's: it replays the events a pipeline's outputs refused for good
// (kept by the engine's dead letter queue, see docs/dead-letter-queue.md) so
// they can be fixed and sent again.
//
// Each entry becomes the original event, with its @metadata, plus
// [@metadata][dead_letter_queue][plugin_type], [plugin_id] (the output that
// refused it), [reason] (why) and [entry_time] (when it was queued).
//
// The input reads the queue of pipeline_id under path, in order, and then
// follows it: entries written later are read as they arrive, until the
// pipeline stops. With commit_offsets, the position after the last entry whose
// batch the engine acknowledged (every event delivered, dropped by a filter or
// failed for good) is saved in the sincedb file, and a restart resumes there:
// entries are delivered at least once, and an entry whose batch was not yet
// acknowledged when the engine stopped is read again. Acknowledgements out of
// order wait for the batches before them. Without commit_offsets every start
// reads the queue from its beginning. The sincedb file defaults to
// <path.data>/plugins/inputs/dead_letter_queue/<pipeline_id>/sincedb_<pipeline>_<id>,
// where <pipeline> and <id> are this input's pipeline and plugin id; it holds
// the segment number and byte offset as text.
//
// Unlike Logstash, the input also reads the segment being written (it does not
// wait for the writer to finish it). A record that fails its checksum, or
// that a crash tore, is skipped with a warning.
//
// Failure semantics: a queue directory that does not exist yet is waited
// for; read errors are logged and retried every few seconds; a sincedb file
// that cannot be written is logged (the input then replays more after a
// restart, never less). Run returns nil when ctx is cancelled.
package deadletterqueue

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/dlq"
	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/engine/timefmt"
)

func init() {
	engine.RegisterInput("dead_letter_queue", New)
}

// Options configures the dead_letter_queue input.
type Options struct {
	// Path is the dead letter queue directory, the path.dead_letter_queue of the
	// pipeline that wrote it (by default <path.data>/dead_letter_queue). The
	// queue of pipeline_id is in the subdirectory of that name.
	Path string `hcl:"path"`
	// PipelineID is the pipeline whose dead letter queue is read.
	PipelineID string `hcl:"pipeline_id,optional"`
	// CommitOffsets saves how far the input got, once the engine acknowledged
	// the events, so that a restart resumes there instead of at the start.
	CommitOffsets bool `hcl:"commit_offsets,optional"`
	// StartTimestamp, an ISO 8601 time such as "2017-04-04T23:40:37", skips the
	// entries queued before it.
	StartTimestamp string `hcl:"start_timestamp,optional"`
	// SincedbPath is the file holding the committed position; empty means
	// <path.data>/plugins/inputs/dead_letter_queue/<pipeline_id>/sincedb_<pipeline>_<id>.
	SincedbPath string `hcl:"sincedb_path,optional"`
	// EncryptionKeyPath is the key of an encrypted queue: the
	// dead_letter_queue.encryption_key_path of the pipeline that wrote it
	// (a file, or env:NAME). Not in Logstash, whose queue is not encrypted.
	EncryptionKeyPath string `hcl:"encryption_key_path,optional"`
	// EncryptionOldKeyPath is the key entries written before a key
	// rotation are sealed with (dead_letter_queue.encryption_old_key_path).
	EncryptionOldKeyPath string `hcl:"encryption_old_key_path,optional"`
}

// Defaults sets Logstash's defaults.
func (o *Options) Defaults() {
	o.PipelineID = "main"
	o.CommitOffsets = true
}

// Validate checks the options.
func (o *Options) Validate() error {
	if o.Path == "" {
		return &engine.FieldError{Field: "path", Err: errors.New("must not be empty")}
	}
	if o.PipelineID == "" || strings.ContainsAny(o.PipelineID, `/\`) || o.PipelineID == "." || o.PipelineID == ".." {
		return &engine.FieldError{Field: "pipeline_id", Err: fmt.Errorf("%q is not a pipeline id", o.PipelineID)}
	}
	if o.EncryptionOldKeyPath != "" && o.EncryptionKeyPath == "" {
		return &engine.FieldError{Field: "encryption_old_key_path", Err: errors.New("is set without encryption_key_path")}
	}
	if o.StartTimestamp != "" {
		if _, err := timefmt.ParseTimestamp(o.StartTimestamp); err != nil {
			return &engine.FieldError{Field: "start_timestamp", Err: fmt.Errorf("%q is not an ISO 8601 time, e.g. 2017-04-04T23:40:37", o.StartTimestamp)}
		}
	}
	return nil
}

// pollInterval is how often a caught-up input looks for new entries.
const pollInterval = 250 * time.Millisecond

// Input is the dead_letter_queue input.
type Input struct {
	dir       string
	keyPath   string
	oldKey    string
	sincedb   string // "" without commit_offsets
	start     time.Time
	batchSize int
	log       *slog.Logger
	poll      time.Duration
}

var _ engine.Input = (*Input)(nil)

// New builds a dead_letter_queue input.
func New(o Options, r engine.Resources) (*Input, error) {
	in := &Input{dir: filepath.Join(o.Path, o.PipelineID), batchSize: r.BatchSize, log: r.Logger, poll: pollInterval,
		keyPath: o.EncryptionKeyPath, oldKey: o.EncryptionOldKeyPath}
	if in.batchSize <= 0 {
		in.batchSize = engine.DefaultBatchSize
	}
	if in.log == nil {
		in.log = slog.Default()
	}
	if o.StartTimestamp != "" {
		in.start, _ = timefmt.ParseTimestamp(o.StartTimestamp)
	}
	if o.CommitOffsets {
		in.sincedb = o.SincedbPath
		if in.sincedb == "" {
			data := r.DataDir
			if data == "" {
				data = "data"
			}
			in.sincedb = filepath.Join(data, "plugins", "inputs", "dead_letter_queue", o.PipelineID,
				fmt.Sprintf("sincedb_%s_%s", r.Pipeline, r.ID))
		}
	}
	return in, nil
}

var (
	refPluginType = event.MustRef("[@metadata][dead_letter_queue][plugin_type]")
	refPluginID   = event.MustRef("[@metadata][dead_letter_queue][plugin_id]")
	refReason     = event.MustRef("[@metadata][dead_letter_queue][reason]")
	refEntryTime  = event.MustRef("[@metadata][dead_letter_queue][entry_time]")
)

// Run reads the queue and follows it until ctx is cancelled.
func (in *Input) Run(ctx context.Context, emit engine.EmitFunc) error {
	r := dlq.NewReader(in.dir, in.log)
	defer r.Close()
	// The key files are read when the input starts, as the queue's writer
	// reads them when the pipeline starts.
	keys, err := dlq.LoadKeys(in.keyPath, in.oldKey, in.log)
	if err != nil {
		return fmt.Errorf("dead_letter_queue input: encryption_key_path: %w", err)
	}
	r.SetKeys(keys)
	var com *committer
	if in.sincedb != "" {
		pos, err := readSincedb(in.sincedb)
		if err != nil {
			in.log.Warn("cannot read the sincedb file; reading the dead letter queue from the start", "sincedb_path", in.sincedb, "err", err)
		}
		r.Seek(pos)
		com = &committer{path: in.sincedb, log: in.log, done: pos}
		in.log.Info("reading the dead letter queue", "path", in.dir, "from", pos.String(), "sincedb_path", in.sincedb)
	}
	for {
		if ctx.Err() != nil {
			return nil
		}
		batch := make([]*event.Event, 0, in.batchSize)
		var last dlq.Position
		var rerr error
		for len(batch) < in.batchSize {
			en, pos, err := r.Next()
			if err != nil {
				rerr = err
				break
			}
			last = pos
			if !in.start.IsZero() && en.EntryTime.Before(in.start) {
				continue
			}
			e := en.Event
			_ = e.Set(refPluginType, en.PluginType)
			_ = e.Set(refPluginID, en.PluginID)
			_ = e.Set(refReason, en.Reason)
			_ = e.Set(refEntryTime, en.EntryTime.UTC())
			batch = append(batch, e)
		}
		if last != (dlq.Position{}) {
			b := engine.Batch{Events: batch}
			if com != nil {
				b.Ack = com.add(last)
			}
			if err := emit(b); err != nil {
				return err
			}
		}
		wait := in.poll
		switch {
		case rerr == nil:
			continue // a full batch: read on at once
		case rerr == io.EOF:
		default:
			in.log.Error("reading the dead letter queue failed; retrying", "path", in.dir, "err", rerr)
			wait = 5 * in.poll
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
	}
}

// committer saves the position after the last batch acknowledged in order.
type committer struct {
	path    string
	log     *slog.Logger
	mu      sync.Mutex
	pending []*pendingBatch
	done    dlq.Position
	failed  bool
}

type pendingBatch struct {
	end   dlq.Position
	acked bool
}

func (c *committer) add(end dlq.Position) engine.AckFunc {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := &pendingBatch{end: end}
	c.pending = append(c.pending, p)
	return func(error) {
		// A failed ack means the engine counted and logged the failure; reading
		// those entries again would fail them again, so the position moves on.
		c.mu.Lock()
		defer c.mu.Unlock()
		p.acked = true
		moved := false
		for len(c.pending) > 0 && c.pending[0].acked {
			c.done = c.pending[0].end
			c.pending = c.pending[1:]
			moved = true
		}
		if moved {
			c.save()
		}
	}
}

// save writes the position to a temporary file and renames it over the
// sincedb, so the file always holds a whole position.
func (c *committer) save() {
	err := os.MkdirAll(filepath.Dir(c.path), 0o750)
	if err == nil {
		tmp := c.path + ".tmp"
		if err = os.WriteFile(tmp, []byte(c.done.String()+"\n"), 0o640); err == nil {
			err = os.Rename(tmp, c.path)
		}
	}
	if err != nil && !c.failed {
		c.log.Error("cannot save the dead letter queue position; a restart will replay from the last saved one", "sincedb_path", c.path, "err", err)
	}
	c.failed = err != nil
}

func readSincedb(path string) (dlq.Position, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return dlq.Position{}, nil
	}
	if err != nil {
		return dlq.Position{}, err
	}
	return dlq.ParsePosition(string(b))
}
