package useragent

import (
	"regexp/syntax"
	"strings"
	"unicode/utf8"
)

// Most of ua-parser's patterns cannot match unless the text holds certain
// literals ("Firefox", "CFNetwork"…), and running the 1200 regular
// expressions on each new text takes milliseconds, so each pattern gets a
// prefilter: sets of literals such that a matching text holds one literal of
// every set. The prefilter only skips patterns that could not match; it
// never decides a match. Literals are ASCII; case-insensitive ones are
// compared lower-cased.

// orSet is a set of literals of which a matching text holds one.
type orSet struct {
	lits []string
	fold bool
}

// prefilter holds the sets a matching text satisfies; none filters nothing.
type prefilter struct{ all []orSet }

// newPrefilter derives the prefilter of a pattern.
func newPrefilter(expr string) prefilter {
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return prefilter{}
	}
	var p prefilter
	for _, set := range required(re.Simplify()) {
		if set.usable() {
			if set.fold {
				for i, l := range set.lits {
					set.lits[i] = strings.ToLower(l)
				}
			}
			p.all = append(p.all, set)
		}
	}
	return p
}

func (s orSet) usable() bool {
	if len(s.lits) == 0 {
		return false
	}
	for _, l := range s.lits {
		if l == "" || !isASCII(l) {
			return false
		}
	}
	return true
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// required returns the sets every match of re satisfies.
func required(re *syntax.Regexp) []orSet {
	switch re.Op {
	case syntax.OpLiteral:
		return []orSet{{lits: []string{string(re.Rune)}, fold: re.Flags&syntax.FoldCase != 0}}
	case syntax.OpCapture, syntax.OpPlus:
		return required(re.Sub[0])
	case syntax.OpRepeat:
		if re.Min >= 1 {
			return required(re.Sub[0])
		}
	case syntax.OpConcat:
		var all []orSet
		for _, sub := range re.Sub {
			all = append(all, required(sub)...)
		}
		return all
	case syntax.OpAlternate:
		// Each branch contributes its most selective set; a branch without
		// one makes the alternation require nothing.
		var union orSet
		for _, sub := range re.Sub {
			best, ok := mostSelective(required(sub))
			if !ok {
				return nil
			}
			union.lits = append(union.lits, best.lits...)
			union.fold = union.fold || best.fold
		}
		return []orSet{union}
	}
	return nil
}

// mostSelective is the set whose shortest literal is longest.
func mostSelective(sets []orSet) (orSet, bool) {
	var best orSet
	bestScore := 0
	for _, s := range sets {
		if !s.usable() {
			continue
		}
		m := len(s.lits[0])
		for _, l := range s.lits[1:] {
			m = min(m, len(l))
		}
		if m > bestScore {
			best, bestScore = s, m
		}
	}
	return best, bestScore > 0
}

// pass reports whether the text (s, and lower, its lower-cased form) may
// match.
func (p prefilter) pass(s, lower string) bool {
	for _, set := range p.all {
		t := s
		if set.fold {
			t = lower
		}
		found := false
		for _, l := range set.lits {
			if strings.Contains(t, l) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}
