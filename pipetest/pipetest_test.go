package pipetest_test

import (
	"bytes"
	"io"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/pipelined/pipeline/pipetest"
	_ "github.com/pipelined/pipeline/plugins/all"
)

// suites are LFV test suites, in LFV's own format, for the examples.
var suites = []struct {
	name, config, tests, mocks string
	cases                      int
}{
	{"topology", "../examples/topology/pipelines.yml", "testdata/lfv/topology", "", 4},
	{"rsyslog", "../examples/rsyslog-to-files/pipeline.conf", "testdata/lfv/rsyslog", "", 6},
	{"rsyslog-mocked", "../examples/rsyslog-to-files/pipeline.conf", "testdata/lfv/rsyslog-mocked", "testdata/mocks/rsyslog.yml", 1},
}

func TestLFVSuitesPass(t *testing.T) {
	for _, s := range suites {
		t.Run(s.name, func(t *testing.T) {
			var o pipetest.Options
			if s.mocks != "" {
				m, err := pipetest.ParseMocks(s.mocks)
				if err != nil {
					t.Fatal(err)
				}
				o.Mocks = m
			}
			var out bytes.Buffer
			sum, err := pipetest.RunAll(s.config, s.tests, o, &out, io.Discard)
			if err != nil {
				t.Fatalf("%v\n%s", err, out.String())
			}
			if sum.Failed != 0 || sum.Errors != 0 || sum.Passed != s.cases {
				t.Fatalf("%+v, want %d passed:\n%s", sum, s.cases, out.String())
			}
		})
	}
}

// TestWrongExpectationFails runs the command on a suite with one wrong
// expectation: exit 1, a unified diff of pretty JSON naming the file and
// line of the expected event, and the right case passing.
func TestWrongExpectationFails(t *testing.T) {
	var out, errOut bytes.Buffer
	code := pipetest.Command([]string{"../examples/rsyslog-to-files/pipeline.conf", "testdata/lfv/fail"}, &out, &errOut)
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s%s", code, out.String(), errOut.String())
	}
	got := out.String()
	for _, want := range []string{
		"--- FAIL: wrong.yml/wrong program name (testdata/lfv/fail/wrong.yml:6)",
		"--- expected (testdata/lfv/fail/wrong.yml:10)\n+++ actual\n",
		"\n+  \"syslog_pid\": \"123\",\n",
		"\n-  \"syslog_program\": \"ssh\",\n+  \"syslog_program\": \"sshd\",\n",
		"FAIL: 1 passed, 1 failed, 0 errors, 0 skipped",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "right (") {
		t.Errorf("the passing case is reported:\n%s", got)
	}
	// --run selects the passing case only: exit 0.
	out.Reset()
	if code := pipetest.Command([]string{"--run", "/right$", "../examples/rsyslog-to-files/pipeline.conf", "testdata/lfv/fail"}, &out, &errOut); code != 0 {
		t.Fatalf("--run: exit %d\n%s", code, out.String())
	}
	if !strings.Contains(out.String(), "ok: 1 passed, 1 skipped") {
		t.Errorf("--run output: %s", out.String())
	}
}

func TestCountMismatchShowsBothLists(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir+"/t.json", `{"input_plugin": "beats_1", "ignore": ["@timestamp"], "testcases": [
  {"input": ["x"], "expected": [{"message": "x"}]}
]}`)
	var out bytes.Buffer
	sum, err := pipetest.RunAll("../examples/topology/pipelines.yml", dir, pipetest.Options{}, &out, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Failed != 1 || !strings.Contains(out.String(), "expected 1 event(s), got 2") {
		t.Fatalf("%+v\n%s", sum, out.String())
	}
}

func TestBadUsageAndConfig(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := pipetest.Command([]string{"only-one"}, &out, &errOut); code != 2 {
		t.Errorf("one argument: exit %d, want 2", code)
	}
	dir := t.TempDir()
	writeFile(t, dir+"/bad.conf", "filter { nosuchfilter { } }\n")
	writeFile(t, dir+"/t.yml", "testcases:\n  - input: [x]\n    expected: [{message: x}]\n")
	errOut.Reset()
	if code := pipetest.Command([]string{dir + "/bad.conf", dir + "/t.yml"}, &out, &errOut); code != 1 {
		t.Errorf("unknown filter: exit %d, want 1", code)
	}
	if !regexp.MustCompile(`bad\.conf:1:\d+: error: Unknown filter type "nosuchfilter"`).MatchString(out.String() + errOut.String()) {
		t.Errorf("diagnostic missing:\n%s%s", out.String(), errOut.String())
	}
	writeFile(t, dir+"/legacy.json", `{"input": ["x"], "expected": [{"message": "x"}]}`)
	if code := pipetest.Command([]string{"../examples/rsyslog-to-files/pipeline.conf", dir + "/legacy.json"}, &out, &errOut); code != 1 {
		t.Errorf("legacy format: exit %d, want 1", code)
	}
}

// BenchmarkLFVSuites runs the suites of examples/topology and
// examples/rsyslog-to-files, as `pipeline test` does (configuration loaded
// and every case built and run). BenchmarkLoadConfigs, its peer, only loads
// the two configurations.
func BenchmarkLFVSuites(b *testing.B) {
	for b.Loop() {
		for _, s := range suites[:2] {
			sum, err := pipetest.RunAll(s.config, s.tests, pipetest.Options{}, io.Discard, io.Discard)
			if err != nil || sum.Passed != s.cases {
				b.Fatalf("%s: %+v %v", s.name, sum, err)
			}
		}
	}
}

func BenchmarkLoadConfigs(b *testing.B) {
	for b.Loop() {
		for _, s := range suites[:2] {
			if _, err := pipetest.NewRunner(s.config, nil, 0); err != nil {
				b.Fatal(err)
			}
		}
	}
}

func writeFile(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}

// hclSuites are the NAME_test.hcl files in the repository: the examples'
// and a routing one with drop and an unmatched branch.
var hclSuites = []struct {
	path  string
	cases int
}{
	{"../examples/rsyslog-to-files", 4},
	{"../examples/topology", 2},
	{"testdata/hcl/route", 2},
}

func TestHCLSuitesPass(t *testing.T) {
	for _, s := range hclSuites {
		t.Run(s.path, func(t *testing.T) {
			var out bytes.Buffer
			sum, err := pipetest.RunPaths([]string{s.path}, pipetest.Options{Verbose: true}, &out, io.Discard)
			if err != nil {
				t.Fatalf("%v\n%s", err, out.String())
			}
			if sum.Failed != 0 || sum.Errors != 0 || sum.Passed != s.cases {
				t.Fatalf("%+v, want %d passed:\n%s", sum, s.cases, out.String())
			}
		})
	}
}

// TestHCLWrongExpectationsFail runs the command on a file of wrong
// expectations, one per kind: exit 1, each failing test named with its
// file:line, a unified diff of pretty JSON for exact and subset matches,
// the condition and the event for a condition, the events for no_output.
func TestHCLWrongExpectationsFail(t *testing.T) {
	var out, errOut bytes.Buffer
	code := pipetest.Command([]string{"testdata/hcl/fail"}, &out, &errOut)
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s%s", code, out.String(), errOut.String())
	}
	got := out.String()
	for _, want := range []string{
		"--- FAIL: wrong_test.hcl/exact event, wrong value (testdata/hcl/fail/wrong_test.hcl:6)\n",
		"--- expected (testdata/hcl/fail/wrong_test.hcl:9)\n+++ actual (output errors)\n@@ -1,6 +1,6 @@\n",
		"\n-  \"n\": 2,\n+  \"n\": 1,\n",
		"--- FAIL: wrong_test.hcl/subset, wrong value (testdata/hcl/fail/wrong_test.hcl:14)\n",
		"--- expected (testdata/hcl/fail/wrong_test.hcl:17)\n+++ actual (output infos)\n@@ -1,3 +1,3 @@\n {\n-  \"seen\": \"no\"\n+  \"seen\": \"yes\"\n }\n",
		"--- FAIL: wrong_test.hcl/condition false (testdata/hcl/fail/wrong_test.hcl:22)\n",
		"the condition [n] > 1 (testdata/hcl/fail/wrong_test.hcl:25) is false for:\n{\n",
		"--- FAIL: wrong_test.hcl/output not expected to see anything (testdata/hcl/fail/wrong_test.hcl:30)\n",
		"output errors: expected no events (testdata/hcl/fail/wrong_test.hcl:33), got 1:\n",
		"FAIL: 1 passed, 4 failed, 0 errors, 0 skipped",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	out.Reset()
	if code := pipetest.Command([]string{"--run", "/right$", "testdata/hcl/fail"}, &out, &errOut); code != 0 {
		t.Fatalf("--run: exit %d\n%s", code, out.String())
	}
	if !strings.Contains(out.String(), "ok: 1 passed, 4 skipped") {
		t.Errorf("--run output: %s", out.String())
	}
}

// TestBothFormatsInOneRun: the configuration, LFV suites and directories
// with HCL tests in one command; --run selects across both; the
// directory's pipelines.yml and logstash.yml are not taken for LFV files.
func TestBothFormatsInOneRun(t *testing.T) {
	var out, errOut bytes.Buffer
	args := []string{"../examples/rsyslog-to-files/pipeline.conf", "testdata/lfv/rsyslog", "../examples/rsyslog-to-files", "../examples/topology"}
	if code := pipetest.Command(args, &out, &errOut); code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out.String(), errOut.String())
	}
	if !strings.Contains(out.String(), "ok: 12 passed, 0 skipped") {
		t.Errorf("output: %s", out.String())
	}
	out.Reset()
	args = append([]string{"-v", "--run", `^(syslog\.yml|pipeline_test\.hcl)/RFC`}, args...)
	if code := pipetest.Command(args, &out, &errOut); code != 0 {
		t.Fatalf("--run: exit %d\n%s%s", code, out.String(), errOut.String())
	}
	for _, want := range []string{"--- PASS: syslog.yml/RFC", "--- PASS: pipeline_test.hcl/RFC", "ok: 2 passed, 10 skipped"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("--run output lacks %q: %s", want, out.String())
		}
	}
}

func TestHCLTestFileErrors(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir+"/pipeline.conf", "input { generator { id => \"in\" } }\noutput { stdout { id => \"out\" } }\n")
	for name, tc := range map[string]struct{ src, want string }{
		"two kinds":     {"test \"x\" {\n  input = \"in\"\n  expect \"out\" {\n    subset = {}\n    condition = \"[a]\"\n  }\n}\n", "a_test.hcl:3:3: error: Invalid expect block"},
		"bad condition": {"test \"x\" {\n  input = \"in\"\n  expect \"out\" {\n    condition = \"[a] ==\"\n  }\n}\n", "a_test.hcl:4:22: error: Invalid condition"},
		"no checks":     {"test \"x\" {\n  input = \"in\"\n  lines = [\"a\"]\n}\n", "error: Nothing expected"},
		"bad clock":     {"clock = \"today\"\ntest \"x\" {\n  input = \"in\"\n  no_output = [\"out\"]\n}\n", "error: Invalid clock"},
	} {
		t.Run(name, func(t *testing.T) {
			writeFile(t, dir+"/a_test.hcl", tc.src)
			var out, errOut bytes.Buffer
			if code := pipetest.Command([]string{dir}, &out, &errOut); code != 1 {
				t.Fatalf("exit %d, want 1", code)
			}
			if !strings.Contains(errOut.String(), tc.want) {
				t.Errorf("lacks %q:\n%s%s", tc.want, out.String(), errOut.String())
			}
		})
	}
	// Unknown ids are errors of the test, naming what exists.
	writeFile(t, dir+"/a_test.hcl", "test \"x\" {\n  input = \"nope\"\n  no_output = [\"out\"]\n}\ntest \"y\" {\n  input = \"in\"\n  no_output = [\"nope\"]\n}\n")
	var out, errOut bytes.Buffer
	if code := pipetest.Command([]string{dir}, &out, &errOut); code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	for _, want := range []string{`input "nope": no input has that id (inputs: in)`, `no output has the id "nope" (outputs: out)`, "0 passed, 0 failed, 2 errors"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("lacks %q:\n%s", want, out.String())
		}
	}
}

// BenchmarkHCLSuites runs the NAME_test.hcl files of examples/topology and
// examples/rsyslog-to-files as `pipeline test` does (6 tests); its peers are
// BenchmarkLFVSuites and BenchmarkLoadConfigs.
func BenchmarkHCLSuites(b *testing.B) {
	for b.Loop() {
		sum, err := pipetest.RunPaths([]string{"../examples/topology", "../examples/rsyslog-to-files"}, pipetest.Options{}, io.Discard, io.Discard)
		if err != nil || sum.Passed != 6 {
			b.Fatalf("%+v %v", sum, err)
		}
	}
}
