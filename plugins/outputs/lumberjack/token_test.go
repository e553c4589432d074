package lumberjack

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pipelined/pipeline/dsl"
	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/plugins/internal/testkit/inputtest"
	"github.com/pipelined/pipeline/plugins/internal/testkit/testpki"
)

const (
	rightToken = "r1ght-t0ken-of-agent-1-0123456789"
	wrongToken = "wr0ng-t0ken-nobody-has-987654321"
)

// An agent with its token: every event arrives, with the agent's name in
// [@metadata][agent_name] and agent_name_field, and without the token;
// the events in the agent's pipeline are not changed.
func TestAgentTokenAccepted(t *testing.T) {
	ca := testpki.NewCA(t, "ca")
	c := centre(t, ca, fmt.Sprintf("agent_tokens = { \"agent-1\" = %q, \"agent-2\" = %q }\nagent_name_field = \"[agent][name]\"", rightToken, wrongToken+"x"))
	cli := ca.Client("agent")
	host, port := hostPort(t, c.TCP)
	out := newOutput(t, fmt.Sprintf("hosts = [%q]\nport = %d\nssl_certificate = %q\nssl_client_certificate = %q\nssl_client_key = %q\ntoken = %q",
		host, port, ca.File, cli.CertFile, cli.KeyFile, rightToken), engine.Resources{})
	ctx := context.Background()
	var evs []*event.Event
	for i := range 100 {
		e := event.NewMessage(fmt.Sprintf("line %d", i))
		e.Set(event.MustRef("seq"), int64(i))
		if i%2 == 0 {
			e.Set(event.MustRef("[fields][env]"), "prod")
		}
		evs = append(evs, e)
	}
	if err := out.Write(ctx, evs); err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		if _, ok := e.Get(event.MustRef("[fields][agent_token]")); ok {
			t.Fatal("the output changed the pipeline's event")
		}
	}
	got := c.WaitEvents(t, 100, 20*time.Second)
	for _, e := range got {
		seq, _ := e.Get(event.MustRef("seq"))
		name, _ := e.Get(event.MustRef("[@metadata][agent_name]"))
		field, _ := e.Get(event.MustRef("[agent][name]"))
		env, hasEnv := e.Get(event.MustRef("[fields][env]"))
		_, hasFields := e.Get(event.MustRef("fields"))
		if name != "agent-1" || field != "agent-1" {
			t.Fatalf("agent name %v / %v in %v", name, field, e.Fields())
		}
		if strings.Contains(string(e.AppendJSONWithMetadata(nil)), rightToken) {
			t.Fatalf("the token was kept: %s", e.AppendJSONWithMetadata(nil))
		}
		if seq.(int64)%2 == 0 && env != "prod" || seq.(int64)%2 == 1 && (hasEnv || hasFields) {
			t.Fatalf("fields changed on the way: %v", e.Fields())
		}
	}
	if strings.Contains(c.Logs.String(), rightToken) {
		t.Fatal("the token is in the centre's log")
	}
}

// runAgent runs conf (an agent pipeline) until the test ends.
func runAgent(t *testing.T, conf string, logs *inputtest.LogBuffer) *engine.Pipeline {
	t.Helper()
	cfg, diags := dsl.LoadSource("agent.conf", []byte(conf))
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	p, diags := engine.Build(cfg.Pipelines[0], engine.Default, engine.Settings{Workers: 1, BatchSize: 50,
		RetryInitial: 20 * time.Millisecond, RetryMax: 200 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			p.Abort()
		}
	})
	return p
}

// An agent whose token the centre does not know is refused with a clear
// log line, nothing of it is acknowledged and it keeps retrying with its
// events held; once the centre knows the token (its token file fixed and
// the centre restarted) every event arrives. Neither token is ever in a
// log.
func TestWrongTokenRefusedAndBuffered(t *testing.T) {
	ca := testpki.NewCA(t, "ca")
	dir := t.TempDir()
	tokens := filepath.Join(dir, "tokens")
	if err := os.WriteFile(tokens, []byte("# token agent\n"+rightToken+" agent-1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tokOpts := fmt.Sprintf("agent_tokens_path = %q", tokens)
	c1 := centre(t, ca, tokOpts)
	// The agent ships to a fixed address that leads to the centre of the
	// moment (the restarted centre listens on another port).
	var target atomic.Value
	target.Store(c1.TCP)
	_, port := hostPort(t, forwarder(t, &target))
	cli := ca.Client("agent")
	agentLogs := &inputtest.LogBuffer{}
	const n = 300
	agent := runAgent(t, fmt.Sprintf(`
input { generator { count => %d message => "buffered line" } }
output { lumberjack { hosts => ["127.0.0.1"] port => %d ssl_certificate => %q ssl_client_certificate => %q ssl_client_key => %q token => "${AGENT_TOKEN_TEST}" timeout => 5 } }`,
		n, port, ca.File, cli.CertFile, cli.KeyFile), agentLogs)
	_ = agent
	inputtest.WaitFor(t, 20*time.Second, "the refusal to be logged", func() bool {
		return strings.Contains(c1.Logs.String(), "agent refused")
	})
	// The agent keeps retrying: several windows refused.
	inputtest.WaitFor(t, 20*time.Second, "the agent to retry", func() bool {
		return strings.Count(agentLogs.String(), "window not acknowledged") >= 3
	})
	if c1.Sink.Len() != 0 || agent.Stats().Out.Load() != 0 {
		t.Fatalf("refused agent: %d events arrived, %d acknowledged", c1.Sink.Len(), agent.Stats().Out.Load())
	}
	logs := c1.Logs.String()
	line := ""
	for _, l := range strings.Split(logs, "\n") {
		if strings.Contains(l, "agent refused") {
			line = l
			break
		}
	}
	if !strings.Contains(line, "remote=127.0.0.1:") || !strings.Contains(line, "bad token: an event with an unknown agent token in [fields][agent_token]") {
		t.Fatalf("refusal line %q", line)
	}
	if n := strings.Count(logs, "agent refused"); n > 1 {
		t.Fatalf("%d refusal lines within 10 s; want 1 (rate-limited)", n)
	}
	if err := c1.Stop(); err != nil {
		t.Fatal(err)
	}
	// The operator adds the agent's token; the centre restarts.
	if err := os.WriteFile(tokens, []byte(rightToken+" agent-1\n"+wrongToken+" agent-2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c2 := centre(t, ca, tokOpts)
	target.Store(c2.TCP)
	got := c2.WaitEvents(t, n, 30*time.Second)
	for _, e := range got {
		if name, _ := e.Get(event.MustRef("[@metadata][agent_name]")); name != "agent-2" {
			t.Fatalf("agent name %v", name)
		}
	}
	inputtest.WaitFor(t, 10*time.Second, "the agent's acknowledgements", func() bool { return agent.Stats().Out.Load() == n })
	for what, s := range map[string]string{"centre": logs + c2.Logs.String(), "agent": agentLogs.String()} {
		if strings.Contains(s, wrongToken) || strings.Contains(s, rightToken) {
			t.Fatalf("a token is in the %s's log", what)
		}
	}
}

// forwarder relays each connection it accepts to target's address, until
// the test ends.
func forwarder(t *testing.T, target *atomic.Value) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				s, err := net.DialTimeout("tcp", target.Load().(string), 5*time.Second)
				if err != nil {
					return
				}
				defer s.Close()
				go func() { _, _ = io.Copy(s, c); s.Close() }()
				_, _ = io.Copy(c, s)
			}()
		}
	}()
	return l.Addr().String()
}

func init() {
	// The agent's token comes from the environment, as in production.
	if os.Getenv("AGENT_TOKEN_TEST") == "" {
		os.Setenv("AGENT_TOKEN_TEST", wrongToken)
	}
}
