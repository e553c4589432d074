package grok

import (
	"context"
	"os"
	"os/exec"
	"reflect"
	"regexp"
	"strconv"
	"testing"
	"time"
)

// TestLibrariesLoadLazily: the pattern libraries are parsed on first use,
// not by the package's init, which allocated about 3 MB at the start-up of
// every binary linking grok (issue #20); on first use they hold what loading
// them directly gives, and later uses share that one map.
func TestLibrariesLoadLazily(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// This test binary again, running no test: only the inits.
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "GODEBUG=inittrace=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	m := regexp.MustCompile(`(?m)^init github\.com/pipelined/pipeline/plugins/filters/grok @\S+ ms, \S+ ms clock, (\d+) bytes`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("no inittrace line for the grok package in:\n%s", out)
	}
	const budget = 256 << 10
	if n, _ := strconv.Atoi(string(m[1])); n > budget {
		t.Errorf("grok's init allocates %d bytes, want at most %d: is a pattern library loaded at start-up again?", n, budget)
	}

	for _, c := range []struct {
		dir  string
		lazy func() map[string]string
	}{{"patterns/legacy", legacyLibrary}, {"patterns/ecs-v1", ecsLibrary}} {
		first := c.lazy()
		if !reflect.DeepEqual(first, mustLoadLibrary(c.dir)) {
			t.Errorf("%s: the lazily loaded library differs from a direct load", c.dir)
		}
		if reflect.ValueOf(c.lazy()).UnsafePointer() != reflect.ValueOf(first).UnsafePointer() {
			t.Errorf("%s: the library is loaded again on a second use", c.dir)
		}
	}
}
