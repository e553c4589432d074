package pipetest

import (
	"path/filepath"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"gopkg.in/yaml.v3"

	"errors"
	"flag"
	"fmt"
	"github.com/pipelined/pipeline/dsl/ir"
	"io"
	"os"
	"regexp"
	"time"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/supervisor"
)

// CommandSynopsis and CommandSummary are the usage line of `pipeline test`.
const (
	CommandSynopsis = "test [CONFIG] TESTS..."
	CommandSummary  = "run NAME_test.hcl tests and logstash-filter-verifier test cases against a configuration, no servers needed"
)

const usage = `Usage: pipeline test [flags] [CONFIG] TESTS...

TESTS are files or directories. Two formats run in one run:
  NAME_test.hcl   this engine's tests: each file names its configuration
                  (config = "...", by default pipelines.yml next to it or
                  its directory), see docs/pipeline-test.md;
  .json .yml .yaml  logstash-filter-verifier test case files, run against
                  CONFIG, the first argument (a pipeline file, a directory
                  of them, or a pipelines.yml). In a directory, only files
                  holding "testcases" count.
Inputs and outputs are replaced by in-memory ones; filters run for real.
Exit 0 when every case passes, 1 when one fails (with a diff and the
file:line of the case) or a configuration is wrong, 2 on bad usage.

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
	if len(pos) == 0 {
		fmt.Fprintf(stderr, "pipeline test: give the tests, e.g. pipeline test examples/topology/ or pipeline test conf.d/ tests/\n\n")
		fs.Usage()
		return engine.ExitUsage
	}
	for _, p := range pos {
		if _, err := os.Stat(p); err != nil {
			fmt.Fprintf(stderr, "pipeline test: %v\n\n", err)
			fs.Usage()
			return engine.ExitUsage
		}
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
	sum, err := RunPaths(pos, Options{Run: filter, Mocks: mocks, Verbose: *verbose, Timeout: *timeout}, stdout, stderr)
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

// RunAll runs the LFV test cases of tests against the configuration
// config and writes failures (and with Verbose every case) to stdout. An
// error is returned when the configuration or a test file cannot be read.
func RunAll(config, tests string, o Options, stdout, stderr io.Writer) (Summary, error) {
	files, err := FindSuites(tests)
	if err != nil {
		return Summary{}, err
	}
	if len(files) == 0 {
		return Summary{}, fmt.Errorf("%s: no test case files (.json, .yml, .yaml)", tests)
	}
	rep := &reporter{o: o, stdout: stdout, start: time.Now()}
	if err := rep.runLFV(config, files); err != nil {
		return rep.sum, err
	}
	return rep.finish(), nil
}

// RunPaths is `pipeline test PATH...`: the NAME_test.hcl files under every
// path, and the LFV test case files under the paths after the first, which
// is then their configuration.
func RunPaths(paths []string, o Options, stdout, stderr io.Writer) (Summary, error) {
	var hclFiles, lfvFiles []string
	for i, p := range paths {
		h, l, err := findTests(p, i > 0)
		if err != nil {
			return Summary{}, err
		}
		hclFiles = append(hclFiles, h...)
		lfvFiles = append(lfvFiles, l...)
	}
	if len(hclFiles) == 0 && len(lfvFiles) == 0 {
		return Summary{}, fmt.Errorf("%s: no test files (NAME_test.hcl; .json, .yml, .yaml with testcases after the configuration)", strings.Join(paths, ", "))
	}
	rep := &reporter{o: o, stdout: stdout, start: time.Now()}
	if len(lfvFiles) > 0 {
		if err := rep.runLFV(paths[0], lfvFiles); err != nil {
			return rep.sum, err
		}
	}
	if err := rep.runHCL(hclFiles); err != nil {
		return rep.sum, err
	}
	return rep.finish(), nil
}

// findTests lists the HCL test files under path and, when lfv, its LFV
// test case files: path itself when it is one, or in a directory the
// .json/.yml/.yaml files holding testcases (or LFV's older top-level input
// or expected, refused with a message when run).
func findTests(path string, lfv bool) (hclFiles, lfvFiles []string, err error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, nil, err
	}
	if !st.IsDir() {
		switch {
		case isTestHCL(path):
			return []string{path}, nil, nil
		case lfv:
			return nil, []string{path}, nil
		}
		return nil, nil, nil
	}
	n := 0
	err = filepath.WalkDir(path, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		if n++; n > maxTestFiles {
			return fmt.Errorf("%s: more than %d test files", path, maxTestFiles)
		}
		if isTestHCL(p) {
			hclFiles = append(hclFiles, p)
			return nil
		}
		switch strings.ToLower(filepath.Ext(p)) {
		case ".json", ".yml", ".yaml":
			if lfv && looksLFV(p) {
				lfvFiles = append(lfvFiles, p)
			}
		}
		return nil
	})
	return hclFiles, lfvFiles, err
}

// looksLFV reports whether a YAML or JSON file found in a directory is an
// LFV test case file; one that does not parse is, so that its error shows.
func looksLFV(path string) bool {
	src, err := readBounded(path)
	if err != nil {
		return true
	}
	var top map[string]yaml.Node
	if err := yaml.Unmarshal(src, &top); err != nil {
		var seq []any
		return yaml.Unmarshal(src, &seq) != nil // a list (pipelines.yml) is not
	}
	for _, k := range []string{"testcases", "input", "expected"} {
		if _, ok := top[k]; ok {
			return true
		}
	}
	return false
}

// reporter runs cases and prints their outcome.
type reporter struct {
	o      Options
	stdout io.Writer
	sum    Summary
	start  time.Time
}

func (rep *reporter) report(name, where, failure string, err error) {
	switch {
	case err != nil:
		rep.sum.Errors++
		fmt.Fprintf(rep.stdout, "--- ERROR: %s (%s)\n", name, where)
		var ce *ConfigError
		if errors.As(err, &ce) && ce.Diags.HasErrors() {
			supervisor.WriteDiagnostics(rep.stdout, ce.Cfg, ce.Diags)
		} else {
			fmt.Fprintf(rep.stdout, "    %v\n", err)
		}
	case failure != "":
		rep.sum.Failed++
		fmt.Fprintf(rep.stdout, "--- FAIL: %s (%s)\n%s", name, where, failure)
	default:
		rep.sum.Passed++
		if rep.o.Verbose {
			fmt.Fprintf(rep.stdout, "--- PASS: %s (%s)\n", name, where)
		}
	}
}

func (rep *reporter) runLFV(config string, files []string) error {
	var suites []*Suite
	for _, f := range files {
		s, err := ParseSuite(f)
		if err != nil {
			return err
		}
		suites = append(suites, s)
	}
	r, err := NewRunner(config, rep.o.Mocks, rep.o.Timeout)
	if err != nil {
		return err
	}
	for _, s := range suites {
		for _, c := range s.Cases {
			if rep.o.Run != nil && !rep.o.Run.MatchString(c.Name()) {
				rep.sum.Skipped++
				continue
			}
			res := r.Run(c)
			rep.report(c.Name(), fmt.Sprintf("%s:%d", s.File, c.Line), res.Failure, res.Err)
		}
	}
	return nil
}

func (rep *reporter) runHCL(files []string) error {
	type key struct {
		config string
		clock  time.Time
	}
	runners := map[key]*Runner{}
	for _, f := range files {
		s, diags := ParseHCLSuite(f)
		if diags.HasErrors() {
			files := map[string]*hcl.File{}
			if src, err := readBounded(f); err == nil {
				files[f] = &hcl.File{Bytes: src}
			}
			return &ConfigError{Cfg: &ir.Config{Files: files}, Diags: diags}
		}
		k := key{s.Config, s.Clock}
		r := runners[k]
		if r == nil {
			var err error
			// Plugin mocks are LFV's: they apply to LFV cases only.
			if r, err = NewRunner(s.Config, nil, rep.o.Timeout); err != nil {
				return fmt.Errorf("%s: config %s: %w", f, s.Config, err)
			}
			r.clock = s.Clock
			runners[k] = r
		}
		for _, t := range s.Tests {
			if rep.o.Run != nil && !rep.o.Run.MatchString(t.FullName()) {
				rep.sum.Skipped++
				continue
			}
			failure, err := r.RunHCL(t)
			rep.report(t.FullName(), fmt.Sprintf("%s:%d", f, t.Line), failure, err)
		}
	}
	return nil
}

func (rep *reporter) finish() Summary {
	sum := rep.sum
	elapsed := time.Since(rep.start).Round(time.Millisecond)
	if sum.Failed > 0 || sum.Errors > 0 {
		fmt.Fprintf(rep.stdout, "FAIL: %d passed, %d failed, %d errors, %d skipped (%s)\n", sum.Passed, sum.Failed, sum.Errors, sum.Skipped, elapsed)
	} else {
		fmt.Fprintf(rep.stdout, "ok: %d passed, %d skipped (%s)\n", sum.Passed, sum.Skipped, elapsed)
	}
	return sum
}
