package beats

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	_ "github.com/pipelined/pipeline/plugins/codecs/jsonlines" // the file output's default codec
	"github.com/pipelined/pipeline/plugins/internal/testkit/servertest"
	_ "github.com/pipelined/pipeline/plugins/outputs/file"
)

// These tests run a real Filebeat 7.17.28 (built by
// ../shared/notes/build-filebeat.sh) against the beats input, through the
// engine and the file output. FILEBEAT_BIN names the binary, else the one
// .ci/run builds into its cache; without one the tests are skipped, except
// under CI=true, where a missing binary fails them.

const defaultFilebeatBin = "/tmp/real-clients/fbbuild/filebeat"

func filebeatBin(t *testing.T) string {
	t.Helper()
	return servertest.Require(t, "filebeat", "FILEBEAT_BIN",
		servertest.CICache("filebeat-v7.17.28/filebeat"), defaultFilebeatBin)
}

// fbLog is a log file of n lines of equal length, each with a unique id.
type fbLog struct {
	path    string
	lines   []string
	offsets map[string]int64 // line → byte offset in the file
}

func writeFBLog(t *testing.T, dir string, n int) *fbLog {
	t.Helper()
	l := &fbLog{path: filepath.Join(dir, "app.log"), offsets: make(map[string]int64, n)}
	var b bytes.Buffer
	for i := range n {
		line := fmt.Sprintf("2026-11-24T10:00:01Z INFO request handled id=fb-%06d status=200", i)
		l.offsets[line] = int64(b.Len())
		l.lines = append(l.lines, line)
		b.WriteString(line)
		b.WriteByte('\n')
	}
	if err := os.WriteFile(l.path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return l
}

// fbProc is a running Filebeat.
type fbProc struct{ *servertest.Process }

// runFilebeat starts Filebeat with a log input on logPath shipping to addr;
// output holds extra lines under output.logstash (TLS settings), or, when
// they start with "@", top-level lines (without the @). Filebeat is
// stopped (SIGTERM, then SIGKILL) by stop and at cleanup.
func runFilebeat(t *testing.T, bin, dir, logPath, addr string, output ...string) *fbProc {
	t.Helper()
	home := filepath.Join(dir, "fbhome")
	if err := os.MkdirAll(home, 0o755); err != nil {
		t.Fatal(err)
	}
	var extra, top strings.Builder
	for _, o := range output {
		if line, ok := strings.CutPrefix(o, "@"); ok {
			top.WriteString(line + "\n")
			continue
		}
		extra.WriteString("  " + o + "\n")
	}
	yml := fmt.Sprintf(`filebeat.inputs:
- type: log
  paths: [%q]
  scan_frequency: 1s
output.logstash:
  hosts: [%q]
  timeout: 30s
  backoff.init: 500ms
  backoff.max: 2s
%spath.home: %q
path.data: %q
path.logs: %q
logging.level: info
logging.metrics.enabled: false
`, logPath, addr, extra.String(), home, filepath.Join(home, "data"), filepath.Join(home, "logs")) + top.String()
	cfg := filepath.Join(home, "filebeat.yml")
	if err := os.WriteFile(cfg, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-e", "-c", cfg, "--path.home", home, "--strict.perms=false")
	cmd.Dir = home
	return &fbProc{servertest.Run(t, "filebeat", cmd)}
}

// stop stops Filebeat: SIGTERM, then SIGKILL after 10 s.
func (p *fbProc) stop() { p.Stop(syscall.SIGTERM, 10*time.Second) }

func (p *fbProc) exited() bool {
	select {
	case <-p.Exited():
		return true
	default:
		return false
	}
}

// fileOutput is the file output's HCL, writing json_lines to path.
func fileOutput(path string) string {
	return fmt.Sprintf("output \"file\" \"out\" {\n  path = %q\n}\n", path)
}

func countLines(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	return bytes.Count(b, []byte{'\n'})
}

// shipAndCheck runs Filebeat against h until outPath holds every line of l,
// stops Filebeat and the pipeline, and checks the events written.
func shipAndCheck(t *testing.T, h *harness, fb *fbProc, l *fbLog, outPath string) {
	t.Helper()
	n := len(l.lines)
	start := time.Now()
	deadline := start.Add(60 * time.Second)
	for countLines(outPath) < n {
		if fb.exited() {
			t.Fatalf("filebeat exited early (%v) with %d of %d events written", fb.Cmd().ProcessState, countLines(outPath), n)
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after 60 s: %d of %d events written\nengine logs:\n%s", countLines(outPath), n, servertest.Tail(h.logs.String(), 4000))
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("%d events written %s after filebeat started", n, time.Since(start).Round(time.Millisecond))
	fb.stop()
	if err := h.stop(); err != nil {
		t.Fatalf("pipeline stop: %v", err)
	}
	checkOutput(t, outPath, l)
}

func checkOutput(t *testing.T, outPath string, l *fbLog) {
	t.Helper()
	b, err := os.ReadFile(outPath)
	if err != nil {
		t.Fatal(err)
	}
	raw := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(raw) != len(l.lines) {
		t.Fatalf("%d events in the output; want exactly %d", len(raw), len(l.lines))
	}
	seen := make(map[string]bool, len(raw))
	for i, line := range raw {
		if strings.Contains(line, `"@metadata"`) {
			t.Fatalf("event %d has @metadata in its JSON: %s", i, line)
		}
		var ev map[string]any
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("event %d: %v: %s", i, err, line)
		}
		msg, _ := ev["message"].(string)
		off, ok := l.offsets[msg]
		if !ok {
			t.Fatalf("event %d: message %q is not a line of the log", i, msg)
		}
		if seen[msg] {
			t.Fatalf("event %d: message %q delivered twice", i, msg)
		}
		seen[msg] = true
		lg, _ := ev["log"].(map[string]any)
		file, _ := lg["file"].(map[string]any)
		if p, _ := file["path"].(string); p != l.path {
			t.Fatalf("event %d: [log][file][path] = %v; want %q", i, file["path"], l.path)
		}
		if o, ok := lg["offset"].(float64); !ok || int64(o) != off {
			t.Fatalf("event %d: [log][offset] = %v; want %d", i, lg["offset"], off)
		}
		agent, _ := ev["agent"].(map[string]any)
		if agent["type"] != "filebeat" || agent["version"] != "7.17.28" {
			t.Fatalf("event %d: agent = %v; want type filebeat, version 7.17.28", i, ev["agent"])
		}
		if host, _ := ev["host"].(map[string]any); host["name"] == nil || host["name"] == "" {
			t.Fatalf("event %d: host = %v; want a name", i, ev["host"])
		}
		if ecs, _ := ev["ecs"].(map[string]any); ecs["version"] == nil {
			t.Fatalf("event %d: ecs = %v; want a version", i, ev["ecs"])
		}
		if ev["@version"] != "1" || ev["@timestamp"] == nil {
			t.Fatalf("event %d: @version %v, @timestamp %v", i, ev["@version"], ev["@timestamp"])
		}
	}
	if len(seen) != len(l.lines) {
		t.Fatalf("%d distinct lines; want %d", len(seen), len(l.lines))
	}
}

// TestFilebeatShipsEveryLine: a real Filebeat reads a log file of 2000 lines
// and ships it to the engine; the file output receives each line exactly
// once, with Filebeat's fields and without @metadata.
func TestFilebeatShipsEveryLine(t *testing.T) {
	bin := filebeatBin(t)
	dir := t.TempDir()
	l := writeFBLog(t, dir, 2000)
	outPath := filepath.Join(dir, "out.json")
	h := start(t, "", nil, fileOutput(outPath))
	fb := runFilebeat(t, bin, dir, l.path, h.addr)
	shipAndCheck(t, h, fb, l, outPath)
}

// TestFilebeatTLS: the same over TLS, Filebeat verifying the server
// certificate against a CA generated by the test.
func TestFilebeatTLS(t *testing.T) {
	bin := filebeatBin(t)
	p := newPKI(t)
	dir := t.TempDir()
	l := writeFBLog(t, dir, 500)
	outPath := filepath.Join(dir, "out.json")
	h := start(t, p.options("none"), nil, fileOutput(outPath))
	fb := runFilebeat(t, bin, dir, l.path, h.addr,
		fmt.Sprintf("ssl.certificate_authorities: [%q]", p.ca.File),
		"ssl.verification_mode: full")
	shipAndCheck(t, h, fb, l, outPath)
}

// TestFilebeatClientAuthRequired: with ssl_client_authentication "required",
// a Filebeat without a client certificate is refused and ships nothing; one
// with a certificate from the CA ships every line.
func TestFilebeatClientAuthRequired(t *testing.T) {
	bin := filebeatBin(t)
	p := newPKI(t)

	t.Run("without certificate", func(t *testing.T) {
		dir := t.TempDir()
		l := writeFBLog(t, dir, 200)
		outPath := filepath.Join(dir, "out.json")
		h := start(t, p.options("required"), nil, fileOutput(outPath))
		fb := runFilebeat(t, bin, dir, l.path, h.addr,
			fmt.Sprintf("ssl.certificate_authorities: [%q]", p.ca.File))
		began := time.Now()
		// Filebeat does try: the engine logs the refused handshake.
		waitFor(t, 30*time.Second, "a refused TLS handshake in the engine logs", func() bool {
			return strings.Contains(h.logs.String(), "didn't provide a certificate")
		})
		// And nothing arrives while it keeps retrying.
		for time.Since(began) < 8*time.Second {
			if n := countLines(outPath); n != 0 {
				t.Fatalf("%d events delivered by a client without a certificate", n)
			}
			if fb.exited() {
				t.Fatalf("filebeat exited early: %v", fb.Cmd().ProcessState)
			}
			time.Sleep(100 * time.Millisecond)
		}
		fb.stop()
		if err := h.stop(); err != nil {
			t.Fatalf("pipeline stop: %v", err)
		}
		if n := countLines(outPath); n != 0 {
			t.Fatalf("%d events delivered by a client without a certificate", n)
		}
	})

	t.Run("with certificate", func(t *testing.T) {
		dir := t.TempDir()
		client := p.ca.Client("filebeat")
		l := writeFBLog(t, dir, 200)
		outPath := filepath.Join(dir, "out.json")
		h := start(t, p.options("required"), nil, fileOutput(outPath))
		fb := runFilebeat(t, bin, dir, l.path, h.addr,
			fmt.Sprintf("ssl.certificate_authorities: [%q]", p.ca.File),
			fmt.Sprintf("ssl.certificate: %q", client.CertFile),
			fmt.Sprintf("ssl.key: %q", client.KeyFile))
		shipAndCheck(t, h, fb, l, outPath)
	})
}

// TestFilebeatAgentToken: a real Filebeat sending a token the centre does
// not know (Filebeat's `fields: {agent_token: ...}`) is refused with a log
// line, delivers nothing and keeps its lines (its registry does not
// advance); restarted with its right token it ships every line exactly
// once, named by the centre and without the token.
func TestFilebeatAgentToken(t *testing.T) {
	bin := filebeatBin(t)
	dir := t.TempDir()
	l := writeFBLog(t, dir, 300)
	outPath := filepath.Join(dir, "out.json")
	h := start(t, fmt.Sprintf("agent_tokens = { \"web-01\" = %q }\nagent_name_field = \"[centre][agent]\"", tokA), nil, fileOutput(outPath))
	fb := runFilebeat(t, bin, dir, l.path, h.addr, fmt.Sprintf("@fields: {agent_token: %q}", tokX))
	waitFor(t, 30*time.Second, "Filebeat refused twice", func() bool { return findInput(t, h).refusedToken.Load() >= 2 })
	if n := countLines(outPath); n != 0 || !strings.Contains(h.logs.String(), "agent refused") {
		t.Fatalf("%d events delivered by a wrong token; refusal logged: %v", n, strings.Contains(h.logs.String(), "agent refused"))
	}
	fb.stop()
	fb = runFilebeat(t, bin, dir, l.path, h.addr, fmt.Sprintf("@fields: {agent_token: %q}", tokA))
	logs := h.logs.String()
	shipAndCheck(t, h, fb, l, outPath)
	b, err := os.ReadFile(outPath)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Count(b, []byte(`"centre":{"agent":"web-01"}`)) != len(l.lines) || bytes.Contains(b, []byte(`"fields"`)) {
		t.Fatalf("agent names or token fields wrong: %s", servertest.Tail(string(b), 2000))
	}
	for _, tok := range []string{tokA, tokX} {
		if strings.Contains(logs+h.logs.String(), tok) || bytes.Contains(b, []byte(tok)) {
			t.Fatal("a token is in the centre's log or output")
		}
	}
}
