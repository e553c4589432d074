package supervisor

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pipelined/pipeline/engine/childenv"
)

// TestAPIPasswordFile: the monitoring API password can come from a file
// (kept out of the process list), without its trailing newline; giving it
// twice, or an empty or missing file, is an error that does not show the
// content.
func TestAPIPasswordFile(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "pw")
	if err := os.WriteFile(good, []byte("s3cret-from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("API_AUTH_BASIC_PASSWORD", "")
	for _, tc := range []struct {
		args []string
		want string // password, or "error: <substring>"
	}{
		{[]string{"--api.auth.basic.password_file", good}, "s3cret-from-file"},
		{[]string{"--api.auth.basic.password_file", good, "--api.auth.basic.password", "x"}, "error: not both"},
		{[]string{"--api.auth.basic.password_file", empty}, "error: is empty"},
		{[]string{"--api.auth.basic.password_file", filepath.Join(dir, "nope")}, "error: no such file"},
	} {
		fs := flag.NewFlagSet("test", flag.ContinueOnError)
		f := AddSettingFlags(fs)
		if err := fs.Parse(append([]string{"--api.auth.type", "basic", "--api.auth.basic.username", "ops"}, tc.args...)); err != nil {
			t.Fatal(err)
		}
		err := f.Validate()
		if want, isErr := strings.CutPrefix(tc.want, "error: "); isErr {
			if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "s3cret") {
				t.Errorf("%v: %v; want an error with %q, without the password", tc.args, err, want)
			}
			continue
		}
		if err != nil || f.settings.API.Password != tc.want {
			t.Errorf("%v: password %q, %v; want %q", tc.args, f.settings.API.Password, err, tc.want)
		}
	}
}

// TestAPIPasswordEnvHiddenFromChildren: the monitoring API password taken
// from API_AUTH_BASIC_PASSWORD is not in the environment of the processes
// plugins start (childenv.Environ: the exec input's command, the ruby
// filter's interpreter), as the secrets named by ${VAR} are not.
func TestAPIPasswordEnvHiddenFromChildren(t *testing.T) {
	t.Setenv("API_AUTH_BASIC_PASSWORD", "s3cret-from-env")
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	f := AddSettingFlags(fs)
	if err := fs.Parse([]string{"--api.auth.type", "basic", "--api.auth.basic.username", "ops"}); err != nil {
		t.Fatal(err)
	}
	if err := f.Validate(); err != nil || f.settings.API.Password != "s3cret-from-env" {
		t.Fatalf("password %q, %v", f.settings.API.Password, err)
	}
	for _, kv := range childenv.Environ() {
		if strings.Contains(kv, "s3cret-from-env") {
			t.Errorf("a child's environment holds %q", kv)
		}
	}
}
