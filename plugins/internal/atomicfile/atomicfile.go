// Package atomicfile replaces a plugin's small state files (sincedb,
// aggregate maps, correlate state, jdbc's last run) so that a crash or a
// power cut leaves the old content or the new one, never an empty or torn
// file: a sincedb read back empty makes the file input start its files
// over, or at their end, losing what was written meanwhile.
package atomicfile

import (
	"os"
	"path/filepath"
)

// Write replaces path with data: a temporary file in the same directory,
// written, synced and renamed over path, then the directory synced so that
// the rename itself is on disk. The directory is made (0750) when missing.
// On error path is left as it was and the temporary file removed.
func Write(path string, data []byte, perm os.FileMode) (err error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			os.Remove(tmp.Name())
		}
	}()
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Chmod(perm)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	// The rename is done: a failure to sync the directory is not reported,
	// as the new content is in place either way.
	if d, derr := os.Open(dir); derr == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}
