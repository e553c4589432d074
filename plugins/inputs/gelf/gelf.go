// Package gelf implements Logstash's gelf input: GELF messages (Graylog's
// JSON log format) over UDP — plain, zlib or gzip compressed, and chunked —
// and, with use_tcp, over TCP as null-byte-terminated JSON frames.
//
// As in Logstash, each message becomes an event of its JSON fields; a
// numeric timestamp becomes @timestamp; with remap, full_message (or else
// short_message) becomes message; with strip_leading_underscore, additional
// fields lose their leading underscore (_user becomes user); the sender's
// address goes to source_host ([host][ip] with ECS compatibility). A message
// that is not JSON becomes an event with the text in message, tagged
// _jsonparsefailure.
//
// Budgets: a message inflates to at most max_message_bytes (ours, default
// 8 MiB: more is dropped and counted, never allocated); a chunked message
// has at most 128 chunks (the GELF limit), and its chunks wait at most 5
// seconds (the GELF spec) and at most 1,000 messages at once per input.
// UDP cannot push back: datagrams that find the queue full are dropped and
// counted, as the udp input does.
package gelf

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/plugins/internal/ecs"
	"github.com/pipelined/pipeline/plugins/internal/netserver"
)

func init() { engine.RegisterInput("gelf", New) }

// Options configures the gelf input.
type Options struct {
	// Host is the address to listen on.
	Host string `hcl:"host,optional"`
	// Port is the port of both listeners, unless port_udp or port_tcp is set.
	Port int `hcl:"port,optional"`
	// PortUDP is the UDP port.
	PortUDP int `hcl:"port_udp,optional"`
	// PortTCP is the TCP port.
	PortTCP int `hcl:"port_tcp,optional"`
	// UseUDP listens on UDP.
	UseUDP bool `hcl:"use_udp,optional"`
	// UseTCP listens on TCP (null-byte-terminated frames).
	UseTCP bool `hcl:"use_tcp,optional"`
	// Remap makes full_message, or else short_message, the message field.
	Remap bool `hcl:"remap,optional"`
	// StripLeadingUnderscore removes the leading underscore of additional
	// fields.
	StripLeadingUnderscore bool `hcl:"strip_leading_underscore,optional"`
	// MaxMessageBytes bounds one message after decompression and chunk
	// assembly (ours, not Logstash's); longer messages are dropped and
	// counted.
	MaxMessageBytes engine.Bytes `hcl:"max_message_bytes,optional"`
	ecs.Compatibility
}

// Defaults sets Logstash's defaults.
func (o *Options) Defaults() {
	o.Host = "0.0.0.0"
	o.Port = 12201
	o.UseUDP = true
	o.Remap = true
	o.StripLeadingUnderscore = true
	o.MaxMessageBytes = 8 << 20
	o.Compatibility.Defaults()
}

// Validate checks the options.
func (o *Options) Validate() error {
	fe := func(f, format string, args ...any) error {
		return &engine.FieldError{Field: f, Err: fmt.Errorf(format, args...)}
	}
	for _, p := range []struct {
		name string
		v    int
	}{{"port", o.Port}, {"port_udp", o.PortUDP}, {"port_tcp", o.PortTCP}} {
		if p.v < 0 || p.v > 65535 {
			return fe(p.name, "must be between 0 and 65535")
		}
	}
	if !o.UseUDP && !o.UseTCP {
		return fe("use_udp", "use_udp and use_tcp are both false: the input would listen on nothing")
	}
	if o.MaxMessageBytes < 1 {
		return fe("max_message_bytes", "must be at least 1")
	}
	return o.Compatibility.Validate()
}

// Input is the gelf input.
type Input struct {
	o        Options
	log      *slog.Logger
	udp      *netserver.UDP
	tcp      *netserver.TCP
	batch    int
	emit     engine.EmitFunc
	chunks   *assembler
	hostRef  event.Ref
	tooLarge atomic.Uint64
	invalid  atomic.Uint64
	refs     sync.Map // "_x" → [2]event.Ref, see underscoreRefs
	cached   atomic.Int64
}

// New builds a gelf input; it opens no socket.
func New(o Options, r engine.Resources) (*Input, error) {
	log := r.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	in := &Input{o: o, log: log, batch: max(r.BatchSize, 1), chunks: newAssembler(int(o.MaxMessageBytes)),
		hostRef: event.MustRef("source_host")}
	if o.Compatibility.ECS() {
		in.hostRef = event.MustRef("[host][ip]")
	}
	if r.BatchSize <= 0 {
		in.batch = 125
	}
	port := func(p int) string {
		if p == 0 {
			p = o.Port
		}
		return net.JoinHostPort(o.Host, strconv.Itoa(p))
	}
	if o.UseUDP {
		in.udp = &netserver.UDP{Addr: port(o.PortUDP), BufferSize: 65536, Workers: 2, QueueSize: 2000,
			BatchSize: in.batch, Log: log, Name: "gelf", Decode: in.decodeDatagram, ID: r.ID}
	}
	if o.UseTCP {
		in.tcp = &netserver.TCP{Addr: port(o.PortTCP), Log: log, Name: "gelf", Handle: in.handle, ID: r.ID}
	}
	return in, nil
}

// Counters reports what was dropped, in /_node/stats and /metrics.
func (in *Input) Counters() []engine.Counter {
	c := []engine.Counter{
		{Name: "messages_too_large", Help: "GELF messages dropped for inflating beyond max_message_bytes.", Value: int64(in.tooLarge.Load())},
		{Name: "datagrams_invalid", Help: "GELF datagrams dropped as unreadable (bad compression or chunk header).", Value: int64(in.invalid.Load())},
	}
	if in.udp != nil {
		c = append(c, engine.Counter{Name: "datagrams_dropped", Help: "GELF datagrams dropped because the input's queue was full.", Value: int64(in.udp.Dropped())})
	}
	return c
}

// Run serves until ctx is cancelled.
func (in *Input) Run(ctx context.Context, emit engine.EmitFunc) error {
	in.emit = emit
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	if in.udp != nil {
		wg.Add(1)
		go func() { defer wg.Done(); errs <- in.udp.Run(ctx, emit) }()
	}
	if in.tcp != nil {
		wg.Add(1)
		go func() { defer wg.Done(); errs <- in.tcp.Run(ctx) }()
	}
	wg.Wait()
	close(errs)
	var all []error
	for err := range errs {
		all = append(all, err)
	}
	return errors.Join(all...)
}

// decodeDatagram turns one UDP datagram into an event (nothing while the
// chunks of a message are still arriving).
func (in *Input) decodeDatagram(p []byte, from netip.AddrPort, out []*event.Event) []*event.Event {
	msg, err := in.chunks.add(p, time.Now())
	if err != nil {
		in.drop(err, from)
		return out
	}
	if msg == nil {
		return out
	}
	msg, err = inflate(msg, int(in.o.MaxMessageBytes))
	if err != nil {
		in.drop(err, from)
		return out
	}
	return append(out, in.event(msg, from.Addr().Unmap().String()))
}

func (in *Input) drop(err error, from netip.AddrPort) {
	if errors.Is(err, errTooLarge) {
		in.tooLarge.Add(1)
	} else {
		in.invalid.Add(1)
	}
	in.log.Debug("gelf: datagram dropped", "peer", from.String(), "err", err)
}

// handle reads null-terminated frames from a TCP connection.
func (in *Input) handle(c *netserver.Conn) error {
	br := bufio.NewReaderSize(c, 64<<10)
	b := netserver.Batcher{Emit: in.emit, Size: in.batch}
	host := c.Peer.Addr().Unmap().String()
	var acc []byte
	skipping := false
	for {
		chunk, err := br.ReadSlice(0)
		if errors.Is(err, bufio.ErrBufferFull) {
			if !skipping {
				acc = append(acc, chunk...)
				if len(acc) > int(in.o.MaxMessageBytes) {
					skipping, acc = true, nil
					in.tooLarge.Add(1)
				}
			}
			continue
		}
		if err != nil {
			if ferr := b.Flush(); ferr != nil {
				return ferr
			}
			if netserver.IsClosed(err) || errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		if skipping {
			skipping = false
			continue
		}
		frame := chunk[:len(chunk)-1]
		if len(acc) > 0 {
			acc = append(acc, frame...)
			frame = acc
		}
		if len(bytes.TrimSpace(frame)) > 0 {
			if err := b.Add(in.event(frame, host)); err != nil {
				return err
			}
		}
		acc = acc[:0]
		if br.Buffered() == 0 {
			if err := b.Flush(); err != nil {
				return err
			}
		}
	}
}

var (
	timestampRef = event.MustRef("timestamp")
	fullRef      = event.MustRef("full_message")
	shortRef     = event.MustRef("short_message")
	messageRef   = event.MustRef("message")
)

// event makes the event of one GELF message.
func (in *Input) event(msg []byte, host string) *event.Event {
	e, err := event.FromJSON(msg)
	if err != nil {
		e = event.NewMessage(string(msg))
		e.AddTag("_jsonparsefailure")
		_ = e.Set(in.hostRef, host)
		return e
	}
	_ = e.Set(in.hostRef, host)
	switch ts := e.Fields()["timestamp"].(type) {
	case int64:
		e.SetTimestamp(time.Unix(ts, 0))
		e.Delete(timestampRef)
	case float64:
		sec := int64(ts)
		e.SetTimestamp(time.Unix(sec, int64((ts-float64(sec))*1e9)).Truncate(time.Microsecond))
		e.Delete(timestampRef)
	}
	if in.o.Remap {
		full, _ := e.GetString(fullRef)
		short, _ := e.GetString(shortRef)
		switch {
		case full != "":
			_ = e.Set(messageRef, full)
			e.Delete(fullRef)
			if short == full {
				e.Delete(shortRef)
			}
		case short != "":
			_ = e.Set(messageRef, short)
			e.Delete(shortRef)
		}
	}
	if in.o.StripLeadingUnderscore {
		var keys []string
		for k := range e.Fields() {
			if strings.HasPrefix(k, "_") && len(k) > 1 {
				keys = append(keys, k)
			}
		}
		for _, k := range keys {
			r, nr, ok := in.underscoreRefs(k)
			if !ok {
				continue
			}
			v, _ := e.Delete(r)
			_ = e.Set(nr, v)
		}
	}
	return e
}

// underscoreRefs returns the references of an additional field "_x" and of
// "x". Senders use a few field names over and over, so they are parsed once
// and kept, up to maxCachedRefs names (the names come from outside).
func (in *Input) underscoreRefs(k string) (from, to event.Ref, ok bool) {
	if v, hit := in.refs.Load(k); hit {
		p := v.([2]event.Ref)
		return p[0], p[1], true
	}
	from, err := event.ParseRef("[" + k + "]")
	if err != nil {
		return from, to, false
	}
	if to, err = event.ParseRef("[" + k[1:] + "]"); err != nil {
		return from, to, false
	}
	if in.cached.Add(1) <= maxCachedRefs {
		in.refs.Store(k, [2]event.Ref{from, to})
	}
	return from, to, true
}

const maxCachedRefs = 1024

var errTooLarge = errors.New("message larger than max_message_bytes")

// inflate decompresses a zlib or gzip message, within limit bytes; other
// messages are returned as they are.
func inflate(p []byte, limit int) ([]byte, error) {
	var r io.ReadCloser
	var err error
	switch {
	case len(p) >= 2 && p[0] == 0x1f && p[1] == 0x8b:
		r, err = gzip.NewReader(bytes.NewReader(p))
	case len(p) >= 2 && p[0] == 0x78 && (uint16(p[0])<<8|uint16(p[1]))%31 == 0:
		r, err = zlib.NewReader(bytes.NewReader(p))
	default:
		if len(p) > limit {
			return nil, errTooLarge
		}
		return p, nil
	}
	if err != nil {
		return nil, fmt.Errorf("gelf: bad compressed message: %w", err)
	}
	defer r.Close()
	out, err := io.ReadAll(io.LimitReader(r, int64(limit)+1))
	if err != nil {
		return nil, fmt.Errorf("gelf: bad compressed message: %w", err)
	}
	if len(out) > limit {
		return nil, errTooLarge
	}
	return out, nil
}

// assembler joins chunked GELF messages: datagrams starting 0x1e 0x0f, an
// 8-byte message id, the chunk's sequence number and the chunk count.
type assembler struct {
	mu    sync.Mutex
	limit int
	msgs  map[[8]byte]*partial
}

type partial struct {
	first  time.Time
	chunks [][]byte
	have   int
	bytes  int
}

const (
	maxChunks    = 128
	maxPending   = 1000
	chunkTimeout = 5 * time.Second
)

func newAssembler(limit int) *assembler {
	return &assembler{limit: limit, msgs: map[[8]byte]*partial{}}
}

// add takes a datagram; it returns the whole message once all its chunks
// arrived (a datagram that is not chunked is whole), nil meanwhile.
func (a *assembler) add(p []byte, now time.Time) ([]byte, error) {
	if len(p) < 2 || p[0] != 0x1e || p[1] != 0x0f {
		return p, nil
	}
	if len(p) < 12 {
		return nil, errors.New("gelf: short chunk header")
	}
	var id [8]byte
	copy(id[:], p[2:10])
	seq, count := int(p[10]), int(p[11])
	if count == 0 || count > maxChunks || seq >= count {
		return nil, fmt.Errorf("gelf: chunk %d of %d", seq, count)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for k, m := range a.msgs {
		if now.Sub(m.first) > chunkTimeout {
			delete(a.msgs, k)
		}
	}
	m := a.msgs[id]
	if m == nil {
		if len(a.msgs) >= maxPending {
			return nil, errors.New("gelf: too many chunked messages in progress")
		}
		m = &partial{first: now, chunks: make([][]byte, count)}
		a.msgs[id] = m
	}
	if len(m.chunks) != count {
		delete(a.msgs, id)
		return nil, errors.New("gelf: chunk count changed within a message")
	}
	if m.chunks[seq] == nil {
		m.bytes += len(p) - 12
		if m.bytes > a.limit {
			delete(a.msgs, id)
			return nil, errTooLarge
		}
		m.chunks[seq] = append([]byte(nil), p[12:]...)
		m.have++
	}
	if m.have < count {
		return nil, nil
	}
	delete(a.msgs, id)
	return bytes.Join(m.chunks, nil), nil
}
