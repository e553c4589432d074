// Package udp implements the udp input, like Logstash's: it reads datagrams
// and decodes each with its codec, plain by default (one event per datagram,
// whatever newlines it holds).
//
// Each event gets the sender's IP address in host (ecs_compatibility
// "disabled") or [host][ip] ("v1", "v8"), or in source_ip_fieldname when set,
// unless the codec already set that field.
//
// One goroutine reads datagrams of up to buffer_size bytes (a longer one is
// truncated, as in Logstash) into a queue of queue_size datagrams; workers
// goroutines decode them and emit them in batches of up to the pipeline batch
// size. UDP cannot push back: when the pipeline is slower than the senders the
// queue fills, and each further datagram is dropped, counted (Dropped) and
// reported in a warning at most every 10 s with the count. Logstash instead
// stops reading and lets the kernel drop; counting here makes the loss
// visible. receive_buffer_bytes enlarges the kernel's buffer for bursts.
//
// Failure semantics: Run returns an error when the port cannot be bound or the
// pipeline was aborted. On shutdown the socket closes and the queued
// datagrams are emitted before Run returns.
package udp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strconv"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/plugins/internal/ecs"
	"github.com/pipelined/pipeline/plugins/internal/netserver"
)

func init() {
	engine.RegisterInput("udp", New, engine.WithDefaultCodec("plain"))
}

// maxDatagram is the largest UDP datagram (its length field is 16 bits).
const maxDatagram = 65536

// Options configures the udp input.
type Options struct {
	// Host is the address to listen on.
	Host string `hcl:"host,optional"`
	// Port is the UDP port to listen on.
	Port int `hcl:"port"`
	// BufferSize is the most bytes read from one datagram; the rest of a
	// longer datagram is lost. No datagram is longer than 65535 bytes, so a
	// larger value (which Logstash accepts) reads whole datagrams and
	// allocates no more than that.
	BufferSize int `hcl:"buffer_size,optional"`
	// ReceiveBufferBytes sets the socket receive buffer (SO_RCVBUF); the
	// kernel may cap it (net.core.rmem_max). Not set: the system default.
	ReceiveBufferBytes int `hcl:"receive_buffer_bytes,optional"`
	// Workers is the number of goroutines decoding and emitting datagrams.
	Workers int `hcl:"workers,optional"`
	// QueueSize is the number of datagrams held while the workers are busy;
	// when it is full, datagrams are dropped and counted.
	QueueSize int `hcl:"queue_size,optional"`
	// SourceIPFieldname is the field for the sender's IP address, instead of
	// host (or [host][ip] with ECS).
	SourceIPFieldname string `hcl:"source_ip_fieldname,optional"`
	ecs.Compatibility
}

// Defaults sets Logstash's defaults.
func (o *Options) Defaults() {
	o.Host = "0.0.0.0"
	o.BufferSize = 65536
	o.Workers = 2
	o.QueueSize = 2000
	o.Compatibility.Defaults()
}

// Validate checks the options.
func (o *Options) Validate() error {
	fe := func(f, format string, args ...any) error {
		return &engine.FieldError{Field: f, Err: fmt.Errorf(format, args...)}
	}
	if o.Port < 0 || o.Port > 65535 {
		return fe("port", "must be between 0 and 65535")
	}
	if o.BufferSize < 1 {
		return fe("buffer_size", "must be at least 1")
	}
	if o.ReceiveBufferBytes < 0 {
		return fe("receive_buffer_bytes", "must not be negative")
	}
	if o.Workers < 1 {
		return fe("workers", "must be at least 1")
	}
	if o.QueueSize < 1 {
		return fe("queue_size", "must be at least 1")
	}
	if o.SourceIPFieldname != "" {
		if _, err := event.ParseRef(o.SourceIPFieldname); err != nil {
			return fe("source_ip_fieldname", "%v", err)
		}
	}
	return o.Compatibility.Validate()
}

// Input is the udp input.
type Input struct {
	srv   *netserver.UDP
	codec engine.Codec
	ipRef event.Ref
	log   *slog.Logger
}

var _ engine.Input = (*Input)(nil)

// New builds a udp input; it opens no socket.
func New(o Options, r engine.Resources) (*Input, error) {
	if r.Codec == nil {
		return nil, errors.New("udp: no codec")
	}
	log := r.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	in := &Input{codec: r.Codec, log: log, ipRef: event.MustRef("host")}
	switch {
	case o.SourceIPFieldname != "":
		in.ipRef = event.MustRef(o.SourceIPFieldname)
	case o.Compatibility.ECS():
		in.ipRef = event.MustRef("[host][ip]")
	}
	batch := r.BatchSize
	if batch <= 0 {
		batch = 125
	}
	in.srv = &netserver.UDP{
		Addr:               net.JoinHostPort(o.Host, strconv.Itoa(o.Port)),
		BufferSize:         min(o.BufferSize, maxDatagram),
		ReceiveBufferBytes: o.ReceiveBufferBytes,
		Workers:            o.Workers,
		QueueSize:          o.QueueSize,
		BatchSize:          batch,
		Log:                log,
		Name:               "udp",
		Decode:             in.decode,
		ID:                 r.ID,
	}
	return in, nil
}

// Dropped is the number of datagrams dropped because the queue was full.
func (in *Input) Dropped() uint64 { return in.srv.Dropped() }

// Received is the number of datagrams read.
func (in *Input) Received() uint64 { return in.srv.Received() }

// Counters reports the drops in /_node/stats and /metrics.
func (in *Input) Counters() []engine.Counter {
	return []engine.Counter{
		{Name: "datagrams_received", Help: "UDP datagrams read.", Value: int64(in.srv.Received())},
		{Name: "datagrams_dropped", Help: "UDP datagrams dropped because the input's queue was full (UDP cannot push back).", Value: int64(in.srv.Dropped())},
	}
}

// Run serves until ctx is cancelled.
func (in *Input) Run(ctx context.Context, emit engine.EmitFunc) error {
	return in.srv.Run(ctx, emit)
}

func (in *Input) decode(payload []byte, from netip.AddrPort, out []*event.Event) []*event.Event {
	dec := in.codec.NewDecoder(bytes.NewReader(payload))
	ip := from.Addr().String()
	for range 100000 {
		e, err := dec.Decode()
		if e != nil {
			if _, ok := e.Get(in.ipRef); !ok {
				_ = e.Set(in.ipRef, ip)
			}
			out = append(out, e)
		}
		if err != nil {
			if err != io.EOF {
				in.log.Warn("udp: cannot decode datagram", "peer", from.String(), "error", err)
			}
			break
		}
	}
	return out
}
