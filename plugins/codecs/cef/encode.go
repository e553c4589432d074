package cef

import (
	"strconv"
	"strings"
	"time"

	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/engine/timefmt"
	"github.com/pipelined/pipeline/engine/valuefmt"
)

var headerDefaults = [6]string{defaults.Vendor, defaults.Product, defaults.Version, defaults.Signature, defaults.Name, defaults.Severity}

// appendEvent renders e as one CEF message (without the delimiter).
func (c *Codec) appendEvent(dst []byte, e *event.Event) []byte {
	dst = append(dst, "CEF:0"...)
	for i := 0; i < 5; i++ {
		v := sanitizeHeader(c.header[i].Render(e))
		if v == "" {
			v = headerDefaults[i]
		}
		dst = append(append(dst, '|'), v...)
	}
	dst = append(append(dst, '|'), severity(sanitizeHeader(c.header[5].Render(e)))...)
	dst = append(dst, '|')
	first := true
	for i, r := range c.fields {
		v, ok := e.Get(r)
		if !ok || v == nil {
			continue
		}
		key := c.fieldNames[i]
		if k, ok := c.encodeMap[key]; ok {
			key = k
		}
		key = sanitizeKey(key)
		if !first {
			dst = append(dst, ' ')
		}
		first = false
		dst = append(append(dst, key...), '=')
		switch x := v.(type) {
		case []any, map[string]any:
			dst = append(dst, sanitizeValue(string(event.AppendJSONValue(nil, x)))...)
		case time.Time:
			dst = timefmt.AppendTimestamp(dst, x)
		default:
			dst = append(dst, sanitizeValue(string(valuefmt.AppendRubyToS(nil, x)))...)
		}
	}
	return dst
}

func sanitizeHeader(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return strings.NewReplacer(`\`, `\\`, "|", `\|`, "\n", " ", "\r", " ").Replace(s)
}

func sanitizeValue(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return strings.NewReplacer(`\`, `\\`, "=", `\=`, "\n", `\n`, "\r", `\n`).Replace(s)
}

func sanitizeKey(s string) string {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if c := s[i]; '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' {
			b = append(b, c)
		}
	}
	return string(b)
}

// severity is Logstash's sanitize_severity: an integral number from 0 to 10
// (as Ruby's Float() reads it) is written as its integer part (to_i);
// anything else as the default, 6.
func severity(s string) string {
	s = strings.TrimSpace(s)
	f, err := strconv.ParseFloat(rubyFloatText(s), 64)
	if err != nil || f != float64(int64(f)) || f < 0 || f > 10 {
		return defaults.Severity
	}
	n := 0
	i := 0
	neg := false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	for ; i < len(s); i++ {
		if s[i] == '_' && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9' {
			continue
		}
		if s[i] < '0' || s[i] > '9' {
			break
		}
		n = n*10 + int(s[i]-'0')
		if n > 1000 {
			break
		}
	}
	if neg {
		n = -n
	}
	return strconv.Itoa(n)
}

// rubyFloatText makes s acceptable to strconv.ParseFloat only where Ruby's
// Float() accepts it: decimal digits with single underscores between them,
// a fraction, an exponent; no "inf", "nan" or hexadecimal.
func rubyFloatText(s string) string {
	if s == "" {
		return "x"
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '_':
			if i == 0 || i+1 >= len(s) || s[i-1] < '0' || s[i-1] > '9' || s[i+1] < '0' || s[i+1] > '9' {
				return "x"
			}
		case c >= '0' && c <= '9', c == '.', c == 'e', c == 'E', c == '+', c == '-':
			b.WriteByte(c)
		default:
			return "x"
		}
	}
	t := b.String()
	if strings.HasSuffix(t, ".") || strings.HasPrefix(t, ".") || strings.Contains(t, ".e") || strings.Contains(t, ".E") {
		return "x"
	}
	return t
}
