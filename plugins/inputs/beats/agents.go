package beats

import (
	"cmp"
	"errors"
	"io"
	"net"
	"slices"
	"sync"
	"time"
)

// Agent status for the monitoring API: the connections of this input (the
// agents, Filebeat or the lumberjack output, connected to it) and those
// that went recently, under the input's object in /_node/stats as "agents".
//
// Budgets: the connections' state exists anyway (one connState each,
// bounded by max_connections); what is listed of them is bounded by
// maxListedAgents, and what is kept of closed ones by maxRecentAgents
// records kept at most recentAgentsFor, so the listing is bounded in memory
// and size whatever the connections do.
const (
	maxListedAgents = 1000
	maxRecentAgents = 256
	recentAgentsFor = 15 * time.Minute
	// maxReasonBytes bounds the text of a close reason kept.
	maxReasonBytes = 256
)

// agentRecord is what is kept of a closed connection.
type agentRecord struct {
	remote, subject     string
	agent               string // from its token; "": none
	verified            bool
	since, last, closed time.Time
	events, bytes       int64
	reason              string
}

// recentAgents is the input's record of closed connections, oldest first.
type recentAgents struct {
	mu   sync.Mutex
	list []agentRecord
}

// prune drops records beyond the budget or older than recentAgentsFor. mu
// is held.
func (r *recentAgents) prune(now time.Time) {
	drop := max(len(r.list)-maxRecentAgents, 0)
	for drop < len(r.list) && now.Sub(r.list[drop].closed) > recentAgentsFor {
		drop++
	}
	if drop > 0 {
		r.list = slices.Delete(r.list, 0, drop)
	}
}

// gone records a closed connection.
func (in *Input) gone(st *connState) {
	rec := st.record()
	rec.closed = time.Now()
	st.mu.Lock()
	reason := cmp.Or(st.reason, st.readErr)
	st.mu.Unlock()
	switch {
	case reason == nil, errors.Is(reason, io.EOF), errors.Is(reason, net.ErrClosed):
		rec.reason = "closed"
	default:
		rec.reason = reason.Error()
	}
	if len(rec.reason) > maxReasonBytes {
		rec.reason = rec.reason[:maxReasonBytes] + "…"
	}
	r := &in.recent
	r.mu.Lock()
	r.list = append(r.list, rec)
	r.prune(rec.closed)
	r.mu.Unlock()
}

// record is what st shows now.
func (st *connState) record() agentRecord {
	rec := agentRecord{remote: st.remote, since: st.since, last: time.Unix(0, st.lastSeen.Load()),
		events: st.events.Load(), bytes: st.bytes.Load()}
	if p := st.peer.Load(); p != nil && p.verified {
		rec.subject, rec.verified = p.subject, true
	}
	if a := st.agent.Load(); a != nil {
		rec.agent = *a
	}
	return rec
}

func (rec agentRecord) json() map[string]any {
	m := map[string]any{
		"remote_address":  rec.remote,
		"connected_since": rec.since.UTC(),
		"last_seen":       rec.last.UTC(),
		"events_received": rec.events,
		"bytes_received":  rec.bytes,
	}
	// The verified client certificate's subject (mTLS); null without.
	m["tls_client_subject"] = nil
	if rec.verified {
		m["tls_client_subject"] = rec.subject
	}
	// The agent's name from its token (agent_tokens); null without.
	m["agent_name"] = nil
	if rec.agent != "" {
		m["agent_name"] = rec.agent
	}
	if !rec.closed.IsZero() {
		m["disconnected_at"] = rec.closed.UTC()
		m["reason"] = rec.reason
	}
	return m
}

// Details lists the agents connected and recently disconnected, for
// /_node/stats (engine.Detailed).
func (in *Input) Details() map[string]any {
	var conns []agentRecord
	total := 0
	in.conns.Range(func(_, v any) bool { // bounded by the open connections
		total++
		if len(conns) < maxListedAgents {
			conns = append(conns, v.(*connState).record())
		}
		return true
	})
	slices.SortFunc(conns, func(a, b agentRecord) int { return a.since.Compare(b.since) })
	connected := make([]any, len(conns))
	for i, c := range conns {
		connected[i] = c.json()
	}
	r := &in.recent
	r.mu.Lock()
	r.prune(time.Now())
	recent := make([]any, len(r.list))
	for i := range r.list {
		recent[len(r.list)-1-i] = r.list[i].json() // newest first
	}
	r.mu.Unlock()
	return map[string]any{"agents": map[string]any{
		"connected_count":                      total,
		"connected":                            connected,
		"connected_listed_max":                 maxListedAgents,
		"recently_disconnected":                recent,
		"recently_disconnected_max":            maxRecentAgents,
		"recently_disconnected_window_seconds": int(recentAgentsFor.Seconds()),
	}}
}
