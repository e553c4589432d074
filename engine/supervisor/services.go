package supervisor

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/pipelined/pipeline/dsl/ir"
	"github.com/pipelined/pipeline/engine/dlq"
	"github.com/pipelined/pipeline/engine/monitor"
)

// ServiceFlags are the settings of what runs beside the pipelines: path.data,
// the monitoring API and the status line (Logstash reads them from
// logstash.yml; here they are flags).
type ServiceFlags struct {
	dataDir         string
	statusInterval  time.Duration
	apiEnabled      bool
	apiHost         string
	apiPort         string
	apiAuthType     string
	apiUser         string
	apiPassword     string
	apiPasswordFile string
}

// AddServiceFlags registers the path.data, api.* and log.status_interval
// flags on fs.
func AddServiceFlags(fs *flag.FlagSet) *ServiceFlags {
	f := &ServiceFlags{}
	fs.StringVar(&f.dataDir, "path.data", "data", "directory for state")
	fs.DurationVar(&f.statusInterval, "log.status_interval", 30*time.Second, "status line interval")
	fs.BoolVar(&f.apiEnabled, "api.enabled", true, "serve the monitoring API")
	fs.StringVar(&f.apiHost, "api.http.host", "127.0.0.1", "monitoring API address")
	fs.StringVar(&f.apiPort, "api.http.port", "9600-9700", "monitoring API port or range")
	fs.StringVar(&f.apiAuthType, "api.auth.type", "none", "none or basic")
	fs.StringVar(&f.apiUser, "api.auth.basic.username", "", "monitoring API user")
	fs.StringVar(&f.apiPassword, "api.auth.basic.password", "", "monitoring API password (visible in the process list: prefer the file or API_AUTH_BASIC_PASSWORD)")
	fs.StringVar(&f.apiPasswordFile, "api.auth.basic.password_file", "", "file holding the monitoring API password")
	return f
}

// Validate checks the flags.
func (f *ServiceFlags) Validate() error {
	if _, _, err := monitor.ParsePortRange(f.apiPort); err != nil {
		return fmt.Errorf("invalid --api.http.port: %v", err)
	}
	if f.statusInterval < 0 {
		return fmt.Errorf("invalid --log.status_interval %v", f.statusInterval)
	}
	if f.apiPasswordFile != "" {
		if f.apiPassword != "" {
			return errors.New("give --api.auth.basic.password or --api.auth.basic.password_file, not both")
		}
		b, err := os.ReadFile(f.apiPasswordFile)
		if err != nil {
			// The error names the path only, never the content.
			return fmt.Errorf("--api.auth.basic.password_file: %w", err)
		}
		// A file written by an editor or `echo` ends with a newline that is
		// not part of the password.
		f.apiPassword = strings.TrimRight(string(b), "\r\n")
		if f.apiPassword == "" {
			return fmt.Errorf("--api.auth.basic.password_file: %s is empty", f.apiPasswordFile)
		}
	}
	if f.apiPassword == "" {
		f.apiPassword = os.Getenv("API_AUTH_BASIC_PASSWORD")
	}
	switch f.apiAuthType {
	case "none":
	case "basic":
		if f.apiUser == "" || f.apiPassword == "" {
			return errors.New("--api.auth.type basic needs --api.auth.basic.username and --api.auth.basic.password_file (or API_AUTH_BASIC_PASSWORD, or --api.auth.basic.password)")
		}
	default:
		return fmt.Errorf("invalid --api.auth.type %q: use none or basic", f.apiAuthType)
	}
	return nil
}

// deadLetterQueue returns the dead letter queue of the pipeline id, not yet
// opened, or nil when it has none. s are the pipeline's settings over the
// flags'.
func (f *ServiceFlags) deadLetterQueue(id string, s ir.DeadLetterQueueSettings, logger *slog.Logger) *dlq.Deferred {
	if s.Enable == nil || !*s.Enable {
		return nil
	}
	return dlq.Defer(dlq.Options{
		Dir:           filepath.Join(cmp.Or(s.Path, filepath.Join(f.dataDir, "dead_letter_queue")), id),
		MaxBytes:      s.MaxBytes,
		StoragePolicy: s.StoragePolicy,
		FlushInterval: s.FlushInterval,
		RetainAge:     s.RetainAge,
		Logger:        logger.With("pipeline", id),
	})
}

// start starts the monitoring API and the status line; stop stops them.
// get lists the running pipelines at each use, so that both follow reloads;
// node are the process's reload counts.
func (f *ServiceFlags) start(get func() []monitor.Source, node *monitor.Reloads, reloadAutomatic bool, version string, logger *slog.Logger) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); monitor.LogStatus(ctx, f.statusInterval, logger, get) }()
	var srv *monitor.Server
	if f.apiEnabled {
		o := monitor.Options{Host: f.apiHost, Port: f.apiPort, Version: version, Logger: logger,
			Reloads: node, ReloadAutomatic: reloadAutomatic}
		if f.apiAuthType == "basic" {
			o.Username, o.Password = f.apiUser, f.apiPassword
		}
		srv = monitor.New(o, get)
		if addr, err := srv.Listen(); err != nil {
			// Monitoring is not worth stopping the pipelines for.
			logger.Error("monitoring API not started", "err", err)
			srv = nil
		} else {
			logger.Info("monitoring API listening", "address", addr.String())
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := srv.Serve(); err != nil {
					logger.Error("monitoring API failed", "err", err)
				}
			}()
		}
	}
	return func() {
		cancel()
		if srv != nil {
			srv.Close()
		}
		wg.Wait()
	}
}
