// Package fingerprint implements the fingerprint filter, like Logstash's: it
// stores a consistent hash of one or more fields in a target field, for
// example to make document ids that deduplicate events.
//
// Methods:
//
//   - SHA1 (the default), SHA256, SHA384, SHA512 and MD5 hash the text of the
//     value; with a key they compute the HMAC instead. The result is lower-case
//     hex, or base64 with base64encode.
//   - MURMUR3 is the 32-bit MurmurHash3 (seed 0), stored as a number. An
//     integer is hashed as its 8 little-endian bytes, anything else as text.
//   - MURMUR3_128 is the x64 128-bit MurmurHash3 with seed 2, as Logstash
//     uses, in hex or base64. An integer is hashed as 4 little-endian bytes
//     when it fits in 32 bits, else as 8.
//   - UUID stores a random version 4 UUID: not a consistent hash.
//   - PUNCTUATION stores the value with every character that is not
//     punctuation or a symbol removed.
//   - IPV4_NETWORK stores the IP address masked to the prefix length given in
//     key ("1.2.3.4" with key "16" gives "1.2.0.0").
//
// The text of a value is what Logstash hashes (fingerprint 3.5): a string as
// it is, an integer in decimal, a float as Ruby prints it (1.0, 1.0e+20), a
// boolean as true or false, null as the empty string, a timestamp as ISO 8601
// with at least three fraction digits (2026-01-02T03:04:05.000Z), an object
// as its keys, sorted, and values joined with "|" ("k1|v1|k2|v2") and an array
// as its elements joined with "|", recursively.
//
// Without concatenation each source field present in the event, in order,
// sets the target, so the last one wins; a field holding an array gives an
// array of fingerprints, one per element. With concatenate_sources the
// sources, sorted by name, are serialized as "|name|value|name|value|" (a
// missing field has an empty value) and that text is hashed once. With
// concatenate_all_fields the same is done for every top-level field of the
// event, sorted by name, @timestamp and @version included, @metadata not.
// Concatenation does not apply to UUID and PUNCTUATION.
//
// The default target is "fingerprint", or "[event][hash]" when
// ecs_compatibility is "v1" or "v8" (the default).
//
// Failure semantics: the hashing methods never fail. PUNCTUATION on a value
// that is not a string, IPV4_NETWORK on a value that is not an IP address and
// a target that cannot be set fail the event: it passes on without the target
// and without the common options (there is no tag_on_failure, as in Logstash).
//
// ecs_compatibility selects the default target: "fingerprint" when "disabled",
// "[event][hash]" with "v1" or "v8".
package fingerprint

import (
	"context"
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/engine/timefmt"
	"github.com/pipelined/pipeline/engine/valuefmt"
	"github.com/pipelined/pipeline/plugins/internal/ecs"
)

func init() { engine.RegisterFilter("fingerprint", New) }

// Options configures the fingerprint filter.
type Options struct {
	// Source are the fields whose values are fingerprinted.
	Source []string `hcl:"source,optional"`
	// Target is the field the fingerprint is stored in, replacing its content.
	// The default is "fingerprint", or "[event][hash]" with ECS compatibility.
	Target string `hcl:"target,optional"`
	// Method is the fingerprint method: SHA1, SHA256, SHA384, SHA512, MD5,
	// MURMUR3, MURMUR3_128, UUID, PUNCTUATION or IPV4_NETWORK.
	Method string `hcl:"method,optional"`
	// Key is the HMAC key for SHA1, SHA256, SHA384, SHA512 and MD5 (no key, or
	// an empty one, computes a plain hash), and the prefix length in bits for
	// IPV4_NETWORK, which requires it.
	Key string `hcl:"key,optional"`
	// Base64Encode makes the SHA, MD5 and MURMUR3_128 methods produce base64
	// (with padding) instead of lower-case hex.
	Base64Encode bool `hcl:"base64encode,optional"`
	// ConcatenateSources hashes the names and values of all source fields,
	// sorted by name, as one text: "|name|value|name|value|".
	ConcatenateSources bool `hcl:"concatenate_sources,optional"`
	// ConcatenateAllFields hashes the names and values of every top-level
	// field of the event (without @metadata), sorted by name, as one text like
	// concatenate_sources; source is then ignored.
	ConcatenateAllFields bool `hcl:"concatenate_all_fields,optional"`
	ecs.Compatibility
}

// Defaults sets Logstash's defaults.
func (o *Options) Defaults() {
	o.Source = []string{event.MessageField}
	o.Method = "SHA1"
	o.Compatibility.Defaults()
}

type method uint8

const (
	methodDigest method = iota
	methodMurmur3
	methodMurmur3x128
	methodUUID
	methodPunctuation
	methodIPv4Network
)

var digests = map[string]func() hash.Hash{
	"SHA1":   sha1.New,
	"SHA256": sha256.New,
	"SHA384": sha512.New384,
	"SHA512": sha512.New,
	"MD5":    md5.New,
}

var otherMethods = map[string]method{
	"MURMUR3":      methodMurmur3,
	"MURMUR3_128":  methodMurmur3x128,
	"UUID":         methodUUID,
	"PUNCTUATION":  methodPunctuation,
	"IPV4_NETWORK": methodIPv4Network,
}

// Validate checks the method, the field references, the key of IPV4_NETWORK
// and ecs_compatibility.
func (o *Options) Validate() error {
	if _, ok := digests[o.Method]; !ok {
		if _, ok := otherMethods[o.Method]; !ok {
			return &engine.FieldError{Field: "method", Err: fmt.Errorf("unknown method %q: want one of SHA1, SHA256, SHA384, SHA512, MD5, MURMUR3, MURMUR3_128, UUID, PUNCTUATION, IPV4_NETWORK", o.Method)}
		}
	}
	if o.Method == "IPV4_NETWORK" {
		if o.Key == "" {
			return &engine.FieldError{Field: "key", Err: errors.New("IPV4_NETWORK needs the subnet prefix length in key")}
		}
		if n, err := strconv.Atoi(o.Key); err != nil || n < 0 || n > 32 {
			return &engine.FieldError{Field: "key", Err: fmt.Errorf("IPV4_NETWORK prefix length %q: want an integer from 0 to 32", o.Key)}
		}
	}
	for _, s := range o.Source {
		if _, err := event.ParseRef(s); err != nil {
			return &engine.FieldError{Field: "source", Err: err}
		}
	}
	if o.Target != "" {
		if _, err := event.ParseRef(o.Target); err != nil {
			return &engine.FieldError{Field: "target", Err: err}
		}
	}
	return o.Compatibility.Validate()
}

type source struct {
	name string
	ref  event.Ref
}

// Filter is the fingerprint filter. It is safe for concurrent use.
type Filter struct {
	method    method
	sources   []source // as configured
	sorted    []source // sorted by name, for concatenation and PUNCTUATION
	target    event.Ref
	b64       bool
	concat    bool
	concatAll bool
	prefix    int
	hashes    *sync.Pool // of hash.Hash, for methodDigest
}

var _ engine.Filter = (*Filter)(nil)

// New builds a fingerprint filter.
func New(o Options, _ engine.Resources) (*Filter, error) {
	f := &Filter{
		b64:       o.Base64Encode,
		concat:    o.ConcatenateSources,
		concatAll: o.ConcatenateAllFields,
	}
	if newHash, ok := digests[o.Method]; ok {
		f.method = methodDigest
		key := []byte(o.Key)
		f.hashes = &sync.Pool{New: func() any {
			if len(key) > 0 {
				return hmac.New(newHash, key)
			}
			return newHash()
		}}
	} else {
		f.method = otherMethods[o.Method]
	}
	if f.method == methodIPv4Network {
		f.prefix, _ = strconv.Atoi(o.Key)
	}
	for _, s := range o.Source {
		f.sources = append(f.sources, source{name: s, ref: event.MustRef(s)})
	}
	f.sorted = slices.Clone(f.sources)
	slices.SortStableFunc(f.sorted, func(a, b source) int { return strings.Compare(a.name, b.name) })
	target := o.Target
	if target == "" {
		target = "fingerprint"
		if o.Compatibility.ECS() {
			target = "[event][hash]"
		}
	}
	f.target = event.MustRef(target)
	return f, nil
}

// Filter computes the fingerprint of e and stores it in the target.
func (f *Filter) Filter(_ context.Context, e *event.Event, out []*event.Event) ([]*event.Event, error) {
	out = append(out, e)
	switch {
	case f.method == methodUUID:
		return out, f.set(e, newUUID())
	case f.method == methodPunctuation:
		for _, s := range f.sorted {
			v, ok := e.Get(s.ref)
			if !ok {
				continue
			}
			str, ok := v.(string)
			if !ok {
				return out, fmt.Errorf("fingerprint: PUNCTUATION: %s is not a string", s.name)
			}
			if err := f.set(e, punctuation(str)); err != nil {
				return out, err
			}
		}
		return out, nil
	case f.concat || f.concatAll:
		var buf []byte
		if f.concatAll {
			fields := e.Fields()
			keys := make([]string, 0, len(fields))
			for k := range fields {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			for _, k := range keys {
				buf = append(buf, '|')
				buf = append(buf, k...)
				buf = append(buf, '|')
				buf = appendText(buf, fields[k])
			}
		} else {
			for _, s := range f.sorted {
				v, _ := e.Get(s.ref)
				buf = append(buf, '|')
				buf = append(buf, s.name...)
				buf = append(buf, '|')
				buf = appendText(buf, v)
			}
		}
		buf = append(buf, '|')
		fp, err := f.fingerprintText(buf)
		if err != nil {
			return out, err
		}
		return out, f.set(e, fp)
	}
	for _, s := range f.sources {
		v, ok := e.Get(s.ref)
		if !ok {
			continue
		}
		var fp any
		if list, ok := v.([]any); ok {
			fps := make([]any, len(list))
			for i, el := range list {
				x, err := f.fingerprint(el)
				if err != nil {
					return out, err
				}
				fps[i] = x
			}
			fp = fps
		} else {
			x, err := f.fingerprint(v)
			if err != nil {
				return out, err
			}
			fp = x
		}
		if err := f.set(e, fp); err != nil {
			return out, err
		}
	}
	return out, nil
}

func (f *Filter) set(e *event.Event, v any) error {
	if err := e.Set(f.target, v); err != nil {
		return fmt.Errorf("fingerprint: %w", err)
	}
	return nil
}

// fingerprint hashes one value: integers keep their type for the MURMUR
// methods, everything else is hashed as its text.
func (f *Filter) fingerprint(v any) (any, error) {
	if n, ok := v.(int64); ok {
		switch f.method {
		case methodMurmur3:
			var b [8]byte
			binary.LittleEndian.PutUint64(b[:], uint64(n))
			return int64(murmur3x86_32(b[:], 0)), nil
		case methodMurmur3x128:
			var b [8]byte
			size := 8
			if n >= math.MinInt32 && n <= math.MaxInt32 {
				size = 4
				binary.LittleEndian.PutUint32(b[:], uint32(int32(n)))
			} else {
				binary.LittleEndian.PutUint64(b[:], uint64(n))
			}
			d := murmur3x64_128(b[:size], 2)
			return f.encode(d[:]), nil
		}
	}
	return f.fingerprintText(appendText(nil, v))
}

// fingerprintText hashes text.
func (f *Filter) fingerprintText(text []byte) (any, error) {
	switch f.method {
	case methodMurmur3:
		return int64(murmur3x86_32(text, 0)), nil
	case methodMurmur3x128:
		d := murmur3x64_128(text, 2)
		return f.encode(d[:]), nil
	case methodIPv4Network:
		addr, err := netip.ParseAddr(string(text))
		if err != nil {
			return nil, fmt.Errorf("fingerprint: IPV4_NETWORK: %w", err)
		}
		p, err := addr.Prefix(f.prefix)
		if err != nil {
			return nil, fmt.Errorf("fingerprint: IPV4_NETWORK: %w", err)
		}
		return p.Addr().String(), nil
	}
	h := f.hashes.Get().(hash.Hash)
	h.Reset()
	h.Write(text)
	var sum [sha512.Size]byte
	s := f.encode(h.Sum(sum[:0]))
	f.hashes.Put(h)
	return s, nil
}

func (f *Filter) encode(sum []byte) string {
	if f.b64 {
		return base64.StdEncoding.EncodeToString(sum)
	}
	return hex.EncodeToString(sum)
}

// appendText appends the text Logstash's fingerprint filter hashes for v (see
// the package doc): Ruby's to_s of to_canonical_value(v), with timestamps
// written with at least three fraction digits.
func appendText(dst []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return dst
	case string:
		return append(dst, x...)
	case int64:
		return strconv.AppendInt(dst, x, 10)
	case float64:
		return valuefmt.AppendRubyFloat(dst, x)
	case bool:
		return strconv.AppendBool(dst, x)
	case time.Time:
		return timefmt.AppendTimestamp(dst, x)
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for i, k := range keys {
			if i > 0 {
				dst = append(dst, '|')
			}
			dst = append(dst, k...)
			dst = append(dst, '|')
			dst = appendText(dst, x[k])
		}
		return dst
	case []any:
		for i, el := range x {
			if i > 0 {
				dst = append(dst, '|')
			}
			dst = appendText(dst, el)
		}
		return dst
	}
	if n, err := event.Normalize(v); err == nil {
		return appendText(dst, n)
	}
	return fmt.Append(dst, v)
}

// punctuation keeps the punctuation and symbol characters of s (Ruby's
// gsub with the class [^[\p{P}\p{S}]]).
func punctuation(s string) string {
	var b strings.Builder
	for _, r := range s {
		if unicode.IsPunct(r) || unicode.IsSymbol(r) {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// newUUID returns a random (version 4) UUID in lower case, as Ruby's
// SecureRandom.uuid.
func newUUID() string {
	var u [16]byte
	_, _ = rand.Read(u[:])
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	var buf [36]byte
	hex.Encode(buf[0:8], u[0:4])
	buf[8] = '-'
	hex.Encode(buf[9:13], u[4:6])
	buf[13] = '-'
	hex.Encode(buf[14:18], u[6:8])
	buf[18] = '-'
	hex.Encode(buf[19:23], u[8:10])
	buf[23] = '-'
	hex.Encode(buf[24:], u[10:])
	return string(buf[:])
}
