package grok

import (
	"errors"
	"fmt"
	"regexp"
	"regexp/syntax"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/dlclark/regexp2"
)

// Logstash runs grok patterns with Onigmo, a backtracking engine. Most
// library patterns are plain regular expressions that Go's linear-time RE2
// engine runs with the same result, but some use look-around, atomic groups
// or backreferences, which RE2 lacks. For those, a pattern is translated twice:
//
//   - a backtracking version for github.com/dlclark/regexp2 (.NET syntax,
//     which has all three), bounded by timeout_millis: exact, but slow;
//   - a relaxed RE2 version with each look-around removed and each atomic
//     group made an ordinary group. Removing an assertion or an atomicity
//     constraint only adds match paths and keeps their priority order, so
//     every path Onigmo may take is a path of the relaxed regexp, and the
//     relaxed regexp's first path (leftmost, then leftmost-first priority,
//     which is what Go's regexp returns) is Onigmo's answer whenever it obeys
//     the removed constraints. So: no relaxed match means no match; a relaxed
//     match is checked against each removed construct at the position an
//     empty marker group recorded; and only when a check fails (or a
//     construct cannot be checked this way) does the backtracking engine run.
//
// A look-around can be checked when its body is capture-free, has no anchors
// and, for a look-behind, a fixed length; an atomic group when its body has no
// anchors. Neither can be checked inside a quantified group (its marker would
// keep only the last iteration), nor when the pattern changes flags inline.

// superset is a library pattern whose RE2 program is large (IPV6 alone is
// about 1,000 instructions, which keeps Go from its fast backtracking
// matcher): the relaxed regexp holds a small superset of it, and the check
// requires the span the superset matched to be what the exact definition
// alone matches first at that position, just as for an atomic group. Where
// they differ the backtracking engine (given the exact definition) decides.
// That is sound because the superset accepts every span the definition
// accepts, so no match is lost, and a match whose span passes the check is
// one the definition's first choice also makes. The exact text must be RE2
// without anchors that look left, except a leading \b, which the relaxed
// text repeats and which holds on the checked suffix when the text starts
// with a word character.
type superset struct {
	relaxed, exact string
	// first, if set, is the exact definition's first match at the start of
	// its argument, hand-written: the end, or -1.
	first func(string) int
}

// supersetMark delimits a superset token, \x01k\x01, in an expanded pattern.
const supersetMark = '\x01'

// checkKind is the kind of a removed construct.
type checkKind int

const (
	chkAhead checkKind = iota
	chkNotAhead
	chkBehind
	chkNotBehind
	chkAtomic
	chkOnce // a quantified group holding checks repeated at most once
)

// check is one removed construct, verified after a relaxed RE2 match.
type check struct {
	kind   checkKind
	marker string           // name of the marker group in the relaxed regexp
	group  int              // its submatch index, once compiled
	body   *regexp.Regexp   // \A(?:body) for look-ahead and atomic, \A(?:body)\z for look-behind
	width  int              // look-behind: the body's length in runes
	inner  int              // chkOnce: submatch index of the last iteration
	body2  *regexp2.Regexp  // chkAtomic: the body when RE2 cannot hold it
	first  func(string) int // chkAtomic: a hand-written first match (superset)
	set    []rune           // look-around of one character: its ranges, lo-hi pairs
	src    string           // relaxed body text, compiled later
}

// translation is a pattern in both dialects.
type translation struct {
	re2        string   // relaxed RE2 text ("" when it cannot be written)
	net        string   // .NET (regexp2) text; "" when RE2 alone is exact
	netAll     string   // the .NET text in every case (for tests)
	checks     []check  // constructs to verify after a relaxed match
	verifiable bool     // every construct is covered by checks
	why        []string // why not, for diagnostics
}

// frame is an open group while translating.
type frame struct {
	kind     byte // 'g' group, 'n' named, '>' atomic, '=' '!' look-ahead, '<' '-' look-behind (positive, negative)
	re2Start int  // length of the RE2 output when the body began
	re2Open  int  // length of the RE2 output before the group opened
	check    int  // index into checks for atomic groups, -1 otherwise
	captures bool // a named group inside
	anchors  bool // ^ $ \b \B \A \z \Z \G inside
	repeats  bool // an interval quantifier {n,m} inside
	superset int  // 1+index into sup when this atomic group stands for a superset
	nested   bool // another construct inside
	checks   bool // a check inside (this one included)
}

var errPossessive = errors.New("possessive quantifiers (*+ ++ ?+) are not supported; write (?>X*) instead")

// translate converts an expanded grok pattern (Onigmo syntax, named groups
// already renamed _gN) to the relaxed RE2 and .NET dialects.
func translate(p string, relaxRepeats bool, sup []superset) (*translation, error) {
	var re2, net strings.Builder
	t := &translation{verifiable: true}
	needBT := false
	var stack []frame
	top := func() *frame {
		if len(stack) == 0 {
			return nil
		}
		return &stack[len(stack)-1]
	}
	markAnchor := func() {
		for i := range stack {
			stack[i].anchors = true
		}
	}
	quantified := func(i int) bool {
		if i >= len(p) {
			return false
		}
		// ? and {0,1} repeat at most once, which a marker records fine.
		switch p[i] {
		case '*', '+':
			return true
		case '{':
			max, ok := repeatMax(p[i:])
			return ok && (max < 0 || max > 1)
		}
		return false
	}
	both := func(s string) { re2.WriteString(s); net.WriteString(s) }
	lastRepeated := false // the group just closed holds a bounded repeat
	for i := 0; i < len(p); {
		c := p[i]
		closedRepeats := lastRepeated
		lastRepeated = false
		if c == '{' {
			if _, ok := repeatMax(p[i:]); ok {
				for k := range stack {
					stack[k].repeats = true
				}
			}
		}
		switch {
		case c == '\\':
			if i+1 >= len(p) {
				return nil, errors.New("trailing backslash")
			}
			d := p[i+1]
			switch {
			case d >= '1' && d <= '9', d == 'k' && i+2 < len(p) && p[i+2] == '<':
				// A backreference: the relaxed regexp matches anything there.
				j := i + 2
				if d == 'k' {
					end := strings.IndexByte(p[i:], '>')
					if end < 0 {
						return nil, errors.New(`unterminated \k<name>`)
					}
					j = i + end + 1
				}
				re2.WriteString(`(?s:.*?)`)
				net.WriteString(p[i:j])
				needBT, t.verifiable = true, false
				i = j
				continue
			case d == 'b' || d == 'B' || d == 'A' || d == 'z' || d == 'Z' || d == 'G':
				markAnchor()
			case d == 'g' || d == 'K':
				return nil, fmt.Errorf(`\%c is not supported`, d)
			case d == 'h':
				both(`[0-9a-fA-F]`) // Onigmo's hex digit
				i += 2
				continue
			case d == 'H':
				both(`[^0-9a-fA-F]`)
				i += 2
				continue
			}
			both(p[i : i+2])
			i += 2
		case c == '[':
			body, j, err := classBody(p, i)
			if err != nil {
				return nil, err
			}
			both("[" + body + "]")
			i = j
		case c == '{' && relaxRepeats && closedRepeats && i > 0 && p[i-1] == ')' && largeRepeat(p[i:]):
			// RE2 limits nested repeat counts (EMAILLOCALPART's {1,62}){0,63}
			// exceeds it); the relaxed form drops the upper bound.
			m := boundedRepeat.FindStringSubmatch(p[i:])
			re2.WriteString("{" + m[1] + ",}")
			net.WriteString(m[0])
			t.verifiable, needBT = false, true
			t.why = append(t.why, "a bounded repeat RE2 cannot hold")
			i += len(m[0])
		case c == '?' && i+1 < len(p) && p[i+1] == '*' && !afterQuantifier(p, i):
			// Onigmo reads X?* as (?:X?)*, which matches as X* does; RE2
			// and .NET refuse the nested repetition.
			both("*")
			i += 2
		case c == supersetMark:
			end := strings.IndexByte(p[i+1:], supersetMark)
			if end < 0 {
				return nil, errors.New("misplaced superset token")
			}
			k, err := strconv.Atoi(p[i+1 : i+1+end])
			if err != nil || k >= len(sup) || len(stack) == 0 || stack[len(stack)-1].kind != '>' {
				return nil, errors.New("misplaced superset token")
			}
			re2.WriteString(sup[k].relaxed)
			net.WriteString(sup[k].exact)
			stack[len(stack)-1].superset = k + 1
			i += end + 2
		case c == '^' || c == '$':
			markAnchor()
			both(p[i : i+1])
			i++
		case c == '*' || c == '+' || c == '?' || c == '}':
			both(p[i : i+1])
			i++
			if i < len(p) && p[i] == '+' && (c != '}') {
				return nil, errPossessive
			}
		case c == '(':
			f := frame{check: -1, re2Start: -1, re2Open: re2.Len()}
			rest := p[i:]
			switch {
			case strings.HasPrefix(rest, "(?#"):
				end := strings.IndexByte(rest, ')')
				if end < 0 {
					return nil, errors.New("unterminated (?# comment")
				}
				i += end + 1
				continue
			case strings.HasPrefix(rest, "(?:"):
				f.kind = 'g'
				both("(?:")
				i += 3
			case strings.HasPrefix(rest, "(?<=") || strings.HasPrefix(rest, "(?<!"):
				f.kind = '<'
				if rest[3] == '!' {
					f.kind = '-'
				}
				f.re2Start = re2.Len()
				net.WriteString(rest[:4])
				i += 4
			case strings.HasPrefix(rest, "(?="), strings.HasPrefix(rest, "(?!"):
				f.kind = rest[2]
				f.re2Start = re2.Len()
				net.WriteString(rest[:3])
				i += 3
			case strings.HasPrefix(rest, "(?>"):
				f.kind = '>'
				f.check = len(t.checks)
				name := fmt.Sprintf("_m%d", len(t.checks))
				t.checks = append(t.checks, check{kind: chkAtomic, marker: name})
				re2.WriteString("(?P<" + name + ">")
				f.re2Start = re2.Len()
				net.WriteString("(?>")
				i += 3
			case strings.HasPrefix(rest, "(?<") || strings.HasPrefix(rest, "(?P<"):
				end := strings.IndexByte(rest, '>')
				if end < 0 {
					return nil, errors.New("unterminated group name")
				}
				name := rest[strings.IndexByte(rest, '<')+1 : end]
				f.kind = 'n'
				re2.WriteString("(?P<" + name + ">")
				net.WriteString("(?<" + name + ">")
				for k := range stack {
					stack[k].captures = true
				}
				i += end + 1
			case strings.HasPrefix(rest, "(?("), strings.HasPrefix(rest, "(?~"):
				return nil, fmt.Errorf("%s… (conditionals and absent operators) is not supported", rest[:3])
			case strings.HasPrefix(rest, "(?"):
				// Inline options, (?imx-imx) or (?imx-imx:…). Onigmo's m is
				// "dot matches newline", which is s in both Go and .NET.
				j := 2
				for j < len(rest) && strings.IndexByte("imx-", rest[j]) >= 0 {
					j++
				}
				if j >= len(rest) || (rest[j] != ')' && rest[j] != ':') {
					return nil, fmt.Errorf("unsupported group %q", rest[:min(len(rest), j+1)])
				}
				flags := strings.ReplaceAll(rest[2:j], "m", "s")
				if strings.Contains(flags, "x") {
					return nil, errors.New("the x (extended) option is not supported")
				}
				t.verifiable = false // check bodies are compiled without these flags
				t.why = append(t.why, "inline options")
				if rest[j] == ')' {
					if flags == "" || flags == "-" {
						return nil, fmt.Errorf("empty option group %q", rest[:j+1])
					}
					both("(?" + flags + ")")
					i += j + 1
					continue
				}
				f.kind = 'g'
				both("(?" + flags + ":")
				i += j + 1
			default:
				// Onigmo does not capture unnamed groups once a pattern has
				// named ones, and grok stores only named ones; an unnamed
				// group is therefore always non-capturing, which also lets
				// RE2 keep fewer submatches.
				f.kind = 'g'
				both("(?:")
				i++
			}
			if f.kind == '>' || f.kind == '=' || f.kind == '!' || f.kind == '<' || f.kind == '-' {
				needBT = true
				f.checks = true
				for k := range stack {
					stack[k].nested = true
					stack[k].checks = true
				}
			}
			stack = append(stack, f)
		case c == ')':
			f := top()
			if f == nil {
				return nil, errors.New("unmatched )")
			}
			fr := *f
			stack = stack[:len(stack)-1]
			i++
			lastRepeated = fr.repeats
			if fr.repeats && len(stack) > 0 {
				stack[len(stack)-1].repeats = true
			}
			switch fr.kind {
			case 'g', 'n':
				both(")")
			case '>':
				t.checks[fr.check].src = re2.String()[fr.re2Start:]
				if fr.superset > 0 {
					// See superset: the check compares with the exact
					// definition; the relaxed one's anchors were met in
					// context by the RE2 match.
					t.checks[fr.check].src = sup[fr.superset-1].exact
					t.checks[fr.check].first = sup[fr.superset-1].first
					both(")")
					break
				}
				if fr.anchors || fr.nested {
					t.verifiable = false
					t.why = append(t.why, "an atomic group with anchors or nested constructs")
				}
				both(")")
			case '=', '!', '<', '-':
				body := re2.String()[fr.re2Start:]
				s := re2.String()[:fr.re2Start]
				re2.Reset()
				re2.WriteString(s)
				net.WriteString(")")
				if fr.captures {
					// Onigmo keeps captures made inside a positive look-around;
					// only the backtracking engine gives them.
					t.verifiable = false
					t.why = append(t.why, "captures inside a look-around")
				}
				if fr.anchors || fr.nested || fr.captures {
					t.verifiable = false
					t.why = append(t.why, "a look-around with anchors, nested constructs or captures")
					continue
				}
				kind := map[byte]checkKind{'=': chkAhead, '!': chkNotAhead, '<': chkBehind, '-': chkNotBehind}[fr.kind]
				name := fmt.Sprintf("_m%d", len(t.checks))
				t.checks = append(t.checks, check{kind: kind, marker: name, src: body})
				re2.WriteString("(?P<" + name + ">)")
			}
			if fr.checks && quantified(i) {
				if fr.kind == '=' || fr.kind == '!' || fr.kind == '<' || fr.kind == '-' {
					t.verifiable = false
					t.why = append(t.why, "a quantified look-around")
				} else {
					// The markers inside keep only the last iteration: they
					// are complete when there was one. Wrap the group so
					// that the whole repetition and its last iteration can
					// be compared.
					q := quantifierLen(p[i:])
					all := re2.String()
					body := all[fr.re2Open:]
					name := fmt.Sprintf("_m%d", len(t.checks))
					re2.Reset()
					re2.WriteString(all[:fr.re2Open] + "(?P<" + name + ">(?P<" + name + "l>" + body + ")" + p[i:i+q] + ")")
					net.WriteString(p[i : i+q])
					t.checks = append(t.checks, check{kind: chkOnce, marker: name, src: body})
					i += q
				}
			}
			if fr.anchors {
				markAnchor()
			}
		default:
			both(p[i : i+1])
			i++
		}
	}
	if len(stack) > 0 {
		return nil, errors.New("missing )")
	}
	t.re2 = re2.String()
	t.netAll = net.String()
	if needBT {
		t.net = net.String()
	} else {
		t.checks = nil
	}
	return t, nil
}

var (
	boundedRepeat = regexp.MustCompile(`\A\{([0-9]+),([0-9]+)\}`)
	anyRepeat     = regexp.MustCompile(`\A\{([0-9]*)(,?)([0-9]*)\}`)
)

// repeatMax reads the interval quantifier s starts with: its maximum, -1
// when unbounded; ok is false when s does not start with one.
func repeatMax(s string) (max int, ok bool) {
	m := anyRepeat.FindStringSubmatch(s)
	if m == nil || m[1] == "" && m[3] == "" {
		return 0, false
	}
	switch {
	case m[2] == "": // {n}
		max, _ = strconv.Atoi(m[1])
	case m[3] == "": // {n,}
		max = -1
	default:
		max, _ = strconv.Atoi(m[3])
	}
	return max, true
}

// largeRepeat reports whether s starts with {n,m}, m > 10: the repeats
// that, nested, exceed RE2's limit in the library (EMAILLOCALPART).
func largeRepeat(s string) bool {
	m := boundedRepeat.FindStringSubmatch(s)
	if m == nil {
		return false
	}
	n, _ := strconv.Atoi(m[2])
	return n > 10
}

// quantifierLen is the length of the quantifier s starts with, with its lazy
// modifier.
func quantifierLen(s string) int {
	n := 1
	if s[0] == '{' {
		n = len(anyRepeat.FindString(s))
	}
	if n < len(s) && s[n] == '?' {
		n++
	}
	return n
}

// afterQuantifier reports whether p[i] follows a quantifier (so a ? there is
// the lazy modifier).
func afterQuantifier(p string, i int) bool {
	if i == 0 {
		return false
	}
	switch p[i-1] {
	case '*', '+', '?', '}':
		return i < 2 || p[i-2] != '\\'
	}
	return false
}

// onigFlags and netFlags are Logstash's regexp options in RE2 and .NET
// terms: ^ and $ at line ends (Onigmo always), and . matching a newline
// (Ruby's Regexp::MULTILINE, which Logstash's grok sets).
const (
	onigFlags = "(?ms)"
	netFlags  = regexp2.Multiline | regexp2.Singleline
)

// posixClasses are Onigmo's bracket classes on UTF-8 text, which are
// Unicode-aware (unlike \w, \d and \s, which Ruby keeps ASCII): [[:alnum:]]
// takes the Č of /opt/Čierný_Peter/. They are written with Unicode
// categories, in a form both RE2 and .NET read (.NET has no [:name:]
// syntax); alpha is the letters, letter numbers and combining marks
// (Unicode's Alphabetic property, which neither engine names).
var posixClasses = map[string]string{
	"alpha": `\p{L}\p{Nl}\p{Mn}\p{Mc}`, "alnum": `\p{L}\p{Nl}\p{Mn}\p{Mc}\p{Nd}`, "digit": `\p{Nd}`,
	"xdigit": `0-9a-fA-F`, "lower": `\p{Ll}`, "upper": `\p{Lu}`,
	"space": `\t\n\v\f\r \x85\p{Z}`, "blank": `\t\p{Zs}`,
	"word": `\p{L}\p{M}\p{Nd}\p{Pc}`, "punct": `!-/:-@\[-` + "`" + `{-~\p{P}`, "cntrl": `\p{Cc}`,
	"print": `\p{L}\p{M}\p{N}\p{P}\p{S}\p{Zs}`, "graph": `\p{L}\p{M}\p{N}\p{P}\p{S}`, "ascii": `\x00-\x7f`,
}

// classBody reads the character class starting at p[i] and returns its
// contents in a form RE2 and .NET share, and the index just past it. Onigmo's
// nested classes are flattened ([a[bc]] is [abc]); negated nested classes and
// intersections (&&) are refused.
func classBody(p string, i int) (string, int, error) {
	var b strings.Builder
	j := i + 1
	if j < len(p) && p[j] == '^' {
		b.WriteByte('^')
		j++
	}
	if j < len(p) && p[j] == ']' {
		b.WriteString(`\]`) // a leading ] is literal
		j++
	}
	for j < len(p) {
		switch c := p[j]; {
		case c == '\\':
			if j+1 >= len(p) {
				return "", 0, errors.New("trailing backslash in a character class")
			}
			switch p[j+1] {
			case 'h':
				b.WriteString(`0-9a-fA-F`)
			case 'H':
				return "", 0, errors.New(`\H inside a character class is not supported`)
			default:
				b.WriteString(p[j : j+2])
			}
			j += 2
		case c == '[' && strings.HasPrefix(p[j:], "[:"):
			end := strings.Index(p[j:], ":]")
			if end < 0 {
				return "", 0, errors.New("unterminated [: in a character class")
			}
			name := p[j+2 : j+end]
			r, ok := posixClasses[name]
			if !ok {
				return "", 0, fmt.Errorf("unsupported character class [:%s:]", name)
			}
			b.WriteString(r)
			j += end + 2
		case c == '[':
			if j+1 < len(p) && p[j+1] == '^' {
				return "", 0, errors.New("negated nested character classes are not supported")
			}
			inner, k, err := classBody(p, j)
			if err != nil {
				return "", 0, err
			}
			b.WriteString(inner)
			j = k
		case c == '&' && strings.HasPrefix(p[j:], "&&"):
			return "", 0, errors.New("character class intersection (&&) is not supported")
		case c == ']':
			return b.String(), j + 1, nil
		default:
			b.WriteByte(c)
			j++
		}
	}
	return "", 0, errors.New("missing ] in a character class")
}

// compileChecks compiles the bodies of the checks against the relaxed
// regexp's group names. It reports false when a body cannot be checked.
func (t *translation) compileChecks(re *regexp.Regexp) bool {
	for k := range t.checks {
		c := &t.checks[k]
		c.group = re.SubexpIndex(c.marker)
		if c.group < 0 {
			return false
		}
		var err error
		switch c.kind {
		case chkOnce:
			c.inner = re.SubexpIndex(c.marker + "l")
			var tree *syntax.Regexp
			if tree, err = syntax.Parse(c.src, syntax.Perl); err == nil {
				if lo, _ := runeWidth(tree); lo == 0 || c.inner < 0 {
					t.why = append(t.why, "a quantified group that may match the empty string")
					return false
				}
			}
		case chkAtomic, chkAhead, chkNotAhead:
			c.body, err = regexp.Compile(onigFlags + `\A(?:` + c.src + `)`)
			var se *syntax.Error
			if c.kind == chkAtomic && errors.As(err, &se) && se.Code == syntax.ErrInvalidRepeatSize {
				// A superset's exact definition RE2 cannot hold: check
				// it on the backtracking engine.
				var tr *translation
				if tr, err = translate(c.src, false, nil); err == nil {
					c.body2, err = regexp2.Compile(`\A(?:`+tr.netAll+`)`, netFlags)
				}
			}
		case chkBehind, chkNotBehind:
			var tree *syntax.Regexp
			tree, err = syntax.Parse(c.src, syntax.Perl)
			if err == nil {
				lo, hi := runeWidth(tree)
				if lo != hi || lo < 0 {
					t.why = append(t.why, "a look-behind of variable length")
					return false
				}
				c.width = lo
				c.body, err = regexp.Compile(onigFlags + `\A(?:` + c.src + `)\z`)
			}
		}
		if err != nil {
			return false
		}
		if c.kind != chkAtomic && c.kind != chkOnce {
			c.set = oneRuneSet(c.src)
		}
	}
	return true
}

// oneRuneSet returns the ranges of a body that matches exactly one character
// from a fixed set (a class or a literal, without case folding), nil
// otherwise. Checking such a look-around needs no regexp.
func oneRuneSet(src string) []rune {
	re, err := syntax.Parse(src, syntax.Perl|syntax.DotNL)
	if err != nil {
		return nil
	}
	re = re.Simplify()
	switch {
	case re.Op == syntax.OpCharClass && re.Flags&syntax.FoldCase == 0:
		return re.Rune
	case re.Op == syntax.OpLiteral && len(re.Rune) == 1 && re.Flags&syntax.FoldCase == 0:
		return []rune{re.Rune[0], re.Rune[0]}
	}
	return nil
}

func inSet(set []rune, r rune) bool {
	for i := 0; i+1 < len(set); i += 2 {
		if set[i] <= r && r <= set[i+1] {
			return true
		}
	}
	return false
}

// verify reports whether a relaxed match m of in obeys every check.
func (t *translation) verify(in string, m []int) bool {
	for k := range t.checks {
		c := &t.checks[k]
		lo, hi := m[2*c.group], m[2*c.group+1]
		if lo < 0 {
			continue // not on the matched path
		}
		switch c.kind {
		case chkOnce:
			if in := m[2*c.inner]; in >= 0 && in != lo {
				return false // more than one iteration
			}
		case chkAtomic:
			if c.first != nil {
				if c.first(in[lo:]) != hi-lo {
					return false
				}
				continue
			}
			if c.body2 != nil {
				m2, err := c.body2.FindStringMatch(in[lo:])
				if err != nil || m2 == nil || m2.Length != utf8.RuneCountInString(in[lo:hi]) {
					return false
				}
				continue
			}
			loc := c.body.FindStringIndex(in[lo:])
			if loc == nil || loc[1] != hi-lo {
				return false
			}
		case chkAhead, chkNotAhead:
			var ok bool
			if c.set != nil {
				r, size := utf8.DecodeRuneInString(in[lo:])
				ok = size > 0 && inSet(c.set, r)
			} else {
				ok = c.body.MatchString(in[lo:])
			}
			if ok != (c.kind == chkAhead) {
				return false
			}
		case chkBehind, chkNotBehind:
			start, n := lo, 0
			for n < c.width && start > 0 {
				_, size := utf8.DecodeLastRuneInString(in[:start])
				start -= size
				n++
			}
			var ok bool
			if c.set != nil {
				r, size := utf8.DecodeLastRuneInString(in[:lo])
				ok = size > 0 && inSet(c.set, r)
			} else {
				ok = n == c.width && c.body.MatchString(in[start:lo])
			}
			if ok != (c.kind == chkBehind) {
				return false
			}
		}
	}
	return true
}

// runeWidth is the minimum and maximum number of runes tree matches; hi is -1
// when unbounded.
func runeWidth(re *syntax.Regexp) (lo, hi int) {
	switch re.Op {
	case syntax.OpEmptyMatch, syntax.OpBeginLine, syntax.OpEndLine, syntax.OpBeginText, syntax.OpEndText,
		syntax.OpWordBoundary, syntax.OpNoWordBoundary:
		return 0, 0
	case syntax.OpLiteral:
		return len(re.Rune), len(re.Rune)
	case syntax.OpCharClass, syntax.OpAnyChar, syntax.OpAnyCharNotNL:
		return 1, 1
	case syntax.OpCapture:
		return runeWidth(re.Sub[0])
	case syntax.OpStar, syntax.OpPlus, syntax.OpQuest, syntax.OpRepeat:
		l, h := runeWidth(re.Sub[0])
		mn, mx := 0, -1
		switch re.Op {
		case syntax.OpPlus:
			mn = 1
		case syntax.OpQuest:
			mx = 1
		case syntax.OpRepeat:
			mn, mx = re.Min, re.Max
		}
		lo = l * mn
		if mx < 0 || h < 0 {
			return lo, -1
		}
		return lo, h * mx
	case syntax.OpConcat:
		for _, s := range re.Sub {
			l, h := runeWidth(s)
			lo += l
			if hi >= 0 {
				if h < 0 {
					hi = -1
				} else {
					hi += h
				}
			}
		}
		return lo, hi
	case syntax.OpAlternate:
		lo, hi = -1, 0
		for _, s := range re.Sub {
			l, h := runeWidth(s)
			if lo < 0 || l < lo {
				lo = l
			}
			if hi >= 0 && (h < 0 || h > hi) {
				hi = h
			}
		}
		return lo, hi
	}
	return 0, -1
}
