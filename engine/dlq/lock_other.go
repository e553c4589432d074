//go:build !unix

package dlq

import (
	"os"
	"path/filepath"
)

// lock only creates <dir>/.lock here: there is no flock, so two processes
// writing one queue are not prevented.
func lock(dir string) (*os.File, error) {
	return os.OpenFile(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o640)
}
