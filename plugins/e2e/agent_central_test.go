package e2e_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pipelined/pipeline/engine/enginetest/logwatch"
	"github.com/pipelined/pipeline/plugins/internal/testkit/servertest"
)

// The tests of examples/agent-to-central run the built binary twice or
// more — agents and centres as separate processes on loopback — with the
// certificates that the example's make-certs.sh (the README's openssl
// commands) makes.

var agentExample = filepath.Join("..", "..", "examples", "agent-to-central")

// agentPKI makes a CA, a server certificate for 127.0.0.1 and an agent
// certificate in dir with make-certs.sh.
func agentPKI(t testing.TB, dir, agent string) string {
	t.Helper()
	servertest.Require(t, "openssl", "OPENSSL_BIN", "openssl")
	script, _ := filepath.Abs(filepath.Join(agentExample, "make-certs.sh"))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "sh", script, dir, "DNS:localhost,IP:127.0.0.1", agent).CombinedOutput()
	if err != nil {
		t.Fatalf("make-certs.sh: %v\n%s", err, out)
	}
	return dir
}

// centre is one running centre process.
type centre struct {
	*logwatch.Process
	port, syslogPort int
	out              string
}

func (c *centre) addr() string { return fmt.Sprintf("127.0.0.1:%d", c.port) }

// startCentre runs examples/agent-to-central/central.<syntax> with its
// beats input on port (a fresh one when 0), writing into out.
func startCentre(t *testing.T, syntax, pki, out string, port int) *centre {
	t.Helper()
	bin := pipelineBinary(t)
	if port == 0 {
		port = topoFreePort(t)
	}
	c := &centre{port: port, syslogPort: topoFreePort(t), out: out}
	cmd := exec.Command(bin, "run", "-f", filepath.Join(agentExample, "central."+syntax),
		"--path.data", filepath.Join(out, "..", filepath.Base(out)+"-data"), "--api.enabled=false", "--log.level", "info")
	cmd.Env = append(os.Environ(), "PKI_DIR="+pki, "CENTRAL_HOST=127.0.0.1", fmt.Sprintf("CENTRAL_PORT=%d", c.port),
		fmt.Sprintf("CENTRAL_SYSLOG_PORT=%d", c.syslogPort), "CENTRAL_OUT="+out)
	c.Process = logwatch.Start(t, cmd)
	c.Wait(t, "pipeline started", 30*time.Second)
	return c
}

// agentProc is one running agent process.
type agentProc struct {
	*logwatch.Process
	syslogPort int
}

// agentYML is examples/agent-to-central/agent.yml, as is for the .conf, and
// with path.config naming agent.hcl for the HCL (what the README says to do).
func agentYML(t *testing.T, syntax string) string {
	t.Helper()
	yml, _ := filepath.Abs(filepath.Join(agentExample, "agent.yml"))
	if syntax == "conf" {
		return yml
	}
	b, err := os.ReadFile(yml)
	if err != nil {
		t.Fatal(err)
	}
	hcl := strings.Replace(string(b), "path.config: agent.conf", "path.config: "+filepath.Join(filepath.Dir(yml), "agent.hcl"), 1)
	if hcl == string(b) {
		t.Fatal("agent.yml has no path.config: agent.conf")
	}
	path := filepath.Join(t.TempDir(), "agent-hcl.yml")
	if err := os.WriteFile(path, []byte(hcl), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// startAgent runs the agent example (agent.conf or agent.hcl through agent.yml) on
// the files matched by logs, shipping to the centres at hosts.
func startAgent(t *testing.T, syntax, pki, logs, data string, hosts ...string) *agentProc {
	t.Helper()
	bin := pipelineBinary(t)
	args := []string{"run", "--path.data", data, "--api.enabled=false", "--log.level", "info"}
	args = append(args, "--pipelines", agentYML(t, syntax))
	a := &agentProc{syslogPort: topoFreePort(t)}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "PKI_DIR="+pki, "AGENT_LOGS="+logs, "AGENT_DATA="+data,
		"AGENT_SYSLOG_HOST=127.0.0.1", fmt.Sprintf("AGENT_SYSLOG_PORT=%d", a.syslogPort),
		"CENTRAL_1="+hosts[0], "CENTRAL_2="+hosts[len(hosts)-1])
	a.Process = logwatch.Start(t, cmd)
	a.Wait(t, "pipeline started", 30*time.Second)
	return a
}

// startAgentNoWait is startAgent without waiting for the pipeline to start.
func startAgentNoWait(t *testing.T, syntax, pki, logs, data string, hosts ...string) *agentProc {
	t.Helper()
	bin := pipelineBinary(t)
	args := []string{"run", "--path.data", data, "--api.enabled=false", "--log.level", "info"}
	args = append(args, "--pipelines", agentYML(t, syntax))
	a := &agentProc{syslogPort: topoFreePort(t)}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "PKI_DIR="+pki, "AGENT_LOGS="+logs, "AGENT_DATA="+data,
		"AGENT_SYSLOG_HOST=127.0.0.1", fmt.Sprintf("AGENT_SYSLOG_PORT=%d", a.syslogPort),
		"CENTRAL_1="+hosts[0], "CENTRAL_2="+hosts[len(hosts)-1])
	a.Process = logwatch.Start(t, cmd)
	return a
}

// plaintextIn returns a file under dir that holds marker, or "".
func plaintextIn(dir string, marker []byte) string {
	found := ""
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || found != "" {
			return nil
		}
		if b, err := os.ReadFile(p); err == nil && bytes.Contains(b, marker) {
			found = p
		}
		return nil
	})
	return found
}

func lastLine(log, s string) string {
	lines := strings.Split(strings.TrimSpace(log), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.Contains(lines[i], s) {
			return lines[i]
		}
	}
	return ""
}

// received reads the messages in the centre's files named prefix-*.log
// (JSON lines; a last line not yet complete is left out), counting each.
func received(dirs []string, prefix string) map[string]int {
	got := map[string]int{}
	for _, dir := range dirs {
		files, _ := filepath.Glob(filepath.Join(dir, prefix+"-*.log"))
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				continue
			}
			if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
				b = b[:i+1]
			} else {
				continue
			}
			sc := bufio.NewScanner(bytes.NewReader(b))
			sc.Buffer(nil, 1<<20)
			for sc.Scan() {
				var ev struct {
					Message string `json:"message"`
				}
				if json.Unmarshal(sc.Bytes(), &ev) == nil {
					// The syslog input keeps a TCP frame's newline in
					// message.
					got[strings.TrimSuffix(ev.Message, "\n")]++
				}
			}
		}
	}
	return got
}

// lineWriter appends numbered lines to a file: "<name>-<n>".
type lineWriter struct {
	t    *testing.T
	path string
	name string
	n    int
}

func (w *lineWriter) write(count int) {
	w.t.Helper()
	f, err := os.OpenFile(w.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		w.t.Fatal(err)
	}
	bw := bufio.NewWriterSize(f, 64<<10)
	for i := 0; i < count; i++ {
		fmt.Fprintf(bw, "%s-%07d\n", w.name, w.n)
		w.n++
	}
	if err := bw.Flush(); err != nil {
		w.t.Fatal(err)
	}
	f.Close()
}

// want lists every line the writer wrote.
func (w *lineWriter) want(into map[string]bool) {
	for i := 0; i < w.n; i++ {
		into[fmt.Sprintf("%s-%07d", w.name, i)] = true
	}
}

// missing compares got with want: the lines lost, and how many arrived
// more than once (and how many extra copies).
func missing(want map[string]bool, got map[string]int) (lost []string, dupLines, extra int) {
	for l := range want {
		if got[l] == 0 {
			lost = append(lost, l)
		}
	}
	for l, n := range got {
		if want[l] && n > 1 {
			dupLines++
			extra += n - 1
		}
	}
	return lost, dupLines, extra
}

func waitAll(t *testing.T, timeout time.Duration, want map[string]bool, prefix string, dirs ...string) map[string]int {
	t.Helper()
	var got map[string]int
	topoWait(t, timeout, func() string {
		lost, _, _ := missing(want, got)
		return fmt.Sprintf("%d of %d lines arrived; missing e.g. %v", len(want)-len(lost), len(want), lost[:min(5, len(lost))])
	}, func() bool {
		got = received(dirs, prefix)
		lost, _, _ := missing(want, got)
		return len(lost) == 0
	})
	return got
}

func sendSyslog(t *testing.T, port int, msg string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "<13>Dec  7 21:00:00 device1 app: %s\n", msg)
}

// TestAgentToCentral: the agent (agent.conf through agent.yml: file and
// syslog inputs, persisted queue, lumberjack with mTLS) ships to the centre
// (central.hcl: beats input requiring client certificates, syslog input,
// file outputs). 100,000 lines appended to two files — app.log rotated by
// rename and web.log by copytruncate during the run — arrive exactly once,
// compared as sets; a syslog message to the agent arrives through it, one
// to the centre's own syslog input lands in the device file, and each agent
// event carries the agent's certificate subject.
func TestAgentToCentral(t *testing.T) {
	dir := t.TempDir()
	pki := agentPKI(t, filepath.Join(dir, "pki"), "agent-a")
	logs := filepath.Join(dir, "logs")
	os.MkdirAll(logs, 0o755)
	out := filepath.Join(dir, "central")
	c := startCentre(t, "hcl", pki, out, 0)
	a := startAgent(t, "conf", pki, filepath.Join(logs, "*.log"), filepath.Join(dir, "agent"), c.addr())

	app := &lineWriter{t: t, path: filepath.Join(logs, "app.log"), name: "app"}
	web := &lineWriter{t: t, path: filepath.Join(logs, "web.log"), name: "web"}
	want := map[string]bool{}
	start := time.Now()
	const rounds, per = 50, 1000 // 50,000 lines a file
	for r := 0; r < rounds; r++ {
		app.write(per)
		web.write(per)
		switch r {
		case 20:
			// logrotate's create mode: the file is renamed and a new one
			// started at the path; the agent reads the old one to its end.
			// (A file renamed away before the agent ever saw it under a
			// matching name is not read, as with Logstash: the test waits
			// until the agent found it.)
			topoWait(t, 30*time.Second, func() string { return "no line of app.log arrived" }, func() bool {
				return received([]string{out}, "agents")["app-0000000"] > 0
			})
			if err := os.Rename(app.path, app.path+".1"); err != nil {
				t.Fatal(err)
			}
		case 30:
			// copytruncate: the copy holds what was written; the file is
			// emptied in place and written again from offset 0. Lines
			// written between copy and truncate are lost by logrotate
			// itself, so the writer waits here (as logrotate's copy
			// would race with it otherwise), and the test waits until the
			// agent has shipped what web.log held, since the copy is not
			// matched by the glob.
			sofar := map[string]bool{}
			web.want(sofar)
			waitAll(t, 60*time.Second, sofar, "agents", out)
			b, err := os.ReadFile(web.path)
			if err != nil {
				t.Fatal(err)
			}
			os.WriteFile(web.path+".1", b, 0o644)
			if err := os.Truncate(web.path, 0); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	sendSyslog(t, a.syslogPort, "through-the-agent")
	sendSyslog(t, c.syslogPort, "straight-to-centre")
	app.want(want)
	web.want(want)
	if len(want) != 100000 {
		t.Fatalf("wrote %d lines", len(want))
	}
	want["through-the-agent"] = true
	got := waitAll(t, 90*time.Second, want, "agents", out)
	t.Logf("100,000 lines delivered %v after the first was written", time.Since(start).Round(time.Millisecond))
	time.Sleep(1500 * time.Millisecond) // a late duplicate would have arrived by now
	got = received([]string{out}, "agents")
	lost, dups, extra := missing(want, got)
	if len(lost) > 0 || dups > 0 {
		t.Fatalf("%d lines lost (e.g. %v), %d arrived more than once (%d extra copies)", len(lost), lost[:min(5, len(lost))], dups, extra)
	}
	if len(got) != len(want) {
		t.Errorf("the centre wrote %d distinct messages, %d expected", len(got), len(want))
	}
	dev := waitAll(t, 10*time.Second, map[string]bool{"straight-to-centre": true}, "syslog", out)
	if len(dev) != 1 {
		t.Errorf("device file holds %v", dev)
	}
	// Each agent event names its agent: the certificate's subject.
	files, _ := filepath.Glob(filepath.Join(out, "agents-*.log"))
	f, err := os.Open(files[0])
	if err != nil {
		t.Fatal(err)
	}
	line, _ := bufio.NewReader(f).ReadString('\n')
	f.Close()
	if !strings.Contains(line, `"agent":"CN=agent-a,O=Example"`) {
		t.Errorf("an agent event without the agent's identity: %s", line)
	}
	if err := a.Exit(t, syscall.SIGTERM, 30*time.Second); err != nil {
		t.Errorf("agent: %v\n%s", err, a)
	}
	if err := c.Exit(t, syscall.SIGTERM, 30*time.Second); err != nil {
		t.Errorf("centre: %v\n%s", err, c)
	}
}

// agentsSize is the bytes the centre's agent files hold (a cheap sign that
// it is receiving).
func agentsSize(out string) int64 {
	files, _ := filepath.Glob(filepath.Join(out, "agents-*.log"))
	var n int64
	for _, f := range files {
		if st, err := os.Stat(f); err == nil {
			n += st.Size()
		}
	}
	return n
}

func kill(t *testing.T, p *logwatch.Process) {
	t.Helper()
	if err := p.Cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = p.Err()
}

// TestAgentCentreOutage: the centre (central.conf) is stopped with SIGTERM
// for 10 s while the agent (agent.hcl) keeps reading into its persisted
// queue; the agent is SIGKILLed once while buffering and started again; the
// centre comes back, is SIGKILLed as soon as it receives the backlog, and
// started again. Every line arrives at least once (count and set); the
// duplicates are reported.
func TestAgentCentreOutage(t *testing.T) {
	dir := t.TempDir()
	pki := agentPKI(t, filepath.Join(dir, "pki"), "agent-b")
	logs := filepath.Join(dir, "logs")
	os.MkdirAll(logs, 0o755)
	out := filepath.Join(dir, "central")
	data := filepath.Join(dir, "agent")
	glob := filepath.Join(logs, "*.log")
	c := startCentre(t, "conf", pki, out, 0)
	a := startAgent(t, "hcl", pki, glob, data, c.addr())
	w := &lineWriter{t: t, path: filepath.Join(logs, "app.log"), name: "app"}
	want := map[string]bool{}

	w.write(5000)
	w.want(want)
	waitAll(t, 30*time.Second, want, "agents", out)

	down := time.Now()
	if err := c.Exit(t, syscall.SIGTERM, 30*time.Second); err != nil {
		t.Fatalf("centre: %v\n%s", err, c)
	}
	for i := 0; i < 10; i++ { // lines keep coming while the centre is away
		w.write(1000)
		time.Sleep(100 * time.Millisecond)
	}
	queue := filepath.Join(data, "queue", "agent")
	topoWait(t, 20*time.Second, func() string { return "the agent's queue did not grow" }, func() bool {
		return dirSize(queue) > 1<<20
	})
	// The queue acknowledges what it holds to the file input, which records
	// it in its sincedb at once, not at the next sincedb_write_interval (15
	// s, the writes at least that far apart): the sincedb reaches the
	// file's end within 4 s twice in a row, and the kill below re-reads
	// nothing the queue holds.
	var size int64
	for round := range 2 {
		if round > 0 {
			w.write(1000)
		}
		size = fileSize(w.path)
		var pos int64
		topoWait(t, 4*time.Second, func() string {
			return fmt.Sprintf("round %d: the agent's sincedb has %s at %d of %d bytes", round, w.path, pos, size)
		}, func() bool {
			pos = sincedbPos(filepath.Join(data, "sincedb-app"), w.path)
			return pos == size
		})
	}
	t.Logf("agent's queue %d bytes with the centre down, sincedb at the file's end; SIGKILL the agent", dirSize(queue))
	kill(t, a.Process)
	// The queue is encrypted: no line is on disk in clear.
	if f := plaintextIn(queue, []byte("app-00")); f != "" {
		t.Fatalf("%s holds events in clear", f)
	}
	// Started with another key, the agent refuses the queue and says so,
	// changing nothing on disk.
	before := dirSize(queue)
	wrong := filepath.Join(dir, "wrongkey")
	os.MkdirAll(wrong, 0o700)
	for _, f := range []string{"ca.crt", "agent.crt", "agent.key"} {
		b, _ := os.ReadFile(filepath.Join(pki, f))
		os.WriteFile(filepath.Join(wrong, f), b, 0o600)
	}
	os.WriteFile(filepath.Join(wrong, "queue.key"), []byte(strings.Repeat("ab", 32)+"\n"), 0o600)
	bad := startAgentNoWait(t, "hcl", wrong, glob, data, c.addr())
	select {
	case <-bad.Exited():
	case <-time.After(30 * time.Second):
		t.Fatalf("the agent with a wrong key did not exit; log:\n%s", bad)
	}
	if bad.Err() == nil || !strings.Contains(bad.String(), "key") {
		t.Fatalf("wrong key: exit %v; log:\n%s", bad.Err(), bad)
	}
	t.Logf("with a wrong key: %v; %s", bad.Err(), lastLine(bad.String(), "key"))
	if after := dirSize(queue); after != before {
		t.Fatalf("the queue changed from %d to %d bytes under a wrong key", before, after)
	}
	a = startAgent(t, "hcl", pki, glob, data, c.addr())
	for i := 0; i < 10; i++ {
		w.write(1000)
		time.Sleep(100 * time.Millisecond)
	}
	w.want(want)
	if d := 10*time.Second - time.Since(down); d > 0 {
		time.Sleep(d)
	}
	size = agentsSize(out)
	c = startCentre(t, "conf", pki, out, c.port)
	topoWait(t, 30*time.Second, func() string { return "the restarted centre received nothing" }, func() bool {
		return agentsSize(out) > size
	})
	kill(t, c.Process)
	atKill := received([]string{out}, "agents")
	t.Logf("centre SIGKILLed while receiving: %d of %d lines had arrived", len(atKill), len(want))
	if len(atKill) >= len(want) {
		t.Fatalf("the backlog had all arrived before the kill; the kill tested nothing")
	}
	c = startCentre(t, "conf", pki, out, c.port)
	got := waitAll(t, 60*time.Second, want, "agents", out)
	total := 0
	for _, n := range got {
		total += n
	}
	_, dups, extra := missing(want, got)
	if total < len(want) {
		t.Fatalf("%d events written for %d lines", total, len(want))
	}
	t.Logf("all %d lines arrived (%d events written); %d lines twice or more (%d extra copies)", len(want), total, dups, extra)
	// The agent's SIGKILL re-reads nothing the queue held (it re-read up to
	// all 15,000 lines read before it when the sincedb waited for the
	// centre's acknowledgement or its 15 s interval); what is left are the
	// windows in flight when the centre was SIGKILLed, sent again.
	if extra > maxOutageDuplicates {
		t.Errorf("%d extra copies, want at most %d: lines in the agent's queue were read again after its SIGKILL?", extra, maxOutageDuplicates)
	}
	if err := a.Exit(t, syscall.SIGTERM, 30*time.Second); err != nil {
		t.Errorf("agent: %v", err)
	}
	if err := c.Exit(t, syscall.SIGTERM, 30*time.Second); err != nil {
		t.Errorf("centre: %v", err)
	}
}

// maxOutageDuplicates bounds TestAgentCentreOutage's extra copies: the
// centre's SIGKILL resends the agent's windows in flight (none in two runs),
// the agent's SIGKILL nothing (it re-read 10,000-15,000 lines when the
// sincedb lagged the queue).
const maxOutageDuplicates = 3000

func fileSize(path string) int64 {
	st, err := os.Stat(path)
	if err != nil {
		return -1
	}
	return st.Size()
}

// sincedbPos returns the position a sincedb file (Logstash's format: inode,
// major, minor, position, last active, path) records for path, or -1.
func sincedbPos(db, path string) int64 {
	b, err := os.ReadFile(db)
	if err != nil {
		return -1
	}
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.SplitN(l, " ", 6)
		if len(f) == 6 && f[5] == path {
			if n, err := strconv.ParseInt(f[3], 10, 64); err == nil {
				return n
			}
		}
	}
	return -1
}

func dirSize(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n
}

// TestAgentFailover: two centres (central.hcl); the agent (agent.conf)
// stays on the first; stopping it moves the traffic to the second with no
// line lost.
func TestAgentFailover(t *testing.T) {
	dir := t.TempDir()
	pki := agentPKI(t, filepath.Join(dir, "pki"), "agent-c")
	logs := filepath.Join(dir, "logs")
	os.MkdirAll(logs, 0o755)
	out1, out2 := filepath.Join(dir, "central1"), filepath.Join(dir, "central2")
	c1 := startCentre(t, "hcl", pki, out1, 0)
	c2 := startCentre(t, "hcl", pki, out2, 0)
	a := startAgent(t, "conf", pki, filepath.Join(logs, "*.log"), filepath.Join(dir, "agent"), c1.addr(), c2.addr())
	w := &lineWriter{t: t, path: filepath.Join(logs, "app.log"), name: "app"}
	want := map[string]bool{}
	w.write(5000)
	w.want(want)
	waitAll(t, 30*time.Second, want, "agents", out1)
	if n := len(received([]string{out2}, "agents")); n != 0 {
		t.Fatalf("the second centre received %d lines while the first was up", n)
	}
	if err := c1.Exit(t, syscall.SIGTERM, 30*time.Second); err != nil {
		t.Fatalf("centre 1: %v", err)
	}
	for i := 0; i < 10; i++ {
		w.write(1000)
		time.Sleep(50 * time.Millisecond)
	}
	w.want(want)
	got := waitAll(t, 60*time.Second, want, "agents", out1, out2)
	_, dups, extra := missing(want, got)
	t.Logf("all %d lines arrived, %d at the second centre; %d twice (%d extra copies)",
		len(want), len(received([]string{out2}, "agents")), dups, extra)
	a.Wait(t, "lumberjack: connected", time.Second)
	if err := a.Exit(t, syscall.SIGTERM, 30*time.Second); err != nil {
		t.Errorf("agent: %v", err)
	}
	if err := c2.Exit(t, syscall.SIGTERM, 30*time.Second); err != nil {
		t.Errorf("centre 2: %v", err)
	}
}

// TestAgentForeignCertificate: an agent whose client certificate comes from
// another CA is refused by the centre, which says so in its log; nothing
// arrives and the agent keeps the lines (queue and sincedb). Started again
// with a certificate of the right CA, it delivers every one.
func TestAgentForeignCertificate(t *testing.T) {
	dir := t.TempDir()
	pki := agentPKI(t, filepath.Join(dir, "pki"), "agent-d")
	other := agentPKI(t, filepath.Join(dir, "other"), "intruder")
	// The intruder trusts the centre (the real CA) but holds a
	// certificate of its own CA.
	mixed := filepath.Join(dir, "mixed")
	os.MkdirAll(mixed, 0o700)
	for src, name := range map[string]string{filepath.Join(pki, "ca.crt"): "ca.crt", filepath.Join(pki, "queue.key"): "queue.key",
		filepath.Join(other, "agent.crt"): "agent.crt", filepath.Join(other, "agent.key"): "agent.key"} {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(mixed, name), b, 0o600)
	}
	logs := filepath.Join(dir, "logs")
	os.MkdirAll(logs, 0o755)
	out := filepath.Join(dir, "central")
	data := filepath.Join(dir, "agent")
	glob := filepath.Join(logs, "*.log")
	c := startCentre(t, "hcl", pki, out, 0)
	a := startAgent(t, "conf", mixed, glob, data, c.addr())
	w := &lineWriter{t: t, path: filepath.Join(logs, "app.log"), name: "app"}
	w.write(1000)
	want := map[string]bool{}
	w.want(want)
	line := c.Wait(t, "beats: connection closed", 30*time.Second)
	t.Logf("centre: %s", line)
	if !strings.Contains(line, "certificate signed by unknown authority") || !strings.Contains(line, "WARN") {
		t.Errorf("the centre's log line does not say the certificate was refused: %s", line)
	}
	time.Sleep(time.Second)
	if n := len(received([]string{out}, "agents")); n != 0 {
		t.Fatalf("%d lines arrived from an agent with a foreign certificate", n)
	}
	// With no centre accepting it, the batch in flight never completes:
	// SIGTERM waits for it (as Logstash's shutdown does), a second one
	// stops the agent at once, the events staying in its queue.
	if err := a.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	a.Wait(t, "draining (send again to force)", 10*time.Second)
	time.Sleep(2 * time.Second)
	if err := a.Exit(t, syscall.SIGTERM, 30*time.Second); err != nil {
		t.Logf("refused agent stopped by the second SIGTERM: %v", err)
	}
	a = startAgent(t, "conf", pki, glob, data, c.addr())
	got := waitAll(t, 30*time.Second, want, "agents", out)
	_, dups, _ := missing(want, got)
	t.Logf("with the right certificate all %d lines arrived (%d twice)", len(want), dups)
	if err := a.Exit(t, syscall.SIGTERM, 30*time.Second); err != nil {
		t.Errorf("agent: %v", err)
	}
}

// TestAgentStopsWithNoCentre: an agent (agent.conf, persisted queue) whose
// every centre is unreachable stops on one SIGTERM, within the persisted
// queue's stop grace (10 s), exit status 0, its lines left in the queue;
// started again with a centre up, it sends every one of them.
func TestAgentStopsWithNoCentre(t *testing.T) {
	dir := t.TempDir()
	pki := agentPKI(t, filepath.Join(dir, "pki"), "agent-s")
	logs := filepath.Join(dir, "logs")
	os.MkdirAll(logs, 0o755)
	out := filepath.Join(dir, "central")
	data := filepath.Join(dir, "agent")
	glob := filepath.Join(logs, "*.log")
	nobody := fmt.Sprintf("127.0.0.1:%d", topoFreePort(t)) // nothing listens there
	a := startAgent(t, "conf", pki, glob, data, nobody)
	w := &lineWriter{t: t, path: filepath.Join(logs, "app.log"), name: "app"}
	want := map[string]bool{}
	w.write(3000)
	w.want(want)
	size := fileSize(w.path)
	var pos int64
	topoWait(t, 20*time.Second, func() string {
		return fmt.Sprintf("the agent's sincedb has %s at %d of %d bytes", w.path, pos, size)
	}, func() bool {
		pos = sincedbPos(filepath.Join(data, "sincedb-app"), w.path)
		return pos == size
	})
	start := time.Now()
	// One signal; the grace is 10 s, the rest is slack for a loaded machine.
	if err := a.Exit(t, syscall.SIGTERM, 25*time.Second); err != nil {
		t.Fatalf("agent: %v\n%s", err, a)
	}
	t.Logf("one SIGTERM stopped the agent in %v; %s", time.Since(start).Round(time.Millisecond), lastLine(a.String(), "grace"))
	if !strings.Contains(a.String(), "stays in the persisted queue") {
		t.Fatalf("the agent did not say its lines wait in the queue; log:\n%s", a)
	}
	c := startCentre(t, "conf", pki, out, 0)
	a = startAgent(t, "conf", pki, glob, data, c.addr())
	got := waitAll(t, 60*time.Second, want, "agents", out)
	_, dups, extra := missing(want, got)
	t.Logf("all %d lines arrived after the restart; %d twice or more (%d extra copies)", len(want), dups, extra)
	if err := a.Exit(t, syscall.SIGTERM, 30*time.Second); err != nil {
		t.Errorf("agent: %v", err)
	}
	if err := c.Exit(t, syscall.SIGTERM, 30*time.Second); err != nil {
		t.Errorf("centre: %v", err)
	}
}
