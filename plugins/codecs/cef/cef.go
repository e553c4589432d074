// Package cef implements the cef codec, like Logstash's: it reads and writes
// ArcSight's Common Event Format,
// "CEF:Version|Device Vendor|Device Product|Device Version|Signature ID|Name|Severity|Extension".
//
// Decoding: without delimiter the whole stream (a datagram, a request body)
// is one message, up to MaxMessageBytes; with delimiter ("\n" is the usual
// one, written "\\n" or "\n") the stream is split on it. A message wrapped in
// double quotes is unwrapped, a trailing newline is dropped. The seven
// header fields ("\|" and "\\" unescaped) and the extension's key=value
// pairs ("\=", "\\", "\n", "\r" unescaped; a value runs until the next
// " key=") become fields: with ecs_compatibility "disabled" under their CEF
// names (cefVersion, deviceVendor, ..., deviceCustomString1, and the full
// name of each short key: src → sourceAddress), with "v1" or "v8" (the
// default) under ECS names ([cef][version], [observer][vendor],
// [source][ip], ...), and with the timestamp fields (rt → @timestamp, art,
// end, start, mrt, ...) parsed: milliseconds since the epoch, or
// "MMM dd[ yyyy] HH:mm:ss[.SSS][ zone]" in the device's dtz, default_timezone
// or the local zone, the year guessed when absent. A syslog header before
// "CEF:" goes to syslog / [log][syslog][header]. Keys CEF does not define
// keep their name ("foo[0]" is [foo][0]). A message that is not CEF, has a
// keyless value in its extension, an unescaped newline, invalid UTF-8, or an
// unreadable timestamp becomes an event with the text in message and the tag
// _cefparsefailure, as in Logstash.
//
// Encoding writes "CEF:0|vendor|product|version|signature|name|severity|"
// (sprintf templates, "|" and "\" escaped, newlines as spaces; an empty
// result or a severity that is not an integer from 0 to 10 takes the
// default) followed by the fields listed in fields as key=value pairs
// separated by spaces: a field's key is its CEF name (or short key with
// reverse_mapping), found from its ECS or CEF name, else the field name with
// everything but letters and digits removed; lists and hashes are written as
// JSON, timestamps in ISO 8601; "\", "=" and newlines are escaped. The
// delimiter, if set, ends each event.
//
// Failure semantics: a read error is returned by Decode after the complete
// messages before it; a write error is returned by Encode.
package cef

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/plugins/internal/ecs"
	"github.com/pipelined/pipeline/plugins/internal/encoder"
	"github.com/pipelined/pipeline/plugins/internal/linereader"
)

func init() { engine.RegisterCodec("cef", New) }

// MaxMessageBytes is the longest message decoded; a longer one (a
// delimited line, or a whole stream without delimiter) becomes a
// _cefparsefailure event holding its first MaxMessageBytes bytes.
const MaxMessageBytes = 1 << 20

// FailureTag is the tag of messages that are not valid CEF.
const FailureTag = "_cefparsefailure"

// Options configures the cef codec.
type Options struct {
	// Vendor is the Device Vendor header written (a sprintf template).
	Vendor string `hcl:"vendor,optional"`
	// Product is the Device Product header written (a sprintf template).
	Product string `hcl:"product,optional"`
	// Version is the Device Version header written (a sprintf template).
	Version string `hcl:"version,optional"`
	// Signature is the Signature ID header written (a sprintf template).
	Signature string `hcl:"signature,optional"`
	// Name is the Name header written (a sprintf template).
	Name string `hcl:"name,optional"`
	// Severity is the Severity header written (a sprintf template); a value
	// that is not an integer from 0 to 10 writes "6".
	Severity string `hcl:"severity,optional"`
	// Fields are the fields written as the extension, in order.
	Fields []string `hcl:"fields,optional"`
	// ReverseMapping writes extension keys as CEF's short keys (src) instead
	// of full names (sourceAddress).
	ReverseMapping bool `hcl:"reverse_mapping,optional"`
	// Delimiter splits the decoded stream into messages and ends each
	// encoded event; "\\n" and "\\r" stand for a newline and a carriage
	// return. Without it a whole stream is one message.
	Delimiter string `hcl:"delimiter,optional"`
	// DefaultTimezone is the time zone (an IANA name such as
	// "Europe/Lisbon") of timestamps that name none, when the message has no
	// dtz; the local zone by default.
	DefaultTimezone string `hcl:"default_timezone,optional"`
	// Locale is the locale of month names in timestamps; only English names
	// are read, whatever it says.
	Locale string `hcl:"locale,optional"`
	// RawDataField is a field to store the raw message in.
	RawDataField string `hcl:"raw_data_field,optional"`
	// Device says which ECS object the device* fields go to: "observer"
	// (the device that saw the event) or "host" (the device the event is
	// about).
	Device string `hcl:"device,optional"`
	ecs.Compatibility
}

// Defaults sets Logstash's defaults.
func (o *Options) Defaults() {
	o.Vendor = "Elasticsearch"
	o.Product = "Logstash"
	o.Version = "1.0"
	o.Signature = "Logstash"
	o.Name = "Logstash"
	o.Severity = "6"
	o.Device = "observer"
	o.Compatibility.Defaults()
}

var defaults = func() Options { var o Options; o.Defaults(); return o }()

// Validate checks the templates, references and time zone.
func (o *Options) Validate() error {
	for _, t := range []struct{ name, v string }{{"vendor", o.Vendor}, {"product", o.Product}, {"version", o.Version}, {"signature", o.Signature}, {"name", o.Name}, {"severity", o.Severity}} {
		if _, err := event.ParseTemplate(t.v); err != nil {
			return &engine.FieldError{Field: t.name, Err: err}
		}
	}
	for _, name := range o.Fields {
		if _, err := event.ParseRef(name); err != nil {
			return &engine.FieldError{Field: "fields", Err: err}
		}
	}
	if o.RawDataField != "" {
		if _, err := event.ParseRef(o.RawDataField); err != nil {
			return &engine.FieldError{Field: "raw_data_field", Err: err}
		}
	}
	if o.DefaultTimezone != "" {
		if _, err := time.LoadLocation(o.DefaultTimezone); err != nil {
			return &engine.FieldError{Field: "default_timezone", Err: fmt.Errorf("unknown time zone %q", o.DefaultTimezone)}
		}
	}
	if o.Device != "observer" && o.Device != "host" {
		return &engine.FieldError{Field: "device", Err: fmt.Errorf("%q is not \"observer\" or \"host\"", o.Device)}
	}
	if o.Delimiter != "" && unescapeDelimiter(o.Delimiter) == "" {
		return &engine.FieldError{Field: "delimiter", Err: errors.New("must not be empty")}
	}
	return o.Compatibility.Validate()
}

func unescapeDelimiter(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, `\r`, "\r"), `\n`, "\n")
}

// Codec is the cef codec.
type Codec struct {
	header               [6]event.Template // vendor, product, version, signature, name, severity
	fields               []event.Ref
	fieldNames           []string
	delim                string
	ecs                  bool
	raw                  event.Ref
	hasRaw               bool
	decodeMap, encodeMap map[string]string
	timestamps           map[string]bool
	headerRefs           [7]event.Ref
	syslogRef            event.Ref
	zone                 *time.Location
	now                  func() time.Time
}

var _ engine.Codec = (*Codec)(nil)

var headerNames = [2][7]string{
	{"cefVersion", "deviceVendor", "deviceProduct", "deviceVersion", "deviceEventClassId", "name", "severity"},
	{"[cef][version]", "[observer][vendor]", "[observer][product]", "[observer][version]", "[event][code]", "[cef][name]", "[event][severity]"},
}

// New builds a cef codec.
func New(o Options, _ engine.Resources) (*Codec, error) {
	c := &Codec{ecs: o.Compatibility.ECS(), now: time.Now, zone: time.Local}
	for i, s := range []string{o.Vendor, o.Product, o.Version, o.Signature, o.Name, o.Severity} {
		c.header[i] = event.MustTemplate(s)
	}
	for _, name := range o.Fields {
		c.fields = append(c.fields, event.MustRef(name))
		c.fieldNames = append(c.fieldNames, name)
	}
	if o.Delimiter != "" {
		c.delim = unescapeDelimiter(o.Delimiter)
	}
	if o.RawDataField != "" {
		c.raw, c.hasRaw = event.MustRef(o.RawDataField), true
	}
	if o.DefaultTimezone != "" {
		c.zone, _ = time.LoadLocation(o.DefaultTimezone)
	}
	c.decodeMap, c.encodeMap, c.timestamps = mappings(o.Device, c.ecs, o.ReverseMapping)
	names := headerNames[0]
	c.syslogRef = event.MustRef("syslog")
	if c.ecs {
		names = headerNames[1]
		c.syslogRef = event.MustRef("[log][syslog][header]")
	}
	for i, n := range names {
		c.headerRefs[i] = event.MustRef(n)
	}
	return c, nil
}

// NewDecoder returns a decoder of the CEF messages of r.
func (c *Codec) NewDecoder(r io.Reader) engine.Decoder {
	d := &decoder{c: c, r: r}
	if c.delim != "" {
		d.lines = linereader.New(r, []byte(c.delim), MaxMessageBytes)
	}
	return d
}

type decoder struct {
	c     *Codec
	r     io.Reader
	lines *linereader.Reader
	done  bool
}

// Decode returns the event of the next message, or io.EOF at the end.
func (d *decoder) Decode() (*event.Event, error) {
	if d.lines != nil {
		line, err := d.lines.Next()
		if errors.Is(err, linereader.ErrTooLong) {
			return d.c.failure(fmt.Sprintf("(a message over %d bytes)", MaxMessageBytes)), nil
		}
		if err != nil {
			return nil, err
		}
		return d.c.Parse(string(line)), nil
	}
	if d.done {
		return nil, io.EOF
	}
	d.done = true
	b, err := io.ReadAll(io.LimitReader(d.r, MaxMessageBytes+1))
	if err != nil {
		return nil, err
	}
	if len(b) > MaxMessageBytes {
		// Drain what is left so the source is consumed, within the budget of
		// one message per stream.
		_, _ = io.Copy(io.Discard, d.r)
		return d.c.failure(string(b[:MaxMessageBytes])), nil
	}
	if len(b) == 0 {
		return nil, io.EOF
	}
	return d.c.Parse(string(b)), nil
}

func (c *Codec) failure(msg string) *event.Event {
	e := event.NewMessageAt(msg, c.now())
	e.AddTag(FailureTag)
	return e
}

// NewEncoder returns an encoder writing one CEF message per event to w.
func (c *Codec) NewEncoder(w io.Writer) engine.Encoder {
	return encoder.New(w, c.appendEvent, []byte(c.delim))
}
