package supervisor

import (
	"math"
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

// TestMemorySoftLimitSetting: memory.soft_limit defaults to 22 MiB, reads a
// size from a flag or logstash.yml, and 0 turns it off.
func TestMemorySoftLimitSetting(t *testing.T) {
	for _, tc := range []struct {
		yml  string
		args []string
		want int64
	}{
		{"", nil, 22 << 20},
		{"memory.soft_limit: 256mb\n", nil, 256 << 20},
		{"memory.soft_limit: 256mb\n", []string{"--memory.soft_limit", "0"}, -1},
	} {
		f, err := parseSettings(t, tc.yml, tc.args...)
		if err != nil {
			t.Fatal(err)
		}
		if got := f.settings.MemorySoftLimit; got != tc.want {
			t.Errorf("%q %v: memory.soft_limit %d, want %d", tc.yml, tc.args, got, tc.want)
		}
	}
	if _, err := parseSettings(t, "", "--memory.soft_limit", "lots"); err == nil {
		t.Error("memory.soft_limit lots accepted")
	}
}

// TestSetMemorySoftLimit: the limit is set; with more than half of it live
// it follows at twice the live heap instead of making the collector run
// without end; GOMEMLIMIT wins.
func TestSetMemorySoftLimit(t *testing.T) {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	t.Setenv("GOMEMLIMIT", "")
	stop := SetMemorySoftLimit(8<<20, nil)
	if got := debug.SetMemoryLimit(-1); got != 8<<20 {
		t.Fatalf("limit %d, want %d", got, 8<<20)
	}
	live := make([][]byte, 0, 24)
	for range 24 {
		live = append(live, make([]byte, 1<<20)) // 24 MiB live: three times the limit
	}
	deadline := time.Now().Add(10 * time.Second)
	for debug.SetMemoryLimit(-1) < 40<<20 && time.Now().Before(deadline) {
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	if got := debug.SetMemoryLimit(-1); got < 40<<20 {
		t.Errorf("limit %d with 24 MiB live; want it to follow at twice the live heap", got)
	}
	runtime.KeepAlive(live)
	stop()
	if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
		t.Errorf("limit %d after stop", got)
	}
	t.Setenv("GOMEMLIMIT", "1GiB")
	SetMemorySoftLimit(8<<20, nil)()
	if got := debug.SetMemoryLimit(-1); got == 8<<20 {
		t.Error("GOMEMLIMIT set, but memory.soft_limit applied")
	}
}
