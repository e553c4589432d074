package monitor

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/pipelined/pipeline/engine"
)

// Budgets of one tap request.
const (
	// maxTapDuration ends a tap stream that nobody ended before.
	maxTapDuration = time.Hour
	// maxTapGlobs bounds the plugin id globs of one request.
	maxTapGlobs = 64
	// tapWriteTimeout is how long one line may take to reach the client.
	tapWriteTimeout = 30 * time.Second
	// maxTaps bounds the tap streams attached at once: each one adds
	// per-batch work to every pipeline while attached.
	maxTaps = 16
)

// tapper is a pipeline that taps can attach to (engine.Pipeline).
type tapper interface {
	Tap(engine.TapSpec) *engine.TapStream
}

// tapLine is one line of GET /_node/tap.
type tapLine struct {
	Pipeline string          `json:"pipeline"`
	Plugin   string          `json:"plugin"`
	Kind     string          `json:"kind"`
	Reason   string          `json:"reason,omitempty"`
	Event    json.RawMessage `json:"event"`
}

// serveTap streams sampled events as JSON lines: GET
// /_node/tap?outputs_of=GLOB,…&inputs_of=GLOB,…&dropped=true&interval=DURATION&limit=N
// (dropped: the events dropped, unrouted or failed, each with its reason).
// It ends after limit lines, when the client goes, or after maxTapDuration.
func (s *Server) serveTap(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	split := func(k string) []string {
		var out []string
		for _, v := range q[k] {
			for _, g := range strings.Split(v, ",") {
				if g = strings.TrimSpace(g); g != "" {
					out = append(out, g)
				}
			}
		}
		return out
	}
	spec := engine.TapSpec{OutputsOf: split("outputs_of"), InputsOf: split("inputs_of")}
	if v := q.Get("dropped"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			jsonError(w, r, http.StatusBadRequest, "dropped: true or false")
			return
		}
		spec.Dropped = b
	}
	if len(spec.OutputsOf)+len(spec.InputsOf) == 0 && !spec.Dropped {
		jsonError(w, r, http.StatusBadRequest, "give outputs_of or inputs_of (plugin id globs, comma-separated) or dropped=true")
		return
	}
	if len(spec.OutputsOf)+len(spec.InputsOf) > maxTapGlobs {
		jsonError(w, r, http.StatusBadRequest, "more than "+strconv.Itoa(maxTapGlobs)+" globs")
		return
	}
	if v := q.Get("interval"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			jsonError(w, r, http.StatusBadRequest, "interval: a Go duration such as 500ms")
			return
		}
		spec.Interval = d
	}
	limit := int64(0)
	if v := q.Get("limit"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			jsonError(w, r, http.StatusBadRequest, "limit: a number of events, 0 for no limit")
			return
		}
		limit = n
	}
	if s.taps.Add(1) > maxTaps {
		s.taps.Add(-1)
		jsonError(w, r, http.StatusTooManyRequests, "more than "+strconv.Itoa(maxTaps)+" taps attached at once")
		return
	}
	defer s.taps.Add(-1)
	ctx, cancel := context.WithTimeout(r.Context(), maxTapDuration)
	defer cancel()
	merged := make(chan engine.TapEvent)
	var streams []*engine.TapStream
	for _, src := range s.sources() {
		t, ok := src.Pipeline.(tapper)
		if !ok {
			continue
		}
		st := t.Tap(spec)
		streams = append(streams, st)
		go func() {
			for ev := range st.C {
				select {
				case merged <- ev:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	defer func() {
		for _, st := range streams {
			st.Close()
		}
	}()
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	_ = rc.Flush()
	enc := json.NewEncoder(w)
	for n := int64(0); limit == 0 || n < limit; n++ {
		select {
		case ev := <-merged:
			_ = rc.SetWriteDeadline(time.Now().Add(tapWriteTimeout))
			if err := enc.Encode(tapLine{Pipeline: ev.Pipeline, Plugin: ev.Plugin, Kind: ev.Kind, Reason: ev.Reason, Event: ev.Event}); err != nil {
				return
			}
			if err := rc.Flush(); err != nil {
				return
			}
		case <-ctx.Done():
			return
		}
	}
}

func jsonError(w http.ResponseWriter, r *http.Request, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"status": status, "path": r.URL.Path, "error": msg})
}
