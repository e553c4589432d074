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
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	lumberclient "github.com/elastic/go-lumber/client/v2"
	goredis "github.com/redis/go-redis/v9"

	"github.com/pipelined/pipeline/dsl"
	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/plugins/internal/testkit/redistest"
	"github.com/pipelined/pipeline/plugins/internal/testkit/servertest"
)

// topoRun builds the pipeline file text src and runs it until the returned
// stop function is called (stop cancels, waits up to 20 s, then aborts).
func topoRun(t *testing.T, name, src string, workers int) (stop func() error) {
	t.Helper()
	cfg, diags := dsl.LoadSource(name, []byte(src))
	if diags.HasErrors() {
		t.Fatalf("load:\n%s\n%s", src, diags.Error())
	}
	p, diags := engine.Build(cfg.Pipelines[0], engine.Default, engine.Settings{Workers: workers, Logger: slog.New(slog.DiscardHandler)})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case err = <-done:
			case <-time.After(20 * time.Second):
				p.Abort()
				err = fmt.Errorf("pipeline %s did not stop within 20 s", name)
			}
		})
		return err
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

func topoFreePort(t *testing.T) int {
	t.Helper()
	port, err := servertest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return port
}

func topoRedis(t *testing.T, srv *redistest.Server) *goredis.Client {
	t.Helper()
	rc := goredis.NewClient(&goredis.Options{Addr: srv.Addr(), DialTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second})
	t.Cleanup(func() { _ = rc.Close() })
	return rc
}

func topoLLen(t *testing.T, rc *goredis.Client, key string) int64 {
	t.Helper()
	n, err := rc.LLen(context.Background(), key).Result()
	if err != nil {
		t.Fatalf("LLEN %s: %v", key, err)
	}
	return n
}

// topoDialBeats connects a go-lumber client to the beats input on port once
// it listens (within 20 s); sends time out after timeout.
func topoDialBeats(t *testing.T, port int, timeout time.Duration) *lumberclient.SyncClient {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := lumberclient.SyncDial(fmt.Sprintf("127.0.0.1:%d", port), lumberclient.Timeout(timeout))
		if err == nil {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("dial beats: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// topoWait polls cond every 20 ms until it holds or timeout passes.
func topoWait(t *testing.T, timeout time.Duration, what func() string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", timeout, what())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// topoFill RPUSHes n JSON documents {"id": "e-<i>", "seq": i}, i in
// [0, n), pipelined in chunks of 1000 values per RPUSH.
func topoFill(t *testing.T, rc *goredis.Client, key string, n int) {
	t.Helper()
	ctx := context.Background()
	pipe := rc.Pipeline()
	for i := 0; i < n; i += 1000 {
		vals := make([]any, 0, 1000)
		for j := i; j < i+1000 && j < n; j++ {
			vals = append(vals, fmt.Sprintf(`{"id":"e-%d","seq":%d}`, j, j))
		}
		pipe.RPush(ctx, key, vals...)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	if got := topoLLen(t, rc, key); got != int64(n) {
		t.Fatalf("filled %d; want %d", got, n)
	}
}

// topoCountLines counts the complete lines of a file (0 when missing).
func topoCountLines(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	return strings.Count(string(b), "\n")
}

// topoIDs reads the ids of the json_lines files paths and returns how many
// times each was delivered.
func topoIDs(t *testing.T, paths ...string) map[string]int {
	t.Helper()
	seen := map[string]int{}
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var doc struct {
				ID   string   `json:"id"`
				Tags []string `json:"tags"`
			}
			if err := json.Unmarshal(sc.Bytes(), &doc); err != nil {
				t.Fatalf("%s: line %q: %v", p, sc.Text(), err)
			}
			if doc.ID == "" || len(doc.Tags) != 0 {
				t.Fatalf("%s: unexpected line %q", p, sc.Text())
			}
			seen[doc.ID]++
		}
		f.Close()
		if err := sc.Err(); err != nil {
			t.Fatal(err)
		}
	}
	return seen
}

// topoCheckAll fails unless seen holds every id e-0 … e-(n-1) and nothing
// else; it returns the number of duplicate deliveries.
func topoCheckAll(t *testing.T, seen map[string]int, n int) int {
	t.Helper()
	dups := 0
	for i := 0; i < n; i++ {
		c := seen["e-"+strconv.Itoa(i)]
		if c == 0 {
			t.Fatalf("e-%d never delivered", i)
		}
		dups += c - 1
	}
	if len(seen) != n {
		t.Fatalf("%d distinct ids delivered; want %d", len(seen), n)
	}
	return dups
}

// TestTopologyShipper: a go-lumber client sends 100,000 events to beats →
// two redis outputs, as examples/topology/logstash.hcl; both lists end with
// the same 100,000 JSON documents in send order, with the beats fields and no
// @metadata.
func TestTopologyShipper(t *testing.T) {
	const batches, per = 100, 1000
	const n = batches * per
	srv := redistest.Start(t)
	rc := topoRedis(t, srv)
	port := topoFreePort(t)
	src := fmt.Sprintf(`
input "beats" {
  host = "127.0.0.1"
  port = %d
}

output "redis" {
  host      = "127.0.0.1"
  port      = %d
  password  = ""
  key       = "redis-queue-elastic"
  data_type = "list"
  db        = 0
}

output "redis" {
  host      = "127.0.0.1"
  port      = %d
  password  = ""
  key       = "redis-queue-immudb"
  data_type = "list"
  db        = 0
}
`, port, srv.Port(), srv.Port())
	// One worker: with several, the engine's worker batches (125 events of a
	// beats window) reach the outputs in any order, as in Logstash without
	// pipeline.ordered; send order is kept only with one worker.
	stop := topoRun(t, "logstash.hcl", src, 1)

	c := topoDialBeats(t, port, 30*time.Second)
	defer c.Close()
	for b := 0; b < batches; b++ {
		evs := make([]interface{}, per)
		for j := range evs {
			i := b*per + j
			evs[j] = map[string]interface{}{"message": fmt.Sprintf("m-%d", i), "seq": i}
		}
		acked, err := c.Send(evs)
		if err != nil {
			t.Fatalf("batch %d: %v", b, err)
		}
		if acked != per {
			t.Fatalf("batch %d: %d acked; want %d", b, acked, per)
		}
	}
	keys := []string{"redis-queue-elastic", "redis-queue-immudb"}
	topoWait(t, 60*time.Second, func() string {
		return fmt.Sprintf("lists hold %d and %d; want %d", topoLLen(t, rc, keys[0]), topoLLen(t, rc, keys[1]), n)
	}, func() bool { return topoLLen(t, rc, keys[0]) >= n && topoLLen(t, rc, keys[1]) >= n })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	a := rc.LRange(ctx, keys[0], 0, -1).Val()
	bl := rc.LRange(ctx, keys[1], 0, -1).Val()
	if len(a) != n || len(bl) != n {
		t.Fatalf("lists hold %d and %d; want %d", len(a), len(bl), n)
	}
	for i := range a {
		if a[i] != bl[i] {
			t.Fatalf("element %d differs:\n%s\n%s", i, a[i], bl[i])
		}
		var doc map[string]any
		d := json.NewDecoder(strings.NewReader(a[i]))
		d.UseNumber()
		if err := d.Decode(&doc); err != nil {
			t.Fatalf("element %d %q: %v", i, a[i], err)
		}
		if _, ok := doc["@metadata"]; ok {
			t.Fatalf("element %d has @metadata: %s", i, a[i])
		}
		if doc["message"] != fmt.Sprintf("m-%d", i) || doc["seq"] != json.Number(strconv.Itoa(i)) {
			t.Fatalf("element %d out of order or wrong: %s", i, a[i])
		}
	}
}

// indexerHCL is the indexer pipeline: a redis list → a json_lines file.
func indexerHCL(port int, key, consumer, path string) string {
	return fmt.Sprintf(`
input "redis" {
  host        = "127.0.0.1"
  port        = %d
  password    = ""
  data_type   = "list"
  key         = %q
  consumer_id = %q
  batch_count = 125
  codec "json" {}
}

output "file" {
  path = %q
  codec "json_lines" {}
}
`, port, key, consumer, path)
}

// TestTopologyIndexer: a list of 100,000 JSON documents → redis input → file
// output: each element written exactly once, processing list empty.
func TestTopologyIndexer(t *testing.T) {
	const n = 100000
	srv := redistest.Start(t)
	rc := topoRedis(t, srv)
	topoFill(t, rc, "redis-queue-elastic", n)
	out := filepath.Join(t.TempDir(), "out.jsonl")
	stop := topoRun(t, "logstash1.hcl", indexerHCL(srv.Port(), "redis-queue-elastic", "idx", out), 2)
	pk := "redis-queue-elastic:processing:idx"
	topoWait(t, 60*time.Second, func() string {
		return fmt.Sprintf("%d lines, list %d, processing %d", topoCountLines(out), topoLLen(t, rc, "redis-queue-elastic"), topoLLen(t, rc, pk))
	}, func() bool {
		return topoCountLines(out) >= n && topoLLen(t, rc, "redis-queue-elastic") == 0 && topoLLen(t, rc, pk) == 0
	})
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if dups := topoCheckAll(t, topoIDs(t, out), n); dups != 0 {
		t.Fatalf("%d duplicates without a crash", dups)
	}
	if got := topoCountLines(out); got != n {
		t.Fatalf("%d lines; want %d", got, n)
	}
}

// TestScaleOutTwoConsumers: two pipelines with distinct consumer_id drain
// one list of 50,000 into two files: the union is every element, none twice.
func TestScaleOutTwoConsumers(t *testing.T) {
	const n = 50000
	srv := redistest.Start(t)
	rc := topoRedis(t, srv)
	topoFill(t, rc, "q", n)
	dir := t.TempDir()
	outs := []string{filepath.Join(dir, "a.jsonl"), filepath.Join(dir, "b.jsonl")}
	stops := []func() error{
		topoRun(t, "a.hcl", indexerHCL(srv.Port(), "q", "a", outs[0]), 2),
		topoRun(t, "b.hcl", indexerHCL(srv.Port(), "q", "b", outs[1]), 2),
	}
	topoWait(t, 60*time.Second, func() string {
		return fmt.Sprintf("%d+%d lines, list %d", topoCountLines(outs[0]), topoCountLines(outs[1]), topoLLen(t, rc, "q"))
	}, func() bool {
		return topoCountLines(outs[0])+topoCountLines(outs[1]) >= n && topoLLen(t, rc, "q") == 0 &&
			topoLLen(t, rc, "q:processing:a") == 0 && topoLLen(t, rc, "q:processing:b") == 0
	})
	for _, s := range stops {
		if err := s(); err != nil {
			t.Fatal(err)
		}
	}
	a, b := topoCountLines(outs[0]), topoCountLines(outs[1])
	t.Logf("consumer a wrote %d, b wrote %d", a, b)
	if dups := topoCheckAll(t, topoIDs(t, outs...), n); dups != 0 {
		t.Fatalf("%d elements delivered twice without a crash", dups)
	}
}

// TestIndexerCrashLosesNothing runs the indexer as a separate process, kills
// it with SIGKILL mid-drain and starts it again with the same consumer_id:
// every element is delivered at least once. Duplicates are possible only for
// elements that were in the processing list at the kill (moved, maybe
// written, not yet acknowledged), since the restarted input re-emits exactly
// that list; so the test reads its length right after the kill and asserts
// duplicates ≤ that length (itself bounded by the batches in flight, a few
// times batch_count).
func TestIndexerCrashLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the pipeline binary")
	}
	const n = 50000
	srv := redistest.Start(t)
	rc := topoRedis(t, srv)
	dir := t.TempDir()
	bin := pipelineBinary(t)
	topoFill(t, rc, "q", n)
	out := filepath.Join(dir, "out.jsonl")
	conf := filepath.Join(dir, "indexer.hcl")
	// batch_count 10 and one worker make the drain take long enough to be
	// killed in the middle of it.
	hcl := strings.Replace(indexerHCL(srv.Port(), "q", "crash", out), "batch_count = 125", "batch_count = 10", 1)
	if err := os.WriteFile(conf, []byte(hcl), 0o644); err != nil {
		t.Fatal(err)
	}
	pk := "q:processing:crash"
	startProc := func() *servertest.Process {
		t.Helper()
		p, err := servertest.StartProcess(exec.Command(bin, "run", "-f", conf, "-w", "1"), 64<<10)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.Stop(syscall.SIGKILL, 10*time.Second) })
		return p
	}

	p1 := startProc()
	deadline := time.Now().Add(60 * time.Second)
	// Kill once a tenth is written (the file is polled every millisecond).
	for {
		if topoCountLines(out) >= n/10 { // well into the drain
			break
		}
		select {
		case <-p1.Exited():
			t.Fatalf("indexer exited: %v\n%s", p1.Err(), p1.Log())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no output within 60 s\n%s", p1.Log())
		}
		time.Sleep(time.Millisecond)
	}
	if err := p1.Cmd().Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p1.Exited():
	case <-time.After(10 * time.Second):
		t.Fatal("killed indexer did not exit")
	}
	atKill := topoCountLines(out)
	pending := topoLLen(t, rc, pk)
	t.Logf("killed with %d lines written, %d in the list, %d in the processing list", atKill, topoLLen(t, rc, "q"), pending)
	if atKill >= n {
		t.Fatalf("the indexer wrote all %d lines before the kill; the test proves nothing", atKill)
	}

	p2 := startProc()
	last, stableSince := -1, time.Now()
	topoWait(t, 90*time.Second, func() string {
		return fmt.Sprintf("%d lines, list %d, processing %d\n%s", topoCountLines(out), topoLLen(t, rc, "q"), topoLLen(t, rc, pk), p2.Log())
	}, func() bool {
		select {
		case <-p2.Exited():
			t.Fatalf("restarted indexer exited: %v\n%s", p2.Err(), p2.Log())
		default:
		}
		lines := topoCountLines(out)
		if lines != last {
			last, stableSince = lines, time.Now()
		}
		return topoLLen(t, rc, "q") == 0 && topoLLen(t, rc, pk) == 0 && lines >= n && time.Since(stableSince) > 500*time.Millisecond
	})
	if err := p2.Cmd().Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p2.Exited():
		if err := p2.Err(); err != nil {
			t.Fatalf("indexer after SIGTERM: %v\n%s", err, p2.Log())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("indexer did not stop within 30 s of SIGTERM\n%s", p2.Log())
	}
	dups := topoCheckAll(t, topoIDs(t, out), n)
	t.Logf("%d lines for %d elements: %d duplicates (processing list held %d at the kill)", topoCountLines(out), n, dups, pending)
	if int64(dups) > pending {
		t.Fatalf("%d duplicates; at most %d (the processing list at the kill) possible", dups, pending)
	}
}

// TestTopologyShipperRedisRestart stops redis-server for 5 s while a go-lumber
// client streams into beats → two redis lists: the client's sends block (the
// beats ACK waits for both lists) instead of failing, and once Redis is back
// every event is in both lists (at least once; the count of duplicates is
// logged).
func TestTopologyShipperRedisRestart(t *testing.T) {
	const batches, per = 100, 500
	const n = batches * per
	// The append-only file keeps what Redis acknowledged across the restart.
	srv := redistest.Start(t, "--appendonly", "yes", "--appendfsync", "everysec")
	rc := topoRedis(t, srv)
	port := topoFreePort(t)
	keys := []string{"redis-queue-elastic", "redis-queue-immudb"}
	src := fmt.Sprintf(`
input "beats" {
  host = "127.0.0.1"
  port = %d
}
output "redis" {
  host      = "127.0.0.1:%d"
  key       = %q
  data_type = "list"
  timeout   = 1
}
output "redis" {
  host      = "127.0.0.1:%d"
  key       = %q
  data_type = "list"
  timeout   = 1
}
`, port, srv.Port(), keys[0], srv.Port(), keys[1])
	stop := topoRun(t, "shipper.hcl", src, 1)

	c := topoDialBeats(t, port, 60*time.Second)
	defer c.Close()

	type result struct {
		longest time.Duration
		err     error
	}
	sent := make(chan result, 1)
	var progress atomic.Int64
	go func() {
		var r result
		for b := 0; b < batches; b++ {
			evs := make([]interface{}, per)
			for j := range evs {
				i := b*per + j
				evs[j] = map[string]interface{}{"message": fmt.Sprintf("m-%d", i), "seq": i}
			}
			start := time.Now()
			acked, err := c.Send(evs)
			r.longest = max(r.longest, time.Since(start))
			if err == nil && acked != per {
				err = fmt.Errorf("batch %d: %d acked; want %d", b, acked, per)
			}
			if err != nil {
				r.err = fmt.Errorf("batch %d: %w", b, err)
				break
			}
			progress.Add(1)
			time.Sleep(20 * time.Millisecond) // a steady stream, not one burst
		}
		sent <- r
	}()
	topoWait(t, 30*time.Second, func() string { return fmt.Sprintf("%d batches sent", progress.Load()) },
		func() bool { return progress.Load() >= batches/4 })
	srv.Stop()
	stoppedAt := progress.Load()
	time.Sleep(5 * time.Second)
	during := progress.Load() - stoppedAt
	srv.Restart()
	var r result
	select {
	case r = <-sent:
	case <-time.After(90 * time.Second):
		t.Fatalf("the client did not finish within 90 s of the restart (%d batches acked)", progress.Load())
	}
	if r.err != nil {
		t.Fatalf("the beats client saw an error instead of back-pressure: %v", r.err)
	}
	// A batch or two may be acked as Redis stops; then the ACKs must wait.
	if during > 2 {
		t.Errorf("%d batches acked while Redis was down; want the client held back", during)
	}
	if r.longest < 4*time.Second {
		t.Errorf("longest send took %v; want the client blocked while Redis was down", r.longest)
	}
	rc = topoRedis(t, srv)
	topoWait(t, 30*time.Second, func() string {
		return fmt.Sprintf("lists hold %d and %d; want ≥ %d", topoLLen(t, rc, keys[0]), topoLLen(t, rc, keys[1]), n)
	}, func() bool { return topoLLen(t, rc, keys[0]) >= n && topoLLen(t, rc, keys[1]) >= n })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		seen := map[int]int{}
		for _, s := range rc.LRange(context.Background(), k, 0, -1).Val() {
			var doc struct {
				Seq *int `json:"seq"`
			}
			if err := json.Unmarshal([]byte(s), &doc); err != nil || doc.Seq == nil {
				t.Fatalf("%s: bad element %q: %v", k, s, err)
			}
			seen[*doc.Seq]++
		}
		dups := 0
		for i := 0; i < n; i++ {
			if seen[i] == 0 {
				t.Fatalf("%s: event %d lost", k, i)
			}
			dups += seen[i] - 1
		}
		if len(seen) != n {
			t.Fatalf("%s: %d distinct events; want %d", k, len(seen), n)
		}
		t.Logf("%s: %d events, %d duplicates; longest client send %v", k, n, dups, r.longest.Round(time.Millisecond))
	}
}
