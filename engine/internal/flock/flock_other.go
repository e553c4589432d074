//go:build !unix

package flock

import (
	"errors"
	"os"
)

// ErrLocked is returned when another process holds the lock.
var ErrLocked = errors.New("locked by another process")

// Lock only creates path here: there is no flock, so two processes writing
// one queue are not prevented.
func Lock(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o640)
}
