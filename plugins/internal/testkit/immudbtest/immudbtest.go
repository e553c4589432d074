// Package immudbtest starts a real immudb server, built from the pinned Go
// module, inside the test process on a loopback port (so, unlike the servers
// of servertest, it needs no binary and has no process to stop).
package immudbtest

import (
	"crypto/tls"
	"io"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	ilogger "github.com/codenotary/immudb/embedded/logger"
	"github.com/codenotary/immudb/pkg/server"

	"github.com/pipelined/pipeline/plugins/internal/testkit/servertest"
)

// Server is a running immudb server. Its credentials are immudb/immudb.
type Server struct {
	Host string
	Port int
	Dir  string
	srv  *server.ImmuServer
	stop func()
}

// Start starts a server with its data in a temporary directory and stops it
// when the test ends. The server prints its banner on standard output.
func Start(t testing.TB) *Server { t.Helper(); return StartTLS(t, nil) }

// StartTLS is Start with the server's TLS configuration (nil: plain gRPC).
func StartTLS(t testing.TB, cfg *tls.Config) *Server {
	t.Helper()
	return StartDir(t, filepath.Join(t.TempDir(), "immudb"), cfg)
}

// StartDir starts a server on the data of dir, as left by a stopped one.
func StartDir(t testing.TB, dir string, cfg *tls.Config) *Server {
	t.Helper()
	opts := server.DefaultOptions().
		WithDir(dir).
		WithAddress("127.0.0.1").
		WithPort(0).
		WithMetricsServer(false).
		WithWebServer(false).
		WithPgsqlServer(false).
		WithDevMode(true).
		WithTLS(cfg)
	srv := server.DefaultServer().WithOptions(opts).(*server.ImmuServer)
	srv.WithLogger(ilogger.NewSimpleLoggerWithLevel("immudb", io.Discard, ilogger.LogError))
	if err := srv.Initialize(); err != nil {
		t.Fatalf("immudb server: %v", err)
	}
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	done := make(chan error, 1)
	go func() { done <- srv.Start() }()
	// A second ImmuServer.Stop panics, so every caller goes through stop.
	stop := sync.OnceFunc(func() {
		_ = srv.Stop()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Log("immudb server did not stop within 10s")
		}
	})
	t.Cleanup(stop)
	// Start returns only at Stop; wait until the port answers.
	addr := srv.Listener.Addr().String()
	if !servertest.Poll(func() bool { return servertest.Dials(addr) }, 10*time.Second) {
		t.Fatalf("immudb server did not answer on port %d", port)
	}
	return &Server{Host: "127.0.0.1", Port: port, Dir: dir, srv: srv, stop: stop}
}

// Stop stops the server (it is stopped at the end of the test anyway).
func (s *Server) Stop() { s.stop() }
