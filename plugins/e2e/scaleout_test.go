package e2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	lumberclient "github.com/elastic/go-lumber/client/v2"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	goredis "github.com/redis/go-redis/v9"

	"github.com/pipelined/pipeline/plugins/internal/testkit/redistest"
	"github.com/pipelined/pipeline/plugins/internal/testkit/servertest"
)

// The scale-out tests run the shapes of docs/scaling.md with every engine a
// separate `pipeline run` process of the built binary: shippers publishing to
// a distributed broker (a 3-node JetStream cluster, a Redis Cluster of 3
// masters and 3 replicas), indexers draining it into files, one broker node
// and one indexer killed with SIGKILL mid-run.

// scaleLogLine is the message every generated event carries: a log line the
// indexers' grok → date → mutate chain parses (CPU-bound, as real indexing).
const scaleLogLine = "2026-12-07T21:30:00.123Z web-01 sshd[4242]: Accepted publickey for deploy from 10.1.2.3 port 51234 ssh2"

// scaleFilters is the indexers' filter chain.
const scaleFilters = `
filter "grok" {
  match = { message = ["%%{TIMESTAMP_ISO8601:ts} %%{HOSTNAME:logsource} %%{PROG:prog}(?:\\[%%{POSINT:pid}\\])?: %%{GREEDYDATA:text}"] }
}
filter "date" {
  match = ["ts", "ISO8601"]
}
filter "mutate" {
  lowercase    = ["prog"]
  convert      = { pid = "integer" }
  remove_field = ["ts"]
  add_tag      = ["indexed"]
}
`

// scaleEnvInt reads a positive count from the environment variable name,
// or returns def.
func scaleEnvInt(t testing.TB, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		t.Fatalf("%s=%q: want a positive integer", name, v)
	}
	return n
}

// engineProc is one `pipeline run` process of a scale-out test.
type engineProc struct {
	name string
	p    *servertest.Process
}

// startEngine writes src to dir/name.hcl and runs it with the built binary
// (one worker, batches of batch events, no monitoring API, its own data
// directory) until t ends; the process is killed then if it still runs.
func startEngine(t testing.TB, bin, dir, name, src string, batch int) *engineProc {
	t.Helper()
	conf := filepath.Join(dir, name+".hcl")
	if err := os.WriteFile(conf, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "run", "-f", conf, "-w", "1", "-b", strconv.Itoa(batch), "-u", "5",
		"--api.enabled=false", "--log.status_interval", "0", "--path.data", filepath.Join(dir, name+"-data"))
	cmd.Dir = dir
	p, err := servertest.StartProcess(cmd, 256<<10)
	if err != nil {
		t.Fatal(err)
	}
	e := &engineProc{name: name, p: p}
	t.Cleanup(func() {
		p.Stop(syscall.SIGKILL, 10*time.Second)
		if t.Failed() {
			t.Logf("engine %s log:\n%s", name, servertest.Tail(p.Log(), 3000))
		}
	})
	return e
}

// exited reports whether the process ended, and fails t if it ended badly.
func (e *engineProc) exited(t testing.TB) bool {
	select {
	case <-e.p.Exited():
		if err := e.p.Err(); err != nil {
			t.Fatalf("engine %s exited: %v\n%s", e.name, err, servertest.Tail(e.p.Log(), 3000))
		}
		return true
	default:
		return false
	}
}

// kill sends SIGKILL and waits until the process is gone.
func (e *engineProc) kill(t testing.TB) {
	t.Helper()
	e.p.Signal(syscall.SIGKILL)
	select {
	case <-e.p.Exited():
	case <-time.After(10 * time.Second):
		t.Fatalf("engine %s still runs 10 s after SIGKILL", e.name)
	}
}

// term sends SIGTERM and fails t unless the process exits 0 within 30 s.
func (e *engineProc) term(t testing.TB) {
	t.Helper()
	e.p.Signal(syscall.SIGTERM)
	select {
	case <-e.p.Exited():
		if err := e.p.Err(); err != nil {
			t.Errorf("engine %s after SIGTERM: %v\n%s", e.name, err, servertest.Tail(e.p.Log(), 3000))
		}
	case <-time.After(30 * time.Second):
		t.Errorf("engine %s did not stop within 30 s of SIGTERM", e.name)
	}
}

// idSink reads the files the indexers write, one id a line, as they grow,
// and counts how often each id came. A line without its newline (cut off by
// a SIGKILL) is not counted.
type idSink struct {
	mu    sync.Mutex
	files map[string]*idFile
	seen  map[string]int
	total int
}

type idFile struct {
	off   int64
	lines int
	tail  []byte // the incomplete last line so far
}

func newIDSink() *idSink { return &idSink{files: map[string]*idFile{}, seen: map[string]int{}} }

// add makes path one of the files read.
func (s *idSink) add(path string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.files[path] = &idFile{}
}

// poll reads what the files gained since the last poll (at most 64 MiB per
// file per poll).
func (s *idSink) poll(t testing.TB) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for path, f := range s.files {
		fh, err := os.Open(path)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(io.LimitReader(io.NewSectionReader(fh, f.off, 1<<62), 64<<20))
		fh.Close()
		if err != nil {
			t.Fatal(err)
		}
		f.off += int64(len(b))
		b = append(f.tail, b...)
		for {
			i := bytes.IndexByte(b, '\n')
			if i < 0 {
				break
			}
			s.seen[string(b[:i])]++
			s.total++
			f.lines++
			b = b[i+1:]
		}
		f.tail = append([]byte(nil), b...)
	}
}

// counts polls and returns the distinct ids and the lines read.
func (s *idSink) counts(t testing.TB) (distinct, total int) {
	s.poll(t)
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.seen), s.total
}

// waitFor polls the sink every 50 ms until cond holds, failing t after
// timeout; alive is called on every round to check the engines.
func (s *idSink) waitFor(t testing.TB, timeout time.Duration, what string, alive func(), cond func(distinct, total int) bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		d, n := s.counts(t)
		if cond(d, n) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %d distinct ids, %d lines: %s", timeout, d, n, what)
		}
		if alive != nil {
			alive()
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// perFile returns the lines read from each file, in the order of paths.
func (s *idSink) perFile(paths ...string) []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []int
	for _, p := range paths {
		if f := s.files[p]; f != nil {
			out = append(out, f.lines)
		} else {
			out = append(out, 0)
		}
	}
	return out
}

// missing returns how many of the lines prefix0suffix …
// prefix(n-1)suffix never came, and the first of them.
func (s *idSink) missing(prefix, suffix string, n int) (count int, first string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range n {
		id := prefix + strconv.Itoa(i) + suffix
		if s.seen[id] == 0 {
			if count == 0 {
				first = id
			}
			count++
		}
	}
	return count, first
}

// natsServers is the servers list of the nats plugins in HCL.
func natsServers(urls []string) string { return `["` + strings.Join(urls, `", "`) + `"]` }

// jsShipperHCL is a shipper engine: count generated log lines, each with a
// unique [uid] (shipper name and sequence, also its Nats-Msg-Id), published
// to the replicated stream LOGS.
func jsShipperHCL(servers, name string, count int) string {
	return strings.NewReplacer("SERVERS", servers, "NAME", name, "COUNT", strconv.Itoa(count), "LINE", scaleLogLine).Replace(`
input "generator" {
  message   = "LINE"
  count     = COUNT
  add_field = { shipper = "NAME" }
}
filter "mutate" {
  add_field = { uid = "%%{shipper}-%%{[event][sequence]}" }
}
output "nats" {
  servers        = SERVERS
  subject        = "logs.%%{shipper}"
  msg_id         = "%%{uid}"
  stream         = "LOGS"
  subjects       = ["logs.>"]
  replicas       = 3
  ack_timeout    = "2s"
  reconnect_wait = "200ms"
}
`)
}

// jsIndexerHCL is an indexer engine: the durable consumer "indexers" of
// stream → grok, date, mutate → the [uid] of each event, one a line, to
// path, with the program name grok parsed ("<uid> sshd").
func jsIndexerHCL(servers, stream string, maxAckPending int, path string) string {
	return jsIndexerDurableHCL(servers, stream, "indexers", maxAckPending, path)
}

// jsIndexerDurableHCL is jsIndexerHCL with the durable consumer named.
func jsIndexerDurableHCL(servers, stream, durable string, maxAckPending int, path string) string {
	return strings.NewReplacer("SERVERS", servers, "STREAM", stream, "DURABLE", durable, "MAXACK", strconv.Itoa(maxAckPending), "PATH", path).Replace(`
input "nats" {
  servers         = SERVERS
  stream          = "STREAM"
  durable         = "DURABLE"
  max_ack_pending = MAXACK
  ack_wait        = "2s"
  nak_delay       = "100ms"
  fetch_max_wait  = "200ms"
  reconnect_wait  = "200ms"
}
` + scaleFilters + `
output "file" {
  path = "PATH"
  codec "line" {
    format = "%%{uid} %%{prog}"
  }
}
`)
}

// jsEvents is the default event count of TestScaleOutJetStream;
// SCALE_JS_EVENTS changes it.
const jsEvents = 300_000

// jsMaxAckPending is the indexers' max_ack_pending in TestScaleOutJetStream.
const jsMaxAckPending = 1000

// TestScaleOutJetStream: a real 3-node JetStream cluster on loopback (three
// nats-server processes from the pinned module, stream replicas 3); 2
// shipper engines (generator → nats output) publish 300,000 events, 3
// indexer engines (nats input, one durable → grok, date, mutate → file)
// drain them, all separate processes of the built binary. A third of the way
// through one server and one indexer are SIGKILLed. Every event must come
// out at least once; the duplicates are counted and must stay within
// max_ack_pending per failure (the messages in flight when the indexer died,
// the acknowledgements lost with the server); the stream holds each event
// exactly once (Nats-Msg-Id dedup of the shippers' retries).
func TestScaleOutJetStream(t *testing.T) {
	bin := pipelineBinary(t)
	n := scaleEnvInt(t, "SCALE_JS_EVENTS", jsEvents)
	perShipper := n / 2
	n = 2 * perShipper
	dir := t.TempDir()
	cl := natsCluster(t, 3)
	servers := natsServers(cl.URLs())
	t0 := time.Now()
	shippers := []*engineProc{
		startEngine(t, bin, dir, "shipper1", jsShipperHCL(servers, "s1", perShipper), 250),
		startEngine(t, bin, dir, "shipper2", jsShipperHCL(servers, "s2", perShipper), 250),
	}
	sink := newIDSink()
	var indexers []*engineProc
	var outs []string
	for i := range 3 {
		out := filepath.Join(dir, fmt.Sprintf("indexer%d.ids", i+1))
		sink.add(out)
		outs = append(outs, out)
		indexers = append(indexers, startEngine(t, bin, dir, fmt.Sprintf("indexer%d", i+1), jsIndexerHCL(servers, "LOGS", jsMaxAckPending, out), 250))
	}
	alive := func(procs ...*engineProc) func() {
		return func() {
			for _, p := range procs {
				if p.exited(t) && !strings.HasPrefix(p.name, "shipper") {
					t.Fatalf("indexer %s exited by itself", p.name)
				}
			}
		}
	}
	sink.waitFor(t, 120*time.Second, "before the failures", alive(append(shippers, indexers...)...),
		func(d, _ int) bool { return d >= n/3 })
	cl.Nodes[1].Kill()
	indexers[0].kill(t)
	atKill, _ := sink.counts(t)
	t.Logf("SIGKILLed server %s and %s with %d events out (%s)", cl.Nodes[1].Name, indexers[0].name, atKill, time.Since(t0).Round(time.Millisecond))
	if atKill >= n {
		t.Fatalf("all %d events were out before the kill; the test proves nothing", n)
	}
	sink.waitFor(t, 180*time.Second, "after the failures", alive(append(shippers, indexers[1:]...)...),
		func(d, _ int) bool { return d >= n })
	elapsed := time.Since(t0)
	for _, s := range shippers {
		select {
		case <-s.p.Exited():
			if err := s.p.Err(); err != nil {
				t.Errorf("%s: %v", s.name, err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("%s still runs after its %d events were delivered", s.name, perShipper)
		}
	}
	// Let redeliveries still due arrive, then stop the indexers cleanly.
	time.Sleep(3 * time.Second)
	for _, ix := range indexers[1:] {
		ix.term(t)
	}
	d, total := sink.counts(t)
	for _, s := range []string{"s1-", "s2-"} {
		// " sshd": the program name grok took from the line, lowercased by
		// mutate; an event the chain did not parse counts as lost.
		if c, first := sink.missing(s, " sshd", perShipper); c > 0 {
			t.Fatalf("%d events of %s lost (first %s)", c, strings.TrimSuffix(s, "-"), first)
		}
	}
	if d != n {
		t.Fatalf("%d distinct ids; want %d", d, n)
	}
	dups := total - n
	t.Logf("%d events delivered at least once in %s (%.0f events/s end to end, 3 servers and 5 engines on %d CPUs): %d lines (per indexer %v), %d duplicates",
		n, elapsed.Round(time.Millisecond), float64(n)/elapsed.Seconds(), runtime.NumCPU(), total, sink.perFile(outs...), dups)
	if limit := 2 * jsMaxAckPending; dups > limit {
		t.Errorf("%d duplicates; want at most %d (max_ack_pending per failure, 2 failures)", dups, limit)
	}
	live := []string{cl.Nodes[0].URL, cl.Nodes[2].URL}
	if got := streamMsgs(t, live, "LOGS"); got != uint64(n) {
		t.Errorf("the stream holds %d messages; want %d (each event once)", got, n)
	}
}

// streamMsgs returns how many messages stream holds.
func streamMsgs(t testing.TB, urls []string, stream string) uint64 {
	t.Helper()
	nc, err := nats.Connect(strings.Join(urls, ","))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}

// redisShipperHCL is the reference shipper (examples/topology/logstash.hcl:
// beats in, each event queued twice) on a Redis Cluster: the output's host
// lists the seed nodes, cluster = true, and wait_replicas = 1 makes a batch
// count as delivered only once a replica of the master has it.
func redisShipperHCL(seeds string, port int) string {
	out := func(key string) string {
		return strings.NewReplacer("SEEDS", seeds, "KEY", key).Replace(`
output "redis" {
  host          = SEEDS
  cluster       = true
  wait_replicas = 1
  key           = "KEY"
  data_type     = "list"
  timeout       = 2
}
`)
	}
	return fmt.Sprintf("input \"beats\" {\n  port = %d\n}\n", port) + out("redis-queue-elastic") + out("redis-queue-immudb")
}

// redisIndexerHCL is an indexer: the loss-free list mode of the redis input
// on the cluster (its own consumer_id) → the [seq] of each event, one a
// line, to path.
func redisIndexerHCL(seeds, consumer, path string) string {
	return strings.NewReplacer("SEEDS", seeds, "CONSUMER", consumer, "PATH", path).Replace(`
input "redis" {
  cluster_nodes = SEEDS
  key           = "redis-queue-elastic"
  data_type     = "list"
  consumer_id   = "CONSUMER"
  batch_count   = 250
  timeout       = 2
}
output "file" {
  path = "PATH"
  codec "line" {
    format = "%%{seq}"
  }
}
`)
}

// redisEvents is the default event count of TestScaleOutRedisCluster;
// SCALE_REDIS_EVENTS changes it.
const redisEvents = 200_000

// TestScaleOutRedisCluster: a Redis Cluster of 3 masters and 3 replicas
// (redis-server processes on loopback); the reference shipper (beats → two
// redis lists, cluster = true, wait_replicas = 1) fed 200,000 events by a
// go-lumber client, and 2 indexer engines (redis input, loss-free list mode,
// each its own consumer_id → file) draining one list, all processes of the
// built binary. A third of the way through the drain the master holding
// that list is SIGKILLed and its replica takes over. The client must see
// every batch acknowledged, every event must come out of the indexers at
// least once (duplicates counted) and be in the second list.
func TestScaleOutRedisCluster(t *testing.T) {
	bin := pipelineBinary(t)
	n := scaleEnvInt(t, "SCALE_REDIS_EVENTS", redisEvents)
	const per = 1000
	n = (n + per - 1) / per * per
	dir := t.TempDir()
	cl := redistest.StartCluster(t, 3, 1)
	seeds := `["` + strings.Join(cl.Seeds(), `", "`) + `"]`
	master := cl.MasterOf(t, "redis-queue-elastic")
	port := topoFreePort(t)
	t0 := time.Now()
	shipper := startEngine(t, bin, dir, "shipper", redisShipperHCL(seeds, port), 250)
	sink := newIDSink()
	var indexers []*engineProc
	var outs []string
	for i := range 2 {
		out := filepath.Join(dir, fmt.Sprintf("indexer%d.ids", i+1))
		sink.add(out)
		outs = append(outs, out)
		indexers = append(indexers, startEngine(t, bin, dir, fmt.Sprintf("indexer%d", i+1), redisIndexerHCL(seeds, fmt.Sprintf("idx%d", i+1), out), 250))
	}
	sent := make(chan error, 1)
	go func() { sent <- sendBeatsSeqs(port, n/per, per, 60*time.Second) }()
	alive := func() {
		for _, p := range append([]*engineProc{shipper}, indexers...) {
			if p.exited(t) {
				t.Fatalf("%s exited by itself", p.name)
			}
		}
	}
	sink.waitFor(t, 120*time.Second, "before the failover", alive, func(d, _ int) bool { return d >= n/3 })
	atKill, _ := sink.counts(t)
	master.Signal(syscall.SIGKILL)
	t.Logf("SIGKILLed master %s of redis-queue-elastic with %d events out (%s)", master.Addr(), atKill, time.Since(t0).Round(time.Millisecond))
	if atKill >= n {
		t.Fatalf("all %d events were out before the kill; the test proves nothing", n)
	}
	sink.waitFor(t, 180*time.Second, "after the failover", func() {
		alive()
		select {
		case err := <-sent:
			if err != nil {
				t.Fatalf("beats client: %v", err)
			}
			sent <- nil
		default:
		}
	}, func(d, _ int) bool { return d >= n })
	elapsed := time.Since(t0)
	select {
	case err := <-sent:
		if err != nil {
			t.Fatalf("beats client: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the beats client still sends after every event came out")
	}
	time.Sleep(2 * time.Second) // elements given back after the failover, if any
	for _, ix := range indexers {
		ix.term(t)
	}
	shipper.term(t)
	d, total := sink.counts(t)
	if c, first := sink.missing("", "", n); c > 0 {
		t.Fatalf("%d events lost (first seq %s)", c, first)
	}
	if d != n {
		t.Fatalf("%d distinct seqs; want %d", d, n)
	}
	t.Logf("%d events delivered at least once in %s (%.0f events/s end to end, 6 redis-servers and 3 engines on %d CPUs): %d lines (per indexer %v), %d duplicates",
		n, elapsed.Round(time.Millisecond), float64(n)/elapsed.Seconds(), runtime.NumCPU(), total, sink.perFile(outs...), total-n)
	rc := goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: cl.Seeds(), Protocol: 2, DisableIdentity: true, MaxRedirects: 8})
	defer rc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	got, err := rc.LRange(ctx, "redis-queue-immudb", 0, -1).Result()
	if err != nil {
		t.Fatal(err)
	}
	seen := make(map[int]bool, n)
	for _, s := range got {
		var doc struct{ Seq *int }
		if err := json.Unmarshal([]byte(s), &doc); err != nil || doc.Seq == nil {
			t.Fatalf("redis-queue-immudb element %.80q: %v", s, err)
		}
		seen[*doc.Seq] = true
	}
	if len(seen) != n {
		t.Errorf("redis-queue-immudb holds %d distinct events (%d elements); want %d", len(seen), len(got), n)
	}
}

// sendBeatsSeqs sends batches of per events {"seq": i} to the beats input
// on port, waiting for each batch's acknowledgement (up to timeout).
func sendBeatsSeqs(port, batches, per int, timeout time.Duration) error {
	var c *lumberclient.SyncClient
	deadline := time.Now().Add(30 * time.Second)
	for {
		var err error
		if c, err = lumberclient.SyncDial(fmt.Sprintf("127.0.0.1:%d", port), lumberclient.Timeout(timeout)); err == nil {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("dial beats: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	defer c.Close()
	for b := range batches {
		evs := make([]any, per)
		for j := range evs {
			evs[j] = map[string]any{"seq": b*per + j}
		}
		n, err := c.Send(evs)
		if err != nil || n != per {
			return fmt.Errorf("batch %d: %d of %d acknowledged: %v", b, n, per, err)
		}
	}
	return nil
}
