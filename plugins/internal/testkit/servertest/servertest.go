// Package servertest is the one lifecycle for the real programs that tests
// run as child processes: servers (redis-server, ZincSearch, …) and clients
// (Filebeat, rsyslogd, …).
//
//   - Require finds the binary; without it the test is skipped, except under
//     CI (the environment variable CI is "true"), where that is a failure:
//     .ci/run installs every program the tests use.
//   - StartProcess runs a command with its output kept (bounded); Stop sends a
//     signal, then SIGKILL after a grace period, and waits. The child dies
//     with the test binary (Linux), so a timed-out test leaves nothing behind.
//   - Start runs a server on a free loopback port, waits until it answers,
//     stops it when the test ends and prints its output when the test failed.
//     Restart starts it again on the same port.
//
// Packages for one server (redistest, zinctest) add the server's command
// line, its readiness probe and its client helpers on top.
package servertest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Find returns the program named by the environment variable env when that is
// set (or "" when it names nothing runnable), else the first of candidates
// that is runnable: a path is checked as it is, a bare name is looked up in
// PATH. It returns "" when there is none.
func Find(env string, candidates ...string) string {
	if env != "" {
		if p := os.Getenv(env); p != "" {
			if runnable(p) {
				return p
			}
			return ""
		}
	}
	for _, c := range candidates {
		if !strings.ContainsRune(c, filepath.Separator) {
			if p, err := exec.LookPath(c); err == nil {
				return p
			}
			continue
		}
		if runnable(c) {
			return c
		}
	}
	return ""
}

func runnable(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir() && st.Mode()&0o111 != 0
}

// Require is Find for t: without the program, t is skipped, or failed under
// CI; a variable env that names nothing runnable fails t (someone asked for
// that binary). name is the program's name in messages.
func Require(t testing.TB, name, env string, candidates ...string) string {
	t.Helper()
	if p := Find(env, candidates...); p != "" {
		return p
	}
	if env != "" && os.Getenv(env) != "" {
		t.Fatalf("%s=%s: not a runnable file", env, os.Getenv(env))
	}
	hint := ""
	if env != "" {
		hint = " (set " + env + "; .ci/run installs it)"
	}
	Missing(t, "%s not found%s", name, hint)
	return ""
}

// Missing skips t because something a test needs is absent, or fails it when
// CI is "true": CI must run every test.
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("under CI: "+format, args...)
	}
	t.Skipf(format, args...)
}

// CICache returns path below the directory where .ci/run keeps the programs
// it builds: ${XDG_CACHE_HOME:-$HOME/.cache}/pipeline-ci.
func CICache(path string) string {
	cache := os.Getenv("XDG_CACHE_HOME")
	if cache == "" {
		h, err := os.UserHomeDir()
		if err != nil {
			return ""
		}
		cache = filepath.Join(h, ".cache")
	}
	return filepath.Join(cache, "pipeline-ci", path)
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Dials reports whether a TCP connection to addr succeeds: the simplest
// readiness probe.
func Dials(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// Poll calls ready every 20 ms until it returns true (Poll returns true) or
// timeout passes (false).
func Poll(ready func() bool, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for !ready() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}

// Output keeps the first Limit bytes written to it (all of them when Limit is
// 0), safe for concurrent use: a process's log, bounded so that a chatty
// server cannot fill the test's memory.
type Output struct {
	Limit int

	mu sync.Mutex
	b  strings.Builder
}

func (o *Output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.Limit <= 0 {
		o.b.Write(p)
	} else if room := o.Limit - o.b.Len(); room > 0 {
		o.b.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

func (o *Output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.String()
}

// Tail returns the last n bytes of s, marked as cut when it is longer: enough
// of a log to see why a test failed.
func Tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

// Process is a running child process.
type Process struct {
	cmd    *exec.Cmd
	out    *Output
	exited chan struct{}
	err    error // cmd.Wait's, set before exited is closed
	stop   sync.Once
}

// StartProcess starts cmd with its standard output and error kept in one
// Output of at most limit bytes (0: all), unless the caller set them.
func StartProcess(cmd *exec.Cmd, limit int) (*Process, error) {
	p := &Process{cmd: cmd, out: &Output{Limit: limit}, exited: make(chan struct{})}
	if cmd.Stdout == nil {
		cmd.Stdout = p.out
	}
	if cmd.Stderr == nil {
		cmd.Stderr = p.out
	}
	if cmd.SysProcAttr == nil {
		dieWithParent(cmd)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", cmd.Path, err)
	}
	go func() { p.err = cmd.Wait(); close(p.exited) }()
	return p, nil
}

// Run is StartProcess for t: the process is stopped (SIGTERM, SIGKILL after
// 10 s) when t ends, and its output's end is logged if t failed.
func Run(t testing.TB, name string, cmd *exec.Cmd) *Process {
	t.Helper()
	p, err := StartProcess(cmd, 1<<20)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	t.Cleanup(func() {
		p.Stop(syscall.SIGTERM, 10*time.Second)
		if t.Failed() {
			t.Logf("%s output:\n%s", name, Tail(p.Log(), 6000))
		}
	})
	return p
}

// Cmd is the process's command (its Process field has the pid).
func (p *Process) Cmd() *exec.Cmd { return p.cmd }

// Log returns what the process printed (up to its limit).
func (p *Process) Log() string { return p.out.String() }

// Exited is closed once the process has exited.
func (p *Process) Exited() <-chan struct{} { return p.exited }

// Err is how the process ended (nil: exit status 0), once Exited is closed.
func (p *Process) Err() error {
	<-p.exited
	return p.err
}

// Signal sends sig to the process (nothing if it has exited).
func (p *Process) Signal(sig os.Signal) { _ = p.cmd.Process.Signal(sig) }

// Stop sends sig (after SIGCONT, in case the process is paused), waits up to
// grace for the process to exit, then kills it and waits. Only the first
// call acts; later ones wait for the exit.
func (p *Process) Stop(sig os.Signal, grace time.Duration) {
	p.stop.Do(func() {
		resume(p.cmd.Process)
		_ = p.cmd.Process.Signal(sig)
		select {
		case <-p.exited:
		case <-time.After(grace):
			_ = p.cmd.Process.Kill()
		}
	})
	<-p.exited
}

// WaitReady polls ready every interval until it returns true. When the
// process exits first, or timeout passes (the process is then killed), the
// error carries the process's output.
func (p *Process) WaitReady(ready func() bool, timeout, interval time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		if ready() {
			return nil
		}
		select {
		case <-p.exited:
			return fmt.Errorf("exited: %s", p.Log())
		case <-time.After(interval):
		}
		if time.Now().After(deadline) {
			_ = p.cmd.Process.Kill()
			<-p.exited
			return fmt.Errorf("did not answer within %v: %s", timeout, p.Log())
		}
	}
}

// Config describes a server for Start.
type Config struct {
	// Name names the server in messages ("redis-server").
	Name string
	// Command returns the command that serves on 127.0.0.1:port. It is
	// called again for every start (Restart, a retry on another port).
	Command func(port int) *exec.Cmd
	// Ready reports whether the server at addr ("127.0.0.1:port") answers;
	// nil means Dials.
	Ready func(addr string) bool
	// StartTimeout bounds the wait for Ready (default 10 s); Poll is the
	// interval between probes (default 20 ms).
	StartTimeout, Poll time.Duration
	// StopGrace is how long Stop waits after SIGTERM before SIGKILL
	// (default 5 s).
	StopGrace time.Duration
	// LogLimit bounds the output kept (default 64 KiB).
	LogLimit int
}

// Server is a running server on a loopback port.
type Server struct {
	t    testing.TB
	c    Config
	port int

	mu   sync.Mutex
	proc *Process // nil when stopped
	last *Process // the latest process, for Log after Stop
}

// Start starts the server described by c for t: on a free loopback port
// (another one if the port was taken before the server bound it), waiting
// until Ready. It is stopped when t ends, and its output is logged if t
// failed.
func Start(t testing.TB, c Config) *Server {
	t.Helper()
	if c.Ready == nil {
		c.Ready = Dials
	}
	if c.StartTimeout == 0 {
		c.StartTimeout = 10 * time.Second
	}
	if c.Poll == 0 {
		c.Poll = 20 * time.Millisecond
	}
	if c.StopGrace == 0 {
		c.StopGrace = 5 * time.Second
	}
	if c.LogLimit == 0 {
		c.LogLimit = 64 << 10
	}
	s := &Server{t: t, c: c}
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() {
			if l := s.Log(); l != "" {
				t.Logf("%s output:\n%s", c.Name, Tail(l, 6000))
			}
		}
	})
	var err error
	for range 5 {
		if s.port, err = FreePort(); err != nil {
			t.Fatalf("%s: free port: %v", c.Name, err)
		}
		if err = s.start(); err == nil {
			return s
		}
	}
	t.Fatalf("%s: %v", c.Name, err)
	return nil
}

func (s *Server) start() error {
	p, err := StartProcess(s.c.Command(s.port), s.c.LogLimit)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.last = p
	s.mu.Unlock()
	if err := p.WaitReady(func() bool { return s.c.Ready(s.Addr()) }, s.c.StartTimeout, s.c.Poll); err != nil {
		return fmt.Errorf("%s %w", s.c.Name, err)
	}
	s.mu.Lock()
	s.proc = p
	s.mu.Unlock()
	return nil
}

// Addr is the server's "127.0.0.1:port".
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// Port is the server's port.
func (s *Server) Port() int { return s.port }

// Log returns what the server printed since its latest start.
func (s *Server) Log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.last == nil {
		return ""
	}
	return s.last.Log()
}

// Signal sends sig to the running server (nothing when it is stopped).
func (s *Server) Signal(sig os.Signal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc != nil {
		s.proc.Signal(sig)
	}
}

// Stop stops the server (SIGTERM, then SIGKILL after StopGrace) and waits
// for it. Stopping a stopped server does nothing.
func (s *Server) Stop() {
	s.mu.Lock()
	p := s.proc
	s.proc = nil
	s.mu.Unlock()
	if p != nil {
		p.Stop(syscall.SIGTERM, s.c.StopGrace)
	}
}

// Restart stops the server and starts it again on the same port, retrying
// for StartTimeout while the old port lingers.
func (s *Server) Restart() {
	s.t.Helper()
	s.Stop()
	deadline := time.Now().Add(s.c.StartTimeout)
	for {
		err := s.start()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("%s: restart: %v", s.c.Name, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
