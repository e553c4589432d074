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
	"sync"
	"time"

	"github.com/pipelined/pipeline/dsl/ir"
	"github.com/pipelined/pipeline/engine/dlq"
	"github.com/pipelined/pipeline/engine/monitor"
)

// ServiceFlags are the settings of what runs beside the pipelines: path.data,
// the dead letter queues, the monitoring API and the status line (Logstash
// reads them from logstash.yml; here they are flags, and pipelines.yml or a
// pipeline block may override the dead letter queue per pipeline).
type ServiceFlags struct {
	dataDir        string
	statusInterval time.Duration
	dlqEnable      bool
	dlqPath        string
	dlqMaxBytes    string
	dlqPolicy      string
	dlqFlushMS     int
	dlqRetainAge   string
	apiEnabled     bool
	apiHost        string
	apiPort        string
	apiAuthType    string
	apiUser        string
	apiPassword    string

	maxBytes  int64         // dlqMaxBytes parsed
	retainAge time.Duration // dlqRetainAge parsed
}

// AddServiceFlags registers the path.data, dead_letter_queue.*, api.* and
// log.status_interval flags on fs.
func AddServiceFlags(fs *flag.FlagSet) *ServiceFlags {
	f := &ServiceFlags{}
	fs.StringVar(&f.dataDir, "path.data", "data", "directory for state")
	fs.DurationVar(&f.statusInterval, "log.status_interval", 30*time.Second, "status line interval")
	fs.BoolVar(&f.dlqEnable, "dead_letter_queue.enable", false, "keep refused events")
	fs.StringVar(&f.dlqPath, "path.dead_letter_queue", "", "dead letter queue directory")
	fs.StringVar(&f.dlqMaxBytes, "dead_letter_queue.max_bytes", "1024mb", "dead letter queue size bound")
	fs.StringVar(&f.dlqPolicy, "dead_letter_queue.storage_policy", dlq.DropNewer, "drop_newer or drop_older")
	fs.IntVar(&f.dlqFlushMS, "dead_letter_queue.flush_interval", 5000, "dead letter queue fsync interval in ms")
	fs.StringVar(&f.dlqRetainAge, "dead_letter_queue.retain.age", "", "delete dead letter queue entries older than this, e.g. 5d")
	fs.BoolVar(&f.apiEnabled, "api.enabled", true, "serve the monitoring API")
	fs.StringVar(&f.apiHost, "api.http.host", "127.0.0.1", "monitoring API address")
	fs.StringVar(&f.apiPort, "api.http.port", "9600-9700", "monitoring API port or range")
	fs.StringVar(&f.apiAuthType, "api.auth.type", "none", "none or basic")
	fs.StringVar(&f.apiUser, "api.auth.basic.username", "", "monitoring API user")
	fs.StringVar(&f.apiPassword, "api.auth.basic.password", "", "monitoring API password")
	return f
}

// Validate checks the flags and parses the sizes and ages.
func (f *ServiceFlags) Validate() error {
	n, err := ir.ParseByteSize(f.dlqMaxBytes)
	if err != nil || n <= 0 {
		return fmt.Errorf("invalid --dead_letter_queue.max_bytes %q: write a size such as 1024mb", f.dlqMaxBytes)
	}
	f.maxBytes = n
	if f.dlqPolicy != dlq.DropNewer && f.dlqPolicy != dlq.DropOlder {
		return fmt.Errorf("invalid --dead_letter_queue.storage_policy %q: use drop_newer or drop_older", f.dlqPolicy)
	}
	if f.dlqRetainAge != "" {
		if f.retainAge, err = ir.ParseAge(f.dlqRetainAge); err != nil {
			return fmt.Errorf("invalid --dead_letter_queue.retain.age: %v", err)
		}
	}
	if f.dlqFlushMS <= 0 {
		return fmt.Errorf("invalid --dead_letter_queue.flush_interval %d: give milliseconds above 0", f.dlqFlushMS)
	}
	if _, _, err := monitor.ParsePortRange(f.apiPort); err != nil {
		return fmt.Errorf("invalid --api.http.port: %v", err)
	}
	if f.statusInterval < 0 {
		return fmt.Errorf("invalid --log.status_interval %v", f.statusInterval)
	}
	if f.apiPassword == "" {
		f.apiPassword = os.Getenv("API_AUTH_BASIC_PASSWORD")
	}
	switch f.apiAuthType {
	case "none":
	case "basic":
		if f.apiUser == "" || f.apiPassword == "" {
			return errors.New("--api.auth.type basic needs --api.auth.basic.username and --api.auth.basic.password (or API_AUTH_BASIC_PASSWORD)")
		}
	default:
		return fmt.Errorf("invalid --api.auth.type %q: use none or basic", f.apiAuthType)
	}
	return nil
}

// deadLetterQueue returns the pipeline's dead letter queue, not yet opened, or
// nil when it has none. The pipeline's own settings win over the flags.
func (f *ServiceFlags) deadLetterQueue(p *ir.Pipeline, logger *slog.Logger) *dlq.Deferred {
	s := p.Settings.DeadLetterQueue
	enable := f.dlqEnable
	if s.Enable != nil {
		enable = *s.Enable
	}
	if !enable {
		return nil
	}
	o := dlq.Options{MaxBytes: f.maxBytes, StoragePolicy: f.dlqPolicy,
		FlushInterval: time.Duration(f.dlqFlushMS) * time.Millisecond, RetainAge: f.retainAge,
		Logger: logger.With("pipeline", p.Name)}
	root := cmp.Or(s.Path, f.dlqPath, filepath.Join(f.dataDir, "dead_letter_queue"))
	o.Dir = filepath.Join(root, p.Name)
	if s.MaxBytes > 0 {
		o.MaxBytes = s.MaxBytes
	}
	o.StoragePolicy = cmp.Or(s.StoragePolicy, o.StoragePolicy)
	if s.FlushInterval > 0 {
		o.FlushInterval = time.Duration(s.FlushInterval) * time.Millisecond
	}
	if s.RetainAge != "" {
		o.RetainAge, _ = ir.ParseAge(s.RetainAge) // validated by the loader
	}
	return dlq.Defer(o)
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
