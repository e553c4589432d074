// Package zinctest starts a real ZincSearch server (an Elasticsearch-compatible
// server written in Go) for tests, on a free loopback port, with its data in a
// test temporary directory and its telemetry and error reporting off.
//
// The binary is $ZINCSEARCH_BIN, or the one .ci/run builds into
// ${XDG_CACHE_HOME:-$HOME/.cache}/pipeline-ci/zincsearch-v0.4.10/zincsearch
// (see /work/shared/notes/build-zincsearch.sh for the recipe). Without it the
// test is skipped, except under CI (the environment variable CI is "true"),
// where that is a failure. The lifecycle (Stop, Restart on the same port and
// data, output logged when the test failed) is servertest's.
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
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pipelined/pipeline/plugins/internal/testkit/servertest"
)

// Credentials of the first admin user, created at the first start.
const (
	User     = "admin"
	Password = "Complexpass#123"
)

// Version is the ZincSearch version CI builds.
const Version = "v0.4.10"

// Server is a running ZincSearch.
type Server struct {
	*servertest.Server
}

// Option configures a server started by Start.
type Option func(*options)

type options struct {
	env []string // extra environment
}

// ESVersion makes the server announce Elasticsearch version v on GET / (by
// default it announces its own, "0.4.10"), for clients whose behaviour
// depends on the version, such as the elasticsearch output's template API
// and data stream check.
func ESVersion(v string) Option {
	return func(o *options) { o.env = append(o.env, "ZINC_PLUGIN_ES_VERSION="+v) }
}

// Start starts a ZincSearch for t and stops it when t ends.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	bin := servertest.Require(t, "zincsearch", "ZINCSEARCH_BIN",
		servertest.CICache(filepath.Join("zincsearch-"+Version, "zincsearch")), "zincsearch")
	dir := t.TempDir()
	return &Server{servertest.Start(t, servertest.Config{
		Name: "zincsearch",
		Command: func(port int) *exec.Cmd {
			cmd := exec.Command(bin)
			cmd.Dir = dir // it reads a .env file from its working directory
			cmd.Env = append(os.Environ(),
				"ZINC_FIRST_ADMIN_USER="+User,
				"ZINC_FIRST_ADMIN_PASSWORD="+Password,
				"ZINC_DATA_PATH="+filepath.Join(dir, "data"),
				"ZINC_SERVER_ADDRESS=127.0.0.1",
				"ZINC_SERVER_PORT="+strconv.Itoa(port),
				"ZINC_TELEMETRY=false",
				"ZINC_SENTRY=false",
				"ZINC_PROFILER=false",
				"ZINC_PROMETHEUS_ENABLE=false",
				"ZINC_SWAGGER_ENABLE=false",
				"GIN_MODE=release",
			)
			cmd.Env = append(cmd.Env, o.env...)
			return cmd
		},
		Ready:        func(addr string) bool { return healthy("http://" + addr + "/es") },
		StartTimeout: 30 * time.Second,
		Poll:         50 * time.Millisecond,
		StopGrace:    10 * time.Second,
		LogLimit:     256 << 10,
	})}
}

// URL is the base URL of the Elasticsearch API: "http://127.0.0.1:port/es".
func (s *Server) URL() string { return "http://" + s.Addr() + "/es" }

// healthy reports whether the ES API at url answers GET / with the
// credentials.
func healthy(url string) bool {
	req, _ := http.NewRequest("GET", url+"/", nil)
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

// Pause freezes the server (SIGSTOP): connections are accepted by the kernel
// but nothing is answered. Resume undoes it.
func (s *Server) Pause() { s.Signal(syscall.SIGSTOP) }

// Resume lets a paused server run again (SIGCONT).
func (s *Server) Resume() { s.Signal(syscall.SIGCONT) }

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
