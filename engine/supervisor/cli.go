package supervisor

import (
	"cmp"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/pipelined/pipeline/dsl/ir"
	"github.com/pipelined/pipeline/engine"
)

// CommandEnv is what `run` and `check` take from main besides the command
// line.
type CommandEnv struct {
	Version string
	// DescribeConfig returns the lines --config.debug logs for a pipeline,
	// every secret redacted (the plugins know which options are secret).
	DescribeConfig func(p *ir.Pipeline) []string
	// NewLoader returns the front-end that reads configurations (package
	// dsl), handed in by main so that the engine never imports a front-end.
	NewLoader func(supportEscapes bool) ConfigLoader
}

// ConfigLoader reads pipeline configurations into the IR.
type ConfigLoader interface {
	Load(path string) (*ir.Config, hcl.Diagnostics)
	LoadConfigString(s string) (*ir.Config, hcl.Diagnostics)
	LoadPipelinesYML(path string) (*ir.Config, hcl.Diagnostics)
}

// RunUsage is `pipeline run --help`.
const RunUsage = `Usage: pipeline run (-f PATH | -e 'CONFIG' | --pipelines FILE | --path.settings DIR) [flags]
       pipeline -f PATH [flags]          the same, as logstash -f (-t: as check)

Configuration (one of):
  -f, --path.config PATH      a .conf or .hcl file, or a directory of them (lexical order)
  -e, --config.string CONFIG  .conf syntax; stdin and stdout are added when missing
  --pipelines FILE            a Logstash pipelines.yml
  --path.settings DIR         read DIR/logstash.yml; without -f, -e or --pipelines,
                              run DIR/pipelines.yml (default: the directory of
                              --pipelines, when it holds a logstash.yml)
  -t, --config.test_and_exit  check the configuration and exit, as pipeline check
  --strict                    refuse logstash.yml settings that have no effect here

Pipelines:
  --pipeline.id ID            name of the -f or -e pipeline (default main)
  -w, --pipeline.workers N    filter workers (default: number of CPUs)
  -b, --pipeline.batch.size N events per worker batch (default 125)
  -u, --pipeline.batch.delay MS  wait to fill a batch (default 50)
  --pipeline.ordered auto|true|false  events keep their order with one worker;
                              true refuses more than one (default auto)
  --pipeline.ecs_compatibility disabled|v1|v8  ecs_compatibility of the
                              plugins that do not set it (default v8)
  -r, --config.reload.automatic  reload -f or --pipelines when its files change
  --config.reload.interval D  how often -r checks (default 3s); SIGHUP checks at once
  --config.support_escapes    process \n, \t, \" … in .conf quoted strings

Logging:
  --log.level LEVEL           trace, debug, info, warn, error, fatal (default info)
  --log.format FORMAT         plain (default) or json
  -l, --path.logs DIR         also log to DIR/logstash-plain.log (logstash-json.log)
  --log.status_interval D     a status line per pipeline every D (default 30s; 0: off)
  --config.debug              with --log.level debug, log the configuration, secrets redacted

State:
  --path.data DIR             default ./data
  --queue.type TYPE           memory (default) or persisted
  --path.queue DIR            default <path.data>/queue
  --queue.max_bytes SIZE      default 1024mb
  --queue.checkpoint.writes N default 1024
  --queue.drain               on a signal, deliver everything queued first
  --queue.encryption_key_path FILE  encrypt the persisted queue (AES-256-GCM) with
                              the key in FILE (openssl rand -hex 32), or env:NAME;
                              --queue.encryption_old_key_path FILE during a rotation
  --dead_letter_queue.enable  keep events outputs refuse for good
  --path.dead_letter_queue DIR, --dead_letter_queue.max_bytes SIZE,
  --dead_letter_queue.storage_policy drop_newer|drop_older,
  --dead_letter_queue.flush_interval MS, --dead_letter_queue.retain.age AGE,
  --dead_letter_queue.encryption_key_path FILE (and _old_key_path), as the queue's

Memory:
  --memory.soft_limit SIZE    collect garbage rather than grow past SIZE (default
                              22mb; follows twice the live heap above half of it;
                              0: off; the GOMEMLIMIT variable wins)

Monitoring API:
  --api.enabled=false         do not serve it (on by default)
  --api.http.host HOST        default 127.0.0.1
  --api.http.port PORT        a port or a range (default 9600-9700)
  --api.auth.type basic       with --api.auth.basic.username and
                              --api.auth.basic.password_file FILE (or API_AUTH_BASIC_PASSWORD)

Every setting can be written in logstash.yml under the same name. Precedence:
flags, then logstash.yml, then defaults. Exit codes: 0 success, 1 configuration
error, 2 usage error, 3 runtime failure.
`

// CheckUsage is `pipeline check --help`.
const CheckUsage = `Usage: pipeline check (-f PATH | -e 'CONFIG' | --pipelines FILE | --path.settings DIR) [flags]
       pipeline -t -f PATH [flags]

Loads and builds every pipeline without starting it; prints "Configuration OK"
and exits 0, or prints every error found and exits 1.

  -f, --path.config PATH      a .conf or .hcl file, or a directory of them
  -e, --config.string CONFIG  .conf syntax
  --pipelines FILE            a Logstash pipelines.yml
  --path.settings DIR         read DIR/logstash.yml; without -f, -e or --pipelines,
                              check DIR/pipelines.yml
  --config.support_escapes    process escape sequences in .conf quoted strings
  --config.debug              with --log.level debug, log the configuration, secrets redacted
  --log.level LEVEL, --log.format FORMAT

run's other flags are accepted, so adding -t to a run command line checks it.
`

// commandFlags are the flags of run and check.
type commandFlags struct {
	path, pipelinesYML string
	configString       *string
	testAndExit        bool
	flags              *Flags
}

func addCommandFlags(fs *flag.FlagSet) *commandFlags {
	cf := &commandFlags{}
	for _, n := range []string{"f", "path.config"} {
		fs.StringVar(&cf.path, n, "", "pipeline file or directory")
	}
	for _, n := range []string{"e", "config.string"} {
		fs.Func(n, "configuration string in .conf syntax", func(s string) error {
			cf.configString = &s
			return nil
		})
	}
	for _, n := range []string{"t", "config.test_and_exit"} {
		fs.BoolVar(&cf.testAndExit, n, false, "check the configuration and exit")
	}
	fs.StringVar(&cf.pipelinesYML, "pipelines", "", "a Logstash pipelines.yml listing the pipelines to run")
	cf.flags = AddFlags(fs)
	return cf
}

// CommandFlagNames are the flags run and check take (without dashes), for
// shell completion.
func CommandFlagNames() []string {
	fs := flag.NewFlagSet("", flag.ContinueOnError)
	addCommandFlags(fs)
	var names []string
	fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
	return names
}

// Command runs `pipeline run` (cmd "run") or `pipeline check` with args.
func Command(cmd string, args []string, env CommandEnv, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("pipeline "+cmd, flag.ContinueOnError)
	// Errors are reported here, one line and a hint, not as the flag
	// package's full listing.
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	cf := addCommandFlags(fs)
	var path, pipelinesYML string
	flags := cf.flags
	usage := RunUsage
	if cmd == "check" {
		usage = CheckUsage
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, usage)
			return engine.ExitOK
		}
		fmt.Fprintf(stderr, "pipeline %s: %s\nRun 'pipeline %s --help' for the flags.\n", cmd, flagError(fs, err), cmd)
		return engine.ExitUsage
	}
	path, pipelinesYML = cf.path, cf.pipelinesYML
	configString, testAndExit := cf.configString, cf.testAndExit
	if testAndExit {
		cmd = "check"
	}
	given := 0
	for _, ok := range []bool{path != "", configString != nil, pipelinesYML != ""} {
		if ok {
			given++
		}
	}
	fromSettings := false
	if dir := flags.Settings.SettingsDir(); given == 0 && dir != "" {
		// As logstash --path.settings /etc/logstash: the pipelines are
		// those of pipelines.yml there, unless logstash.yml gives
		// path.config or config.string (see below).
		pipelinesYML = filepath.Join(dir, "pipelines.yml")
		given, fromSettings = 1, true
	}
	if given != 1 || fs.NArg() > 0 {
		msg := "give one of -f PATH, -e 'CONFIG' or --pipelines pipelines.yml"
		if fs.NArg() > 0 {
			msg = fmt.Sprintf("unexpected argument %q: %s", fs.Arg(0), msg)
		}
		fmt.Fprintf(stderr, "pipeline %s: %s\nRun 'pipeline %s --help' for the flags.\n", cmd, msg, cmd)
		return engine.ExitUsage
	}
	if ext := filepath.Ext(path); ext == ".yml" || ext == ".yaml" {
		fmt.Fprintf(stderr, "pipeline %s: %s is YAML, not a pipeline file; for a pipelines.yml use --pipelines %s\n", cmd, path, path)
		return engine.ExitUsage
	}
	if pipelinesYML != "" {
		flags.Settings.LookNear(filepath.Dir(pipelinesYML))
	}
	if err := flags.Validate(configString != nil); err != nil {
		var fe *SettingsFileError
		if errors.As(err, &fe) {
			fmt.Fprintln(stderr, err)
			fmt.Fprintln(stderr, "logstash.yml has errors; nothing was started.")
			return engine.ExitConfig
		}
		fmt.Fprintf(stderr, "pipeline %s: %v\n", cmd, err)
		return engine.ExitUsage
	}
	o, err := flags.Options(stderr)
	if err != nil {
		fmt.Fprintf(stderr, "pipeline %s: %v\n", cmd, err)
		return engine.ExitConfig
	}
	ps := o.Settings
	if fromSettings && (ps.ConfigPath != "" || ps.ConfigString != "") {
		// logstash.yml's own configuration; pipelines.yml is not read,
		// as in Logstash, which warns so.
		o.Logger.Warn("logstash.yml gives path.config or config.string: pipelines.yml is ignored",
			"pipelines.yml", pipelinesYML)
		pipelinesYML = ""
		path = ps.ConfigPath
		if ps.ConfigPath == "" {
			cs := ps.ConfigString
			configString = &cs
		}
	}
	loader := env.NewLoader(ps.SupportEscapes != nil && *ps.SupportEscapes)
	debug := ps.ConfigDebug != nil && *ps.ConfigDebug
	if debug && ps.Log.Level > slog.LevelDebug {
		// As Logstash: the configuration is logged at debug level only.
		o.Logger.Warn("--config.debug was given, but --log.level is not debug: no configuration is logged")
	}
	o.Load = func() (*ir.Config, hcl.Diagnostics) {
		var (
			cfg   *ir.Config
			diags hcl.Diagnostics
		)
		switch {
		case pipelinesYML != "":
			cfg, diags = loader.LoadPipelinesYML(pipelinesYML)
		case configString != nil:
			cfg, diags = loader.LoadConfigString(*configString)
		default:
			cfg, diags = loader.Load(path)
		}
		if cfg != nil && pipelinesYML == "" && ps.PipelineID != "" {
			for _, p := range cfg.Pipelines {
				if p.Name == "main" {
					p.Name = ps.PipelineID
				}
			}
		}
		if cfg != nil && debug && env.DescribeConfig != nil {
			for _, p := range cfg.Pipelines {
				o.Logger.Debug("config.debug", "pipeline", p.Name, "config", strings.Join(env.DescribeConfig(p), "\n"))
			}
		}
		return cfg, diags
	}
	o.Source = cmp.Or(path, pipelinesYML)
	o.Static, o.Check, o.Version = configString != nil, cmd == "check", env.Version
	return Run(o, stdout, stderr)
}

// flagError turns the flag package's error into one line; an unknown flag
// gets the closest known name.
func flagError(fs *flag.FlagSet, err error) string {
	msg := err.Error()
	const unknown = "flag provided but not defined: "
	if !strings.HasPrefix(msg, unknown) {
		return msg
	}
	name := strings.TrimLeft(strings.TrimPrefix(msg, unknown), "-")
	var names []string
	fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
	sort.Strings(names)
	dash := "--"
	if len(name) == 1 {
		dash = "-"
	}
	msg = fmt.Sprintf("unknown flag %s%s.", dash, name)
	if best := ir.Suggest(name, names); best != "" && len(name) > 2 {
		msg += fmt.Sprintf(" Did you mean --%s?", best)
	}
	return msg
}
