package event

// This file is the event's binary encoding, the form the persisted queue
// stores: cheaper to write and read back than JSON, and exact — every event
// value type comes back as it was (a time.Time in any field stays a time, a
// float stays a float, NaN included, a *big.Int stays exact), as in the
// memory queue.
//
// An encoded event (version BinaryVersion) is its fields then its metadata,
// each a map:
//
//	map    uvarint n, then n times: key (uvarint length, bytes) and value
//	value  one tag byte, then
//	       0 nil, 1 false, 2 true (nothing more)
//	       3 int64: zig-zag varint
//	       4 float64: 8 bytes, little-endian IEEE 754 bits
//	       5 string: uvarint length, bytes
//	       6 time: varint Unix seconds, uvarint nanoseconds (< 1e9); UTC
//	       7 array: uvarint n, n values
//	       8 map: as above
//	       9 big integer: sign byte (0 or 1 for negative), uvarint length,
//	         magnitude big-endian
//
// The container (which version, how many events, their lengths) is the
// caller's: the encoding does not describe its own length. DecodeBinary
// rejects anything that does not follow the format — it never panics, and
// a count or length is checked against the bytes left before anything is
// allocated for it — so a damaged record costs an error, not a crash.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/big"
	"time"
	"unsafe"
)

// BinaryVersion is the version of the encoding AppendBinary writes; the
// container stores it beside the events.
const BinaryVersion = 1

const (
	binNil byte = iota
	binFalse
	binTrue
	binInt
	binFloat
	binString
	binTime
	binArray
	binMap
	binBig
)

// AppendBinary appends the event, fields and metadata, in the binary
// encoding to dst and returns the extended buffer.
func (e *Event) AppendBinary(dst []byte) []byte {
	dst = appendBinaryMap(dst, e.fields)
	return appendBinaryMap(dst, e.meta)
}

func appendBinaryMap(dst []byte, m map[string]any) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(m)))
	for k, v := range m {
		dst = binary.AppendUvarint(dst, uint64(len(k)))
		dst = append(dst, k...)
		dst = appendBinaryValue(dst, v)
	}
	return dst
}

func appendBinaryValue(dst []byte, v any) []byte {
	switch x := v.(type) {
	case string:
		dst = append(dst, binString)
		dst = binary.AppendUvarint(dst, uint64(len(x)))
		return append(dst, x...)
	case int64:
		return binary.AppendVarint(append(dst, binInt), x)
	case time.Time:
		dst = binary.AppendVarint(append(dst, binTime), x.Unix())
		return binary.AppendUvarint(dst, uint64(x.Nanosecond()))
	case map[string]any:
		return appendBinaryMap(append(dst, binMap), x)
	case []any:
		dst = binary.AppendUvarint(append(dst, binArray), uint64(len(x)))
		for _, el := range x {
			dst = appendBinaryValue(dst, el)
		}
		return dst
	case float64:
		return binary.LittleEndian.AppendUint64(append(dst, binFloat), math.Float64bits(x))
	case bool:
		if x {
			return append(dst, binTrue)
		}
		return append(dst, binFalse)
	case nil:
		return append(dst, binNil)
	case *big.Int:
		sign := byte(0)
		if x.Sign() < 0 {
			sign = 1
		}
		mag := x.Bytes()
		dst = append(dst, binBig, sign)
		dst = binary.AppendUvarint(dst, uint64(len(mag)))
		return append(dst, mag...)
	}
	// Not an event value type (a plugin broke the rule): store what
	// Normalize makes of it, as AppendJSONValue writes it.
	if n, err := Normalize(v); err == nil {
		return appendBinaryValue(dst, n)
	}
	return append(dst, binNil)
}

// BinaryDecoder decodes events written by AppendBinary. A decoder keeps the
// last time value it boxed, so events of one batch stamped alike share one
// @timestamp value instead of allocating one each. The zero value is ready;
// a decoder is not safe for concurrent use.
type BinaryDecoder struct {
	lastTime  time.Time
	lastBoxed any
	strs      []string // string values boxed so far, see box
	ints      []int64
}

// eface is the layout of an interface value (any): its type and a pointer
// to the value.
type eface struct {
	typ, data unsafe.Pointer
}

var (
	stringType = (*eface)(unsafe.Pointer(&[]any{""}[0])).typ
	int64Type  = (*eface)(unsafe.Pointer(&[]any{int64(0)}[0])).typ
	timeType   = (*eface)(unsafe.Pointer(&[]any{time.Time{}}[0])).typ
	// versionOne is the value of nearly every event's @version.
	versionOne any = "1"
)

// slabSize is how many values share one allocation.
const slabSize = 64

// boxString returns s as an interface value whose string header sits in a
// slab shared with the next strings decoded, instead of an allocation of its
// own as any(s) makes: what any(s) does, by slabs. A slot is written once,
// before its interface value exists, and never again (a full slab is
// replaced, not reused), so the value is as immutable as any(s).
func (d *BinaryDecoder) boxString(s string) any {
	switch {
	case s == "1":
		return versionOne
	case s == "":
		return ""
	}
	if len(d.strs) == cap(d.strs) {
		d.strs = make([]string, 0, slabSize)
	}
	d.strs = append(d.strs, s)
	var v any
	*(*eface)(unsafe.Pointer(&v)) = eface{typ: stringType, data: unsafe.Pointer(&d.strs[len(d.strs)-1])}
	return v
}

// boxInt is boxString for an int64 (the runtime boxes 0-255 without an
// allocation already).
func (d *BinaryDecoder) boxInt(x int64) any {
	if x >= 0 && x < 256 {
		return x
	}
	if len(d.ints) == cap(d.ints) {
		d.ints = make([]int64, 0, slabSize)
	}
	d.ints = append(d.ints, x)
	var v any
	*(*eface)(unsafe.Pointer(&v)) = eface{typ: int64Type, data: unsafe.Pointer(&d.ints[len(d.ints)-1])}
	return v
}

// errBinary is the error for bytes that do not follow the encoding.
var errBinary = errors.New("event: damaged binary event")

// DecodeBinary decodes one event of the given encoding version from b, which
// must hold exactly that event. The event's strings share one copy of b
// (one allocation for all of them): b is not retained.
func (d *BinaryDecoder) DecodeBinary(version int, b []byte) (*Event, error) {
	if version != BinaryVersion {
		return nil, fmt.Errorf("event: binary encoding version %d unknown (this build reads %d)", version, BinaryVersion)
	}
	r := binReader{s: string(b), d: d}
	fields, err := r.mapValue(0)
	if err != nil {
		return nil, err
	}
	meta, err := r.mapValue(0)
	if err != nil {
		return nil, err
	}
	if r.i != len(r.s) {
		return nil, fmt.Errorf("%w: %d bytes left after the event", errBinary, len(r.s)-r.i)
	}
	if fields == nil {
		fields = map[string]any{}
	}
	return &Event{fields: fields, meta: meta}, nil
}

// binReader reads the encoding from a string, so that decoded strings are
// substrings of it and cost no allocation each.
type binReader struct {
	s string
	i int
	d *BinaryDecoder
}

func (r *binReader) fail(what string) error {
	return fmt.Errorf("%w: %s at byte %d", errBinary, what, r.i)
}

func (r *binReader) uvarint() (uint64, bool) {
	var x uint64
	var s uint
	for n := 0; n < binary.MaxVarintLen64; n++ {
		if r.i >= len(r.s) {
			return 0, false
		}
		c := r.s[r.i]
		r.i++
		if c < 0x80 {
			if n == binary.MaxVarintLen64-1 && c > 1 {
				return 0, false // overflow
			}
			return x | uint64(c)<<s, true
		}
		x |= uint64(c&0x7f) << s
		s += 7
	}
	return 0, false
}

func (r *binReader) varint() (int64, bool) {
	u, ok := r.uvarint()
	x := int64(u >> 1)
	if u&1 != 0 {
		x = ^x
	}
	return x, ok
}

// count reads a number of items, each taking at least min bytes: more than
// the bytes left can hold is damage (and is never allocated).
func (r *binReader) count(min int) (int, bool) {
	n, ok := r.uvarint()
	if !ok || n > uint64(len(r.s)-r.i)/uint64(min) {
		return 0, false
	}
	return int(n), true
}

func (r *binReader) str() (string, bool) {
	n, ok := r.uvarint()
	if !ok || n > uint64(len(r.s)-r.i) {
		return "", false
	}
	s := r.s[r.i : r.i+int(n)]
	r.i += int(n)
	return s, true
}

func (r *binReader) mapValue(depth int) (map[string]any, error) {
	n, ok := r.count(2) // a key length and a tag at least
	if !ok {
		return nil, r.fail("bad map size")
	}
	if n == 0 && depth == 0 {
		return nil, nil // an event's empty fields or metadata
	}
	m := make(map[string]any, n)
	for range n {
		k, ok := r.str()
		if !ok {
			return nil, r.fail("bad key")
		}
		v, err := r.value(depth + 1)
		if err != nil {
			return nil, err
		}
		m[k] = v
	}
	return m, nil
}

func (r *binReader) value(depth int) (any, error) {
	if depth > MaxStoredDepth {
		return nil, r.fail("nested too deep")
	}
	if r.i >= len(r.s) {
		return nil, r.fail("value cut short")
	}
	tag := r.s[r.i]
	r.i++
	switch tag {
	case binNil:
		return nil, nil
	case binFalse:
		return false, nil
	case binTrue:
		return true, nil
	case binInt:
		if x, ok := r.varint(); ok {
			return r.d.boxInt(x), nil
		}
	case binFloat:
		if len(r.s)-r.i >= 8 {
			var u uint64
			for j := 7; j >= 0; j-- {
				u = u<<8 | uint64(r.s[r.i+j])
			}
			r.i += 8
			return math.Float64frombits(u), nil
		}
	case binString:
		if s, ok := r.str(); ok {
			return r.d.boxString(s), nil
		}
	case binTime:
		sec, ok := r.varint()
		if !ok {
			break
		}
		ns, ok := r.uvarint()
		if !ok || ns >= 1e9 {
			break
		}
		t := time.Unix(sec, int64(ns)).UTC()
		if r.d.lastBoxed != nil && r.d.lastTime == t {
			return r.d.lastBoxed, nil
		}
		r.d.lastTime, r.d.lastBoxed = t, t
		return r.d.lastBoxed, nil
	case binArray:
		n, ok := r.count(1)
		if !ok {
			break
		}
		a := make([]any, n)
		for j := range a {
			v, err := r.value(depth + 1)
			if err != nil {
				return nil, err
			}
			a[j] = v
		}
		return a, nil
	case binMap:
		return r.mapValue(depth)
	case binBig:
		if r.i >= len(r.s) {
			break
		}
		sign := r.s[r.i]
		r.i++
		mag, ok := r.str()
		if !ok || sign > 1 {
			break
		}
		x := new(big.Int).SetBytes([]byte(mag))
		if sign == 1 {
			x.Neg(x)
		}
		if x.IsInt64() {
			return x.Int64(), nil // as Normalize makes it
		}
		return x, nil
	default:
		return nil, r.fail(fmt.Sprintf("unknown value tag %d", tag))
	}
	return nil, r.fail(fmt.Sprintf("bad value of tag %d", tag))
}
