package e2e_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	lumberclient "github.com/elastic/go-lumber/client/v2"

	"github.com/pipelined/pipeline/dsl"
	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/plugins/internal/testkit/redistest"
)

// conservationHelper runs the audit chain in one process until killed:
// beats → persisted queue → redis list, and redis list → file.
func conservationHelper() int {
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	front := fmt.Sprintf(`
input "beats" {
  host = "127.0.0.1"
  port = %s
}
output "redis" {
  host      = "127.0.0.1"
  port      = %s
  data_type = "list"
  key       = "oracle"
}
`, os.Getenv("CONS_BEATS_PORT"), os.Getenv("CONS_REDIS_PORT"))
	back := fmt.Sprintf(`
input "redis" {
  host        = "127.0.0.1"
  port        = %s
  data_type   = "list"
  key         = "oracle"
  consumer_id = "oracle"
}
output "file" {
  path = %q
}
`, os.Getenv("CONS_REDIS_PORT"), os.Getenv("CONS_OUT"))
	var pls []*engine.Pipeline
	for i, src := range []string{front, back} {
		cfg, diags := dsl.LoadSource(fmt.Sprintf("oracle%d.hcl", i), []byte(src))
		if diags.HasErrors() {
			fmt.Fprintln(os.Stderr, diags.Error())
			return 1
		}
		s := engine.Settings{Workers: 1, BatchSize: 50, Logger: log, RetryInitial: 20 * time.Millisecond, RetryMax: 500 * time.Millisecond}
		if i == 0 {
			s.Queue = engine.QueueSettings{Type: "persisted", Path: os.Getenv("CONS_QUEUE")}
		}
		p, diags := engine.Build(cfg.Pipelines[0], engine.Default, s)
		if diags.HasErrors() {
			fmt.Fprintln(os.Stderr, diags.Error())
			return 1
		}
		pls = append(pls, p)
	}
	errs := make(chan error, len(pls))
	for _, p := range pls {
		go func() { errs <- p.Run(context.Background()) }()
	}
	if err := <-errs; err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	return 0
}

// body is what event seq carries, so an altered event is recognised.
func body(seq int) string {
	return fmt.Sprintf("%d:%08x", seq, crc32.ChecksumIEEE([]byte(strconv.Itoa(seq*7919))))
}

// TestConservation is the conservation oracle of issue #19: a beats client
// sends numbered events through beats → persisted queue → redis list → redis
// input → file while the engine is killed with SIGKILL at random moments
// (CONSERVATION_KILLS times, at least 20) and restarted on the same state,
// and redis (appendfsync always) is restarted under load twice. At the end
// every event the client saw acknowledged is in the file, unaltered;
// duplicates are counted and reported. CONSERVATION_KILLS=200 is the long run.
func TestConservation(t *testing.T) {
	if testing.Short() {
		t.Skip("runs engine processes")
	}
	kills := 20
	if v, err := strconv.Atoi(os.Getenv("CONSERVATION_KILLS")); err == nil && v > kills {
		kills = v
	}
	srv := redistest.Start(t, "--appendonly", "yes", "--appendfsync", "always")
	dir := t.TempDir()
	out := filepath.Join(dir, "out.jsonl")
	port := topoFreePort(t)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))

	var engineMu sync.Mutex
	var cmd *exec.Cmd
	var stderr bytes.Buffer
	start := func() {
		c := exec.Command(os.Args[0], "-test.run=^$")
		c.Env = append(os.Environ(), "CONSERVATION_HELPER=1",
			"CONS_BEATS_PORT="+strconv.Itoa(port), "CONS_REDIS_PORT="+strconv.Itoa(srv.Port()),
			"CONS_OUT="+out, "CONS_QUEUE="+filepath.Join(dir, "queue"))
		c.Stderr = &lockedWriter{w: &stderr, mu: &engineMu}
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		engineMu.Lock()
		cmd = c
		engineMu.Unlock()
	}
	kill := func() {
		engineMu.Lock()
		c := cmd
		engineMu.Unlock()
		_ = c.Process.Signal(syscall.SIGKILL)
		_, _ = c.Process.Wait()
	}
	start()
	t.Cleanup(kill)

	// The sender: windows of 50 numbered events; a window is acknowledged
	// only when Send returns it whole, and is sent again (as a beat does)
	// after a failure.
	const per = 50
	var ackedMu sync.Mutex
	acked := 0 // windows acknowledged; events 0 … acked*per-1
	stop := make(chan struct{})
	senderDone := make(chan struct{})
	go func() {
		defer close(senderDone)
		var c *lumberclient.SyncClient
		for w := 0; w < 100000; {
			select {
			case <-stop:
				if c != nil {
					c.Close()
				}
				return
			default:
			}
			if c == nil {
				var err error
				c, err = lumberclient.SyncDial(fmt.Sprintf("127.0.0.1:%d", port), lumberclient.Timeout(5*time.Second))
				if err != nil {
					c = nil
					time.Sleep(20 * time.Millisecond)
					continue
				}
			}
			evs := make([]any, per)
			for j := range evs {
				seq := w*per + j
				evs[j] = map[string]any{"seq": seq, "body": body(seq)}
			}
			if n, err := c.Send(evs); err != nil || n != per {
				c.Close()
				c = nil
				continue
			}
			w++
			ackedMu.Lock()
			acked = w
			ackedMu.Unlock()
		}
	}()

	for i := range kills {
		time.Sleep(time.Duration(150+rng.IntN(500)) * time.Millisecond)
		if i == kills/3 || i == 2*kills/3 {
			srv.Restart() // under load: outputs and inputs reconnect
		}
		kill()
		start()
	}
	time.Sleep(500 * time.Millisecond)
	close(stop)
	<-senderDone
	ackedMu.Lock()
	events := acked * per
	ackedMu.Unlock()
	if events < kills*per {
		t.Fatalf("only %d events acknowledged over %d kills: the chain did not run", events, kills)
	}

	var seen map[int]int
	var altered []string
	deadline := time.Now().Add(120 * time.Second)
	for {
		seen, altered = map[int]int{}, nil
		if f, err := os.Open(out); err == nil {
			r := bufio.NewReader(f)
			for {
				line, err := r.ReadBytes('\n')
				if err != nil {
					break // a last line still being written is not counted
				}
				var doc struct {
					Seq  int
					Body string
				}
				if err := json.Unmarshal(line, &doc); err != nil || doc.Body != body(doc.Seq) {
					altered = append(altered, string(line))
					continue
				}
				seen[doc.Seq]++
			}
			f.Close()
		}
		missing := 0
		for i := range events {
			if seen[i] == 0 {
				missing++
			}
		}
		if missing == 0 {
			break
		}
		if time.Now().After(deadline) {
			engineMu.Lock()
			logs := stderr.String()
			engineMu.Unlock()
			t.Fatalf("%d of %d acknowledged events missing from the output after %d kills\nengine log tail:\n%s", missing, events, kills, tail(logs, 3000))
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(altered) > 0 {
		t.Fatalf("%d altered or unreadable lines, e.g. %.200q", len(altered), altered[0])
	}
	dups := 0
	for _, n := range seen {
		dups += n - 1
	}
	t.Logf("%d kills, 2 redis restarts: %d acknowledged events all delivered unaltered; %d duplicates (%.1f%%)",
		kills, events, dups, 100*float64(dups)/float64(events))
	if dups > events {
		t.Fatalf("%d duplicates for %d events: more than one replay per event", dups, events)
	}
}

type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
