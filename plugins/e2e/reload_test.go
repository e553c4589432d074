package e2e_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/pipelined/pipeline/engine/enginetest/logwatch"
	"github.com/pipelined/pipeline/plugins/internal/testkit/redistest"
)

// TestReloadKeepsEveryEvent is the reload acceptance test: a producer pushes
// numbered events to a Redis list at a steady rate; the pipeline (redis input
// → file output) has its configuration changed twice while they flow, first
// to a good one that tags events, then to a broken one. Every event pushed is
// in the output; the good configuration tags every event pushed after its
// reload; the broken one is reported (log lines with file:line:col, the
// monitoring API's failure count) and changes nothing. With automatic
// reload, with SIGHUP (without it, a changed file is not reloaded), and with
// the persisted queue.
func TestReloadKeepsEveryEvent(t *testing.T) {
	bin := pipelineBinary(t)
	for _, mode := range []string{"automatic", "sighup", "persisted"} {
		t.Run(mode, func(t *testing.T) { testReload(t, bin, mode) })
	}
}

// replaceFile writes content to path atomically, as editors do, so a reload
// check never reads a half-written file.
func replaceFile(t *testing.T, path, content string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

var reloadAPIAddr = regexp.MustCompile(`monitoring API listening" address=(\S+)`)

// testReload runs the acceptance test; mode "persisted" is automatic reload
// with the persisted queue, whose directory the old pipeline must release
// before the new one opens it.
func testReload(t *testing.T, bin, mode string) {
	automatic := mode != "sighup"
	srv := redistest.Start(t)
	rc := goredis.NewClient(&goredis.Options{Addr: srv.Addr(), DialTimeout: 5 * time.Second})
	t.Cleanup(func() { _ = rc.Close() })
	dir := t.TempDir()
	out := filepath.Join(dir, "out.jsonl")
	conf := filepath.Join(dir, "pipeline.conf")
	input := fmt.Sprintf(`input {
  redis { id => "in" host => "127.0.0.1" port => %d key => "events" data_type => "list" consumer_id => "reload-test" batch_count => 20 }
}
`, srv.Port())
	output := fmt.Sprintf("output { file { id => \"out\" path => %q } }\n", out)
	replaceFile(t, conf, input+output)

	args := []string{"run", "-f", conf, "--path.data", filepath.Join(dir, "data"), "--api.http.port", "0", "-b", "20"}
	if automatic {
		args = append(args, "-r", "--config.reload.interval", "100ms")
	}
	if mode == "persisted" {
		args = append(args, "--queue.type", "persisted", "--queue.checkpoint.writes", "1")
	}
	cmd := exec.Command(bin, args...)
	w := logwatch.Start(t, cmd)
	w.Wait(t, "monitoring API listening", 20*time.Second)
	w.Wait(t, "pipeline started", 20*time.Second)
	m := reloadAPIAddr.FindStringSubmatch(w.String())
	if m == nil {
		t.Fatalf("no API address in the log:\n%s", w)
	}
	api := "http://" + m[1]

	// The producer: one event every 2 ms, until stopped.
	var produced atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for i := int64(0); i < 100_000; i++ { // bound: 200 s at this rate
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			if err := rc.RPush(context.Background(), "events", fmt.Sprintf(`{"seq":%d}`, i)).Err(); err != nil {
				t.Errorf("RPUSH: %v", err)
				return
			}
			produced.Store(i + 1)
		}
	}()
	stopProducer := sync.OnceFunc(func() { close(stop); wg.Wait() })
	defer stopProducer()
	waitLines := func(n int64) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for int64(topoCountLines(out)) < n {
			if time.Now().After(deadline) {
				t.Fatalf("output has %d lines; want %d within 30s; log:\n%s", topoCountLines(out), n, w)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	hup := func() {
		if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
	}

	waitLines(200)
	// The good change: every event gets the tag v2.
	replaceFile(t, conf, input+"filter { mutate { id => \"tag\" add_tag => [\"v2\"] } }\n"+output)
	if !automatic {
		time.Sleep(500 * time.Millisecond)
		if w.Has("pipeline reloaded") {
			t.Fatalf("reloaded without SIGHUP or -r; log:\n%s", w)
		}
		hup()
	}
	w.Wait(t, "pipeline reloaded", 20*time.Second)
	afterGood := produced.Load()
	waitLines(afterGood + 200)

	// The broken change: an option mutate does not have, on line 4.
	replaceFile(t, conf, input+"filter {\n  mutate { add_tagz => [\"v3\"] }\n}\n"+output)
	if !automatic {
		hup()
	}
	w.Wait(t, "configuration reload refused", 20*time.Second)
	afterBroken := produced.Load()
	waitLines(afterBroken + 200)
	stopProducer()
	total := produced.Load()
	waitLines(total)

	// The monitoring API counts one success and one failure.
	resp, err := http.Get(api + "/_node/stats/pipelines/main")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var st struct {
		Pipelines map[string]struct {
			Reloads struct {
				Successes, Failures int64
				LastError           struct{ Message string } `json:"last_error"`
			} `json:"reloads"`
			Plugins struct {
				Filters []struct{ ID string } `json:"filters"`
			} `json:"plugins"`
		} `json:"pipelines"`
	}
	if err := json.Unmarshal(body, &st); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	r := st.Pipelines["main"].Reloads
	if r.Successes != 1 || r.Failures != 1 || !strings.Contains(r.LastError.Message, "add_tagz") {
		t.Errorf("reloads = %+v; want 1 success, 1 failure about add_tagz", r)
	}
	if f := st.Pipelines["main"].Plugins.Filters; len(f) != 1 || f[0].ID != "tag" {
		t.Errorf("the API reports filters %+v; want the reloaded pipeline's filter tag", f)
	}

	if err := w.Exit(t, syscall.SIGTERM, 30*time.Second); err != nil {
		t.Fatalf("pipeline exited with %v; log:\n%s", err, w)
	}

	// The broken configuration is reported where it is wrong, as check does.
	if !regexp.MustCompile(`pipeline\.conf:5:\d+: error: .*add_tagz`).MatchString(w.String()) {
		t.Errorf("no file:line:col diagnostic for add_tagz in the log:\n%s", w)
	}

	// Every event is in the output; those pushed after the good reload carry
	// its tag; some before it do not; the broken configuration changed nothing.
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	seen := make([]int, total)
	untagged, dups := 0, 0
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var ev struct {
			Seq  int64    `json:"seq"`
			Tags []string `json:"tags"`
		}
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("%v: %q", err, line)
		}
		if ev.Seq < 0 || ev.Seq >= total {
			t.Fatalf("unexpected seq in %q", line)
		}
		seen[ev.Seq]++
		if seen[ev.Seq] > 1 {
			dups++
		}
		tagged := slices.Contains(ev.Tags, "v2")
		if !tagged {
			untagged++
		}
		if ev.Seq >= afterGood && !tagged {
			t.Errorf("event %d, pushed after the good reload, lacks its tag: %s", ev.Seq, line)
		}
		if slices.Contains(ev.Tags, "v3") {
			t.Errorf("the refused configuration took effect: %s", line)
		}
	}
	lost := 0
	for seq, n := range seen {
		if n == 0 {
			lost++
			if lost <= 5 {
				t.Errorf("event %d lost", seq)
			}
		}
	}
	if lost > 0 {
		t.Errorf("%d of %d events lost", lost, total)
	}
	if untagged == 0 {
		t.Error("every event is tagged: the first configuration never ran")
	}
	t.Logf("%d events, %d duplicates, %d before the good reload (%d untagged)", total, dups, afterGood, untagged)
}
