//go:build !linux

package supervisor

// releaseExecutablePages is Linux's only (see pages_linux.go).
func releaseExecutablePages() int64 { return 0 }
