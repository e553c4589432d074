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
	"os"
	"runtime/debug"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/pipelined/pipeline/dsl"
	"github.com/pipelined/pipeline/dsl/ir"
	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/supervisor"
	_ "github.com/pipelined/pipeline/plugins/all"
)

// Exit codes.
const (
	exitOK      = engine.ExitOK
	exitConfig  = engine.ExitConfig
	exitUsage   = engine.ExitUsage
	exitRuntime = engine.ExitRuntime
)

// version is set with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	supervisor.SetGCTarget()
	os.Exit(supervisor.WithProfile(func() int { return run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr) }))
}

// usage lists the commands main wires, then those plugins register.
var usage = usageHead + pluginCommands() + usageTail

const usageHead = `Usage: pipeline <command> [flags]

Commands:
  run -f PATH       run the pipelines in PATH (a file, or a directory whose files load in lexical order)
  check -f PATH     check the configuration and exit: 0 "Configuration OK", 1 with every error found
  run|check -e 'CONFIG'        a configuration string in Logstash .conf syntax, as logstash -e
  run|check --pipelines FILE   the pipelines listed in a Logstash pipelines.yml, each isolated
  convert PATH      print a Logstash .conf file (or a directory of them) as HCL
`

const usageTail = `  plugins           list the registered plugins
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
                           and --api.auth.basic.password_file FILE (or env
                           API_AUTH_BASIC_PASSWORD; --api.auth.basic.password shows in ps)

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
		if c, ok := engine.LookupCommand(cmd); ok {
			return c.Run(args[1:], stdout, stderr)
		}
		fmt.Fprintf(stderr, "pipeline: unknown command %q\n\n%s", cmd, usage)
		return exitUsage
	}
}

func pluginCommands() string {
	var b strings.Builder
	for _, c := range engine.Commands() {
		fmt.Fprintf(&b, "  %-17s %s\n", c.Synopsis, c.Summary)
	}
	return b.String()
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
	var path, pipelinesYML string
	var configString *string
	for _, n := range []string{"f", "path.config"} {
		fs.StringVar(&path, n, "", "pipeline file or directory")
	}
	for _, n := range []string{"e", "config.string"} {
		fs.Func(n, "configuration string in .conf syntax", func(s string) error {
			configString = &s
			return nil
		})
	}
	fs.StringVar(&pipelinesYML, "pipelines", "", "a Logstash pipelines.yml listing the pipelines to run")
	flags := supervisor.AddFlags(fs)
	if err := fs.Parse(args); err != nil {
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
	if err := flags.Validate(configString != nil); err != nil {
		fmt.Fprintf(stderr, "pipeline %s: %v\n", cmd, err)
		return exitUsage
	}
	o := flags.Options(stderr)
	o.Load = func() (*ir.Config, hcl.Diagnostics) {
		switch {
		case pipelinesYML != "":
			return dsl.LoadPipelinesYML(pipelinesYML)
		case configString != nil:
			return dsl.LoadConfigString(*configString)
		default:
			return dsl.Load(path)
		}
	}
	o.Source, o.Static, o.Check, o.Version = path, configString != nil, cmd == "check", buildVersion()
	return supervisor.Run(o, stdout, stderr)
}

// convert prints a Logstash .conf file, or a directory of them, as HCL.
func convert(args []string, stdout, stderr io.Writer) int {
	if len(args) != 1 || strings.HasPrefix(args[0], "-") {
		fmt.Fprintf(stderr, "pipeline convert: give one .conf file or directory: pipeline convert PATH > pipeline.hcl\n\n%s", usage)
		return exitUsage
	}
	out, cfg, diags := dsl.ConvertConf(args[0])
	if diags.HasErrors() {
		supervisor.WriteDiagnostics(stderr, cfg, diags)
		fmt.Fprintf(stderr, "%d error(s) found; nothing was converted.\n", supervisor.CountErrors(diags))
		return exitConfig
	}
	if len(diags) > 0 {
		supervisor.WriteDiagnostics(stderr, cfg, diags)
	}
	if _, err := stdout.Write(out); err != nil {
		fmt.Fprintln(stderr, "pipeline convert:", err)
		return exitRuntime
	}
	return exitOK
}
