package corpus

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// Result is the outcome of checking one file.
type Result struct {
	Repo     string // first directory under the corpus root, "." for files at the root
	Path     string // relative to the corpus root
	Complete bool   // the file has an input and an output of its own
	Accepted bool
	// EnvOnly: refused, but only for files the configuration names that
	// are missing on this machine.
	EnvOnly  bool
	Blockers []Blocker // distinct, the first error's first
	Output   string    // check's output when refused
	// AtStart: accepted, with warnings about errors `pipeline run` refuses
	// when the pipeline starts, as Logstash does (register errors, which
	// its configuration test accepts too), as blockers.
	AtStart []Blocker
}

// Options says how to run the check.
type Options struct {
	Bin     string        // the pipeline binary
	Jobs    int           // files checked at once
	Timeout time.Duration // per file
}

// DummyValue is the value a ${NAME} without a default gets, chosen from
// the name so that options with a type (ports, URLs, booleans) still
// validate: the corpus measures the configuration, not its environment.
func DummyValue(name string) string {
	n := strings.ToUpper(name)
	has := func(words ...string) bool {
		for _, w := range words {
			if strings.Contains(n, w) {
				return true
			}
		}
		return false
	}
	switch {
	case has("PORT"):
		return "5044"
	case has("URL", "URI", "ENDPOINT", "HOSTS"):
		return "http://127.0.0.1:9200"
	case has("HOST", "ADDR", "SERVER", "IP"):
		return "127.0.0.1"
	case has("ENABLE", "VERIFY"):
		return "false"
	case has("SIZE", "COUNT", "WORKERS", "THREADS", "TIMEOUT", "INTERVAL", "NUM", "DELAY"):
		return "1"
	case has("USER", "LOGIN"):
		return "logstash"
	case has("PASS", "SECRET", "TOKEN", "KEY"):
		return "changeme"
	}
	return "dummy"
}

// Files lists the regular files under dir, skipping hidden ones.
func Files(dir string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if strings.HasPrefix(d.Name(), ".") && p != dir {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.Type().IsRegular() {
			rel, err := filepath.Rel(dir, p)
			if err != nil {
				return err
			}
			out = append(out, rel)
		}
		return nil
	})
	sort.Strings(out)
	return out, err
}

// RepoOf names the repository of a corpus file: the first directory of its
// path, with the "owner__name" layout of fetch.sh read back as owner/name.
func RepoOf(rel string) string {
	dir, _, ok := strings.Cut(filepath.ToSlash(rel), "/")
	if !ok {
		return "."
	}
	return strings.Replace(dir, "__", "/", 1)
}

// Check runs the check on one file. ok is false when the file is not a
// pipeline configuration (no input, filter or output section).
func Check(ctx context.Context, o Options, root, rel, tmp string) (r Result, ok bool, err error) {
	src, err := os.ReadFile(filepath.Join(root, rel))
	if err != nil {
		return r, false, err
	}
	in := Scan(src)
	if !in.IsPipeline() {
		return r, false, nil
	}
	r = Result{Repo: RepoOf(rel), Path: rel, Complete: in.Complete()}
	// check picks the syntax by extension; Logstash reads any file name.
	name := filepath.Base(rel)
	if !strings.HasSuffix(name, ".conf") {
		name += ".conf"
	}
	dir, err := os.MkdirTemp(tmp, "f")
	if err != nil {
		return r, false, err
	}
	defer os.RemoveAll(dir)
	file := filepath.Join(dir, name)
	if err := os.WriteFile(file, in.Completed(), 0o600); err != nil {
		return r, false, err
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, o.Bin, "check", "-f", file)
	cmd.Dir = dir
	cmd.Env = os.Environ()
	for _, v := range in.Vars {
		if _, set := os.LookupEnv(v.Name); !set && !v.HasDefault {
			cmd.Env = append(cmd.Env, v.Name+"="+DummyValue(v.Name))
		}
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	runErr := cmd.Run()
	if runErr == nil {
		r.Accepted = true
		seen := map[string]bool{}
		for _, w := range ParseStartRefusals(out.String()) {
			w.Detail, _, _ = strings.Cut(w.Detail, " `pipeline run`")
			b := Classify(w, in)
			if !seen[b.Key] {
				seen[b.Key] = true
				r.AtStart = append(r.AtStart, b)
			}
		}
		return r, true, nil
	}
	r.Output = out.String()
	var exit *exec.ExitError
	switch {
	case ctx.Err() != nil:
		r.Blockers = []Blocker{{Key: "check timed out"}}
		return r, true, nil
	case !errors.As(runErr, &exit):
		return r, false, runErr
	}
	seen := map[string]bool{}
	envOnly := true
	for _, e := range ParseErrors(r.Output) {
		b := Classify(e, in)
		envOnly = envOnly && b.Env
		if !seen[b.Key] {
			seen[b.Key] = true
			r.Blockers = append(r.Blockers, b)
		}
	}
	if len(r.Blockers) == 0 {
		first, _, _ := strings.Cut(strings.TrimSpace(r.Output), "\n")
		r.Blockers = []Blocker{{Key: "check failed: " + first}}
		envOnly = false
	}
	r.EnvOnly = envOnly
	return r, true, nil
}

// Run checks every file under root, o.Jobs at a time. skipped counts the
// files that are not pipeline configurations.
func Run(ctx context.Context, o Options, root string) (results []Result, skipped int, err error) {
	files, err := Files(root)
	if err != nil {
		return nil, 0, err
	}
	tmp, err := os.MkdirTemp("", "compat")
	if err != nil {
		return nil, 0, err
	}
	defer os.RemoveAll(tmp)
	type out struct {
		r   Result
		ok  bool
		err error
	}
	outs := make([]out, len(files))
	var wg sync.WaitGroup
	sem := make(chan struct{}, max(1, o.Jobs))
	for i, f := range files {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			r, ok, err := Check(ctx, o, root, f, tmp)
			outs[i] = out{r, ok, err}
		}()
	}
	wg.Wait()
	for i, o := range outs {
		switch {
		case o.err != nil:
			return nil, 0, fmt.Errorf("%s: %w", files[i], o.err)
		case o.ok:
			results = append(results, o.r)
		default:
			skipped++
		}
	}
	return results, skipped, nil
}
