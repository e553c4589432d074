package beats

import (
	"crypto/tls"
	"encoding/json"
	"net"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	lumberclient "github.com/elastic/go-lumber/client/v2"

	"github.com/pipelined/pipeline/engine/monitor"
)

// agentJSON is one agent of the listing.
type agentJSON struct {
	Remote   string    `json:"remote_address"`
	Subject  *string   `json:"tls_client_subject"`
	Since    time.Time `json:"connected_since"`
	LastSeen time.Time `json:"last_seen"`
	Events   int64     `json:"events_received"`
	Bytes    int64     `json:"bytes_received"`
	Closed   time.Time `json:"disconnected_at"`
	Reason   string    `json:"reason"`
	Agent    *string   `json:"agent_name"`
}

type agentsJSON struct {
	ConnectedCount int         `json:"connected_count"`
	Connected      []agentJSON `json:"connected"`
	Recent         []agentJSON `json:"recently_disconnected"`
	RecentMax      int         `json:"recently_disconnected_max"`
}

// agents reads the beats input's agents from /_node/stats of a monitoring
// API serving the harness's pipeline.
func agents(t *testing.T, h *harness) agentsJSON {
	t.Helper()
	srv := monitor.New(monitor.Options{Version: "test"}, func() []monitor.Source { return []monitor.Source{{Pipeline: h.h.Pipeline}} })
	w := httptest.NewRecorder()
	srv.Handler().ServeHTTP(w, httptest.NewRequest("GET", "/_node/stats/pipelines", nil))
	var got struct {
		Pipelines map[string]struct {
			Plugins struct {
				Inputs []struct {
					Name   string
					Agents *agentsJSON
				}
			}
		}
	}
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
		t.Fatalf("%v: %s", err, w.Body.String())
	}
	for _, p := range got.Pipelines {
		for _, in := range p.Plugins.Inputs {
			if in.Name == "beats" && in.Agents != nil {
				return *in.Agents
			}
		}
	}
	t.Fatalf("no beats input with agents in %s", w.Body.String())
	return agentsJSON{}
}

// The monitoring API lists the agents connected to a beats input with mTLS:
// remote address, the verified client certificate's subject, since when,
// last seen, events and bytes received; a closed connection moves to the
// recently disconnected, and one refused for a certificate of another CA is
// there with the reason.
func TestAgentsListed(t *testing.T) {
	p := newPKI(t)
	h := start(t, p.options("required"), nil, "")
	before := time.Now().Add(-time.Second)
	cfg := &tls.Config{RootCAs: p.ca.Pool(), ServerName: "127.0.0.1", Certificates: []tls.Certificate{p.client}}
	var local string
	c, err := lumberclient.SyncDialWith(func(network, a string) (net.Conn, error) {
		conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, network, a, cfg)
		if err == nil {
			local = conn.LocalAddr().String()
		}
		return conn, err
	}, h.addr, lumberclient.Timeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for range 2 {
		if n, err := c.Send(beatEvents(0, 10)); err != nil || n != 10 {
			t.Fatalf("Send = %d, %v", n, err)
		}
	}
	a := agents(t, h)
	if a.ConnectedCount != 1 || len(a.Connected) != 1 {
		t.Fatalf("agents %+v", a)
	}
	g := a.Connected[0]
	if g.Remote != local || g.Subject == nil || !strings.Contains(*g.Subject, "CN=beat") || g.Events != 20 || g.Bytes < 200 ||
		g.Since.Before(before) || g.LastSeen.Before(g.Since) || time.Since(g.LastSeen) > time.Minute {
		t.Fatalf("agent %+v (subject %v); want %s, CN=beat, 20 events", g, g.Subject, local)
	}
	// Refused: a certificate of another CA.
	if err := p.send(h.addr, []tls.Certificate{p.otherClient}, 1); err == nil {
		t.Fatal("a client with a certificate of another CA delivered")
	}
	c.Close()
	waitFor(t, 10*time.Second, "both connections among the recently disconnected", func() bool {
		a = agents(t, h)
		return a.ConnectedCount == 0 && len(a.Recent) == 2
	})
	var mine, refused *agentJSON
	for i := range a.Recent {
		if a.Recent[i].Remote == local {
			mine = &a.Recent[i]
		} else {
			refused = &a.Recent[i]
		}
	}
	if mine == nil || mine.Events != 20 || mine.Subject == nil || mine.Closed.Before(mine.Since) || mine.Reason == "" {
		t.Fatalf("recently disconnected %+v", a.Recent)
	}
	if refused == nil || refused.Subject != nil || refused.Events != 0 || !strings.Contains(refused.Reason, "certificate") {
		t.Fatalf("the refused agent %+v", refused)
	}
}

// However many connections come and go, the recently disconnected keep
// the newest maxRecentAgents.
func TestRecentAgentsBounded(t *testing.T) {
	h := start(t, "", nil, "")
	n := maxRecentAgents + 40
	var last string
	for range n {
		c, err := net.DialTimeout("tcp", h.addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		last = c.LocalAddr().String()
		c.Close()
	}
	// Each connection's handler sees its close in its own goroutine, in no
	// set order: the empty ones must all be recorded before the last one,
	// with events, is sent, or one of them may be recorded after it. The
	// listener accepts in order, so once the last empty one is recorded and
	// none is open, all are.
	var a agentsJSON
	waitFor(t, 20*time.Second, "every empty connection recorded", func() bool {
		a = agents(t, h)
		return a.ConnectedCount == 0 && slices.ContainsFunc(a.Recent, func(r agentJSON) bool { return r.Remote == last })
	})
	// The last one, with events, to find it first.
	if err := plainSend(h.addr); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "every connection closed", func() bool {
		a = agents(t, h)
		return a.ConnectedCount == 0 && len(a.Recent) == maxRecentAgents && a.Recent[0].Events > 0
	})
	if a.RecentMax != maxRecentAgents || a.Recent[0].Subject != nil {
		t.Fatalf("agents %+v", a.Recent[0])
	}
}
