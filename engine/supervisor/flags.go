package supervisor

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/pipelined/pipeline/dsl/ir"
	"github.com/pipelined/pipeline/engine/childenv"
	"github.com/pipelined/pipeline/engine/dlq"
)

// Flags are the flags of `run` and `check` that configure the supervisor;
// which configuration to load (-f, -e, --pipelines) is the caller's.
type Flags struct {
	workers, batchSize int

	Settings *SettingFlags
}

// AddFlags registers the supervisor's flags on fs.
func AddFlags(fs *flag.FlagSet) *Flags {
	f := &Flags{}
	for _, n := range []string{"w", "pipeline.workers"} {
		fs.IntVar(&f.workers, n, 0, "filter workers")
	}
	for _, n := range []string{"b", "pipeline.batch.size"} {
		fs.IntVar(&f.batchSize, n, 0, "batch size")
	}
	f.Settings = AddSettingFlags(fs)
	return f
}

// Validate checks the flags after parsing; static is true when the
// configuration is a string (-e), which has no files to reload.
func (f *Flags) Validate(static bool) error {
	if err := f.Settings.Validate(); err != nil {
		return err
	}
	if r := f.Settings.settings.Reload.Automatic; r != nil && *r && static {
		return errors.New("--config.reload.automatic needs a configuration in files (-f or --pipelines), not -e")
	}
	return nil
}

// Options returns the options Run takes from the flags, with a logger
// writing to stderr at --log.level in --log.format and, with --path.logs,
// to <path.logs>/logstash-plain.log (logstash-json.log for json), the
// names Logstash's log4j2.properties gives them. Load, Source, Static,
// Check and Version are the caller's to fill.
func (f *Flags) Options(stderr io.Writer) (Options, error) {
	s := f.Settings.settings
	w := stderr
	if dir := s.Log.Path; dir != "" {
		name := "logstash-plain.log"
		if s.Log.Format == "json" {
			name = "logstash-json.log"
		}
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return Options{}, fmt.Errorf("--path.logs: %w", err)
		}
		file, err := os.OpenFile(filepath.Join(dir, name), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o640)
		if err != nil {
			return Options{}, fmt.Errorf("--path.logs: %w", err)
		}
		// The file stays open for the life of the process, as Logstash's.
		w = io.MultiWriter(stderr, file)
	}
	ho := &slog.HandlerOptions{Level: s.Log.Level}
	var h slog.Handler = slog.NewTextHandler(w, ho)
	if s.Log.Format == "json" {
		h = slog.NewJSONHandler(w, ho)
	}
	log := slog.New(h)
	for _, at := range f.Settings.ignored {
		log.Warn("logstash.yml: a Logstash setting that has no effect here is ignored", "setting", at)
	}
	return Options{Workers: f.workers, BatchSize: f.batchSize, Settings: s, Logger: log}, nil
}

// SettingFlags are the settings Logstash reads from logstash.yml, given as
// flags under the same names (--path.data, --api.http.port, --queue.type,
// --dead_letter_queue.max_bytes, …): the process's own, and every
// pipeline's defaults, which a pipeline's own settings (a pipeline block,
// pipelines.yml) override. Validate reads them through ir's settings
// tables, as pipelines.yml is read, so a value is checked once and the same
// way wherever it is written.
type SettingFlags struct {
	fs           *flag.FlagSet
	text         map[string]*string
	bools        map[string]*bool
	passwordFile string // --api.auth.basic.password_file
	pathSettings string // --path.settings: the directory of logstash.yml
	// nearby is where logstash.yml is looked for without --path.settings:
	// the directory of --pipelines, as Logstash keeps both in one place.
	// Missing there, it is not an error.
	nearby   string
	settings ir.ProcessSettings // set by Validate
	// ignored are the Logstash-only settings logstash.yml set, warned
	// about once the logger exists (refused with --strict).
	ignored []string
	strict  bool
}

// settingFlags are the flags of SettingFlags, with Logstash's defaults.
var settingFlags = []settingFlag{
	{"path.data", "data", "directory for state"},
	{"pipeline.id", "", "the name of the -f or -e pipeline (default main)"},
	{"pipeline.batch.delay", "", "milliseconds a worker waits to fill a batch (default 50)"},
	{"pipeline.ordered", "", "auto (default), true (refused with more than one worker) or false"},
	{"pipeline.ecs_compatibility", "", "disabled, v1 or v8: the ecs_compatibility of plugins that do not set it (default v8)"},
	{"log.level", "info", "log level: trace, debug, info, warn, error or fatal"},
	{"log.format", "plain", "plain or json"},
	{"path.logs", "", "also log to <DIR>/logstash-plain.log (logstash-json.log with --log.format json)"},
	{"config.debug", "false", "log each pipeline's configuration, secrets redacted, at debug level"},
	{"config.support_escapes", "false", "process escape sequences in .conf quoted strings"},
	{"log.status_interval", "30s", "status line interval"},
	{"api.enabled", "true", "serve the monitoring API"},
	{"api.http.host", "127.0.0.1", "monitoring API address"},
	{"api.http.port", "9600-9700", "monitoring API port or range"},
	{"api.auth.type", "none", "none or basic"},
	{"api.auth.basic.username", "", "monitoring API user"},
	{"api.auth.basic.password", "", "monitoring API password (visible in the process list: prefer the file or API_AUTH_BASIC_PASSWORD)"},
	{"queue.type", "memory", "memory or persisted"},
	{"path.queue", "", "persisted queue directory (default <path.data>/queue)"},
	{"queue.max_bytes", "1024mb", "persisted queue size bound"},
	{"queue.checkpoint.writes", "1024", "events between fsyncs (1: every write)"},
	{"queue.drain", "false", "empty the persisted queue before stopping on a signal"},
	{"queue.encryption_key_path", "", "encrypt the persisted queue with the AES-256 key in this file (64 hex characters), or env:NAME"},
	{"queue.encryption_old_key_path", "", "the key of persisted queue records written before a key rotation"},
	{"dead_letter_queue.enable", "false", "keep refused events"},
	{"path.dead_letter_queue", "", "dead letter queue directory (default <path.data>/dead_letter_queue)"},
	{"dead_letter_queue.max_bytes", "1024mb", "dead letter queue size bound"},
	{"dead_letter_queue.storage_policy", dlq.DropNewer, "drop_newer or drop_older"},
	{"dead_letter_queue.flush_interval", "5000", "dead letter queue fsync interval in ms"},
	{"dead_letter_queue.retain.age", "", "delete dead letter queue entries older than this, e.g. 5d"},
	{"dead_letter_queue.encryption_key_path", "", "encrypt the dead letter queue with the AES-256 key in this file, or env:NAME"},
	{"dead_letter_queue.encryption_old_key_path", "", "the key of dead letter queue entries written before a key rotation"},
	{"config.reload.automatic", "false", "reload the configuration when its files change"},
	{"config.reload.interval", "3s", "how often to check the configuration for changes"},
	{"memory.soft_limit", "22mb", "the Go runtime's soft memory limit: collect sooner rather than grow past it (0: off; GOMEMLIMIT wins)"},
}

type settingFlag struct{ name, def, usage string }

// canonical returns the Logstash name of a flag given by its short name.
func canonical(name string) string {
	for long, short := range settingAliases {
		if short == name {
			return long
		}
	}
	return name
}

// LookNear makes Validate read dir/logstash.yml, if there is one, when
// --path.settings is not given: the directory of --pipelines.
func (f *SettingFlags) LookNear(dir string) { f.nearby = dir }

func fileExists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir()
}

// SettingsDir returns --path.settings, "" when not given.
func (f *SettingFlags) SettingsDir() string { return f.pathSettings }

// settingAliases are the short names of settingFlags, as Logstash's -r.
var settingAliases = map[string]string{"config.reload.automatic": "r", "pipeline.batch.delay": "u", "path.logs": "l"}

// AddSettingFlags registers the flags of SettingFlags on fs.
func AddSettingFlags(fs *flag.FlagSet) *SettingFlags {
	f := &SettingFlags{fs: fs, text: map[string]*string{}, bools: map[string]*bool{}}
	for _, sf := range settingFlags {
		names := []string{sf.name}
		if a := settingAliases[sf.name]; a != "" {
			names = append(names, a)
		}
		if b, err := strconv.ParseBool(sf.def); err == nil {
			// A bare --name sets a boolean, as in Logstash.
			v := new(bool)
			for _, n := range names {
				fs.BoolVar(v, n, b, sf.usage)
			}
			f.bools[sf.name] = v
			continue
		}
		v := new(string)
		for _, n := range names {
			fs.StringVar(v, n, sf.def, sf.usage)
		}
		f.text[sf.name] = v
	}
	// Not a Logstash setting (Logstash has its keystore): a way to keep
	// the password out of the process list.
	fs.StringVar(&f.passwordFile, "api.auth.basic.password_file", "", "file holding the monitoring API password")
	fs.StringVar(&f.pathSettings, "path.settings", "", "directory holding logstash.yml (and pipelines.yml)")
	fs.BoolVar(&f.strict, "strict", false, "refuse logstash.yml settings that have no effect here, instead of a warning")
	return f
}

// Validate reads the settings: Logstash's defaults, then logstash.yml in
// --path.settings, then the flags given on the command line, each over the
// one before, as Logstash does. An error in logstash.yml is a
// *SettingsFileError.
func (f *SettingFlags) Validate() error {
	f.settings = ir.ProcessSettings{}
	given := map[string]bool{}
	f.fs.Visit(func(fl *flag.Flag) { given[canonical(fl.Name)] = true })
	set := func(sf settingFlag) error {
		var text string
		if b, ok := f.bools[sf.name]; ok {
			text = strconv.FormatBool(*b)
		} else if text = *f.text[sf.name]; text == "" {
			return nil // not given, and no default: see the usage
		}
		if _, _, err := f.settings.SetSetting(sf.name, text); err != nil {
			return fmt.Errorf("invalid --%s %q: %v", sf.name, text, err)
		}
		return nil
	}
	for _, sf := range settingFlags {
		if !given[sf.name] {
			if err := set(settingFlag{name: sf.name, def: sf.def}); err != nil {
				return err
			}
		}
	}
	if f.pathSettings != "" {
		ignored, err := readLogstashYML(filepath.Join(f.pathSettings, "logstash.yml"), &f.settings)
		if err != nil {
			return err
		}
		f.ignored = ignored
	} else if f.nearby != "" {
		if p := filepath.Join(f.nearby, "logstash.yml"); fileExists(p) {
			ignored, err := readLogstashYML(p, &f.settings)
			if err != nil {
				return err
			}
			f.ignored = ignored
		}
	}
	if f.strict && len(f.ignored) > 0 {
		return fmt.Errorf("--strict: logstash.yml sets %d Logstash setting(s) that have no effect here: %s",
			len(f.ignored), strings.Join(f.ignored, ", "))
	}
	for _, sf := range settingFlags {
		if given[sf.name] {
			if err := set(sf); err != nil {
				return err
			}
		}
	}
	api := &f.settings.API
	if f.passwordFile != "" {
		if api.Password != "" {
			return errors.New("give --api.auth.basic.password or --api.auth.basic.password_file, not both")
		}
		b, err := os.ReadFile(f.passwordFile)
		if err != nil {
			// The error names the path only, never the content.
			return fmt.Errorf("--api.auth.basic.password_file: %w", err)
		}
		// A file written by an editor or `echo` ends with a newline that is
		// not part of the password.
		api.Password = strings.TrimRight(string(b), "\r\n")
		if api.Password == "" {
			return fmt.Errorf("--api.auth.basic.password_file: %s is empty", f.passwordFile)
		}
	}
	// A secret for this process alone: no process a plugin starts
	// inherits it (childenv), whichever password is used.
	childenv.Hide("API_AUTH_BASIC_PASSWORD")
	if api.Password == "" {
		api.Password = os.Getenv("API_AUTH_BASIC_PASSWORD")
	}
	if api.AuthType == "basic" && (api.Username == "" || api.Password == "") {
		return errors.New("--api.auth.type basic needs --api.auth.basic.username and --api.auth.basic.password_file (or API_AUTH_BASIC_PASSWORD, or --api.auth.basic.password)")
	}
	return nil
}
