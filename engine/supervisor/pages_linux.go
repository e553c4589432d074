package supervisor

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"strconv"
	"syscall"
)

// maxSmapsLines bounds how many lines of /proc/self/smaps are read: a Go
// process has a few dozen mappings of about 25 lines each.
const maxSmapsLines = 1 << 16

// releaseExecutablePages drops this process's page table entries for the
// executable's read-only mappings (code, constants, the pc tables), and
// returns how many bytes of mappings it advised. Package initialisation of
// ~400 packages, configuration loading and plugin construction touch a page
// of code or type data here and there across the whole 40 MB executable,
// and the kernel maps 64 KiB around each touch (fault-around): 20–25 MiB of
// file-backed resident set that a running pipeline never reads again. After
// MADV_DONTNEED the pages stay in the page cache (nothing is read from disk
// again); the ones still used are mapped again by a minor fault on the next
// access. Only mappings that hold nothing but the file's own pages are
// advised (releasableMappings): this is what the kernel does itself when it
// reclaims clean file pages under memory pressure. A read-only mapping that
// was written before it was made read-only (a PIE build's RELRO segment,
// relocated by the loader at start) holds private copies; MADV_DONTNEED
// would drop them and the next read would see the file's unrelocated bytes.
func releaseExecutablePages() int64 {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return 0
	}
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		return 0
	}
	spans := releasableMappings(f, exe)
	f.Close()
	var n int64
	for _, s := range spans {
		if _, _, e := syscall.Syscall(syscall.SYS_MADVISE, uintptr(s.lo), uintptr(s.hi-s.lo), syscall.MADV_DONTNEED); e == 0 {
			n += int64(s.hi - s.lo)
		}
	}
	return n
}

// span is an address range [lo, hi).
type span struct{ lo, hi uint64 }

// releasableMappings reads smaps (the format of /proc/self/smaps) and
// returns exe's mappings that are read-only and hold only file pages: no
// anonymous (copied-on-write) page, none swapped out (Private_Dirty counts
// file pages not yet written back too: a binary just built). A mapping
// whose counts are missing is not returned.
func releasableMappings(smaps io.Reader, exe string) []span {
	var out []span
	var cur span
	cand := false // cur is a read-only mapping of exe
	seen, written := 0, false
	finish := func() {
		if cand && seen == 2 && !written {
			out = append(out, cur)
		}
		cand, seen, written = false, 0, false
	}
	sc := bufio.NewScanner(smaps) // lines are short: the default 64 KiB token budget
	for i := 0; i < maxSmapsLines && sc.Scan(); i++ {
		fs := bytes.Fields(sc.Bytes())
		if len(fs) == 0 {
			continue
		}
		if k := fs[0]; k[len(k)-1] == ':' {
			// "Key: value kB" of the current mapping.
			switch string(k) {
			case "Anonymous:", "Swap:":
				seen++
				if len(fs) < 2 || string(fs[1]) != "0" {
					written = true
				}
			}
			continue
		}
		// "start-end perms offset dev inode path"
		finish()
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
		cur, cand = span{a, b}, true
	}
	if sc.Err() == nil {
		finish()
	}
	return out
}
