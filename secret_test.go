package main

import (
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestRefusedReloadHidesSecret: an Elasticsearch host whose password comes
// from ${ENV} and whose scheme is refused makes the reload fail; neither the
// log nor the monitoring API's reloads.last_error carries the password.
func TestRefusedReloadHidesSecret(t *testing.T) {
	const secret = "s3cretPW42"
	dir := t.TempDir()
	conf := filepath.Join(dir, "p.conf")
	good := "input { tcp { host => \"127.0.0.1\" port => 0 } } output { null {} }\n"
	writeFile(t, conf, good)
	cmd := pipelineCmd(t, "run", "-f", conf, "-r", "--config.reload.interval", "100ms",
		"--path.data", filepath.Join(dir, "data"), "--api.http.host", "127.0.0.1", "--api.http.port", "0")
	cmd.Env = append(cmd.Env, "ES_PW="+secret)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	const refused = "configuration reload refused"
	w := watchLog(t, stderr, "monitoring API listening", "pipeline started", refused)
	w.wait(t, "monitoring API listening", 20*time.Second)
	w.wait(t, "pipeline started", 20*time.Second)
	m := regexp.MustCompile(`monitoring API listening" address=(\S+)`).FindStringSubmatch(w.String())
	if m == nil {
		t.Fatalf("no API address in the log:\n%s", w)
	}
	writeFile(t, conf, strings.Replace(good, "null {}",
		`elasticsearch { hosts => ["ftp://elastic:${ES_PW}@es:9200"] }`, 1))
	w.wait(t, refused, 20*time.Second)

	resp, err := http.Get("http://" + m[1] + "/_node/stats/pipelines/main")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var st struct {
		Pipelines map[string]struct {
			Reloads struct {
				Failures  int64
				LastError struct{ Message string } `json:"last_error"`
			} `json:"reloads"`
		} `json:"pipelines"`
	}
	if err := json.Unmarshal(body, &st); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	r := st.Pipelines["main"].Reloads
	if r.Failures != 1 || !strings.Contains(r.LastError.Message, "unsupported scheme") {
		t.Errorf("reloads = %+v; want 1 failure about the scheme", r)
	}
	if strings.Contains(string(body), secret) {
		t.Errorf("the monitoring API shows the password: %s", body)
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	_ = cmd.Wait()
	if strings.Contains(w.String(), secret) {
		t.Errorf("the log shows the password:\n%s", w)
	}
}
