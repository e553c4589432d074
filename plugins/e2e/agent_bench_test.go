package e2e_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pipelined/pipeline/engine/enginetest/logwatch"
	"github.com/pipelined/pipeline/plugins/internal/testkit/servertest"
)

// Benchmarks of examples/agent-to-central, as processes on loopback:
//
//	go test -run '^$' -bench 'BenchmarkAgent' -benchtime 1x ./plugins/e2e/
//
// AGENT_BENCH_LINES sets the lines shipped per run (default 300,000) and
// AGENT_RSS_QUEUE_BYTES the persisted queue to fill in
// BenchmarkAgentBufferRSS (default 1 GiB).

func benchBinary(b *testing.B) string {
	b.Helper()
	bin, err := builtBinary()
	if err != nil {
		b.Fatal(err)
	}
	return bin
}

func benchPort(b *testing.B) int {
	b.Helper()
	p, err := servertest.FreePort()
	if err != nil {
		b.Fatal(err)
	}
	return p
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// writeBenchLines writes n lines of about 110 bytes, like an access log.
func writeBenchLines(b *testing.B, path string, n int) int64 {
	b.Helper()
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	for i := 0; i < n; i++ {
		fmt.Fprintf(w, "2026-12-07T21:00:00.000Z host-%02d GET /api/v1/items/%08d 200 %5d \"Mozilla/5.0 (X11; Linux x86_64)\"\n", i%50, i, i%30000)
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	st, _ := f.Stat()
	f.Close()
	return st.Size()
}

var apiAddrRe = regexp.MustCompile(`monitoring API listening" address=(\S+)`)

// pipelineEvents asks a process's monitoring API for a pipeline's events
// in and out.
func pipelineEvents(api, pipeline string) (in, out int64, err error) {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get("http://" + api + "/_node/stats/pipelines")
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	var doc struct {
		Pipelines map[string]struct {
			Events struct {
				In  int64 `json:"in"`
				Out int64 `json:"out"`
			} `json:"events"`
		} `json:"pipelines"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		return 0, 0, err
	}
	p, ok := doc.Pipelines[pipeline]
	if !ok {
		return 0, 0, fmt.Errorf("no pipeline %q", pipeline)
	}
	return p.Events.In, p.Events.Out, nil
}

func apiOf(b *testing.B, p *logwatch.Process) string {
	b.Helper()
	line := p.Wait(b, "monitoring API listening", 30*time.Second)
	m := apiAddrRe.FindStringSubmatch(line)
	if m == nil {
		b.Fatalf("no address in %q", line)
	}
	return m[1]
}

// BenchmarkAgentVsFilebeat: the same file of lines shipped to the same
// centre (beats input with mutual TLS → null) by the agent of
// examples/agent-to-central and by a real Filebeat 7.17 (FILEBEAT_BIN),
// one after the other in each iteration; events/s of each from the
// process's start to the centre's count, and the ratio.
func BenchmarkAgentVsFilebeat(b *testing.B) {
	fb := servertest.Require(b, "filebeat", "FILEBEAT_BIN")
	bin := benchBinary(b)
	dir := b.TempDir()
	pki := agentPKI(b, filepath.Join(dir, "pki"), "bench-agent")
	n := envInt("AGENT_BENCH_LINES", 300000)
	file := filepath.Join(dir, "logs", "access.log")
	os.MkdirAll(filepath.Dir(file), 0o755)
	size := writeBenchLines(b, file, n)
	exec.Command("cat", file).Run() // warm the page cache

	port := benchPort(b)
	centreConf, _ := filepath.Abs("testdata/agent/central-null.hcl")
	cmd := exec.Command(bin, "run", "-f", centreConf, "--path.data", filepath.Join(dir, "centre"),
		"--api.http.port", "0", "--log.level", "info", "--log.status_interval", "0")
	cmd.Env = append(os.Environ(), "PKI_DIR="+pki, fmt.Sprintf("CENTRAL_PORT=%d", port))
	centre := logwatch.Start(b, cmd)
	api := apiOf(b, centre)
	centre.Wait(b, "pipeline started", 30*time.Second)
	addr := fmt.Sprintf("127.0.0.1:%d", port)

	tmpl, err := os.ReadFile("testdata/agent/filebeat.yml.tmpl")
	if err != nil {
		b.Fatal(err)
	}
	example, _ := filepath.Abs(agentExample)

	// run starts a shipper and returns events/s once the centre counted n
	// more events out.
	run := func(name string, start func(data string) *logwatch.Process) float64 {
		b.Helper()
		_, base, err := pipelineEvents(api, "main")
		if err != nil {
			b.Fatal(err)
		}
		data := filepath.Join(dir, fmt.Sprintf("%s-%d", name, time.Now().UnixNano()))
		os.MkdirAll(data, 0o755)
		t0 := time.Now()
		p := start(data)
		deadline := t0.Add(5 * time.Minute)
		for {
			_, out, err := pipelineEvents(api, "main")
			if err == nil && out-base >= int64(n) {
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("%s: %d of %d events after 5 min; log:\n%s", name, out-base, n, p)
			}
			select {
			case <-p.Exited():
				b.Fatalf("%s exited: %v\n%s", name, p.Err(), p)
			case <-time.After(20 * time.Millisecond):
			}
		}
		el := time.Since(t0)
		p.Cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.Exited():
		case <-time.After(30 * time.Second):
			p.Cmd.Process.Kill()
			<-p.Exited()
		}
		os.RemoveAll(data)
		return float64(n) / el.Seconds()
	}
	agent := func(args ...string) func(string) *logwatch.Process {
		return func(data string) *logwatch.Process {
			cmd := exec.Command(bin, append([]string{"run", "--path.data", data, "--api.enabled=false", "--log.level", "warn", "--log.status_interval", "0"}, args...)...)
			cmd.Env = append(os.Environ(), "PKI_DIR="+pki, "AGENT_LOGS="+file, "AGENT_DATA="+data,
				fmt.Sprintf("AGENT_SYSLOG_PORT=%d", benchPort(b)), "CENTRAL_1="+addr, "CENTRAL_2="+addr)
			return logwatch.Start(b, cmd)
		}
	}
	filebeat := func(data string) *logwatch.Process {
		cfg := strings.NewReplacer("{{FILE}}", file, "{{PORT}}", strconv.Itoa(port), "{{PKI}}", pki, "{{DATA}}", data).Replace(string(tmpl))
		path := filepath.Join(data, "filebeat.yml")
		if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
			b.Fatal(err)
		}
		return logwatch.Start(b, exec.Command(fb, "-e", "-c", path, "--strict.perms=false"))
	}

	var fbSum, memSum, pqSum, bigSum float64
	for i := 0; i < b.N; i++ {
		fbRate := run("filebeat", filebeat)
		mem := run("agent-memory", agent("-f", filepath.Join(example, "agent.conf")))
		big := run("agent-memory-b2048", agent("-f", filepath.Join(example, "agent.conf"), "-b", "2048"))
		pq := run("agent-persisted", agent("--pipelines", filepath.Join(example, "agent.yml")))
		b.Logf("%d lines (%d bytes): filebeat %.0f ev/s; agent.conf memory queue %.0f ev/s (%.2fx), with -b 2048 %.0f ev/s (%.2fx); agent.yml persisted encrypted queue %.0f ev/s (%.2fx)",
			n, size, fbRate, mem, mem/fbRate, big, big/fbRate, pq, pq/fbRate)
		fbSum += fbRate
		memSum += mem
		pqSum += pq
		bigSum += big
	}
	k := float64(b.N)
	b.ReportMetric(fbSum/k, "filebeat-ev/s")
	b.ReportMetric(memSum/fbSum, "ratio-memory")
	b.ReportMetric(bigSum/fbSum, "ratio-memory-b2048")
	b.ReportMetric(pqSum/fbSum, "ratio-persisted")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkAgentBufferRSS: the agent of examples/agent-to-central
// (agent.yml: agent.conf, encrypted persisted queue) with no centre to reach reads a file until
// its queue on disk holds AGENT_RSS_QUEUE_BYTES; reports its peak resident
// memory (VmHWM) and the queue's size.
func BenchmarkAgentBufferRSS(b *testing.B) {
	bin := benchBinary(b)
	dir := b.TempDir()
	pki := agentPKI(b, filepath.Join(dir, "pki"), "rss-agent")
	target := int64(envInt("AGENT_RSS_QUEUE_BYTES", 1<<30))
	example, _ := filepath.Abs(agentExample)
	for i := 0; i < b.N; i++ {
		data := filepath.Join(dir, fmt.Sprintf("agent-%d", i))
		logs := filepath.Join(data, "logs")
		os.MkdirAll(logs, 0o755)
		// Nobody listens on the centre's port.
		dead := fmt.Sprintf("127.0.0.1:%d", benchPort(b))
		cmd := exec.Command(bin, "run", "--pipelines", filepath.Join(example, "agent.yml"), "--path.data", data,
			"--api.http.port", "0", "--log.level", "info", "--log.status_interval", "0")
		cmd.Env = append(os.Environ(), "PKI_DIR="+pki, "AGENT_LOGS="+filepath.Join(logs, "*.log"), "AGENT_DATA="+data,
			fmt.Sprintf("AGENT_SYSLOG_PORT=%d", benchPort(b)), "CENTRAL_1="+dead, "CENTRAL_2="+dead)
		p := logwatch.Start(b, cmd)
		api := apiOf(b, p)
		pid := p.Cmd.Process.Pid
		queue := filepath.Join(data, "queue", "agent")
		// Lines are written in chunks of 200,000 while the queue is below
		// the target (bounded: 200 chunks, 10 minutes).
		written := 0
		deadline := time.Now().Add(10 * time.Minute)
		var rssMax int64
		for chunk := 0; chunk < 200 && dirSize(queue) < target; chunk++ {
			writeBenchLines(b, filepath.Join(logs, fmt.Sprintf("app-%03d.log", chunk)), 200000)
			written += 200000
			for {
				in, _, err := pipelineEvents(api, "agent")
				if v, err := procStatusBytes(pid, "VmRSS"); err == nil && v > rssMax {
					rssMax = v
				}
				if err == nil && in >= int64(written) {
					break
				}
				if time.Now().After(deadline) {
					b.Fatalf("%d of %d lines read after 10 min", in, written)
				}
				time.Sleep(100 * time.Millisecond)
			}
		}
		hwm, err := procStatusBytes(pid, "VmHWM")
		if err != nil {
			b.Fatal(err)
		}
		q := dirSize(queue)
		b.Logf("centre down: %d lines buffered, queue %d MiB on disk; agent peak RSS (VmHWM) %d MiB", written, q>>20, hwm>>20)
		b.ReportMetric(float64(hwm)/(1<<20), "peak-RSS-MiB")
		b.ReportMetric(float64(q)/(1<<20), "queue-MiB")
		b.ReportMetric(0, "ns/op")
		p.Cmd.Process.Signal(syscall.SIGTERM)
		time.Sleep(time.Second)
		p.Cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.Exited():
		case <-time.After(30 * time.Second):
		}
		os.RemoveAll(data)
	}
}
