package beats

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
)

// Agent tokens (not a Logstash option): the lumberjack protocol has no
// authentication frame, so an agent proves who it is with a token it sends
// in every event, in agent_token_field ([fields][agent_token] by default,
// which Filebeat sends with `fields: {agent_token: ...}` and the lumberjack
// output with its token option). The input checks every event of a window
// before the window is emitted: a window with an event whose token is
// missing or unknown is refused whole — not acknowledged, its connection
// closed, so the agent keeps the data and resends it — and logged with the
// remote address and the reason, never the token. The token is removed
// from every accepted event (with its parent object when it leaves it
// empty), and the agent's name goes to [@metadata][agent_name] and, when
// agent_name_field is set, to that field.
//
// Tokens are compared in constant time: the received token's SHA-256 finds
// the candidate (timing tells nothing useful about a preimage), which is
// then compared with subtle.ConstantTimeCompare.

const (
	// maxTokenFileBytes bounds agent_tokens_path.
	maxTokenFileBytes = 4 << 20
	// minTokenBytes is the shortest token accepted: a short one could be
	// guessed.
	minTokenBytes = 16
	// maxTokenBytes bounds one token.
	maxTokenBytes = 1024
	// tokenLogEvery is the least time between two warnings about refused
	// agents; those in between are counted in the next one.
	tokenLogEvery = 10 * time.Second
)

// agentNameMeta is where an accepted event's agent name goes.
var agentNameMeta = event.MustRef("[@metadata][agent_name]")

type agentToken struct {
	token []byte
	name  string
}

// agentTokens checks the events' tokens.
type agentTokens struct {
	byHash    map[[sha256.Size]byte]agentToken
	field     event.Ref
	parent    event.Ref // field's parent object; zero when field is top-level
	nameField event.Ref // zero: none

	logMu      sync.Mutex
	lastLog    time.Time
	suppressed int
}

// badTokenError is why a window was refused. It never holds the token.
type badTokenError struct{ why string }

func (e *badTokenError) Error() string { return "bad token: " + e.why }

// validateTokens checks the token options without reading the file.
func (o *Options) validateTokens() error {
	fe := func(f, format string, args ...any) error {
		return &engine.FieldError{Field: f, Err: fmt.Errorf(format, args...)}
	}
	if _, err := event.PlainKeys(o.AgentTokenField); err != nil {
		return fe("agent_token_field", "%v", err)
	}
	if o.AgentNameField != "" {
		if _, err := event.ParseRef(o.AgentNameField); err != nil {
			return fe("agent_name_field", "%v", err)
		}
		if !o.tokensOn() {
			return fe("agent_name_field", "needs agent_tokens or agent_tokens_path")
		}
	}
	_, err := addTokens(nil, o.AgentTokens, "agent_tokens")
	return err
}

func (o *Options) tokensOn() bool { return len(o.AgentTokens) > 0 || o.AgentTokensPath != "" }

// addTokens adds the tokens of byName (agent name → token) to m (nil: only
// checks them). Errors name the agent, never the token.
func addTokens(m map[[sha256.Size]byte]agentToken, byName map[string]string, field string) (map[[sha256.Size]byte]agentToken, error) {
	names := make([]string, 0, len(byName))
	for n := range byName {
		names = append(names, n)
	}
	sort.Strings(names)
	if m == nil {
		m = map[[sha256.Size]byte]agentToken{}
	}
	for _, n := range names {
		if err := addToken(m, byName[n], n); err != nil {
			return nil, &engine.FieldError{Field: field, Err: err}
		}
	}
	return m, nil
}

func addToken(m map[[sha256.Size]byte]agentToken, token, name string) error {
	switch {
	case strings.TrimSpace(name) == "":
		return errors.New("an agent with an empty name")
	case len(token) < minTokenBytes:
		return fmt.Errorf("the token of agent %q is shorter than %d bytes", name, minTokenBytes)
	case len(token) > maxTokenBytes:
		return fmt.Errorf("the token of agent %q is longer than %d bytes", name, maxTokenBytes)
	case strings.ContainsAny(token, " \t\r\n"):
		return fmt.Errorf("the token of agent %q holds white space", name)
	}
	h := sha256.Sum256([]byte(token))
	if prev, dup := m[h]; dup {
		return fmt.Errorf("agents %q and %q have the same token", prev.name, name)
	}
	m[h] = agentToken{token: []byte(token), name: name}
	return nil
}

// readTokenFile adds the tokens of path: one "<token> <agent name>" a
// line; blank lines and lines starting with # are skipped. Errors name
// the line, never the token.
func readTokenFile(m map[[sha256.Size]byte]agentToken, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxTokenFileBytes+1))
	if err != nil {
		return err
	}
	if len(data) > maxTokenFileBytes {
		return fmt.Errorf("%s: larger than %d bytes", path, maxTokenFileBytes)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), maxTokenFileBytes)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		token, name, ok := strings.Cut(text, " ")
		if !ok {
			token, name, ok = strings.Cut(text, "\t")
		}
		if !ok {
			return fmt.Errorf("%s line %d: want \"<token> <agent name>\"", path, line)
		}
		if err := addToken(m, token, strings.TrimSpace(name)); err != nil {
			return fmt.Errorf("%s line %d: %w", path, line, err)
		}
	}
	return sc.Err()
}

// newAgentTokens loads the tokens (reading agent_tokens_path); nil when
// none are configured.
func newAgentTokens(o Options) (*agentTokens, error) {
	if !o.tokensOn() {
		return nil, nil
	}
	m, err := addTokens(nil, o.AgentTokens, "agent_tokens")
	if err != nil {
		return nil, err
	}
	if o.AgentTokensPath != "" {
		if err := readTokenFile(m, o.AgentTokensPath); err != nil {
			return nil, &engine.FieldError{Field: "agent_tokens_path", Err: err}
		}
	}
	if len(m) == 0 {
		return nil, &engine.FieldError{Field: "agent_tokens_path", Err: errors.New("no tokens: every agent would be refused")}
	}
	keys, _ := event.PlainKeys(o.AgentTokenField)
	t := &agentTokens{byHash: m, field: event.MustRef(o.AgentTokenField)}
	if len(keys) > 1 && !(len(keys) == 2 && keys[0] == event.MetadataField) {
		t.parent = event.MustRef("[" + strings.Join(keys[:len(keys)-1], "][") + "]")
	}
	if o.AgentNameField != "" {
		t.nameField = event.MustRef(o.AgentNameField)
	}
	return t, nil
}

// check removes e's token and returns its agent's name.
func (t *agentTokens) check(e *event.Event) (string, error) {
	v, ok := e.Delete(t.field)
	if ok && !t.parent.IsZero() {
		if p, isMap := e.Get(t.parent); isMap {
			if m, _ := p.(map[string]any); m != nil && len(m) == 0 {
				e.Delete(t.parent)
			}
		}
	}
	if !ok {
		return "", &badTokenError{"an event without an agent token in " + t.field.String()}
	}
	s, ok := v.(string)
	if !ok {
		return "", &badTokenError{"an event whose agent token in " + t.field.String() + " is not a string"}
	}
	bs := []byte(s)
	at, ok := t.byHash[sha256.Sum256(bs)]
	if !ok || subtle.ConstantTimeCompare(at.token, bs) != 1 {
		return "", &badTokenError{"an event with an unknown agent token in " + t.field.String()}
	}
	return at.name, nil
}

// mark sets the agent's name on an accepted event.
func (t *agentTokens) mark(e *event.Event, name string) {
	_ = e.Set(agentNameMeta, name)
	if !t.nameField.IsZero() {
		_ = e.Set(t.nameField, name)
	}
}

// logRefusal reports whether to log a refusal now, and how many were not
// logged since the last one.
func (t *agentTokens) logRefusal() (bool, int) {
	t.logMu.Lock()
	defer t.logMu.Unlock()
	now := time.Now()
	if !t.lastLog.IsZero() && now.Sub(t.lastLog) < tokenLogEvery {
		t.suppressed++
		return false, 0
	}
	n := t.suppressed
	t.lastLog, t.suppressed = now, 0
	return true, n
}
