package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/pipelined/pipeline/dsl"
	"github.com/pipelined/pipeline/dsl/ir"
	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
	jsoncodec "github.com/pipelined/pipeline/plugins/codecs/json"
	_ "github.com/pipelined/pipeline/plugins/codecs/plain"
	_ "github.com/pipelined/pipeline/plugins/inputs/generator"
	"github.com/pipelined/pipeline/plugins/internal/testkit/plugintest"
	"github.com/pipelined/pipeline/plugins/internal/testkit/redistest"
	"github.com/pipelined/pipeline/plugins/internal/testkit/testpki"
)

func jsonCodec(t testing.TB) engine.Codec { return plugintest.MustCodec(t, jsoncodec.New) }

// newOutput builds an output for srv with the HCL options opts (host and
// port are added) and connects it.
func newOutput(t testing.TB, srv *redistest.Server, opts string) *Output {
	t.Helper()
	src := fmt.Sprintf("host = %q\n%s", srv.Addr(), opts)
	o := plugintest.MustNew(t, New, src, engine.Resources{Codec: jsonCodec(t), Logger: slog.New(slog.DiscardHandler)})
	t.Cleanup(func() { _ = o.Close(context.Background()) })
	return o
}

func connect(t testing.TB, o *Output) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := o.Connect(ctx); err != nil {
		t.Fatalf("Connect: %v", err)
	}
}

func client(t testing.TB, srv *redistest.Server, opts ...func(*goredis.Options)) *goredis.Client {
	t.Helper()
	o := &goredis.Options{Addr: srv.Addr(), Protocol: 2, DisableIdentity: true}
	for _, f := range opts {
		f(o)
	}
	c := goredis.NewClient(o)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func lrange(t testing.TB, c *goredis.Client, key string) []string {
	t.Helper()
	got, err := c.LRange(context.Background(), key, 0, -1).Result()
	if err != nil {
		t.Fatalf("LRANGE %s: %v", key, err)
	}
	return got
}

func events(n int, set func(i int, e *event.Event)) []*event.Event {
	out := make([]*event.Event, n)
	for i := range out {
		e := event.NewMessageAt(fmt.Sprintf("m%d", i), time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC))
		if set != nil {
			set(i, e)
		}
		out[i] = e
	}
	return out
}

func decode(t testing.TB, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("element %q is not JSON: %v", s, err)
	}
	return m
}

// TestPipelineList runs generator → redis through the engine from a pipeline
// file: every event ends in the list, in order, as JSON without @metadata.
func TestPipelineList(t *testing.T) {
	srv := redistest.Start(t)
	const n = 3000
	src := fmt.Sprintf(`
input "generator" "gen" {
  message   = "hello"
  count     = %d
  add_field = { "[@metadata][secret]" = "no", "shard" = "a" }
}

output "redis" "out" {
  host      = [%q]
  key       = "logs-%%{shard}"
  data_type = "list"
}
`, n, srv.Addr())
	cfg, diags := dsl.LoadSource("redis.hcl", []byte(src))
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	p, diags := engine.Build(cfg.Pipelines[0], engine.Default, engine.Settings{Workers: 1, BatchSize: 500, Logger: slog.New(slog.DiscardHandler)})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := p.Run(ctx); err != nil {
		t.Fatal(err)
	}
	got := lrange(t, client(t, srv), "logs-a")
	if len(got) != n {
		t.Fatalf("list has %d elements; want %d", len(got), n)
	}
	for i, s := range got {
		if strings.Contains(s, "@metadata") {
			t.Fatalf("element %d has @metadata: %s", i, s)
		}
		m := decode(t, s)
		seq := m["event"].(map[string]any)["sequence"].(float64)
		if int(seq) != i || m["message"] != "hello" || m["shard"] != "a" {
			t.Fatalf("element %d = %s", i, s)
		}
	}
}

// TestKeyGrouping writes one batch whose events go to three lists, interleaved:
// each list gets its events in order.
func TestKeyGrouping(t *testing.T) {
	srv := redistest.Start(t)
	o := newOutput(t, srv, `key = "app-%%{svc}"
data_type = "list"`)
	connect(t, o)
	svcs := []string{"a", "b", "c"}
	evs := events(300, func(i int, e *event.Event) { _ = e.Set(event.MustRef("svc"), svcs[i%3]) })
	if err := o.Write(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
	c := client(t, srv)
	for k, svc := range svcs {
		got := lrange(t, c, "app-"+svc)
		if len(got) != 100 {
			t.Fatalf("app-%s has %d elements; want 100", svc, len(got))
		}
		for j, s := range got {
			if m := decode(t, s); m["message"] != fmt.Sprintf("m%d", j*3+k) {
				t.Fatalf("app-%s[%d] = %s", svc, j, s)
			}
		}
	}
	if evs[0].Fields()["svc"] != "a" || len(evs[0].Fields()) != 4 { // @timestamp @version message svc
		t.Errorf("event modified: %v", evs[0].Fields())
	}
}

// TestChannel publishes to a channel with a subscriber.
func TestChannel(t *testing.T) {
	srv := redistest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sub := client(t, srv).Subscribe(ctx, "news")
	defer sub.Close()
	if _, err := sub.Receive(ctx); err != nil { // the subscription confirmation
		t.Fatal(err)
	}
	o := newOutput(t, srv, `key = "news"
data_type = "channel"`)
	connect(t, o)
	if err := o.Write(ctx, events(50, nil)); err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		msg, err := sub.ReceiveMessage(ctx)
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if m := decode(t, msg.Payload); m["message"] != fmt.Sprintf("m%d", i) {
			t.Fatalf("message %d = %s", i, msg.Payload)
		}
	}
}

// TestRedisDown: a Write while Redis is down returns ErrNotConnected; after a
// restart, Connect and the retried batch land exactly once.
func TestRedisDown(t *testing.T) {
	srv := redistest.Start(t)
	o := newOutput(t, srv, `key = "q"
data_type = "list"
timeout = 1`)
	connect(t, o)
	evs := events(200, nil)
	srv.Stop()
	err := o.Write(context.Background(), evs)
	if !errors.Is(err, engine.ErrNotConnected) {
		t.Fatalf("Write with Redis down = %v; want ErrNotConnected", err)
	}
	if !strings.Contains(err.Error(), srv.Addr()) || !strings.Contains(err.Error(), "db 0") {
		t.Errorf("error %q does not name host and db", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := o.Connect(ctx); !errors.Is(err, engine.ErrNotConnected) {
		t.Fatalf("Connect with Redis down = %v; want ErrNotConnected", err)
	}
	srv.Restart()
	connect(t, o)
	if err := o.Write(ctx, evs); err != nil {
		t.Fatal(err)
	}
	got := lrange(t, client(t, srv), "q")
	if len(got) != len(evs) {
		t.Fatalf("list has %d elements; want %d", len(got), len(evs))
	}
	for i, s := range got {
		if m := decode(t, s); m["message"] != fmt.Sprintf("m%d", i) {
			t.Fatalf("element %d = %s", i, s)
		}
	}
}

// TestHostList: the first host that answers is used, in order.
func TestHostList(t *testing.T) {
	srv := redistest.Start(t)
	dead := redistest.Start(t)
	deadAddr := dead.Addr()
	dead.Stop()
	src := fmt.Sprintf(`host = [%q, %q]
shuffle_hosts = false
key = "q"
data_type = "list"
timeout = 1`, deadAddr, srv.Addr())
	o := plugintest.MustNew(t, New, src, engine.Resources{Codec: jsonCodec(t)})
	defer o.Close(context.Background())
	connect(t, o)
	if o.addr != srv.Addr() {
		t.Fatalf("connected to %s; want %s", o.addr, srv.Addr())
	}
	if err := o.Write(context.Background(), events(3, nil)); err != nil {
		t.Fatal(err)
	}
	if got := lrange(t, client(t, srv), "q"); len(got) != 3 {
		t.Fatalf("list has %d elements", len(got))
	}
}

// TestAuth: a wrong or missing password is a clear error naming host and db,
// never showing the password; the right one works.
func TestAuth(t *testing.T) {
	srv := redistest.Start(t, "--requirepass", "s3cret-pw")
	for _, tc := range []struct{ opts, want string }{
		{`password = "wrong-pw-123"`, "authentication failed"},
		{``, "no password is set"},
	} {
		o := newOutput(t, srv, tc.opts+"\ndb = 3\nkey = \"q\"\ndata_type = \"list\"")
		err := o.Connect(context.Background())
		if err == nil {
			t.Fatalf("%s: Connect succeeded", tc.opts)
		}
		msg := err.Error()
		if !strings.Contains(msg, tc.want) || !strings.Contains(msg, srv.Addr()) || !strings.Contains(msg, "db 3") {
			t.Errorf("%s: error %q; want %q naming host and db 3", tc.opts, msg, tc.want)
		}
		if strings.Contains(msg, "wrong-pw-123") || strings.Contains(msg, "s3cret-pw") {
			t.Errorf("error shows the password: %q", msg)
		}
	}
	o := newOutput(t, srv, `password = "s3cret-pw"
key = "q"
data_type = "list"`)
	connect(t, o)
	if err := o.Write(context.Background(), events(2, nil)); err != nil {
		t.Fatal(err)
	}
}

// TestWrongType: a key holding a string is a clear error, not a reconnect;
// the other keys of the batch are delivered and only the failed events are
// returned for retry.
func TestWrongType(t *testing.T) {
	srv := redistest.Start(t)
	c := client(t, srv)
	if err := c.Set(context.Background(), "k-bad", "x", 0).Err(); err != nil {
		t.Fatal(err)
	}
	o := newOutput(t, srv, `key = "k-%%{k}"
data_type = "list"`)
	connect(t, o)
	evs := events(4, func(i int, e *event.Event) { _ = e.Set(event.MustRef("k"), []string{"good", "bad"}[i%2]) })
	err := o.Write(context.Background(), evs)
	var be *engine.BatchError
	if !errors.As(err, &be) {
		t.Fatalf("Write = %v; want a BatchError", err)
	}
	if len(be.Failed) != 2 || be.Failed[1] == nil || be.Failed[3] == nil {
		t.Fatalf("failed = %v; want events 1 and 3", be.Failed)
	}
	msg := be.Failed[1].Error()
	if errors.Is(be.Failed[1], engine.ErrNotConnected) || !strings.Contains(msg, "WRONGTYPE") ||
		!strings.Contains(msg, `"k-bad"`) || !strings.Contains(msg, "db 0") {
		t.Errorf("error %q", msg)
	}
	if got := lrange(t, c, "k-good"); len(got) != 2 {
		t.Fatalf("k-good has %d elements; want 2", len(got))
	}
	// All events to the bad key: the error itself.
	err = o.Write(context.Background(), evs[1:2])
	if err == nil || errors.As(err, &be) || !strings.Contains(err.Error(), "WRONGTYPE") {
		t.Fatalf("Write = %v", err)
	}
}

// TestCongestion: the batch is held while the list is over the threshold and
// written once it is drained.
func TestCongestion(t *testing.T) {
	srv := redistest.Start(t)
	c := client(t, srv)
	ctx := context.Background()
	if err := c.RPush(ctx, "q", "1", "2", "3", "4", "5", "6").Err(); err != nil {
		t.Fatal(err)
	}
	o := newOutput(t, srv, `key = "q"
data_type = "list"
congestion_threshold = 5
congestion_interval = 1`)
	connect(t, o)
	done := make(chan error, 1)
	go func() { done <- o.Write(ctx, events(10, nil)) }()
	select {
	case err := <-done:
		t.Fatalf("Write returned %v while the list was congested", err)
	case <-time.After(1500 * time.Millisecond):
	}
	if n := c.LLen(ctx, "q").Val(); n != 6 {
		t.Fatalf("list length %d while held; want 6", n)
	}
	if err := c.Del(ctx, "q").Err(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Write still held after the list was drained")
	}
	if n := c.LLen(ctx, "q").Val(); n != 10 {
		t.Fatalf("list length %d; want 10", n)
	}
	// A held Write gives up when its context ends.
	if err := c.RPush(ctx, "q", "x").Err(); err != nil {
		t.Fatal(err)
	}
	o.checked = map[string]time.Time{}
	cctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if err := o.Write(cctx, events(1, nil)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Write = %v; want the context's error", err)
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
host = ["a:0"]`, "bad port"},
		{`key = "q"
data_type = "list"
host = []`, "at least one host"},
		{`key = "q"
data_type = "list"
timeout = 0`, "timeout"},
	} {
		diags := plugintest.BuildDiags(t, ir.Output, "redis", tc.opts)
		if !diags.HasErrors() || !strings.Contains(diags.Error(), tc.want) {
			t.Errorf("%s: diags %v; want %q", tc.opts, diags, tc.want)
		}
	}
	diags := plugintest.BuildDiags(t, ir.Output, "redis", `key = "q"
data_type = "list"
host = "10.0.0.1:7000"`)
	if diags.HasErrors() {
		t.Errorf("a single host string: %v", diags)
	}
	addrs, err := parseHosts(NewOptionsForTest(`host = ["a", "b:1", "[::1]"]
key = "q"
data_type = "list"`).Host, 6379)
	if err != nil || strings.Join(addrs, " ") != "a:6379 b:1 [::1]:6379" {
		t.Errorf("parseHosts = %v, %v", addrs, err)
	}
}

func NewOptionsForTest(src string) Options {
	var o Options
	o.Defaults()
	if err := plugintest.DecodeOptions(&o, []byte(src)); err != nil {
		panic(err)
	}
	return o
}

// BenchmarkWrite writes batches of 500 events of about 300 bytes to one list.
func BenchmarkWrite(b *testing.B) {
	srv := redistest.Start(b)
	o := newOutput(b, srv, `key = "bench"
data_type = "list"`)
	connect(b, o)
	evs := events(500, func(i int, e *event.Event) {
		_ = e.Set(event.MustRef("message"), strings.Repeat("x", 200))
		_ = e.Set(event.MustRef("[host][name]"), "web-01")
	})
	c := client(b, srv)
	ctx := context.Background()
	cpu0, err := srv.CPU()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if err := o.Write(ctx, evs); err != nil {
			b.Fatal(err)
		}
		if i%200 == 199 {
			b.StopTimer()
			c.Del(ctx, "bench")
			b.StartTimer()
		}
	}
	b.ReportMetric(float64(b.N*len(evs))/b.Elapsed().Seconds(), "events/s")
	if cpu1, err := srv.CPU(); err == nil { // includes the DELs, a small part
		b.ReportMetric(float64((cpu1-cpu0).Nanoseconds())/float64(b.N*len(evs)), "redis-cpu-ns/event")
	}
}

// TestPipelineRedisRestart stops Redis (with an append-only file, so the list
// survives) in the middle of a run through the engine: the output holds its
// batch, reconnects after the restart, and every event ends in the list at
// least once.
func TestPipelineRedisRestart(t *testing.T) {
	srv := redistest.Start(t, "--appendonly", "yes", "--appendfsync", "always")
	const n = 100000
	src := fmt.Sprintf(`
input "generator" "gen" {
  message = "hello"
  count   = %d
}

output "redis" "out" {
  host      = [%q]
  key       = "q"
  data_type = "list"
  timeout   = 1
}
`, n, srv.Addr())
	cfg, diags := dsl.LoadSource("redis.hcl", []byte(src))
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	p, diags := engine.Build(cfg.Pipelines[0], engine.Default, engine.Settings{Workers: 1, BatchSize: 50, Logger: slog.New(slog.DiscardHandler)})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	c := client(t, srv)
	deadline := time.Now().Add(20 * time.Second)
	for c.LLen(ctx, "q").Val() < 1000 {
		if time.Now().After(deadline) {
			t.Fatal("no progress before the restart")
		}
		time.Sleep(time.Millisecond)
	}
	srv.Stop()
	select {
	case <-done:
		t.Fatal("the pipeline finished before Redis was stopped")
	default:
	}
	time.Sleep(time.Second)
	srv.Restart()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	got := lrange(t, client(t, srv), "q")
	if len(got) < n {
		t.Fatalf("list has %d elements; want at least %d", len(got), n)
	}
	seen := map[float64]int{}
	for _, s := range got {
		seen[decode(t, s)["event"].(map[string]any)["sequence"].(float64)]++
	}
	if len(seen) != n {
		t.Fatalf("%d distinct events; want %d", len(seen), n)
	}
	t.Logf("%d elements for %d events: %d duplicates", len(got), n, len(got)-n)
}

// TestTLS talks to a real redis-server over TLS with client certificates: the
// right CA and certificate deliver; a wrong CA or a missing client certificate
// is a clear connection error.
func TestTLS(t *testing.T) {
	ca := testpki.NewCA(t, "redis CA")
	srvPair := ca.Server("redis")
	cli := ca.Client("shipper")
	other := testpki.NewCA(t, "other CA")
	srv := redistest.StartTLS(t, ca.File, srvPair.CertFile, srvPair.KeyFile, true)
	base := fmt.Sprintf("host = %q\nkey = \"q\"\ndata_type = \"list\"\nssl_enabled = true\n", srv.TLSAddr)
	build := func(opts string) *Output {
		o := plugintest.MustNew(t, New, base+opts, engine.Resources{Codec: jsonCodec(t), Logger: slog.New(slog.DiscardHandler)})
		t.Cleanup(func() { _ = o.Close(context.Background()) })
		return o
	}
	good := build(fmt.Sprintf("ssl_certificate_authorities = [%q]\nssl_certificate = %q\nssl_key = %q\n", ca.File, cli.CertFile, cli.KeyFile))
	connect(t, good)
	if err := good.Write(context.Background(), events(5, nil)); err != nil {
		t.Fatal(err)
	}
	if got := lrange(t, client(t, srv.Server), "q"); len(got) != 5 || decode(t, got[4])["message"] != "m4" {
		t.Fatalf("list = %q; want 5 events", got)
	}
	for _, tc := range []struct{ name, opts, want string }{
		{"wrong CA", fmt.Sprintf("ssl_certificate_authorities = [%q]\nssl_certificate = %q\nssl_key = %q\n", other.File, cli.CertFile, cli.KeyFile), "ssl_certificate_authorities"},
		{"no client certificate", fmt.Sprintf("ssl_certificate_authorities = [%q]\n", ca.File), srv.TLSAddr},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := build(tc.opts).Connect(ctx)
		cancel()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Connect = %v; want an error mentioning %q", tc.name, err, tc.want)
		}
	}
}
