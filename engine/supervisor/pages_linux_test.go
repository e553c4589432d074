package supervisor

import (
	"bytes"
	"os"
	"strconv"
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
