package correlate

import (
	"regexp"
	"regexp/syntax"
	"strings"
	"unicode/utf8"
)

// matcher is pattern or pattern2 with a fast path for the common SEC
// pattern anchored at the start of the line: a pattern that begins with
// ^ and a literal ("^Accepted (password|publickey)") rejects a source
// without that prefix by comparing bytes, and one that is only ^ and a
// literal ("^Failed password") matches by it, without running the regular
// expression; any other pattern runs it.
type matcher struct {
	re       *regexp.Regexp
	prefix   string
	complete bool // the pattern is ^prefix, nothing more
}

func newMatcher(p string) *matcher {
	m := &matcher{re: regexp.MustCompile(p)}
	// regexp.Compile parses with syntax.Perl: ^ is the start of the text
	// (OpBeginText) unless (?m) makes it the start of a line.
	re, err := syntax.Parse(p, syntax.Perl)
	if err != nil {
		return m
	}
	re = re.Simplify()
	if re.Op != syntax.OpConcat || len(re.Sub) < 2 || re.Sub[0].Op != syntax.OpBeginText {
		return m
	}
	lit := re.Sub[1]
	if lit.Op != syntax.OpLiteral || lit.Flags&syntax.FoldCase != 0 {
		return m
	}
	for _, r := range lit.Rune {
		if r == utf8.RuneError { // also matches a byte of invalid UTF-8
			return m
		}
	}
	m.prefix = string(lit.Rune)
	m.complete = len(re.Sub) == 2
	return m
}

// match reports whether s matches the pattern.
func (m *matcher) match(s string) bool {
	if m.prefix != "" {
		if !strings.HasPrefix(s, m.prefix) {
			return false
		}
		if m.complete {
			return true
		}
	}
	return m.re.MatchString(s)
}
