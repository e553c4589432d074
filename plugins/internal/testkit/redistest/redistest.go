// Package redistest starts a real redis-server for tests, on a free loopback
// port, with persistence off and its files in a test temporary directory.
//
// Without a redis-server binary the test is skipped, except under CI (the
// environment variable CI is "true"), where that is a failure: CI installs
// Debian's redis-server and must run these tests.
package redistest

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// startTimeout bounds how long Start and Restart wait for the server to answer.
const startTimeout = 10 * time.Second

// Server is a running redis-server.
type Server struct {
	t    testing.TB
	bin  string
	dir  string
	port int
	args []string

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{} // closed when cmd has exited
}

// Binary returns the redis-server path, or "" when there is none.
func Binary() string {
	if _, err := os.Stat("/usr/bin/redis-server"); err == nil {
		return "/usr/bin/redis-server"
	}
	if p, err := exec.LookPath("redis-server"); err == nil {
		return p
	}
	return ""
}

// Start starts a redis-server for t and stops it when t ends. extra are more
// server arguments, such as "--requirepass", "secret".
func Start(t testing.TB, extra ...string) *Server {
	t.Helper()
	bin := Binary()
	if bin == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("redis-server missing under CI")
		}
		t.Skip("redis-server not installed")
	}
	s := &Server{t: t, bin: bin, dir: t.TempDir(), args: extra}
	t.Cleanup(s.Stop)
	var err error
	for range 5 { // a free port can be taken before the server binds it
		s.port, err = freePort()
		if err != nil {
			t.Fatalf("redistest: free port: %v", err)
		}
		if err = s.start(); err == nil {
			return s
		}
	}
	t.Fatalf("redistest: %v", err)
	return nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Addr is the server's "host:port".
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// Port is the server's port.
func (s *Server) Port() int { return s.port }

func (s *Server) start() error {
	args := append([]string{
		"--bind", "127.0.0.1", "--port", strconv.Itoa(s.port),
		"--save", "", "--appendonly", "no", "--dir", s.dir,
		"--daemonize", "no", "--protected-mode", "no",
	}, s.args...)
	cmd := exec.Command(s.bin, args...)
	w := &lockedWriter{b: &strings.Builder{}}
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", s.bin, err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	deadline := time.Now().Add(startTimeout)
	for {
		if ping(s.Addr()) {
			s.mu.Lock()
			s.cmd, s.exited = cmd, exited
			s.mu.Unlock()
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("redis-server exited: %s", w.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			<-exited
			return fmt.Errorf("redis-server did not answer PING within %v: %s", startTimeout, w.String())
		}
	}
}

// ping reports whether a server at addr answers PING (without AUTH a server
// with a password answers -NOAUTH, which counts: it is up).
func ping(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return false
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && (strings.HasPrefix(line, "+PONG") || strings.HasPrefix(line, "-NOAUTH"))
}

// Stop stops the server (SIGTERM, then SIGKILL after 5 s) and waits for it.
// Stopping a stopped server does nothing.
func (s *Server) Stop() {
	s.mu.Lock()
	cmd, exited := s.cmd, s.exited
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(os.Interrupt)
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
		_ = cmd.Process.Kill()
		<-exited
	}
}

// Restart starts the server again on the same port after Stop (its data is
// gone: persistence is off).
func (s *Server) Restart() {
	s.t.Helper()
	s.Stop()
	var err error
	deadline := time.Now().Add(startTimeout)
	for {
		if err = s.start(); err == nil {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("redistest: restart: %v", err)
		}
		time.Sleep(100 * time.Millisecond) // the port may linger briefly
	}
}

type lockedWriter struct {
	mu sync.Mutex
	b  *strings.Builder
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.b.Len() < 64<<10 {
		w.b.Write(p)
	}
	return len(p), nil
}

func (w *lockedWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// CPU returns the CPU time the server used so far (used_cpu_sys plus
// used_cpu_user of INFO cpu), for benchmarks to report Redis CPU per event.
func (s *Server) CPU() (time.Duration, error) {
	c, err := net.DialTimeout("tcp", s.Addr(), time.Second)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte("INFO cpu\r\n")); err != nil {
		return 0, err
	}
	r := bufio.NewReader(c)
	head, err := r.ReadString('\n')
	if err != nil {
		return 0, err
	}
	if !strings.HasPrefix(head, "$") {
		return 0, fmt.Errorf("INFO: %q", head)
	}
	n, err := strconv.Atoi(strings.TrimSpace(head[1:]))
	if err != nil {
		return 0, err
	}
	body := make([]byte, n+2)
	if _, err := io.ReadFull(r, body); err != nil {
		return 0, err
	}
	var total float64
	for _, line := range strings.Split(string(body), "\r\n") {
		k, v, ok := strings.Cut(line, ":")
		if ok && (k == "used_cpu_sys" || k == "used_cpu_user") {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return 0, fmt.Errorf("INFO %s: %w", line, err)
			}
			total += f
		}
	}
	return time.Duration(total * float64(time.Second)), nil
}

// TLS is a redis-server that also listens with TLS.
type TLS struct {
	*Server
	// TLSAddr is the TLS listener's "127.0.0.1:port".
	TLSAddr string
}

// StartTLS starts a redis-server with a TLS port next to its plain one (which
// tests and Stop use for PING), with the server certificate certFile/keyFile;
// clients must present a certificate signed by caFile when clientAuth is set.
func StartTLS(t testing.TB, caFile, certFile, keyFile string, clientAuth bool, extra ...string) *TLS {
	t.Helper()
	port, err := freePort()
	if err != nil {
		t.Fatalf("redistest: free port: %v", err)
	}
	auth := "no"
	if clientAuth {
		auth = "yes"
	}
	args := append([]string{"--tls-port", strconv.Itoa(port), "--tls-cert-file", certFile, "--tls-key-file", keyFile,
		"--tls-ca-cert-file", caFile, "--tls-auth-clients", auth}, extra...)
	return &TLS{Server: Start(t, args...), TLSAddr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port))}
}
