// Command pipeline runs Logstash-compatible log pipelines.
//
// Exit codes: 0 success; 1 configuration error (nothing was started);
// 2 usage error; 3 runtime failure (an input failed, or shutdown was forced
// with events undelivered).
package main

import (
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"

	"github.com/pipelined/pipeline/dsl"
	"github.com/pipelined/pipeline/dsl/configdebug"
	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/monitor"
	"github.com/pipelined/pipeline/engine/supervisor"
	"github.com/pipelined/pipeline/pipetest"
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
  ` + pipetest.CommandSynopsis + ` ` + pipetest.CommandSummary + `
  ` + monitor.TapSynopsis + `       ` + monitor.TapSummary + `
`

const usageTail = `  plugins           list the registered plugins
  completion SHELL  print the bash or zsh completion script
  version           print the version

pipeline -f PATH (or -e, -t, any of run's flags first) is pipeline run, as logstash -f.
Run 'pipeline run --help' or 'pipeline check --help' for their flags.

Exit codes: 0 success, 1 configuration error, 2 usage error, 3 runtime failure.
`

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	switch cmd := args[0]; cmd {
	case "run", "check":
		return supervisor.Command(cmd, args[1:], commandEnv(), stdout, stderr)
	case "convert":
		return convert(args[1:], stdout, stderr)
	case "test":
		return pipetest.Command(args[1:], stdout, stderr)
	case "tap":
		return monitor.TapCommand(args[1:], stdout, stderr)
	case "plugins":
		for _, f := range engine.Default.All() {
			fmt.Fprintf(stdout, "%-7s %s\n", f.Kind, f.Name)
		}
		return exitOK
	case "completion":
		return supervisor.Completion(args[1:], commandNames(), stdout, stderr)
	case "version", "--version", "-V":
		fmt.Fprintf(stdout, "pipeline %s\n", buildVersion())
		return exitOK
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return exitOK
	default:
		if strings.HasPrefix(cmd, "-") {
			// As logstash: flags without a command run the pipelines.
			return supervisor.Command("run", args, commandEnv(), stdout, stderr)
		}
		if c, ok := engine.LookupCommand(cmd); ok {
			return c.Run(args[1:], engine.CommandEnv{Stdout: stdout, Stderr: stderr, LoadConfig: dsl.Loader{}.Load})
		}
		fmt.Fprintf(stderr, "pipeline: unknown command %q\n\n%s", cmd, usage)
		return exitUsage
	}
}

// commandNames are the commands for shell completion.
func commandNames() []string {
	names := []string{"run", "check", "convert", "test", "tap", "plugins", "completion", "version", "help"}
	for _, c := range engine.Commands() {
		names = append(names, c.Name)
	}
	return names
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

func commandEnv() supervisor.CommandEnv {
	return supervisor.CommandEnv{Version: buildVersion(), DescribeConfig: configdebug.Describe,
		NewLoader: func(esc bool) supervisor.ConfigLoader { return dsl.Loader{SupportEscapes: esc} }}
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
