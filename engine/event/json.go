package event

// This file is the event's JSON codec: a hand-written encoder (AppendJSON,
// AppendJSONValue) and decoder (ParseJSON, FromJSON), because encoding/json
// goes through reflection and allocates for every map key and value, and
// json_lines output and JSON inputs sit on the hot path.
//
// Output matches what Logstash's Jackson mapper writes, except that object keys
// are sorted so that output is deterministic: compact, no HTML escaping, only
// '"', '\\' and control characters escaped (\u00XX in upper case), invalid UTF-8
// replaced by U+FFFD, timestamps as timefmt.AppendTimestamp writes them (ISO 8601 UTC
// with millisecond, or when needed micro- or nanosecond, precision), and floats
// as Java's Double.toString prints them (format.go: "1.5", "3.0", "1.0E20"): a
// form that reads back as the same float64, always with a fraction, so a float
// stays a float through a round trip. NaN and infinities, which JSON cannot
// represent, are written as the strings "NaN", "Infinity" and "-Infinity", as
// Jackson does.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/big"
	"math/bits"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"

	"github.com/pipelined/pipeline/engine/timefmt"
	"github.com/pipelined/pipeline/engine/valuefmt"
)

// AppendJSON appends the event's fields, without [@metadata], to dst as one
// compact JSON object with sorted keys, and returns the extended buffer.
func (e *Event) AppendJSON(dst []byte) []byte {
	return jsonAppendObject(dst, e.fields)
}

// AppendJSONWithMetadata is AppendJSON with [@metadata] kept, as the first
// key (where sorting usually puts it): the form FromJSON reads back whole, for
// the persisted queue and the dead letter queue.
func (e *Event) AppendJSONWithMetadata(dst []byte) []byte {
	if len(e.meta) == 0 {
		return e.AppendJSON(dst)
	}
	dst = append(dst, `{"`+MetadataField+`":`...)
	dst = jsonAppendObject(dst, e.meta)
	start := len(dst)
	dst = jsonAppendObject(dst, e.fields)
	if len(dst)-start == 2 { // no fields: "{}"
		return append(dst[:start], '}')
	}
	dst[start] = ','
	return dst
}

// AppendJSONValue appends v, an event value (nil, bool, int64, float64, string,
// time.Time, []any or map[string]any), to dst as compact JSON. Other types are
// converted with Normalize first; a value that Normalize rejects is written as
// null.
func AppendJSONValue(dst []byte, v any) []byte {
	switch x := v.(type) {
	case string:
		return jsonAppendString(dst, x)
	case map[string]any:
		return jsonAppendObject(dst, x)
	case []any:
		dst = append(dst, '[')
		for i, el := range x {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = AppendJSONValue(dst, el)
		}
		return append(dst, ']')
	case int64:
		return strconv.AppendInt(dst, x, 10)
	case *big.Int:
		return x.Append(dst, 10) // exact: an integer beyond int64
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			dst = append(dst, '"')
			dst = valuefmt.AppendJavaDouble(dst, x)
			return append(dst, '"')
		}
		return valuefmt.AppendJavaDouble(dst, x)
	case bool:
		return strconv.AppendBool(dst, x)
	case nil:
		return append(dst, "null"...)
	case time.Time:
		dst = append(dst, '"')
		dst = timefmt.AppendTimestamp(dst, x)
		return append(dst, '"')
	}
	if n, err := Normalize(v); err == nil {
		return AppendJSONValue(dst, n)
	}
	return append(dst, "null"...)
}

// jsonAppendObject writes m with sorted keys. Up to 32 entries are sorted in a
// stack buffer, so encoding an ordinary event does not allocate; when every key
// is a known one (jsonkeys.go), they are neither compared nor quoted.
func jsonAppendObject(dst []byte, m map[string]any) []byte {
	if len(m) == 0 {
		return append(dst, '{', '}')
	}
	var buf [32]jsonKV
	kvs := buf[:0]
	for k, v := range m {
		kvs = append(kvs, jsonKV{k, v})
	}
	if out, ok := appendKnownObject(dst, kvs); ok {
		return out
	}
	learnKeys(kvs)
	return appendSortedObject(dst, kvs)
}

// appendSortedObject writes kvs, a map's entries, sorting them by key.
func appendSortedObject(dst []byte, kvs []jsonKV) []byte {
	sortKVs(kvs)
	dst = append(dst, '{')
	for i := range kvs {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = jsonAppendString(dst, kvs[i].k)
		dst = append(dst, ':')
		dst = AppendJSONValue(dst, kvs[i].v)
	}
	return append(dst, '}')
}

type jsonKV struct {
	k string
	v any
}

// sortKVs sorts kvs by key. Up to 16 (an ordinary event's fields) it runs an
// insertion sort on the keys' first eight bytes as integers, comparing whole
// keys only when those are equal, and moving indexes rather than entries:
// sorting was a third of encoding a flat event.
func sortKVs(kvs []jsonKV) {
	if len(kvs) > 16 {
		slices.SortFunc(kvs, func(a, b jsonKV) int { return strings.Compare(a.k, b.k) })
		return
	}
	var pre [16]uint64
	var idx [16]uint8
	for i := range kvs {
		pre[i] = keyPrefix(kvs[i].k)
		idx[i] = uint8(i)
	}
	less := func(a, b uint8) bool {
		if pre[a] != pre[b] {
			return pre[a] < pre[b]
		}
		return kvs[a].k < kvs[b].k
	}
	for i := 1; i < len(kvs); i++ {
		for j := i; j > 0 && less(idx[j], idx[j-1]); j-- {
			idx[j], idx[j-1] = idx[j-1], idx[j]
		}
	}
	var sorted [16]jsonKV
	for i := range kvs {
		sorted[i] = kvs[idx[i]]
	}
	copy(kvs, sorted[:len(kvs)])
}

// keyPrefix is the first eight bytes of s, big-endian, zero-padded: a < b
// for the prefixes of two strings means a < b for the strings (a zero byte
// pads: a shorter string sorts first), equal prefixes decide nothing.
func keyPrefix(s string) uint64 {
	if len(s) >= 8 {
		return uint64(s[0])<<56 | uint64(s[1])<<48 | uint64(s[2])<<40 | uint64(s[3])<<32 |
			uint64(s[4])<<24 | uint64(s[5])<<16 | uint64(s[6])<<8 | uint64(s[7])
	}
	var p uint64
	for i := range 8 {
		p <<= 8
		if i < len(s) {
			p |= uint64(s[i])
		}
	}
	return p
}

const jsonHex = "0123456789ABCDEF"

// jsonSafe[c] is true for the ASCII bytes that need no escaping in a string.
var jsonSafe = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// jsonAppendString appends s as a quoted JSON string.
func jsonAppendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		// Skip eight plain ASCII bytes at a time.
		i = jsonSkipPlain(s, i)
		if i >= len(s) {
			break
		}
		c := s[i]
		if c < utf8.RuneSelf {
			if jsonSafe[c] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			default:
				dst = append(dst, '\\', 'u', '0', '0', jsonHex[c>>4], jsonHex[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, "\uFFFD"...)
			i++
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// jsonSkipPlain returns the index of the first byte of s from i on that is
// below 0x20, '"', '\\' or not ASCII (or, when there is none, of the first
// byte of the incomplete word of eight at the end), testing eight bytes at a
// time with the "has less than" and "has zero byte" word tricks: the lowest
// flagged byte of a word is exact (a borrow only runs upwards from it).
func jsonSkipPlain(s string, i int) int {
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	for i+8 <= len(s) {
		x := binary.LittleEndian.Uint64(unsafe.Slice(unsafe.StringData(s[i:]), 8))
		q := x ^ (lo * '"')
		b := x ^ (lo * '\\')
		if m := ((x-lo*0x20)&^x | (q-lo)&^q | (b-lo)&^b | x) & hi; m != 0 {
			return i + bits.TrailingZeros64(m)>>3
		}
		i += 8
	}
	return i
}

// FromJSON decodes a JSON object into an event, as FromMap does with decoded
// data: integers become int64 (float64 beyond its range), other numbers float64,
// "@metadata" the metadata, and a string @timestamp a time. b is not retained:
// the event's strings share one copy of it.
func FromJSON(b []byte) (*Event, error) { return fromJSON(b, MaxDecodeDepth, false) }

// FromJSONString is FromJSON for a document held as a string (a list
// element from Redis): the event's strings that need no unescaping are
// substrings of s, which the event then keeps alive, instead of copies.
func FromJSONString(s string) (*Event, error) {
	return fromJSON(unsafe.Slice(unsafe.StringData(s), len(s)), MaxDecodeDepth, true)
}

// FromStoredJSON is FromJSON for records the engine wrote itself (queue
// records): it accepts nesting up to MaxStoredDepth.
func FromStoredJSON(b []byte) (*Event, error) { return fromJSON(b, MaxStoredDepth, false) }

func fromJSON(b []byte, limit int, shared bool) (*Event, error) {
	blk := new(jsonBlock)
	p := jsonParser{b: b, limit: limit, shared: shared, strs: blk.strs[:0]}
	v, err := p.parse()
	if err != nil {
		return nil, err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("json: want an object, got %s", JSONKind(v))
	}
	return finishEvent(blk, m, p.sawMeta, p.sawVersion), nil
}

// ParseJSON decodes one JSON value (surrounding white space allowed) into event
// value types: nil, bool, int64 (integers that fit), float64 (other numbers),
// string, []any and map[string]any. Invalid UTF-8 in strings becomes U+FFFD.
// Duplicate object keys keep the last value.
// Objects and arrays nest at most MaxDecodeDepth deep. b is not retained.
func ParseJSON(b []byte) (any, error) { return parseJSON(b, MaxDecodeDepth, false) }

// ParseStoredJSON is ParseJSON for records the engine wrote itself (dead
// letter queue records): it accepts nesting up to MaxStoredDepth.
func ParseStoredJSON(b []byte) (any, error) { return parseJSON(b, MaxStoredDepth, false) }

// parseJSON parses b. With shared, b is the bytes of a string (never
// modified), and plain strings are substrings of it.
func parseJSON(b []byte, limit int, shared bool) (any, error) {
	p := jsonParser{b: b, limit: limit, shared: shared}
	return p.parse()
}

func (p *jsonParser) parse() (any, error) {
	p.skipSpace()
	v, err := p.value()
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if p.i < len(p.b) {
		return nil, p.syntaxErr("unexpected data after the top-level value")
	}
	return v, nil
}

// JSONKind names the JSON type of an event value for messages: "null", "a
// boolean", "a number", "a string", "an array" or "an object"; a value of
// another type (a time.Time) is named by its Go type.
func JSONKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case int64, float64, *big.Int:
		return "a number"
	case string:
		return "a string"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("a %T", v)
}

// ErrJSONSyntax is wrapped by every error of ParseJSON and FromJSON about
// malformed input.
var ErrJSONSyntax = errors.New("invalid JSON")

// MaxDecodeDepth is the deepest nesting of objects and arrays ParseJSON and
// FromJSON accept: the budget of every decoder at the edge (codecs, the
// json filter, beats, redis), as Logstash's JSON parser (Jackson's
// max-nesting-depth, 1000). Deeper input is refused before it becomes an
// event, so hostile input can neither exhaust the stack nor make an event
// deeper than a queue record may be.
const MaxDecodeDepth = 1000

// MaxStoredDepth is the deepest nesting ParseStoredJSON and FromStoredJSON
// accept: the persisted queue and the dead letter queue read their records
// with it. It is far above MaxDecodeDepth, so an event a decoder admitted,
// placed under a target or moved by filters, is always read back: a record
// the engine acknowledged is never lost as unreadable.
const MaxStoredDepth = 10 * MaxDecodeDepth

// jsonParser decodes one document. The strings it returns are not
// allocated one by one: their bytes are appended to arena (or, with shared,
// are substrings of the input) and their interface values' headers sit in
// strs slabs. Neither is ever written where a returned string or value
// already points (arena and slabs are only appended to, and a full one is
// replaced, not reused), so the values are as immutable as string(b) and
// any(s) would make them.
type jsonParser struct {
	b      []byte
	i      int
	depth  int
	limit  int  // the deepest nesting accepted
	shared bool // b is an immutable string's bytes: plain strings point into it
	arena  []byte
	strs   []string
	// sawMeta and sawVersion: a top-level object had the key @metadata,
	// @version.
	sawMeta, sawVersion bool
}

// keep returns raw, a run of the input that needs no unescaping, as a
// string.
func (p *jsonParser) keep(raw []byte) string {
	if len(raw) == 0 {
		return ""
	}
	if p.shared {
		return unsafe.String(&raw[0], len(raw))
	}
	p.grow(len(raw), len(raw)+len(p.b)-p.i)
	n := len(p.arena)
	p.arena = append(p.arena, raw...)
	return unsafe.String(&p.arena[n], len(raw))
}

// grow makes room for n more bytes in the arena: a new arena (the one
// before stays where its strings point) of want bytes, the text left from
// the string on, since decoded strings are no longer than their text (but
// for invalid UTF-8, then another arena follows).
func (p *jsonParser) grow(n, want int) {
	if cap(p.arena)-len(p.arena) >= n {
		return
	}
	p.arena = make([]byte, 0, max(n, want, 64))
}

// box returns s as an interface value whose string header sits in a slab
// shared with the document's next strings (any(s) allocates one each).
func (p *jsonParser) box(s string) any {
	switch s {
	case "":
		return ""
	case "1":
		return versionOne
	}
	if len(p.strs) == cap(p.strs) {
		p.strs = make([]string, 0, min(max(2*cap(p.strs), 4), 64))
	}
	p.strs = append(p.strs, s)
	var v any
	*(*eface)(unsafe.Pointer(&v)) = eface{typ: stringType, data: unsafe.Pointer(&p.strs[len(p.strs)-1])}
	return v
}

func (p *jsonParser) syntaxErr(msg string) error {
	if p.i >= len(p.b) {
		return fmt.Errorf("%w: %s at end of input", ErrJSONSyntax, msg)
	}
	return fmt.Errorf("%w: %s at offset %d", ErrJSONSyntax, msg, p.i)
}

func (p *jsonParser) skipSpace() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *jsonParser) value() (any, error) {
	if p.i >= len(p.b) {
		return nil, p.syntaxErr("unexpected end of input")
	}
	switch c := p.b[p.i]; {
	case c == '{':
		return p.object()
	case c == '[':
		return p.array()
	case c == '"':
		str, err := p.str(false)
		if err != nil {
			return nil, err
		}
		return p.box(str), nil
	case c == '-' || c >= '0' && c <= '9':
		return p.number()
	case c == 't':
		return p.literal("true", true)
	case c == 'f':
		return p.literal("false", false)
	case c == 'n':
		return p.literal("null", nil)
	}
	return nil, p.syntaxErr(fmt.Sprintf("unexpected character %q", p.b[p.i]))
}

func (p *jsonParser) literal(word string, v any) (any, error) {
	if len(p.b)-p.i < len(word) || string(p.b[p.i:p.i+len(word)]) != word {
		return nil, p.syntaxErr("invalid literal")
	}
	p.i += len(word)
	return v, nil
}

func (p *jsonParser) object() (any, error) {
	if p.depth++; p.depth > p.limit {
		return nil, p.syntaxErr(fmt.Sprintf("nesting deeper than %d levels", p.limit))
	}
	p.i++ // '{'
	m := make(map[string]any)
	p.skipSpace()
	if p.i < len(p.b) && p.b[p.i] == '}' {
		p.i++
		p.depth--
		return m, nil
	}
	for {
		if p.i >= len(p.b) || p.b[p.i] != '"' {
			return nil, p.syntaxErr("want a string object key")
		}
		k, err := p.str(true)
		if err != nil {
			return nil, err
		}
		if p.depth == 1 {
			switch k {
			case MetadataField:
				p.sawMeta = true
			case VersionField:
				p.sawVersion = true
			}
		}
		p.skipSpace()
		if p.i >= len(p.b) || p.b[p.i] != ':' {
			return nil, p.syntaxErr("want ':' after object key")
		}
		p.i++
		p.skipSpace()
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		m[k] = v
		p.skipSpace()
		if p.i >= len(p.b) {
			return nil, p.syntaxErr("unterminated object")
		}
		switch p.b[p.i] {
		case ',':
			p.i++
			p.skipSpace()
		case '}':
			p.i++
			p.depth--
			return m, nil
		default:
			return nil, p.syntaxErr("want ',' or '}' in object")
		}
	}
}

func (p *jsonParser) array() (any, error) {
	if p.depth++; p.depth > p.limit {
		return nil, p.syntaxErr(fmt.Sprintf("nesting deeper than %d levels", p.limit))
	}
	p.i++ // '['
	a := []any{}
	p.skipSpace()
	if p.i < len(p.b) && p.b[p.i] == ']' {
		p.i++
		p.depth--
		return a, nil
	}
	for {
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		a = append(a, v)
		p.skipSpace()
		if p.i >= len(p.b) {
			return nil, p.syntaxErr("unterminated array")
		}
		switch p.b[p.i] {
		case ',':
			p.i++
			p.skipSpace()
		case ']':
			p.i++
			p.depth--
			return a, nil
		default:
			return nil, p.syntaxErr("want ',' or ']' in array")
		}
	}
}

// str parses the string at p.i (an opening quote). Keys that name the
// well-known fields are returned without allocating.
func (p *jsonParser) str(key bool) (string, error) {
	b := p.b
	src := unsafe.String(&b[0], len(b)) // b holds at least the quote
	start := p.i + 1
	j := start
	for {
		// Skip eight plain ASCII bytes at a time.
		j = jsonSkipPlain(src, j)
		if j >= len(b) {
			p.i = len(b)
			return "", p.syntaxErr("unterminated string")
		}
		switch c := b[j]; {
		case c == '"':
			raw := b[start:j]
			p.i = j + 1
			if key {
				if s, ok := wellKnownKey(raw); ok {
					return s, nil
				}
			}
			return p.keep(raw), nil
		case c == '\\':
			return p.strSlow(start, j)
		case c < 0x20:
			p.i = j
			return "", p.syntaxErr("control character in string")
		case c < utf8.RuneSelf:
			j++
		default:
			r, size := utf8.DecodeRune(b[j:])
			if r == utf8.RuneError && size == 1 {
				return p.strSlow(start, j)
			}
			j += size
		}
	}
}

func wellKnownKey(b []byte) (string, bool) {
	switch string(b) {
	case TimestampField:
		return TimestampField, true
	case VersionField:
		return VersionField, true
	case MessageField:
		return MessageField, true
	case TagsField:
		return TagsField, true
	case MetadataField:
		return MetadataField, true
	case "host":
		return "host", true
	case "type":
		return "type", true
	case "event":
		return "event", true
	case "original":
		return "original", true
	}
	return "", false
}

// strSlow decodes a string with escapes or invalid UTF-8, from start (just
// after the opening quote); b[start:j] is plain. It appends to the arena,
// copying plain runs whole.
func (p *jsonParser) strSlow(start, j int) (string, error) {
	b := p.b
	src := unsafe.String(&b[0], len(b))
	p.grow(j-start+1, len(b)-start)
	out := p.arena
	n := len(out)
	out = append(out, b[start:j]...)
	for {
		run := j
		j = jsonSkipPlain(src, j)
		for j < len(b) && b[j] >= 0x20 && b[j] < utf8.RuneSelf && b[j] != '"' && b[j] != '\\' {
			j++
		}
		out = append(out, b[run:j]...)
		if j >= len(b) {
			break
		}
		c := b[j]
		switch {
		case c == '"':
			p.i = j + 1
			p.arena = out
			if len(out) == n {
				return "", nil
			}
			return unsafe.String(&out[n], len(out)-n), nil
		case c == '\\':
			if j+1 >= len(b) {
				p.i = j
				return "", p.syntaxErr("unterminated string")
			}
			switch e := b[j+1]; e {
			case '"', '\\', '/':
				out = append(out, e)
				j += 2
			case 'b':
				out = append(out, '\b')
				j += 2
			case 'f':
				out = append(out, '\f')
				j += 2
			case 'n':
				out = append(out, '\n')
				j += 2
			case 'r':
				out = append(out, '\r')
				j += 2
			case 't':
				out = append(out, '\t')
				j += 2
			case 'u':
				r, ok := hex4(b, j+2)
				if !ok {
					p.i = j
					return "", p.syntaxErr("invalid \\u escape")
				}
				j += 6
				if utf16.IsSurrogate(r) {
					// A pair is decoded to one rune; a lone surrogate is U+FFFD,
					// as in encoding/json.
					if r2, ok := hex4(b, j+2); ok && j+1 < len(b) && b[j] == '\\' && b[j+1] == 'u' {
						if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
							r = d
							j += 6
						} else {
							r = utf8.RuneError
						}
					} else {
						r = utf8.RuneError
					}
				}
				out = utf8.AppendRune(out, r)
			default:
				p.i = j
				return "", p.syntaxErr("invalid escape")
			}
		case c < 0x20:
			p.i = j
			return "", p.syntaxErr("control character in string")
		default:
			r, size := utf8.DecodeRune(b[j:])
			if r == utf8.RuneError && size == 1 {
				out = append(out, "\uFFFD"...)
			} else {
				out = append(out, b[j:j+size]...)
			}
			j += size
		}
	}
	p.i = len(b)
	return "", p.syntaxErr("unterminated string")
}

// hex4 reads four hex digits at b[i:].
func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

func (p *jsonParser) number() (any, error) {
	start := p.i
	j := p.i
	neg := false
	if p.b[j] == '-' {
		neg = true
		j++
	}
	digits := j
	switch {
	case j < len(p.b) && p.b[j] == '0':
		j++
	case j < len(p.b) && p.b[j] >= '1' && p.b[j] <= '9':
		for j < len(p.b) && p.b[j] >= '0' && p.b[j] <= '9' {
			j++
		}
	default:
		p.i = j
		return nil, p.syntaxErr("invalid number")
	}
	intEnd := j
	isInt := true
	if j < len(p.b) && p.b[j] == '.' {
		isInt = false
		j++
		fs := j
		for j < len(p.b) && p.b[j] >= '0' && p.b[j] <= '9' {
			j++
		}
		if j == fs {
			p.i = j
			return nil, p.syntaxErr("invalid number: want digits after '.'")
		}
	}
	if j < len(p.b) && (p.b[j] == 'e' || p.b[j] == 'E') {
		isInt = false
		j++
		if j < len(p.b) && (p.b[j] == '+' || p.b[j] == '-') {
			j++
		}
		es := j
		for j < len(p.b) && p.b[j] >= '0' && p.b[j] <= '9' {
			j++
		}
		if j == es {
			p.i = j
			return nil, p.syntaxErr("invalid number: want exponent digits")
		}
	}
	p.i = j
	if isInt && intEnd-digits <= 18 {
		// Up to 18 digits always fits in an int64.
		var n int64
		for _, c := range p.b[digits:intEnd] {
			n = n*10 + int64(c-'0')
		}
		if neg {
			n = -n
		}
		return n, nil
	}
	text := string(p.b[start:j])
	if isInt {
		if n, err := strconv.ParseInt(text, 10, 64); err == nil {
			return n, nil
		}
		if p.limit == MaxStoredDepth {
			// A record the engine wrote: an integer beyond int64 was a
			// *big.Int (an exact Bignum) and comes back as one.
			if b, ok := new(big.Int).SetString(text, 10); ok {
				return b, nil
			}
		}
	}
	f, err := strconv.ParseFloat(text, 64)
	if err != nil {
		p.i = start
		return nil, p.syntaxErr(fmt.Sprintf("number %s out of range", text))
	}
	return f, nil
}
