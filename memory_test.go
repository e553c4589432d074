package main

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// Peak RSS budgets of the release binary at default settings (#20): the
// issue's 32 MiB for the benchmark's W1 (stdin → drop) and W5 (syslog over
// TCP → JSON lines file) pipelines, and what start-up (package
// initialisation, configuration, a running pipeline) alone may take.
// docs/benchmarks.md, "Memory", has what they measured when set.
const (
	peakRSSBudget  = 32 << 20
	startRSSBudget = 30 << 20
)

// memLines is how many syslog lines the pipelines below get: the peak is
// reached within the first 100,000.
const memLines = 300_000

// TestPeakRSS builds the binary as .ci/release does and checks its peak
// resident set (file-backed pages of the executable included, as ps and the
// benchmark harness count them) for `version` and for W1 and W5 of
// examples/bench at default settings: what package initialisation
// allocates and touches, the collector's targets, the release of start-up
// pages and the pipelines' buffers all show in it.
func TestPeakRSS(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the whole binary")
	}
	if runtime.GOOS != "linux" {
		t.Skip("the budgets are Linux's (fault-around, page release)")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "pipeline")
	build := exec.Command("go", "build", "-trimpath", "-tags", "grpcnotrace", "-ldflags", "-s -w", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	in := filepath.Join(dir, "syslog.log")
	writeSyslogLines(t, in, memLines)
	env := append(os.Environ(), "GOGC=", "GOMEMLIMIT=", "GODEBUG=")

	// W1 with its stdin held open: the start-up peak once the pipeline
	// runs, then the peak with the lines through it, read from VmHWM before
	// the process exits (ru_maxrss of a child started by this process
	// counts this process's own peak: os/exec forks with CLONE_VM).
	w1 := exec.Command(bin, "run", "-f", filepath.Join("examples", "bench", "w1.hcl"), "--api.enabled=false")
	w1.Env = env
	stdin, err := w1.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	logs, err := w1.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := w1.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		stdin.Close()
		w1.Process.Kill()
		w1.Wait()
	}()
	sc := bufio.NewScanner(logs)
	for sc.Scan() && !bytes.Contains(sc.Bytes(), []byte(`msg="pipeline started"`)) {
	}
	go func() { // the rest of the log, so that the pipeline never blocks on it
		for sc.Scan() {
		}
	}()
	checkPeak(t, "start-up (W1 idle)", w1.Process.Pid, startRSSBudget)
	data, err := os.ReadFile(in)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stdin.Write(data); err != nil {
		t.Fatal(err)
	}
	// Write returns once the pipeline has read all but the pipe's buffer;
	// at EOF it finishes what it holds and exits. VmHWM is read until then
	// (gone once the process has exited), so the peak includes the tail of
	// the lines and the stop.
	peak, err := readHWM(w1.Process.Pid) // it cannot exit before stdin's end
	if err != nil {
		t.Fatal(err)
	}
	stdin.Close()
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		hwm, err := readHWM(w1.Process.Pid)
		if err != nil {
			break
		}
		peak = max(peak, hwm)
		if time.Now().After(deadline) {
			t.Fatal("W1 did not exit within 60 s of its stdin's end")
		}
	}
	checkBudget(t, "W1 (stdin → drop)", peak, peakRSSBudget)

	runW5(t, bin, env, data, dir)
}

// runW5 runs examples/bench/w5.hcl, sends it data over one TCP connection,
// waits until the output file has all the lines and checks its peak RSS.
func runW5(t *testing.T, bin string, env []string, data []byte, dir string) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	out := filepath.Join(dir, "w5.json")
	c := exec.Command(bin, "run", "-f", filepath.Join("examples", "bench", "w5.hcl"), "--log.level", "warn", "--api.enabled=false")
	c.Env = append(env, fmt.Sprintf("W5_PORT=%d", port), "W5_OUT="+out)
	var stderr bytes.Buffer
	c.Stderr = &stderr
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- c.Wait() }()
	defer func() {
		if c.ProcessState == nil {
			c.Process.Kill()
			<-exited
		}
	}()
	var conn net.Conn
	for i := 0; i < 200; i++ { // up to 10 s for the input to listen
		if conn, err = net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("W5 never listened: %v\n%s", err, stderr.Bytes())
	}
	if _, err := conn.Write(data); err != nil {
		t.Fatal(err)
	}
	conn.Close()
	for i := 0; ; i++ { // up to 120 s for the events to reach the file
		if b, _ := os.ReadFile(out); bytes.Count(b, []byte("\n")) >= memLines {
			break
		}
		if i == 1200 {
			t.Fatalf("W5: the events did not reach %s\n%s", out, stderr.Bytes())
		}
		select {
		case err := <-exited:
			t.Fatalf("W5 exited: %v\n%s", err, stderr.Bytes())
		case <-time.After(100 * time.Millisecond):
		}
	}
	checkPeak(t, "W5 (syslog over TCP → file)", c.Process.Pid, peakRSSBudget)
	c.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(30 * time.Second):
		t.Fatalf("W5 did not stop on SIGTERM\n%s", stderr.Bytes())
	}
}

// checkPeak compares the peak RSS (VmHWM) of a running process with budget.
func checkPeak(t *testing.T, what string, pid int, budget int64) {
	t.Helper()
	peak, err := readHWM(pid)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	checkBudget(t, what, peak, budget)
}

// readHWM returns the peak RSS (VmHWM) of a running process, in bytes; an
// error once it has exited.
func readHWM(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range bytes.Lines(b) {
		if v, ok := bytes.CutPrefix(line, []byte("VmHWM:")); ok {
			var kib int64
			if _, err := fmt.Sscan(string(v), &kib); err != nil {
				return 0, fmt.Errorf("VmHWM: %q: %v", v, err)
			}
			return kib << 10, nil
		}
	}
	return 0, fmt.Errorf("no VmHWM in /proc/%d/status (exited)", pid)
}

func checkBudget(t *testing.T, what string, peak, budget int64) {
	t.Helper()
	if peak == 0 {
		t.Fatalf("%s: no peak RSS read", what)
	}
	t.Logf("%s: peak RSS %.1f MiB (budget %d MiB)", what, float64(peak)/(1<<20), budget>>20)
	if peak > budget {
		t.Errorf("%s: peak RSS %.1f MiB, over the %d MiB budget", what, float64(peak)/(1<<20), budget>>20)
	}
}

// writeSyslogLines writes n RFC 3164 lines like the benchmark's.
func writeSyslogLines(t *testing.T, path string, n int) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	for i := range n {
		fmt.Fprintf(w, "<%d>Dec  %d %02d:%02d:%02d host-%02d sshd[%d]: Accepted publickey for user%d from 10.%d.%d.%d port %d ssh2\n",
			i%192, 1+i%28, i%24, i%60, (i/60)%60, i%50, 1000+i%60000, i%97, i%256, (i/256)%256, i%200, 1024+i%60000)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}
