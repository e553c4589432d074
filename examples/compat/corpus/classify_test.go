package corpus

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/tools/txtar"
)

// Each testdata/classify/*.txtar holds a configuration, what `pipeline
// check` printed for it, and the blocker that must come out.
func TestClassify(t *testing.T) {
	files, err := filepath.Glob("testdata/classify/*.txtar")
	if err != nil || len(files) == 0 {
		t.Fatalf("no cases: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			ar, err := txtar.ParseFile(f)
			if err != nil {
				t.Fatal(err)
			}
			parts := map[string]string{}
			for _, p := range ar.Files {
				parts[p.Name] = string(p.Data)
			}
			errs := ParseErrors(parts["output"])
			if len(errs) == 0 {
				t.Fatalf("no error parsed from %q", parts["output"])
			}
			b := Classify(errs[0], Scan([]byte(parts["conf"])))
			got := "key: " + b.Key + "\n"
			if b.Detail != "" {
				got += "detail: " + b.Detail + "\n"
			}
			if b.Env {
				got += "env: true\n"
			}
			if want := parts["want"]; got != want {
				t.Errorf("got\n%s\nwant\n%s", got, want)
			}
		})
	}
}

func TestParseErrorsSeveral(t *testing.T) {
	out := `a.conf:2:3: error: First
    first detail
    more of it
    2 |   x
      |   ^
a.conf:5:1: error: Second
    5 | y
      | ^
error: Third
2 error(s) found; nothing was started.
`
	got := fmt.Sprint(ParseErrors(out))
	want := "[{2 3 First first detail more of it} {5 1 Second } {0 0 Third }]"
	if got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestGenericCuts(t *testing.T) {
	long := strings.Repeat("word ", 40)
	if g := generic(long); len(g) > 95 || !strings.HasSuffix(g, "…") {
		t.Errorf("generic(long) = %q", g)
	}
	if g := generic(`value "abc" at 12; then more`); g != `value "…" at N` {
		t.Errorf("got %q", g)
	}
}
