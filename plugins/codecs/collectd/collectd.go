// Package collectd implements the collectd codec, like Logstash's: it decodes
// collectd's binary network protocol (what collectd's network plugin sends,
// usually to UDP port 25826) into one event per value list or notification.
//
// Use it with the udp input, one datagram per decode:
//
//	udp { port => 25826 buffer_size => 1452 codec => collectd { } }
//
// The parts host, time, time (high resolution), plugin, plugin instance,
// type, type instance, interval (both resolutions), message and severity set
// the fields host, @timestamp, plugin, plugin_instance, collectd_type,
// type_instance, interval, message and severity; each values part makes an
// event, its single value in "value", or several values named by the
// type's data sources in typesdb ("rx" and "tx" for if_octets). Empty
// plugin_instance and type_instance are left out. Interval parts make no
// event of their own unless prune_intervals is false. Unknown part types are
// skipped.
//
// Without typesdb, the data source names of collectd's standard multi-value
// types (load, if_octets, disk_octets, ps_cputime, …) are built in; a type
// with one value needs none. typesdb files have collectd's types.db format.
//
// Security, as Logstash's: with security_level "Sign", a signed packet whose
// HMAC-SHA-256 does not match its user's key in authfile is dropped (unsigned
// packets are accepted, as in Logstash); with "Encrypt", only encrypted
// packets (AES-256-OFB, SHA-1 checked) are accepted; "None" checks nothing
// and cannot read encrypted packets. authfile holds "user: password" lines
// and is read again when it changes.
//
// A gauge that is NaN is replaced by nan_value and the event tagged nan_tag
// (nan_handling "change_value", or "warn", which also logs), or ends the
// decoding of the packet ("drop", as Logstash, which drops the rest of the
// packet with it).
//
// Budget: a packet is at most MaxPacketBytes (64 KiB, the largest UDP
// payload); a larger one is refused whole. Malformed packets end decoding at
// the bad part; the events before it are kept.
package collectd

import (
	"bufio"
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
)

func init() { engine.RegisterCodec("collectd", New) }

// MaxPacketBytes is the largest packet decoded.
const MaxPacketBytes = 64 << 10

// maxTypesDBBytes bounds one typesdb or authfile file.
const maxTypesDBBytes = 16 << 20

// Options configures the collectd codec.
type Options struct {
	// TypesDB are paths of collectd types.db files naming the data sources
	// of each type; unset, the standard multi-value types are built in.
	TypesDB []string `hcl:"typesdb,optional"`
	// PruneIntervals makes no event of interval parts.
	PruneIntervals bool `hcl:"prune_intervals,optional"`
	// SecurityLevel is "None", "Sign" or "Encrypt".
	SecurityLevel string `hcl:"security_level,optional"`
	// NaNHandling is "change_value", "warn" or "drop".
	NaNHandling string `hcl:"nan_handling,optional"`
	// NaNValue replaces a NaN gauge (change_value, warn).
	NaNValue float64 `hcl:"nan_value,optional"`
	// NaNTag is added to events whose NaN was replaced.
	NaNTag string `hcl:"nan_tag,optional"`
	// AuthFile is the file of "user: password" lines for Sign and Encrypt.
	AuthFile string `hcl:"authfile,optional"`
	// Target is a field under which the decoded fields are put; unset, at
	// the top level.
	Target string `hcl:"target,optional"`
}

// Defaults sets Logstash's defaults.
func (o *Options) Defaults() {
	o.PruneIntervals = true
	o.SecurityLevel = "None"
	o.NaNHandling = "change_value"
	o.NaNTag = "_collectdNaN"
}

// Validate checks the options.
func (o *Options) Validate() error {
	switch o.SecurityLevel {
	case "None":
	case "Sign", "Encrypt":
		if o.AuthFile == "" {
			return &engine.FieldError{Field: "authfile", Err: fmt.Errorf("security_level is %s: set authfile", o.SecurityLevel)}
		}
	default:
		return &engine.FieldError{Field: "security_level", Err: fmt.Errorf("unsupported value %q: want \"None\", \"Sign\" or \"Encrypt\"", o.SecurityLevel)}
	}
	switch o.NaNHandling {
	case "change_value", "warn", "drop":
	default:
		return &engine.FieldError{Field: "nan_handling", Err: fmt.Errorf("unsupported value %q: want \"change_value\", \"warn\" or \"drop\"", o.NaNHandling)}
	}
	if o.Target != "" {
		if _, err := event.ParseRef(o.Target); err != nil {
			return &engine.FieldError{Field: "target", Err: err}
		}
	}
	return nil
}

// Codec is the collectd codec.
type Codec struct {
	types       map[string][]string
	prune       bool
	level       string
	nanHandling string
	nanValue    float64
	nanTag      string
	target      event.Ref
	hasTarget   bool
	log         *slog.Logger
	auth        *authFile
}

var _ engine.Codec = (*Codec)(nil)

// New builds a collectd codec, reading typesdb and authfile.
func New(o Options, r engine.Resources) (*Codec, error) {
	c := &Codec{
		prune: o.PruneIntervals, level: o.SecurityLevel, nanHandling: o.NaNHandling,
		nanValue: o.NaNValue, nanTag: o.NaNTag, log: r.Logger,
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if o.Target != "" {
		c.target, _ = event.ParseRef(o.Target)
		c.hasTarget = true
	}
	if len(o.TypesDB) == 0 {
		c.types = builtinTypes
	} else {
		c.types = map[string][]string{}
		for _, p := range o.TypesDB {
			if err := readTypesDB(p, c.types); err != nil {
				return nil, &engine.FieldError{Field: "typesdb", Err: err}
			}
		}
	}
	if o.AuthFile != "" {
		c.auth = &authFile{path: o.AuthFile, log: c.log}
		if err := c.auth.load(); err != nil {
			return nil, &engine.FieldError{Field: "authfile", Err: err}
		}
	}
	return c, nil
}

// readTypesDB adds the types of a types.db file: "name ds:TYPE:min:max, …".
func readTypesDB(path string, types map[string][]string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(io.LimitReader(f, maxTypesDBBytes))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 || strings.HasPrefix(fields[0], "#") {
			continue
		}
		var names []string
		for _, ds := range fields[1:] {
			name, _, _ := strings.Cut(strings.TrimSpace(ds), ":")
			names = append(names, name)
		}
		types[fields[0]] = names
	}
	return sc.Err()
}

// authFile is the users' keys, read again when the file changes.
type authFile struct {
	path string
	log  *slog.Logger

	mu      sync.Mutex
	keys    map[string]string
	mtime   time.Time
	checked time.Time
}

var authLine = regexp.MustCompile(`([^:]+): (.+)`)

func (a *authFile) load() error {
	st, err := os.Stat(a.path)
	if err != nil {
		return fmt.Errorf("the file %s was not found: %w", a.path, err)
	}
	b, err := os.ReadFile(a.path)
	if err != nil {
		return err
	}
	if len(b) > maxTypesDBBytes {
		return fmt.Errorf("%s is larger than %d bytes", a.path, maxTypesDBBytes)
	}
	keys := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		m := authLine.FindStringSubmatch(strings.TrimRight(line, "\r"))
		if m == nil {
			continue
		}
		keys[m[1]] = m[2]
	}
	a.keys, a.mtime = keys, st.ModTime()
	return nil
}

// key returns user's key, reading the file again (at most once a second)
// when it changed.
func (a *authFile) key(user string) (string, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if now := time.Now(); now.Sub(a.checked) >= time.Second {
		a.checked = now
		if st, err := os.Stat(a.path); err == nil && st.ModTime().After(a.mtime) {
			if err := a.load(); err != nil {
				a.log.Warn("collectd: cannot read authfile again; keeping the keys read before", "err", err)
			}
		}
	}
	k, ok := a.keys[user]
	if !ok {
		a.log.Warn("collectd: user not found in the authfile", "user", user, "authfile", a.path)
	}
	return k, ok
}

// ErrEncodeUnsupported is returned by Encode: Logstash's codec only decodes.
var ErrEncodeUnsupported = errors.New("collectd: encoding is not supported")

// NewEncoder returns an encoder that refuses every event.
func (c *Codec) NewEncoder(io.Writer) engine.Encoder { return noEncoder{} }

type noEncoder struct{}

func (noEncoder) Encode(*event.Event) error { return ErrEncodeUnsupported }

// NewDecoder returns a decoder of the one packet r holds.
func (c *Codec) NewDecoder(r io.Reader) engine.Decoder { return &decoder{c: c, r: r} }

type decoder struct {
	c      *Codec
	r      io.Reader
	read   bool
	events []*event.Event
	err    error
}

// Decode returns the packet's events one by one, then the error that ended
// decoding, if any, then io.EOF.
func (d *decoder) Decode() (*event.Event, error) {
	if !d.read {
		d.read = true
		b, err := io.ReadAll(io.LimitReader(d.r, MaxPacketBytes+1))
		switch {
		case err != nil:
			d.err = err
		case len(b) > MaxPacketBytes:
			d.err = fmt.Errorf("collectd: packet larger than %d bytes", MaxPacketBytes)
		default:
			d.events, d.err = d.c.decode(b)
		}
	}
	if len(d.events) > 0 {
		e := d.events[0]
		d.events = d.events[1:]
		return e, nil
	}
	if d.err != nil {
		err := d.err
		d.err = nil
		return nil, err
	}
	return nil, io.EOF
}

// Part types.
const (
	partHost           = 0
	partTime           = 1
	partPlugin         = 2
	partPluginInstance = 3
	partType           = 4
	partTypeInstance   = 5
	partValues         = 6
	partInterval       = 7
	partTimeHR         = 8
	partIntervalHR     = 9
	partMessage        = 256
	partSeverity       = 257
	partSignature      = 512
	partEncryption     = 528
)

var (
	errHeader     = errors.New("collectd: part length beyond the packet")
	errSecurity   = errors.New("collectd: packet refused by security_level")
	errNaN        = errors.New("collectd: NaN value with nan_handling drop; rest of the packet dropped")
	errValuesPart = errors.New("collectd: malformed values part")
)

// state is the fields gathered so far in a packet.
type state struct {
	fields map[string]any
	nan    bool
}

// stringParts names the field of each string part (made once: a map
// literal in decode was built anew for every part of every packet).
var stringParts = map[int]string{partHost: "host", partPlugin: "plugin", partPluginInstance: "plugin_instance",
	partType: "collectd_type", partTypeInstance: "type_instance", partMessage: "message"}

// baseFields survive from one value list to the next.
var baseFields = map[string]bool{"host": true, "@timestamp": true, "plugin": true, "plugin_instance": true, "collectd_type": true, "type_instance": true}

// decode decodes one packet.
func (c *Codec) decode(p []byte) ([]*event.Event, error) {
	var out []*event.Event
	st := state{fields: map[string]any{}}
	encrypted := false
	for len(p) > 0 {
		if len(p) < 4 {
			return out, errHeader
		}
		typ := int(binary.BigEndian.Uint16(p))
		length := int(binary.BigEndian.Uint16(p[2:]))
		if length < 4 || length > len(p) {
			return out, errHeader
		}
		body := p[4:length]
		p = p[length:]
		switch typ {
		case partSignature:
			if !c.verify(body, p) {
				return out, errSecurity
			}
			continue
		case partEncryption:
			plain, ok := c.decrypt(body)
			if !ok {
				return out, errSecurity
			}
			p, encrypted = plain, true
			continue
		}
		if !encrypted && c.level == "Encrypt" {
			return out, errSecurity
		}
		var field string
		switch typ {
		case partHost, partPlugin, partPluginInstance, partType, partTypeInstance, partMessage:
			field = stringParts[typ]
			st.fields[field] = cString(body)
		case partTime, partTimeHR:
			if len(body) < 8 {
				return out, errHeader
			}
			n := binary.BigEndian.Uint64(body)
			if typ == partTime {
				st.fields["@timestamp"] = time.Unix(int64(n), 0).UTC()
			} else {
				secs := float64(n) / (1 << 30)
				st.fields["@timestamp"] = time.Unix(0, int64(secs*1e9)).UTC()
			}
		case partInterval:
			if len(body) < 8 {
				return out, errHeader
			}
			// Logstash reads it as a little-endian double (sic).
			field = "interval"
			st.fields[field] = math.Float64frombits(binary.LittleEndian.Uint64(body))
		case partIntervalHR:
			if len(body) < 8 {
				return out, errHeader
			}
			field = "interval"
			st.fields[field] = int64(float64(binary.BigEndian.Uint64(body)) / (1 << 30))
		case partSeverity:
			if len(body) < 8 {
				return out, errHeader
			}
			st.fields["severity"] = uintValue(binary.BigEndian.Uint64(body))
		case partValues:
			field = "values"
			if err := c.values(body, &st); err != nil {
				return out, err
			}
		default:
			c.log.Debug("collectd: unknown part type", "type", typ)
			continue
		}
		if field != "values" && field != "interval" && field != "message" {
			continue
		}
		if !c.prune || (typ != partInterval && typ != partIntervalHR) {
			if st.nan && c.nanHandling == "drop" {
				return out, errNaN
			}
			out = append(out, c.event(st))
		}
		for k := range st.fields {
			if !baseFields[k] {
				delete(st.fields, k)
			}
		}
		st.nan = false
	}
	return out, nil
}

// event makes the event of the fields gathered.
func (c *Codec) event(st state) *event.Event {
	m := make(map[string]any, len(st.fields))
	for k, v := range st.fields {
		if (k == "type_instance" || k == "plugin_instance") && v == "" {
			continue
		}
		m[k] = v
	}
	var e *event.Event
	if c.hasTarget {
		// As Logstash's targeted event factory: the fields, @timestamp
		// included, under target; the event's own time is now.
		e = event.New()
		v, err := event.Normalize(m)
		if err == nil {
			_ = e.Set(c.target, v)
		}
	} else {
		var err error
		if e, err = event.FromMap(m); err != nil {
			e = event.New()
		}
	}
	if st.nan {
		e.AddTag(c.nanTag)
	}
	return e
}

// values decodes a values part into st.
func (c *Codec) values(body []byte, st *state) error {
	if len(body) < 2 {
		return errValuesPart
	}
	n := int(binary.BigEndian.Uint16(body))
	body = body[2:]
	if n == 0 || len(body) != 9*n {
		c.log.Error("collectd: incorrect number of data fields for collectd record", "count", n, "bytes", len(body))
		return errValuesPart
	}
	kinds, data := body[:n], body[n:]
	vals := make([]any, n)
	for i := range n {
		raw := data[8*i : 8*i+8]
		switch kinds[i] {
		case 0, 3: // counter, absolute
			vals[i] = uintValue(binary.BigEndian.Uint64(raw))
		case 1: // gauge
			v := math.Float64frombits(binary.LittleEndian.Uint64(raw))
			if math.IsNaN(v) {
				st.nan = true
				if c.nanHandling != "drop" {
					v = c.nanValue
					if c.nanHandling == "warn" {
						c.log.Warn("collectd: NaN replaced", "nan_value", c.nanValue)
					}
				}
			}
			vals[i] = v
		case 2: // derive
			vals[i] = int64(binary.BigEndian.Uint64(raw))
		default:
			return errValuesPart
		}
	}
	if n == 1 {
		st.fields["value"] = vals[0]
		return nil
	}
	typ, _ := st.fields["collectd_type"].(string)
	names := c.types[typ]
	for i, v := range vals {
		if i >= len(names) {
			c.log.Error("collectd: invalid value for type", "type", typ, "index", i)
			continue
		}
		st.fields[names[i]] = v
	}
	return nil
}

// uintValue is a counter as an event value: int64, or float64 beyond it.
func uintValue(u uint64) any {
	if u > math.MaxInt64 {
		return float64(u)
	}
	return int64(u)
}

// cString is a NUL-terminated string part.
func cString(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

// verify checks a signature part against the rest of the packet.
func (c *Codec) verify(body, rest []byte) bool {
	if c.level == "None" {
		return true
	}
	if len(body) < 33 {
		c.log.Warn("collectd: signature part too short or without a user name", "bytes", len(body))
		return false
	}
	sig, user := body[:32], string(body[32:])
	key, ok := c.key(user)
	if !ok {
		return false
	}
	mac := hmac.New(sha256.New, []byte(key))
	mac.Write([]byte(user))
	mac.Write(rest)
	return hmac.Equal(mac.Sum(nil), sig)
}

func (c *Codec) key(user string) (string, bool) {
	if c.auth == nil {
		return "", false
	}
	return c.auth.key(user)
}

// decrypt opens an encryption part: user name length, user name, IV, then
// AES-256-OFB of SHA-1(plaintext) and the plaintext.
func (c *Codec) decrypt(body []byte) ([]byte, bool) {
	if len(body) < 2 {
		return nil, false
	}
	n := int(binary.BigEndian.Uint16(body))
	body = body[2:]
	if len(body) < n+16 {
		return nil, false
	}
	user, iv, content := string(body[:n]), body[n:n+16], body[n+16:]
	if len(content) < 26 {
		return nil, false
	}
	key, ok := c.key(user)
	if !ok {
		return nil, false
	}
	k := sha256.Sum256([]byte(key))
	block, err := aes.NewCipher(k[:])
	if err != nil {
		return nil, false
	}
	plain := make([]byte, len(content))
	cipher.NewOFB(block, iv).XORKeyStream(plain, content)
	sum := sha1.Sum(plain[20:])
	if !hmac.Equal(sum[:], plain[:20]) {
		c.log.Warn("collectd: unable to decrypt packet, checksum mismatch", "user", user)
		return nil, false
	}
	return plain[20:], true
}
