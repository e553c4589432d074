package monitor

import (
	"encoding/json"
	"sync"
	"time"

	"github.com/pipelined/pipeline/engine"
)

// Rate history: the server keeps, per plugin, its event count sampled
// every Options.HistoryInterval (5 s by default) over the last
// historyLen samples (5 minutes), so the status page draws a sparkline of
// the last minutes as soon as it is opened. Samples are taken by Serve's
// ticker and by any API request that finds the last sample old enough.

// historyLen bounds the samples kept per plugin.
const historyLen = 60

// DefaultHistoryInterval is how often the rate history is sampled.
const DefaultHistoryInterval = 5 * time.Second

type history struct {
	mu     sync.Mutex
	every  time.Duration
	last   time.Time
	series map[string]*series // pipeline, kind, id
}

// series is one plugin's ring of (time, count) samples.
type series struct {
	t [historyLen + 1]time.Time
	n [historyLen + 1]int64
	k int // samples taken, ever
}

func (x *series) add(t time.Time, n int64) {
	i := x.k % len(x.t)
	x.t[i], x.n[i] = t, n
	x.k++
}

// rates are events per second between consecutive samples, oldest first.
func (x *series) rates() []float64 {
	k := min(x.k, len(x.t))
	out := make([]float64, 0, max(k-1, 0))
	for j := x.k - k + 1; j < x.k; j++ {
		a, b := (j-1)%len(x.t), j%len(x.t)
		secs := x.t[b].Sub(x.t[a]).Seconds()
		r := 0.0
		if secs > 0 && x.n[b] >= x.n[a] {
			r = float64(x.n[b]-x.n[a]) / secs
		}
		out = append(out, float64(int64(r*10+0.5))/10)
	}
	return out
}

func historyKey(pipeline, kind, id string) string { return pipeline + "\x00" + kind + "\x00" + id }

// pluginCounts calls f with each plugin's kind, id and the count its
// rate is drawn from (events out of an input, into a filter or output).
func pluginCounts(s engine.Snapshot, f func(kind, id string, n int64)) {
	for _, p := range s.Inputs {
		f("input", p.ID, p.Out)
	}
	for _, p := range s.Filters {
		f("filter", p.ID, p.In)
	}
	for _, p := range s.Outputs {
		f("output", p.ID, p.In)
	}
}

// observe samples snaps if the last sample is old enough, then gives each
// snap its plugins' rate history.
func (h *history) observe(now time.Time, snaps []snap) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.series == nil || now.Sub(h.last) >= h.every {
		h.last = now
		next := make(map[string]*series, len(h.series))
		for _, sn := range snaps {
			pluginCounts(sn.snap, func(kind, id string, n int64) {
				k := historyKey(sn.snap.Name, kind, id)
				x := h.series[k]
				if x == nil {
					x = &series{}
				}
				x.add(now, n)
				next[k] = x
			})
		}
		h.series = next
	}
	for i := range snaps {
		sn := &snaps[i]
		sn.rates = map[string][]float64{}
		sn.rateEvery = h.every
		pluginCounts(sn.snap, func(kind, id string, _ int64) {
			if x := h.series[historyKey(sn.snap.Name, kind, id)]; x != nil {
				sn.rates[kind+"\x00"+id] = x.rates()
			}
		})
	}
}

// sampleLoop samples the history until stop is closed.
func (s *Server) sampleLoop(stop <-chan struct{}) {
	t := time.NewTicker(s.hist.every)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			s.snapshots()
		}
	}
}

// failureExamplesJSON is a filter's failure examples for the API.
func failureExamplesJSON(xs []engine.FailureExample) []any {
	out := make([]any, 0, len(xs))
	for _, x := range xs {
		out = append(out, map[string]any{"time": x.Time.UTC().Format(time.RFC3339Nano), "tag": x.Tag, "event": json.RawMessage(x.Event)})
	}
	return out
}
