package supervisor

import (
	"bytes"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestReleaseExecutablePages: the executable's read-only pages that running
// this test binary mapped are unmapped (their resident set falls) and the
// process keeps running, calling into the code and reading the constants
// released. Only the executable's mappings are counted: a -race binary also
// maps libc and the race runtime, which the release leaves alone, and a
// second run (-count) starts from what the first left mapped.
func TestReleaseExecutablePages(t *testing.T) {
	touchExecutable(t) // all of it mapped, whatever ran before
	before := exeRssKiB(t)
	n := releaseExecutablePages()
	after := exeRssKiB(t)
	t.Logf("released %d MiB of mappings; the executable's read-only RSS %d → %d KiB", n>>20, before, after)
	if n <= 0 {
		t.Fatal("no mapping of the executable released")
	}
	// All of it was mapped (tens of MiB); what runs between the release and
	// the count maps back in a few MiB (a -race binary's runtime more).
	if before < 16<<10 || after > before/2 {
		t.Errorf("the executable's read-only RSS %d KiB before, %d KiB after the release: want at most half", before, after)
	}
	// Still runs: code and constants come back from the page cache.
	if got := strconv.Itoa(12345) + os.Getenv("NO_SUCH_VARIABLE_HERE"); got != "12345" {
		t.Errorf("got %q", got)
	}
}

// touchExecutable reads every page of the executable's read-only mappings
// through /proc/self/mem, which maps them into this process.
func touchExecutable(t *testing.T) {
	t.Helper()
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	maps, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		t.Fatal(err)
	}
	mem, err := os.Open("/proc/self/mem")
	if err != nil {
		t.Fatal(err)
	}
	defer mem.Close()
	buf := make([]byte, 1<<20)
	for line := range bytes.Lines(maps) {
		fs := bytes.Fields(line)
		if len(fs) != 6 || string(fs[5]) != exe || len(fs[1]) < 2 || fs[1][0] != 'r' || fs[1][1] != '-' {
			continue
		}
		lo, hi, _ := bytes.Cut(fs[0], []byte("-"))
		a, err1 := strconv.ParseUint(string(lo), 16, 64)
		b, err2 := strconv.ParseUint(string(hi), 16, 64)
		if err1 != nil || err2 != nil {
			t.Fatalf("maps: %q", line)
		}
		for off := a; off < b; off += uint64(len(buf)) {
			if _, err := mem.ReadAt(buf[:min(uint64(len(buf)), b-off)], int64(off)); err != nil {
				t.Fatalf("reading %s at %#x: %v", exe, off, err)
			}
		}
	}
}

// exeRssKiB sums the Rss of this process's read-only mappings of its
// executable (those releaseExecutablePages advises) in /proc/self/smaps.
func exeRssKiB(t *testing.T) int {
	t.Helper()
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	sum, in, seen := 0, false, false
	for line := range bytes.Lines(b) {
		fs := bytes.Fields(line)
		if len(fs) == 6 && bytes.Contains(fs[0], []byte("-")) { // a mapping's header
			in = string(fs[5]) == exe && len(fs[1]) >= 2 && fs[1][0] == 'r' && fs[1][1] == '-'
			seen = seen || in
			continue
		}
		if in && len(fs) >= 2 && string(fs[0]) == "Rss:" {
			n, err := strconv.Atoi(string(fs[1]))
			if err != nil {
				t.Fatalf("smaps: %q", line)
			}
			sum += n
		}
	}
	if !seen {
		t.Fatalf("no read-only mapping of %s in /proc/self/smaps", exe)
	}
	return sum
}

// TestReleasableMappingsPIE: of a PIE build's mappings of the executable
// (testdata/smaps_pie.txt, /proc/self/smaps of a Go program built with
// -buildmode=pie), the code and the constants are released, the RELRO
// segment is not: it is read-only but the loader wrote its relocations
// into it, and MADV_DONTNEED would bring back the file's unrelocated bytes
// (the program then crashed on its next fmt call). Nor is the writable
// data, nor another file's mapping.
func TestReleasableMappingsPIE(t *testing.T) {
	f, err := os.Open("testdata/smaps_pie.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got := releasableMappings(f, "/opt/pipeline/bin/pipeline")
	want := []span{
		{0x559f8f02c000, 0x559f8f0d7000}, // r-xp, code
		{0x559f8f0d7000, 0x559f8f1bb000}, // r--p, constants
	}
	if !slices.Equal(got, want) {
		t.Errorf("got %x, want %x", got, want)
	}
	// Another name: nothing.
	if _, err := f.Seek(0, 0); err != nil {
		t.Fatal(err)
	}
	if got := releasableMappings(f, "/opt/pipeline/bin/other"); len(got) != 0 {
		t.Errorf("another executable: got %x", got)
	}
}

// TestReleasableMappingsNeedCounts: a mapping whose smaps entry lacks the
// counts that say it holds only file pages is not released.
func TestReleasableMappingsNeedCounts(t *testing.T) {
	smaps := "1000-2000 r-xp 00000000 fe:00 1 /bin/x\nSize: 4 kB\nAnonymous: 0 kB\n" +
		"2000-3000 r--p 00001000 fe:00 1 /bin/x\nPrivate_Dirty: 4 kB\nAnonymous: 0 kB\nSwap: 0 kB\n" +
		"3000-4000 r--p 00002000 fe:00 1 /bin/x\nAnonymous: 0 kB\nSwap: 4 kB\n"
	got := releasableMappings(strings.NewReader(smaps), "/bin/x")
	if want := []span{{0x2000, 0x3000}}; !slices.Equal(got, want) {
		t.Errorf("got %x, want %x", got, want)
	}
}
