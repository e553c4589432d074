package supervisor

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// complete runs the bash completion function on a command line (the last
// word being completed) and returns what it offers.
func complete(t *testing.T, script string, words ...string) []string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "pipeline.bash"), []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "pipelines.yml"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	var quoted []string
	for _, w := range words {
		quoted = append(quoted, "'"+w+"'")
	}
	sh := "source pipeline.bash; COMP_WORDS=(" + strings.Join(quoted, " ") + "); COMP_CWORD=" +
		string(rune('0'+len(words)-1)) + "; _pipeline; printf '%s\\n' \"${COMPREPLY[@]}\""
	cmd := exec.Command("bash", "-c", sh)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("bash: %v\n%s", err, out)
	}
	return strings.Fields(string(out))
}

func TestBashCompletion(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Fatal("bash is needed for this test")
	}
	var out, errb bytes.Buffer
	if code := Completion([]string{"bash"}, []string{"run", "check", "verify"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	script := out.String()
	for _, c := range []struct {
		words []string
		want  []string
	}{
		{[]string{"pipeline", "ve"}, []string{"verify"}},
		{[]string{"pipeline", "run", "--pipeline.b"}, []string{"--pipeline.batch.delay", "--pipeline.batch.size"}},
		{[]string{"pipeline", "check", "--config.t"}, []string{"--config.test_and_exit"}},
		{[]string{"pipeline", "run", "--pipelines", "pipelines"}, []string{"pipelines.yml"}},
	} {
		got := complete(t, script, c.words...)
		if strings.Join(got, " ") != strings.Join(c.want, " ") {
			t.Errorf("completing %q offers %q; want %q", c.words, got, c.want)
		}
	}
	out.Reset()
	if code := Completion([]string{"zsh"}, []string{"run"}, &out, &errb); code != 0 || !strings.HasPrefix(out.String(), "#compdef pipeline\n") {
		t.Errorf("zsh script: exit %d\n%s", code, out.String())
	}
	if code := Completion([]string{"fish"}, nil, &out, &errb); code == 0 {
		t.Error("fish accepted")
	}
}
