package supervisor

import (
	"cmp"
	"path/filepath"

	"github.com/pipelined/pipeline/dsl/ir"
	"github.com/pipelined/pipeline/engine"
)

// queueSettings returns the queue settings of the pipeline id for the
// engine. The persisted queue of pipeline p lives in <path.queue>/<p>.
func queueSettings(s ir.QueueSettings, id, dataDir string) engine.QueueSettings {
	return engine.QueueSettings{
		Type:                 s.Type,
		Path:                 filepath.Join(cmp.Or(s.Path, filepath.Join(dataDir, "queue")), id),
		MaxBytes:             s.MaxBytes,
		CheckpointWrites:     s.CheckpointWrites,
		Drain:                s.Drain != nil && *s.Drain,
		EncryptionKeyPath:    s.EncryptionKeyPath,
		EncryptionOldKeyPath: s.EncryptionOldKeyPath,
	}
}
