// Package netclient is the connection of an output that writes a byte stream
// to one TCP server, optionally over TLS (the tcp output, and the syslog
// output's tcp and ssl-tcp protocols).
//
// Logstash's outputs of this kind connect on the first event, write, and on a
// failure close the socket, sleep reconnect_interval and try again. Here the
// engine drives the retries: Connect dials, waiting first until
// reconnect_interval has passed since the previous failed attempt (so a
// server that is down is tried at most once per interval, as in Logstash, on
// top of the engine's backoff); Write writes all the bytes or fails with an
// error wrapping engine.ErrNotConnected, after which the engine connects
// again and retries the whole batch (at-least-once: a batch cut short by a
// broken connection may be written twice).
package netclient

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/plugins/internal/tlsopt"
)

// DialTimeout bounds one connection attempt, TLS handshake included.
const DialTimeout = 10 * time.Second

// Conn is a reconnecting client connection. It is not safe for concurrent
// use: an output's Connect, Write and Close are never concurrent.
type Conn struct {
	// Name prefixes errors ("tcp output").
	Name string
	// Addr is "host:port".
	Addr string
	// TLS, when not nil, is the client configuration (its ServerName is set
	// from Addr when empty).
	TLS *tls.Config
	// ReconnectInterval is the least time between a failed attempt (dial or
	// write) and the next dial.
	ReconnectInterval time.Duration

	conn     net.Conn
	failedAt time.Time
}

// Addr joins host and port.
func Addr(host string, port int) string { return net.JoinHostPort(host, strconv.Itoa(port)) }

// Connected reports whether a connection is open.
func (c *Conn) Connected() bool { return c.conn != nil }

// Connect closes any open connection and dials a new one, after waiting out
// the rest of the reconnect interval since the last failure.
func (c *Conn) Connect(ctx context.Context) error {
	c.Close()
	if !c.failedAt.IsZero() {
		wait := time.Until(c.failedAt.Add(c.ReconnectInterval))
		if wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			case <-t.C:
			}
		}
	}
	dctx, cancel := context.WithTimeout(ctx, DialTimeout)
	defer cancel()
	var conn net.Conn
	var err error
	if c.TLS != nil {
		d := &tls.Dialer{Config: tlsopt.ForHost(c.TLS, c.Addr)}
		conn, err = d.DialContext(dctx, "tcp", c.Addr)
	} else {
		var d net.Dialer
		conn, err = d.DialContext(dctx, "tcp", c.Addr)
	}
	if err != nil {
		c.failedAt = time.Now()
		return fmt.Errorf("%s: connect to %s: %w", c.Name, c.Addr, tlsopt.Explain(err))
	}
	c.conn, c.failedAt = conn, time.Time{}
	return nil
}

// Write writes all of p. A cancelled ctx interrupts a write blocked on a
// peer that does not read. Any failure closes the connection and wraps
// engine.ErrNotConnected.
func (c *Conn) Write(ctx context.Context, p []byte) error {
	if c.conn == nil {
		return fmt.Errorf("%s: %w", c.Name, engine.ErrNotConnected)
	}
	conn := c.conn
	stop := context.AfterFunc(ctx, func() { _ = conn.SetWriteDeadline(time.Unix(1, 0)) })
	_, err := conn.Write(p) // net.Conn.Write writes everything or fails
	if !stop() && err != nil {
		err = errors.Join(ctx.Err(), err)
	}
	_ = conn.SetWriteDeadline(time.Time{})
	if err != nil {
		c.failedAt = time.Now()
		c.Close()
		return fmt.Errorf("%s: write to %s: %w: %w", c.Name, c.Addr, engine.ErrNotConnected, err)
	}
	return nil
}

// Close closes the connection, if open.
func (c *Conn) Close() error {
	if c.conn == nil {
		return nil
	}
	err := c.conn.Close()
	c.conn = nil
	return err
}
