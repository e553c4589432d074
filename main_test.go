package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

func TestMain(m *testing.M) {
	// The drain tests run this test binary as the pipeline command.
	if os.Getenv("PIPELINE_TEST_MAIN") == "1" {
		os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	testscript.Main(m, map[string]func(){
		"pipeline": func() { os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) },
	})
}

// TestScripts runs the CLI scripts in examples/testdata/script: each is a txtar
// with the commands, the files they use and the expected output.
func TestScripts(t *testing.T) {
	wd, _ := os.Getwd()
	testscript.Run(t, testscript.Params{
		Dir: filepath.Join("examples", "testdata", "script"),
		Setup: func(env *testscript.Env) error {
			env.Setenv("EXAMPLES", filepath.Join(wd, "examples"))
			return nil
		},
	})
}

// pipelineCmd starts this binary as `pipeline args...`.
func pipelineCmd(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "PIPELINE_TEST_MAIN=1")
	return cmd
}

// logWatch collects a process's stderr and signals when a line matches.
type logWatch struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	seen  map[string]chan struct{}
	lines []string
}

func watchLog(t *testing.T, r io.Reader, wants ...string) *logWatch {
	w := &logWatch{seen: map[string]chan struct{}{}}
	for _, s := range wants {
		w.seen[s] = make(chan struct{})
	}
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			line := sc.Text()
			w.mu.Lock()
			w.buf.WriteString(line + "\n")
			w.lines = append(w.lines, line)
			for s, ch := range w.seen {
				if strings.Contains(line, s) {
					select {
					case <-ch:
					default:
						close(ch)
					}
				}
			}
			w.mu.Unlock()
		}
	}()
	return w
}

func (w *logWatch) wait(t *testing.T, s string, d time.Duration) {
	t.Helper()
	select {
	case <-w.seen[s]:
	case <-time.After(d):
		t.Fatalf("log line %q not seen within %v; log:\n%s", s, d, w.String())
	}
}

func (w *logWatch) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// index returns the position of the first log line containing s, or -1.
func (w *logWatch) index(s string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	for i, l := range w.lines {
		if strings.Contains(l, s) {
			return i
		}
	}
	return -1
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

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
    format = "%%{[event][sequence]}"
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
    format = "%%{[event][sequence]} %%{message}"
  }
}
`, strings.Repeat("m", 1024), fifo))
	cmd := pipelineCmd(t, "run", "-f", cfg, "-w", "2")
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	logs := watchLog(t, stderr, "inputs finished", "signal received", "pipeline stopped")

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
	logs.wait(t, "inputs finished", 120*time.Second)
	if logs.index("pipeline stopped") >= 0 {
		t.Fatal("pipeline finished draining before SIGTERM; the test did not exercise a drain")
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	logs.wait(t, "signal received", 10*time.Second)
	fast.Store(true)
	select {
	case err := <-readDone:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(120 * time.Second):
		t.Fatal("output never reached EOF")
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("pipeline exit: %v\n%s", err, logs.String())
	}
	if count != 1000000 || dups != 0 {
		t.Fatalf("read %d lines with %d duplicates; want exactly 1000000 and none", count, dups)
	}
	if s, st := logs.index("signal received"), logs.index("pipeline stopped"); s < 0 || st < s {
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
    format = "%%{[event][sequence]}"
  }
}
`, out))
	cmd := pipelineCmd(t, "run", "-f", cfg)
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	logs := watchLog(t, stderr, "pipeline started", "pipeline stopped")
	logs.wait(t, "pipeline started", 30*time.Second)
	time.Sleep(500 * time.Millisecond)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("pipeline exit: %v\n%s", err, logs.String())
	}
	logs.wait(t, "pipeline stopped", 5*time.Second)
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

// TestQuickstartPrintsEvents runs the README's first command.
func TestQuickstartPrintsEvents(t *testing.T) {
	cmd := pipelineCmd(t, "run", "-f", filepath.Join("examples", "quickstart", "pipeline.hcl"))
	cmd.Env = append(cmd.Env, "QUICKSTART_OUT="+t.TempDir())
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("quickstart: %v\n%s", err, stderr.String())
	}
	got := stdout.String()
	if n := strings.Count(got, `"message" => `); n != 4 {
		t.Errorf("quickstart printed %d events; want 4 (2 × INFO, 2 × ERROR; DEBUG dropped):\n%s", n, got)
	}
	if strings.Contains(got, "DEBUG") {
		t.Errorf("DEBUG lines should have been dropped:\n%s", got)
	}
	_ = json.Valid
}
