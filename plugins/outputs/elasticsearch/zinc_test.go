package elasticsearch

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/plugins/internal/testkit/testpki"
	"github.com/pipelined/pipeline/plugins/internal/testkit/zinctest"
)

// zincOptions are the output options for a zinctest server (ZincSearch takes
// no gzip bodies).
func zincOptions(s *zinctest.Server, extra string) string {
	return fmt.Sprintf("  hosts = [%q]\n  user = %q\n  password = %q\n  compression_level = 0\n%s",
		s.URL(), zinctest.User, zinctest.Password, extra)
}

// Test100kDailyIndices: 100,000 events whose @timestamps span four UTC days
// (written with a +05:00 offset, so a local date would differ) land in
// from-redis-YYYY.MM.dd indices chosen by @timestamp in UTC, all found by
// search.
func Test100kDailyIndices(t *testing.T) {
	t.Parallel()
	zs := zinctest.Start(t)
	const n = 100_000
	base := time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC)
	step := 4 * 24 * time.Hour / n
	plus5 := time.FixedZone("+05:00", 5*3600)
	stamp := func(i int) time.Time { return base.Add(time.Duration(i) * step).In(plus5) }
	want := map[string]int{}
	for i := range n {
		want["from-redis-"+stamp(i).UTC().Format("2006.01.02")]++
	}
	if len(want) < 3 {
		t.Fatalf("events span %d days; want at least 3", len(want))
	}
	src := &source{n: n, batch: 1000, mk: func(i int) *event.Event {
		e := event.NewAt(stamp(i))
		_ = e.Set(seqRef, int64(i))
		_ = e.Set(event.MustRef("message"), fmt.Sprintf("event %d from redis", i))
		_ = e.Set(event.MustRef("[@metadata][source]"), "redis")
		return e
	}}
	start := time.Now()
	r := startPipeline(t, src, zincOptions(zs, `  index = "from-redis-%{+YYYY.MM.dd}"`),
		engine.Settings{Workers: 2, BatchSize: 1000})
	r.wait(t, 120*time.Second)
	t.Logf("delivered in %v", time.Since(start))
	st := r.p.Stats()
	if st.Out.Load() != n || st.Failed.Load() != 0 || src.acked.Load() != n {
		t.Fatalf("out %d failed %d acked %d; want %d delivered", st.Out.Load(), st.Failed.Load(), src.acked.Load(), n)
	}
	names := make([]string, 0, len(want))
	for name := range want {
		names = append(names, name)
	}
	sort.Strings(names)
	total := 0
	for _, name := range names {
		got, err := zs.WaitCount(name, want[name], 60*time.Second)
		if err != nil || got != want[name] {
			t.Errorf("index %s: search finds %d (%v); want %d", name, got, err, want[name])
		}
		total += got
	}
	if total != n {
		t.Errorf("found %d documents in all; want %d", total, n)
	}
	t.Logf("indices: %v", want)
	// A day the events do not cover has no index.
	if got, err := zs.Count("from-redis-2026.11.20"); err != nil || got != 0 {
		t.Errorf("from-redis-2026.11.20: %d (%v); want none", got, err)
	}
}

// Outage: ZincSearch stops for 5 s mid-stream and comes back on the same port
// with the same data. The server is stopped (SIGTERM, a graceful stop) and
// restarted rather than frozen with SIGSTOP: a restart is the outage operators
// meet (a node restarting: connections refused, then a new process), and a
// graceful stop keeps what the server acknowledged, so any missing document
// would be ours. TestOutageFrozen covers the frozen server.
func TestOutageRestart(t *testing.T) {
	testOutage(t, false)
}

// TestOutageFrozen: the server is frozen (SIGSTOP) for 5 s: requests hang
// until the output's timeout, then are retried.
func TestOutageFrozen(t *testing.T) {
	testOutage(t, true)
}

func testOutage(t *testing.T, freeze bool) {
	t.Parallel()
	zs := zinctest.Start(t)
	const n, batch = 20_000, 250
	started := make(chan struct{})
	outageOver := make(chan struct{})
	src := &source{n: n, batch: batch, mk: func(i int) *event.Event {
		e := event.New()
		_ = e.Set(seqRef, int64(i))
		_ = e.Set(event.MustRef("message"), fmt.Sprintf("event %d", i))
		return e
	}, pace: func(i int) {
		if i == 5000 {
			close(started)
		}
		time.Sleep(20 * time.Millisecond) // ~12,500 events/s: the stream outlives the outage
	}}
	// document_id makes a retried event overwrite itself, so the count is
	// exact whatever the server stored of a request it did not answer.
	r := startPipeline(t, src, zincOptions(zs, "  index = \"outage\"\n  document_id = \"%{seq}\"\n  timeout = 1"),
		engine.Settings{Workers: 2, BatchSize: batch, RetryInitial: 50 * time.Millisecond, RetryMax: time.Second})
	select {
	case <-started:
	case <-time.After(30 * time.Second):
		t.Fatal("the stream did not start")
	}
	if freeze {
		zs.Pause()
	} else {
		zs.Stop()
	}
	time.Sleep(time.Second)
	emitted1, out1 := src.emitted.Load(), r.p.Stats().Out.Load()
	time.Sleep(4 * time.Second)
	emitted2, out2 := src.emitted.Load(), r.p.Stats().Out.Load()
	if freeze {
		zs.Resume()
	} else {
		zs.Restart()
	}
	close(outageOver)
	r.wait(t, 120*time.Second)

	t.Logf("during the outage: emitted %d → %d, delivered %d → %d; longest emit %v",
		emitted1, emitted2, out1, out2, time.Duration(src.maxBlock.Load()))
	// Back-pressure: the input could not hand over anything for 4 s and its
	// emit blocked for seconds; what it emitted but not delivered is bounded
	// by the pipeline's few batches in flight.
	if emitted2 != emitted1 || out2 != out1 {
		t.Errorf("events moved while the server was down: emitted %d → %d, delivered %d → %d", emitted1, emitted2, out1, out2)
	}
	// queue (2 workers) + one per worker + the output channel (4) + one
	// merged Write in the sink (up to 8) + one in the input's emit.
	if inflight, limit := emitted2-out2, int64((2+2+4+8+1)*batch); inflight > limit {
		t.Errorf("%d events in flight during the outage; want at most %d", inflight, limit)
	}
	if blocked := time.Duration(src.maxBlock.Load()); blocked < 3*time.Second {
		t.Errorf("the longest emit blocked %v; want the input held for seconds", blocked)
	}
	st := r.p.Stats()
	if st.Out.Load() != n || st.Failed.Load() != 0 || src.acked.Load() != n {
		t.Errorf("out %d failed %d acked %d; want %d", st.Out.Load(), st.Failed.Load(), src.acked.Load(), n)
	}
	if st.Retries.Load() == 0 {
		t.Error("no retries recorded")
	}
	if !strings.Contains(r.log.String(), "retrying") {
		t.Errorf("the outage was not logged:\n%s", tail(r.log.String(), 3000))
	}
	got, err := zs.WaitCount("outage", n, 180*time.Second) // ZincSearch indexes its WAL slowly on a loaded machine
	if err != nil || got != n {
		t.Errorf("search finds %d (%v); want %d: events were lost", got, err, n)
	}
}

// TestTLSBasicAuth: the server behind TLS with a CA generated here, with
// basic authentication: the reference deployment's options (legacy ssl and
// cacert) deliver everything; scheme-less hosts with ssl_enabled use https;
// a wrong CA and a wrong password are refused with clear errors.
func TestTLSBasicAuth(t *testing.T) {
	t.Parallel()
	zs := zinctest.Start(t)
	good := testpki.NewCA(t, "good")
	wrong := testpki.NewCA(t, "wrong")
	base := zs.TLSProxy(t, good)

	t.Run("deliver", func(t *testing.T) {
		const n = 3000
		src := &source{n: n, batch: 500, mk: func(i int) *event.Event {
			e := event.New()
			_ = e.Set(seqRef, int64(i))
			return e
		}}
		r := startPipeline(t, src, fmt.Sprintf(`
  hosts    = [%q]
  index    = "tls-%%{+YYYY.MM.dd}"
  user     = %q
  password = %q
  ssl      = true
  cacert   = %q
  compression_level = 0
`, base, zinctest.User, zinctest.Password, good.File), engine.Settings{Workers: 2, BatchSize: 500})
		r.wait(t, 60*time.Second)
		if got := r.p.Stats().Out.Load(); got != n {
			t.Fatalf("delivered %d; want %d", got, n)
		}
		idx := "tls-" + time.Now().UTC().Format("2006.01.02")
		if got, err := zs.WaitCount(idx, n, 60*time.Second); err != nil || got != n {
			// Around midnight UTC the events may straddle two days.
			y := "tls-" + time.Now().UTC().Add(-time.Hour).Format("2006.01.02")
			got2, _ := zs.Count(y)
			if y == idx || got+got2 != n {
				t.Errorf("search finds %d (%v); want %d", got, err, n)
			}
		}
	})

	u, _ := url.Parse(base)
	connect := func(o Options) error {
		t.Helper()
		out, err := New(o, engine.Resources{})
		if err != nil {
			t.Fatal(err)
		}
		defer out.Close(context.Background())
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return out.Connect(ctx)
	}
	opts := func(mod func(*Options)) Options {
		var o Options
		o.Defaults()
		o.Hosts = []string{base}
		o.Index = "tls-connect" // an index: ZincSearch's version has no data streams
		o.User, o.Password = zinctest.User, zinctest.Password
		o.SSLCertificateAuthorities = []string{good.File}
		o.CompressionLevel = 0
		mod(&o)
		return o
	}

	t.Run("scheme-less host with ssl_enabled", func(t *testing.T) {
		on := true
		if err := connect(opts(func(o *Options) { o.Hosts = []string{u.Host + "/es"}; o.SSLEnabled = &on })); err != nil {
			t.Fatalf("connect: %v", err)
		}
	})
	t.Run("wrong CA", func(t *testing.T) {
		err := connect(opts(func(o *Options) { o.SSLCertificateAuthorities = []string{wrong.File} }))
		if err == nil {
			t.Fatal("connected with a CA that did not sign the server's certificate")
		}
		msg := err.Error()
		if !strings.Contains(msg, "not signed by a CA in ssl_certificate_authorities "+wrong.File) || !strings.Contains(msg, u.Host) {
			t.Errorf("unclear error: %v", err)
		}
		if !errors.Is(err, engine.ErrNotConnected) {
			t.Errorf("error %v does not wrap ErrNotConnected", err)
		}
		t.Logf("wrong CA: %v", err)
	})
	t.Run("wrong CA in a pipeline", func(t *testing.T) {
		// The engine keeps retrying Connect, logs why, and delivers nothing.
		src := &source{n: 10, batch: 10, mk: func(int) *event.Event { return event.New() }}
		r := startPipeline(t, src, fmt.Sprintf("  hosts = [%q]\n  cacert = %q\n  compression_level = 0", base, wrong.File),
			engine.Settings{Workers: 1, BatchSize: 10})
		deadline := time.Now().Add(10 * time.Second)
		for !strings.Contains(r.log.String(), "not signed by a CA in cacert") && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		if !strings.Contains(r.log.String(), "not signed by a CA in cacert") {
			t.Fatalf("the log does not explain the refused certificate:\n%s", r.log)
		}
		if got := r.p.Stats().Out.Load(); got != 0 {
			t.Errorf("delivered %d events over an untrusted connection", got)
		}
		for _, line := range strings.Split(r.log.String(), "\n") {
			if strings.Contains(line, "not signed") {
				t.Logf("engine log: %s", line)
				break
			}
		}
	})
	t.Run("wrong password", func(t *testing.T) {
		// ZincSearch answers GET / without checking credentials (Elasticsearch
		// checks them), so the refusal comes with the first bulk request.
		out, err := New(opts(func(o *Options) { o.Password = "nope" }), engine.Resources{})
		if err != nil {
			t.Fatal(err)
		}
		defer out.Close(context.Background())
		ctx := context.Background()
		if err = out.Connect(ctx); err == nil {
			err = out.Write(ctx, []*event.Event{event.New()})
		}
		t.Logf("wrong password: %v", err)
		if err == nil || !strings.Contains(err.Error(), "401") || !strings.Contains(err.Error(), "authentication failed") {
			t.Fatalf("err = %v; want a 401 naming authentication", err)
		}
		if strings.Contains(err.Error(), "nope") {
			t.Errorf("the error shows the password: %v", err)
		}
	})
	t.Run("verification none", func(t *testing.T) {
		if err := connect(opts(func(o *Options) { o.SSLCertificateAuthorities = nil; o.SSLVerificationMode = "none" })); err != nil {
			t.Fatalf("connect: %v", err)
		}
	})
}

// TestGuardRefusesPlaintext: with TLS on, the client's transport refuses an
// http request before anything is sent.
func TestGuardRefusesPlaintext(t *testing.T) {
	called := false
	g := &guard{tlsOn: true, next: roundTripFunc(func(*http.Request) (*http.Response, error) {
		called = true
		return nil, errors.New("sent")
	})}
	req, _ := http.NewRequest("POST", "http://127.0.0.1:9/_bulk", strings.NewReader("x"))
	_, err := g.RoundTrip(req)
	if err == nil || called || !strings.Contains(err.Error(), "plaintext") {
		t.Fatalf("err = %v, sent = %v; want a refusal and nothing sent", err, called)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
