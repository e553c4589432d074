// Command pipeline runs Logstash-compatible log pipelines.
//
// Exit codes: 0 success; 1 configuration error (nothing was started);
// 2 usage error; 3 runtime failure (an input failed, or shutdown was forced
// with events undelivered).
package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"slices"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/pipelined/pipeline/dsl"
	"github.com/pipelined/pipeline/dsl/ir"
	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/dlq"
	"github.com/pipelined/pipeline/engine/monitor"
	_ "github.com/pipelined/pipeline/plugins/all"
)

// Exit codes.
const (
	exitOK      = 0
	exitConfig  = 1
	exitUsage   = 2
	exitRuntime = 3
)

// version is set with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	os.Exit(withProfile(func() int { return run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr) }))
}

const usage = `Usage: pipeline <command> [flags]

Commands:
  run -f PATH       run the pipelines in PATH (a file, or a directory whose files load in lexical order)
  check -f PATH     check the configuration and exit: 0 "Configuration OK", 1 with every error found
  run|check -e 'CONFIG'        a configuration string in Logstash .conf syntax, as logstash -e
  run|check --pipelines FILE   the pipelines listed in a Logstash pipelines.yml, each isolated
  convert PATH      print a Logstash .conf file (or a directory of them) as HCL
  verify [flags]    check the proofs and keys of an immudb table written by the immudb output
  plugins           list the registered plugins
  version           print the version

Flags for run and check (exactly one of -f, -e and --pipelines):
  -f, --path.config PATH   pipeline file or directory (.hcl or .conf)
  -e, --config.string CONFIG  configuration in .conf syntax (stdin and stdout
                           are added when it has no input or no output)
  --pipelines FILE         a Logstash pipelines.yml
  -w, --pipeline.workers N filter workers (default: number of CPUs)
  -b, --pipeline.batch.size N  events per worker batch (default 125)
  --log.level LEVEL        debug, info, warn, error (default info)
  --log.status_interval D  log a status line per pipeline every D (default 30s; 0 turns it off)
  -r, --config.reload.automatic  reload the -f or --pipelines configuration when its files change:
                           a broken one is refused, a changed pipeline replaced once the old one drained
  --config.reload.interval D  how often -r checks the files (default 3s); SIGHUP checks at once, even without -r
  --path.data DIR          where state is kept (default ./data)
  --queue.type TYPE        memory (default) or persisted: events on disk before inputs are acknowledged
  --path.queue DIR         default <path.data>/queue; each pipeline uses <DIR>/<pipeline id>
  --queue.max_bytes SIZE   persisted queue bound; inputs wait beyond it (default 1024mb)
  --queue.checkpoint.writes N  events between fsyncs; 1 fsyncs before every acknowledgement (default 1024)
  --queue.drain            on a signal, deliver everything queued before exiting (default false)
  --dead_letter_queue.enable            keep events outputs refuse for good (default false)
  --path.dead_letter_queue DIR          default <path.data>/dead_letter_queue
  --dead_letter_queue.max_bytes SIZE    default 1024mb
  --dead_letter_queue.storage_policy P  drop_newer (default) or drop_older
  --dead_letter_queue.flush_interval MS fsync interval (default 5000)
  --dead_letter_queue.retain.age AGE    delete entries older than AGE, e.g. 5d (default: keep)
  --api.enabled=false      do not serve the monitoring API (it is on by default)
  --api.http.host HOST     default 127.0.0.1
  --api.http.port PORT     a port or a range; the first free one is taken (default 9600-9700)
  --api.auth.type TYPE     none (default) or basic, with --api.auth.basic.username
                           and --api.auth.basic.password (or env API_AUTH_BASIC_PASSWORD)

Exit codes: 0 success, 1 configuration error, 2 usage error, 3 runtime failure.
`

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	switch cmd := args[0]; cmd {
	case "run", "check":
		return runOrCheck(cmd, args[1:], stdout, stderr)
	case "convert":
		return convert(args[1:], stdout, stderr)
	case "verify":
		return verify(args[1:], stdout, stderr)
	case "plugins":
		for _, f := range engine.Default.All() {
			fmt.Fprintf(stdout, "%-7s %s\n", f.Kind, f.Name)
		}
		return exitOK
	case "version", "--version", "-V":
		fmt.Fprintf(stdout, "pipeline %s\n", buildVersion())
		return exitOK
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return exitOK
	default:
		fmt.Fprintf(stderr, "pipeline: unknown command %q\n\n%s", cmd, usage)
		return exitUsage
	}
}

func buildVersion() string {
	if version != "dev" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return version
}

func runOrCheck(cmd string, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("pipeline "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var path, level, pipelinesYML string
	var configString *string
	var workers, batch int
	for _, n := range []string{"f", "path.config"} {
		fs.StringVar(&path, n, "", "pipeline file or directory")
	}
	for _, n := range []string{"e", "config.string"} {
		fs.Func(n, "configuration string in .conf syntax", func(s string) error {
			configString = &s
			return nil
		})
	}
	for _, n := range []string{"w", "pipeline.workers"} {
		fs.IntVar(&workers, n, 0, "filter workers")
	}
	for _, n := range []string{"b", "pipeline.batch.size"} {
		fs.IntVar(&batch, n, 0, "batch size")
	}
	fs.StringVar(&level, "log.level", "info", "log level")
	fs.StringVar(&pipelinesYML, "pipelines", "", "a Logstash pipelines.yml listing the pipelines to run")
	svc := addServiceFlags(fs)
	qf := addQueueFlags(fs)
	rf := addReloadFlags(fs)
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if err := svc.validate(); err != nil {
		fmt.Fprintf(stderr, "pipeline %s: %v\n", cmd, err)
		return exitUsage
	}
	if err := qf.validate(); err != nil {
		fmt.Fprintf(stderr, "pipeline %s: %v\n", cmd, err)
		return exitUsage
	}
	given := 0
	for _, ok := range []bool{path != "", configString != nil, pipelinesYML != ""} {
		if ok {
			given++
		}
	}
	if given != 1 || fs.NArg() > 0 {
		fmt.Fprintf(stderr, "pipeline %s: give one of -f PATH, -e 'CONFIG' or --pipelines pipelines.yml\n\n%s", cmd, usage)
		return exitUsage
	}
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		fmt.Fprintf(stderr, "pipeline: invalid --log.level %q: use debug, info, warn or error\n", level)
		return exitUsage
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: lv}))

	src := configSource{path: path, pipelinesYML: pipelinesYML, configString: configString}
	if err := rf.validate(configString != nil); err != nil {
		fmt.Fprintf(stderr, "pipeline %s: %v\n", cmd, err)
		return exitUsage
	}
	cfg, diags := src.load()
	settings := engine.Settings{Workers: workers, BatchSize: batch, Logger: logger, DataDir: svc.dataDir}
	build := func(p *ir.Pipeline) (*engine.Pipeline, *dlq.Deferred, hcl.Diagnostics) {
		ps := settings
		ps.Queue = qf.settings(p, svc.dataDir)
		q := svc.deadLetterQueue(p, logger)
		if q != nil {
			ps.DeadLetter = q
		}
		pl, d := engine.Build(p, engine.Default, ps)
		return pl, q, d
	}
	var (
		pipelines []*engine.Pipeline
		dlqs      []*dlq.Deferred
	)
	if cfg != nil {
		for _, p := range cfg.Pipelines {
			pl, q, d := build(p)
			diags = append(diags, d...)
			if pl != nil {
				pipelines = append(pipelines, pl)
				dlqs = append(dlqs, q)
			}
		}
	}
	if diags.HasErrors() {
		writeDiags(stderr, cfg, diags)
		fmt.Fprintf(stderr, "%d error(s) found; nothing was started.\n", countErrors(diags))
		return exitConfig
	}
	if len(diags) > 0 {
		writeDiags(stderr, cfg, diags)
	}
	if cmd == "check" {
		fmt.Fprintln(stdout, "Configuration OK")
		return exitOK
	}
	if len(pipelines) == 0 {
		fmt.Fprintln(stderr, "pipeline: no pipelines found in", path)
		return exitConfig
	}
	return newSupervisor(src, build, rf, logger).run(cfg, pipelines, dlqs,
		func(get func() []monitor.Source, node *monitor.Reloads) func() {
			return svc.start(get, node, rf.automatic, logger)
		})
}

// convert prints a Logstash .conf file, or a directory of them, as HCL.
func convert(args []string, stdout, stderr io.Writer) int {
	if len(args) != 1 || strings.HasPrefix(args[0], "-") {
		fmt.Fprintf(stderr, "pipeline convert: give one .conf file or directory: pipeline convert PATH > pipeline.hcl\n\n%s", usage)
		return exitUsage
	}
	out, cfg, diags := dsl.ConvertConf(args[0])
	if diags.HasErrors() {
		writeDiags(stderr, cfg, diags)
		fmt.Fprintf(stderr, "%d error(s) found; nothing was converted.\n", countErrors(diags))
		return exitConfig
	}
	if len(diags) > 0 {
		writeDiags(stderr, cfg, diags)
	}
	if _, err := stdout.Write(out); err != nil {
		fmt.Fprintln(stderr, "pipeline convert:", err)
		return exitRuntime
	}
	return exitOK
}

func countErrors(diags hcl.Diagnostics) int {
	n := 0
	for _, d := range diags {
		if d.Severity == hcl.DiagError {
			n++
		}
	}
	return n
}

// writeDiags prints each diagnostic as "file:line:col: severity: summary", its
// detail, and the source line with the range underlined.
func writeDiags(w io.Writer, cfg *ir.Config, diags hcl.Diagnostics) {
	diags = slices.Clone(diags)
	// Front-end and engine errors interleave in file order.
	sort.SliceStable(diags, func(i, j int) bool {
		a, b := diags[i].Subject, diags[j].Subject
		if a == nil || b == nil {
			return a != nil
		}
		if a.Filename != b.Filename {
			return a.Filename < b.Filename
		}
		return a.Start.Byte < b.Start.Byte
	})
	for _, d := range diags {
		sev := "error"
		if d.Severity == hcl.DiagWarning {
			sev = "warning"
		}
		if d.Subject == nil {
			fmt.Fprintf(w, "%s: %s\n", sev, d.Summary)
		} else {
			s := d.Subject
			fmt.Fprintf(w, "%s:%d:%d: %s: %s\n", s.Filename, s.Start.Line, s.Start.Column, sev, d.Summary)
		}
		if d.Detail != "" {
			fmt.Fprintf(w, "    %s\n", d.Detail)
		}
		if d.Subject != nil && cfg != nil {
			if f := cfg.Files[d.Subject.Filename]; f != nil {
				writeSnippet(w, f.Bytes, *d.Subject)
			}
		}
	}
}

func writeSnippet(w io.Writer, src []byte, r hcl.Range) {
	lines := strings.Split(string(src), "\n")
	if r.Start.Line < 1 || r.Start.Line > len(lines) {
		return
	}
	line := strings.TrimRight(lines[r.Start.Line-1], "\r")
	fmt.Fprintf(w, "%5d | %s\n", r.Start.Line, line)
	width := 1
	if r.End.Line == r.Start.Line && r.End.Column > r.Start.Column {
		width = r.End.Column - r.Start.Column
	}
	pad := make([]byte, 0, r.Start.Column)
	for i, c := range []rune(line) {
		if i >= r.Start.Column-1 {
			break
		}
		if c == '\t' {
			pad = append(pad, '\t')
		} else {
			pad = append(pad, ' ')
		}
	}
	fmt.Fprintf(w, "      | %s%s\n", pad, strings.Repeat("^", width))
}
