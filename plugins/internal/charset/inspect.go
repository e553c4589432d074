package charset

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Text is the text Logstash's codecs make of bytes read with charset UTF-8:
// the bytes when they are valid UTF-8, else their Ruby inspect form (so
// "a\xffb" becomes the 6 characters a\xFFb), as LogStash::Util::Charset
// does.
func Text(raw []byte) string {
	if utf8.Valid(raw) {
		return string(raw)
	}
	return Inspect(raw)
}

func utf8Text(b []byte) []byte {
	if utf8.Valid(b) {
		return b
	}
	return []byte(Inspect(b))
}

// Inspect is Ruby's String#inspect of a UTF-8 string, without the quotes.
func Inspect(b []byte) string {
	var sb strings.Builder
	sb.Grow(len(b) + len(b)/4)
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			fmt.Fprintf(&sb, "\\x%02X", b[i])
			i++
			continue
		}
		switch r {
		case '"', '\\':
			sb.WriteByte('\\')
			sb.WriteRune(r)
		case '#':
			if i+1 < len(b) && (b[i+1] == '{' || b[i+1] == '$' || b[i+1] == '@') {
				sb.WriteByte('\\')
			}
			sb.WriteByte('#')
		case '\n':
			sb.WriteString("\\n")
		case '\r':
			sb.WriteString("\\r")
		case '\t':
			sb.WriteString("\\t")
		case '\f':
			sb.WriteString("\\f")
		case '\v':
			sb.WriteString("\\v")
		case '\b':
			sb.WriteString("\\b")
		case '\a':
			sb.WriteString("\\a")
		case 0x1b:
			sb.WriteString("\\e")
		default:
			if rubyPrintable(r) {
				sb.WriteRune(r)
			} else if r < 0x10000 {
				fmt.Fprintf(&sb, "\\u%04X", r)
			} else {
				fmt.Fprintf(&sb, "\\u{%X}", r)
			}
		}
		i += n
	}
	return sb.String()
}

// rubyPrintable is Onigmo's [[:print:]] for Unicode: graphic characters and
// space separators (format and private-use characters included).
func rubyPrintable(r rune) bool {
	if unicode.Is(unicode.Cc, r) || unicode.Is(unicode.Cs, r) {
		return false
	}
	if unicode.IsSpace(r) && !unicode.Is(unicode.Zs, r) {
		return false
	}
	return true
}
