package main

import (
	"bytes"
	"debug/elf"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/pipelined/pipeline/engine/enginetest/logwatch"
)

func TestMain(m *testing.M) {
	// The reload tests run this test binary as the pipeline command.
	if os.Getenv("PIPELINE_TEST_MAIN") == "1" {
		os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	testscript.Main(m, map[string]func(){
		"pipeline": func() { os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) },
	})
}

// TestScripts runs the CLI scripts in examples/testdata/script: each is a txtar
// with the commands, the files they use and the expected output.
func TestScripts(t *testing.T) {
	wd, _ := os.Getwd()
	testscript.Run(t, testscript.Params{
		Dir: filepath.Join("examples", "testdata", "script"),
		Setup: func(env *testscript.Env) error {
			env.Setenv("EXAMPLES", filepath.Join(wd, "examples"))
			return nil
		},
	})
}

// pipelineCmd starts this binary as `pipeline args...`.
func pipelineCmd(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "PIPELINE_TEST_MAIN=1")
	return cmd
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestQuickstart runs the README's first command, as a newcomer would from a
// fresh directory: the audit events go into the embedded immudb store and a
// daily file, then `pipeline verify` proves every row (#23).
func TestQuickstart(t *testing.T) {
	dir := t.TempDir()
	conf, err := filepath.Abs(filepath.Join("examples", "quickstart", "pipeline.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := pipelineCmd(t, "run", "-f", conf, "--api.enabled=false")
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("quickstart: %v\n%s", err, stderr.String())
	}
	got := stdout.String()
	if n := strings.Count(got, `"message" => `); n != 6 {
		t.Errorf("quickstart printed %d events; want 6 (3 lines × 2):\n%s", n, got)
	}
	if n := strings.Count(got, `"failed_logon"`); n != 2 {
		t.Errorf("%d events tagged failed_logon; want 2:\n%s", n, got)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "data", "quickstart", "audit-*.log"))
	if len(files) != 1 {
		t.Fatalf("daily files %v; want one", files)
	}
	b, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 6 || !json.Valid([]byte(lines[0])) || !strings.Contains(lines[0], `"user":{"name":"alice"}`) {
		t.Errorf("daily file holds %d lines, first %q; want 6 JSON lines with [user][name]", len(lines), lines[0])
	}
	ver := pipelineCmd(t, "verify")
	ver.Dir = dir
	out, err := ver.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "rows checked: 6") || !strings.Contains(string(out), "verify OK") {
		t.Errorf("verify after the quickstart: %v\n%s", err, out)
	}
}

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
	const refused = "configuration reload refused"
	w := logwatch.Start(t, cmd)
	w.Wait(t, "monitoring API listening", 20*time.Second)
	w.Wait(t, "pipeline started", 20*time.Second)
	m := regexp.MustCompile(`monitoring API listening" address=(\S+)`).FindStringSubmatch(w.String())
	if m == nil {
		t.Fatalf("no API address in the log:\n%s", w)
	}
	writeFile(t, conf, strings.Replace(good, "null {}",
		`elasticsearch { hosts => ["ftp://elastic:${ES_PW}@es:9200"] }`, 1))
	w.Wait(t, refused, 20*time.Second)

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
	_ = w.Err()
	if strings.Contains(w.String(), secret) {
		t.Errorf("the log shows the password:\n%s", w)
	}
}

// TestReadmeTourMatchesQuickstart: the HCL the README's tour shows is the
// quickstart file's text, so the two cannot drift apart again.
func TestReadmeTourMatchesQuickstart(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)## A short tour.*?```hcl\n(.*?)```").FindSubmatch(readme)
	if m == nil {
		t.Fatal("README.md has no HCL block in its tour")
	}
	qs, err := os.ReadFile(filepath.Join("examples", "quickstart", "pipeline.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(qs, m[1]) {
		t.Errorf("README's tour shows HCL that examples/quickstart/pipeline.hcl does not hold:\n%s", m[1])
	}
}

// todaysBinaryBytes is the size of `go build -o pipeline .` on 2026-12-07
// before that day's new plugins (linux/amd64, dynamically linked, with
// symbols). The test compares the release build with a plain build of the
// same commit, made in the same run, and logs both ratios.
const todaysBinaryBytes = 56_547_777

// issue23GoalBytes is issue #23's goal for the release binary: at most 60 %
// of the 47 MB binary the issue names (0.6 × 47 MB = 28.2 MB). It is not
// reached with every plugin kept: the release binary is 37.1 MB
// (linux/amd64), of which, measured by building without them, the immudb
// output (embedded store, SQL engine, gRPC client and protobuf) takes
// 6.8 MB, the jdbc input 5.7 MB (its SQLite driver, pure Go: 3.9 MB;
// PostgreSQL wire protocol: 1.3 MB; MySQL: 0.3 MB), Kafka (franz-go) 3.6 MB
// and Redis (go-redis, cluster included) 2.6 MB. The test logs the gap.
const issue23GoalBytes = 28_200_000

// releaseBudgetBytes bounds the linux/amd64 release binary: its size once
// pgx's type system (2.9 MB) and xmlquery's CJK tables (0.7 MB) were left
// out (37.1 MB), plus 2.5 % for new code. A dependency that brings more (a
// new client library, an init that links a table) must be weighed here.
const releaseBudgetBytes = 38_000_000

// TestReleaseBuild runs .ci/release for linux/amd64 and checks what a user
// without Go gets: a static, stripped binary, stamped with the version, that
// runs the quickstart from an empty directory (#23).
func TestReleaseBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the whole binary")
	}
	out := t.TempDir()
	cmd := exec.Command(filepath.Join(".ci", "release"), "9.9.9-test", out)
	cmd.Env = append(os.Environ(), "GOARCHES="+runtime.GOARCH)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf(".ci/release: %v\n%s", err, b)
	}
	bin := filepath.Join(out, "pipeline-9.9.9-test-linux-"+runtime.GOARCH)
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("the release binary has an ELF interpreter: it is dynamically linked")
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("the release binary needs %v", libs)
	}
	if f.Section(".symtab") != nil {
		t.Error("the release binary is not stripped")
	}
	f.Close()
	if b, err := exec.Command("file", bin).Output(); err != nil || !strings.Contains(string(b), "statically linked") {
		t.Errorf("file %s: %v %s", bin, err, b)
	}
	st, err := os.Stat(bin)
	if err != nil {
		t.Fatal(err)
	}
	plain := filepath.Join(t.TempDir(), "pipeline")
	if b, err := exec.Command("go", "build", "-o", plain, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	pst, err := os.Stat(plain)
	if err != nil {
		t.Fatal(err)
	}
	ratio := float64(st.Size()) / float64(pst.Size())
	t.Logf("release binary %d bytes = %.2f × a plain go build of this commit (%d bytes), %.2f × the 2026-12-07 build",
		st.Size(), ratio, pst.Size(), float64(st.Size())/todaysBinaryBytes)
	// Stripping alone gives about 0.70; 0.60 also needs the linker's
	// method pruning, which one reachable call of reflect's Method (a new
	// dependency, or gRPC's trace without the grpcnotrace tag) turns off.
	if ratio > 0.60 {
		t.Errorf("release binary %d bytes = %.2f × a plain build; want ≤ 0.60 (static, stripped, unused methods pruned)", st.Size(), ratio)
	}
	if runtime.GOARCH == "amd64" && st.Size() > releaseBudgetBytes {
		t.Errorf("release binary %d bytes, over its budget of %d (releaseBudgetBytes): see what the new code links with `go tool nm -size -sort size` on a build without -s -w",
			st.Size(), releaseBudgetBytes)
	}
	t.Logf("issue #23's goal: %d bytes (0.6 × 47 MB); the release binary is %.2f × that", issue23GoalBytes, float64(st.Size())/issue23GoalBytes)
	for _, name := range []string{"SHA256SUMS", "pipeline.service", "pipeline.bash", "_pipeline"} {
		if _, err := os.Stat(filepath.Join(out, name)); err != nil {
			t.Error(err)
		}
	}

	// No Go on PATH, an empty directory: the quickstart and verify run.
	conf, _ := filepath.Abs(filepath.Join("examples", "quickstart", "pipeline.hcl"))
	dir := t.TempDir()
	env := []string{"PATH=/usr/bin:/bin", "HOME=" + dir}
	for _, args := range [][]string{{"version"}, {"run", "-f", conf, "--api.enabled=false"}, {"verify"}} {
		c := exec.Command(bin, args...)
		c.Dir, c.Env = dir, env
		b, err := c.CombinedOutput()
		if err != nil {
			t.Fatalf("%s %v: %v\n%s", bin, args, err, b)
		}
		switch args[0] {
		case "version":
			if !strings.Contains(string(b), "pipeline 9.9.9-test") {
				t.Errorf("version printed %q", b)
			}
		case "verify":
			if !strings.Contains(string(b), "rows checked: 6") || !strings.Contains(string(b), "verify OK") {
				t.Errorf("verify printed %s", b)
			}
		}
	}
}
