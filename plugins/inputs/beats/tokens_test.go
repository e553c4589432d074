package beats

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	lumberclient "github.com/elastic/go-lumber/client/v2"

	"github.com/pipelined/pipeline/dsl"
	"github.com/pipelined/pipeline/dsl/configdebug"
	"github.com/pipelined/pipeline/dsl/ir"
	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/plugins/internal/testkit/plugintest"
)

const (
	tokA = "token-of-agent-a-0123456789abcdef"
	tokB = "token-of-agent-b-fedcba9876543210"
	tokX = "token-nobody-knows-000000000000000"
)

// tokenEvents are n Filebeat events with `fields: {agent_token: tok}`
// (tok "": without); bad, when ≥ 0, is the index of one with tokX.
func tokenEvents(n int, tok string, bad int) []any {
	evs := beatEvents(0, n)
	for i, v := range evs {
		m := v.(map[string]any)
		t := tok
		if i == bad {
			t = tokX
		}
		if t != "" {
			m["fields"] = map[string]any{"agent_token": t, "env": "prod"}
		}
	}
	return evs
}

func sendWindow(addr string, evs []any) (int, error) {
	c, err := lumberclient.SyncDial(addr, lumberclient.Timeout(5*time.Second))
	if err != nil {
		return 0, err
	}
	defer c.Close()
	return c.Send(evs)
}

// Agent tokens: a window whose events all carry a known token is
// acknowledged, each event with its agent's name and without the token; a
// window with one event whose token is unknown, or missing, is refused
// whole (no ACK, the connection closed), logged once (rate-limited) with
// the remote address and the reason, counted, and listed among the agents
// with the reason; no token is ever logged.
func TestAgentTokens(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "tokens")
	if err := os.WriteFile(file, []byte("# token agent\n\n"+tokB+"\tagent-b\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	h := start(t, fmt.Sprintf("agent_tokens = { \"agent-a\" = %q }\nagent_tokens_path = %q\nagent_name_field = \"[host][agent]\"", tokA, file), nil, "")
	for _, tc := range []struct{ tok, name string }{{tokA, "agent-a"}, {tokB, "agent-b"}} {
		if n, err := sendWindow(h.addr, tokenEvents(10, tc.tok, -1)); err != nil || n != 10 {
			t.Fatalf("%s: Send = %d, %v", tc.name, n, err)
		}
		for _, e := range h.sink.Events()[h.sink.Len()-10:] {
			name, _ := e.Get(event.MustRef("[@metadata][agent_name]"))
			field, _ := e.Get(event.MustRef("[host][agent]"))
			env, _ := e.Get(event.MustRef("[fields][env]"))
			_, kept := e.Get(event.MustRef("[fields][agent_token]"))
			if name != tc.name || field != tc.name || env != "prod" || kept {
				t.Fatalf("event %v %v", e.Fields(), e.Metadata())
			}
		}
		// Each connection's close is recorded by its own goroutine: wait
		// for this one before the next connects, so that "newest first"
		// below is the order the test made, not the scheduler's.
		waitFor(t, 10*time.Second, tc.name+" listed as disconnected", func() bool {
			for _, r := range agents(t, h).Recent {
				if r.Agent != nil && *r.Agent == tc.name {
					return true
				}
			}
			return false
		})
	}
	if h.sink.Len() != 20 {
		t.Fatalf("%d events", h.sink.Len())
	}
	// One unknown token in a window, then a window without tokens.
	for _, evs := range [][]any{tokenEvents(5, tokA, 3), tokenEvents(5, "", -1)} {
		if n, err := sendWindow(h.addr, evs); err == nil || n != 0 {
			t.Fatalf("a window with a bad token: Send = %d, %v", n, err)
		}
	}
	if h.sink.Len() != 20 {
		t.Fatalf("%d events after the refused windows; want 20", h.sink.Len())
	}
	var a agentsJSON
	waitFor(t, 10*time.Second, "the refused agents listed", func() bool {
		a = agents(t, h)
		return a.ConnectedCount == 0 && len(a.Recent) == 4
	})
	reasons, names := "", ""
	for _, r := range a.Recent {
		reasons += r.Reason + "|"
		if r.Agent != nil {
			names += *r.Agent + "|"
		}
	}
	if names != "agent-b|agent-a|" { // newest first
		t.Fatalf("agent names %q", names)
	}
	if !strings.Contains(reasons, "bad token: an event with an unknown agent token in [fields][agent_token]") ||
		!strings.Contains(reasons, "bad token: an event without an agent token in [fields][agent_token]") {
		t.Fatalf("reasons %s", reasons)
	}
	if got := findInput(t, h).refusedToken.Load(); got != 2 {
		t.Fatalf("refused_bad_token %d; want 2", got)
	}
	logs := h.logs.String()
	if n := strings.Count(logs, "agent refused"); n != 1 {
		t.Fatalf("%d refusal lines; want 1 (the second within 10 s is counted, not logged):\n%s", n, logs)
	}
	if !strings.Contains(logs, "remote=127.0.0.1:") {
		t.Fatalf("no remote address in the refusal:\n%s", logs)
	}
	for _, tok := range []string{tokA, tokB, tokX} {
		if strings.Contains(logs, tok) {
			t.Fatalf("a token is in the log:\n%s", logs)
		}
	}
}

// Token options: errors name the option, the agent or the line, never
// the token.
func TestAgentTokenOptions(t *testing.T) {
	for _, tc := range []struct{ opts, field, secret string }{
		{`agent_tokens = { "a" = "short-secret" }`, "agent_tokens", "short-secret"},
		{`agent_tokens = { "" = "` + tokA + `" }`, "agent_tokens", tokA},
		{`agent_tokens = { "a" = "` + tokA + `", "b" = "` + tokA + `" }`, "agent_tokens", tokA},
		{`agent_name_field = "[agent][name]"`, "agent_name_field", ""},
		{"agent_tokens = { \"a\" = \"" + tokA + "\" }\nagent_token_field = \"[a\"", "agent_token_field", tokA},
	} {
		diags := plugintest.CheckDiags(t, ir.Input, "beats", "port = 5044\n"+tc.opts)
		if !diags.HasErrors() || !strings.Contains(diags.Error(), tc.field) {
			t.Errorf("%q: %v; want an error on %s", tc.opts, diags, tc.field)
		}
		if tc.secret != "" && strings.Contains(diags.Error(), tc.secret) {
			t.Errorf("%q: the error shows the token: %v", tc.opts, diags)
		}
	}
	dir := t.TempDir()
	for i, body := range []string{
		tokA + "\n",                         // no agent name
		tokA + " a\n" + tokA + " b\n",       // the same token twice
		"short-secret a\n",                  // too short
		strings.Repeat("x", 5<<20) + " a\n", // beyond the file budget
		"# nothing\n",                       // no tokens
	} {
		file := filepath.Join(dir, fmt.Sprint(i))
		if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		var o Options
		o.Defaults()
		o.AgentTokensPath = file
		_, err := newAgentTokens(o)
		if err == nil || fieldOf(err) != "agent_tokens_path" {
			t.Fatalf("file %d: %v; want an error on agent_tokens_path", i, err)
		}
		if strings.Contains(err.Error(), tokA) || strings.Contains(err.Error(), "short-secret") {
			t.Fatalf("file %d: the error shows the token: %v", i, err)
		}
	}
	var o Options
	o.Defaults()
	o.AgentTokensPath = filepath.Join(dir, "missing")
	if _, err := newAgentTokens(o); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a missing file: %v", err)
	}
}

// --config.debug masks the tokens of the beats input and of the
// lumberjack output, written in .conf.
func TestAgentTokensRedacted(t *testing.T) {
	src := fmt.Sprintf(`input { beats { port => 5044 agent_tokens => { "agent-a" => %q } agent_tokens_path => "/etc/tokens" } }
output { lumberjack { hosts => ["centre"] port => 5044 ssl_certificate => "ca.pem" token => %q } }`, tokA, tokB)
	cfg, diags := dsl.LoadSource("redact.conf", []byte(src))
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	text := strings.Join(configdebug.Describe(cfg.Pipelines[0]), "\n")
	if strings.Contains(text, tokA) || strings.Contains(text, tokB) || !strings.Contains(text, "agent_tokens =>") || !strings.Contains(text, "token =>") {
		t.Fatalf("config.debug shows:\n%s", text)
	}
}
