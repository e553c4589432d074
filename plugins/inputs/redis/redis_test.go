package redis

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/pipelined/pipeline/dsl/ir"
	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
	jsoncodec "github.com/pipelined/pipeline/plugins/codecs/json"
	"github.com/pipelined/pipeline/plugins/internal/testkit/plugintest"
	"github.com/pipelined/pipeline/plugins/internal/testkit/redistest"
	"github.com/pipelined/pipeline/plugins/internal/testkit/testpki"
)

func jsonCodec(t testing.TB) engine.Codec { return plugintest.MustCodec(t, jsoncodec.New) }

func newInput(t testing.TB, srv *redistest.Server, opts string) *Input {
	t.Helper()
	src := fmt.Sprintf("host = \"127.0.0.1\"\nport = %d\n%s", srv.Port(), opts)
	in := plugintest.MustNew(t, New, src, engine.Resources{ID: "in", Pipeline: "main", Codec: jsonCodec(t), Logger: slog.New(slog.DiscardHandler)})
	in.blockFor = time.Second
	in.ackWait = 2 * time.Second
	return in
}

func client(t testing.TB, srv *redistest.Server) *goredis.Client {
	t.Helper()
	c := goredis.NewClient(&goredis.Options{Addr: srv.Addr(), Protocol: 2, DisableIdentity: true})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// collector is an emit that keeps events and acknowledges batches on another
// goroutine, in bursts and out of order, as a pipeline with several workers may.
type collector struct {
	mu     sync.Mutex
	events []*event.Event
	acks   chan engine.AckFunc
	noAck  bool
	onEmit func()
}

func newCollector() *collector { return &collector{acks: make(chan engine.AckFunc, 1024)} }

func (c *collector) emit(b engine.Batch) error {
	c.mu.Lock()
	c.events = append(c.events, b.Events...)
	c.mu.Unlock()
	if c.onEmit != nil {
		c.onEmit()
	}
	if b.Ack != nil && !c.noAck {
		c.acks <- b.Ack
	}
	return nil
}

// acker acknowledges in pairs, the second batch first.
func (c *collector) acker(ctx context.Context) {
	var held engine.AckFunc
	for {
		select {
		case a := <-c.acks:
			if held == nil {
				held = a
				continue
			}
			a(nil)
			held(nil)
			held = nil
		case <-time.After(50 * time.Millisecond):
			if held != nil {
				held(nil)
				held = nil
			}
			if ctx.Err() != nil && len(c.acks) == 0 {
				return
			}
		}
	}
}

func (c *collector) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.events)
}

// run runs in until the collector has n events (bounded), then stops it.
func run(t *testing.T, in *Input, c *collector, n int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ackCtx, stopAcker := context.WithCancel(context.Background())
	ackerDone := make(chan struct{})
	go func() { c.acker(ackCtx); close(ackerDone) }()
	done := make(chan error, 1)
	go func() { done <- in.Run(ctx, c.emit) }()
	deadline := time.Now().Add(30 * time.Second)
	for c.len() < n {
		if time.Now().After(deadline) {
			t.Fatalf("got %d events in 30 s; want %d", c.len(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	stopAcker()
	<-ackerDone
}

func fill(t *testing.T, c *goredis.Client, key string, from, n int) {
	t.Helper()
	vals := make([]any, 0, 1000)
	for i := from; i < from+n; i++ {
		vals = append(vals, fmt.Sprintf(`{"seq":%d,"message":"m"}`, i))
		if len(vals) == cap(vals) || i == from+n-1 {
			if err := c.RPush(context.Background(), key, vals...).Err(); err != nil {
				t.Fatal(err)
			}
			vals = vals[:0]
		}
	}
}

func seqs(t *testing.T, evs []*event.Event) []int {
	t.Helper()
	out := make([]int, len(evs))
	for i, e := range evs {
		v, ok := e.Get(event.MustRef("seq"))
		if !ok {
			t.Fatalf("event %d has no seq: %v", i, e.Fields())
		}
		out[i] = int(v.(int64))
	}
	return out
}

func llen(t *testing.T, c *goredis.Client, key string) int64 {
	t.Helper()
	n, err := c.LLen(context.Background(), key).Result()
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestDrainList drains 10,000 elements exactly once, in order, in both list
// modes, while a producer pushes to the tail, and leaves nothing behind once
// every batch was acknowledged.
func TestDrainList(t *testing.T) {
	srv := redistest.Start(t)
	rc := client(t, srv)
	const n = 10000
	for _, mode := range []string{"processing_list", "exclusive"} {
		t.Run(mode, func(t *testing.T) {
			if err := rc.FlushAll(context.Background()).Err(); err != nil {
				t.Fatal(err)
			}
			fill(t, rc, "q", 0, n/2)
			in := newInput(t, srv, fmt.Sprintf(`key = "q"
data_type = "list"
consumer_id = "c1"
list_mode = %q`, mode))
			c := newCollector()
			// The other half arrives while the input reads and trims the head.
			pushed := make(chan struct{})
			go func() {
				defer close(pushed)
				for i := n / 2; i < n; i += 100 {
					fill(t, rc, "q", i, 100)
				}
			}()
			run(t, in, c, n)
			<-pushed
			got := seqs(t, c.events)
			if len(got) != n {
				t.Fatalf("got %d events; want %d", len(got), n)
			}
			for i, s := range got {
				if s != i {
					t.Fatalf("event %d has seq %d", i, s)
				}
			}
			if l := llen(t, rc, "q"); l != 0 {
				t.Errorf("list has %d elements left", l)
			}
			if l := llen(t, rc, "q:processing:c1"); l != 0 {
				t.Errorf("processing list has %d elements after every ack", l)
			}
		})
	}
}

// TestRecovery: batches moved but never acknowledged (the engine died) are
// emitted first by the next input with the same consumer id; nothing is lost
// or duplicated.
func TestRecovery(t *testing.T) {
	srv := redistest.Start(t)
	rc := client(t, srv)
	fill(t, rc, "q", 0, 300)
	opts := `key = "q"
data_type = "list"
batch_count = 100
consumer_id = "c1"`

	in := newInput(t, srv, opts)
	in.ackWait = 100 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	first := newCollector()
	first.noAck = true
	first.onEmit = cancel // the engine dies after the first batch
	if err := in.Run(ctx, first.emit); err != nil {
		t.Fatal(err)
	}
	// The batch moved ahead while the first was emitted is emitted too.
	if n := len(first.events); n != 100 && n != 200 {
		t.Fatalf("first run got %d events; want 100 or 200", n)
	}
	if l := llen(t, rc, "q:processing:c1"); l != int64(len(first.events)) {
		t.Fatalf("processing list has %d elements; want the %d emitted and never acknowledged", l, len(first.events))
	}

	second := newCollector()
	run(t, newInput(t, srv, opts), second, 300)
	got := seqs(t, second.events)
	if len(got) != 300 {
		t.Fatalf("second run got %d events; want 300", len(got))
	}
	for i, s := range got {
		if s != i {
			t.Fatalf("event %d has seq %d", i, s)
		}
	}
	if l := llen(t, rc, "q:processing:c1"); l != 0 {
		t.Errorf("processing list has %d elements after every ack", l)
	}
	if l := llen(t, rc, "q"); l != 0 {
		t.Errorf("list has %d elements left", l)
	}
}

// TestInvalidJSON: an element that is not JSON becomes a tagged event.
func TestInvalidJSON(t *testing.T) {
	srv := redistest.Start(t)
	rc := client(t, srv)
	// Nested beyond the decoders' budget (issue #19): refused at the edge,
	// kept as text, before the element is trimmed from the list.
	deep := `{"d":` + strings.Repeat("[", event.MaxDecodeDepth) + strings.Repeat("]", event.MaxDecodeDepth) + `}`
	if err := rc.RPush(context.Background(), "q", `{"a":1}`, `not json`, `{"b":`, deep).Err(); err != nil {
		t.Fatal(err)
	}
	c := newCollector()
	run(t, newInput(t, srv, `key = "q"
data_type = "list"`), c, 4)
	if len(c.events) != 4 {
		t.Fatalf("got %d events", len(c.events))
	}
	if v, _ := c.events[0].Get(event.MustRef("a")); v != int64(1) || c.events[0].HasTag("_jsonparsefailure") {
		t.Errorf("event 0 = %v", c.events[0].Fields())
	}
	for i, want := range []string{"not json", `{"b":`, deep} {
		e := c.events[i+1]
		if msg, _ := e.Message(); msg != want || !e.HasTag("_jsonparsefailure") {
			t.Errorf("event %d = %v; want message %q tagged _jsonparsefailure", i+1, e.Fields(), want)
		}
	}
}

// TestTracker: acknowledgements out of order trim only the acknowledged
// prefix; trims are idempotent; a resync finds elements moved by a command
// whose reply was lost, and a list that lost elements is re-emitted.
func TestTracker(t *testing.T) {
	srv := redistest.Start(t)
	rc := client(t, srv)
	ctx := context.Background()
	list := func() string { return strings.Join(rc.LRange(ctx, "p", 0, -1).Val(), " ") }
	if err := rc.RPush(ctx, "p", "a1", "a2", "b1", "c1", "c2", "c3").Err(); err != nil {
		t.Fatal(err)
	}
	tr := newTracker(rc, "p", "E1", func(err error) { t.Log(err) })
	defer tr.close()
	left, err := tr.start(ctx)
	if err != nil || len(left) != 6 {
		t.Fatalf("start = %v, %v", left, err)
	}
	a, b, c := tr.add(2), tr.add(1), tr.add(3)
	b(nil)
	tr.trimOnce() // trims run on their own goroutine
	if got := list(); got != "a1 a2 b1 c1 c2 c3" {
		t.Fatalf("after acking b: %v", got)
	}
	a(nil)
	tr.trimOnce() // trims run on their own goroutine
	if got := list(); got != "c1 c2 c3" {
		t.Fatalf("after acking a: %v", got)
	}
	// A trim done twice (its reply was lost and it is redone) trims once.
	if err := trimScript.Run(ctx, rc, []string{"p", "p:state"}, "E1", 3).Err(); err != nil {
		t.Fatal(err)
	}
	if got := list(); got != "c1 c2 c3" {
		t.Fatalf("after a repeated trim: %v", got)
	}
	// A BLMOVE whose reply was lost: resync finds the uncounted tail.
	if err := rc.RPush(ctx, "p", "d1").Err(); err != nil {
		t.Fatal(err)
	}
	extra, d, err := tr.resync(ctx)
	if err != nil || strings.Join(extra, " ") != "d1" {
		t.Fatalf("resync = %v, %v", extra, err)
	}
	// A move script whose reply was lost: counted but not tracked.
	if err := rc.RPush(ctx, "src", "e1", "e2").Err(); err != nil {
		t.Fatal(err)
	}
	if err := moveScript.Run(ctx, rc, []string{"src", "p", "p:state"}, 10, "E1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	extra, e, err := tr.resync(ctx)
	if err != nil || strings.Join(extra, " ") != "e1 e2" {
		t.Fatalf("resync = %v, %v", extra, err)
	}
	d(nil)
	tr.trimOnce() // trims run on their own goroutine
	e(nil)
	if got := list(); got != "c1 c2 c3 d1 e1 e2" {
		t.Fatalf("before acking c: %v", got)
	}
	c(nil)
	tr.trimOnce() // trims run on their own goroutine
	if got := list(); got != "" {
		t.Fatalf("after every ack: %v", got)
	}
	if !tr.wait(time.Second) {
		t.Fatal("wait: batches still pending")
	}
	// Redis lost the list and its state: pending batches are forgotten and
	// whatever is there now is emitted again.
	f := tr.add(0)
	if err := rc.Del(ctx, "p", "p:state").Err(); err != nil {
		t.Fatal(err)
	}
	if err := rc.RPush(ctx, "p", "g1").Err(); err != nil {
		t.Fatal(err)
	}
	extra, g, err := tr.resync(ctx)
	if err != nil || strings.Join(extra, " ") != "g1" {
		t.Fatalf("resync after data loss = %v, %v", extra, err)
	}
	f(nil) // forgotten: trims nothing
	if got := list(); got != "g1" {
		t.Fatalf("after a forgotten ack: %v", got)
	}
	g(nil)
	tr.trimOnce() // trims run on their own goroutine
	if got := list(); got != "" {
		t.Fatalf("after acking g: %v", got)
	}
	// Another epoch (a new owner) makes this tracker's trims no-ops.
	if err := rc.RPush(ctx, "p", "h1").Err(); err != nil {
		t.Fatal(err)
	}
	other := newTracker(rc, "p", "E2", func(err error) { t.Log(err) })
	defer other.close()
	if _, err := other.start(ctx); err != nil {
		t.Fatal(err)
	}
	h := tr.add(1)
	h(nil)
	tr.trimOnce() // trims run on their own goroutine
	if got := list(); got != "h1" {
		t.Fatalf("a stale epoch trimmed: %v", got)
	}
}

func waitSubscribers(t *testing.T, rc *goredis.Client, pattern bool, channel string) bool {
	deadline := time.Now().Add(10 * time.Second)
	for {
		var n int64
		if pattern {
			n = rc.PubSubNumPat(context.Background()).Val()
		} else {
			n = rc.PubSubNumSub(context.Background(), channel).Val()[channel]
		}
		if n > 0 {
			return true
		}
		if time.Now().After(deadline) {
			t.Error("input did not subscribe within 10 s")
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestChannels(t *testing.T) {
	for _, tc := range []struct {
		dataType, key string
		pattern       bool
	}{
		{"channel", "news", false},
		{"pattern_channel", "ne*", true},
	} {
		t.Run(tc.dataType, func(t *testing.T) {
			srv := redistest.Start(t)
			rc := client(t, srv)
			in := newInput(t, srv, fmt.Sprintf("key = %q\ndata_type = %q", tc.key, tc.dataType))
			c := newCollector()
			go func() {
				if !waitSubscribers(t, rc, tc.pattern, "news") {
					return
				}
				for i := range 20 {
					rc.Publish(context.Background(), "news", fmt.Sprintf(`{"seq":%d}`, i))
				}
			}()
			run(t, in, c, 20)
			for i, s := range seqs(t, c.events) {
				if s != i {
					t.Fatalf("event %d has seq %d", i, s)
				}
			}
		})
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct{ opts, want string }{
		{`key = "q"
data_type = "set"`, "data_type"},
		{`key = ""
data_type = "list"`, "key"},
		{`key = "q"
data_type = "list"
batch_count = 0`, "batch_count"},
		{`key = "q"
data_type = "list"
threads = 0`, "threads"},
	} {
		diags := plugintest.BuildDiags(t, ir.Input, "redis", tc.opts)
		if !diags.HasErrors() || !strings.Contains(diags.Error(), tc.want) {
			t.Errorf("%s: diags %v; want %q", tc.opts, diags, tc.want)
		}
	}
	if got := ProcessingKey("q", "h:main:in", 1, 2); got != "q:processing:h:main:in:1" {
		t.Errorf("ProcessingKey = %q", got)
	}
}

// TestConsumerIDInUse: a second input with the same consumer id waits while
// the first runs, and takes over when it stops.
func TestConsumerIDInUse(t *testing.T) {
	srv := redistest.Start(t)
	rc := client(t, srv)
	opts := `key = "q"
data_type = "list"
consumer_id = "same"`
	ctx1, stop1 := context.WithCancel(context.Background())
	defer stop1()
	first := newCollector()
	done1 := make(chan error, 1)
	go func() { done1 <- newInput(t, srv, opts).Run(ctx1, first.emit) }()
	// Wait until the first owns the list.
	deadline := time.Now().Add(10 * time.Second)
	for rc.Exists(context.Background(), "q:processing:same:owner").Val() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("first input took no lease")
		}
		time.Sleep(10 * time.Millisecond)
	}
	second := newCollector()
	ctx2, stop2 := context.WithCancel(context.Background())
	defer stop2()
	done2 := make(chan error, 1)
	go func() { done2 <- newInput(t, srv, opts).Run(ctx2, second.emit) }()
	time.Sleep(300 * time.Millisecond)
	stop1()
	if err := <-done1; err != nil {
		t.Fatal(err)
	}
	// Only the second runs now: it gets everything pushed from here on.
	fill(t, rc, "q", 0, 50)
	deadline = time.Now().Add(20 * time.Second)
	for second.len() < 50 {
		if time.Now().After(deadline) {
			t.Fatalf("second input got %d events; want 50", second.len())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if first.len() != 0 {
		t.Fatalf("first input got %d events", first.len())
	}
	stop2()
	if err := <-done2; err != nil {
		t.Fatal(err)
	}
}

// TestLeaseOfDeadProcess: a lease left by a killed process of this host is
// taken over at once.
func TestLeaseOfDeadProcess(t *testing.T) {
	srv := redistest.Start(t)
	l := newLease("pk")
	// A pid above the kernel's pid_max cannot exist.
	dead := fmt.Sprintf("%s:%d:abc", l.host, 1<<30)
	rc := client(t, srv)
	if err := rc.Set(context.Background(), "pk:owner", dead, time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	held := ""
	if err := l.acquire(context.Background(), rc, func(h string) { held = h }); err != nil {
		t.Fatalf("acquire = %v (held by %q)", err, held)
	}
	if got := rc.Get(context.Background(), "pk:owner").Val(); got != l.token {
		t.Fatalf("owner = %q; want %q", got, l.token)
	}
	other := &lease{key: "pk:owner", token: "otherhost:1:x", host: "otherhost"}
	if err := other.acquire(context.Background(), rc, func(h string) { held = h }); err != errLeaseHeld || held != l.token {
		t.Fatalf("second acquire = %v, held by %q", err, held)
	}
	if err := other.renew(context.Background(), rc); err != errLeaseLost {
		t.Fatalf("renew by non-owner = %v", err)
	}
	l.release(rc)
	if err := other.acquire(context.Background(), rc, func(string) {}); err != nil {
		t.Fatalf("acquire after release = %v", err)
	}
}

// BenchmarkDrain drains a list of 300-byte JSON elements with batch_count
// 500, acknowledging every batch, with the input in both loss-free list modes
// ("exclusive" and "processing_list"), and, as the peer measured in the same
// run, with a plain loop of LPOP key 500 that keeps nothing for a crash and
// decodes nothing. Each iteration runs the three in turn on the same data; it
// reports events/s and Redis's CPU per event of each, and each mode's
// throughput as a ratio to the loop's (issue #20: ≥ 0.4× the loop, Redis ≤
// 0.6 µs per event).
func BenchmarkDrain(b *testing.B) {
	// The collector's target of the engine's process (supervisor.SetGCTarget),
	// not the test binary's default.
	defer debug.SetGCPercent(debug.SetGCPercent(400))
	srv := redistest.Start(b)
	rc := client(b, srv)
	ctx := context.Background()
	elem := fmt.Sprintf(`{"message":%q,"host":{"name":"web-01"}}`, strings.Repeat("x", 250))
	vals := make([]any, 1000)
	for i := range vals {
		vals[i] = elem
	}
	// 100,000 elements per Run, so that the input's start (a connection,
	// the lease) and stop (the last acknowledgements) weigh as little as in
	// a real drain, where Run starts once.
	n := 100000
	if v, err := strconv.Atoi(os.Getenv("DRAIN_N")); err == nil {
		n = v
	}
	type variant struct {
		name  string
		drain func() int
		wall  time.Duration
		cpu   time.Duration
		total int
	}
	input := func(mode string) func() int {
		in := newInput(b, srv, fmt.Sprintf(`key = "q"
data_type = "list"
batch_count = 500
consumer_id = "bench"
list_mode = %q`, mode))
		// As W4 (examples/bench/w4.hcl): no copy of each element in
		// [event][original].
		codec, err := plugintest.CodecBuilder(jsoncodec.New)([]byte(`ecs_compatibility = "disabled"`))
		if err != nil {
			b.Fatal(err)
		}
		in.codec = codec
		return func() int {
			got := 0
			rctx, cancel := context.WithCancel(ctx)
			err := in.Run(rctx, func(bt engine.Batch) error {
				got += len(bt.Events)
				bt.Ack(nil)
				if got >= n {
					cancel()
				}
				return nil
			})
			cancel()
			if err != nil || got < n {
				b.Fatalf("Run = %v, got %d", err, got)
			}
			return got
		}
	}
	c := client(b, srv)
	vs := []*variant{
		{name: "lpop", drain: func() int {
			got := 0
			for got < n {
				elems, err := c.LPopCount(ctx, "q", 500).Result()
				if err != nil {
					b.Fatal(err)
				}
				got += len(elems)
			}
			return got
		}},
		{name: "exclusive", drain: input("exclusive")},
		{name: "plist", drain: input("processing_list")},
	}
	b.ReportAllocs()
	for b.Loop() {
		for _, v := range vs {
			b.StopTimer()
			_ = rc.Del(ctx, "q", "q:reader:trimmed", "q:processing:bench", "q:processing:bench:state").Err()
			// A few more than drained: the input's next read is under way
			// when the benchmark stops it, and must not wait for an empty
			// list.
			for range n/1000 + 1 {
				rc.RPush(ctx, "q", vals...)
			}
			cpu0, err := srv.CPU()
			if err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			start := time.Now()
			v.total += v.drain()
			v.wall += time.Since(start)
			b.StopTimer()
			cpu1, err := srv.CPU()
			if err != nil {
				b.Fatal(err)
			}
			v.cpu += cpu1 - cpu0
			b.StartTimer()
		}
	}
	rate := func(v *variant) float64 { return float64(v.total) / v.wall.Seconds() }
	for _, v := range vs {
		b.ReportMetric(rate(v), v.name+"-events/s")
		b.ReportMetric(float64(v.cpu.Nanoseconds())/float64(v.total), v.name+"-redis-ns/event")
	}
	b.ReportMetric(rate(vs[1])/rate(vs[0]), "exclusive/lpop")
	b.ReportMetric(rate(vs[2])/rate(vs[0]), "plist/lpop")
}

// TestRedisRestart stops Redis (with an append-only file) in the middle of a
// drain: the input reconnects, resyncs its processing list, and every element
// is delivered at least once.
func TestRedisRestart(t *testing.T) {
	for _, mode := range []string{"processing_list", "exclusive"} {
		t.Run(mode, func(t *testing.T) { testRedisRestart(t, mode) })
	}
}

func testRedisRestart(t *testing.T, mode string) {
	srv := redistest.Start(t, "--appendonly", "yes", "--appendfsync", "always")
	rc := client(t, srv)
	const n = 20000
	fill(t, rc, "q", 0, n)
	in := newInput(t, srv, `key = "q"
data_type = "list"
batch_count = 50
consumer_id = "c1"
timeout = 1
list_mode = "`+mode+`"`)
	c := newCollector()
	// The input is held in emit from its 2,000th event until Redis is
	// stopped, so that the stop lands in the middle of the drain however
	// the goroutines are scheduled (a fast drain used to finish first on a
	// loaded machine).
	reached, gate := make(chan struct{}), make(chan struct{})
	var once sync.Once
	c.onEmit = func() {
		if c.len() >= 2000 {
			once.Do(func() { close(reached) })
			select {
			case <-gate:
			case <-time.After(30 * time.Second):
			}
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ackCtx, stopAcker := context.WithCancel(context.Background())
	ackerDone := make(chan struct{})
	go func() { c.acker(ackCtx); close(ackerDone) }()
	done := make(chan error, 1)
	go func() { done <- in.Run(ctx, c.emit) }()
	select {
	case <-reached:
	case err := <-done:
		t.Fatalf("the input stopped before the restart: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("no progress before the restart")
	}
	srv.Stop()
	stoppedAt := c.len()
	close(gate)
	time.Sleep(500 * time.Millisecond)
	srv.Restart()
	deadline := time.Now().Add(30 * time.Second)
	seen := map[int]int{}
	for {
		c.mu.Lock()
		evs := c.events
		c.mu.Unlock()
		clear(seen)
		for _, s := range seqs(t, evs) {
			seen[s]++
		}
		if len(seen) == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d distinct elements delivered after the restart; want %d", len(seen), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	stopAcker()
	<-ackerDone
	if stoppedAt >= n {
		t.Fatal("the drain finished before Redis was stopped")
	}
	t.Logf("%d events for %d elements: %d duplicates", c.len(), n, c.len()-n)
	rc2 := client(t, srv)
	for _, k := range []string{"q", "q:processing:c1"} {
		if l := llen(t, rc2, k); l != 0 {
			t.Errorf("%s has %d elements after every ack", k, l)
		}
	}
}

// syncBuffer is a log destination safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestErrorsLogged: a wrong password and a key of the wrong type are logged
// with the host and db (never the password), and the input keeps retrying
// until stopped.
func TestErrorsLogged(t *testing.T) {
	srv := redistest.Start(t, "--requirepass", "s3cret-pw")
	for _, tc := range []struct{ opts, want string }{
		{`password = "wrong-pw-123"
data_type = "list"`, "authentication failed"},
		{`password = "wrong-pw-123"
data_type = "channel"`, "authentication failed"},
		{`password = "s3cret-pw"
data_type = "list"`, "not a list"},
	} {
		rc := goredis.NewClient(&goredis.Options{Addr: srv.Addr(), Password: "s3cret-pw", Protocol: 2, DisableIdentity: true})
		if err := rc.Set(context.Background(), "q", "a string", 0).Err(); err != nil {
			t.Fatal(err)
		}
		rc.Close()
		var logs syncBuffer
		src := fmt.Sprintf("port = %d\nkey = \"q\"\ndb = 0\n%s", srv.Port(), tc.opts)
		in := plugintest.MustNew(t, New, src, engine.Resources{ID: "in", Pipeline: "main", Codec: jsonCodec(t),
			Logger: slog.New(slog.NewTextHandler(&logs, nil))})
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		err := in.Run(ctx, func(engine.Batch) error { t.Error("emitted"); return nil })
		cancel()
		if err != nil {
			t.Fatalf("Run = %v", err)
		}
		out := logs.String()
		if !strings.Contains(out, tc.want) || !strings.Contains(out, srv.Addr()) || !strings.Contains(out, "db 0") {
			t.Errorf("%s: log %q; want %q naming host and db", tc.opts, out, tc.want)
		}
		if strings.Contains(out, "pw") {
			t.Errorf("log shows the password: %q", out)
		}
	}
}

// TestTLS drains a list from a real redis-server over TLS with a client
// certificate; with a CA that did not sign the server's certificate, Run
// reports a clear error naming the option and emits nothing.
func TestTLS(t *testing.T) {
	ca := testpki.NewCA(t, "redis CA")
	pair := ca.Server("redis")
	cli := ca.Client("indexer")
	srv := redistest.StartTLS(t, ca.File, pair.CertFile, pair.KeyFile, true)
	fill(t, client(t, srv.Server), "q", 0, 500)
	_, port, _ := net.SplitHostPort(srv.TLSAddr)
	opts := func(caFile string) string {
		return fmt.Sprintf("port = %s\nkey = \"q\"\ndata_type = \"list\"\nconsumer_id = \"c1\"\nssl_enabled = true\nssl_certificate_authorities = [%q]\nssl_certificate = %q\nssl_key = %q\n",
			port, caFile, cli.CertFile, cli.KeyFile)
	}
	var logs syncBuffer
	bad := plugintest.MustNew(t, New, opts(testpki.NewCA(t, "other").File), engine.Resources{ID: "in", Pipeline: "main", Codec: jsonCodec(t),
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	err := bad.Run(ctx, func(engine.Batch) error { t.Error("emitted with a wrong CA"); return nil })
	cancel()
	if msg := logs.String() + fmt.Sprint(err); !strings.Contains(msg, "ssl_certificate_authorities") {
		t.Errorf("wrong CA: logs and error do not name ssl_certificate_authorities:\n%s", msg)
	}

	in := plugintest.MustNew(t, New, opts(ca.File), engine.Resources{ID: "in", Pipeline: "main", Codec: jsonCodec(t), Logger: slog.New(slog.DiscardHandler)})
	in.ackWait = 2 * time.Second
	c := newCollector()
	run(t, in, c, 500)
	if got := seqs(t, c.events); len(got) != 500 || got[499] != 499 {
		t.Fatalf("got %d events", len(got))
	}
}
