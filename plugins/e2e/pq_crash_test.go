package e2e_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
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
	fifo := filepath.Join(dir, "out.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	port := topoFreePort(t)
	qdir := filepath.Join(dir, "queue")

	var mu sync.Mutex
	seen := map[int]int{}
	var slow sync.Mutex // held by the test to pause the reader
	read := func() chan struct{} {
		done := make(chan struct{})
		go func() {
			defer close(done)
			f, err := os.Open(fifo) // waits for the engine to open it
			if err != nil {
				t.Error(err)
				return
			}
			defer f.Close()
			// A line cut off by the kill has no newline: it was never
			// complete, so it does not count as delivered.
			r := bufio.NewReader(f)
			for {
				line, err := r.ReadBytes('\n')
				if err != nil {
					if len(line) > 0 {
						t.Logf("torn last line at the kill: %.40q", line)
					}
					return
				}
				slow.Lock()
				slow.Unlock()
				var doc struct{ Seq int }
				if err := json.Unmarshal(line, &doc); err != nil {
					t.Errorf("bad line %q", line)
					return
				}
				mu.Lock()
				seen[doc.Seq]++
				mu.Unlock()
			}
		}()
		return done
	}
	start := func() *servertest.Process {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "PQ_CRASH_HELPER=1", "PQ_PORT="+fmt.Sprint(port), "PQ_OUT="+fifo, "PQ_DIR="+qdir)
		cmd.Stderr = os.Stderr
		p, err := servertest.StartProcess(cmd, 0)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.Stop(syscall.SIGKILL, 0) })
		return p
	}

	slow.Lock() // the output makes no progress: everything acknowledged is on disk only
	reader1 := read()
	p1 := start()
	c := topoDialBeats(t, port, 30*time.Second)
	const per = 200
	acked := 0
	for b := range 50 {
		evs := make([]interface{}, per)
		for j := range evs {
			evs[j] = map[string]interface{}{"seq": b*per + j}
		}
		n, err := c.Send(evs)
		if err != nil || n != per {
			t.Fatalf("batch %d: %d acked, %v", b, n, err)
		}
		acked += n
	}
	c.Close()
	mu.Lock()
	before := len(seen)
	mu.Unlock()
	p1.Stop(syscall.SIGKILL, 0)
	slow.Unlock()
	<-reader1
	mu.Lock()
	atKill := len(seen)
	mu.Unlock()
	t.Logf("killed with %d events acknowledged to the client, %d written before the kill (%d when the reader resumed)", acked, before, atKill)
	if atKill >= acked {
		t.Fatalf("all %d events were written before the kill; the queue was not exercised", acked)
	}

	reader2 := read()
	p2 := start()
	deadline := time.Now().Add(60 * time.Second)
	for {
		mu.Lock()
		missing := 0
		for i := range acked {
			if seen[i] == 0 {
				missing++
			}
		}
		mu.Unlock()
		if missing == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d acknowledged events missing after the restart", missing, acked)
		}
		time.Sleep(50 * time.Millisecond)
	}
	p2.Stop(syscall.SIGTERM, time.Minute)
	<-reader2
	dups := 0
	for _, n := range seen {
		dups += n - 1
	}
	t.Logf("all %d acknowledged events delivered; %d duplicates", acked, dups)
}
