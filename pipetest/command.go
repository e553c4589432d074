package pipetest

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"regexp"
	"time"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/supervisor"
)

// CommandSynopsis and CommandSummary are the usage line of `pipeline test`.
const (
	CommandSynopsis = "test CONFIG TESTS"
	CommandSummary  = "run logstash-filter-verifier test cases (a file or directory) against CONFIG, no servers needed"
)

const usage = `Usage: pipeline test [flags] CONFIG TESTS

CONFIG is a pipeline file (.hcl or Logstash .conf), a directory of them, or a
pipelines.yml. TESTS is a logstash-filter-verifier test case file (.json,
.yml, .yaml) or a directory of them. Inputs and outputs are replaced by
in-memory ones; filters run for real. Exit 0 when every case passes, 1 when
one fails (with a diff) or the configuration is wrong, 2 on bad usage.

Flags:
`

// Command runs `pipeline test` with the arguments after "test".
func Command(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(stderr)
	runRE := fs.String("run", "", "run only the test cases whose name (FILE/DESCRIPTION, or FILE/#N) matches this regular expression")
	mockFile := fs.String("plugin-mock", "", "logstash-filter-verifier plugin mock file (YAML list of id and mock)")
	verbose := fs.Bool("v", false, "print every test case, not only failures")
	timeout := fs.Duration("timeout", DefaultCaseTimeout, "longest a test case may run")
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return engine.ExitOK
			}
			return engine.ExitUsage
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(pos) != 2 {
		fmt.Fprintf(stderr, "pipeline test: give the configuration and the tests, e.g. pipeline test conf.d/ tests/\n\n")
		fs.Usage()
		return engine.ExitUsage
	}
	var filter *regexp.Regexp
	if *runRE != "" {
		var err error
		if filter, err = regexp.Compile(*runRE); err != nil {
			fmt.Fprintf(stderr, "pipeline test: --run: %v\n", err)
			return engine.ExitUsage
		}
	}
	var mocks []Mock
	if *mockFile != "" {
		var err error
		if mocks, err = ParseMocks(*mockFile); err != nil {
			fmt.Fprintf(stderr, "pipeline test: %v\n", err)
			return engine.ExitConfig
		}
	}
	sum, err := RunAll(pos[0], pos[1], Options{Run: filter, Mocks: mocks, Verbose: *verbose, Timeout: *timeout}, stdout, stderr)
	if err != nil {
		var ce *ConfigError
		if errors.As(err, &ce) && ce.Diags.HasErrors() {
			supervisor.WriteDiagnostics(stderr, ce.Cfg, ce.Diags)
		} else {
			fmt.Fprintf(stderr, "pipeline test: %v\n", err)
		}
		return engine.ExitConfig
	}
	if sum.Failed > 0 || sum.Errors > 0 {
		return engine.ExitConfig
	}
	return engine.ExitOK
}

// Options tune RunAll.
type Options struct {
	Run     *regexp.Regexp // nil: every case
	Mocks   []Mock
	Verbose bool
	Timeout time.Duration
}

// Summary counts the cases of a run.
type Summary struct {
	Passed, Failed, Errors, Skipped int
}

// RunAll runs the test cases of tests against the configuration config and
// writes failures (and with Verbose every case) to stdout. An error is
// returned when the configuration or a test file cannot be read.
func RunAll(config, tests string, o Options, stdout, stderr io.Writer) (Summary, error) {
	var sum Summary
	files, err := FindSuites(tests)
	if err != nil {
		return sum, err
	}
	if len(files) == 0 {
		return sum, fmt.Errorf("%s: no test case files (.json, .yml, .yaml)", tests)
	}
	var suites []*Suite
	for _, f := range files {
		s, err := ParseSuite(f)
		if err != nil {
			return sum, err
		}
		suites = append(suites, s)
	}
	r, err := NewRunner(config, o.Mocks, o.Timeout)
	if err != nil {
		return sum, err
	}
	start := time.Now()
	for _, s := range suites {
		for _, c := range s.Cases {
			if o.Run != nil && !o.Run.MatchString(c.Name()) {
				sum.Skipped++
				continue
			}
			res := r.Run(c)
			where := fmt.Sprintf("%s:%d", s.File, c.Line)
			switch {
			case res.Err != nil:
				sum.Errors++
				fmt.Fprintf(stdout, "--- ERROR: %s (%s)\n", c.Name(), where)
				var ce *ConfigError
				if errors.As(res.Err, &ce) && ce.Diags.HasErrors() {
					supervisor.WriteDiagnostics(stdout, ce.Cfg, ce.Diags)
				} else {
					fmt.Fprintf(stdout, "    %v\n", res.Err)
				}
			case res.Failure != "":
				sum.Failed++
				fmt.Fprintf(stdout, "--- FAIL: %s (%s)\n%s", c.Name(), where, res.Failure)
			default:
				sum.Passed++
				if o.Verbose {
					fmt.Fprintf(stdout, "--- PASS: %s (%s)\n", c.Name(), where)
				}
			}
		}
	}
	elapsed := time.Since(start).Round(time.Millisecond)
	if sum.Failed > 0 || sum.Errors > 0 {
		fmt.Fprintf(stdout, "FAIL: %d passed, %d failed, %d errors, %d skipped (%s)\n", sum.Passed, sum.Failed, sum.Errors, sum.Skipped, elapsed)
	} else {
		fmt.Fprintf(stdout, "ok: %d passed, %d skipped (%s)\n", sum.Passed, sum.Skipped, elapsed)
	}
	return sum, nil
}
