package mutate

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/pipelined/pipeline/engine/valuefmt"
)

// This file has the Ruby String and Array methods that mutate.rb calls.

// rubyStrip is String#strip: leading and trailing ASCII white space and NULs.
func rubyStrip(s string) string {
	return strings.Trim(s, " \t\n\v\f\r\x00")
}

// capitalize is String#capitalize: the first character upper-cased (title
// case), the rest lower-cased.
func capitalize(s string) string {
	if s == "" {
		return s
	}
	r, n := utf8.DecodeRuneInString(s)
	first := unicode.ToTitle(r)
	rest := strings.ToLower(s[n:])
	if first == r && rest == s[n:] {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + utf8.UTFMax)
	b.WriteRune(first)
	b.WriteString(rest)
	return b.String()
}

// rubySplit is String#split(sep) for a string separator: "" splits into
// characters, " " at runs of ASCII white space (leading white space ignored),
// anything else literally; trailing empty strings are removed.
func rubySplit(s, sep string) []any {
	var parts []string
	switch sep {
	case "":
		parts = make([]string, 0, utf8.RuneCountInString(s))
		for _, r := range s {
			parts = append(parts, string(r))
		}
	case " ":
		parts = strings.FieldsFunc(s, func(r rune) bool {
			return r == ' ' || r == '\t' || r == '\n' || r == '\v' || r == '\f' || r == '\r'
		})
	default:
		parts = strings.Split(s, sep)
	}
	for len(parts) > 0 && parts[len(parts)-1] == "" {
		parts = parts[:len(parts)-1]
	}
	out := make([]any, len(parts))
	for i, p := range parts {
		out[i] = p
	}
	return out
}

// appendRubyJoin is Array#join(sep): nested lists are joined with the same
// separator, null is empty, other elements use to_s.
func appendRubyJoin(dst []byte, list []any, sep string) []byte {
	for i, el := range list {
		if i > 0 {
			dst = append(dst, sep...)
		}
		switch x := el.(type) {
		case nil:
		case []any:
			dst = appendRubyJoin(dst, x, sep)
		default:
			dst = valuefmt.AppendRubyToS(dst, x)
		}
	}
	return dst
}

// rubyToS is the to_s of an event value in Logstash's Ruby API.
func rubyToS(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	return string(valuefmt.AppendRubyToS(nil, v))
}
