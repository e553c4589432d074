package e2e_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/pipelined/pipeline/plugins/internal/testkit/natstest"
	"github.com/pipelined/pipeline/plugins/internal/testkit/rabbitmqtest"
)

// TestMain lets TestPersistedQueueCrash run this test binary as the engine
// process it kills (PQ_CRASH_HELPER set), and removes the pipeline binary
// that the tests built and stops the RabbitMQ broker they started.
func TestMain(m *testing.M) {
	if os.Getenv("PQ_CRASH_HELPER") == "1" {
		os.Exit(pqHelper())
	}
	if os.Getenv("CONSERVATION_HELPER") == "1" {
		os.Exit(conservationHelper())
	}
	code := rabbitmqtest.Main(m) // runs the tests, then stops the shared broker
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	if natsNodeDir != "" {
		os.RemoveAll(natsNodeDir)
	}
	os.Exit(code)
}

var binDir string

// builtBinary builds the pipeline command once for every test that runs it
// as a process (reload, crash, pipeline-to-pipeline).
var builtBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "e2e-bin-")
	if err != nil {
		return "", err
	}
	binDir = dir
	bin := filepath.Join(dir, "pipeline")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/pipelined/pipeline").CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

// pipelineBinary returns the built pipeline command; with -short the test
// is skipped instead (building takes a while).
func pipelineBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the pipeline binary")
	}
	bin, err := builtBinary()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

var natsNodeDir string

// builtNatsNode builds natstest's natsnode command once, without -race, for
// the JetStream clusters of the scale-out tests: nodes that are the test
// binary itself run several times slower under -race than real servers.
var builtNatsNode = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "e2e-natsnode-")
	if err != nil {
		return "", err
	}
	natsNodeDir = dir
	bin := filepath.Join(dir, "natsnode")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/pipelined/pipeline/plugins/internal/testkit/natstest/natsnode").CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build natsnode: %v\n%s", err, out)
	}
	return bin, nil
})

// natsCluster starts a JetStream cluster of n natsnode processes.
func natsCluster(t testing.TB, n int) *natstest.Cluster {
	t.Helper()
	bin, err := builtNatsNode()
	if err != nil {
		t.Fatal(err)
	}
	return natstest.NewClusterWith(t, n, bin)
}
