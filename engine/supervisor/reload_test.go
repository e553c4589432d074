package supervisor

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/enginetest/logwatch"
)

// TestReloadPerPipeline: with one file per pipeline (as pipelines.yml
// isolates them), a reload replaces only the pipeline whose definition
// changed, starts the added one and drains the removed one, while the
// unchanged one keeps running; a pipeline that does not build is refused alone
// while another changed one is replaced; the replaced pipeline's tcp input
// listens on the same port again (the old listener is closed first); the
// monitoring API follows (its pipeline list, each pipeline's and the process's
// reload counts).
func TestReloadPerPipeline(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "pipelines")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	pipeline := func(id, filter string) map[string]string {
		p := 0
		if id == "b" {
			p = port
		}
		return map[string]string{id: fmt.Sprintf("input \"tcp\" {\n  host = \"127.0.0.1\"\n  port = %d\n}\n%s\noutput \"stdout\" {\n  codec \"line\" {\n    format = \"%%%%{message} %%%%{tags}\"\n  }\n}\n", p, filter)}
	}
	// replace swaps the whole set of pipeline files at once (a symbolic link
	// renamed over conf), as rewriting pipelines.yml does.
	version := 0
	replace := func(pipelines ...map[string]string) {
		t.Helper()
		version++
		v := filepath.Join(dir, fmt.Sprintf("v%d", version))
		if err := os.Mkdir(v, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, p := range pipelines {
			for id, content := range p {
				writeFile(t, filepath.Join(v, id+".hcl"), content)
			}
		}
		if err := os.Symlink(v, conf+".tmp"); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(conf+".tmp", conf); err != nil {
			t.Fatal(err)
		}
	}
	addTag := func(tag string) string {
		return fmt.Sprintf("filter \"mutate\" {\n  add_tag = [%q]\n}", tag)
	}
	replace(pipeline("a", ""), pipeline("b", ""))
	cmd := pipelineCmd(t, "run", "-f", conf, "-r", "--config.reload.interval", "100ms",
		"--api.http.port", "0", "--path.data", filepath.Join(dir, "data"))
	var stdout syncBuffer
	cmd.Stdout = &stdout
	w := logwatch.Start(t, cmd)
	w.Wait(t, "monitoring API listening", 20*time.Second)
	w.Wait(t, "configuration reload is automatic", 20*time.Second)
	m := apiAddr.FindStringSubmatch(w.String())
	if m == nil {
		t.Fatalf("no API address in the log:\n%s", w)
	}

	replace(pipeline("a", ""), pipeline("b", addTag("b2")), pipeline("c", ""))
	w.Wait(t, `msg="pipeline reloaded" pipeline=b`, 20*time.Second)
	w.Wait(t, `msg="pipeline added by a reload; started" pipeline=c`, 20*time.Second)
	// The new b listens on the old one's port.
	var c net.Conn
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if c, err = net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		t.Fatalf("the reloaded pipeline b does not listen on port %d: %v\n%s", port, err, w)
	}
	io.WriteString(c, "to b\n")
	c.Close()
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(stdout.String(), "to b b2\n"); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the line sent to the reloaded b is not in stdout with its tag: %q\n%s", stdout.String(), w)
		}
	}
	replace(pipeline("a", ""), pipeline("c", ""))
	w.Wait(t, `msg="pipeline removed from the configuration; stopped" pipeline=b`, 20*time.Second)
	// a broken and c changed: a is refused alone, c is replaced.
	replace(pipeline("a", "filter \"mutate\" {\n  add_tagz = [\"x\"]\n}"), pipeline("c", addTag("c2")))
	w.Wait(t, `msg="configuration reload refused`, 20*time.Second)
	w.Wait(t, `msg="pipeline reloaded" pipeline=c`, 20*time.Second)
	if i := w.Index(`msg="pipeline stopped" pipeline=a`); i >= 0 {
		t.Errorf("pipeline a, unchanged, was stopped; log:\n%s", w)
	}

	type reloads struct{ Successes, Failures int64 }
	var st struct {
		Reloads   reloads `json:"reloads"`
		Pipelines map[string]struct {
			Reloads reloads `json:"reloads"`
		} `json:"pipelines"`
	}
	resp, err := http.Get("http://" + m[1] + "/_node/stats")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err := json.Unmarshal(body, &st); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	var ids []string
	for id := range st.Pipelines {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	if strings.Join(ids, ",") != "a,c" {
		t.Errorf("the API lists pipelines %v; want a and c", ids)
	}
	if r := st.Pipelines["a"].Reloads; r != (reloads{Failures: 1}) {
		t.Errorf("pipeline a reloads = %+v; want 1 failure", r)
	}
	if r := st.Pipelines["c"].Reloads; r != (reloads{Successes: 2}) {
		t.Errorf("pipeline c reloads = %+v; want 2 successes", r)
	}
	if st.Reloads != (reloads{Successes: 3, Failures: 1}) {
		t.Errorf("process reloads = %+v; want 3 successes (b replaced, c added, c replaced), 1 failure (a)", st.Reloads)
	}
	if !strings.Contains(w.String(), `diagnostic="`+filepath.Join(conf, "a.hcl")+`:6:`) || !strings.Contains(w.String(), "add_tagz") {
		t.Errorf("the refusal of a is not reported with its position; log:\n%s", w)
	}

	if err := w.Exit(t, syscall.SIGTERM, 20*time.Second); err != nil {
		t.Fatalf("pipeline exited with %v; log:\n%s", err, w)
	}
}

// TestReloadConfigString: -e has nothing to reload: SIGHUP says so and the
// pipeline keeps running; -r with -e is a usage error.
func TestReloadConfigString(t *testing.T) {
	cmd := pipelineCmd(t, "run", "-r", "-e", `input "stdin" {}`)
	if out, err := cmd.CombinedOutput(); cmd.ProcessState == nil || cmd.ProcessState.ExitCode() != engine.ExitUsage ||
		!strings.Contains(string(out), "--config.reload.automatic needs a configuration in files") {
		t.Errorf("run -r -e: %v\n%s", err, out)
	}

	dir := t.TempDir()
	cmd = pipelineCmd(t, "run", "-e", "input \"stdin\" {}\noutput \"stdout\" {\n  codec \"line\" {}\n}\n",
		"--api.enabled=false", "--path.data", filepath.Join(dir, "data"))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stdout strings.Builder
	cmd.Stdout = &stdout
	w := logwatch.Start(t, cmd)
	w.Wait(t, "pipeline started", 20*time.Second)
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	w.Wait(t, "nothing to reload", 20*time.Second)
	io.WriteString(stdin, "still running\n")
	stdin.Close()
	if err := w.Exit(t, nil, 20*time.Second); err != nil {
		t.Fatalf("exit: %v\n%s", err, w)
	}
	if !strings.HasSuffix(stdout.String(), " still running\n") {
		t.Errorf("stdout = %q", stdout.String())
	}
}

// TestReloadStdinRefused: a pipeline reading stdin is not reloaded (as in
// Logstash): the change is refused, reported, and the running pipeline keeps
// every line.
func TestReloadStdinRefused(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "p.hcl")
	const output = "output \"stdout\" {\n  codec \"line\" {\n    format = \"%%{message} %%{tags}\"\n  }\n}\n"
	writeFile(t, conf, "input \"stdin\" {}\n"+output)
	cmd := pipelineCmd(t, "run", "-f", conf, "--api.enabled=false", "--path.data", filepath.Join(dir, "data"))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stdout strings.Builder
	cmd.Stdout = &stdout
	w := logwatch.Start(t, cmd)
	w.Wait(t, "pipeline started", 20*time.Second)
	io.WriteString(stdin, "one\n")
	writeFile(t, conf, "input \"stdin\" {}\nfilter \"mutate\" {\n  add_tag = [\"new\"]\n}\n"+output)
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	w.Wait(t, "Pipeline not reloadable", 20*time.Second)
	io.WriteString(stdin, "two\n")
	stdin.Close()
	if err := w.Exit(t, nil, 20*time.Second); err != nil {
		t.Fatalf("exit: %v\n%s", err, w)
	}
	got := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	slices.Sort(got)
	if strings.Join(got, "|") != "one %{tags}|two %{tags}" {
		t.Errorf("stdout = %q; want both lines, untagged", stdout.String())
	}
	if !strings.Contains(w.String(), "p.hcl:1:7: error: Pipeline not reloadable") {
		t.Errorf("no file:line:col diagnostic; log:\n%s", w)
	}
}
