//go:build unix

// Package flock takes the exclusive lock that keeps two processes from
// writing one queue directory (the persisted queue, the dead letter queue).
package flock

import (
	"errors"
	"os"
	"syscall"
)

// ErrLocked is returned when another process holds the lock.
var ErrLocked = errors.New("locked by another process")

// Lock takes an exclusive lock on path, creating the file. The lock goes
// with the process, so a crash leaves none; Close the file to release it.
func Lock(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o640)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, ErrLocked
		}
		return nil, err
	}
	return f, nil
}
