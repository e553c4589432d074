//go:build unix

package file

import (
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// fileID is a file's identity, as Logstash's sincedb keys it.
type fileID struct{ ino, major, minor uint64 }

func identity(fi os.FileInfo) (fileID, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fileID{}, false
	}
	dev := uint64(st.Dev)
	return fileID{ino: uint64(st.Ino), major: uint64(unix.Major(dev)), minor: uint64(unix.Minor(dev))}, true
}

func sameFile(fi os.FileInfo, id fileID) bool {
	got, ok := identity(fi)
	return ok && got == id
}
