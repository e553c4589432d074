package e2e_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/pipelined/pipeline/dsl"
	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/plugins/internal/testkit/servertest"
)

// pqHelper runs beats → persisted queue → file until killed.
func pqHelper() int {
	src := fmt.Sprintf(`
input "beats" {
  host = "127.0.0.1"
  port = %s
}
output "file" {
  path = %q
}
`, os.Getenv("PQ_PORT"), os.Getenv("PQ_OUT"))
	cfg, diags := dsl.LoadSource("crash.hcl", []byte(src))
	if diags.HasErrors() {
		fmt.Fprintln(os.Stderr, diags.Error())
		return 1
	}
	p, diags := engine.Build(cfg.Pipelines[0], engine.Default, engine.Settings{
		Workers: 1, BatchSize: 50, Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		Queue: engine.QueueSettings{Type: "persisted", Path: os.Getenv("PQ_DIR")},
	})
	if diags.HasErrors() {
		fmt.Fprintln(os.Stderr, diags.Error())
		return 1
	}
	if err := p.Run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	return 0
}

// TestPersistedQueueCrash: a beats client streams into beats → persisted
// queue → a file output that a slow reader drains (a FIFO), so a backlog
// builds up on disk; the engine is killed with SIGKILL, then started again on
// the same queue. Every event whose batch the client saw acknowledged is in
// the output at least once.
func TestPersistedQueueCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("runs engine processes")
	}
	dir := t.TempDir()
	sink := newSeqSink(t, dir)
	port := topoFreePort(t)
	qdir := filepath.Join(dir, "queue")

	start := func() *servertest.Process {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "PQ_CRASH_HELPER=1", "PQ_PORT="+fmt.Sprint(port), "PQ_OUT="+sink.path, "PQ_DIR="+qdir)
		cmd.Stderr = os.Stderr
		p, err := servertest.StartProcess(cmd, 0)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.Stop(syscall.SIGKILL, 0) })
		return p
	}

	sink.hold() // the output makes no progress: everything acknowledged is on disk only
	reader1 := sink.read()
	p1 := start()
	acked := sendSeqs(t, port, 50, 200, nil)
	before := sink.distinct()
	p1.Stop(syscall.SIGKILL, 0)
	sink.release()
	<-reader1
	atKill := sink.distinct()
	t.Logf("killed with %d events acknowledged to the client, %d written before the kill (%d when the reader resumed)", acked, before, atKill)
	if atKill >= acked {
		t.Fatalf("all %d events were written before the kill; the queue was not exercised", acked)
	}

	reader2 := sink.read()
	p2 := start()
	sink.waitAll(acked, 60*time.Second)
	p2.Stop(syscall.SIGTERM, time.Minute)
	<-reader2
	t.Logf("all %d acknowledged events delivered; %d duplicates", acked, sink.duplicates())
}
