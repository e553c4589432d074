package monitor

import (
	"sync"
	"time"
)

// Reloads counts the configuration reloads of one pipeline, or of the whole
// process, for the "reloads" objects of the API. The zero value is ready; a nil
// *Reloads reports zeros.
type Reloads struct {
	mu                       sync.Mutex
	successes, failures      int64
	lastError                string
	lastSuccess, lastFailure time.Time
}

// Succeeded counts a reload that replaced (or started) the pipeline.
func (r *Reloads) Succeeded() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.successes++
	r.lastSuccess = time.Now()
}

// Failed counts a reload that was refused; msg says why.
func (r *Reloads) Failed(msg string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failures++
	r.lastError = msg
	r.lastFailure = time.Now()
}

// ReloadStats is a copy of the counts.
type ReloadStats struct {
	Successes, Failures      int64
	LastError                string
	LastSuccess, LastFailure time.Time
}

// Stats returns the counts.
func (r *Reloads) Stats() ReloadStats {
	if r == nil {
		return ReloadStats{}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return ReloadStats{r.successes, r.failures, r.lastError, r.lastSuccess, r.lastFailure}
}

// json is Logstash's per-pipeline shape: the last error is an object with a
// message, and the timestamps are null until the first reload of the kind.
func (s ReloadStats) json() map[string]any {
	stamp := func(t time.Time) any {
		if t.IsZero() {
			return nil
		}
		return t.UTC().Format(time.RFC3339Nano)
	}
	var lastErr any
	if s.LastError != "" {
		lastErr = map[string]any{"message": s.LastError}
	}
	return map[string]any{"successes": s.Successes, "failures": s.Failures, "last_error": lastErr,
		"last_success_timestamp": stamp(s.LastSuccess), "last_failure_timestamp": stamp(s.LastFailure)}
}
