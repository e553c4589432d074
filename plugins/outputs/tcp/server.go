package tcp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/pipelined/pipeline/engine"
)

// MaxServerClients bounds the connections server mode keeps; more are
// refused (closed at once).
const MaxServerClients = 1024

// ServerWriteTimeout is how long server mode waits for one client to take a
// batch; a client that does not read for that long is dropped, so that one
// stalled reader does not hold the pipeline.
const ServerWriteTimeout = 30 * time.Second

// server is mode "server": it listens on host:port and writes every batch
// to every connected client, as Logstash does. With no client connected,
// a batch is written to nobody and still acknowledged (Logstash drops it
// the same way).
type server struct {
	addr string
	log  *slog.Logger

	ln      net.Listener
	mu      sync.Mutex
	clients map[net.Conn]bool
	done    chan struct{}
}

// listen binds the address once and starts accepting.
func (s *server) listen(ctx context.Context) error {
	if s.ln != nil {
		return nil
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", s.addr)
	if err != nil {
		return fmt.Errorf("tcp output: listen on %s: %w", s.addr, err)
	}
	s.ln, s.clients, s.done = ln, map[net.Conn]bool{}, make(chan struct{})
	s.log.Info("tcp output listening", "address", ln.Addr().String())
	go s.accept(ln)
	return nil
}

func (s *server) accept(ln net.Listener) {
	defer close(s.done)
	defer func() { _ = engine.Recovered(recover(), s.log, "tcp output accept loop") }()
	var delay time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors and the like: wait and retry, as
			// netserver and net/http do, rather than never accept again.
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			s.log.Warn("tcp output: accept failed, retrying", "error", err, "delay", delay)
			time.Sleep(delay)
			continue
		}
		delay = 0
		s.mu.Lock()
		if len(s.clients) >= MaxServerClients {
			s.mu.Unlock()
			s.log.Warn("tcp output: too many clients, refusing one", "limit", MaxServerClients, "client", c.RemoteAddr().String())
			c.Close()
			continue
		}
		s.clients[c] = true
		s.mu.Unlock()
		s.log.Debug("tcp output: client connected", "client", c.RemoteAddr().String())
	}
}

// write sends p to every client; a client that fails or stalls is dropped.
func (s *server) write(ctx context.Context, p []byte) error {
	s.mu.Lock()
	conns := make([]net.Conn, 0, len(s.clients))
	for c := range s.clients {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		_ = c.SetWriteDeadline(time.Now().Add(ServerWriteTimeout))
		stop := context.AfterFunc(ctx, func() { _ = c.SetWriteDeadline(time.Unix(1, 0)) })
		_, err := c.Write(p)
		stop()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			s.log.Warn("tcp output: client write failed, dropping the client", "client", c.RemoteAddr().String(), "err", err)
			s.drop(c)
		}
	}
	return nil
}

func (s *server) drop(c net.Conn) {
	s.mu.Lock()
	delete(s.clients, c)
	s.mu.Unlock()
	c.Close()
}

// close stops listening and closes every client.
func (s *server) close() error {
	if s.ln == nil {
		return nil
	}
	err := s.ln.Close()
	<-s.done
	s.mu.Lock()
	for c := range s.clients {
		c.Close()
	}
	clear(s.clients)
	s.mu.Unlock()
	s.ln = nil
	return err
}
