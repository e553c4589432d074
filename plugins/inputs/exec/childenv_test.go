package exec

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pipelined/pipeline/dsl"
	"github.com/pipelined/pipeline/engine"
	_ "github.com/pipelined/pipeline/plugins/codecs/json"
	_ "github.com/pipelined/pipeline/plugins/codecs/line"
	_ "github.com/pipelined/pipeline/plugins/outputs/file"
	_ "github.com/pipelined/pipeline/plugins/outputs/redis"
)

// The command of an exec input does not inherit the engine's secrets from
// the environment: the persisted queue's key given as env:NAME, and a
// password given to a secret option as ${VAR}. A real pipeline runs `env`
// and writes what it printed to a file; a plain variable is there (so the
// test can fail), the two secret ones are not.
func TestChildEnvironmentHoldsNoSecrets(t *testing.T) {
	const (
		keyVar   = "PIPELINE_TEST_CHILDENV_QUEUE_KEY"
		pwVar    = "PIPELINE_TEST_CHILDENV_REDIS_PASSWORD"
		plainVar = "PIPELINE_TEST_CHILDENV_PLAIN"
	)
	t.Setenv(keyVar, strings.Repeat("5a", 32))
	t.Setenv(pwVar, "s3cret-redis-pw")
	t.Setenv(plainVar, "visible-value")
	dir := t.TempDir()
	out := filepath.Join(dir, "env.log")
	src := fmt.Sprintf(`
input "exec" "env" {
  command  = "env; echo END-OF-ENV"
  interval = 3600
  codec "line" {}
}
output "file" "out" {
  path = %q
  codec "line" {}
}
if "[never] == 'true'" {
  output "redis" "unused" {
    host      = "127.0.0.1"
    port      = 1
    key       = "k"
    data_type = "list"
    password  = "${%s}"
  }
}
`, out, pwVar)
	cfg, diags := dsl.LoadSource("childenv.hcl", []byte(src))
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	p, diags := engine.Build(cfg.Pipelines[0], engine.Default, engine.Settings{Workers: 1,
		Queue: engine.QueueSettings{Type: "persisted", Path: filepath.Join(dir, "queue"), EncryptionKeyPath: "env:" + keyVar},
	})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	var got string
	for deadline := time.Now().Add(30 * time.Second); ; {
		b, _ := os.ReadFile(out)
		got = string(b)
		if strings.Contains(got, "END-OF-ENV") { // all of it: one batch, in order
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the command's output did not reach %s within 30 s: %q", out, got)
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		p.Abort()
		t.Fatal("the pipeline did not stop within 20 s")
	}
	if !strings.Contains(got, plainVar+"=visible-value") {
		t.Fatalf("the child's environment lacks the plain variable %s:\n%s", plainVar, got)
	}
	for _, v := range []string{keyVar, pwVar} {
		if strings.Contains(got, v+"=") {
			t.Errorf("the child's environment holds the secret variable %s", v)
		}
	}
	if strings.Contains(got, "s3cret-redis-pw") || strings.Contains(got, strings.Repeat("5a", 32)) {
		t.Error("the child's environment holds a secret's value")
	}
}
