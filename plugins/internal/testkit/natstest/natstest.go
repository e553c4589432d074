// Package natstest runs real NATS servers with JetStream for tests, from
// the pinned github.com/nats-io/nats-server/v2 module (nothing to install):
// Start runs one inside the test process; NewCluster runs a JetStream
// cluster of child processes on loopback, which a test may SIGKILL. The
// children are the test binary itself, re-executed: a package that uses
// NewCluster calls Main from its TestMain.
package natstest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pipelined/pipeline/plugins/internal/testkit/servertest"
)

// childEnv carries a child server's configuration (JSON of nodeConfig).
const childEnv = "PIPELINE_NATSTEST_NODE"

type nodeConfig struct {
	Name        string
	Port        int
	ClusterPort int
	Routes      []string
	StoreDir    string
	Cluster     string
}

// Main runs the test binary as a NATS server when it was started as a
// cluster node, and otherwise runs the tests.
func Main(m *testing.M) int {
	if cfg := os.Getenv(childEnv); cfg != "" {
		runNode(cfg)
		return 0
	}
	return m.Run()
}

// ServeNode runs this process as the cluster node its environment
// describes and exits; a program started by NewClusterWith (natsnode) calls
// it from main.
func ServeNode() {
	cfg := os.Getenv(childEnv)
	if cfg == "" {
		fmt.Fprintln(os.Stderr, "natstest node: "+childEnv+" not set")
		os.Exit(2)
	}
	runNode(cfg)
}

func runNode(cfg string) {
	var c nodeConfig
	if err := json.Unmarshal([]byte(cfg), &c); err != nil {
		fmt.Fprintln(os.Stderr, "natstest node:", err)
		os.Exit(2)
	}
	opts := &server.Options{
		ServerName: c.Name,
		Host:       "127.0.0.1",
		Port:       c.Port,
		JetStream:  true,
		StoreDir:   c.StoreDir,
		NoSigs:     false,
		Cluster: server.ClusterOpts{
			Name: c.Cluster,
			Host: "127.0.0.1",
			Port: c.ClusterPort,
		},
	}
	for _, r := range c.Routes {
		u, _ := url.Parse(r)
		opts.Routes = append(opts.Routes, u)
	}
	s, err := server.NewServer(opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, "natstest node:", err)
		os.Exit(2)
	}
	s.ConfigureLogger()
	s.Start()
	s.WaitForShutdown()
	os.Exit(0)
}

// Server is an in-process NATS server with JetStream.
type Server struct {
	*server.Server
}

// URL is the server's client URL.
func (s *Server) URL() string { return s.ClientURL() }

// Options are the server's options, for StartWith.
type Options = server.Options

// Start runs a NATS server with JetStream on a free loopback port, inside
// the test process, until t ends.
func Start(t testing.TB) *Server {
	t.Helper()
	return StartWith(t, nil)
}

// StartWith is Start with options changed by edit (authentication, say).
func StartWith(t testing.TB, edit func(*Options)) *Server {
	t.Helper()
	opts := &server.Options{
		Host:      "127.0.0.1",
		Port:      server.RANDOM_PORT,
		JetStream: true,
		StoreDir:  t.TempDir(),
		NoSigs:    true,
		NoLog:     true,
	}
	if edit != nil {
		edit(opts)
	}
	s, err := server.NewServer(opts)
	if err != nil {
		t.Fatalf("nats server: %v", err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		s.Shutdown()
		t.Fatal("nats server not ready within 10 s")
	}
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	return &Server{s}
}

// Node is one server of a Cluster.
type Node struct {
	Name string
	URL  string
	proc *servertest.Process
}

// Kill sends SIGKILL to the node and waits until it exited.
func (n *Node) Kill() { n.proc.Stop(syscall.SIGKILL, time.Second) }

// Cluster is a JetStream cluster of child processes.
type Cluster struct {
	Nodes []*Node
}

// URLs are the nodes' client URLs.
func (c *Cluster) URLs() []string {
	var out []string
	for _, n := range c.Nodes {
		out = append(out, n.URL)
	}
	return out
}

// NewCluster starts n JetStream servers (child processes of the test
// binary, which must call Main from TestMain) clustered on loopback, and
// waits until the cluster has a JetStream meta leader.
func NewCluster(t testing.TB, n int) *Cluster {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return NewClusterWith(t, n, exe, "-test.run=^$")
}

// NewClusterWith is NewCluster with the nodes run by the program exe (with
// args), one that calls ServeNode or Main: natsnode built without -race, say,
// so that a test under -race has nodes as fast as real servers.
func NewClusterWith(t testing.TB, n int, exe string, args ...string) *Cluster {
	t.Helper()
	var err error
	ports := make([]int, 2*n)
	for i := range ports {
		if ports[i], err = servertest.FreePort(); err != nil {
			t.Fatal(err)
		}
	}
	var routes []string
	for i := range n {
		routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", ports[n+i]))
	}
	c := &Cluster{}
	for i := range n {
		cfg, _ := json.Marshal(nodeConfig{Name: fmt.Sprintf("n%d", i+1), Port: ports[i], ClusterPort: ports[n+i],
			Routes: routes, StoreDir: t.TempDir(), Cluster: "pipeline-test"})
		cmd := exec.Command(exe, args...)
		cmd.Env = append(os.Environ(), childEnv+"="+string(cfg))
		p, err := servertest.StartProcess(cmd, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		node := &Node{Name: fmt.Sprintf("n%d", i+1), URL: fmt.Sprintf("nats://127.0.0.1:%d", ports[i]), proc: p}
		c.Nodes = append(c.Nodes, node)
		t.Cleanup(func() {
			p.Stop(syscall.SIGTERM, 5*time.Second)
			if t.Failed() {
				t.Logf("nats node %s output:\n%s", node.Name, servertest.Tail(p.Log(), 3000))
			}
		})
	}
	// Ready: a replicated stream can be created (a meta leader exists and
	// every peer is known).
	nc, err := nats.Connect(strings.Join(c.URLs(), ","), nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond), nats.RetryOnFailedConnect(true))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "natstest_ready", Subjects: []string{"natstest.ready"}, Replicas: n, Storage: jetstream.MemoryStorage})
		cancel()
		if err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_ = js.DeleteStream(ctx, "natstest_ready")
			cancel()
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("JetStream cluster not ready within 30 s: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
