// Package tcp implements the tcp output, like Logstash's: in mode "client"
// (the default) it connects to host:port and writes every event through its
// codec; in mode "server" it listens on host:port and writes every event to
// each client connected.
//
// The codec is json by default, as in Logstash (`default :codec, "json"`),
// which writes one JSON object after another with no separator between them:
// set codec => json_lines for one object per line (what a tcp input with its
// default line codec, or with json_lines, reads event by event).
//
// A Write encodes the whole batch and writes it in one go; the engine
// acknowledges the batch only once every byte was handed to the operating
// system's socket (the peer may still lose what it had not processed when it
// goes away, as with Logstash). When the connection fails the batch is
// written again on a new connection, so a receiver may see the events of a
// batch twice, never none. A server that cannot be reached is tried again at
// most every reconnect_interval seconds while the pipeline waits.
//
// In mode "server", as in Logstash, events go to whoever is connected when
// they are written, and to nobody (dropped) while no client is: use it only
// where losing events is acceptable. A batch is acknowledged once queued
// for every client; each client has its own queue and writer, so a slow one
// delays nobody: a client whose queue is over MaxClientQueueBytes, whose
// write fails, or that does not read for ServerWriteTimeout is dropped
// (clients_dropped counts those that fell behind: over the budget or the
// timeout); at most MaxServerClients are kept. TLS is not offered in server
// mode (ssl_enabled is refused there).
//
// With ssl_enabled the connection uses TLS: the server's certificate is
// checked against ssl_certificate_authorities (or the system roots) and the
// host name, unless ssl_verification_mode is "none"; ssl_certificate and
// ssl_key are presented to servers that ask for a client certificate.
package tcp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/plugins/internal/netclient"
	"github.com/pipelined/pipeline/plugins/internal/tlsopt"
)

func init() {
	engine.RegisterOutput("tcp", New, engine.WithDefaultCodec("json"))
}

// Options configures the tcp output.
type Options struct {
	// Host is the server to connect to.
	Host string `hcl:"host"`
	// Port is the server's port.
	Port int `hcl:"port"`
	// Mode is "client" (connect to host:port) or "server" (listen on
	// host:port and send to every client connected).
	Mode string `hcl:"mode,optional"`
	// ReconnectInterval is the least time, in seconds, between a failed
	// connection attempt or write and the next attempt.
	ReconnectInterval float64 `hcl:"reconnect_interval,optional"`
	// The ssl_* options: TLS to the server.
	tlsopt.Client
	tlsopt.TCPRemoved
	tlsopt.TCPOutputRemoved
}

// Defaults sets Logstash's defaults.
func (o *Options) Defaults() {
	o.Mode = "client"
	o.ReconnectInterval = 10
	o.Client.Defaults()
}

// Validate checks the options.
func (o *Options) Validate() error {
	if strings.TrimSpace(o.Host) == "" {
		return &engine.FieldError{Field: "host", Err: errors.New("must not be empty")}
	}
	if o.Port < 1 || o.Port > 65535 {
		return &engine.FieldError{Field: "port", Err: errors.New("must be between 1 and 65535")}
	}
	switch o.Mode {
	case "client":
	case "server":
		if o.Client.Enabled() {
			return &engine.FieldError{Field: "ssl_enabled", Err: errors.New(`TLS is not supported in mode "server"`)}
		}
	default:
		return &engine.FieldError{Field: "mode", Err: fmt.Errorf("unsupported value %q: want \"client\" or \"server\"", o.Mode)}
	}
	if o.ReconnectInterval < 0 {
		return &engine.FieldError{Field: "reconnect_interval", Err: errors.New("must not be negative")}
	}
	return o.Client.Validate(o.Client.Enabled())
}

// Output is the tcp output.
type Output struct {
	conn netclient.Conn
	srv  *server // mode "server"
	log  *slog.Logger
	buf  bytes.Buffer
	enc  engine.Encoder
}

var _ engine.Output = (*Output)(nil)

// New builds a tcp output. r.Codec must be set; the engine always passes one.
func New(o Options, r engine.Resources) (*Output, error) {
	if r.Codec == nil {
		return nil, errors.New("tcp: no codec")
	}
	out := &Output{
		conn: netclient.Conn{
			Name:              "tcp output",
			Addr:              netclient.Addr(o.Host, o.Port),
			ReconnectInterval: time.Duration(o.ReconnectInterval * float64(time.Second)),
		},
		log: r.Logger,
	}
	if o.Client.Enabled() {
		cfg, err := o.Client.Config()
		if err != nil {
			return nil, err
		}
		out.conn.TLS = cfg
	}
	if out.log == nil {
		out.log = slog.New(slog.DiscardHandler)
	}
	if o.Mode == "server" {
		out.srv = &server{addr: out.conn.Addr, log: out.log}
	}
	out.enc = r.Codec.NewEncoder(&out.buf)
	return out, nil
}

// Connect dials the server.
func (o *Output) Connect(ctx context.Context) error {
	if o.srv != nil {
		return o.srv.listen(ctx)
	}
	if err := o.conn.Connect(ctx); err != nil {
		return err
	}
	o.log.Info("connected", "address", o.conn.Addr)
	return nil
}

// maxKeptBuffer is the largest encoding buffer kept between Writes.
const maxKeptBuffer = 4 << 20

// Write encodes the batch and writes it; nil only once all of it was written.
func (o *Output) Write(ctx context.Context, events []*event.Event) error {
	if o.srv == nil && !o.conn.Connected() {
		return fmt.Errorf("tcp output: %w", engine.ErrNotConnected)
	}
	o.buf.Reset()
	for _, e := range events {
		if err := o.enc.Encode(e); err != nil {
			return engine.Permanent(fmt.Errorf("tcp output: encode: %w", err))
		}
	}
	var err error
	if o.srv != nil {
		err = o.srv.write(ctx, o.buf.Bytes())
	} else {
		err = o.conn.Write(ctx, o.buf.Bytes())
	}
	if o.buf.Cap() > maxKeptBuffer {
		o.buf = bytes.Buffer{}
	}
	return err
}

// Counters reports, in mode "server", the clients dropped for falling
// behind (their queue over MaxClientQueueBytes, or a write not taken for
// ServerWriteTimeout).
func (o *Output) Counters() []engine.Counter {
	if o.srv == nil {
		return nil
	}
	return []engine.Counter{{Name: "clients_dropped",
		Help:  "Clients of a tcp output in server mode dropped because they fell behind (their queue over its budget, or a write not taken within the write timeout).",
		Value: o.srv.dropped.Load()}}
}

// Close closes the connection.
func (o *Output) Close(context.Context) error {
	if o.srv != nil {
		return o.srv.close()
	}
	return o.conn.Close()
}
