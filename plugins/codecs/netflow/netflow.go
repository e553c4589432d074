// Package netflow implements the netflow codec, like Logstash's: it decodes
// NetFlow v5, NetFlow v9 and IPFIX (v10) export packets, one per datagram
// (udp { codec => netflow }), into one event per flow record. It encodes
// nothing: an output using it is refused at the first event.
//
// Each event has the packet's export time as @timestamp and, under target
// ("netflow"), the record's fields and some header fields: version,
// flow_seq_num, engine_type, engine_id, sampling_algorithm,
// sampling_interval and flow_records for v5; version, flow_seq_num and
// flowset_id for v9; version (and flowset_id with include_flowset_id) for
// IPFIX. Field names are Logstash's: Cisco's NetFlow names for v5 and v9
// (ipv4_src_addr, l4_dst_port, in_bytes, ...), IANA's information element
// names for IPFIX (sourceIPv4Address, octetDeltaCount, ...). Addresses are
// strings, counters numbers, first_switched/last_switched (v5, v9) and
// IPFIX's flowStart*/flowEnd* Seconds, Milliseconds, Microseconds and
// Nanoseconds ISO 8601 times computed as Logstash computes them (for v9
// that is the export second plus one second minus the milliseconds of the
// uptime difference, Logstash's formula, kept so that events match).
//
// The built-in tables name the common field types; a field type not in
// them is decoded as an unsigned integer named field_<type> (v9),
// ie_<type> or enterprise_<PEN>_ie_<type> (IPFIX), where Logstash would drop
// the whole template. netflow_definitions and ipfix_definitions name more,
// in Logstash's YAML layout ("<type>: [<kind>, <name>]" for v9,
// "<enterprise>: {<type>: [<kind>, <name>]}" for IPFIX; kinds uint8 to
// uint64, int8 to int64, ip4_addr, ip6_addr, mac_addr, string, octetarray,
// float, double, skip, acl_id_asa, forwarding_status, application_id,
// mpls_label_stack_octets, or a byte length).
//
// Templates (v9 template and options template flowsets, IPFIX template and
// options template sets) are cached per codec, keyed by version, source id
// (observation domain for IPFIX) and template id, for cache_ttl seconds
// after they were last received; data flowsets without a template are
// dropped with a warning until it arrives. At most MaxTemplates are held: a
// new one beyond that is dropped with a warning once the expired ones are
// gone. With cache_save_path the templates are written to
// netflow_templates.cache and ipfix_templates.cache in that directory when
// they change and read back at the first packet after a start (the file
// names are Logstash's, the content is this codec's own JSON).
//
// Failure semantics: a packet of a version not in versions, or one whose
// structure is broken (truncated, a flowset length out of bounds), gives no
// event and a warning, as in Logstash; a data flowset that does not fit its
// template gives no event for that flowset. Decode returns an error only
// when reading the datagram fails.
package netflow

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
)

func init() { engine.RegisterCodec("netflow", New) }

// Budgets on what an exporter can make the codec hold or do.
const (
	// MaxPacketBytes is the most bytes read of one packet (the largest UDP
	// payload); the rest is ignored.
	MaxPacketBytes = 65535
	// MaxTemplates is the most templates cached, all exporters together.
	MaxTemplates = 10000
	// MaxTemplateFields is the most fields a template may have; a longer
	// one is dropped with a warning.
	MaxTemplateFields = 512
	// MaxRecordsPerPacket is the most events one packet gives.
	MaxRecordsPerPacket = 8192
	// MaxCacheFileBytes is the largest template cache file written or read
	// back (room for MaxTemplates templates of about 150 fields); a larger
	// one is not written, and refused with an error when read.
	MaxCacheFileBytes = 32 << 20
)

// Options configures the netflow codec.
type Options struct {
	// Versions are the NetFlow versions accepted (5, 9 and 10 for IPFIX);
	// packets of the others are dropped with a warning.
	Versions []int `hcl:"versions,optional"`
	// Target is the field the flow fields go under.
	Target string `hcl:"target,optional"`
	// IncludeFlowsetID adds flowset_id to IPFIX events (v9 events always
	// have it).
	IncludeFlowsetID bool `hcl:"include_flowset_id,optional"`
	// CacheTTL is how long, in seconds, a v9 or IPFIX template is kept
	// after it was last received.
	CacheTTL int `hcl:"cache_ttl,optional"`
	// CacheSavePath is a directory where templates are saved, so that after
	// a restart flows are decoded before the exporters resend them.
	CacheSavePath string `hcl:"cache_save_path,optional"`
	// NetflowDefinitions is a YAML file of NetFlow v9 field definitions
	// that add to or override the built-in ones.
	NetflowDefinitions string `hcl:"netflow_definitions,optional"`
	// IpfixDefinitions is a YAML file of IPFIX field definitions, by
	// enterprise number, that add to or override the built-in ones.
	IpfixDefinitions string `hcl:"ipfix_definitions,optional"`
}

// Defaults sets Logstash's defaults.
func (o *Options) Defaults() {
	o.Versions = []int{5, 9, 10}
	o.Target = "netflow"
	o.CacheTTL = 4000
}

// Validate checks the options and reads the definitions files.
func (o *Options) Validate() error {
	for _, v := range o.Versions {
		if v != 5 && v != 9 && v != 10 {
			return &engine.FieldError{Field: "versions", Err: fmt.Errorf("unsupported version %d: want 5, 9 or 10", v)}
		}
	}
	if _, err := event.ParseRef(o.Target); err != nil || o.Target == "" {
		if err == nil {
			err = errors.New("must not be empty")
		}
		return &engine.FieldError{Field: "target", Err: err}
	}
	if o.CacheTTL < 1 {
		return &engine.FieldError{Field: "cache_ttl", Err: errors.New("must be at least 1")}
	}
	if o.CacheSavePath != "" {
		st, err := os.Stat(o.CacheSavePath)
		if err != nil {
			return &engine.FieldError{Field: "cache_save_path", Err: fmt.Errorf("the directory is missing or unreadable: %v", err)}
		}
		if !st.IsDir() {
			return &engine.FieldError{Field: "cache_save_path", Err: fmt.Errorf("%s is not a directory", o.CacheSavePath)}
		}
	}
	_, err := o.definitions()
	return err
}

func (o *Options) definitions() (*definitions, error) {
	d := builtinDefinitions()
	if o.NetflowDefinitions != "" {
		if err := d.loadV9(o.NetflowDefinitions); err != nil {
			return nil, &engine.FieldError{Field: "netflow_definitions", Err: err}
		}
	}
	if o.IpfixDefinitions != "" {
		if err := d.loadIPFIX(o.IpfixDefinitions); err != nil {
			return nil, &engine.FieldError{Field: "ipfix_definitions", Err: err}
		}
	}
	return d, nil
}

// Codec is the netflow codec. It is safe for concurrent use: the udp input's
// workers share its template cache.
type Codec struct {
	versions  [11]bool
	target    event.Ref
	flowsetID bool
	defs      *definitions
	log       *slog.Logger
	cache     *templateCache
	now       func() time.Time
}

var _ engine.Codec = (*Codec)(nil)

// New builds a netflow codec.
func New(o Options, r engine.Resources) (*Codec, error) {
	defs, err := o.definitions()
	if err != nil {
		return nil, err
	}
	log := r.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &Codec{target: event.MustRef(o.Target), flowsetID: o.IncludeFlowsetID, defs: defs, log: log, now: time.Now}
	for _, v := range o.Versions {
		c.versions[v] = true
	}
	c.cache = &templateCache{ttl: time.Duration(o.CacheTTL) * time.Second, m: map[tmplKey]*template{}, log: log}
	if o.CacheSavePath != "" {
		c.cache.dir = o.CacheSavePath
	}
	return c, nil
}

// NewDecoder returns a decoder of the packet r holds.
func (c *Codec) NewDecoder(r io.Reader) engine.Decoder { return &decoder{c: c, r: r} }

type decoder struct {
	c      *Codec
	r      io.Reader
	read   bool
	events []*event.Event
}

// Decode returns the next flow record's event, io.EOF after the last.
func (d *decoder) Decode() (*event.Event, error) {
	if !d.read {
		d.read = true
		b, err := io.ReadAll(io.LimitReader(d.r, MaxPacketBytes))
		if err != nil {
			return nil, err
		}
		d.events = d.c.decodePacket(b)
	}
	if len(d.events) == 0 {
		return nil, io.EOF
	}
	e := d.events[0]
	d.events[0] = nil
	d.events = d.events[1:]
	return e, nil
}

// NewEncoder returns an encoder that refuses every event: Logstash's
// netflow codec does not encode either.
func (c *Codec) NewEncoder(io.Writer) engine.Encoder { return refuse{} }

type refuse struct{}

func (refuse) Encode(*event.Event) error {
	return errors.New("netflow: the codec only decodes")
}

// tmplKey names a template: NetFlow version, source id or observation
// domain, template id.
type tmplKey struct {
	Version uint16
	Domain  uint32
	ID      uint16
}

// tfield is one field of a template as received.
type tfield struct {
	Enterprise uint32 `json:"e,omitempty"`
	Type       uint16 `json:"t"`
	Length     uint16 `json:"l"`
	Scope      bool   `json:"s,omitempty"` // a v9 options template scope field
}

type template struct {
	fields  []tfield
	defs    []def
	fixed   int // record length, or -1 when a field has a variable length
	min     int // shortest record
	expires time.Time
}

// templateCache holds the templates of every exporter.
type templateCache struct {
	mu   sync.Mutex
	m    map[tmplKey]*template
	ttl  time.Duration
	log  *slog.Logger
	dir  string
	load sync.Once
	// Saving writes files, which may be slow: it is done outside mu, one
	// save at a time (saveMu), a save of an older generation of the
	// templates than the last one written skipped.
	saveMu        sync.Mutex
	gen, savedGen uint64 // gen: mu; savedGen: saveMu
}

func (tc *templateCache) get(k tmplKey, now time.Time) *template {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	t := tc.m[k]
	if t == nil || now.After(t.expires) {
		return nil
	}
	return t
}

// put caches t under k and reports whether it was kept.
func (tc *templateCache) put(k tmplKey, t *template, now time.Time) bool {
	kept, snap, gen := tc.putLocked(k, t, now)
	if snap != nil {
		tc.save(snap, gen)
	}
	return kept
}

// putLocked caches t; when the cache file must change, it returns what to
// save and its generation.
func (tc *templateCache) putLocked(k tmplKey, t *template, now time.Time) (bool, map[uint16][]savedTemplate, uint64) {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	t.expires = now.Add(tc.ttl)
	old, had := tc.m[k]
	if !had && len(tc.m) >= MaxTemplates {
		for key, v := range tc.m {
			if now.After(v.expires) {
				delete(tc.m, key)
			}
		}
		if len(tc.m) >= MaxTemplates {
			return false, nil, 0
		}
	}
	tc.m[k] = t
	if tc.dir != "" && (!had || !slices.Equal(old.fields, t.fields)) {
		tc.gen++
		return true, tc.snapshotLocked(now), tc.gen
	}
	return true, nil, 0
}

func (tc *templateCache) drop(k tmplKey) {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	delete(tc.m, k)
}

// savedTemplate is one template in a cache file.
type savedTemplate struct {
	Domain uint32   `json:"domain"`
	ID     uint16   `json:"id"`
	Fields []tfield `json:"fields"`
}

func cacheFile(dir string, version uint16) string {
	if version == 10 {
		return filepath.Join(dir, "ipfix_templates.cache")
	}
	return filepath.Join(dir, "netflow_templates.cache")
}
