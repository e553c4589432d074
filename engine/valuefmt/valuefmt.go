// Package valuefmt writes event values as text the way Logstash's Ruby and
// Java code print them: floats as Java's Double.toString (sprintf, JSON) and
// Ruby's Float#to_s (conditionals, rubydebug), and values as Ruby's to_s and
// inspect (String#inspect quoting included). Codecs and filters that must
// match Logstash's text byte for byte use it; the event package uses it for
// sprintf and JSON.
//
// Timestamps print as timefmt.AppendTimestamp does (Logstash's Timestamp).
package valuefmt

import (
	"bytes"
	"fmt"
	"math"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/pipelined/pipeline/engine/timefmt"
)

// AppendJavaDouble appends f as Java's Double.toString does (JDK 19+, which
// prints the shortest digits that round-trip, at least two): plain decimal with
// at least one fraction digit for 1e-3 <= |f| < 1e7 ("1.5", "3.0", "100.0"),
// otherwise computerized scientific notation ("1.0E7", "1.234E-5", "4.9E-324");
// "NaN", "Infinity", "-Infinity", "0.0", "-0.0". It is how Logstash prints a
// float in sprintf, in Event#to_s and (unquoted for finite values) in JSON.
func AppendJavaDouble(dst []byte, f float64) []byte { return appendFloat(dst, f, false) }

// AppendRubyFloat appends f as Ruby's Float#to_s does, which is how Logstash
// prints a float in conditionals and the rubydebug codec: the shortest digits
// that round-trip, plain with at least one fraction digit when
// 1e-4 <= |f| < 1e16 ("1.0", "0.0001"), otherwise scientific notation with a
// signed exponent of at least two digits ("1.0e+16", "1.0e-05"); "NaN",
// "Infinity", "-Infinity", "0.0", "-0.0".
func AppendRubyFloat(dst []byte, f float64) []byte { return appendFloat(dst, f, true) }

// appendFloat is AppendJavaDouble, or AppendRubyFloat when ruby is set.
func appendFloat(dst []byte, f float64, ruby bool) []byte {
	lo, hi := 1e-3, 1e7
	if ruby {
		lo, hi = 1e-4, 1e16
	}
	if a := math.Abs(f); a >= lo && a < hi {
		return appendPlainFloat(dst, f)
	}
	if s := specialFloat(f); s != "" {
		return append(dst, s...)
	}
	if f < 0 {
		dst = append(dst, '-')
		f = -f
	}
	var buf [24]byte
	d, exp := floatDigits(&buf, f, !ruby)
	dst = appendMantissa(dst, d)
	if !ruby {
		dst = append(dst, 'E')
		return strconv.AppendInt(dst, int64(exp), 10)
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

// specialFloat returns the text Java and Ruby share for NaN, the infinities
// and the zeros, or "" for any other value.
func specialFloat(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	case f == 0:
		if math.Signbit(f) {
			return "-0.0"
		}
		return "0.0"
	}
	return ""
}

// floatDigits returns the shortest decimal digits that read back as f (finite
// and positive), without trailing zeros, and the decimal exponent of the first
// one: f = d[0].d[1]d[2]… × 10^exp. With twoDigits, a value whose shortest form
// has one digit gets the closest two-digit form that still rounds to f, as
// Java's Double.toString does (4.9E-324, not 5.0E-324).
func floatDigits(buf *[24]byte, f float64, twoDigits bool) ([]byte, int) {
	var tmp [32]byte
	b := strconv.AppendFloat(tmp[:0], f, 'e', -1, 64) // d[.ddd]e±XX
	if twoDigits && b[1] == 'e' {
		var tmp2 [32]byte
		b2 := strconv.AppendFloat(tmp2[:0], f, 'e', 1, 64)
		if g, err := strconv.ParseFloat(string(b2), 64); err == nil && g == f {
			b = append(tmp[:0], b2...)
		}
	}
	nd, i := 0, 0
	for ; b[i] != 'e'; i++ {
		if b[i] != '.' {
			buf[nd] = b[i]
			nd++
		}
	}
	for nd > 1 && buf[nd-1] == '0' {
		nd--
	}
	exp := 0
	for _, c := range b[i+2:] {
		exp = exp*10 + int(c-'0')
	}
	if b[i+1] == '-' {
		exp = -exp
	}
	return buf[:nd], exp
}

// appendPlainFloat appends f, neither zero nor too large or small for plain
// notation, with the shortest digits that read back as f and at least one
// fraction digit, as Java and Ruby print such a float. (The two-digit rule of
// floatDigits only makes a difference for subnormals.)
func appendPlainFloat(dst []byte, f float64) []byte {
	n := len(dst)
	dst = strconv.AppendFloat(dst, f, 'f', -1, 64)
	if bytes.IndexByte(dst[n:], '.') < 0 {
		dst = append(dst, '.', '0')
	}
	return dst
}

// appendMantissa writes digits d as d[0].d[1]… with at least one fraction
// digit, for scientific notation.
func appendMantissa(dst, d []byte) []byte {
	dst = append(dst, d[0], '.')
	if len(d) > 1 {
		return append(dst, d[1:]...)
	}
	return append(dst, '0')
}

// AppendRubyToS appends what Ruby's to_s gives for an event value in
// Logstash's Ruby API: nil is empty, a string is itself, numbers and booleans
// print as Ruby does, a timestamp as Logstash's text form, and arrays and
// hashes as Ruby's inspect.
func AppendRubyToS(dst []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return dst
	case string:
		return append(dst, x...)
	case bool:
		return strconv.AppendBool(dst, x)
	case int64:
		return strconv.AppendInt(dst, x, 10)
	case *big.Int:
		return x.Append(dst, 10) // an exact integer beyond int64 (Bignum)
	case float64:
		return AppendRubyFloat(dst, x)
	case time.Time:
		return timefmt.AppendTimestamp(dst, x)
	case []any, map[string]any:
		return AppendRubyInspect(dst, v)
	}
	return fmt.Append(dst, v)
}

// AppendRubyInspect appends Ruby's inspect of an event value: strings
// quoted, nil as nil, arrays as [a, b], hashes as {"k"=>v} (keys sorted here;
// Ruby keeps insertion order).
func AppendRubyInspect(dst []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(dst, "nil"...)
	case string:
		return AppendRubyString(dst, x)
	case time.Time:
		dst = append(dst, '"')
		dst = timefmt.AppendTimestamp(dst, x)
		return append(dst, '"')
	case []any:
		dst = append(dst, '[')
		for i, el := range x {
			if i > 0 {
				dst = append(dst, ", "...)
			}
			dst = AppendRubyInspect(dst, el)
		}
		return append(dst, ']')
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		dst = append(dst, '{')
		for i, k := range keys {
			if i > 0 {
				dst = append(dst, ", "...)
			}
			dst = AppendRubyString(dst, k)
			dst = append(dst, "=>"...)
			dst = AppendRubyInspect(dst, x[k])
		}
		return append(dst, '}')
	}
	return AppendRubyToS(dst, v)
}

// AppendRubyString appends s quoted as Ruby's String#inspect writes a UTF-8
// string: "\"", "\\", control and other non-printable characters escaped
// (\n, \e, \u0001, \u2028, \u{E0001}), "#{", "#$" and "#@" escaped, and bytes
// that are not UTF-8 as \xFF. The one implementation of it: rubydebug,
// Event#inspect and the charset conversion of invalid text all use it.
func AppendRubyString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\v':
				dst = append(dst, '\\', 'v')
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\a':
				dst = append(dst, '\\', 'a')
			case 0x1b:
				dst = append(dst, '\\', 'e')
			case '#':
				// "#{", "#$" and "#@" would interpolate in a Ruby literal.
				if i+1 < len(s) && (s[i+1] == '{' || s[i+1] == '$' || s[i+1] == '@') {
					dst = append(dst, '\\')
				}
				dst = append(dst, c)
			default:
				if c < 0x20 || c == 0x7f {
					dst = append(dst, '\\', 'u', '0', '0', rubyHex[c>>4], rubyHex[c&0xF])
				} else {
					dst = append(dst, c)
				}
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, '\\', 'x', rubyHex[c>>4], rubyHex[c&0xF])
		case rubyPrintable(r):
			dst = append(dst, s[i:i+size]...)
		case r < 0x10000:
			dst = append(dst, '\\', 'u', rubyHex[r>>12&0xF], rubyHex[r>>8&0xF], rubyHex[r>>4&0xF], rubyHex[r&0xF])
		default:
			dst = append(dst, '\\', 'u', '{')
			dst = append(dst, strings.ToUpper(strconv.FormatUint(uint64(r), 16))...)
			dst = append(dst, '}')
		}
		i += size
	}
	return append(dst, '"')
}

const rubyHex = "0123456789ABCDEF"

// rubyPrintable is Onigmo's [[:print:]] for Unicode: graphic characters and
// space separators (format and private-use characters included).
func rubyPrintable(r rune) bool {
	if unicode.Is(unicode.Cc, r) || unicode.Is(unicode.Cs, r) {
		return false
	}
	return !unicode.IsSpace(r) || unicode.Is(unicode.Zs, r)
}
