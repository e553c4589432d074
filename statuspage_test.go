package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/pipelined/pipeline/dsl"
	"github.com/pipelined/pipeline/dsl/ir"
	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/dlq"
	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/engine/monitor"
)

// chromium finds Debian's chromium: under CI=true its absence fails the
// test.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium is not installed (Debian package chromium; .ci/run installs it)")
	}
	t.Skip("chromium is not installed (apt-get install chromium)")
	return ""
}

// topologyLive loads the reference topology (examples/topology) with its
// inputs replaced by generators and its outputs by null outputs, keeping
// every plugin id, so it runs here without Filebeat, Redis or
// Elasticsearch.
func topologyLive(t *testing.T) []*engine.Pipeline {
	t.Helper()
	cfg, diags := dsl.LoadPipelinesYML(filepath.Join("examples", "topology", "pipelines.yml"))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	body := func(src string) hcl.Body {
		f, d := hclsyntax.ParseConfig([]byte(src), "live.hcl", hcl.InitialPos)
		if d.HasErrors() {
			t.Fatal(d)
		}
		return f.Body
	}
	var out []*engine.Pipeline
	for _, p := range cfg.Pipelines {
		q := *p
		q.Inputs = nil
		for _, in := range p.Inputs {
			q.Inputs = append(q.Inputs, &ir.Plugin{Kind: ir.Input, Type: "generator", ID: in.ID, Range: in.Range, TypeRange: in.TypeRange,
				Body: body("lines = [\"live event\"]\ncount = 0\n")})
		}
		q.Outputs = nil
		for _, o := range p.Plugins() {
			if o.Kind != ir.Output {
				continue
			}
			q.Outputs = append(q.Outputs, &ir.Plugin{Kind: ir.Output, Type: "null", ID: o.ID, Range: o.Range, TypeRange: o.TypeRange, Body: body("")})
		}
		pl, d := engine.Build(&q, engine.Default, engine.Settings{Workers: 1, DataDir: t.TempDir()})
		if d.HasErrors() {
			t.Fatal(d)
		}
		out = append(out, pl)
	}
	return out
}

// checksLive is a pipeline for the status page's extras: a beats input
// (on a free loopback port, returned) for connected agents, a generator
// whose lines grok fails on for failure examples, and (by the caller) a
// dead letter queue with one event.
func checksLive(t *testing.T) (*engine.Pipeline, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().(*net.TCPAddr)
	ln.Close()
	conf := `
input {
  beats { id => "agents" host => "127.0.0.1" port => ` + strconv.Itoa(addr.Port) + ` }
  generator { id => "gen_bad" lines => ["not a number"] count => 0 }
}
filter { grok { id => "parse" match => { "message" => "^%{INT:n}$" } } }
output { null { id => "sink_checks" } }
`
	cfg, diags := dsl.LoadSource("checks.conf", []byte(conf))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	p := *cfg.Pipelines[0]
	p.Name = "checks"
	pl, d := engine.Build(&p, engine.Default, engine.Settings{Workers: 1, DataDir: t.TempDir()})
	if d.HasErrors() {
		t.Fatal(d)
	}
	return pl, addr.String()
}

// TestStatusPageInChromium opens the status page in headless Chromium
// while the reference topology's pipelines run, waits until every plugin
// box shows a non-zero rate, checks the plugin ids in the DOM and that
// every request stayed on the API's loopback origin, and saves a
// screenshot.
func TestStatusPageInChromium(t *testing.T) {
	bin := chromium(t)
	pls := topologyLive(t)
	checks, beatsAddr := checksLive(t)
	pls = append(pls, checks)
	dl, err := dlq.Open(dlq.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer dl.Close()
	if err := dl.Put(event.NewMessage("refused"), engine.DeadLetterSource{Pipeline: "checks", PluginID: "sink_checks", PluginType: "null"}, "test"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	runCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, pl := range pls {
		wg.Add(1)
		go func() { defer wg.Done(); _ = pl.Run(runCtx) }()
	}
	defer func() { stop(); wg.Wait() }()
	// Rate history sampled every 200 ms, so the sparklines fill in a
	// second.
	srv := monitor.New(monitor.Options{Version: "test", HistoryInterval: 200 * time.Millisecond}, func() []monitor.Source {
		var s []monitor.Source
		for _, pl := range pls {
			src := monitor.Source{Pipeline: pl}
			if pl == checks {
				src.DLQ = dl
			}
			s = append(s, src)
		}
		return s
	})
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()

	// The page's files, without a browser: embedded, no external URL.
	resp, err := http.Get(ts.URL + "/status/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'self'") {
		t.Fatalf("/status/: %s %v", resp.Status, resp.Header)
	}

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(bin), chromedp.NoSandbox,
		chromedp.Flag("headless", true), chromedp.Flag("disable-gpu", true), chromedp.WindowSize(1280, 800),
		// Nothing leaves loopback: no proxy lookups, no component updates.
		chromedp.Flag("no-proxy-server", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(browserProfile(t)))
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	defer acancel()
	bctx, bcancel := chromedp.NewContext(actx)
	defer bcancel()
	// A connected agent (a TCP connection is one from the accept on).
	var agent net.Conn
	for i := 0; i < 100; i++ {
		if agent, err = net.Dial("tcp", beatsAddr); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond) // the input is still binding
	}
	if err != nil {
		t.Fatal(err)
	}
	defer agent.Close()
	var ids, resources []string
	var extras map[string]any
	var shot []byte
	err = chromedp.Run(bctx,
		chromedp.Navigate(ts.URL+"/status/"),
		// Rates need two polls (a second apart): wait until every box
		// shows events flowing.
		chromedp.Poll(`(() => { const b = [...document.querySelectorAll('section.pipeline:not([data-pipeline="checks"]) .plugin[data-plugin-id]')];
			return b.length >= 6 && b.every(x => parseFloat(x.dataset.rate) > 0); })()`, nil, chromedp.WithPollingTimeout(60*time.Second)),
		// The extras: every box's sparkline with a few samples, a rising
		// one, the connected agent, grok's failure examples, the DLQ size.
		chromedp.Poll(`(() => { const b = [...document.querySelectorAll('.plugin[data-plugin-id]')];
			return b.length >= 10 && b.every(x => parseInt((x.querySelector('svg.sparkline') || {dataset: {}}).dataset.points || "0") >= 3)
				&& document.querySelector('.failure-example[data-plugin-id="parse"]') !== null
				&& document.querySelector('.plugin[data-plugin-id="agents"] .connections[data-count="1"]') !== null; })()`,
			nil, chromedp.WithPollingTimeout(60*time.Second)),
		chromedp.Evaluate(`[...document.querySelectorAll('.plugin[data-plugin-id]')].map(x => x.dataset.pluginId)`, &ids),
		chromedp.Evaluate(`(() => {
			const sec = name => document.querySelector('section.pipeline[data-pipeline="' + name + '"]');
			const ex = document.querySelector('.failure-example[data-plugin-id="parse"]');
			const gen = document.querySelector('.plugin[data-plugin-id="gen_bad"] svg.sparkline polyline');
			return {
				dlqChecks: sec("checks").querySelector('.dlq').dataset.bytes,
				dlqMain: sec("main").querySelector('.dlq').textContent,
				queueMain: sec("main").querySelector('.queue').textContent,
				queueAge: sec("main").querySelector('.queue').dataset.ageMillis,
				exampleTag: ex.dataset.tag,
				exampleText: ex.querySelector('pre').textContent,
				genPoints: gen.getAttribute('points'),
				agents: document.querySelector('.plugin[data-plugin-id="agents"] .connections').textContent,
				agentsTitle: document.querySelector('.plugin[data-plugin-id="agents"] .connections').title,
			}; })()`, &extras),
		// Every URL the page loaded (its files, the API polls).
		chromedp.Evaluate(`[location.href, ...performance.getEntriesByType('resource').map(e => e.name)]`, &resources),
		chromedp.FullScreenshot(&shot, 100),
	)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(ids, " ")
	for _, id := range []string{"beats_1", "redis_1", "redis_2", "elasticsearch_1", "stdout_1", "agents", "gen_bad", "parse", "sink_checks"} {
		if !strings.Contains(" "+got+" ", " "+id+" ") {
			t.Errorf("plugin id %s not in the page's graph (%s)", id, got)
		}
	}
	if b, _ := strconv.Atoi(fmt.Sprint(extras["dlqChecks"])); b <= 0 {
		t.Errorf("DLQ size on the page: %v", extras["dlqChecks"])
	}
	// The queue's depth and, next to it, its oldest event's age.
	if a, err := strconv.Atoi(fmt.Sprint(extras["queueAge"])); err != nil || a < 0 ||
		!regexp.MustCompile(`^queue: memory, [0-9]+ events, oldest [0-9]+\.[0-9] s$`).MatchString(fmt.Sprint(extras["queueMain"])) {
		t.Errorf("main's queue on the page: %v (age %v)", extras["queueMain"], extras["queueAge"])
	}
	if extras["dlqMain"] != "dead letter queue: off" {
		t.Errorf("main's DLQ: %v", extras["dlqMain"])
	}
	if extras["exampleTag"] != "_grokparsefailure" || !strings.Contains(fmt.Sprint(extras["exampleText"]), `"message": "not a number"`) {
		t.Errorf("grok failure example: %v / %v", extras["exampleTag"], extras["exampleText"])
	}
	// The generator's sparkline is not flat at zero (y = 23).
	if pts := fmt.Sprint(extras["genPoints"]); !regexp.MustCompile(`,([0-9]|1[0-9]|2[0-2])\.`).MatchString(pts) {
		t.Errorf("gen_bad's sparkline is flat: %s", pts)
	}
	if extras["agents"] != "1 connected" || !strings.HasPrefix(fmt.Sprint(extras["agentsTitle"]), "127.0.0.1:") {
		t.Errorf("agents: %v (%v)", extras["agents"], extras["agentsTitle"])
	}
	polled := false
	for _, r := range resources {
		if !strings.HasPrefix(r, ts.URL+"/") {
			t.Errorf("the page loaded %s, not from the API's loopback origin %s", r, ts.URL)
		}
		polled = polled || strings.HasPrefix(r, ts.URL+"/_node/stats/pipelines")
	}
	if !polled {
		t.Errorf("the page never polled the API: %v", resources)
	}
	if len(shot) < 1000 {
		t.Fatalf("screenshot of %d bytes", len(shot))
	}
	path := filepath.Join(t.TempDir(), "status.png")
	if dir := os.Getenv("STATUS_SCREENSHOT_DIR"); dir != "" {
		path = filepath.Join(dir, "status.png")
	}
	if err := os.WriteFile(path, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s (%s bytes)", path, strconv.Itoa(len(shot)))
}

// browserProfile is a directory for Chromium's profile. Chromium's helper
// processes may still write into it for a moment after the browser was
// killed, which makes t.TempDir's cleanup fail the test ("directory not
// empty"); this one is removed with a few retries and never fails it.
func browserProfile(t *testing.T) string {
	dir, err := os.MkdirTemp("", "pipeline-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for i := 0; i < 20; i++ {
			if os.RemoveAll(dir) == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Logf("chromium profile %s left behind", dir)
	})
	return dir
}
