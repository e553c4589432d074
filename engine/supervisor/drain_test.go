package supervisor

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pipelined/pipeline/engine/enginetest/logwatch"
)

// TestGenerator1MToFile: a million generated events land as exactly a million
// lines, each sequence number once.
func TestGenerator1MToFile(t *testing.T) {
	if testing.Short() {
		t.Skip("1M events")
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "out", "events.log")
	cfg := filepath.Join(dir, "p.hcl")
	writeFile(t, cfg, fmt.Sprintf(`
input "generator" "gen" {
  count = 1000000
  message = "x"
}
output "file" "out" {
  path = %q
  codec "line" {
    format = "%%%%{[event][sequence]}"
  }
}
`, out))
	cmd := pipelineCmd(t, "run", "-f", cfg, "--log.level", "warn")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("pipeline run: %v\n%s", err, stderr.String())
	}
	checkSequence(t, out, 1000000)
}

// checkSequence asserts that path holds exactly the lines 0..n-1 in any order.
func checkSequence(t *testing.T, path string, n int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	seen := make([]bool, n)
	count := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		v, err := strconv.Atoi(sc.Text())
		if err != nil || v < 0 || v >= n {
			t.Fatalf("line %d = %q; want a sequence number below %d", count+1, sc.Text(), n)
		}
		if seen[v] {
			t.Fatalf("sequence %d written twice", v)
		}
		seen[v] = true
		count++
	}
	if count != n {
		t.Fatalf("%s has %d lines; want exactly %d", path, count, n)
	}
}

// TestDrainOnSIGTERMAfterInputStops: the generator has emitted all 1,000,000
// events, the output is still writing (its reader is paused), SIGTERM arrives:
// the pipeline must deliver everything in flight, then exit 0.
func TestDrainOnSIGTERMAfterInputStops(t *testing.T) {
	if testing.Short() {
		t.Skip("1M events")
	}
	dir := t.TempDir()
	fifo := filepath.Join(dir, "out.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "p.hcl")
	// 1 KiB lines: the 64 KiB pipe buffer holds far fewer events than the
	// pipeline has in flight, so the drain cannot finish while we do not read.
	writeFile(t, cfg, fmt.Sprintf(`
input "generator" "gen" {
  count = 1000000
  message = %q
}
output "file" "out" {
  path = %q
  codec "line" {
    format = "%%%%{[event][sequence]} %%%%{message}"
  }
}
`, strings.Repeat("m", 1024), fifo))
	cmd := pipelineCmd(t, "run", "-f", cfg, "-w", "2")
	logs := logwatch.Start(t, cmd)

	r, err := os.Open(fifo) // blocks until the output opens the file
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	// Read at full speed until the last few thousand lines, then slowly: the
	// generator finishes while the output still has in-flight events to write,
	// so SIGTERM lands in the drain. After the signal, read at full speed.
	var fast atomic.Bool
	const slowTail = 3000
	seen := make([]bool, 1000000)
	var count, dups int
	readDone := make(chan error, 1)
	go func() {
		br := bufio.NewReaderSize(r, 4096)
		for {
			if count >= len(seen)-slowTail && !fast.Load() {
				time.Sleep(2 * time.Millisecond)
			}
			line, err := br.ReadString('\n')
			if err == io.EOF {
				readDone <- nil
				return
			}
			if err != nil {
				readDone <- err
				return
			}
			seq, _, _ := strings.Cut(line, " ")
			v, err := strconv.Atoi(seq)
			if err != nil || v < 0 || v >= len(seen) {
				readDone <- fmt.Errorf("bad line %q", line[:min(len(line), 40)])
				return
			}
			if seen[v] {
				dups++
			}
			seen[v] = true
			count++
		}
	}()
	logs.Wait(t, "inputs finished", 120*time.Second)
	if logs.Index("pipeline stopped") >= 0 {
		t.Fatal("pipeline finished draining before SIGTERM; the test did not exercise a drain")
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	logs.Wait(t, "signal received", 10*time.Second)
	fast.Store(true)
	select {
	case err := <-readDone:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(120 * time.Second):
		t.Fatal("output never reached EOF")
	}
	if err := logs.Err(); err != nil {
		t.Fatalf("pipeline exit: %v\n%s", err, logs.String())
	}
	if count != 1000000 || dups != 0 {
		t.Fatalf("read %d lines with %d duplicates; want exactly 1000000 and none", count, dups)
	}
	if s, st := logs.Index("signal received"), logs.Index("pipeline stopped"); s < 0 || st < s {
		t.Fatalf("want the signal to arrive before the pipeline stopped; log:\n%s", logs.String())
	}
}

var inRe = regexp.MustCompile(`pipeline stopped.*\bin=(\d+)`)

// TestSIGTERMMidRunDeliversEverythingEmitted: an endless generator is stopped
// by SIGTERM; every event it emitted is in the file, once.
func TestSIGTERMMidRunDeliversEverythingEmitted(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "events.log")
	cfg := filepath.Join(dir, "p.hcl")
	writeFile(t, cfg, fmt.Sprintf(`
input "generator" "gen" {
  count = 0
}
output "file" "out" {
  path = %q
  codec "line" {
    format = "%%%%{[event][sequence]}"
  }
}
`, out))
	cmd := pipelineCmd(t, "run", "-f", cfg)
	logs := logwatch.Start(t, cmd)
	logs.Wait(t, "pipeline started", 30*time.Second)
	time.Sleep(500 * time.Millisecond)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := logs.Err(); err != nil {
		t.Fatalf("pipeline exit: %v\n%s", err, logs.String())
	}
	logs.Wait(t, "pipeline stopped", 5*time.Second)
	m := inRe.FindStringSubmatch(logs.String())
	if m == nil {
		t.Fatalf("no final stats in log:\n%s", logs.String())
	}
	n, _ := strconv.Atoi(m[1])
	if n == 0 {
		t.Fatal("the generator emitted nothing before SIGTERM")
	}
	checkSequence(t, out, n)
}
