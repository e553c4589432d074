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
b/two	b__two/30-grok.pfelk	false	accepted-start	unknown grok pattern of filter grok %{PFELK_X}
b/two	b__two/40-dict.conf	false	refused-env	missing local file for dictionary_path of filter translate
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
	if rep.Files != 5 || rep.Repos != 2 || rep.Skipped != 2 || rep.All != (Rate{3, 5}) ||
		rep.Complete != (Rate{1, 2}) || rep.EnvForgiven != (Rate{4, 5}) ||
		rep.CompleteEnvForgiven != (Rate{1, 2}) || rep.AtStart != 1 || rep.CompleteAtStart != 0 {
		t.Errorf("report %+v", rep)
	}
	var md strings.Builder
	rep.Markdown(&md, 10)
	for _, s := range []string{
		"| all files | 3 / 5 = 60.0 % |",
		"Of the accepted files, 1 (0 complete pipelines) have errors `pipeline run` refuses at start",
		"| complete pipelines, refusals for missing local files forgiven | 1 / 2 = 50.0 % |",
		"| unknown filter plugin no_such_filter_xyz | 1 | 1 | 1 |",
		"| missing local file for dictionary_path of filter translate (environment) | 1 | 1 | 1 |",
	} {
		if !strings.Contains(md.String(), s) {
			t.Errorf("markdown lacks %q:\n%s", s, md.String())
		}
	}
}
