package supervisor

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
	"syscall"
)

// maxMapsLines bounds how many lines of /proc/self/maps are read: a Go
// process has a few dozen mappings; the executable's come first.
const maxMapsLines = 4096

// releaseExecutablePages drops this process's page table entries for the
// executable's read-only mappings (code, constants, the pc tables), and
// returns how many bytes of mappings it advised. Package initialisation of
// ~400 packages, configuration loading and plugin construction touch a page
// of code or type data here and there across the whole 40 MB executable,
// and the kernel maps 64 KiB around each touch (fault-around): 20–25 MiB of
// file-backed resident set that a running pipeline never reads again. After
// MADV_DONTNEED the pages stay in the page cache (nothing is read from disk
// again); the ones still used are mapped again by a minor fault on the next
// access. The mappings are read-only and private, so there is nothing to
// lose: this is what the kernel does itself when it reclaims clean file
// pages under memory pressure. Writable mappings (.data, .bss, the heap) are
// left alone.
func releaseExecutablePages() int64 {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return 0
	}
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return 0
	}
	defer f.Close()
	var n int64
	sc := bufio.NewScanner(f) // lines are short: the default 64 KiB token budget
	for i := 0; i < maxMapsLines && sc.Scan(); i++ {
		// "start-end perms offset dev inode path"
		fs := bytes.Fields(sc.Bytes())
		if len(fs) != 6 || string(fs[5]) != exe || len(fs[1]) < 2 || fs[1][0] != 'r' || fs[1][1] != '-' {
			continue
		}
		lo, hi, ok := bytes.Cut(fs[0], []byte("-"))
		if !ok {
			continue
		}
		a, err1 := strconv.ParseUint(string(lo), 16, 64)
		b, err2 := strconv.ParseUint(string(hi), 16, 64)
		if err1 != nil || err2 != nil || b <= a {
			continue
		}
		if _, _, e := syscall.Syscall(syscall.SYS_MADVISE, uintptr(a), uintptr(b-a), syscall.MADV_DONTNEED); e == 0 {
			n += int64(b - a)
		}
	}
	return n
}
