// Package redistest starts a real redis-server for tests, on a free loopback
// port, with persistence off and its files in a test temporary directory
// (the lifecycle is servertest's: stop at the end of the test, output logged
// when it failed, Restart on the same port; Stop, Restart, Addr and Port come
// from there).
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
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pipelined/pipeline/plugins/internal/testkit/servertest"
)

// Server is a running redis-server.
type Server struct {
	*servertest.Server
}

// Start starts a redis-server for t and stops it when t ends. extra are more
// server arguments, such as "--requirepass", "secret".
func Start(t testing.TB, extra ...string) *Server {
	t.Helper()
	bin := servertest.Require(t, "redis-server", "", "/usr/bin/redis-server", "redis-server")
	dir := t.TempDir()
	return &Server{servertest.Start(t, servertest.Config{
		Name: "redis-server",
		Command: func(port int) *exec.Cmd {
			return exec.Command(bin, append([]string{
				"--bind", "127.0.0.1", "--port", strconv.Itoa(port),
				"--save", "", "--appendonly", "no", "--dir", dir,
				"--daemonize", "no", "--protected-mode", "no",
			}, extra...)...)
		},
		Ready: ping,
	})}
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
	port, err := servertest.FreePort()
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
