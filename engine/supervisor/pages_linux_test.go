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
// this test binary mapped are unmapped (RssFile falls) and the process keeps
// running, calling into the code and reading the constants released.
func TestReleaseExecutablePages(t *testing.T) {
	before := rssFileKiB(t)
	n := releaseExecutablePages()
	after := rssFileKiB(t)
	t.Logf("released %d MiB of mappings; RssFile %d → %d KiB", n>>20, before, after)
	if n <= 0 {
		t.Fatal("no mapping of the executable released")
	}
	// The test binary's start-up mapped some MiB of it; what reading
	// /proc/self/status maps back in again is a few hundred KiB.
	if before < 2048 || after > before/2 {
		t.Errorf("RssFile %d KiB before, %d KiB after the release: want at most half", before, after)
	}
	// Still runs: code and constants come back from the page cache.
	if got := strconv.Itoa(12345) + os.Getenv("NO_SUCH_VARIABLE_HERE"); got != "12345" {
		t.Errorf("got %q", got)
	}
}

// rssFileKiB is RssFile of /proc/self/status in KiB.
func rssFileKiB(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for line := range bytes.Lines(b) {
		if v, ok := bytes.CutPrefix(line, []byte("RssFile:")); ok {
			f := bytes.Fields(v)
			if len(f) > 0 {
				n, err := strconv.Atoi(string(f[0]))
				if err == nil {
					return n
				}
			}
		}
	}
	t.Fatal("no RssFile in /proc/self/status")
	return 0
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
