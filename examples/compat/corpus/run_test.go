package corpus

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRunRealCheck builds the real pipeline binary and checks
// testdata/corpus with it: fragments completed, ${VAR} given a value, a
// non-.conf name read, a non-pipeline file skipped, blockers counted.
func TestRunRealCheck(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "pipeline")
	build := exec.Command("go", "build", "-o", bin, "github.com/pipelined/pipeline")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	os.Unsetenv("COMPAT_TEST_PORT")
	res, skipped, err := Run(context.Background(), Options{Bin: bin, Jobs: 2, Timeout: time.Minute}, "testdata/corpus")
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	WriteTSV(&b, res)
	want := `# repository	path	complete	status	blockers
a/one	a__one/10-filter.logstash	false	accepted	
a/one	a__one/vars.cfg	true	accepted	
b/two	b__two/30-grok.pfelk	false	refused-env	missing local file for patterns_dir of filter grok
b/two	b__two/unknown.pipeline	true	refused	unknown filter plugin no_such_filter_xyz
`
	if b.String() != want {
		t.Errorf("results:\n%s\nwant:\n%s", b.String(), want)
		for _, r := range res {
			if r.Output != "" {
				t.Logf("%s:\n%s", r.Path, r.Output)
			}
		}
	}
	rep := Summarize(res, skipped)
	if rep.Files != 4 || rep.Repos != 2 || rep.Skipped != 2 || rep.All != (Rate{2, 4}) ||
		rep.Complete != (Rate{1, 2}) || rep.EnvForgiven != (Rate{3, 4}) ||
		rep.CompleteEnvForgiven != (Rate{1, 2}) {
		t.Errorf("report %+v", rep)
	}
	var md strings.Builder
	rep.Markdown(&md, 10)
	for _, s := range []string{
		"| all files | 2 / 4 = 50.0 % |",
		"| complete pipelines, refusals for missing local files forgiven | 1 / 2 = 50.0 % |",
		"| unknown filter plugin no_such_filter_xyz | 1 | 1 | 1 |",
		"| missing local file for patterns_dir of filter grok (environment) | 1 | 1 | 1 |",
	} {
		if !strings.Contains(md.String(), s) {
			t.Errorf("markdown lacks %q:\n%s", s, md.String())
		}
	}
}
