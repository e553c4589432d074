package monitor

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/pipelined/pipeline/engine"
)

// LogStatus logs one line per pipeline every interval, at info level, until
// ctx is done: events in and out since the start, their rates over the last
// interval, the queue depth, and what was dropped, failed or dead-lettered.
func LogStatus(ctx context.Context, interval time.Duration, log *slog.Logger, sources func() []Source) {
	if interval <= 0 {
		return
	}
	type last struct{ in, out int64 }
	prev := map[string]last{}
	t := time.NewTicker(interval)
	defer t.Stop()
	then := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			secs := now.Sub(then).Seconds()
			then = now
			for _, src := range sources() {
				s := src.Pipeline.Snapshot()
				p := prev[s.Name]
				prev[s.Name] = last{s.In, s.Out}
				args := []any{"pipeline", s.Name, "in", s.In, "out", s.Out,
					"in_per_sec", rate(s.In-p.in, secs), "out_per_sec", rate(s.Out-p.out, secs),
					"queue", s.QueueEvents, "dropped", s.Dropped, "failed", s.Failed}
				if src.DLQ != nil {
					st := src.DLQ.Stats()
					args = append(args, "dead_lettered", s.DeadLettered, "dlq_bytes", st.SizeBytes, "dlq_dropped", st.Dropped)
				}
				if s.Health.Status != engine.HealthGreen {
					// A stall must be seen in the status line, not hidden by
					// another output's progress.
					args = append(args, "health", s.Health.Status, "reasons", s.Health.Reasons)
					var failing []string
					for _, o := range s.Outputs {
						if o.FailingFor > 0 {
							failing = append(failing, fmt.Sprintf("%s: %d in flight, failing for %v", o.ID, o.InFlight, o.FailingFor.Round(time.Second)))
						}
					}
					if failing != nil {
						args = append(args, "failing_outputs", failing)
					}
					log.Warn("status", args...)
					continue
				}
				log.Info("status", args...)
			}
		}
	}
}

// rate rounds to one decimal.
func rate(n int64, secs float64) float64 {
	if secs <= 0 {
		return 0
	}
	return float64(int64(float64(n)/secs*10+0.5)) / 10
}
