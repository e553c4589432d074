package e2e_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pipelined/pipeline/engine/enginetest/logwatch"
)

// p2pDocs reads a json_lines file into documents (nil when missing).
func p2pDocs(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var docs []map[string]any
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var d map[string]any
		if err := json.Unmarshal(sc.Bytes(), &d); err != nil {
			t.Fatalf("%s: line %q: %v", path, sc.Text(), err)
		}
		docs = append(docs, d)
	}
	return docs
}

// TestPipelineToPipelinePatterns: the four patterns of Logstash's
// pipeline-to-pipeline documentation — distributor, output isolator (with
// persisted queues), forked path and collector — run from one pipelines.yml
// (testdata/p2p/patterns.yml) by the built binary. `check` finds nothing to
// say; every event reaches exactly the pipelines its pattern sends it to,
// with that pipeline's changes only, @metadata crossing pipelines; SIGTERM
// then stops the process cleanly (exit 0) without a duplicate or a loss.
func TestPipelineToPipelinePatterns(t *testing.T) {
	bin := pipelineBinary(t)
	dir := t.TempDir()
	yml, err := filepath.Abs("testdata/p2p/patterns.yml")
	if err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "P2P_OUT="+dir)

	check := exec.Command(bin, "check", "--pipelines", yml)
	check.Env = env
	out, err := check.CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "Configuration OK" {
		t.Fatalf("check: %v\n%s", err, out)
	}

	cmd := exec.Command(bin, "run", "--pipelines", yml, "--path.data", filepath.Join(dir, "data"), "--api.enabled=false")
	cmd.Env = env
	proc := logwatch.Start(t, cmd)

	want := map[string]int{"weblogs": 100, "syslog": 100, "fallback": 100, "es": 500, "http": 500,
		"internal-es": 200, "partner-s3": 200, "common": 300}
	count := func() map[string]int {
		got := map[string]int{}
		for name := range want {
			got[name] = topoCountLines(filepath.Join(dir, name+".jsonl"))
		}
		return got
	}
	topoWait(t, 60*time.Second, func() string { return fmt.Sprintf("lines per output %v; want %v\n%s", count(), want, proc.String()) },
		func() bool {
			got := count()
			for name, n := range want {
				if got[name] < n {
					return false
				}
			}
			return true
		})
	if err := proc.Exit(t, syscall.SIGTERM, 30*time.Second); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, proc.String())
	}
	if got := count(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("lines per output %v; want exactly %v", got, want)
	}
	// A sender may wait for its receiver to start on a loaded machine, and
	// says so after a second: that warning is expected, no other.
	for _, l := range strings.Split(proc.String(), "\n") {
		if (strings.Contains(l, "level=WARN") || strings.Contains(l, "level=ERROR")) && !strings.Contains(l, "waiting for a pipeline to listen") {
			t.Errorf("unexpected warning or error: %s", l)
		}
	}

	docs := func(name string) []map[string]any { return p2pDocs(t, filepath.Join(dir, name+".jsonl")) }
	tags := func(d map[string]any) string { b, _ := json.Marshal(d["tags"]); return string(b) }
	seqs := func(ds []map[string]any) []int {
		var out []int
		for _, d := range ds {
			ev, _ := d["event"].(map[string]any)
			n, _ := ev["sequence"].(float64)
			out = append(out, int(n))
		}
		sort.Ints(out)
		return out
	}

	// Distributor: each type in its own pipeline, with that pipeline's tag;
	// the fallback pipeline's input adds its tags and add_field (from the
	// sender's @metadata) as any input does.
	for name, wantType := range map[string]string{"weblogs": "apache", "syslog": "system", "fallback": "other"} {
		wantTags := map[string]string{"weblogs": `["weblog"]`, "syslog": `["syslog"]`, "fallback": `["fallback"]`}[name]
		for _, d := range docs(name) {
			if d["type"] != wantType || tags(d) != wantTags {
				t.Fatalf("%s: %v; want type %s, tags %s", name, d, wantType, wantTags)
			}
			if name == "fallback" && d["routed_by"] != "beats-server" {
				t.Fatalf("fallback: %v; want routed_by beats-server (the input's add_field)", d)
			}
		}
	}
	// Output isolator: both outputs get every event once.
	for _, name := range []string{"es", "http"} {
		s := seqs(docs(name))
		for i, n := range s {
			if n != i {
				t.Fatalf("%s: sequences %v…; want 0…499 once each", name, s[:min(len(s), 10)])
			}
		}
	}
	// Forked path: the full event internally, the redacted one for the
	// partner; [@metadata][origin] set upstream reached both, and no
	// metadata is written.
	for _, name := range []string{"internal-es", "partner-s3"} {
		_, wantSensitive := map[string]bool{"internal-es": true}[name]
		for _, d := range docs(name) {
			_, sensitive := d["sensitive-data"]
			if sensitive != wantSensitive || d["origin"] != "forked-intake" || d["@metadata"] != nil {
				t.Fatalf("%s: %v; want sensitive-data %v and origin forked-intake", name, d, wantSensitive)
			}
		}
	}
	// Collector: both sources, redacted by the common pipeline.
	bySource := map[string]int{}
	for _, d := range docs("common") {
		if _, ok := d["sensitive-data"]; ok {
			t.Fatalf("common: %v still has sensitive-data", d)
		}
		bySource[fmt.Sprint(d["message"])]++
	}
	if bySource["from beats"] != 150 || bySource["from kafka"] != 150 {
		t.Errorf("common: by source %v; want 150 each", bySource)
	}
}

// TestPipelineToPipelineCrash: beats → intake (persisted queue) → pipeline
// output → sink (persisted queue, small) → file, from testdata/p2p/crash.yml
// run by the built binary. The file is a FIFO the test stops reading, so the
// sink's queue fills and the intake's queue holds the rest; the process is
// killed with SIGKILL and started again on the same queues. Every event
// whose batch the beats client saw acknowledged comes out of the sink at
// least once: an event leaves the intake's queue only once the sink's queue
// has written it.
func TestPipelineToPipelineCrash(t *testing.T) {
	bin := pipelineBinary(t)
	dir := t.TempDir()
	sink := newSeqSink(t, dir)
	yml, err := filepath.Abs("testdata/p2p/crash.yml")
	if err != nil {
		t.Fatal(err)
	}
	port := topoFreePort(t)
	data := filepath.Join(dir, "data")

	const backlog = "persisted queue holds events from a previous run"
	start := func() *logwatch.Process {
		cmd := exec.Command(bin, "run", "--pipelines", yml, "--path.data", data, "--api.enabled=false", "--log.level", "warn")
		cmd.Env = append(os.Environ(), fmt.Sprintf("P2P_PORT=%d", port), "P2P_FIFO="+sink.path)
		return logwatch.Start(t, cmd)
	}

	sink.hold() // the sink's output makes no progress
	reader1 := sink.read()
	p1 := start()
	acked := sendSeqs(t, port, 50, 200, map[string]any{"pad": strings.Repeat("x", 100)})
	time.Sleep(200 * time.Millisecond) // let the intake hand what fits to the sink
	if err := p1.Cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = p1.Err()
	sink.release()
	<-reader1
	atKill := sink.distinct()
	t.Logf("killed with %d events acknowledged to the client, %d written by the sink", acked, atKill)
	if atKill >= acked {
		t.Fatalf("all %d events were written before the kill; the queues were not exercised", acked)
	}

	reader2 := sink.read()
	p2 := start()
	sink.waitAll(acked, 90*time.Second)
	_ = p2.Cmd.Process.Signal(syscall.SIGTERM)
	_ = p2.Err()
	<-reader2
	// Both queues held events at the kill: the sink's (written, not yet
	// output) and the intake's (acknowledged to beats, not yet taken by
	// the full sink).
	for _, p := range []string{"intake", "sink"} {
		found := false
		for _, l := range strings.Split(p2.String(), "\n") {
			if strings.Contains(l, backlog) && strings.Contains(l, "pipeline="+p+" ") {
				found = true
				t.Logf("after the restart: %s", l[strings.Index(l, "pipeline="):])
			}
		}
		if !found {
			t.Errorf("pipeline %s found no backlog in its queue after the kill; log:\n%s", p, p2)
		}
	}
	t.Logf("all %d acknowledged events delivered after the restart; %d duplicates", acked, sink.duplicates())
}

// TestPipelineToPipelineReload: beats → intake → `pipeline` output → sink →
// file, from a pipelines.yml with automatic reload, while a beats client
// sends without pause. Changing the sink's file replaces the sink pipeline:
// the intake's output waits for the new one and nothing is lost; every event
// sent after the reload carries the new configuration's tag. A pipelines.yml
// adding a second pipeline on the sink's address is refused as a whole
// (Logstash: addresses are unique) and changes nothing. SIGTERM while events
// flow stops the intake before the sink, so everything acknowledged is
// written, once.
func TestPipelineToPipelineReload(t *testing.T) {
	bin := pipelineBinary(t)
	dir := t.TempDir()
	port := topoFreePort(t)
	out := filepath.Join(dir, "out.jsonl")
	yml := filepath.Join(dir, "pipelines.yml")
	pipelines := "- pipeline.id: intake\n  path.config: intake.conf\n- pipeline.id: sink\n  path.config: sink.conf\n"
	replaceFile(t, yml, pipelines)
	replaceFile(t, filepath.Join(dir, "intake.conf"), fmt.Sprintf(
		"input { beats { host => \"127.0.0.1\" port => %d } }\noutput { pipeline { send_to => [sink] } }\n", port))
	sink := func(filter string) string {
		return fmt.Sprintf("input { pipeline { address => sink } }\n%s\noutput { file { path => %q codec => json_lines } }\n", filter, out)
	}
	replaceFile(t, filepath.Join(dir, "sink.conf"), sink(""))

	cmd := exec.Command(bin, "run", "--pipelines", yml, "--path.data", filepath.Join(dir, "data"), "--api.enabled=false",
		"-r", "--config.reload.interval", "100ms")
	w := logwatch.Start(t, cmd)

	// The sender: batches of 50 until stopped; acked counts the events the
	// client saw acknowledged, in order.
	c := topoDialBeats(t, port, 60*time.Second)
	var mu sync.Mutex
	acked := 0
	stop := make(chan struct{})
	sent := make(chan error, 1)
	go func() {
		for b := 0; ; b++ {
			select {
			case <-stop:
				sent <- nil
				return
			default:
			}
			evs := make([]interface{}, 50)
			for j := range evs {
				evs[j] = map[string]interface{}{"seq": b*50 + j}
			}
			if n, err := c.Send(evs); err != nil || n != 50 {
				sent <- fmt.Errorf("batch %d: %d acked, %v", b, n, err)
				return
			}
			mu.Lock()
			acked += 50
			mu.Unlock()
		}
	}()
	ackedNow := func() int { mu.Lock(); defer mu.Unlock(); return acked }
	topoWait(t, 20*time.Second, func() string { return "no events acknowledged" }, func() bool { return ackedNow() >= 1000 })

	replaceFile(t, filepath.Join(dir, "sink.conf"), sink("filter { mutate { add_tag => [v2] } }"))
	w.Wait(t, `msg="pipeline reloaded" pipeline=sink`, 30*time.Second)
	// Every batch after the one that may have been acknowledged by the old
	// sink just before the reload, but counted by the sender only after
	// the log line, went to the new sink.
	afterReload := ackedNow() + 50
	topoWait(t, 20*time.Second, func() string { return "nothing acknowledged after the reload" }, func() bool { return ackedNow() >= afterReload+1000 })

	replaceFile(t, yml, pipelines+"- pipeline.id: dup\n  config.string: input { pipeline { address => sink } } output { null {} }\n")
	w.Wait(t, "Address already bound", 30*time.Second)
	w.Wait(t, "configuration reload refused", 30*time.Second)
	beforeStop := ackedNow()
	topoWait(t, 20*time.Second, func() string { return "nothing acknowledged after the refusal" }, func() bool { return ackedNow() >= beforeStop+500 })

	// SIGTERM while the client still sends.
	_ = w.Exit(t, syscall.SIGTERM, 30*time.Second)
	close(stop)
	_ = c.Close()
	<-sent // the last send fails: the process is gone
	if err := w.Err(); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, w)
	}
	total := ackedNow()
	seen := map[int]int{}
	for _, d := range p2pDocs(t, out) {
		n := int(d["seq"].(float64))
		seen[n]++
		tagged := strings.Contains(fmt.Sprint(d["tags"]), "v2")
		if n >= afterReload && !tagged {
			t.Fatalf("event %d, sent after the reload, lacks the new configuration's tag: %v", n, d)
		}
	}
	dups := 0
	for i := range total {
		switch seen[i] {
		case 0:
			t.Fatalf("event %d of %d acknowledged never written", i, total)
		default:
			dups += seen[i] - 1
		}
	}
	if dups > 0 {
		t.Errorf("%d duplicates; want none (graceful reload and stop)", dups)
	}
	t.Logf("%d events acknowledged and written once (%d sent after the reload, %d while a conflicting reload was refused)", total, total-afterReload, total-beforeStop)
}
