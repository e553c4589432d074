// Package natsopt holds what the nats input and output share: the
// connection options (servers, authentication, TLS) as an option group,
// the JetStream stream options, and the dialer built from them on
// github.com/nats-io/nats.go.
//
// Secrets (password, token, the nkey seed and the credentials file's
// contents) are never logged nor put into errors: server URLs are shown
// with their user information redacted.
package natsopt

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/plugins/internal/tlsopt"
)

// MaxMessageBytes is the size budget of one message: NATS's own hard limit
// of max_payload (64 MiB). A server's smaller max_payload (1 MiB by
// default) applies first; the output reads it from the server.
const MaxMessageBytes = 64 << 20

// DefaultServer is the server dialled when servers is not set.
const DefaultServer = "nats://127.0.0.1:4222"

func fieldErr(field, format string, args ...any) error {
	return &engine.FieldError{Field: field, Err: fmt.Errorf(format, args...)}
}

// Connection is the options that say where and how to connect.
type Connection struct {
	// Servers are the URLs of the NATS servers (nats://host:port, or
	// tls://host:port for TLS); the client connects to one of them and
	// fails over to the others, and to those the cluster announces.
	Servers engine.StringList `hcl:"servers,optional"`
	// User is the user name to authenticate with, together with password.
	User string `hcl:"user,optional"`
	// Password is the user's password. It is never logged nor put into
	// errors.
	Password string `hcl:"password,optional"`
	// Token is an authentication token. It is never logged nor put into
	// errors.
	Token string `hcl:"token,optional"`
	// NKeySeed is the path of a file holding an NKey seed (SU...) to
	// authenticate with.
	NKeySeed string `hcl:"nkey_seed,optional"`
	// Credentials is the path of a NATS credentials file (.creds: a user JWT
	// and its NKey seed), as made by nsc.
	Credentials string `hcl:"credentials,optional"`
	// ConnectionName is the name the connection shows in the server's
	// monitoring; unset, "pipeline" and the plugin's id.
	ConnectionName string `hcl:"connection_name,optional"`
	// ConnectTimeout bounds each connection attempt.
	ConnectTimeout engine.Duration `hcl:"connect_timeout,optional"`
	// ReconnectWait is the wait between reconnection attempts after a
	// connection is lost; the client reconnects for as long as the plugin
	// runs.
	ReconnectWait engine.Duration `hcl:"reconnect_wait,optional"`
	// JetStream publishes to and consumes from JetStream streams, with
	// acknowledgements (at-least-once; true), or uses core NATS
	// publish/subscribe (false): at-most-once, what is in flight when a
	// connection, a server or the pipeline stops is lost.
	JetStream bool `hcl:"jetstream,optional"`
}

// DocTitle names the group in the plugin reference.
func (Connection) DocTitle() string { return "Connection and authentication" }

// Defaults sets the defaults.
func (c *Connection) Defaults() {
	c.Servers = engine.StringList{DefaultServer}
	c.ConnectTimeout = engine.Duration(5 * time.Second)
	c.ReconnectWait = engine.Duration(2 * time.Second)
	c.JetStream = true
}

// TLSOn reports whether TLS is on: ssl_enabled, or a tls:// server.
func (c Connection) TLSOn(tc tlsopt.Client) bool {
	if tc.SSLEnabled != nil {
		return *tc.SSLEnabled
	}
	for _, s := range c.Servers {
		if strings.HasPrefix(strings.ToLower(s), "tls://") {
			return true
		}
	}
	return false
}

// Validate checks the options, and the TLS options tc, without reading
// files.
func (c Connection) Validate(tc tlsopt.Client) error {
	if len(c.Servers) == 0 {
		return fieldErr("servers", "list at least one server")
	}
	for _, s := range c.Servers {
		u, err := url.Parse(s)
		if err != nil || u.Host == "" {
			return fieldErr("servers", "%q is not a URL such as nats://host:4222", Redact(s))
		}
		switch strings.ToLower(u.Scheme) {
		case "nats", "tls":
		default:
			return fieldErr("servers", "%s: unsupported scheme %q: use nats:// or tls://", Redact(s), u.Scheme)
		}
	}
	if (c.User == "") != (c.Password == "") {
		return fieldErr("user", "user and password must be set together")
	}
	n := 0
	for _, set := range []bool{c.User != "", c.Token != "", c.NKeySeed != "", c.Credentials != ""} {
		if set {
			n++
		}
	}
	if n > 1 {
		return fieldErr("credentials", "set one of user/password, token, nkey_seed and credentials")
	}
	if c.ConnectTimeout <= 0 {
		return fieldErr("connect_timeout", "must be positive")
	}
	if c.ReconnectWait <= 0 {
		return fieldErr("reconnect_wait", "must be positive")
	}
	return tc.Validate(c.TLSOn(tc))
}

// Redact returns a server URL with its user information hidden.
func Redact(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		if i := strings.LastIndex(s, "@"); i >= 0 {
			return "[redacted]@" + s[i+1:]
		}
		return s
	}
	if u.User != nil {
		u.User = url.User("[redacted]")
	}
	return u.String()
}

// Dialer opens connections with validated options.
type Dialer struct {
	c    Connection
	name string
	opts []nats.Option
	log  *slog.Logger
}

// NewDialer reads the TLS and key files of validated options.
func NewDialer(c Connection, tc tlsopt.Client, name string, log *slog.Logger) (*Dialer, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if c.ConnectionName != "" {
		name = c.ConnectionName
	}
	d := &Dialer{c: c, name: name, log: log}
	d.opts = []nats.Option{
		nats.Name(name),
		nats.Timeout(c.ConnectTimeout.D()),
		nats.ReconnectWait(c.ReconnectWait.D()),
		nats.MaxReconnects(-1),
		nats.DisconnectErrHandler(func(nc *nats.Conn, err error) {
			if err != nil {
				log.Warn("nats: connection lost; reconnecting", "err", scrub(err, c))
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			log.Info("nats: reconnected", "url", nc.ConnectedUrlRedacted())
		}),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			log.Warn("nats: asynchronous error", "err", scrub(err, c))
		}),
	}
	switch {
	case c.User != "":
		d.opts = append(d.opts, nats.UserInfo(c.User, c.Password))
	case c.Token != "":
		d.opts = append(d.opts, nats.Token(c.Token))
	case c.NKeySeed != "":
		o, err := nats.NkeyOptionFromSeed(c.NKeySeed)
		if err != nil {
			// The error may quote the file; never its contents.
			return nil, fieldErr("nkey_seed", "%s: cannot read an NKey seed from it", c.NKeySeed)
		}
		d.opts = append(d.opts, o)
	case c.Credentials != "":
		if _, err := os.Stat(c.Credentials); err != nil {
			return nil, &engine.FieldError{Field: "credentials", Err: err}
		}
		d.opts = append(d.opts, nats.UserCredentials(c.Credentials))
	}
	if c.TLSOn(tc) {
		cfg, err := tc.Config()
		if err != nil {
			return nil, err
		}
		d.opts = append(d.opts, nats.Secure(cfg))
	}
	return d, nil
}

// Setup is what the nats input's and output's New do first: it requires a
// codec, defaults a missing logger and reads the TLS and key files into a
// Dialer named "pipeline <role> <plugin id>" (unless connection_name is set).
func Setup(c Connection, tc tlsopt.Client, role string, r engine.Resources) (*Dialer, *slog.Logger, error) {
	if r.Codec == nil {
		return nil, nil, errors.New("nats: no codec")
	}
	log := r.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	d, err := NewDialer(c, tc, "pipeline "+role+" "+r.ID, log)
	if err != nil {
		return nil, nil, err
	}
	return d, log, nil
}

// Servers returns the server URLs, redacted, for messages.
func (d *Dialer) Servers() string {
	out := make([]string, len(d.c.Servers))
	for i, s := range d.c.Servers {
		out[i] = Redact(s)
	}
	return strings.Join(out, ",")
}

// Dial connects to one of the servers. The connection reconnects on its own
// until closed.
func (d *Dialer) Dial(ctx context.Context, extra ...nats.Option) (*nats.Conn, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	nc, err := nats.Connect(strings.Join(d.c.Servers, ","), append(append([]nats.Option(nil), d.opts...), extra...)...)
	if err != nil {
		return nil, fmt.Errorf("nats: connect to %s: %w", d.Servers(), scrub(err, d.c))
	}
	return nc, nil
}

// scrub removes secrets from an error's text, should a library put one in.
// Every error of the library that reaches a message goes through it: Dial's,
// and the asynchronous ones the handlers log.
func scrub(err error, c Connection) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	clean := msg
	for _, s := range []string{c.Password, c.Token} {
		if s != "" {
			clean = strings.ReplaceAll(clean, s, "[redacted]")
		}
	}
	for _, s := range c.Servers {
		clean = strings.ReplaceAll(clean, s, Redact(s))
	}
	if clean == msg {
		return err
	}
	return errors.New(clean)
}

// Stream is the options of the JetStream stream a plugin uses, and creates
// when subjects are given.
type Stream struct {
	// Stream is the JetStream stream's name. The input consumes from it
	// (required with jetstream => true); the output creates it when
	// subjects is set, and otherwise publishes to whatever stream captures
	// the subject.
	Stream string `hcl:"stream,optional"`
	// Subjects, when set, create the stream (if it does not exist) capturing
	// these subjects (wildcards * and > allowed). An existing stream is
	// left as it is.
	Subjects []string `hcl:"subjects,optional"`
	// Replicas is the number of copies of the stream a JetStream cluster
	// keeps (1 to 5), for a created stream.
	Replicas int `hcl:"replicas,optional"`
	// MaxAge is the oldest message a created stream keeps; 0 keeps messages
	// until other limits remove them.
	MaxAge engine.Duration `hcl:"max_age,optional"`
	// Storage is "file" (messages survive a server restart) or "memory",
	// for a created stream.
	Storage string `hcl:"storage,optional"`
}

// DocTitle names the group in the plugin reference.
func (Stream) DocTitle() string { return "JetStream stream" }

// Defaults sets the defaults.
func (s *Stream) Defaults() {
	s.Replicas = 1
	s.Storage = "file"
}

// ValidName reports whether s is a valid stream or consumer name.
func ValidName(s string) bool {
	return s != "" && !strings.ContainsAny(s, " \t\r\n.*>/\\")
}

// Validate checks the options.
func (s Stream) Validate() error {
	if s.Stream != "" && !ValidName(s.Stream) {
		return fieldErr("stream", "%q is not a valid stream name (no spaces, '.', '*', '>', '/' or '\\')", s.Stream)
	}
	if len(s.Subjects) > 0 && s.Stream == "" {
		return fieldErr("subjects", "creates the stream named by stream, which is not set")
	}
	for _, sub := range s.Subjects {
		if err := CheckSubject(sub, true); err != nil {
			return fieldErr("subjects", "%v", err)
		}
	}
	if s.Replicas < 1 || s.Replicas > 5 {
		return fieldErr("replicas", "must be from 1 to 5")
	}
	if s.MaxAge < 0 {
		return fieldErr("max_age", "must not be negative")
	}
	if s.Storage != "file" && s.Storage != "memory" {
		return fieldErr("storage", "unsupported value %q: want \"file\" or \"memory\"", s.Storage)
	}
	return nil
}

// CheckSubject checks a subject: dot-separated non-empty tokens without
// white space; * and > only as whole tokens (> last) when wildcards is true.
func CheckSubject(s string, wildcards bool) error {
	if s == "" {
		return errors.New("empty subject")
	}
	tokens := strings.Split(s, ".")
	for i, t := range tokens {
		switch {
		case t == "":
			return fmt.Errorf("subject %q has an empty token", s)
		case strings.ContainsAny(t, " \t\r\n"):
			return fmt.Errorf("subject %q holds white space", s)
		case t == "*" || t == ">":
			if !wildcards {
				return fmt.Errorf("subject %q holds a wildcard, which a message cannot be published to", s)
			}
			if t == ">" && i != len(tokens)-1 {
				return fmt.Errorf("subject %q: '>' must be the last token", s)
			}
		case strings.ContainsAny(t, "*>") && wildcards:
			return fmt.Errorf("subject %q: wildcards must be whole tokens", s)
		}
	}
	return nil
}

// Ensure creates the stream when subjects are set and it does not exist yet.
func (s Stream) Ensure(ctx context.Context, js jetstream.JetStream) error {
	if len(s.Subjects) == 0 {
		return nil
	}
	storage := jetstream.FileStorage
	if s.Storage == "memory" {
		storage = jetstream.MemoryStorage
	}
	_, err := js.CreateStream(ctx, jetstream.StreamConfig{
		Name:     s.Stream,
		Subjects: s.Subjects,
		Replicas: s.Replicas,
		MaxAge:   s.MaxAge.D(),
		Storage:  storage,
	})
	if err == nil || errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
		return nil
	}
	return fmt.Errorf("nats: create stream %q: %w", s.Stream, err)
}
