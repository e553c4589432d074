package beats

import (
	"bufio"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/klauspost/compress/zlib"

	"github.com/pipelined/pipeline/engine"
)

// The connection stack, bottom to top:
//
//	rawConn     the TCP connection: counts against max_connections, applies
//	            client_inactivity_timeout (only while no window is in flight)
//	tls.Conn    when ssl_enabled
//	guardConn   checks every frame against the limits before go-lumber reads
//	            it, and inflates compressed frames itself, bounded
//	go-lumber   reads windows, sends ACKs and keepalives
//
// go-lumber v0.2.0 checks the window size and frame types, but allocates a
// JSON frame's announced length (up to 4 GiB) before reading it and inflates
// compressed frames without bound; guardConn closes those holes.

// connState is what the input knows of one connection.
type connState struct {
	in     *Input
	remote string
	peer   atomic.Pointer[peer]   // the TLS client, with enrich ssl_peer_metadata
	agent  atomic.Pointer[string] // the agent's name, from its token (agent_tokens)
	top    net.Conn               // the connection go-lumber reads: closing it ends the handler

	// For the agents' listing (agents.go): when it connected, when bytes
	// last arrived (unix nanoseconds), the events and the bytes received.
	since    time.Time
	lastSeen atomic.Int64
	events   atomic.Int64
	bytes    atomic.Int64

	mu       sync.Mutex
	inFlight int       // windows in the pipeline
	lastDone time.Time // when the last one was acknowledged
	reason   error     // why the connection was closed, when we closed it
	readErr  error     // the first read error
	dead     bool      // closed: its windows are no longer emitted
	// windows read (or being read) and not yet claimed by handle, oldest
	// first: their bytes count against max_pending_bytes until released.
	windows []*windowBytes
	// retained is the largest data frame this connection sent: go-lumber
	// keeps a read buffer of that size for the connection's life, so it
	// counts against max_pending_bytes until the connection closes (else
	// idle connections that each sent one large event would hold memory no
	// budget sees).
	retained int64

	closeOnce sync.Once
}

// windowBytes is the JSON bytes of one window, counted against the input's
// max_pending_bytes from the moment they are read until the window is
// acknowledged, dropped or its connection closed.
type windowBytes struct {
	st       *connState // its mu guards n and released
	n        int64
	released bool
}

// open starts counting a new window.
func (s *connState) open() *windowBytes {
	w := &windowBytes{st: s}
	s.mu.Lock()
	s.windows = append(s.windows, w)
	s.mu.Unlock()
	return w
}

// add counts a data frame of n more bytes of w, and the growth of the
// connection's retained read buffer, and reports the input's pending total.
func (s *connState) add(w *windowBytes, n int64) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dead {
		return s.in.pending.Load() // releaseAll ran, or runs: nothing to add
	}
	if n > s.retained {
		s.in.pending.Add(n - s.retained)
		s.retained = n
	}
	if w.released {
		return s.in.pending.Load()
	}
	w.n += n
	return s.in.pending.Add(n)
}

// claim takes the oldest window read: the one go-lumber hands over now
// (windows of a connection are handed over in order). It returns nil when
// the connection's close released it already.
func (s *connState) claim() *windowBytes {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.windows) == 0 {
		return nil
	}
	w := s.windows[0]
	s.windows = s.windows[1:]
	return w
}

// releaseAll releases the windows never claimed and the retained buffer:
// the connection closed.
func (s *connState) releaseAll() {
	s.mu.Lock()
	ws := s.windows
	s.windows = nil
	s.dead = true
	s.in.pending.Add(-s.retained)
	s.retained = 0
	s.mu.Unlock()
	for _, w := range ws {
		s.in.release(w)
	}
}

// release stops counting w's bytes (nil: nothing to release).
func (in *Input) release(w *windowBytes) {
	if w == nil {
		return
	}
	w.st.mu.Lock()
	defer w.st.mu.Unlock()
	if !w.released {
		w.released = true
		in.pending.Add(-w.n)
	}
}

func (s *connState) begin() {
	s.mu.Lock()
	s.inFlight++
	s.mu.Unlock()
}

func (s *connState) end() {
	s.mu.Lock()
	s.inFlight--
	s.lastDone = time.Now()
	s.mu.Unlock()
}

// busyUntil reports whether the idle timeout must not fire now, and until when
// it must not.
func (s *connState) busyUntil(idle time.Duration) (bool, time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inFlight > 0 {
		return true, time.Now().Add(idle)
	}
	until := s.lastDone.Add(idle)
	return time.Now().Before(until), until
}

// alive reports whether the connection is still open.
func (s *connState) alive() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.dead
}

// kill closes the connection for reason.
func (s *connState) kill(reason error) {
	s.mu.Lock()
	s.dead = true
	if s.reason == nil {
		s.reason = reason
	}
	top := s.top
	s.mu.Unlock()
	if top != nil {
		_ = top.Close()
	}
}

// rawListener counts connections and wraps them in rawConn. Its Accept never
// fails but when closed: go-lumber stops serving on any Accept error.
type rawListener struct {
	net.Listener
	in *Input
}

func (l *rawListener) Accept() (net.Conn, error) {
	in := l.in
	var delay time.Duration
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil, err
			}
			// Out of file descriptors and the like: back off and retry.
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			in.log.Warn("beats: accept failed", "error", err, "retry_in", delay)
			time.Sleep(delay)
			continue
		}
		delay = 0
		if n := in.nconns.Add(1); in.maxConns > 0 && n > int64(in.maxConns) {
			in.nconns.Add(-1)
			in.log.Warn("beats: too many connections, refusing one", "remote", c.RemoteAddr().String(),
				"max_connections", in.maxConns)
			_ = c.Close()
			continue
		}
		st := &connState{in: in, remote: c.RemoteAddr().String(), since: time.Now()}
		st.lastSeen.Store(st.since.UnixNano())
		in.conns.Store(st.remote, st)
		in.log.Debug("beats: connection accepted", "remote", st.remote)
		return &rawConn{Conn: c, st: st}, nil
	}
}

// rawConn is the TCP connection.
type rawConn struct {
	net.Conn
	st *connState
	// waiting: go-lumber cleared the read deadline to wait for the next window,
	// so the idle timeout applies.
	waiting atomic.Bool
	closed  atomic.Bool
}

func (c *rawConn) SetReadDeadline(t time.Time) error {
	idle := c.st.in.idle
	c.waiting.Store(t.IsZero())
	if t.IsZero() && idle > 0 {
		t = time.Now().Add(idle)
	}
	return c.Conn.SetReadDeadline(t)
}

func (c *rawConn) SetDeadline(t time.Time) error {
	if err := c.SetReadDeadline(t); err != nil {
		return err
	}
	return c.Conn.SetWriteDeadline(t)
}

func (c *rawConn) Read(p []byte) (int, error) {
	for {
		n, err := c.Conn.Read(p)
		if n > 0 {
			c.st.bytes.Add(int64(n))
			c.st.lastSeen.Store(time.Now().UnixNano())
		}
		var ne net.Error
		if n == 0 && err != nil && c.waiting.Load() && errors.As(err, &ne) && ne.Timeout() {
			// The idle timeout fired: it counts only while no window of this
			// connection is in the pipeline (the beat waits for our ACK).
			if busy, until := c.st.busyUntil(c.st.in.idle); busy {
				_ = c.Conn.SetReadDeadline(until)
				continue
			}
			return 0, fmt.Errorf("no data for %s (client_inactivity_timeout): %w", c.st.in.idle, err)
		}
		return n, err
	}
}

func (c *rawConn) Close() error {
	err := c.Conn.Close()
	if c.closed.CompareAndSwap(false, true) {
		in := c.st.in
		in.nconns.Add(-1)
		// Recorded among the recently disconnected before it leaves the
		// connected: a listing never misses it in both (with no connection
		// open, every closed one is listed).
		in.gone(c.st)
		in.conns.CompareAndDelete(c.st.remote, c.st)
	}
	return err
}

// guardListener wraps what go-lumber accepts (TLS or not) in guardConn.
type guardListener struct {
	net.Listener
	in *Input
}

func (l *guardListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	raw, ok := c.(*rawConn)
	if tc, isTLS := c.(*tls.Conn); isTLS {
		raw, ok = tc.NetConn().(*rawConn)
	}
	if !ok {
		_ = c.Close()
		return nil, fmt.Errorf("beats: unexpected connection type %T", c)
	}
	g := newGuardConn(c, raw.st, l.in.maxFrame, l.in.maxWindow)
	g.maxWinB, g.maxPending = l.in.maxWinB, l.in.maxPending
	g.v1 = l.in.v1
	raw.st.mu.Lock()
	raw.st.top = g
	raw.st.mu.Unlock()
	return g, nil
}

// Lumberjack frame codes (v1 has the same window and compressed frames).
const (
	codeVersion    = '2'
	codeVersion1   = '1'
	codeData1      = 'D' // v1: sequence, pair count, then length-prefixed keys and values
	codeWindowSize = 'W'
	codeJSON       = 'J'
	codeCompressed = 'C'
)

// errProtocol is wrapped by every error guardConn finds in the byte stream.
var errProtocol = errors.New("lumberjack protocol error")

// guardConn hands go-lumber a checked copy of the stream: window frames whose
// size is within the limit, and JSON data frames whose length is; a
// compressed frame is inflated here and its JSON frames passed on
// uncompressed, so go-lumber never inflates anything. It is read by one
// goroutine at a time (go-lumber's connection handler).
type guardConn struct {
	net.Conn
	st        *connState
	src       *bufio.Reader
	maxFrame  int64
	maxWindow uint32
	// max_window_bytes and max_pending_bytes (0: none, in tests that build a
	// guardConn alone).
	maxWinB, maxPending int64

	cur  *windowBytes // the window being read
	left uint32       // its data frames still to come

	hdr       [12]byte
	pend      []byte // frame header bytes to hand out
	remaining int64  // payload bytes of the current JSON frame still to hand out

	// Inside a compressed frame.
	inZ      bool
	zlimit   io.LimitedReader
	z        io.ReadCloser
	inflated int64

	// Lumberjack v1 (the lumberjack input): data frames are key/value
	// string pairs whose lengths come one by one.
	v1         bool
	strLeft    uint32 // strings of the current v1 data frame still to come
	frameBytes int64  // bytes of the current v1 data frame so far

	err error // the first error, returned ever after (read by the reader only)

	closeOnce sync.Once
}

func newGuardConn(c net.Conn, st *connState, maxFrame int64, maxWindow uint32) *guardConn {
	return &guardConn{Conn: c, st: st, src: bufio.NewReaderSize(c, 16<<10), maxFrame: maxFrame, maxWindow: maxWindow}
}

func (g *guardConn) Read(p []byte) (n int, err error) {
	if g.err != nil {
		return 0, g.err
	}
	// go-lumber's connection goroutine calls this: a panic here would end
	// the process, so it fails the connection instead.
	defer func() {
		if perr := engine.Recovered(recover(), g.st.in.log, "beats frame reader"); perr != nil {
			n, err = 0, perr
			g.err = perr
		}
	}()
	n, err = g.read(p)
	if err != nil {
		g.err = err
		g.st.mu.Lock()
		if g.st.readErr == nil {
			g.st.readErr = err
		}
		g.st.mu.Unlock()
	}
	return n, err
}

func (g *guardConn) read(p []byte) (int, error) {
	for {
		if len(g.pend) > 0 {
			n := copy(p, g.pend)
			g.pend = g.pend[n:]
			return n, nil
		}
		if g.remaining > 0 {
			r := io.Reader(g.src)
			if g.inZ {
				r = g.z
			}
			if int64(len(p)) > g.remaining {
				p = p[:g.remaining]
			}
			n, err := r.Read(p)
			g.remaining -= int64(n)
			if n > 0 {
				return n, nil
			}
			if err == io.EOF {
				err = fmt.Errorf("%w: truncated data frame", errProtocol)
				if !g.inZ {
					err = io.ErrUnexpectedEOF
				}
			}
			return 0, err
		}
		if err := g.next(); err != nil {
			return 0, err
		}
	}
}

// next reads the next frame header and sets pend, remaining or inZ.
func (g *guardConn) next() error {
	h := g.hdr[:]
	if g.strLeft > 0 {
		return g.nextString()
	}
	if g.inZ {
		n, err := io.ReadFull(g.z, h[:2])
		if n == 0 && err == io.EOF {
			// End of the compressed frame: it must have used all its bytes.
			g.inZ = false
			if err := g.z.Close(); err != nil {
				return fmt.Errorf("%w: compressed frame: %v", errProtocol, err)
			}
			if g.zlimit.N != 0 {
				if _, err := io.Copy(io.Discard, &g.zlimit); err != nil {
					return err
				}
			}
			return nil
		}
		if err != nil {
			return g.zerr(err)
		}
		if g.v1 && h[0] == codeVersion1 && h[1] == codeData1 {
			if _, err := io.ReadFull(g.z, h[2:10]); err != nil {
				return g.zerr(err)
			}
			return g.data1(h, true)
		}
		if g.v1 || h[0] != codeVersion || h[1] != codeJSON {
			return fmt.Errorf("%w: compressed frame holds a frame of type %q", errProtocol, h[:2])
		}
		if _, err := io.ReadFull(g.z, h[2:10]); err != nil {
			return g.zerr(err)
		}
		size := int64(binary.BigEndian.Uint32(h[6:10]))
		g.inflated += 10 + size
		if g.inflated > g.maxFrame {
			g.st.in.refusedFrame.Add(1)
			return fmt.Errorf("%w: compressed frame inflates past max_frame_bytes (%d)", errProtocol, g.maxFrame)
		}
		if err := g.count(10 + size); err != nil {
			return err
		}
		g.pend, g.remaining = h[:10], size
		return nil
	}
	if _, err := io.ReadFull(g.src, h[:2]); err != nil {
		return err // io.EOF between frames: the client closed
	}
	switch {
	case g.v1 && h[0] != codeVersion1:
		return fmt.Errorf("%w: unexpected bytes %q (not lumberjack v1)", errProtocol, h[:2])
	case !g.v1 && h[0] != codeVersion:
		return fmt.Errorf("%w: unexpected bytes %q (not lumberjack v2)", errProtocol, h[:2])
	}
	switch h[1] {
	case codeData1:
		if !g.v1 {
			return fmt.Errorf("%w: unknown frame type %q", errProtocol, h[1])
		}
		if _, err := io.ReadFull(g.src, h[2:10]); err != nil {
			return unexpected(err)
		}
		return g.data1(h, false)
	case codeWindowSize:
		if _, err := io.ReadFull(g.src, h[2:6]); err != nil {
			return unexpected(err)
		}
		w := binary.BigEndian.Uint32(h[2:6])
		if w > g.maxWindow {
			g.st.in.refusedWindowSize.Add(1)
			return fmt.Errorf("%w: window of %d events exceeds max_window_size (%d)", errProtocol, w, g.maxWindow)
		}
		if g.left > 0 {
			return fmt.Errorf("%w: window frame with %d events of the previous window missing", errProtocol, g.left)
		}
		// go-lumber skips an empty window: it is never handed over, so it is
		// not counted.
		g.cur, g.left = nil, w
		if w > 0 {
			g.cur = g.st.open()
		}
		g.pend = h[:6]
	case codeJSON:
		if g.v1 {
			return fmt.Errorf("%w: unknown frame type %q", errProtocol, h[1])
		}
		if _, err := io.ReadFull(g.src, h[2:10]); err != nil {
			return unexpected(err)
		}
		size := int64(binary.BigEndian.Uint32(h[6:10]))
		if size > g.maxFrame {
			g.st.in.refusedFrame.Add(1)
			return fmt.Errorf("%w: data frame of %d bytes exceeds max_frame_bytes (%d)", errProtocol, size, g.maxFrame)
		}
		if err := g.count(10 + size); err != nil {
			return err
		}
		g.pend, g.remaining = h[:10], size
	case codeCompressed:
		if _, err := io.ReadFull(g.src, h[2:6]); err != nil {
			return unexpected(err)
		}
		size := int64(binary.BigEndian.Uint32(h[2:6]))
		if size > g.maxFrame {
			g.st.in.refusedFrame.Add(1)
			return fmt.Errorf("%w: compressed frame of %d bytes exceeds max_frame_bytes (%d)", errProtocol, size, g.maxFrame)
		}
		g.zlimit = io.LimitedReader{R: g.src, N: size}
		var err error
		if g.z == nil {
			g.z, err = zlib.NewReader(&g.zlimit)
		} else {
			err = g.z.(zlib.Resetter).Reset(&g.zlimit, nil)
		}
		if err != nil {
			return g.zerr(err)
		}
		g.inZ, g.inflated = true, 0
	default:
		return fmt.Errorf("%w: unknown frame type %q", errProtocol, h[1])
	}
	return nil
}

// data1 starts a v1 data frame whose 10-byte header is in h: its pairs'
// strings follow, each checked by nextString.
func (g *guardConn) data1(h []byte, inZ bool) error {
	pairs := binary.BigEndian.Uint32(h[6:10])
	if int64(pairs)*8 > g.maxFrame {
		g.st.in.refusedFrame.Add(1)
		return fmt.Errorf("%w: data frame of %d pairs exceeds max_frame_bytes (%d)", errProtocol, pairs, g.maxFrame)
	}
	if inZ {
		g.inflated += 10
	}
	if err := g.count(10); err != nil {
		return err
	}
	g.strLeft, g.frameBytes = 2*pairs, 10
	g.pend, g.remaining = h[:10], 0
	return nil
}

// nextString reads the length of the next key or value of a v1 data frame
// and checks the frame against max_frame_bytes and the window's budgets.
func (g *guardConn) nextString() error {
	h := g.hdr[:4]
	var err error
	if g.inZ {
		_, err = io.ReadFull(g.z, h)
		err = g.zerrOrNil(err)
	} else if _, err = io.ReadFull(g.src, h); err != nil {
		err = unexpected(err)
	}
	if err != nil {
		return err
	}
	size := int64(binary.BigEndian.Uint32(h))
	g.frameBytes += 4 + size
	if g.inZ {
		g.inflated += 4 + size
	}
	if g.frameBytes > g.maxFrame || (g.inZ && g.inflated > g.maxFrame) {
		g.st.in.refusedFrame.Add(1)
		return fmt.Errorf("%w: data frame exceeds max_frame_bytes (%d)", errProtocol, g.maxFrame)
	}
	if err := g.addBytes(4 + size); err != nil {
		return err
	}
	g.strLeft--
	g.pend, g.remaining = h, size
	return nil
}

func (g *guardConn) zerrOrNil(err error) error {
	if err == nil {
		return nil
	}
	return g.zerr(err)
}

// count checks one data frame of n bytes (header included, after
// inflation) against the window's and the input's budgets, before go-lumber
// reads it: a window is handed over only after all its frames were counted,
// so one beyond a budget is never acknowledged.
func (g *guardConn) count(n int64) error {
	if g.left == 0 || g.cur == nil {
		return fmt.Errorf("%w: data frame outside a window", errProtocol)
	}
	g.left--
	return g.addBytes(n)
}

// addBytes counts n more bytes of the current window against
// max_window_bytes and max_pending_bytes.
func (g *guardConn) addBytes(n int64) error {
	before := g.cur.n
	pending := g.st.add(g.cur, n)
	if g.maxWinB > 0 && before+n > g.maxWinB {
		g.st.in.refusedWindowBytes.Add(1)
		return fmt.Errorf("%w: window exceeds max_window_bytes (%d) after inflation", errProtocol, g.maxWinB)
	}
	if g.maxPending > 0 && pending > g.maxPending {
		g.st.in.refusedPending.Add(1)
		return fmt.Errorf("%w: the input holds %d bytes not yet acknowledged, beyond max_pending_bytes (%d): the beat resends this window later",
			errProtocol, pending, g.maxPending)
	}
	return nil
}

func (g *guardConn) zerr(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		if g.zlimit.N > 0 {
			return io.ErrUnexpectedEOF // the connection ended inside the frame
		}
		return fmt.Errorf("%w: truncated compressed frame", errProtocol)
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return err
	}
	return fmt.Errorf("%w: compressed frame: %v", errProtocol, err)
}

func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// Close closes the connection once and logs why it ended.
func (g *guardConn) Close() error {
	err := g.Conn.Close()
	g.closeOnce.Do(func() {
		st := g.st
		st.releaseAll()
		st.mu.Lock()
		st.dead = true
		reason := st.reason
		if reason == nil {
			reason = st.readErr
		}
		st.mu.Unlock()
		log := st.in.log
		if reason == nil && !st.in.closing.Load() {
			// go-lumber closed the connection after reading well: an event
			// did not decode (or an ACK could not be written).
			if p := st.in.lastDecodeErr.Swap(nil); p != nil {
				reason = *p
			} else {
				reason = errors.New("closed by the lumberjack handler")
			}
		}
		var bad *badTokenError
		switch {
		case errors.As(reason, &bad):
			// Logged by refuse, rate-limited.
			log.Debug("beats: connection closed", "remote", st.remote, "error", reason.Error())
		case errors.Is(reason, io.EOF):
			log.Debug("beats: connection closed", "remote", st.remote)
		case st.in.closing.Load():
			log.Debug("beats: connection closed at shutdown", "remote", st.remote)
		case errors.Is(reason, net.ErrClosed):
			log.Debug("beats: connection closed", "remote", st.remote)
		default:
			log.Warn("beats: connection closed", "remote", st.remote, "error", reason.Error())
		}
	})
	return err
}
