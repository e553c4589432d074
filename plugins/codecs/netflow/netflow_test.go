package netflow

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/plugins/internal/testkit/plugintest"
)

// Packet builders: each test writes its packets byte by byte.

type buf struct{ bytes.Buffer }

func (b *buf) u8(v ...uint8) *buf { b.Write(v); return b }
func (b *buf) u16(v ...uint16) *buf {
	for _, x := range v {
		b.Write(binary.BigEndian.AppendUint16(nil, x))
	}
	return b
}
func (b *buf) u32(v ...uint32) *buf {
	for _, x := range v {
		b.Write(binary.BigEndian.AppendUint32(nil, x))
	}
	return b
}
func (b *buf) raw(p []byte) *buf { b.Write(p); return b }

// v5Packet: header (uptime 1000000 ms, 2015-05-02T18:38:08.280328Z) and
// two records.
func v5Packet() []byte {
	var b buf
	b.u16(5, 2).u32(1000000, 1430591888, 280328000, 7).u8(1, 2).u16(1<<14 | 100)
	rec := func(src, dst [4]byte, sport, dport uint16, pkts, octets uint32, flags uint8) {
		b.raw(src[:]).raw(dst[:]).raw([]byte{0, 0, 0, 0}).u16(3, 4).u32(pkts, octets)
		b.u32(999806, 1000000) // first 194 ms before the header, last at it
		b.u16(sport, dport).u8(0, flags, 6, 0).u16(65000, 0).u8(24, 0).u16(0)
	}
	rec([4]byte{10, 0, 2, 2}, [4]byte{10, 0, 2, 15}, 54435, 22, 5, 230, 16)
	rec([4]byte{10, 0, 2, 15}, [4]byte{10, 0, 2, 2}, 22, 54435, 4, 304, 24)
	return b.Bytes()
}

// v9Header: uptime 100000 ms, 2015-10-08T19:03:47Z.
func v9Header(b *buf, count uint16, source uint32) {
	b.u16(9, count).u32(100000, 1444331027, 42, source)
}

// v9Template: template 256: ipv4 src/dst, ports, protocol, bytes,
// first/last switched, a zero-length field (left out) and one the tables do
// not name (type 1000).
func v9Template(b *buf) {
	fields := [][2]uint16{{8, 4}, {12, 4}, {7, 2}, {11, 2}, {4, 1}, {1, 4}, {22, 4}, {21, 4}, {10, 0}, {1000, 2}}
	b.u16(0, uint16(4+4+4*len(fields)), 256, uint16(len(fields)))
	for _, f := range fields {
		b.u16(f[0], f[1])
	}
}

func v9Data(b *buf, records int) {
	const rec = 4 + 4 + 2 + 2 + 1 + 4 + 4 + 4 + 2
	pad := (4 - (4+records*rec)%4) % 4
	b.u16(256, uint16(4+records*rec+pad))
	for i := range records {
		b.raw([]byte{192, 168, 0, byte(i + 1)}).raw([]byte{10, 0, 0, 1}).u16(40000+uint16(i), 443).u8(6)
		b.u32(1500, 99860, 99859).u16(7)
	}
	b.raw(make([]byte, pad))
}

func v9Packets() (template, data, both []byte) {
	var t, d, x buf
	v9Header(&t, 1, 1)
	v9Template(&t)
	v9Header(&d, 2, 1)
	v9Data(&d, 2)
	v9Header(&x, 2, 1)
	v9Template(&x)
	v9Data(&x, 1)
	return t.Bytes(), d.Bytes(), x.Bytes()
}

// v9Options: an options template (scope system, option sampling interval
// and algorithm) and a record of it.
func v9Options() []byte {
	var b buf
	v9Header(&b, 2, 1)
	b.u16(1, 4+6+4+8+2, 300, 4, 8).u16(1, 4).u16(34, 4, 35, 1).u16(0)
	b.u16(300, 4+9+3).raw([]byte{10, 0, 0, 9}).u32(100).u8(2).raw([]byte{0, 0, 0})
	return b.Bytes()
}

// ipfixPacket: 2016-07-21T13:30:00Z, domain 7; a template set (template
// 257: sourceIPv4Address, destinationIPv6Address, octetDeltaCount in 4
// bytes (reduced size), flowStartMilliseconds, a variable-length
// interfaceName, an enterprise field) and a data set of two records with
// padding.
func ipfixPacket() []byte {
	var sets buf
	fields := [][2]uint16{{8, 4}, {28, 16}, {1, 4}, {152, 8}, {82, 65535}, {0x8000 | 12, 2}}
	sets.u16(2, uint16(4+4+4*len(fields)+4), 257, uint16(len(fields)))
	for _, f := range fields {
		sets.u16(f[0], f[1])
		if f[0]&0x8000 != 0 {
			sets.u32(9) // Cisco's enterprise number
		}
	}
	var data buf
	for i, name := range []string{"eth0", "wan-uplink"} {
		data.raw([]byte{172, 16, 0, byte(i + 1)}).raw(append([]byte{0x20, 0x01, 0x0d, 0xb8}, make([]byte, 12)...))
		data.u32(uint32(1000*(i+1)), 1469107799000>>32, 1469107799000&0xffffffff)
		data.u8(uint8(len(name))).raw([]byte(name)).u16(uint16(i))
	}
	data.raw([]byte{0, 0})
	sets.u16(257, uint16(4+data.Len())).raw(data.Bytes())
	var b buf
	b.u16(10, uint16(16+sets.Len())).u32(1469107800, 3, 7).raw(sets.Bytes())
	return b.Bytes()
}

func decodeAll(c *Codec, packets ...[]byte) string {
	var out strings.Builder
	for _, p := range packets {
		out.WriteString(plugintest.DecodeAll(c, bytes.NewReader(p)))
	}
	return out.String()
}

// TestDecode: golden events of packets of each version, as Logstash's
// spec shapes them.
func TestDecode(t *testing.T) {
	tmpl, data, both := v9Packets()
	dir := t.TempDir()
	defs := filepath.Join(dir, "netflow.yaml")
	if err := os.WriteFile(defs, []byte("---\n1000:\n- :uint16\n- :vendor_thing\n4:\n- :skip\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ipdefs := filepath.Join(dir, "ipfix.yaml")
	if err := os.WriteFile(ipdefs, []byte("9:\n  12:\n  - :uint16\n  - :ciscoThing\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, options string
		packets       [][]byte
		want          string
	}{
		{"v5", ``, [][]byte{v5Packet()}, `{"@timestamp":"2015-05-02T18:38:08.280Z","@version":"1","netflow":{"dst_as":0,"dst_mask":0,"engine_id":2,"engine_type":1,"first_switched":"2015-05-02T18:38:08.086328Z","flow_records":2,"flow_seq_num":7,"in_bytes":230,"in_pkts":5,"input_snmp":3,"ipv4_dst_addr":"10.0.2.15","ipv4_next_hop":"0.0.0.0","ipv4_src_addr":"10.0.2.2","l4_dst_port":22,"l4_src_port":54435,"last_switched":"2015-05-02T18:38:08.280328Z","output_snmp":4,"protocol":6,"sampling_algorithm":1,"sampling_interval":100,"src_as":65000,"src_mask":24,"src_tos":0,"tcp_flags":16,"version":5}}
{"@timestamp":"2015-05-02T18:38:08.280Z","@version":"1","netflow":{"dst_as":0,"dst_mask":0,"engine_id":2,"engine_type":1,"first_switched":"2015-05-02T18:38:08.086328Z","flow_records":2,"flow_seq_num":7,"in_bytes":304,"in_pkts":4,"input_snmp":3,"ipv4_dst_addr":"10.0.2.2","ipv4_next_hop":"0.0.0.0","ipv4_src_addr":"10.0.2.15","l4_dst_port":54435,"l4_src_port":22,"last_switched":"2015-05-02T18:38:08.280328Z","output_snmp":4,"protocol":6,"sampling_algorithm":1,"sampling_interval":100,"src_as":65000,"src_mask":24,"src_tos":0,"tcp_flags":24,"version":5}}
`},
		{"v9 template then data", ``, [][]byte{data, tmpl, data}, `{"@timestamp":"2015-10-08T19:03:47.000Z","@version":"1","netflow":{"field_1000":7,"first_switched":"2015-10-08T19:03:47.860Z","flow_seq_num":42,"flowset_id":256,"in_bytes":1500,"ipv4_dst_addr":"10.0.0.1","ipv4_src_addr":"192.168.0.1","l4_dst_port":443,"l4_src_port":40000,"last_switched":"2015-10-08T19:03:47.859Z","protocol":6,"version":9}}
{"@timestamp":"2015-10-08T19:03:47.000Z","@version":"1","netflow":{"field_1000":7,"first_switched":"2015-10-08T19:03:47.860Z","flow_seq_num":42,"flowset_id":256,"in_bytes":1500,"ipv4_dst_addr":"10.0.0.1","ipv4_src_addr":"192.168.0.2","l4_dst_port":443,"l4_src_port":40001,"last_switched":"2015-10-08T19:03:47.859Z","protocol":6,"version":9}}
`},
		{"v9 template and data in one packet, definitions file", `netflow_definitions = "` + defs + `"`, [][]byte{both}, `{"@timestamp":"2015-10-08T19:03:47.000Z","@version":"1","netflow":{"first_switched":"2015-10-08T19:03:47.860Z","flow_seq_num":42,"flowset_id":256,"in_bytes":1500,"ipv4_dst_addr":"10.0.0.1","ipv4_src_addr":"192.168.0.1","l4_dst_port":443,"l4_src_port":40000,"last_switched":"2015-10-08T19:03:47.859Z","vendor_thing":7,"version":9}}
`},
		{"v9 options template", ``, [][]byte{v9Options()}, `{"@timestamp":"2015-10-08T19:03:47.000Z","@version":"1","netflow":{"flow_seq_num":42,"flowset_id":300,"sampling_algorithm":2,"sampling_interval":100,"scope_system":167772169,"version":9}}
`},
		{"ipfix", `include_flowset_id = true`, [][]byte{ipfixPacket()}, `{"@timestamp":"2016-07-21T13:30:00.000Z","@version":"1","netflow":{"destinationIPv6Address":"2001:db8::","enterprise_9_ie_12":0,"flowStartMilliseconds":"2016-07-21T13:29:59.000Z","flowset_id":257,"interfaceName":"eth0","octetDeltaCount":1000,"sourceIPv4Address":"172.16.0.1","version":10}}
{"@timestamp":"2016-07-21T13:30:00.000Z","@version":"1","netflow":{"destinationIPv6Address":"2001:db8::","enterprise_9_ie_12":1,"flowStartMilliseconds":"2016-07-21T13:29:59.000Z","flowset_id":257,"interfaceName":"wan-uplink","octetDeltaCount":2000,"sourceIPv4Address":"172.16.0.2","version":10}}
`},
		{"ipfix definitions file, target", `ipfix_definitions = "` + ipdefs + `"
target = "[flow][raw]"`, [][]byte{ipfixPacket()}, `{"@timestamp":"2016-07-21T13:30:00.000Z","@version":"1","flow":{"raw":{"ciscoThing":0,"destinationIPv6Address":"2001:db8::","flowStartMilliseconds":"2016-07-21T13:29:59.000Z","interfaceName":"eth0","octetDeltaCount":1000,"sourceIPv4Address":"172.16.0.1","version":10}}}
{"@timestamp":"2016-07-21T13:30:00.000Z","@version":"1","flow":{"raw":{"ciscoThing":1,"destinationIPv6Address":"2001:db8::","flowStartMilliseconds":"2016-07-21T13:29:59.000Z","interfaceName":"wan-uplink","octetDeltaCount":2000,"sourceIPv4Address":"172.16.0.2","version":10}}}
`},
		{"versions", `versions = [5, 10]`, [][]byte{both, v5Packet()[:24+48]}, ""},
		{"truncated ipfix set", ``, [][]byte{ipfixPacket()[:16+32+4+43]}, ""},
		{"truncated v5", ``, [][]byte{v5Packet()[:24+50]}, ""},
		{"reserved flowset id", ``, [][]byte{append(both[:20:20], 0, 7, 0, 8, 0, 0, 0, 0)}, ""},
		{"empty and one byte", ``, [][]byte{nil, {9}}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := plugintest.MustNew(t, New, tc.options, engine.Resources{})
			if got := decodeAll(c, tc.packets...); got != tc.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
}

// TestTemplateCacheFile: templates saved under cache_save_path let a new
// codec (after a restart) decode data flowsets before the exporter resends
// its templates.
func TestTemplateCacheFile(t *testing.T) {
	dir := t.TempDir()
	tmpl, data, _ := v9Packets()
	opts := `cache_save_path = "` + dir + `"`
	first := plugintest.MustNew(t, New, opts, engine.Resources{})
	if got := decodeAll(first, tmpl); got != "" {
		t.Fatalf("a template packet gave events: %s", got)
	}
	if _, err := os.Stat(filepath.Join(dir, "netflow_templates.cache")); err != nil {
		t.Fatal(err)
	}
	second := plugintest.MustNew(t, New, opts, engine.Resources{})
	if got := decodeAll(second, data); strings.Count(got, "\n") != 2 {
		t.Errorf("after a restart, data gave:\n%s\nwant 2 events", got)
	}
	other := plugintest.MustNew(t, New, ``, engine.Resources{})
	if got := decodeAll(other, data); got != "" {
		t.Errorf("without the cache, data gave: %s", got)
	}
}

// TestDamagedTemplateCache: a damaged cache file (not JSON, a template of
// absurd fields, the wrong shape) is logged with its path and ignored: no
// panic, and templates from the wire still work.
func TestDamagedTemplateCache(t *testing.T) {
	tmpl, data, _ := v9Packets()
	for name, content := range map[string]string{
		"garbage":   "\x00\xffnot json",
		"truncated": `[{"domain":1,"id":256,"fields":[{"t":8,"l`,
		"shape":     `{"a":1}`,
		"fields":    `[{"domain":0,"id":256,"fields":[{"t":1,"l":65535},{"t":2,"l":0},{"e":4294967295,"t":65535,"l":65534}]}]`,
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "netflow_templates.cache"), []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			var logs bytes.Buffer
			c := plugintest.MustNew(t, New, `cache_save_path = "`+dir+`"`, engine.Resources{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			_ = decodeAll(c, data) // whatever the saved template gives, no panic
			if got := decodeAll(c, tmpl, data); strings.Count(got, "\n") != 2 {
				t.Errorf("with the wire's template, data gave:\n%s\nwant 2 events", got)
			}
			if name != "fields" && !strings.Contains(logs.String(), "netflow_templates.cache") {
				t.Errorf("the damaged file was not logged by path:\n%s", logs.String())
			}
		})
	}
}

// TestTemplateCacheLarge: a cache file as big as many exporters' templates
// make it (over 4 MiB) is read back, within MaxCacheFileBytes.
func TestTemplateCacheLarge(t *testing.T) {
	dir := t.TempDir()
	tmpl, data, _ := v9Packets()
	opts := `cache_save_path = "` + dir + `"`
	_ = decodeAll(plugintest.MustNew(t, New, opts, engine.Resources{}), tmpl)
	path := filepath.Join(dir, "netflow_templates.cache")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var saved []savedTemplate
	if err := json.Unmarshal(b, &saved); err != nil {
		t.Fatal(err)
	}
	fields := make([]tfield, 60)
	for i := range fields {
		fields[i] = tfield{Type: uint16(i + 1), Length: 4}
	}
	for i := range MaxTemplates - len(saved) {
		saved = append(saved, savedTemplate{Domain: uint32(1000 + i), ID: 256, Fields: fields})
	}
	if b, err = json.Marshal(saved); err != nil {
		t.Fatal(err)
	}
	if len(b) <= 4<<20 || len(b) > MaxCacheFileBytes {
		t.Fatalf("cache file of %d bytes; the test wants over 4 MiB, within MaxCacheFileBytes", len(b))
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	c := plugintest.MustNew(t, New, opts, engine.Resources{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if got := decodeAll(c, data); strings.Count(got, "\n") != 2 {
		t.Errorf("after a restart with a %d-byte cache, data gave:\n%s\nwant 2 events; logs:\n%s", len(b), got, logs.String())
	}
}

// TestTemplateCacheConcurrentStart: workers decoding their first packets
// together all wait for the saved templates, none drops a record.
func TestTemplateCacheConcurrentStart(t *testing.T) {
	dir := t.TempDir()
	tmpl, data, _ := v9Packets()
	opts := `cache_save_path = "` + dir + `"`
	_ = decodeAll(plugintest.MustNew(t, New, opts, engine.Resources{}), tmpl)
	c := plugintest.MustNew(t, New, opts, engine.Resources{})
	var wg sync.WaitGroup
	got := make([]string, 8)
	for i := range got {
		wg.Add(1)
		go func() { defer wg.Done(); got[i] = decodeAll(c, data) }()
	}
	wg.Wait()
	for i, g := range got {
		if strings.Count(g, "\n") != 2 {
			t.Errorf("worker %d got:\n%s\nwant 2 events", i, g)
		}
	}
}

// TestTemplateTTL: a template is forgotten cache_ttl seconds after it was
// last received, and a packet from another source id does not use it.
func TestTemplateTTL(t *testing.T) {
	tmpl, data, _ := v9Packets()
	c := plugintest.MustNew(t, New, `cache_ttl = 60`, engine.Resources{})
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c.now = func() time.Time { return now }
	decodeAll(c, tmpl)
	if got := decodeAll(c, data); strings.Count(got, "\n") != 2 {
		t.Fatalf("data gave %q", got)
	}
	other := append([]byte(nil), data...)
	other[19] = 2 // source id 2
	if got := decodeAll(c, other); got != "" {
		t.Errorf("another source id used the template: %s", got)
	}
	now = now.Add(61 * time.Second)
	if got := decodeAll(c, data); got != "" {
		t.Errorf("an expired template was used: %s", got)
	}
}

// TestTemplateBudget: the cache holds at most MaxTemplates templates; a
// new one beyond that is dropped, an expired one makes room.
func TestTemplateBudget(t *testing.T) {
	c := plugintest.MustNew(t, New, `cache_ttl = 60`, engine.Resources{})
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f := []tfield{{Type: 8, Length: 4}}
	for i := range MaxTemplates {
		if !c.cache.put(tmplKey{9, uint32(i), 256}, c.compile(9, f), now) {
			t.Fatalf("template %d refused", i)
		}
	}
	if c.cache.put(tmplKey{9, MaxTemplates, 256}, c.compile(9, f), now) {
		t.Error("a template over MaxTemplates was cached")
	}
	if !c.cache.put(tmplKey{9, 0, 256}, c.compile(9, f), now) {
		t.Error("a known template was not refreshed")
	}
	if !c.cache.put(tmplKey{9, MaxTemplates, 256}, c.compile(9, f), now.Add(time.Hour)) {
		t.Error("expired templates did not make room")
	}
	long := make([]byte, 0, 4*(MaxTemplateFields+1))
	for range MaxTemplateFields + 1 {
		long = binary.BigEndian.AppendUint16(binary.BigEndian.AppendUint16(long, 8), 4)
	}
	if _, err := parseV9Templates(append(binary.BigEndian.AppendUint16([]byte{1, 0}, MaxTemplateFields+1), long...)); err == nil {
		t.Error("a template over MaxTemplateFields was read")
	}
}

// TestOptionErrors: check-time errors name the option.
func TestOptionErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("1:\n- :uint99\n- :x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ options, want string }{
		{`versions = [5, 7]`, "versions: unsupported version 7"},
		{`cache_ttl = 0`, "cache_ttl"},
		{`cache_save_path = "` + filepath.Join(dir, "nope") + `"`, "cache_save_path: the directory is missing"},
		{`netflow_definitions = "` + filepath.Join(dir, "nope.yaml") + `"`, "netflow_definitions"},
		{`netflow_definitions = "` + bad + `"`, `unsupported type ":uint99"`},
		{`ipfix_definitions = "` + bad + `"`, "ipfix_definitions"},
		{`target = ""`, "target"},
	} {
		o := plugintest.NewOptions[Options](t, tc.options)
		if err := o.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Validate() = %v; want %q", tc.options, err, tc.want)
		}
	}
}

// TestEncodeRefused: the codec only decodes, as Logstash's.
func TestEncodeRefused(t *testing.T) {
	c := plugintest.MustNew(t, New, ``, engine.Resources{})
	if err := c.NewEncoder(&bytes.Buffer{}).Encode(nil); err == nil {
		t.Error("Encode succeeded")
	}
}

// FuzzDecode: any datagram decodes without a panic, within the record
// budget, and a template packet followed by data never loops.
func FuzzDecode(f *testing.F) {
	tmpl, data, both := v9Packets()
	for _, p := range [][]byte{v5Packet(), tmpl, data, both, v9Options(), ipfixPacket(), {0, 10, 0, 16}} {
		f.Add(p)
	}
	c := plugintest.MustNew(f, New, `include_flowset_id = true`, engine.Resources{})
	f.Fuzz(func(t *testing.T, p []byte) {
		for _, q := range [][]byte{p, both, p} {
			n := 0
			d := c.NewDecoder(bytes.NewReader(q))
			for {
				e, err := d.Decode()
				if err != nil {
					break
				}
				if e == nil {
					t.Fatal("nil event")
				}
				n++
			}
			if n > MaxRecordsPerPacket {
				t.Fatalf("%d events from one packet", n)
			}
		}
	})
}
