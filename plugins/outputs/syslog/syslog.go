// Package syslog implements the syslog output, like Logstash's: it sends each
// event as one syslog message, RFC 3164 or RFC 5424, over UDP, TCP or TLS
// (protocol "ssl-tcp").
//
// An RFC 3164 message is "<PRI>MMM dd HH:mm:ss sourcehost appname[procid]:
// message", an RFC 5424 one "<PRI>1 timestamp sourcehost appname procid
// msgid structured_data message", each followed by a newline (one datagram
// per message over UDP). The timestamps are @timestamp in UTC, as Logstash's
// %{+…} formats. The message text is message rendered for the event, or, when
// a codec other than a plain one without format is set, the codec's encoding;
// trailing white space is cut and newlines inside it are written as the two
// characters \n, as Logstash does.
//
// With use_labels (the default) the priority is facility × 8 + severity, both
// looked up by their Logstash labels (facility "user-level" and severity
// "notice" when the rendered label is unknown). The codes are the positions
// in Logstash's label list, which has no entry for RFC 5424's codes 10
// (authpriv) and 15 (the second clock): from "ftp" on its codes are lower
// ("local0" is 14, not 16), and they are sent exactly as Logstash sends
// them. Without use_labels, priority is
// rendered and read as an integer (13 when it is not one, or outside 0–191).
//
// Failure semantics: over tcp and ssl-tcp a Write returns nil only once every
// message of the batch was written to the socket; a broken connection makes
// the engine reconnect (at most every reconnect_interval seconds) and write
// the batch again, so a receiver may see some messages twice, never none.
// Over udp, as in Logstash, a message the system refuses to send (no route,
// too large for a datagram, a port that answered "unreachable") is dropped
// and counted in a warning: UDP cannot tell delivery anyway.
package syslog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/plugins/codecs/plain"
	"github.com/pipelined/pipeline/plugins/internal/netclient"
	"github.com/pipelined/pipeline/plugins/internal/tlsopt"
)

func init() {
	engine.RegisterOutput("syslog", New, engine.WithDefaultCodec("plain"))
}

// facilityLabels are Logstash's facility labels, by code.
var facilityLabels = []string{
	"kernel", "user-level", "mail", "daemon", "security/authorization", "syslogd",
	"line printer", "network news", "uucp", "clock", "ftp", "ntp", "log audit",
	"log alert", "local0", "local1", "local2", "local3", "local4", "local5",
	"local6", "local7",
}

// severityLabels are Logstash's severity labels, by code.
var severityLabels = []string{
	"emergency", "alert", "critical", "error", "warning", "notice", "informational", "debug",
}

// Options configures the syslog output.
type Options struct {
	// Host is the syslog server.
	Host string `hcl:"host"`
	// Port is the syslog server's port.
	Port int `hcl:"port"`
	// Protocol is "udp", "tcp" or "ssl-tcp" (TCP with TLS).
	Protocol string `hcl:"protocol,optional"`
	// RFC is the message format: "rfc3164" or "rfc5424".
	RFC string `hcl:"rfc,optional"`
	// ReconnectInterval is the least time, in seconds, between a failed TCP
	// connection attempt or write and the next attempt.
	ReconnectInterval float64 `hcl:"reconnect_interval,optional"`
	// UseLabels computes the priority from facility and severity; false uses
	// priority.
	UseLabels bool `hcl:"use_labels,optional"`
	// Priority is the priority (0–191) when use_labels is false, a sprintf
	// template.
	Priority string `hcl:"priority,optional"`
	// Facility is the facility label ("local0", "user-level", …), a sprintf
	// template.
	Facility string `hcl:"facility,optional"`
	// Severity is the severity label ("error", "notice", …), a sprintf
	// template.
	Severity string `hcl:"severity,optional"`
	// Sourcehost is the host name in the message, a sprintf template.
	Sourcehost string `hcl:"sourcehost,optional"`
	// Appname is the application name, a sprintf template.
	Appname string `hcl:"appname,optional"`
	// Procid is the process id, a sprintf template.
	Procid string `hcl:"procid,optional"`
	// Msgid is the RFC 5424 message id, a sprintf template.
	Msgid string `hcl:"msgid,optional"`
	// Message is the message text, a sprintf template (used unless a codec
	// other than a plain one without format is set).
	Message string `hcl:"message,optional"`
	// StructuredData is the RFC 5424 structured data, a sprintf template
	// ("-" when empty); refused with rfc3164.
	StructuredData string `hcl:"structured_data,optional"`
	// The ssl_* options: TLS with protocol "ssl-tcp".
	tlsopt.Syslog
}

// Defaults sets Logstash's defaults.
func (o *Options) Defaults() {
	o.Protocol = "udp"
	o.RFC = "rfc3164"
	o.ReconnectInterval = 1
	o.UseLabels = true
	o.Priority = "%{syslog_pri}"
	o.Facility = "user-level"
	o.Severity = "notice"
	o.Sourcehost = "%{host}"
	o.Appname = "LOGSTASH"
	o.Procid = "-"
	o.Msgid = "-"
	o.Message = "%{message}"
	o.Syslog.Defaults()
}

// Validate checks the options.
func (o *Options) Validate() error {
	if strings.TrimSpace(o.Host) == "" {
		return &engine.FieldError{Field: "host", Err: errors.New("must not be empty")}
	}
	if o.Port < 1 || o.Port > 65535 {
		return &engine.FieldError{Field: "port", Err: errors.New("must be between 1 and 65535")}
	}
	switch o.Protocol {
	case "udp", "tcp", "ssl-tcp":
	default:
		return &engine.FieldError{Field: "protocol", Err: fmt.Errorf("unsupported value %q: want \"udp\", \"tcp\" or \"ssl-tcp\"", o.Protocol)}
	}
	switch o.RFC {
	case "rfc3164":
		if o.StructuredData != "" {
			return &engine.FieldError{Field: "structured_data", Err: errors.New("structured data is not supported for RFC3164")}
		}
	case "rfc5424":
	default:
		return &engine.FieldError{Field: "rfc", Err: fmt.Errorf("unsupported value %q: want \"rfc3164\" or \"rfc5424\"", o.RFC)}
	}
	if o.ReconnectInterval < 0 {
		return &engine.FieldError{Field: "reconnect_interval", Err: errors.New("must not be negative")}
	}
	var x Output
	if err := o.parseTemplates(&x); err != nil {
		return err
	}
	return o.Syslog.Validate()
}

// Output is the syslog output.
type Output struct {
	useLabels bool
	rfc3164   bool
	udp       bool
	addr      string
	log       *slog.Logger

	priority, facility, severity, sourcehost, appname, procid, msgid, message, sd event.Template

	enc    engine.Encoder // nil: message is rendered instead
	encBuf bytes.Buffer

	conn    netclient.Conn // tcp and ssl-tcp
	udpConn net.Conn
	buf     []byte
}

var _ engine.Output = (*Output)(nil)

// parseTemplates parses the template options into out.
func (o *Options) parseTemplates(out *Output) error {
	for _, f := range []struct {
		name, src string
		dst       *event.Template
	}{
		{"priority", o.Priority, &out.priority}, {"facility", o.Facility, &out.facility},
		{"severity", o.Severity, &out.severity}, {"sourcehost", o.Sourcehost, &out.sourcehost},
		{"appname", o.Appname, &out.appname}, {"procid", o.Procid, &out.procid},
		{"msgid", o.Msgid, &out.msgid}, {"message", o.Message, &out.message},
		{"structured_data", o.StructuredData, &out.sd},
	} {
		t, err := event.ParseTemplate(f.src)
		if err != nil {
			return &engine.FieldError{Field: f.name, Err: err}
		}
		*f.dst = t
	}
	return nil
}

// New builds a syslog output.
func New(o Options, r engine.Resources) (*Output, error) {
	out := &Output{
		useLabels: o.UseLabels,
		rfc3164:   o.RFC == "rfc3164",
		udp:       o.Protocol == "udp",
		addr:      netclient.Addr(o.Host, o.Port),
		log:       r.Logger,
	}
	if err := o.parseTemplates(out); err != nil {
		return nil, err
	}
	if out.log == nil {
		out.log = slog.New(slog.DiscardHandler)
	}
	// Logstash replaces a plain codec without format by one formatting
	// message; any other codec encodes the message text.
	if p, ok := r.Codec.(*plain.Codec); r.Codec != nil && !(ok && !p.HasFormat()) {
		out.enc = r.Codec.NewEncoder(&out.encBuf)
	}
	out.conn = netclient.Conn{
		Name:              "syslog output",
		Addr:              out.addr,
		ReconnectInterval: time.Duration(o.ReconnectInterval * float64(time.Second)),
	}
	if o.Protocol == "ssl-tcp" {
		cfg, err := o.Syslog.Config()
		if err != nil {
			return nil, err
		}
		out.conn.TLS = cfg
		if !o.SSLVerify {
			out.log.Warn("ssl_verify is false (Logstash's default): the syslog server's certificate is not checked")
		}
	}
	return out, nil
}

// Connect opens the UDP socket or the TCP connection.
func (o *Output) Connect(ctx context.Context) error {
	if o.udp {
		if o.udpConn != nil {
			_ = o.udpConn.Close()
		}
		var d net.Dialer
		c, err := d.DialContext(ctx, "udp", o.addr)
		if err != nil {
			return fmt.Errorf("syslog output: %s: %w", o.addr, err)
		}
		o.udpConn = c
		return nil
	}
	if err := o.conn.Connect(ctx); err != nil {
		return err
	}
	o.log.Info("connected", "address", o.addr)
	return nil
}

// maxKeptBuffer is the largest batch buffer kept between Writes.
const maxKeptBuffer = 4 << 20

// Write formats and sends the batch.
func (o *Output) Write(ctx context.Context, events []*event.Event) error {
	if o.udp {
		return o.writeUDP(events)
	}
	if !o.conn.Connected() {
		return fmt.Errorf("syslog output: %w", engine.ErrNotConnected)
	}
	o.buf = o.buf[:0]
	for _, e := range events {
		var err error
		if o.buf, err = o.format(o.buf, e); err != nil {
			return err
		}
	}
	err := o.conn.Write(ctx, o.buf)
	if cap(o.buf) > maxKeptBuffer {
		o.buf = nil
	}
	return err
}

// writeUDP sends one datagram per event; a send the system refuses is
// dropped, as Logstash does.
func (o *Output) writeUDP(events []*event.Event) error {
	if o.udpConn == nil {
		return fmt.Errorf("syslog output: %w", engine.ErrNotConnected)
	}
	dropped := 0
	var last error
	for _, e := range events {
		var err error
		if o.buf, err = o.format(o.buf[:0], e); err != nil {
			return err
		}
		if _, err := o.udpConn.Write(o.buf); err != nil {
			dropped++
			last = err
		}
	}
	if dropped > 0 {
		o.log.Warn("syslog messages not sent over udp, dropped", "address", o.addr, "count", dropped, "err", last)
	}
	return nil
}

// format appends the event's syslog message and a newline to dst.
func (o *Output) format(dst []byte, e *event.Event) ([]byte, error) {
	var text string
	if o.enc != nil {
		o.encBuf.Reset()
		if err := o.enc.Encode(e); err != nil {
			return dst, engine.Permanent(fmt.Errorf("syslog output: encode: %w", err))
		}
		text = o.encBuf.String()
	} else {
		text = o.message.Render(e)
	}
	text = strings.TrimRightFunc(text, isRubySpace)
	text = strings.ReplaceAll(strings.ReplaceAll(text, "\r\n", "\n"), "\n", `\n`)

	dst = append(dst, '<')
	dst = strconv.AppendInt(dst, int64(o.priorityOf(e)), 10)
	dst = append(dst, '>')
	ts := e.Timestamp().UTC()
	if o.rfc3164 {
		dst = ts.AppendFormat(dst, "Jan 02 15:04:05")
		dst = append(dst, ' ')
		dst = o.sourcehost.RenderAppend(dst, e)
		dst = append(dst, ' ')
		dst = o.appname.RenderAppend(dst, e)
		dst = append(dst, '[')
		dst = o.procid.RenderAppend(dst, e)
		dst = append(dst, "]: "...)
	} else {
		dst = append(dst, "1 "...)
		dst = ts.AppendFormat(dst, "2006-01-02T15:04:05.000-07:00")
		for _, t := range []event.Template{o.sourcehost, o.appname, o.procid, o.msgid} {
			dst = append(dst, ' ')
			dst = t.RenderAppend(dst, e)
		}
		dst = append(dst, ' ')
		if o.sd.IsConstant() && o.sd.String() == "" {
			dst = append(dst, '-')
		} else {
			dst = o.sd.RenderAppend(dst, e)
		}
		dst = append(dst, ' ')
	}
	dst = append(dst, text...)
	return append(dst, '\n'), nil
}

// isRubySpace is what Ruby's String#rstrip removes: ASCII white space and NUL.
func isRubySpace(r rune) bool {
	switch r {
	case ' ', '\t', '\n', '\v', '\f', '\r', 0:
		return true
	}
	return false
}

// priorityOf is the event's priority: from the labels, or priority.
func (o *Output) priorityOf(e *event.Event) int {
	if o.useLabels {
		f := slices.Index(facilityLabels, o.facility.Render(e))
		if f < 0 {
			f = 1
		}
		s := slices.Index(severityLabels, o.severity.Render(e))
		if s < 0 {
			s = 5
		}
		return f*8 + s
	}
	p, err := strconv.ParseInt(strings.TrimSpace(o.priority.Render(e)), 0, 64)
	if err != nil || p < 0 || p > 191 {
		return 13
	}
	return int(p)
}

// Close closes the socket.
func (o *Output) Close(context.Context) error {
	if o.udpConn != nil {
		err := o.udpConn.Close()
		o.udpConn = nil
		return err
	}
	return o.conn.Close()
}
