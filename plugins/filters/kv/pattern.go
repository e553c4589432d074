package kv

import (
	"regexp"
	"unicode/utf8"
)

// patternScanner runs Logstash's scan expression when field_split_pattern or
// value_split_pattern is set:
//
//	key:   ((?:(?!VSP|FSP)(?:\\.|.))+)
//	then:  VSP (quoted values | unquoted value)? (FSP|$)
//
// where the unquoted value is ((?:(?!FSP)(?:\\.|.))+) with field_split_pattern
// and ((?:\\.|[^field_split])+) without. Go's regexp has no lookahead, so the
// key and the lookahead value are matched here, trying the same alternatives
// in the same order as Ruby's backtracking engine; the rest are Go
// expressions anchored at the current position.
type patternScanner struct {
	vsp, fsp *regexp.Regexp   // anchored with \A
	fspGiven bool             // values end at FSP (else rest holds the values)
	quoted   []*regexp.Regexp // fspGiven: each quoted value, then (FSP|$)
	rest     *regexp.Regexp   // !fspGiven: (values)? (FSP|$)
	nValues  int              // capture groups of the values in rest
}

func (s *patternScanner) scan(text string) []match {
	var out []match
	seen := make([]int, len(text)+1) // key ends already tried, by start+1
	for start := 0; start < len(text); {
		if m, end, ok := s.matchAt(text, start, seen); ok {
			out = append(out, m)
			start = end
			continue
		}
		_, size := utf8.DecodeRuneInString(text[start:])
		start += size
	}
	return out
}

// matchAt matches a pair starting at start. The key is tried from its longest
// to its shortest form, in the order backtracking tries them: at each
// character an escape (a backslash and the next character) before the
// character alone. A key end is tried once: what follows it does not depend
// on how it was reached.
func (s *patternScanner) matchAt(text string, start int, seen []int) (match, int, bool) {
	var (
		m   match
		end int
	)
	var try func(pos int) bool
	try = func(pos int) bool {
		if pos > start {
			if seen[pos] == start+1 {
				return false
			}
			seen[pos] = start + 1
		}
		if s.keyChar(text, pos) {
			if text[pos] == '\\' && pos+1 < len(text) && text[pos+1] != '\n' {
				_, size := utf8.DecodeRuneInString(text[pos+1:])
				if try(pos + 1 + size) {
					return true
				}
			}
			_, size := utf8.DecodeRuneInString(text[pos:])
			if try(pos + size) {
				return true
			}
		}
		if pos == start {
			return false
		}
		loc := s.vsp.FindStringIndex(text[pos:])
		if loc == nil {
			return false
		}
		m.key = text[start:pos]
		m.value, end = s.value(text, pos+loc[1])
		return true
	}
	if try(start) {
		return m, end, true
	}
	return m, 0, false
}

// keyChar reports whether a key may go on at pos: not at the end, a newline
// (Ruby's . does not match it) or a value or field delimiter.
func (s *patternScanner) keyChar(text string, pos int) bool {
	return pos < len(text) && text[pos] != '\n' &&
		!s.vsp.MatchString(text[pos:]) && !s.fsp.MatchString(text[pos:])
}

// value matches the optional value and the delimiter after it at pos; it
// returns the value ("" if none) and the end of the match. It always
// succeeds: an unquoted value stops where (FSP|$) matches.
func (s *patternScanner) value(text string, pos int) (string, int) {
	if !s.fspGiven {
		m := s.rest.FindStringSubmatchIndex(text[pos:])
		if m == nil {
			return "", pos
		}
		return firstGroup(text[pos:], m, 1, s.nValues), pos + m[1]
	}
	for _, q := range s.quoted {
		if m := q.FindStringSubmatchIndex(text[pos:]); m != nil {
			return firstGroup(text[pos:], m, 1, 1), pos + m[1]
		}
	}
	p := pos
	for p < len(text) && text[p] != '\n' && !s.fsp.MatchString(text[p:]) {
		if text[p] == '\\' && p+1 < len(text) && text[p+1] != '\n' {
			_, size := utf8.DecodeRuneInString(text[p+1:])
			p += 1 + size
			continue
		}
		_, size := utf8.DecodeRuneInString(text[p:])
		p += size
	}
	end := p
	if loc := s.fsp.FindStringIndex(text[p:]); loc != nil {
		end = p + loc[1]
	}
	return text[pos:p], end
}
