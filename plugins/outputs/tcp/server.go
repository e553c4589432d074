package tcp

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pipelined/pipeline/engine"
)

// MaxServerClients bounds the connections server mode keeps; more are
// refused (closed at once).
const MaxServerClients = 1024

// ServerWriteTimeout is how long server mode waits for one client to take
// one write; a client that does not read for that long is dropped.
const ServerWriteTimeout = 30 * time.Second

// Each client has its own queue and writer, so that one slow reader never
// delays the others or the pipeline: a batch is queued for every client at
// once. MaxClientQueueBytes bounds what waits for one client (and
// maxClientQueueBatches the batches); a client that falls that far behind
// is dropped (disconnected), counted and logged. A batch larger than the
// budget is still queued for a client that has nothing waiting.
const (
	MaxClientQueueBytes   = 16 << 20
	maxClientQueueBatches = 256
	// closeFlushTimeout bounds how long close lets the writers send what
	// is queued before closing the connections.
	closeFlushTimeout = 5 * time.Second
)

// server is mode "server": it listens on host:port and writes every batch
// to every connected client, as Logstash does. With no client connected,
// a batch is written to nobody and still acknowledged (Logstash drops it
// the same way).
type server struct {
	addr string
	log  *slog.Logger

	ln      net.Listener
	mu      sync.Mutex
	clients map[*client]bool // mu; a client's queue is closed under mu when it leaves
	done    chan struct{}
	writers sync.WaitGroup
	dropped atomic.Int64 // clients dropped for falling behind (queue over budget, or write timeout)

	// queueBytes and writeTimeout, if set (tests), replace
	// MaxClientQueueBytes and ServerWriteTimeout.
	queueBytes   int64
	writeTimeout time.Duration
}

// client is one connected client and what waits to be written to it.
type client struct {
	conn   net.Conn
	queue  chan []byte
	queued atomic.Int64 // bytes in queue
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
	s.ln, s.clients, s.done = ln, map[*client]bool{}, make(chan struct{})
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
		cl := &client{conn: c, queue: make(chan []byte, maxClientQueueBatches)}
		s.clients[cl] = true
		s.writers.Add(1)
		s.mu.Unlock()
		go s.writer(cl)
		s.log.Debug("tcp output: client connected", "client", c.RemoteAddr().String())
	}
}

// writer writes what is queued for cl until its queue is closed, then
// closes the connection. A failed write drops the client.
func (s *server) writer(cl *client) {
	defer s.writers.Done()
	defer cl.conn.Close()
	defer func() {
		if perr := engine.Recovered(recover(), s.log, "tcp output client writer"); perr != nil {
			s.leave(cl)
		}
	}()
	for p := range cl.queue {
		cl.queued.Add(-int64(len(p)))
		_ = cl.conn.SetWriteDeadline(time.Now().Add(cmp.Or(s.writeTimeout, ServerWriteTimeout)))
		if _, err := cl.conn.Write(p); err != nil {
			if !s.leave(cl) { // closed by close or a drop
				return
			}
			if errors.Is(err, os.ErrDeadlineExceeded) {
				// It did not read for the write timeout: it fell behind as
				// one over its queue's budget does, and is counted so.
				n := s.dropped.Add(1)
				s.log.Warn("tcp output: client does not read, dropping it", "client", cl.conn.RemoteAddr().String(),
					"timeout", cmp.Or(s.writeTimeout, ServerWriteTimeout), "clients_dropped", n)
				return
			}
			s.log.Warn("tcp output: client write failed, dropping the client", "client", cl.conn.RemoteAddr().String(), "err", err)
			return
		}
	}
}

// leave removes cl and closes its queue, once; false if it had left.
func (s *server) leave(cl *client) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.clients[cl] {
		return false
	}
	delete(s.clients, cl)
	close(cl.queue)
	return true
}

// write queues p for every client and returns at once; a client whose
// queue is over its budget is dropped.
func (s *server) write(_ context.Context, p []byte) error {
	var behind []*client
	budget := cmp.Or(s.queueBytes, MaxClientQueueBytes)
	s.mu.Lock()
	if len(s.clients) > 0 {
		p = bytes.Clone(p) // the caller reuses its buffer; the clients share this copy
	}
	for cl := range s.clients {
		n := int64(len(p))
		if q := cl.queued.Add(n); q > n && q > budget {
			cl.queued.Add(-n)
			behind = append(behind, cl)
			continue
		}
		select {
		case cl.queue <- p:
		default:
			cl.queued.Add(-n)
			behind = append(behind, cl)
		}
	}
	s.mu.Unlock()
	for _, cl := range behind {
		if s.leave(cl) {
			n := s.dropped.Add(1)
			s.log.Warn("tcp output: client falls behind, dropping it", "client", cl.conn.RemoteAddr().String(),
				"queued_bytes", cl.queued.Load(), "budget_bytes", budget, "clients_dropped", n)
			cl.conn.Close() // ends a write the writer may be blocked in
		}
	}
	return nil
}

// close stops listening, lets the writers send what is queued (bounded by
// closeFlushTimeout) and closes every client.
func (s *server) close() error {
	if s.ln == nil {
		return nil
	}
	err := s.ln.Close()
	<-s.done
	s.mu.Lock()
	var open []*client
	for cl := range s.clients {
		close(cl.queue)
		open = append(open, cl)
	}
	clear(s.clients)
	s.mu.Unlock()
	flushed := make(chan struct{})
	go func() { s.writers.Wait(); close(flushed) }()
	select {
	case <-flushed:
	case <-time.After(closeFlushTimeout):
		for _, cl := range open {
			cl.conn.Close()
		}
		<-flushed
	}
	s.ln = nil
	return err
}
