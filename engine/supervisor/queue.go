package supervisor

import (
	"cmp"
	"flag"
	"fmt"
	"path/filepath"
	"strconv"

	"github.com/pipelined/pipeline/dsl/ir"
	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/dlq"
)

// SettingFlags are the pipeline settings given on the command line under
// Logstash's names (--queue.type, --dead_letter_queue.max_bytes, …): every
// pipeline's defaults, which its own settings (a pipeline block,
// pipelines.yml) override. Validate reads them through ir's settings table,
// as pipelines.yml is read, so a value is checked once and the same way
// wherever it is written.
type SettingFlags struct {
	names    []string
	text     map[string]*string
	bools    map[string]*bool
	defaults ir.Settings // set by Validate
}

// AddSettingFlags registers the queue.*, path.queue, dead_letter_queue.* and
// path.dead_letter_queue flags on fs.
func AddSettingFlags(fs *flag.FlagSet) *SettingFlags {
	f := &SettingFlags{text: map[string]*string{}, bools: map[string]*bool{}}
	str := func(name, def, usage string) {
		f.names = append(f.names, name)
		f.text[name] = fs.String(name, def, usage)
	}
	boolean := func(name, usage string) {
		f.names = append(f.names, name)
		f.bools[name] = fs.Bool(name, false, usage)
	}
	str("queue.type", "memory", "memory or persisted")
	str("path.queue", "", "persisted queue directory (default <path.data>/queue)")
	str("queue.max_bytes", "1024mb", "persisted queue size bound")
	str("queue.checkpoint.writes", "1024", "events between fsyncs (1: every write)")
	boolean("queue.drain", "empty the persisted queue before stopping on a signal")
	boolean("dead_letter_queue.enable", "keep refused events")
	str("path.dead_letter_queue", "", "dead letter queue directory (default <path.data>/dead_letter_queue)")
	str("dead_letter_queue.max_bytes", "1024mb", "dead letter queue size bound")
	str("dead_letter_queue.storage_policy", dlq.DropNewer, "drop_newer or drop_older")
	str("dead_letter_queue.flush_interval", "5000", "dead letter queue fsync interval in ms")
	str("dead_letter_queue.retain.age", "", "delete dead letter queue entries older than this, e.g. 5d")
	return f
}

// Validate reads the flags into the pipelines' default settings.
func (f *SettingFlags) Validate() error {
	f.defaults = ir.Settings{}
	for _, name := range f.names {
		var text string
		if b, ok := f.bools[name]; ok {
			text = strconv.FormatBool(*b)
		} else if text = *f.text[name]; text == "" {
			continue // not given: the default is under --path.data, or none
		}
		if _, _, err := f.defaults.SetSetting(name, text); err != nil {
			return fmt.Errorf("invalid --%s %q: %v", name, text, err)
		}
	}
	return nil
}

// settings returns a pipeline's settings: its own, else the flags'.
func (f *SettingFlags) settings(p *ir.Pipeline) ir.Settings {
	return p.Settings.Or(f.defaults)
}

// queueSettings returns the queue settings of the pipeline id for the
// engine. The persisted queue of pipeline p lives in <path.queue>/<p>.
func queueSettings(s ir.QueueSettings, id, dataDir string) engine.QueueSettings {
	return engine.QueueSettings{
		Type:             s.Type,
		Path:             filepath.Join(cmp.Or(s.Path, filepath.Join(dataDir, "queue")), id),
		MaxBytes:         s.MaxBytes,
		CheckpointWrites: s.CheckpointWrites,
		Drain:            s.Drain != nil && *s.Drain,
	}
}
