package supervisor

import (
	"cmp"
	"context"
	"log/slog"
	"path/filepath"
	"sync"

	"github.com/pipelined/pipeline/dsl/ir"
	"github.com/pipelined/pipeline/engine/dlq"
	"github.com/pipelined/pipeline/engine/monitor"
)

// deadLetterQueue returns the dead letter queue of the pipeline id, not yet
// opened, or nil when it has none. s are the pipeline's settings over the
// flags'; a queue without a path lives under dataDir.
func deadLetterQueue(dataDir, id string, s ir.DeadLetterQueueSettings, logger *slog.Logger) *dlq.Deferred {
	if s.Enable == nil || !*s.Enable {
		return nil
	}
	return dlq.Defer(dlq.Options{
		Dir:           filepath.Join(cmp.Or(s.Path, filepath.Join(dataDir, "dead_letter_queue")), id),
		MaxBytes:      s.MaxBytes,
		StoragePolicy: s.StoragePolicy,
		FlushInterval: s.FlushInterval,
		RetainAge:     s.RetainAge,
		Logger:        logger.With("pipeline", id),

		EncryptionKeyPath:    s.EncryptionKeyPath,
		EncryptionOldKeyPath: s.EncryptionOldKeyPath,
	})
}

// start starts the monitoring API and the status line; stop stops them.
// get lists the running pipelines at each use, so that both follow reloads;
// node are the process's reload counts.
func startServices(s ir.ProcessSettings, get func() []monitor.Source, node *monitor.Reloads, reloadAutomatic bool, version string, logger *slog.Logger) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); monitor.LogStatus(ctx, s.Log.StatusInterval, logger, get) }()
	var srv *monitor.Server
	if api := s.API; api.Enabled != nil && *api.Enabled {
		o := monitor.Options{Host: api.Host, Port: api.Port, Version: version, Logger: logger,
			Reloads: node, ReloadAutomatic: reloadAutomatic}
		if api.AuthType == "basic" {
			o.Username, o.Password = api.Username, api.Password
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
