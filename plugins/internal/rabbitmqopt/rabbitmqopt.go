// Package rabbitmqopt holds what the rabbitmq input and output share, named
// as in Logstash's rabbitmq integration: the connection options (host, port,
// user, password, vhost, heartbeat, timeouts, retry interval), Logstash's
// TLS names (ssl, ssl_version, ssl_certificate_path and its password) beside
// the shared ssl_* group, the dialer that turns them into an AMQP 0-9-1
// connection (github.com/rabbitmq/amqp091-go), the bounded reconnect
// backoff and the message size budget.
package rabbitmqopt

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"golang.org/x/crypto/pkcs12"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/plugins/internal/tlsopt"
)

// MaxMessageBytes is the message size budget: the largest message body the
// input decodes and the output publishes. It is RabbitMQ's own default
// max_message_size (128 MiB): the input rejects a larger message (without
// requeue, so a dead-letter exchange configured on the queue keeps it) and
// counts it; the output fails such an event for good (dead letter queue).
const MaxMessageBytes = 128 << 20

// maxCertFileBytes bounds the PKCS #12 file read for ssl_certificate_path.
const maxCertFileBytes = 1 << 20

// Connection is how a rabbitmq plugin reaches the broker.
type Connection struct {
	// Host is the broker's host name or address, or a list of them; an entry
	// may carry its own port ("host:port"). Each connection attempt picks
	// the hosts in a random order and uses the first that accepts; only one
	// connection is open at a time.
	Host engine.StringList `hcl:"host"`
	// Port is the broker's port, for the hosts given without one.
	Port int `hcl:"port,optional"`
	// User is the user name to authenticate with (SASL PLAIN).
	User string `hcl:"user,optional"`
	// Password is the user's password. It is never logged nor put into
	// errors.
	Password string `hcl:"password,optional"`
	// Vhost is the virtual host to use. Apart from the default "/", vhost
	// names should not begin with a slash.
	Vhost string `hcl:"vhost,optional"`
	// ConnectRetryInterval is the wait, in seconds, before connecting again
	// after a failed attempt or a lost connection (decimals allowed). The
	// wait doubles with each failure in a row, up to eight times this value
	// (and at most a minute, unless the value itself is longer), and starts
	// over once a connection works.
	ConnectRetryInterval float64 `hcl:"connect_retry_interval,optional"`
	// ConnectionTimeout bounds connecting (TCP, TLS and the AMQP handshake),
	// in milliseconds. Unset, 30 seconds (Logstash waits without a limit).
	ConnectionTimeout *float64 `hcl:"connection_timeout,optional"`
	// Heartbeat is the heartbeat timeout asked of the broker, in seconds; 0
	// turns heartbeats off. Unset, 60 seconds, as Logstash.
	Heartbeat *float64 `hcl:"heartbeat,optional"`
	// AutomaticRecovery reconnects after a lost connection, declaring the
	// queue, exchange and binding again and subscribing again. With false,
	// the input ends with an error when its connection is lost (the output
	// always reconnects: the engine retries its batches).
	AutomaticRecovery bool `hcl:"automatic_recovery,optional"`
	// Passive declares the queue (input) or exchange (output) passively:
	// it must already exist, and is never created or changed.
	Passive bool `hcl:"passive,optional"`
	// Arguments are the queue's optional arguments, as a hash (`{
	// "x-queue-type" => "quorum" }`) or Logstash's flat array. Values that
	// read as integers are sent as integers and "true"/"false" as booleans
	// (RabbitMQ wants numbers for x-max-length, x-message-ttl…); the rest
	// as strings. The output accepts and does not use it, as Logstash.
	Arguments engine.Hash `hcl:"arguments,optional"`
}

// DocTitle names the group in the plugin reference.
func (Connection) DocTitle() string { return "Connection" }

// Defaults sets Logstash's defaults.
func (c *Connection) Defaults() {
	c.Port = 5672
	c.User = "guest"
	c.Password = "guest"
	c.Vhost = "/"
	c.ConnectRetryInterval = 1
	c.AutomaticRecovery = true
}

func fieldErr(field, format string, args ...any) error {
	return &engine.FieldError{Field: field, Err: fmt.Errorf(format, args...)}
}

// Validate checks the options.
func (c Connection) Validate() error {
	if len(c.Host) == 0 {
		return fieldErr("host", "list at least one host")
	}
	for _, h := range c.Host {
		if strings.TrimSpace(h) == "" {
			return fieldErr("host", "a host must not be empty")
		}
		if strings.Contains(h, "://") {
			return fieldErr("host", "%q: give a host name or address (and optionally :port), not a URL", h)
		}
		if _, port, err := net.SplitHostPort(h); err == nil {
			if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
				return fieldErr("host", "%q: the port must be a number from 1 to 65535", h)
			}
		}
	}
	if c.Port < 1 || c.Port > 65535 {
		return fieldErr("port", "must be from 1 to 65535")
	}
	if c.ConnectRetryInterval <= 0 {
		return fieldErr("connect_retry_interval", "must be positive (seconds)")
	}
	if c.ConnectionTimeout != nil && *c.ConnectionTimeout < 0 {
		return fieldErr("connection_timeout", "must not be negative (milliseconds)")
	}
	if c.Heartbeat != nil && (*c.Heartbeat < 0 || *c.Heartbeat > 65535) {
		return fieldErr("heartbeat", "must be from 0 to 65535 (seconds)")
	}
	for _, a := range c.Arguments {
		if a.Key == "" {
			return fieldErr("arguments", "an argument name must not be empty")
		}
	}
	return nil
}

// Addresses are the "host:port" addresses of the hosts.
func (c Connection) Addresses() []string {
	out := make([]string, 0, len(c.Host))
	for _, h := range c.Host {
		h = strings.TrimSpace(h)
		if _, _, err := net.SplitHostPort(h); err == nil {
			out = append(out, h)
			continue
		}
		out = append(out, net.JoinHostPort(strings.Trim(h, "[]"), strconv.Itoa(c.Port)))
	}
	return out
}

// QueueArguments is arguments as an AMQP table (nil when empty).
func (c Connection) QueueArguments() amqp.Table {
	if len(c.Arguments) == 0 {
		return nil
	}
	t := amqp.Table{}
	for _, a := range c.Arguments {
		switch v := a.Value; {
		case v == "true" || v == "false":
			t[a.Key] = v == "true"
		default:
			if n, err := strconv.ParseInt(v, 10, 64); err == nil {
				t[a.Key] = n
			} else {
				t[a.Key] = v
			}
		}
	}
	return t
}

// TLS is Logstash's names for the TLS options of the rabbitmq plugins. The
// ssl_* group beside it (ssl_enabled, ssl_certificate_authorities,
// ssl_certificate, ssl_key, ssl_verification_mode…) may be used instead or
// as well.
type TLS struct {
	// SSL turns TLS on (Logstash's name; ssl_enabled is the same). The
	// broker's certificate is verified against ssl_certificate_authorities
	// (or the system's CAs) and the host name dialled; Logstash does not
	// verify it: set ssl_verification_mode => "none" for that behaviour.
	SSL *bool `hcl:"ssl,optional"`
	// SSLVersion is the lowest TLS version used: "TLSv1.1", "TLSv1.2" or
	// "TLSv1.3" (newer versions are used when the broker offers them).
	SSLVersion string `hcl:"ssl_version,optional"`
	// SSLCertificatePath is a PKCS #12 (.p12) file holding the client
	// certificate and key presented to the broker; ssl_certificate_password
	// is then required. Only the legacy PKCS #12 encryptions (3DES, RC2, as
	// `openssl pkcs12 -export -legacy` writes) can be read; otherwise give
	// the certificate and key as PEM with ssl_certificate and ssl_key.
	SSLCertificatePath string `hcl:"ssl_certificate_path,optional"`
	// SSLCertificatePassword is the password of ssl_certificate_path. It is
	// never logged.
	SSLCertificatePassword string `hcl:"ssl_certificate_password,optional"`
}

// DocTitle names the group in the plugin reference.
func (TLS) DocTitle() string { return "TLS: Logstash's rabbitmq names" }

// Defaults sets Logstash's default ssl_version.
func (t *TLS) Defaults() { t.SSLVersion = "TLSv1.2" }

var tlsVersions = map[string]uint16{"TLSv1.1": tls.VersionTLS11, "TLSv1.2": tls.VersionTLS12, "TLSv1.3": tls.VersionTLS13}

// On reports whether TLS is on (ssl or ssl_enabled).
func (t TLS) On(c tlsopt.Client) bool {
	return (t.SSL != nil && *t.SSL) || c.Enabled()
}

// Validate checks the TLS options of both groups together.
func (t TLS) Validate(c tlsopt.Client) error {
	if t.SSL != nil && c.SSLEnabled != nil && *t.SSL != *c.SSLEnabled {
		return fieldErr("ssl", "ssl and ssl_enabled disagree: set one of them")
	}
	if _, ok := tlsVersions[t.SSLVersion]; !ok {
		return fieldErr("ssl_version", "unsupported value %q: want \"TLSv1.1\", \"TLSv1.2\" or \"TLSv1.3\"", t.SSLVersion)
	}
	if (t.SSLCertificatePath != "") != (t.SSLCertificatePassword != "") {
		return fieldErr("ssl_certificate_path", "ssl_certificate_path and ssl_certificate_password must be set together")
	}
	if t.SSLCertificatePath != "" && c.SSLCertificate != "" {
		return fieldErr("ssl_certificate_path", "set ssl_certificate_path (PKCS #12) or ssl_certificate and ssl_key (PEM), not both")
	}
	on := t.On(c)
	if !on && t.SSLCertificatePath != "" {
		return fieldErr("ssl_certificate_path", "is only used over TLS, and TLS is off: set ssl => true")
	}
	return c.Validate(on)
}

// Config loads the files of validated options into a client configuration,
// or returns nil when TLS is off.
func (t TLS) Config(c tlsopt.Client) (*tls.Config, error) {
	if !t.On(c) {
		return nil, nil
	}
	cfg, err := c.Config()
	if err != nil {
		return nil, err
	}
	cfg.MinVersion = tlsVersions[t.SSLVersion]
	if cfg.MaxVersion != 0 && cfg.MaxVersion < cfg.MinVersion {
		cfg.MaxVersion = cfg.MinVersion
	}
	if t.SSLCertificatePath != "" {
		cert, err := loadPKCS12(t.SSLCertificatePath, t.SSLCertificatePassword)
		if err != nil {
			return nil, &engine.FieldError{Field: "ssl_certificate_path", Err: err}
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// loadPKCS12 reads a client certificate and its key from a PKCS #12 file.
func loadPKCS12(path, password string) (tls.Certificate, error) {
	f, err := os.Open(path)
	if err != nil {
		return tls.Certificate{}, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxCertFileBytes+1))
	if err != nil {
		return tls.Certificate{}, err
	}
	if len(data) > maxCertFileBytes {
		return tls.Certificate{}, fmt.Errorf("%s: larger than %d bytes", path, maxCertFileBytes)
	}
	blocks, err := pkcs12.ToPEM(data, password)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("%s: %w (a wrong ssl_certificate_password, or a PKCS #12 encryption that cannot be read: convert it to PEM and use ssl_certificate and ssl_key)", path, err)
	}
	var certs [][]byte
	var key []byte
	for _, b := range blocks {
		switch {
		case b.Type == "CERTIFICATE":
			certs = append(certs, pem.EncodeToMemory(&pem.Block{Type: b.Type, Bytes: b.Bytes}))
		case strings.HasSuffix(b.Type, "PRIVATE KEY") && key == nil:
			key = pem.EncodeToMemory(&pem.Block{Type: b.Type, Bytes: b.Bytes})
		}
	}
	if key == nil || len(certs) == 0 {
		return tls.Certificate{}, fmt.Errorf("%s: holds no certificate with its private key", path)
	}
	// The leaf is the certificate that matches the key; the others follow
	// it as its chain.
	for i, leaf := range certs {
		chain := append([][]byte{leaf}, certs[:i]...)
		chain = append(chain, certs[i+1:]...)
		if cert, err := tls.X509KeyPair(bytes.Join(chain, nil), key); err == nil {
			return cert, nil
		}
	}
	return tls.Certificate{}, fmt.Errorf("%s: no certificate matches its private key", path)
}

// Dialer opens AMQP connections with validated options.
type Dialer struct {
	addrs     []string
	user      string
	password  string
	vhost     string
	heartbeat time.Duration
	timeout   time.Duration
	tls       *tls.Config
	name      string
}

// NewDialer builds a dialer; it reads the TLS files. name is sent to the
// broker as the connection's name (shown by its management tools).
func NewDialer(c Connection, t TLS, tc tlsopt.Client, name string) (*Dialer, error) {
	cfg, err := t.Config(tc)
	if err != nil {
		return nil, err
	}
	d := &Dialer{addrs: c.Addresses(), user: c.User, password: c.Password, vhost: c.Vhost,
		heartbeat: 60 * time.Second, timeout: 30 * time.Second, tls: cfg, name: name}
	if c.Heartbeat != nil {
		d.heartbeat = time.Duration(*c.Heartbeat * float64(time.Second))
	}
	if c.ConnectionTimeout != nil && *c.ConnectionTimeout > 0 {
		d.timeout = time.Duration(*c.ConnectionTimeout * float64(time.Millisecond))
	}
	return d, nil
}

// URL describes the connection for messages, without the password:
// amqp://user@host:port/vhost.
func (d *Dialer) URL(addr string) string {
	scheme := "amqp"
	if d.tls != nil {
		scheme = "amqps"
	}
	vhost := d.vhost
	if !strings.HasPrefix(vhost, "/") {
		vhost = "/" + vhost
	}
	return scheme + "://" + d.user + "@" + addr + vhost
}

// Dial connects to the first host (in a random order) that accepts, and
// returns the connection and the address used.
func (d *Dialer) Dial(ctx context.Context) (*amqp.Connection, string, error) {
	var errs []error
	for _, i := range rand.Perm(len(d.addrs)) {
		addr := d.addrs[i]
		conn, err := d.dialOne(ctx, addr)
		if err == nil {
			return conn, addr, nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", d.URL(addr), tlsopt.Explain(err)))
		if ctx.Err() != nil {
			break
		}
	}
	return nil, "", errors.Join(errs...)
}

func (d *Dialer) dialOne(ctx context.Context, addr string) (*amqp.Connection, error) {
	dctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	nd := net.Dialer{}
	raw, err := nd.DialContext(dctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	// The TLS and AMQP handshakes must finish in time too; amqp091 clears
	// the deadline once the connection is open.
	_ = raw.SetDeadline(time.Now().Add(d.timeout))
	var conn net.Conn = raw
	if d.tls != nil {
		tc := tls.Client(raw, tlsopt.ForHost(d.tls, addr))
		if err := tc.HandshakeContext(dctx); err != nil {
			raw.Close()
			return nil, err
		}
		conn = tc
	}
	props := amqp.NewConnectionProperties()
	if d.name != "" {
		props.SetClientConnectionName(d.name)
	}
	c, err := amqp.Open(conn, amqp.Config{
		SASL:       []amqp.Authentication{&amqp.PlainAuth{Username: d.user, Password: d.password}},
		Vhost:      d.vhost,
		Heartbeat:  d.heartbeat,
		Locale:     "en_US",
		FrameSize:  128 << 10,
		Properties: props,
	})
	if err != nil {
		conn.Close()
		if errors.Is(err, amqp.ErrCredentials) {
			return nil, fmt.Errorf("%w (check user and password)", err)
		}
		if errors.Is(err, amqp.ErrVhost) {
			return nil, fmt.Errorf("%w (vhost %q)", err, d.vhost)
		}
		return nil, err
	}
	return c, nil
}

// Backoff is the bounded wait between connection attempts: it starts at
// connect_retry_interval and doubles with each failure in a row, up to eight
// times that (at most a minute, unless the interval itself is longer).
type Backoff struct {
	base, max, cur time.Duration
}

// NewBackoff returns the backoff of connect_retry_interval (seconds).
func NewBackoff(seconds float64) *Backoff {
	base := max(time.Duration(seconds*float64(time.Second)), time.Millisecond)
	limit := min(8*base, max(base, time.Minute))
	return &Backoff{base: base, max: limit}
}

// Next returns the wait before the next attempt.
func (b *Backoff) Next() time.Duration {
	if b.cur == 0 {
		b.cur = b.base
	} else {
		b.cur = min(2*b.cur, b.max)
	}
	return b.cur
}

// Reset starts over, after a connection worked.
func (b *Backoff) Reset() { b.cur = 0 }

// Sleep waits d or until ctx is done; it reports whether it waited all of d.
func Sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
