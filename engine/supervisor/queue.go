package supervisor

import (
	"cmp"
	"flag"
	"fmt"
	"path/filepath"

	"github.com/pipelined/pipeline/dsl/ir"
	"github.com/pipelined/pipeline/engine"
)

// QueueFlags are Logstash's queue.* settings as flags; pipelines.yml or a
// pipeline's queue block override them per pipeline.
type QueueFlags struct {
	typ              string
	path             string
	maxBytes         string
	checkpointWrites int
	drain            bool

	maxBytesN int64
}

// AddQueueFlags registers the queue.* and path.queue flags on fs.
func AddQueueFlags(fs *flag.FlagSet) *QueueFlags {
	f := &QueueFlags{}
	fs.StringVar(&f.typ, "queue.type", "memory", "memory or persisted")
	fs.StringVar(&f.path, "path.queue", "", "persisted queue directory (default <path.data>/queue)")
	fs.StringVar(&f.maxBytes, "queue.max_bytes", "1024mb", "persisted queue size bound")
	fs.IntVar(&f.checkpointWrites, "queue.checkpoint.writes", 1024, "events between fsyncs (1: every write)")
	fs.BoolVar(&f.drain, "queue.drain", false, "empty the persisted queue before stopping on a signal")
	return f
}

// Validate checks the flags and parses the sizes.
func (f *QueueFlags) Validate() error {
	if f.typ != "memory" && f.typ != "persisted" {
		return fmt.Errorf("invalid --queue.type %q: use memory or persisted", f.typ)
	}
	n, err := ir.ParseByteSize(f.maxBytes)
	if err != nil || n <= 0 {
		return fmt.Errorf("invalid --queue.max_bytes %q: write a size such as 1024mb", f.maxBytes)
	}
	f.maxBytesN = n
	if f.checkpointWrites <= 0 {
		return fmt.Errorf("invalid --queue.checkpoint.writes %d: give a number of events above 0", f.checkpointWrites)
	}
	return nil
}

// settings returns a pipeline's queue settings: its own, else the flags'. The
// persisted queue of pipeline p lives in <path.queue>/<p>.
func (f *QueueFlags) settings(p *ir.Pipeline, dataDir string) engine.QueueSettings {
	s := p.Settings.Queue
	q := engine.QueueSettings{
		Type:             cmp.Or(s.Type, f.typ),
		Path:             filepath.Join(cmp.Or(s.Path, f.path, filepath.Join(dataDir, "queue")), p.Name),
		MaxBytes:         cmp.Or(s.MaxBytes, f.maxBytesN),
		CheckpointWrites: cmp.Or(s.CheckpointWrites, f.checkpointWrites),
		Drain:            f.drain,
	}
	if s.Drain != nil {
		q.Drain = *s.Drain
	}
	return q
}
