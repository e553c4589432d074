// Package multiline implements the multiline codec, like Logstash's: it
// decodes a stream of lines into events made of several lines, such as a
// stack trace and the log line it follows.
//
// Each line is tested against pattern (a grok pattern: Logstash's library,
// plus patterns_dir); negate inverts the result. With what => "previous", a
// line that matches belongs to the event being built, and one that does not
// starts a new event; with what => "next", a line that matches is joined
// with the lines after it, and one that does not ends the event. The lines
// of an event are joined with "\n"; an event of more than one line is tagged
// multiline_tag. With ECS compatibility (v1, v8) the text is also stored in
// [event][original].
//
// Limits, as Logstash: once the event holds more than max_lines lines, or
// max_bytes bytes, it is ended (the next line starts another) and tagged
// multiline_codec_max_lines_reached or multiline_codec_max_bytes_reached.
//
// Lines are buffered per stream: each connection of a tcp input, each file,
// has its own event being built. When the stream ends the event being built
// is emitted. auto_flush_interval emits it, too, when no line came for that
// many seconds: without it, the last event of a stream that stays open (a
// log file being written, a connection kept open) waits for the next line
// that ends it.
//
// Encoding writes the event's message followed by a newline (Logstash's
// multiline codec only decodes; its encode passes the event on).
//
// Failure semantics: a read error ends decoding with that error, after the
// event being built is emitted.
package multiline

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/plugins/filters/grok"
	"github.com/pipelined/pipeline/plugins/internal/charset"
	"github.com/pipelined/pipeline/plugins/internal/ecs"
	"github.com/pipelined/pipeline/plugins/internal/encoder"
	"github.com/pipelined/pipeline/plugins/internal/eventfmt"
	"github.com/pipelined/pipeline/plugins/internal/linereader"
)

func init() { engine.RegisterCodec("multiline", New) }

// Options configures the multiline codec. Names and defaults are Logstash's.
type Options struct {
	// Pattern is the grok pattern each line is tested against, such as
	// "^%{TIMESTAMP_ISO8601} " or "^\s".
	Pattern string `hcl:"pattern"`
	// What is "previous" (a matching line belongs to the event before it) or
	// "next" (a matching line is joined with the lines after it).
	What string `hcl:"what"`
	// Negate applies what to the lines that do not match instead.
	Negate bool `hcl:"negate,optional"`
	// PatternsDir are files, or directories of files, of further grok
	// pattern definitions ("NAME regexp" lines), read when the codec is
	// built.
	PatternsDir []string `hcl:"patterns_dir,optional"`
	charset.Option
	// MultilineTag is the tag added to events of more than one line; empty
	// adds none.
	MultilineTag string `hcl:"multiline_tag,optional"`
	// MaxLines ends an event once it holds more than this many lines.
	MaxLines int `hcl:"max_lines,optional"`
	// MaxBytes ends an event once its lines add up to this many bytes.
	MaxBytes engine.Bytes `hcl:"max_bytes,optional"`
	// AutoFlushInterval, in seconds, emits the event being built when no
	// line came for that long; unset (0), it waits for the line that ends
	// it, or the end of the stream.
	AutoFlushInterval float64 `hcl:"auto_flush_interval,optional"`
	ecs.Compatibility
}

// Defaults sets Logstash's defaults.
func (o *Options) Defaults() {
	o.Option.Defaults()
	o.MultilineTag = "multiline"
	o.MaxLines = 500
	o.MaxBytes = 10 << 20
	o.Compatibility.Defaults()
}

// Validate checks the options; the pattern is compiled by New (it may use
// patterns_dir's files).
func (o *Options) Validate() error {
	fe := func(f, format string, args ...any) error {
		return &engine.FieldError{Field: f, Err: fmt.Errorf(format, args...)}
	}
	if o.Pattern == "" {
		return fe("pattern", "must not be empty")
	}
	switch o.What {
	case "previous", "next":
	default:
		return fe("what", "unsupported value %q: want \"previous\" or \"next\"", o.What)
	}
	if o.MaxLines < 1 {
		return fe("max_lines", "must be at least 1")
	}
	if o.MaxBytes < 1 {
		return fe("max_bytes", "must be at least 1")
	}
	if o.AutoFlushInterval < 0 {
		return fe("auto_flush_interval", "must not be negative")
	}
	if err := o.Option.Validate(); err != nil {
		return err
	}
	return o.Compatibility.Validate()
}

// Codec is the multiline codec.
type Codec struct {
	match    *grok.Matcher
	negate   bool
	previous bool
	tag      string
	maxLines int
	maxBytes int64
	flush    time.Duration
	convert  charset.Converter
	original bool
	format   eventfmt.Formatter
	log      *slog.Logger // for a panic of the reader goroutine
}

var _ engine.Codec = (*Codec)(nil)

// New compiles the pattern (reading patterns_dir).
func New(o Options, r engine.Resources) (*Codec, error) {
	m, err := grok.CompileMatcher(o.Pattern, o.PatternsDir)
	if err != nil {
		var fe *engine.FieldError
		if errors.As(err, &fe) {
			return nil, err
		}
		return nil, &engine.FieldError{Field: "pattern", Err: err}
	}
	f, _ := eventfmt.New("%{message}")
	return &Codec{
		match: m, negate: o.Negate, previous: o.What == "previous", tag: o.MultilineTag, log: r.Logger,
		maxLines: o.MaxLines, maxBytes: int64(o.MaxBytes),
		flush:   time.Duration(o.AutoFlushInterval * float64(time.Second)),
		convert: o.Option.Converter(), original: o.Compatibility.ECS(), format: f,
	}, nil
}

// NewDecoder returns a decoder of the lines of r, with its own event being
// built.
func (c *Codec) NewDecoder(r io.Reader) engine.Decoder {
	d := &decoder{c: c, lines: linereader.New(r, []byte{'\n'}, 0)}
	if c.flush > 0 {
		d.feed = make(chan lineOrErr)
		d.next = make(chan struct{}, 1)
		go d.read()
	}
	return d
}

type lineOrErr struct {
	line string
	err  error
}

type decoder struct {
	c     *Codec
	lines *linereader.Reader
	buf   []string
	bytes int64
	ready []*event.Event // events made, not yet returned
	err   error          // the end of the stream, once reached

	// With auto_flush_interval: lines come from a reading goroutine, one
	// per request on next, so that none is read ahead of need.
	feed chan lineOrErr
	next chan struct{}
	want bool // a line was asked for and not received yet
}

// read hands the lines to Decode, one each time Decode asks for one.
func (d *decoder) read() {
	// The stream's reader (the input's connection, file, decompressor) runs
	// here, on a goroutine no one else guards: a panic is recovered, counted
	// and logged, and ends the stream with that error, as a read error does.
	defer func() {
		if perr := engine.Recovered(recover(), d.c.log, "multiline codec reader"); perr != nil {
			d.feed <- lineOrErr{err: perr}
		}
	}()
	for range d.next {
		line, err := d.lines.Next()
		d.feed <- lineOrErr{string(line), err}
		if err != nil {
			return
		}
	}
}

// Decode returns the next event, or the end of the stream's error (io.EOF)
// once the last event was returned.
func (d *decoder) Decode() (*event.Event, error) {
	for len(d.ready) == 0 {
		if d.err != nil {
			return nil, d.err
		}
		line, err, timedOut := d.nextLine()
		switch {
		case timedOut:
			d.flushBuf()
		case err != nil:
			d.flushBuf()
			d.err = err
		default:
			d.handle(string(d.c.convert([]byte(line))))
		}
	}
	e := d.ready[0]
	d.ready = d.ready[1:]
	return e, nil
}

// nextLine returns the next line; with auto_flush_interval, timedOut when
// none came for that long while an event is being built.
func (d *decoder) nextLine() (line string, err error, timedOut bool) {
	if d.feed == nil {
		b, err := d.lines.Next()
		return string(b), err, false
	}
	if !d.want {
		d.next <- struct{}{}
		d.want = true
	}
	if len(d.buf) == 0 {
		l := <-d.feed
		d.want = false
		return l.line, l.err, false
	}
	t := time.NewTimer(d.c.flush)
	defer t.Stop()
	select {
	case l := <-d.feed:
		d.want = false
		return l.line, l.err, false
	case <-t.C:
		return "", nil, true
	}
}

// handle applies what to one line (Logstash's do_previous and do_next).
func (d *decoder) handle(line string) {
	matched := d.c.match.MatchString(line) != d.c.negate
	if d.c.previous {
		if !matched || d.overLimits() {
			d.flushBuf()
		}
		d.add(line)
		return
	}
	d.add(line)
	if !matched || d.overLimits() {
		d.flushBuf()
	}
}

func (d *decoder) add(line string) {
	d.buf = append(d.buf, line)
	d.bytes += int64(len(line))
}

func (d *decoder) overLines() bool  { return len(d.buf) > d.c.maxLines }
func (d *decoder) overBytes() bool  { return d.bytes >= d.c.maxBytes }
func (d *decoder) overLimits() bool { return d.overLines() || d.overBytes() }

// flushBuf makes the event of the buffered lines (Logstash's merge_events).
func (d *decoder) flushBuf() {
	if len(d.buf) == 0 {
		return
	}
	e := ecs.NewMessage(strings.Join(d.buf, "\n"), time.Now(), d.c.original)
	if d.c.tag != "" && len(d.buf) > 1 {
		e.AddTag(d.c.tag)
	}
	if d.overBytes() {
		e.AddTag("multiline_codec_max_bytes_reached")
	}
	if d.overLines() {
		e.AddTag("multiline_codec_max_lines_reached")
	}
	d.ready = append(d.ready, e)
	d.buf, d.bytes = d.buf[:0], 0
}

// NewEncoder returns an encoder writing each event's message and a newline.
func (c *Codec) NewEncoder(w io.Writer) engine.Encoder {
	return encoder.New(w, c.format.Append, []byte{'\n'})
}
