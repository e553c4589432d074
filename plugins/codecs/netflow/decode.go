package netflow

import (
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/pipelined/pipeline/engine/event"
)

var errTruncated = errors.New("truncated")

// reader reads big-endian fields from a packet, failing once past its end.
type reader struct {
	b   []byte
	err error
}

func (r *reader) bytes(n int) []byte {
	if r.err != nil || n < 0 || n > len(r.b) {
		r.err = errTruncated
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) u8() uint8 {
	if b := r.bytes(1); b != nil {
		return b[0]
	}
	return 0
}

func (r *reader) u16() uint16 {
	if b := r.bytes(2); b != nil {
		return binary.BigEndian.Uint16(b)
	}
	return 0
}

func (r *reader) u32() uint32 {
	if b := r.bytes(4); b != nil {
		return binary.BigEndian.Uint32(b)
	}
	return 0
}

// decodePacket returns the events of one export packet.
func (c *Codec) decodePacket(b []byte) []*event.Event {
	if len(b) < 2 {
		c.log.Warn("netflow: invalid packet received (shorter than a header)")
		return nil
	}
	c.cache.loadOnce(c)
	version := binary.BigEndian.Uint16(b)
	if int(version) >= len(c.versions) || !c.versions[version] {
		c.log.Warn("netflow: ignoring packet of an unaccepted version", "version", version)
		return nil
	}
	var (
		evs []*event.Event
		err error
	)
	switch version {
	case 5:
		evs, err = c.decodeV5(b)
	case 9:
		evs, err = c.decodeV9(b)
	case 10:
		evs, err = c.decodeIPFIX(b)
	}
	if err != nil {
		c.log.Warn("netflow: invalid packet received", "version", version, "error", err)
		return nil
	}
	return evs
}

func (c *Codec) newEvent(ts time.Time, fields map[string]any) *event.Event {
	e := event.NewAt(ts)
	_ = e.Set(c.target, fields)
	return e
}

// iso8601 formats t as Logstash 8's Timestamp#to_iso8601 does: UTC,
// milliseconds, or micro- or nanoseconds when they are not zero.
func iso8601(t time.Time) string {
	t = t.UTC()
	switch ns := t.Nanosecond(); {
	case ns%1e6 == 0:
		return t.Format("2006-01-02T15:04:05.000Z")
	case ns%1e3 == 0:
		return t.Format("2006-01-02T15:04:05.000000Z")
	default:
		return t.Format("2006-01-02T15:04:05.000000000Z")
	}
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

func floorMod(a, b int64) int64 { return a - floorDiv(a, b)*b }

// v5 record layout, 48 bytes.
const v5HeaderLen, v5RecordLen = 24, 48

func (c *Codec) decodeV5(b []byte) ([]*event.Event, error) {
	r := &reader{b: b}
	r.u16()
	count := r.u16()
	uptime := r.u32()
	sec := r.u32()
	nsec := r.u32()
	seq := r.u32()
	engType := r.u8()
	engID := r.u8()
	sampling := r.u16()
	if r.err != nil {
		return nil, r.err
	}
	if count < 1 || count > 30 {
		return nil, fmt.Errorf("flow_records %d is not between 1 and 30", count)
	}
	if len(r.b) < int(count)*v5RecordLen {
		return nil, fmt.Errorf("%d records announced, %d bytes of records present", count, len(r.b))
	}
	ts := time.Unix(int64(sec), int64(nsec/1000)*1000)
	switched := func(v uint32) string {
		millis := int64(uptime) - int64(v)
		s := int64(sec) - floorDiv(millis, 1000)
		micros := int64(nsec/1000) - floorMod(millis, 1000)*1000
		if micros < 0 {
			s--
			micros += 1e6
		}
		return iso8601(time.Unix(s, micros*1000))
	}
	ip4 := func(x []byte) string { return netip.AddrFrom4([4]byte(x)).String() }
	evs := make([]*event.Event, 0, count)
	for range count {
		rec := r.bytes(v5RecordLen)
		be := binary.BigEndian
		f := map[string]any{
			"version": int64(5), "flow_seq_num": int64(seq), "engine_type": int64(engType), "engine_id": int64(engID),
			"sampling_algorithm": int64(sampling >> 14), "sampling_interval": int64(sampling & 0x3fff), "flow_records": int64(count),
			"ipv4_src_addr": ip4(rec[0:4]), "ipv4_dst_addr": ip4(rec[4:8]), "ipv4_next_hop": ip4(rec[8:12]),
			"input_snmp": int64(be.Uint16(rec[12:])), "output_snmp": int64(be.Uint16(rec[14:])),
			"in_pkts": int64(be.Uint32(rec[16:])), "in_bytes": int64(be.Uint32(rec[20:])),
			"first_switched": switched(be.Uint32(rec[24:])), "last_switched": switched(be.Uint32(rec[28:])),
			"l4_src_port": int64(be.Uint16(rec[32:])), "l4_dst_port": int64(be.Uint16(rec[34:])),
			"tcp_flags": int64(rec[37]), "protocol": int64(rec[38]), "src_tos": int64(rec[39]),
			"src_as": int64(be.Uint16(rec[40:])), "dst_as": int64(be.Uint16(rec[42:])),
			"src_mask": int64(rec[44]), "dst_mask": int64(rec[45]),
		}
		evs = append(evs, c.newEvent(ts, f))
	}
	return evs, nil
}

// flowset is one v9 flowset or IPFIX set.
type flowset struct {
	id   uint16
	data []byte
}

// v9 options template scope field names, by scope type.
var v9Scopes = map[uint16]string{1: "scope_system", 2: "scope_interface", 3: "scope_line_card", 4: "scope_netflow_cache", 5: "scope_template"}

// parsedTemplate is a template as read from a packet, before caching.
type parsedTemplate struct {
	id     uint16
	fields []tfield
}

func (c *Codec) decodeV9(b []byte) ([]*event.Event, error) {
	r := &reader{b: b}
	r.u16()
	r.u16() // count: not trusted, the flowsets are read to the end
	uptime := r.u32()
	sec := r.u32()
	seq := r.u32()
	source := r.u32()
	if r.err != nil {
		return nil, r.err
	}
	// The whole packet is checked before anything is decoded, as Logstash
	// reads the PDU whole before yielding events.
	var sets []flowset
	var tmpls [][]parsedTemplate
	for len(r.b) > 0 {
		if len(r.b) < 4 {
			break // padding
		}
		id, length := r.u16(), r.u16()
		if id > 1 && id < 256 {
			return nil, fmt.Errorf("flowset id %d is reserved", id)
		}
		if length != 0 && length <= 4 {
			return nil, fmt.Errorf("flowset length %d", length)
		}
		var data []byte
		if length == 0 {
			if id >= 256 {
				return nil, errors.New("data flowset of length 0")
			}
			data = r.bytes(len(r.b)) // a template flowset to the end
		} else {
			data = r.bytes(int(length) - 4)
		}
		if r.err != nil {
			return nil, fmt.Errorf("flowset %d: %w", id, r.err)
		}
		var ts []parsedTemplate
		var err error
		switch id {
		case 0:
			ts, err = parseV9Templates(data)
		case 1:
			ts, err = parseV9Options(data)
		}
		if err != nil {
			return nil, fmt.Errorf("template flowset: %w", err)
		}
		sets = append(sets, flowset{id, data})
		tmpls = append(tmpls, ts)
	}
	now := c.now()
	var evs []*event.Event
	for i, s := range sets {
		if s.id < 256 {
			for _, t := range tmpls[i] {
				c.register(tmplKey{9, source, t.id}, t.fields, now)
			}
			continue
		}
		t := c.cache.get(tmplKey{9, source, s.id}, now)
		if t == nil {
			c.log.Warn("netflow: cannot (yet) decode a v9 flowset: no template received for it", "flowset_id", s.id, "source_id", source)
			continue
		}
		if t.fixed > len(s.data) {
			c.log.Warn("netflow: template length exceeds flowset length, skipping", "flowset_id", s.id, "template_length", t.fixed, "record_length", len(s.data))
			continue
		}
		recs, err := c.records(t, s.data, 9)
		if err != nil {
			c.log.Warn("netflow: invalid v9 record", "flowset_id", s.id, "source_id", source, "error", err)
			continue
		}
		for _, f := range recs {
			if len(evs) >= MaxRecordsPerPacket {
				break
			}
			f["version"], f["flow_seq_num"], f["flowset_id"] = int64(9), int64(seq), int64(s.id)
			for k, v := range f {
				if n, ok := v.(uint64); ok && strings.HasSuffix(k, "_switched") {
					millis := int64(uptime) - int64(n)
					secs := int64(sec) - floorDiv(millis, 1000)
					micros := 1000000 - floorMod(millis, 1000)*1000
					f[k] = iso8601(time.Unix(secs, micros*1000))
				}
			}
			evs = append(evs, c.newEvent(time.Unix(int64(sec), 0), f))
		}
	}
	return evs, nil
}

// parseV9Templates reads the templates of a v9 template flowset.
func parseV9Templates(data []byte) ([]parsedTemplate, error) {
	r := &reader{b: data}
	var out []parsedTemplate
	for len(r.b) >= 4 {
		id, n := r.u16(), r.u16()
		if n > MaxTemplateFields {
			return nil, fmt.Errorf("template %d has %d fields, over %d", id, n, MaxTemplateFields)
		}
		t := parsedTemplate{id: id}
		for range n {
			t.fields = append(t.fields, tfield{Type: r.u16(), Length: r.u16()})
		}
		if r.err != nil {
			return nil, fmt.Errorf("template %d: %w", id, r.err)
		}
		out = append(out, t)
	}
	return out, nil
}

// parseV9Options reads the options template of a v9 options flowset (one per
// flowset: the rest is padding, as Logstash reads it).
func parseV9Options(data []byte) ([]parsedTemplate, error) {
	r := &reader{b: data}
	id, scopeLen, optLen := r.u16(), r.u16(), r.u16()
	if r.err != nil {
		return nil, r.err
	}
	if scopeLen == 0 || optLen == 0 {
		return nil, fmt.Errorf("options template %d: scope length %d, option length %d", id, scopeLen, optLen)
	}
	if int(scopeLen/4+optLen/4) > MaxTemplateFields {
		return nil, fmt.Errorf("options template %d has over %d fields", id, MaxTemplateFields)
	}
	t := parsedTemplate{id: id}
	for range scopeLen / 4 {
		t.fields = append(t.fields, tfield{Type: r.u16(), Length: r.u16(), Scope: true})
	}
	for range optLen / 4 {
		f := tfield{Type: r.u16(), Length: r.u16()}
		if f.Length == 0 && r.err == nil {
			return nil, fmt.Errorf("options template %d: option field %d of length 0", id, f.Type)
		}
		t.fields = append(t.fields, f)
	}
	if r.err != nil {
		return nil, fmt.Errorf("options template %d: %w", id, r.err)
	}
	return []parsedTemplate{t}, nil
}

func (c *Codec) decodeIPFIX(b []byte) ([]*event.Event, error) {
	r := &reader{b: b}
	r.u16()
	length := r.u16()
	sec := r.u32()
	r.u32() // sequence number
	domain := r.u32()
	if r.err != nil {
		return nil, r.err
	}
	if int(length) < 16 || int(length) > len(b) {
		return nil, fmt.Errorf("message length %d, %d bytes received", length, len(b))
	}
	r.b = b[16:length]
	var sets []flowset
	var tmpls [][]parsedTemplate
	for len(r.b) > 0 {
		id, slen := r.u16(), r.u16()
		if r.err != nil {
			return nil, r.err
		}
		if id < 2 || (id > 3 && id < 256) {
			return nil, fmt.Errorf("set id %d is reserved", id)
		}
		if slen <= 4 {
			return nil, fmt.Errorf("set length %d", slen)
		}
		data := r.bytes(int(slen) - 4)
		if r.err != nil {
			return nil, fmt.Errorf("set %d: %w", id, r.err)
		}
		var ts []parsedTemplate
		var err error
		switch id {
		case 2:
			ts, err = parseIPFIXTemplates(data, false)
		case 3:
			ts, err = parseIPFIXTemplates(data, true)
		}
		if err != nil {
			return nil, fmt.Errorf("template set: %w", err)
		}
		sets = append(sets, flowset{id, data})
		tmpls = append(tmpls, ts)
	}
	now := c.now()
	var evs []*event.Event
	for i, s := range sets {
		if s.id < 256 {
			for _, t := range tmpls[i] {
				if len(t.fields) == 0 { // a template withdrawal
					c.cache.drop(tmplKey{10, domain, t.id})
					continue
				}
				c.register(tmplKey{10, domain, t.id}, t.fields, now)
			}
			continue
		}
		t := c.cache.get(tmplKey{10, domain, s.id}, now)
		if t == nil {
			c.log.Warn("netflow: cannot (yet) decode an IPFIX set: no template received for it", "flowset_id", s.id, "observation_domain_id", domain)
			continue
		}
		recs, err := c.records(t, s.data, 10)
		if err != nil {
			c.log.Warn("netflow: invalid IPFIX record", "flowset_id", s.id, "observation_domain_id", domain, "error", err)
			continue
		}
		for _, f := range recs {
			if len(evs) >= MaxRecordsPerPacket {
				break
			}
			f["version"] = int64(10)
			if c.flowsetID {
				f["flowset_id"] = int64(s.id)
			}
			for k, v := range f {
				if n, ok := v.(uint64); ok {
					if s, ok := ipfixTime(k, n); ok {
						f[k] = s
					}
				}
			}
			evs = append(evs, c.newEvent(time.Unix(int64(sec), 0), f))
		}
	}
	return evs, nil
}

// ntpEpoch is 1900-01-01 in Unix seconds.
const ntpEpoch = -2208988800

// ipfixTime converts IPFIX's flowStart*/flowEnd* fields as Logstash does.
func ipfixTime(name string, v uint64) (string, bool) {
	rest, ok := strings.CutPrefix(name, "flowStart")
	if !ok {
		rest, ok = strings.CutPrefix(name, "flowEnd")
	}
	if !ok {
		return "", false
	}
	switch rest {
	case "Seconds":
		return iso8601(time.Unix(int64(v), 0)), true
	case "Milliseconds":
		return iso8601(time.Unix(int64(v/1000), int64(v%1000)*1e6)), true
	case "Microseconds", "Nanoseconds":
		frac := float64(v&0xffffffff) / (1 << 32)
		return iso8601(time.Unix(ntpEpoch+int64(v>>32), int64(frac*1e6)*1000)), true
	}
	return "", false
}

// parseIPFIXTemplates reads the templates of an IPFIX template set, or the
// options template of an options template set.
func parseIPFIXTemplates(data []byte, options bool) ([]parsedTemplate, error) {
	r := &reader{b: data}
	var out []parsedTemplate
	for len(r.b) > 3 { // shorter: padding
		id, n := r.u16(), r.u16()
		var scopes uint16
		if options {
			scopes = r.u16()
			if scopes == 0 && n > 0 {
				return nil, fmt.Errorf("options template %d has no scope field", id)
			}
		}
		if n > MaxTemplateFields {
			return nil, fmt.Errorf("template %d has %d fields, over %d", id, n, MaxTemplateFields)
		}
		t := parsedTemplate{id: id}
		for range n {
			f := tfield{Type: r.u16(), Length: r.u16()}
			if f.Type&0x8000 != 0 {
				f.Type &= 0x7fff
				f.Enterprise = r.u32()
			}
			t.fields = append(t.fields, f)
		}
		if r.err != nil {
			return nil, fmt.Errorf("template %d: %w", id, r.err)
		}
		out = append(out, t)
		if options {
			break // the rest of the set is padding, as Logstash reads it
		}
	}
	return out, nil
}

// register compiles fields into a template and caches it.
func (c *Codec) register(k tmplKey, fields []tfield, now time.Time) {
	t := c.compile(k.Version, fields)
	if t == nil {
		c.log.Warn("netflow: template dropped: it has no field", "template_id", k.ID, "source_id", k.Domain)
		return
	}
	if !c.cache.put(k, t, now) {
		c.log.Warn("netflow: template dropped: the template cache is full", "template_id", k.ID, "source_id", k.Domain, "max_templates", MaxTemplates)
	}
}

func (c *Codec) compile(version uint16, fields []tfield) *template {
	t := &template{}
	for _, f := range fields {
		var d def
		switch {
		case version == 9 && f.Scope:
			d = def{kUint, v9Scopes[f.Type]}
			if d.name == "" {
				d.k = kSkip
			}
		case version == 9:
			if f.Length == 0 {
				continue // as Logstash: a zero-length field is left out
			}
			d = c.defs.v9Field(f.Type)
		default:
			d = c.defs.ipfixField(f.Enterprise, f.Type)
		}
		t.fields = append(t.fields, f)
		t.defs = append(t.defs, d)
		if f.Length == 65535 {
			t.fixed = -1
			t.min++
		} else {
			if t.fixed >= 0 {
				t.fixed += int(f.Length)
			}
			t.min += int(f.Length)
		}
	}
	if t.min == 0 {
		return nil // a record of no bytes would never end a flowset
	}
	return t
}

// records decodes the data records of a flowset with template t; trailing
// bytes shorter than a record are padding.
func (c *Codec) records(t *template, data []byte, version uint16) ([]map[string]any, error) {
	r := &reader{b: data}
	var out []map[string]any
	for len(r.b) >= t.min && len(out) < MaxRecordsPerPacket {
		f := make(map[string]any, len(t.fields)+3)
		for i, tf := range t.fields {
			n := int(tf.Length)
			if n == 65535 {
				n = int(r.u8())
				if n == 255 {
					n = int(r.u16())
				}
			}
			b := r.bytes(n)
			if r.err != nil {
				return out, r.err
			}
			d := t.defs[i]
			if v, ok := value(d.k, b); ok && d.name != "" {
				f[d.name] = v
			}
		}
		out = append(out, f)
	}
	return out, nil
}

// value converts the bytes of one field.
func value(k kind, b []byte) (any, bool) {
	switch k {
	case kSkip:
		return nil, false
	case kUint:
		if len(b) == 0 {
			return nil, false
		}
		if len(b) > 8 {
			return new(big.Int).SetBytes(b), true
		}
		var u uint64
		for _, x := range b {
			u = u<<8 | uint64(x)
		}
		return u, true
	case kInt:
		if len(b) == 0 || len(b) > 8 {
			return hex.EncodeToString(b), len(b) > 0
		}
		var u uint64
		for _, x := range b {
			u = u<<8 | uint64(x)
		}
		shift := 64 - 8*uint(len(b))
		return int64(u<<shift) >> shift, true
	case kIP4:
		if len(b) == 4 {
			return netip.AddrFrom4([4]byte(b)).String(), true
		}
		if len(b) == 16 {
			return netip.AddrFrom16([16]byte(b)).String(), true
		}
	case kIP6:
		if len(b) == 16 {
			return netip.AddrFrom16([16]byte(b)).String(), true
		}
		if len(b) == 4 {
			return netip.AddrFrom4([4]byte(b)).String(), true
		}
	case kMAC:
		if len(b) == 0 {
			return nil, false
		}
		parts := make([]string, len(b))
		for i, x := range b {
			parts[i] = fmt.Sprintf("%02x", x)
		}
		return strings.Join(parts, ":"), true
	case kString:
		s := strings.TrimRight(string(b), "\x00")
		if !utf8.ValidString(s) {
			s = strings.ToValidUTF8(s, "?")
		}
		return s, true
	case kFloat:
		switch len(b) {
		case 4:
			return float64(math.Float32frombits(binary.BigEndian.Uint32(b))), true
		case 8:
			return math.Float64frombits(binary.BigEndian.Uint64(b)), true
		}
	case kACLASA:
		if len(b) == 12 {
			h := hex.EncodeToString(b)
			return h[0:8] + "-" + h[8:16] + "-" + h[16:24], true
		}
	case kFwdStatus:
		if len(b) > 0 {
			return map[string]any{"status": int64(b[0] >> 6), "reason": int64(b[0] & 0x3f)}, true
		}
		return nil, false
	case kAppID:
		if len(b) >= 2 {
			if b[0] == 20 && len(b) >= 7 {
				pen := binary.BigEndian.Uint32(b[1:5])
				return fmt.Sprintf("20..%d..%s", pen, new(big.Int).SetBytes(b[5:]).String()), true
			}
			return strconv.Itoa(int(b[0])) + ".." + new(big.Int).SetBytes(b[1:]).String(), true
		}
	case kMPLS:
		if len(b) >= 3 {
			v := uint32(b[0])<<16 | uint32(b[1])<<8 | uint32(b[2])
			m := map[string]any{"label": int64(v >> 4), "experimental": int64(v >> 1 & 7), "bottom_of_stack": int64(v & 1), "ttl": int64(0)}
			if len(b) >= 4 {
				m["ttl"] = int64(b[3])
			}
			return m, true
		}
	}
	// A length the kind cannot hold: the bytes in hex.
	if len(b) == 0 {
		return nil, false
	}
	return hex.EncodeToString(b), true
}

// loadOnce reads the saved templates at the first packet after a start.
// The other workers' first packets wait for it (sync.Once): were they to
// go on, they would drop the records of the saved templates, and the
// templates they learn could be replaced by older saved ones.
func (tc *templateCache) loadOnce(c *Codec) {
	if tc.dir == "" {
		return
	}
	tc.load.Do(func() { tc.loadFiles(c) })
}

func (tc *templateCache) loadFiles(c *Codec) {
	now := c.now()
	for _, v := range []uint16{9, 10} {
		path := cacheFile(tc.dir, v)
		b, err := os.ReadFile(path)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		var saved []savedTemplate
		if err == nil && len(b) > MaxCacheFileBytes {
			err = fmt.Errorf("over %d bytes (MaxCacheFileBytes)", MaxCacheFileBytes)
		}
		if err == nil {
			err = json.Unmarshal(b, &saved)
		}
		if err != nil {
			tc.log.Error("netflow: the template cache could not be loaded", "file", path, "error", err)
			continue
		}
		for _, s := range saved {
			if len(s.Fields) > MaxTemplateFields {
				continue
			}
			if t := c.compile(v, s.Fields); t != nil {
				tc.mu.Lock()
				if len(tc.m) < MaxTemplates {
					t.expires = now.Add(tc.ttl)
					tc.m[tmplKey{v, s.Domain, s.ID}] = t
				}
				tc.mu.Unlock()
			}
		}
	}
}

// snapshotLocked is what save writes: the live templates of both kinds;
// tc.mu is held.
func (tc *templateCache) snapshotLocked(now time.Time) map[uint16][]savedTemplate {
	byVersion := map[uint16][]savedTemplate{9: {}, 10: {}}
	for k, t := range tc.m {
		if now.After(t.expires) {
			continue
		}
		byVersion[k.Version] = append(byVersion[k.Version], savedTemplate{Domain: k.Domain, ID: k.ID, Fields: t.fields})
	}
	return byVersion
}

// save writes a snapshot of generation gen to the cache files, without
// tc.mu: decoding goes on while the disk is slow. Saves are one at a time,
// and one older than the last written is skipped.
func (tc *templateCache) save(byVersion map[uint16][]savedTemplate, gen uint64) {
	tc.saveMu.Lock()
	defer tc.saveMu.Unlock()
	if gen <= tc.savedGen {
		return
	}
	tc.savedGen = gen
	for v, list := range byVersion {
		path := cacheFile(tc.dir, v)
		b, _ := json.Marshal(list)
		if len(b) > MaxCacheFileBytes {
			tc.log.Error("netflow: the template cache was not saved: it would be over MaxCacheFileBytes", "file", path, "bytes", len(b), "max_bytes", MaxCacheFileBytes)
			continue
		}
		tmp := path + ".tmp"
		if err := os.WriteFile(tmp, b, 0o600); err != nil {
			tc.log.Error("netflow: the template cache could not be saved", "file", path, "error", err)
			continue
		}
		if err := os.Rename(tmp, path); err != nil {
			tc.log.Error("netflow: the template cache could not be saved", "file", path, "error", err)
		}
	}
}
