package corpus

import (
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestFromMirrors runs from-mirrors.sh on a real git repository: a listed
// file at its commit is written where fetch.sh would write it, and a file
// whose SHA-256 differs from the list is reported and not kept, so the
// corpus measured offline is the one sources.tsv names.
func TestFromMirrors(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatal("git is needed to build the mirror")
	}
	tmp := t.TempDir()
	work := filepath.Join(tmp, "work")
	git := func(dir string, args ...string) string {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.invalid",
			"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.invalid", "GIT_CONFIG_GLOBAL=/dev/null")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	conf := "input { stdin {} }\noutput { stdout {} }\n"
	if err := os.MkdirAll(filepath.Join(work, "logstash", "pipeline"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(work, "logstash", "pipeline", "main conf.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	git(tmp, "init", "-q", work)
	git(work, "add", "-A")
	git(work, "commit", "-q", "-m", "pipeline")
	commit := git(work, "rev-parse", "HEAD")
	mirrors := filepath.Join(tmp, "mirrors")
	git(tmp, "clone", "-q", "--bare", work, filepath.Join(mirrors, "owner+name"))

	good := fmt.Sprintf("%x", sha256.Sum256([]byte(conf)))
	bad := fmt.Sprintf("%x", sha256.Sum256([]byte("other")))
	out := filepath.Join(tmp, "corpus")
	written := filepath.Join(out, "owner__name", "logstash__pipeline__main conf.conf")
	run := func(lines ...string) string {
		t.Helper()
		list := filepath.Join(tmp, "sources.tsv")
		tsv := "# repository\tpath\tcommit\tsha256\n" + strings.Join(lines, "\n") + "\n"
		if err := os.WriteFile(list, []byte(tsv), 0o644); err != nil {
			t.Fatal(err)
		}
		msg, err := exec.Command("bash", "../from-mirrors.sh", mirrors, out, list).CombinedOutput()
		if err != nil {
			t.Fatalf("from-mirrors.sh: %v\n%s", err, msg)
		}
		return string(msg)
	}

	msg := run("owner/name\tlogstash/pipeline/main conf.conf\t"+commit+"\t"+good,
		"owner/other\tlogstash.conf\t"+commit+"\t"+good)
	if !strings.Contains(msg, "1 files materialised") || !strings.Contains(msg, "1 failed") ||
		!strings.Contains(msg, "owner/other logstash.conf") {
		t.Errorf("first run:\n%s", msg)
	}
	if b, err := os.ReadFile(written); err != nil || string(b) != conf {
		t.Errorf("materialised file: %q, %v", b, err)
	}

	// The same file listed with another checksum is reported and removed,
	// as fetch.sh does with a file that changed.
	msg = run("owner/name\tlogstash/pipeline/main conf.conf\t" + commit + "\t" + bad)
	if !strings.Contains(msg, "0 files materialised") || !strings.Contains(msg, "1 failed") {
		t.Errorf("second run:\n%s", msg)
	}
	if _, err := os.Stat(written); err == nil {
		t.Errorf("a file whose checksum differs from the list was kept")
	}
}
