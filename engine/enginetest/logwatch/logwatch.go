// Package logwatch follows the log of a pipeline process in tests: it reads
// the process's output line by line and lets the test wait for a line, ask
// where a line came, or print the whole log when it fails.
//
// It lives under engine/enginetest, not plugins/internal/testkit, because
// the tests that watch a pipeline's log are in the root package (the CLI),
// engine/supervisor and plugins/e2e, and only a package outside any internal
// directory can serve all three.
package logwatch

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// Watcher collects the lines of a log.
type Watcher struct {
	mu      sync.Mutex
	lines   []string
	changed chan struct{} // closed and replaced at every new line and at the end
	done    bool          // the reader is exhausted
}

// Watch reads r (a process's stderr pipe, say) in the background until it
// ends. Lines may be up to 1 MiB long.
func Watch(r io.Reader) *Watcher {
	w := &Watcher{changed: make(chan struct{})}
	go func() {
		sc := bufio.NewScanner(r)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			w.mu.Lock()
			w.lines = append(w.lines, sc.Text())
			close(w.changed)
			w.changed = make(chan struct{})
			w.mu.Unlock()
		}
		w.mu.Lock()
		w.done = true
		close(w.changed)
		w.mu.Unlock()
	}()
	return w
}

// Wait waits up to d for a line containing s (one seen already counts) and
// returns it; if none comes, it fails t with the log so far.
func (w *Watcher) Wait(t testing.TB, s string, d time.Duration) string {
	t.Helper()
	timeout := time.After(d)
	seen := 0
	for {
		w.mu.Lock()
		for ; seen < len(w.lines); seen++ {
			if strings.Contains(w.lines[seen], s) {
				line := w.lines[seen]
				w.mu.Unlock()
				return line
			}
		}
		changed, done := w.changed, w.done
		w.mu.Unlock()
		if done {
			t.Fatalf("log line %q not seen before the log ended; log:\n%s", s, w)
		}
		select {
		case <-changed:
		case <-timeout:
			t.Fatalf("log line %q not seen within %v; log:\n%s", s, d, w)
		}
	}
}

// Index returns the position of the first line containing s, or -1.
func (w *Watcher) Index(s string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	for i, l := range w.lines {
		if strings.Contains(l, s) {
			return i
		}
	}
	return -1
}

// Count returns how many lines so far contain s.
func (w *Watcher) Count(s string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, l := range w.lines {
		if strings.Contains(l, s) {
			n++
		}
	}
	return n
}

// Has reports whether a line so far contains s.
func (w *Watcher) Has(s string) bool { return w.Index(s) >= 0 }

// String returns the log so far, one line after another.
func (w *Watcher) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.lines) == 0 {
		return ""
	}
	return strings.Join(w.lines, "\n") + "\n"
}

// Process is a running command whose standard error is watched.
type Process struct {
	*Watcher
	Cmd    *exec.Cmd
	exited chan struct{}
	err    error // cmd.Wait's, set before exited is closed
}

// Start starts cmd with its standard error watched (cmd.Stderr must be
// unset). When t ends the process is killed, if it still runs, and waited
// for.
func Start(t testing.TB, cmd *exec.Cmd) *Process {
	t.Helper()
	// A pipe that Wait does not close early: every line written before the
	// exit reaches the watcher, which then sees the end of the log.
	pr, pw := io.Pipe()
	cmd.Stderr = pw
	p := &Process{Watcher: Watch(pr), Cmd: cmd, exited: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", cmd.Path, err)
	}
	go func() {
		p.err = cmd.Wait()
		pw.Close()
		close(p.exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-p.exited
	})
	return p
}

// Exited is closed once the process has exited.
func (p *Process) Exited() <-chan struct{} { return p.exited }

// Err waits for the process to exit and returns how it ended (nil: exit
// status 0).
func (p *Process) Err() error {
	<-p.exited
	return p.err
}

// Exit sends sig to the process (none when sig is nil, as after closing its
// standard input) and waits up to d for it to exit. It fails t, with the log,
// if the process still runs then, and returns how the process ended.
func (p *Process) Exit(t testing.TB, sig os.Signal, d time.Duration) error {
	t.Helper()
	if sig != nil {
		if err := p.Cmd.Process.Signal(sig); err != nil {
			t.Fatalf("signal %v: %v", sig, err)
		}
	}
	select {
	case <-p.exited:
		return p.err
	case <-time.After(d):
		t.Fatalf("the process did not exit within %v; log:\n%s", d, p)
		return nil
	}
}
