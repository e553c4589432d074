package immudb

import (
	"crypto/sha256"
	"encoding/hex"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/engine/timefmt"
)

// AppendPython appends the event's fields (without [@metadata]) to dst as
// Python's json.dumps(json.loads(j), sort_keys=True) prints them, where j is
// the event's JSON as the json codec (and so the redis output) writes it: keys
// sorted by code point, ", " and ": " separators, every character outside
// printable ASCII escaped as \uXXXX (lower-case hex, surrogate pairs above
// U+FFFF), integers in decimal and floats as Python's repr. It is the value the
// Python consumer stored and the text whose SHA-256 is its key.
//
// Values go straight from the event to Python's form, without the JSON round
// trip, because each value type has exactly one form in the event's JSON:
// timestamps and NaN/Infinity are strings there, floats are Java doubles that
// Python reads back as the same float64, and invalid UTF-8 is U+FFFD.
func AppendPython(dst []byte, e *event.Event) []byte {
	return appendPyValue(dst, e.Fields())
}

// Key returns the hex SHA-256 of text: the row key of a value.
func Key(text []byte) string {
	sum := sha256.Sum256(text)
	return hex.EncodeToString(sum[:])
}

func appendPyValue(dst []byte, v any) []byte {
	switch x := v.(type) {
	case string:
		return appendPyString(dst, x)
	case map[string]any:
		return appendPyObject(dst, x)
	case []any:
		dst = append(dst, '[')
		for i, el := range x {
			if i > 0 {
				dst = append(dst, ',', ' ')
			}
			dst = appendPyValue(dst, el)
		}
		return append(dst, ']')
	case int64:
		return strconv.AppendInt(dst, x, 10)
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			// The event's JSON carries these as the strings Jackson writes.
			s := "NaN"
			if math.IsInf(x, 1) {
				s = "Infinity"
			} else if math.IsInf(x, -1) {
				s = "-Infinity"
			}
			return appendPyString(dst, s)
		}
		return appendPyFloat(dst, x)
	case bool:
		return strconv.AppendBool(dst, x)
	case nil:
		return append(dst, "null"...)
	case time.Time:
		var buf [40]byte
		return appendPyString(dst, string(timefmt.AppendTimestamp(buf[:0], x)))
	}
	if n, err := event.Normalize(v); err == nil {
		return appendPyValue(dst, n)
	}
	return append(dst, "null"...)
}

func appendPyObject(dst []byte, m map[string]any) []byte {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	// Go compares strings by UTF-8 bytes, which orders valid text by code
	// point, as Python does. Invalid UTF-8 is compared as the U+FFFD the JSON
	// carries.
	fix := func(s string) string {
		if utf8.ValidString(s) {
			return s
		}
		return replaceInvalid(s)
	}
	slices.SortFunc(keys, func(a, b string) int { return strings.Compare(fix(a), fix(b)) })
	dst = append(dst, '{')
	for i, k := range keys {
		if i > 0 {
			dst = append(dst, ',', ' ')
		}
		dst = appendPyString(dst, k)
		dst = append(dst, ':', ' ')
		dst = appendPyValue(dst, m[k])
	}
	return append(dst, '}')
}

// replaceInvalid replaces each invalid byte with U+FFFD, as the event's JSON
// encoder does (one per byte, unlike strings.ToValidUTF8).
func replaceInvalid(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b.WriteRune(utf8.RuneError)
		} else {
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

const pyHex = "0123456789abcdef"

func appendU(dst []byte, r rune) []byte {
	return append(dst, '\\', 'u', pyHex[r>>12&0xF], pyHex[r>>8&0xF], pyHex[r>>4&0xF], pyHex[r&0xF])
}

// appendPyString writes s as json.dumps with ensure_ascii=True does.
func appendPyString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c < 0x7f {
			if c == '"' || c == '\\' {
				dst = append(dst, '\\')
			}
			dst = append(dst, c)
			i++
			continue
		}
		if c < utf8.RuneSelf {
			switch c {
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
			default: // other control characters and DEL
				dst = appendU(dst, rune(c))
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		if r > 0xFFFF {
			r -= 0x10000
			dst = appendU(dst, 0xD800+(r>>10))
			dst = appendU(dst, 0xDC00+(r&0x3FF))
			continue
		}
		dst = appendU(dst, r) // includes U+FFFD for an invalid byte
	}
	return append(dst, '"')
}

// appendPyFloat writes f as Python's repr: the shortest digits that read back
// as f, positional when the decimal exponent is in [-4, 16), else scientific
// with a signed exponent of at least two digits; integral values keep ".0".
func appendPyFloat(dst []byte, f float64) []byte {
	var buf [32]byte
	b := strconv.AppendFloat(buf[:0], f, 'e', -1, 64)
	if b[0] == '-' {
		dst = append(dst, '-')
		b = b[1:]
	}
	epos := slices.Index(b, 'e')
	mant, expPart := b[:epos], b[epos+1:]
	exp, _ := strconv.Atoi(string(expPart))
	digits := make([]byte, 0, len(mant))
	for _, c := range mant {
		if c != '.' {
			digits = append(digits, c)
		}
	}
	decpt := exp + 1 // digits[0] is at 10^exp
	if decpt > -4 && decpt <= 16 {
		switch {
		case decpt <= 0:
			dst = append(dst, '0', '.')
			for range -decpt {
				dst = append(dst, '0')
			}
			return append(dst, digits...)
		case decpt >= len(digits):
			dst = append(dst, digits...)
			for range decpt - len(digits) {
				dst = append(dst, '0')
			}
			return append(dst, '.', '0')
		default:
			dst = append(dst, digits[:decpt]...)
			dst = append(dst, '.')
			return append(dst, digits[decpt:]...)
		}
	}
	dst = append(dst, digits[0])
	if len(digits) > 1 {
		dst = append(dst, '.')
		dst = append(dst, digits[1:]...)
	}
	dst = append(dst, 'e')
	if exp < 0 {
		dst = append(dst, '-')
		exp = -exp
	} else {
		dst = append(dst, '+')
	}
	if exp < 10 {
		dst = append(dst, '0')
	}
	return strconv.AppendInt(dst, int64(exp), 10)
}
