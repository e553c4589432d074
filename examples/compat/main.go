// Command compat measures how much of a directory of Logstash pipeline
// configurations `pipeline check` accepts, and what blocks the rest.
//
//	go run ./examples/compat [-bin pipeline] [-j 2] [-results out.tsv] DIR
//
// Without -bin it builds pipeline from this module once. Files whose first
// directory under DIR is owner__name (the layout fetch.sh writes) are
// counted under that repository. See docs/logstash-compatibility.md.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/pipelined/pipeline/examples/compat/corpus"
)

func main() {
	bin := flag.String("bin", "", "pipeline binary (default: build this module's)")
	jobs := flag.Int("j", min(2, runtime.NumCPU()), "files checked at once")
	timeout := flag.Duration("timeout", 60*time.Second, "per-file check timeout")
	top := flag.Int("top", 25, "rows of each blocker ranking")
	results := flag.String("results", "", "write one line per file (TSV) here")
	flag.Usage = func() {
		fmt.Fprintf(os.Stderr, "usage: %s [flags] DIR\n", os.Args[0])
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(*bin, *jobs, *timeout, *top, *results, flag.Arg(0)); err != nil {
		fmt.Fprintln(os.Stderr, "compat:", err)
		os.Exit(1)
	}
}

func run(bin string, jobs int, timeout time.Duration, top int, results, dir string) error {
	if bin == "" {
		tmp, err := os.MkdirTemp("", "compat-bin")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		bin = filepath.Join(tmp, "pipeline")
		root, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}").Output()
		if err != nil {
			return fmt.Errorf("finding the module: %w", err)
		}
		build := exec.Command("go", "build", "-o", bin, ".")
		build.Dir = strings.TrimSpace(string(root))
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			return fmt.Errorf("building pipeline: %w", err)
		}
	}
	res, skipped, err := corpus.Run(context.Background(), corpus.Options{Bin: bin, Jobs: jobs, Timeout: timeout}, dir)
	if err != nil {
		return err
	}
	if results != "" {
		f, err := os.Create(results)
		if err != nil {
			return err
		}
		corpus.WriteTSV(f, res)
		if err := f.Close(); err != nil {
			return err
		}
	}
	corpus.Summarize(res, skipped).Markdown(os.Stdout, top)
	return nil
}
