// Package netserver holds the socket plumbing shared by the tcp, udp and
// syslog inputs: a TCP server with a connection limit, an idle timeout, TLS
// and an orderly shutdown; a UDP server with a bounded queue that counts what
// it must drop; and a per-connection batcher.
//
// Back-pressure on TCP is the caller's: a handler reads from its connection
// only between calls to emit, so while the pipeline is full it stops reading,
// the kernel buffers fill and the client blocks. UDP cannot push back: when
// the queue is full a datagram is dropped, counted and reported in a
// rate-limited warning.
package netserver

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pipelined/pipeline/engine"
)

// TCP is a TCP (or TLS) server. Set the fields, then call Run.
type TCP struct {
	// Addr is host:port to listen on.
	Addr string
	// TLS, if set, wraps every connection in a TLS server.
	TLS *tls.Config
	// MaxConns is the most connections served at once; 0 means no limit. A
	// connection beyond it is closed at once.
	MaxConns int
	// Idle closes a connection that sends nothing for this long; 0 disables it.
	Idle time.Duration
	// NoKeepAlive turns TCP keep-alive probes off on accepted connections
	// (Go turns them on by default, every 15 s).
	NoKeepAlive bool
	// Log receives connection events; Name prefixes its messages.
	Log  *slog.Logger
	Name string
	// Handle serves one connection and returns when it is done (the peer
	// closed, a read failed, or the server is stopping: reads then fail). Its
	// error is logged; it never stops the server, except ErrAbort.
	Handle func(c *Conn) error
	// ID is the plugin id, for ListenHook.
	ID string
	// Pending, if set, is the input-wide budget of bytes its connections
	// hold: each connection gets its Hold (Conn.Hold) before Handle runs.
	Pending *Pending

	active   atomic.Int64
	refused  atomic.Uint64
	accepted atomic.Uint64
	mu       sync.Mutex
	conns    map[*Conn]struct{}
	closing  bool
	lastWarn time.Time
}

// ListenHook, when set (by tests, which listen on port 0), is told the id of
// the plugin and the address each server bound.
// stats reads the server's counters.
var ListenHook atomic.Pointer[func(id, network string, addr net.Addr, stats func() Stats)]

// ErrAbort, wrapped in a Handle error, stops the whole server: the pipeline
// was aborted and no further event can be emitted.
var ErrAbort = errors.New("pipeline aborted")

// Conn is one accepted connection.
type Conn struct {
	net.Conn
	// Peer is the client address (IPv4-mapped IPv6 addresses unmapped).
	Peer netip.AddrPort
	raw  *net.TCPConn
	idle time.Duration
	// Hold is the connection's share of the server's Pending budget (nil
	// without one).
	Hold *Hold
}

// Read reads from the connection, arming the idle timeout first.
func (c *Conn) Read(p []byte) (int, error) {
	if c.idle > 0 {
		_ = c.Conn.SetReadDeadline(time.Now().Add(c.idle))
	}
	n, err := c.Conn.Read(p)
	if err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
		err = fmt.Errorf("no data for %s (idle timeout): %w", c.idle, err)
	}
	return n, err
}

// IsClosed reports whether err is the ordinary end of a connection: EOF, a
// reset, or the server closing it.
func IsClosed(err error) bool {
	return err == nil || errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || errors.Is(err, io.ErrUnexpectedEOF) ||
		isReset(err)
}

func isReset(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) {
		var se *os.SyscallError
		if errors.As(op.Err, &se) {
			return se.Syscall == "read" || se.Syscall == "write"
		}
	}
	return false
}

// Stats are counters of a server: connections (TCP), datagrams (UDP).
type Stats struct {
	Active, Accepted, Refused uint64
	Received, Dropped         uint64
}

// Stats returns the server's counters.
func (s *TCP) Stats() Stats {
	return Stats{Active: uint64(s.active.Load()), Accepted: s.accepted.Load(), Refused: s.refused.Load()}
}

// Run listens and serves until ctx is cancelled, then closes the listener,
// stops every connection's reads and waits for the handlers to return (they
// may still emit what they hold). It returns an error when the address cannot
// be bound or a handler returned ErrAbort.
func (s *TCP) Run(ctx context.Context) error {
	var lc net.ListenConfig
	if s.NoKeepAlive {
		lc.KeepAlive = -1
	}
	ln, err := lc.Listen(ctx, "tcp", s.Addr)
	if err != nil {
		return fmt.Errorf("%s: %w", s.Name, err)
	}
	return s.Serve(ctx, ln)
}

// Serve is Run on a listener already bound.
func (s *TCP) Serve(ctx context.Context, ln net.Listener) error {
	s.Log.Info(s.Name+": listening", "address", ln.Addr().String(), "protocol", "tcp", "tls", s.TLS != nil)
	if h := ListenHook.Load(); h != nil {
		(*h)(s.ID, "tcp", ln.Addr(), s.Stats)
	}
	s.mu.Lock()
	s.conns = map[*Conn]struct{}{}
	s.mu.Unlock()
	runCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	go func() {
		<-runCtx.Done()
		_ = ln.Close()
	}()
	var wg sync.WaitGroup
	var tempDelay time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if runCtx.Err() != nil {
				break
			}
			// Out of file descriptors and the like: wait and retry, as net/http.
			if tempDelay == 0 {
				tempDelay = 5 * time.Millisecond
			} else if tempDelay *= 2; tempDelay > time.Second {
				tempDelay = time.Second
			}
			s.Log.Warn(s.Name+": accept failed, retrying", "error", err, "delay", tempDelay)
			select {
			case <-time.After(tempDelay):
			case <-runCtx.Done():
			}
			continue
		}
		tempDelay = 0
		if s.MaxConns > 0 && s.active.Load() >= int64(s.MaxConns) {
			s.refused.Add(1)
			_ = nc.Close()
			s.warnRefused(nc.RemoteAddr())
			continue
		}
		c := s.wrap(nc)
		if s.Pending != nil {
			c.Hold = s.Pending.Open()
			c.Hold.kill = func() { s.stopReads(c) }
		}
		s.mu.Lock()
		if s.closing {
			s.mu.Unlock()
			_ = nc.Close()
			if c.Hold != nil {
				c.Hold.Close()
			}
			continue
		}
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		s.active.Add(1)
		s.accepted.Add(1)
		wg.Go(func() {
			defer s.release(c)
			// A panicking handler fails its connection only.
			if err := engine.Guard(s.Log, s.Name+" connection handler", func() error { return s.Handle(c) }); err != nil {
				if errors.Is(err, ErrAbort) {
					cancel(err)
					return
				}
				var perr *engine.PanicError
				if errors.As(err, &perr) {
					return // logged where it was recovered
				}
				if runCtx.Err() == nil || !IsClosed(err) {
					s.Log.Warn(s.Name+": connection closed", "peer", c.Peer.String(), "error", err)
				}
				return
			}
			s.Log.Debug(s.Name+": connection closed", "peer", c.Peer.String())
		})
	}
	s.mu.Lock()
	s.closing = true
	for c := range s.conns {
		s.stopReads(c)
	}
	s.mu.Unlock()
	wg.Wait()
	s.Log.Info(s.Name+": stopped listening", "address", ln.Addr().String())
	if cause := context.Cause(runCtx); cause != nil && errors.Is(cause, ErrAbort) {
		return fmt.Errorf("%s: %w", s.Name, cause)
	}
	return nil
}

func (s *TCP) wrap(nc net.Conn) *Conn {
	c := &Conn{Conn: nc, idle: s.Idle}
	c.raw, _ = nc.(*net.TCPConn)
	if ta, ok := nc.RemoteAddr().(*net.TCPAddr); ok {
		ap := ta.AddrPort()
		c.Peer = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	if s.TLS != nil {
		c.Conn = tls.Server(nc, s.TLS)
	}
	return c
}

// stopReads makes the connection's pending and future reads fail, so that its
// handler emits what it holds and returns; closing the socket is left to the
// handler's release.
func (s *TCP) stopReads(c *Conn) {
	if c.Hold != nil {
		c.Hold.Stop()
	}
	if c.raw != nil {
		_ = c.raw.CloseRead()
		return
	}
	_ = c.Conn.SetReadDeadline(time.Unix(1, 0))
}

func (s *TCP) release(c *Conn) {
	_ = c.Close()
	if c.Hold != nil {
		c.Hold.Close()
	}
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	s.active.Add(-1)
}

// warnRefused logs refused connections at most once every 10 s.
func (s *TCP) warnRefused(addr net.Addr) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if time.Since(s.lastWarn) < 10*time.Second {
		return
	}
	s.lastWarn = time.Now()
	s.Log.Warn(s.Name+": too many connections, refusing new ones (max_connections)",
		"max_connections", s.MaxConns, "peer", addr.String(), "refused_total", s.refused.Load())
}

// Lazy returns a reader of c that blocks for the first byte before anything
// else happens: callers allocate their (large) read buffer only once data
// arrives, so an idle connection costs a goroutine and a socket, not a
// buffer.
func Lazy(c io.Reader) (io.Reader, error) {
	var first [1]byte
	for {
		n, err := c.Read(first[:])
		if n == 1 {
			return io.MultiReader(bytes.NewReader(first[:]), c), nil
		}
		if err != nil {
			return nil, err
		}
	}
}
