//go:build !unix

package file

import (
	"hash/fnv"
	"os"
)

// fileID is a file's identity; without inodes, a hash of its name and
// creation-independent data (rotation by rename is not recognised here).
type fileID struct{ ino, major, minor uint64 }

func identity(fi os.FileInfo) (fileID, bool) {
	h := fnv.New64a()
	h.Write([]byte(fi.Name()))
	return fileID{ino: h.Sum64()}, true
}

func sameFile(fi os.FileInfo, id fileID) bool {
	got, _ := identity(fi)
	return got == id
}
