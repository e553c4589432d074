package supervisor

import (
	"fmt"

	"github.com/hashicorp/hcl/v2"

	"github.com/pipelined/pipeline/dsl/ir"
	"github.com/pipelined/pipeline/engine/atrest"
)

// keyDiags reads the encryption keys that pipeline name's persisted queue and
// dead letter queue would read at start, so that `pipeline check` finds a
// missing, unreadable or malformed key file (or an unset env:NAME) instead of
// the start: one error line each, naming the pipeline, the setting and the
// path or variable, never the key (atrest's errors never hold key bytes).
func keyDiags(name string, s ir.Settings) hcl.Diagnostics {
	var diags hcl.Diagnostics
	check := func(setting, path string) {
		if path == "" {
			return
		}
		if _, err := atrest.LoadKey(path, nil); err != nil {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError,
				Summary: fmt.Sprintf("pipeline %q: %s: %v", name, setting, err)})
		}
	}
	pair := func(prefix, cur, old string) {
		if cur == "" && old != "" {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError,
				Summary: fmt.Sprintf("pipeline %q: %s.encryption_old_key_path is set without %s.encryption_key_path", name, prefix, prefix)})
			return
		}
		check(prefix+".encryption_key_path", cur)
		check(prefix+".encryption_old_key_path", old)
	}
	if s.Queue.Type == "persisted" {
		pair("queue", s.Queue.EncryptionKeyPath, s.Queue.EncryptionOldKeyPath)
	}
	if d := s.DeadLetterQueue; d.Enable != nil && *d.Enable {
		pair("dead_letter_queue", d.EncryptionKeyPath, d.EncryptionOldKeyPath)
	}
	return diags
}
