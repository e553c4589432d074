package netserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
)

// UDP is a UDP server: one goroutine reads datagrams into a queue of
// QueueSize, and Workers goroutines turn them into events and emit them.
type UDP struct {
	// Addr is host:port to listen on.
	Addr string
	// BufferSize is the most bytes read of one datagram (longer ones are
	// truncated by the kernel).
	BufferSize int
	// ReceiveBufferBytes, if > 0, sets the socket's SO_RCVBUF.
	ReceiveBufferBytes int
	// Workers emit in parallel; QueueSize datagrams wait for them.
	Workers   int
	QueueSize int
	// BatchSize is the most events a worker emits at once.
	BatchSize int
	Log       *slog.Logger
	Name      string
	// Decode appends the events of one datagram to out.
	Decode func(payload []byte, from netip.AddrPort, out []*event.Event) []*event.Event
	// ID is the plugin id, for ListenHook.
	ID string

	received atomic.Uint64
	dropped  atomic.Uint64

	warnMu     sync.Mutex
	lastWarn   time.Time
	warnedDrop uint64
}

type datagram struct {
	data []byte
	from netip.AddrPort
}

// Received is the number of datagrams read; Dropped, of those dropped
// because the queue was full.
func (s *UDP) Received() uint64 { return s.received.Load() }

// Dropped is the number of datagrams dropped because the queue was full.
func (s *UDP) Dropped() uint64 { return s.dropped.Load() }

// Run serves until ctx is cancelled; the queued datagrams are then emitted
// before it returns. It returns an error when the address cannot be bound or
// the pipeline was aborted.
func (s *UDP) Run(ctx context.Context, emit engine.EmitFunc) error {
	pc, err := net.ListenPacket("udp", s.Addr)
	if err != nil {
		return fmt.Errorf("%s: %w", s.Name, err)
	}
	return s.Serve(ctx, pc.(*net.UDPConn), emit)
}

// Serve is Run on a socket already bound.
func (s *UDP) Serve(ctx context.Context, conn *net.UDPConn, emit engine.EmitFunc) error {
	if s.ReceiveBufferBytes > 0 {
		if err := conn.SetReadBuffer(s.ReceiveBufferBytes); err != nil {
			s.Log.Warn(s.Name+": cannot set receive_buffer_bytes", "requested", s.ReceiveBufferBytes, "error", err)
		}
	}
	s.Log.Info(s.Name+": listening", "address", conn.LocalAddr().String(), "protocol", "udp", "queue_size", s.QueueSize, "workers", s.Workers)
	if h := ListenHook.Load(); h != nil {
		(*h)(s.ID, "udp", conn.LocalAddr(), func() Stats { return Stats{Received: s.Received(), Dropped: s.Dropped()} })
	}
	queue := make(chan datagram, s.QueueSize)
	runCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	go func() {
		<-runCtx.Done()
		_ = conn.Close()
	}()
	var wg sync.WaitGroup
	for range max(s.Workers, 1) {
		wg.Go(func() {
			if err := s.safeWork(queue, emit); err != nil {
				cancel(err)
				for range queue { // unblock nothing: the reader never blocks; just drain
				}
			}
		})
	}
	buf := make([]byte, s.BufferSize)
	for {
		n, from, err := conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if runCtx.Err() != nil || errors.Is(err, net.ErrClosed) {
				break
			}
			s.Log.Warn(s.Name+": read failed", "error", err)
			continue
		}
		s.received.Add(1)
		d := datagram{data: append([]byte(nil), buf[:n]...), from: netip.AddrPortFrom(from.Addr().Unmap(), from.Port())}
		select {
		case queue <- d:
		default:
			s.dropped.Add(1)
			s.warnDropped()
		}
	}
	close(queue)
	wg.Wait()
	s.Log.Info(s.Name+": stopped listening", "address", conn.LocalAddr().String(), "received", s.received.Load(), "dropped", s.dropped.Load())
	if cause := context.Cause(runCtx); cause != nil && errors.Is(cause, ErrAbort) {
		return fmt.Errorf("%s: %w", s.Name, cause)
	}
	return nil
}

// safeWork runs work, again after a panic (in Decode: a codec or parser):
// the datagrams in hand are lost, the worker and the server go on.
func (s *UDP) safeWork(queue <-chan datagram, emit engine.EmitFunc) error {
	for {
		err := engine.Guard(s.Log, s.Name+" udp worker (datagrams in hand dropped)", func() error { return s.work(queue, emit) })
		var perr *engine.PanicError
		if !errors.As(err, &perr) {
			return err
		}
	}
}

// work emits the queued datagrams, gathering those already waiting into one
// batch.
func (s *UDP) work(queue <-chan datagram, emit engine.EmitFunc) error {
	size := max(s.BatchSize, 1)
	for d := range queue {
		events := s.Decode(d.data, d.from, make([]*event.Event, 0, 8))
	more:
		for len(events) < size {
			select {
			case d, ok := <-queue:
				if !ok {
					break more
				}
				events = s.Decode(d.data, d.from, events)
			default:
				break more
			}
		}
		if len(events) == 0 {
			continue
		}
		if err := emit(engine.Batch{Events: events}); err != nil {
			return fmt.Errorf("%w: %v", ErrAbort, err)
		}
	}
	return nil
}

// warnDropped logs drops at most once every 10 s, with the count since the
// last warning.
func (s *UDP) warnDropped() {
	s.warnMu.Lock()
	defer s.warnMu.Unlock()
	if time.Since(s.lastWarn) < 10*time.Second {
		return
	}
	total := s.dropped.Load()
	s.Log.Warn(s.Name+": queue full, dropping datagrams (UDP cannot push back; raise queue_size or workers, or use TCP)",
		"dropped_since_last_warning", total-s.warnedDrop, "dropped_total", total, "queue_size", s.QueueSize)
	s.lastWarn = time.Now()
	s.warnedDrop = total
}
