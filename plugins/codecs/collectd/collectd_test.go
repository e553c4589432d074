package collectd

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/plugins/internal/testkit/plugintest"
)

// Packet building, as collectd's network plugin writes parts.

func part(typ uint16, body []byte) []byte {
	b := binary.BigEndian.AppendUint16(nil, typ)
	b = binary.BigEndian.AppendUint16(b, uint16(4+len(body)))
	return append(b, body...)
}

func str(typ uint16, s string) []byte { return part(typ, append([]byte(s), 0)) }

func num(typ uint16, n uint64) []byte { return part(typ, binary.BigEndian.AppendUint64(nil, n)) }

// value is one value of a values part: kind 0 counter, 1 gauge, 2 derive.
type value struct {
	kind byte
	v    float64
}

func values(vs ...value) []byte {
	b := binary.BigEndian.AppendUint16(nil, uint16(len(vs)))
	for _, v := range vs {
		b = append(b, v.kind)
	}
	for _, v := range vs {
		if v.kind == 1 {
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v.v))
		} else {
			b = binary.BigEndian.AppendUint64(b, uint64(int64(v.v)))
		}
	}
	return part(6, b)
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

var when = time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)

func hiresTime(t time.Time) []byte { return num(8, uint64(t.Unix())<<30) }

func newCodec(t *testing.T, opts string) *Codec {
	t.Helper()
	return plugintest.MustNew(t, New, opts, engine.Resources{})
}

func decodeAll(t *testing.T, c *Codec, pkt []byte) ([]*event.Event, error) {
	t.Helper()
	d := c.NewDecoder(bytes.NewReader(pkt))
	var out []*event.Event
	for range 1000 {
		e, err := d.Decode()
		if e != nil {
			out = append(out, e)
		}
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
	}
	t.Fatal("decoder does not end")
	return nil, nil
}

func get(e *event.Event, ref string) any {
	v, _ := e.Get(event.MustRef(ref))
	return v
}

func basePacket() []byte {
	return cat(
		str(0, "web1"), hiresTime(when), num(9, 10<<30),
		str(2, "interface"), str(3, "eth0"), str(4, "if_octets"), str(5, ""),
		values(value{2, 100}, value{2, 200}),
		str(2, "load"), str(3, ""), str(4, "load"),
		values(value{1, 0.5}, value{1, 0.25}, value{1, 0.125}),
		str(2, "cpu"), str(3, "0"), str(4, "cpu"), str(5, "idle"),
		values(value{0, 12345}),
	)
}

func TestDecodeValueLists(t *testing.T) {
	evs, err := decodeAll(t, newCodec(t, ""), basePacket())
	if err != nil || len(evs) != 3 {
		t.Fatalf("%d events, %v", len(evs), err)
	}
	checks := []map[string]any{
		{"host": "web1", "plugin": "interface", "plugin_instance": "eth0", "collectd_type": "if_octets", "type_instance": nil, "rx": int64(100), "tx": int64(200), "interval": nil},
		{"host": "web1", "plugin": "load", "plugin_instance": nil, "collectd_type": "load", "shortterm": 0.5, "midterm": 0.25, "longterm": 0.125, "rx": nil, "interval": nil},
		{"plugin": "cpu", "plugin_instance": "0", "collectd_type": "cpu", "type_instance": "idle", "value": int64(12345)},
	}
	for i, want := range checks {
		for k, v := range want {
			if got := get(evs[i], k); got != v {
				t.Errorf("event %d: %s = %#v, want %#v", i, k, got, v)
			}
		}
		if !evs[i].Timestamp().Equal(when) {
			t.Errorf("event %d: @timestamp %v", i, evs[i].Timestamp())
		}
	}
}

// Without prune_intervals an interval part makes an event too, as Logstash;
// with it, the interval is dropped with the other non-base fields (so value
// events never carry it, as in Logstash).
func TestPruneIntervalsOff(t *testing.T) {
	evs, err := decodeAll(t, newCodec(t, "prune_intervals = false"), cat(str(0, "h"), num(1, uint64(when.Unix())), num(9, 10<<30), str(4, "cpu"), values(value{2, 1})))
	if err != nil || len(evs) != 2 || get(evs[0], "interval") != int64(10) || get(evs[1], "value") != int64(1) {
		t.Fatalf("%d events %v", len(evs), err)
	}
}

func TestNaN(t *testing.T) {
	pkt := cat(str(0, "h"), str(4, "gauge"), values(value{1, math.NaN()}), str(4, "gauge"), values(value{1, 2}))
	evs, err := decodeAll(t, newCodec(t, "nan_value = -1"), pkt)
	if err != nil || len(evs) != 2 || get(evs[0], "value") != -1.0 || get(evs[0], "tags") == nil || get(evs[1], "tags") != nil {
		t.Fatalf("change_value: %d events %v", len(evs), err)
	}
	evs, err = decodeAll(t, newCodec(t, "nan_handling = \"drop\""), pkt)
	if len(evs) != 0 || !errors.Is(err, errNaN) {
		t.Fatalf("drop: %d events, %v", len(evs), err)
	}
}

func TestTypesDBAndTarget(t *testing.T) {
	db := filepath.Join(t.TempDir(), "types.db")
	os.WriteFile(db, []byte("# custom\nmy_pair   first:GAUGE:0:U, second:DERIVE:0:U\n"), 0o644)
	evs, err := decodeAll(t, newCodec(t, "typesdb = [\""+db+"\"]\ntarget = \"[collectd]\""), cat(str(0, "h"), str(4, "my_pair"), values(value{1, 1.5}, value{2, 7})))
	if err != nil || len(evs) != 1 || get(evs[0], "[collectd][first]") != 1.5 || get(evs[0], "[collectd][second]") != int64(7) || get(evs[0], "host") != nil {
		t.Fatalf("%d events %v", len(evs), err)
	}
}

func authFilePath(t *testing.T) string {
	p := filepath.Join(t.TempDir(), "auth")
	os.WriteFile(p, []byte("alice: s3cret\nmalformed\n"), 0o600)
	return p
}

func sign(user, key string, rest []byte) []byte {
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte(user))
	m.Write(rest)
	return part(512, append(m.Sum(nil), user...))
}

func encrypt(user, key string, plain []byte) []byte {
	sum := sha1.Sum(plain)
	content := append(sum[:], plain...)
	k := sha256.Sum256([]byte(key))
	block, _ := aes.NewCipher(k[:])
	iv := bytes.Repeat([]byte{7}, 16)
	out := make([]byte, len(content))
	cipher.NewOFB(block, iv).XORKeyStream(out, content)
	body := binary.BigEndian.AppendUint16(nil, uint16(len(user)))
	body = append(append(append(body, user...), iv...), out...)
	return part(528, body)
}

func TestSign(t *testing.T) {
	c := newCodec(t, "security_level = \"Sign\"\nauthfile = \""+authFilePath(t)+"\"")
	rest := cat(str(0, "h"), str(4, "cpu"), values(value{2, 1}))
	evs, err := decodeAll(t, c, cat(sign("alice", "s3cret", rest), rest))
	if err != nil || len(evs) != 1 {
		t.Fatalf("signed: %d events %v", len(evs), err)
	}
	evs, err = decodeAll(t, c, cat(sign("alice", "wrong", rest), rest))
	if len(evs) != 0 || !errors.Is(err, errSecurity) {
		t.Fatalf("bad signature: %d events %v", len(evs), err)
	}
	evs, err = decodeAll(t, c, cat(sign("mallory", "s3cret", rest), rest))
	if len(evs) != 0 || !errors.Is(err, errSecurity) {
		t.Fatalf("unknown user: %d events %v", len(evs), err)
	}
	// Logstash's Sign accepts unsigned packets.
	if evs, err = decodeAll(t, c, rest); err != nil || len(evs) != 1 {
		t.Fatalf("unsigned: %d events %v", len(evs), err)
	}
}

func TestEncrypt(t *testing.T) {
	c := newCodec(t, "security_level = \"Encrypt\"\nauthfile = \""+authFilePath(t)+"\"")
	plain := cat(str(0, "h"), str(4, "cpu"), values(value{2, 1}))
	evs, err := decodeAll(t, c, encrypt("alice", "s3cret", plain))
	if err != nil || len(evs) != 1 || get(evs[0], "value") != int64(1) {
		t.Fatalf("encrypted: %d events %v", len(evs), err)
	}
	if evs, err = decodeAll(t, c, encrypt("alice", "other", plain)); len(evs) != 0 || !errors.Is(err, errSecurity) {
		t.Fatalf("wrong key: %d events %v", len(evs), err)
	}
	if evs, err = decodeAll(t, c, plain); len(evs) != 0 || !errors.Is(err, errSecurity) {
		t.Fatalf("plain packet with Encrypt: %d events %v", len(evs), err)
	}
	// None cannot read encrypted packets.
	if evs, err = decodeAll(t, newCodec(t, ""), encrypt("alice", "s3cret", plain)); len(evs) != 0 || err == nil {
		t.Fatalf("None: %d events %v", len(evs), err)
	}
}

// Malformed packets keep the events before the bad part; an oversized
// packet is refused whole.
func TestMalformedAndBudget(t *testing.T) {
	good := cat(str(0, "h"), str(4, "cpu"), values(value{2, 1}))
	bad := append(append([]byte{}, good...), 0, 0, 0xff, 0xff)
	evs, err := decodeAll(t, newCodec(t, ""), bad)
	if len(evs) != 1 || !errors.Is(err, errHeader) {
		t.Fatalf("truncated part: %d events %v", len(evs), err)
	}
	big := bytes.Repeat(str(0, "h"), MaxPacketBytes/6+1)
	if evs, err = decodeAll(t, newCodec(t, ""), big); len(evs) != 0 || err == nil || !strings.Contains(err.Error(), "larger") {
		t.Fatalf("oversized: %d events %v", len(evs), err)
	}
	// Unknown part types are skipped.
	if evs, err = decodeAll(t, newCodec(t, ""), cat(part(77, []byte{1, 2}), good)); err != nil || len(evs) != 1 {
		t.Fatalf("unknown part: %d events %v", len(evs), err)
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct{ opts, want string }{
		{`security_level = "Sign"`, "authfile"},
		{`security_level = "Paranoid"`, "security_level"},
		{`nan_handling = "ignore"`, "nan_handling"},
		{`security_level = "Encrypt"
authfile = "/nonexistent/auth"`, "not found"},
	} {
		_, err := plugintest.New(New, plugintest.NewOptions[Options](t, tc.opts), engine.Resources{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v; want %q", tc.opts, err, tc.want)
		}
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(basePacket())
	f.Add(encrypt("alice", "s3cret", basePacket()))
	f.Add(cat(sign("alice", "s3cret", basePacket()), basePacket()))
	dir := f.TempDir()
	auth := filepath.Join(dir, "auth")
	os.WriteFile(auth, []byte("alice: s3cret\n"), 0o600)
	codecs := []*Codec{}
	for _, o := range []Options{{}, {SecurityLevel: "Sign", AuthFile: auth}, {SecurityLevel: "Encrypt", AuthFile: auth, NaNHandling: "drop"}} {
		d := o
		d.Defaults()
		if o.SecurityLevel != "" {
			d.SecurityLevel, d.AuthFile = o.SecurityLevel, o.AuthFile
		}
		if o.NaNHandling != "" {
			d.NaNHandling = o.NaNHandling
		}
		c, err := plugintest.New(New, d, engine.Resources{})
		if err != nil {
			f.Fatal(err)
		}
		codecs = append(codecs, c)
	}
	f.Fuzz(func(t *testing.T, pkt []byte) {
		for _, c := range codecs {
			d := c.NewDecoder(bytes.NewReader(pkt))
			for i := 0; ; i++ {
				if i > len(pkt) {
					t.Fatalf("more events than bytes")
				}
				e, err := d.Decode()
				if err != nil {
					break
				}
				if e == nil {
					t.Fatal("nil event without error")
				}
			}
		}
	})
}

// BenchmarkDecode decodes a packet of three value lists (16 parts).
func BenchmarkDecode(b *testing.B) {
	c := plugintest.MustNew(b, New, ``, engine.Resources{})
	pkt := basePacket()
	b.ReportAllocs()
	for range b.N {
		if evs, err := c.decode(pkt); err != nil || len(evs) == 0 {
			b.Fatal(len(evs), err)
		}
	}
}
