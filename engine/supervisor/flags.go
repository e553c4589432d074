package supervisor

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
)

// Flags are the flags of `run` and `check` that configure the supervisor;
// which configuration to load (-f, -e, --pipelines) is the caller's.
type Flags struct {
	workers, batchSize int
	logLevel           string
	level              slog.Level

	Services *ServiceFlags
	Settings *SettingFlags
	Reload   *ReloadFlags
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
	fs.StringVar(&f.logLevel, "log.level", "info", "log level")
	f.Services = AddServiceFlags(fs)
	f.Settings = AddSettingFlags(fs)
	f.Reload = AddReloadFlags(fs)
	return f
}

// Validate checks the flags after parsing; static is true when the
// configuration is a string (-e), which has no files to reload.
func (f *Flags) Validate(static bool) error {
	if err := f.Services.Validate(); err != nil {
		return err
	}
	if err := f.Settings.Validate(); err != nil {
		return err
	}
	if err := f.level.UnmarshalText([]byte(f.logLevel)); err != nil {
		return fmt.Errorf("invalid --log.level %q: use debug, info, warn or error", f.logLevel)
	}
	return f.Reload.Validate(static)
}

// Options returns the options Run takes from the flags, with a logger
// writing to stderr at --log.level. Load, Source, Static, Check and Version
// are the caller's to fill.
func (f *Flags) Options(stderr io.Writer) Options {
	return Options{Workers: f.workers, BatchSize: f.batchSize, Services: f.Services, Settings: f.Settings, Reload: f.Reload,
		Logger: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: f.level}))}
}
