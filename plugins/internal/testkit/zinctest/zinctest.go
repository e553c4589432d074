// Package zinctest starts a real ZincSearch server (an Elasticsearch-compatible
// server written in Go) for tests, on a free loopback port, with its data in a
// test temporary directory and its telemetry and error reporting off.
//
// The binary is $ZINCSEARCH_BIN, or the one .ci/run builds into
// ${XDG_CACHE_HOME:-$HOME/.cache}/pipeline-ci/zincsearch-v0.4.10/zincsearch
// (see /work/shared/notes/build-zincsearch.sh for the recipe). Without it the
// test is skipped, except under CI (the environment variable CI is "true"),
// where that is a failure.
//
// The Elasticsearch API is under the path prefix /es (URL returns it), with
// basic authentication (User, Password). Search is eventually consistent: a
// document is searchable a few seconds after the bulk request that stored it
// returned, so WaitCount polls with a deadline.
package zinctest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
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

// Credentials of the first admin user, created at the first start.
const (
	User     = "admin"
	Password = "Complexpass#123"
)

// Version is the ZincSearch version CI builds.
const Version = "v0.4.10"

// startTimeout bounds how long Start and Restart wait for the server.
const startTimeout = 30 * time.Second

// Server is a running ZincSearch.
type Server struct {
	t    testing.TB
	bin  string
	dir  string
	port int
	env  []string // extra environment (options)

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
	out    *lockedWriter
}

// Binary returns the zincsearch path, or "" when there is none.
func Binary() string {
	if p := os.Getenv("ZINCSEARCH_BIN"); p != "" {
		if _, err := os.Stat(p); err == nil {
			return p
		}
		return ""
	}
	cache := os.Getenv("XDG_CACHE_HOME")
	if cache == "" {
		if h, err := os.UserHomeDir(); err == nil {
			cache = filepath.Join(h, ".cache")
		}
	}
	if cache != "" {
		p := filepath.Join(cache, "pipeline-ci", "zincsearch-"+Version, "zincsearch")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("zincsearch"); err == nil {
		return p
	}
	return ""
}

// Option configures a server started by Start.
type Option func(*Server)

// ESVersion makes the server announce Elasticsearch version v on GET / (by
// default it announces its own, "0.4.10"), for clients whose behaviour
// depends on the version, such as the elasticsearch output's template API
// and data stream check.
func ESVersion(v string) Option {
	return func(s *Server) { s.env = append(s.env, "ZINC_PLUGIN_ES_VERSION="+v) }
}

// Start starts a ZincSearch for t and stops it when t ends.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	bin := Binary()
	if bin == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("zincsearch missing under CI (set ZINCSEARCH_BIN; .ci/run builds it)")
		}
		t.Skip("zincsearch not built (set ZINCSEARCH_BIN; see .ci/run)")
	}
	s := &Server{t: t, bin: bin, dir: t.TempDir()}
	for _, o := range opts {
		o(s)
	}
	t.Cleanup(s.Stop)
	var err error
	for range 5 { // a free port can be taken before the server binds it
		s.port, err = freePort()
		if err != nil {
			t.Fatalf("zinctest: free port: %v", err)
		}
		if err = s.start(); err == nil {
			return s
		}
	}
	t.Fatalf("zinctest: %v", err)
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

// URL is the base URL of the Elasticsearch API: "http://127.0.0.1:port/es".
func (s *Server) URL() string { return "http://" + s.Addr() + "/es" }

// Log returns what the server printed (its first 256 KiB).
func (s *Server) Log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.out == nil {
		return ""
	}
	return s.out.String()
}

func (s *Server) start() error {
	cmd := exec.Command(s.bin)
	cmd.Dir = s.dir // it reads a .env file from its working directory
	cmd.Env = append(os.Environ(),
		"ZINC_FIRST_ADMIN_USER="+User,
		"ZINC_FIRST_ADMIN_PASSWORD="+Password,
		"ZINC_DATA_PATH="+filepath.Join(s.dir, "data"),
		"ZINC_SERVER_ADDRESS=127.0.0.1",
		"ZINC_SERVER_PORT="+strconv.Itoa(s.port),
		"ZINC_TELEMETRY=false",
		"ZINC_SENTRY=false",
		"ZINC_PROFILER=false",
		"ZINC_PROMETHEUS_ENABLE=false",
		"ZINC_SWAGGER_ENABLE=false",
		"GIN_MODE=release",
	)
	cmd.Env = append(cmd.Env, s.env...)
	dieWithParent(cmd)
	w := &lockedWriter{}
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", s.bin, err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	deadline := time.Now().Add(startTimeout)
	for {
		if s.healthy() {
			s.mu.Lock()
			s.cmd, s.exited, s.out = cmd, exited, w
			s.mu.Unlock()
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("zincsearch exited: %s", w.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			<-exited
			return fmt.Errorf("zincsearch did not answer within %v: %s", startTimeout, w.String())
		}
	}
}

// healthy reports whether the ES API answers GET / with the credentials.
func (s *Server) healthy() bool {
	req, _ := http.NewRequest("GET", s.URL()+"/", nil)
	req.SetBasicAuth(User, Password)
	c := &http.Client{Timeout: time.Second}
	res, err := c.Do(req)
	if err != nil {
		return false
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, res.Body)
	return res.StatusCode == http.StatusOK
}

// Stop stops the server gracefully (SIGTERM, then SIGKILL after 10 s) and
// waits for it. Stopping a stopped server does nothing.
func (s *Server) Stop() {
	s.mu.Lock()
	cmd, exited := s.cmd, s.exited
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGCONT) // in case it was paused
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		<-exited
	}
}

// Restart starts the server again on the same port with the same data, after
// Stop.
func (s *Server) Restart() {
	s.t.Helper()
	s.Stop()
	deadline := time.Now().Add(startTimeout)
	for {
		err := s.start()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("zinctest: restart: %v", err)
		}
		time.Sleep(100 * time.Millisecond) // the port may linger briefly
	}
}

// Pause freezes the server (SIGSTOP): connections are accepted by the kernel
// but nothing is answered. Resume undoes it.
func (s *Server) Pause() { s.signal(syscall.SIGSTOP) }

// Resume lets a paused server run again (SIGCONT).
func (s *Server) Resume() { s.signal(syscall.SIGCONT) }

func (s *Server) signal(sig os.Signal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		_ = s.cmd.Process.Signal(sig)
	}
}

// Count returns how many documents a search of index (a name, a pattern such
// as "from-redis-*", or a comma-separated list) finds now.
func (s *Server) Count(index string) (int, error) {
	body := []byte(`{"size":0,"query":{"match_all":{}}}`)
	req, err := http.NewRequest("POST", s.URL()+"/"+index+"/_search", bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.SetBasicAuth(User, Password)
	c := &http.Client{Timeout: 30 * time.Second}
	res, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if res.StatusCode == http.StatusNotFound || res.StatusCode == http.StatusBadRequest && strings.Contains(string(b), "does not exists") {
		return 0, nil // no such index (yet)
	}
	if res.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("search %s: %s: %s", index, res.Status, b)
	}
	var r struct {
		Hits struct {
			Total struct {
				Value int `json:"value"`
			} `json:"total"`
		} `json:"hits"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return 0, fmt.Errorf("search %s: %v: %s", index, err, b)
	}
	return r.Hits.Total.Value, nil
}

// Do sends an authenticated request to the Elasticsearch API (path under
// URL, such as "/_index_template/logs") and returns the status and the body
// of the answer (at most 1 MiB).
func (s *Server) Do(method, path string, body []byte) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, s.URL()+path, rd)
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.SetBasicAuth(User, Password)
	c := &http.Client{Timeout: 30 * time.Second}
	res, err := c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	return res.StatusCode, b, err
}

// WaitCount polls Count until it reaches want or timeout passes, and returns
// the last count. Search is eventually consistent, hence the polling; a count
// above want is returned at once.
func (s *Server) WaitCount(index string, want int, timeout time.Duration) (int, error) {
	deadline := time.Now().Add(timeout)
	for {
		n, err := s.Count(index)
		if err == nil && n >= want || time.Now().After(deadline) {
			return n, err
		}
		time.Sleep(250 * time.Millisecond)
	}
}

type lockedWriter struct {
	mu sync.Mutex
	b  strings.Builder
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.b.Len() < 256<<10 {
		w.b.Write(p)
	}
	return len(p), nil
}

func (w *lockedWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}
