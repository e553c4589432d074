package logstash

import (
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
)

// condScanner holds the condition source and turns byte offsets into hcl
// positions. The condition text may span several lines; offsets are relative to
// src, positions are absolute (shifted by start).
type condScanner struct {
	src        string
	pos        int
	start      hcl.Pos
	filename   string
	lineStarts []int // byte offsets in src where each line begins; [0] == 0
	// runeCols[i] is the number of characters from the start of i's line to
	// byte i, when src is not all ASCII (nil otherwise: columns are byte
	// counts). Counting on every call made a long condition quadratic to
	// parse: 20,000 operands took 25 s.
	runeCols []int32
}

func newCondScanner(src string, start hcl.Pos, filename string) *condScanner {
	if start.Line <= 0 {
		start.Line = 1
	}
	if start.Column <= 0 {
		start.Column = 1
	}
	s := &condScanner{src: src, start: start, filename: filename, lineStarts: []int{0}}
	ascii := true
	for i := 0; i < len(src); i++ {
		if src[i] == '\n' {
			s.lineStarts = append(s.lineStarts, i+1)
		}
		if src[i] >= utf8.RuneSelf {
			ascii = false
		}
	}
	if !ascii {
		s.runeCols = make([]int32, len(src)+1)
		var col int32
		for i := 0; i < len(src); i++ {
			s.runeCols[i] = col
			switch {
			case src[i] == '\n':
				col = 0
			case !utf8.RuneStart(src[i]):
			default:
				col++
			}
		}
		s.runeCols[len(src)] = col
	}
	return s
}

// posAt returns the absolute position of byte offset off in src. Columns count
// Unicode characters, starting at 1, as hcl does.
func (s *condScanner) posAt(off int) hcl.Pos {
	if off > len(s.src) {
		off = len(s.src)
	}
	line := sort.Search(len(s.lineStarts), func(i int) bool { return s.lineStarts[i] > off }) - 1
	ls := s.lineStarts[line]
	col := off - ls
	if s.runeCols != nil {
		col = int(s.runeCols[off])
	}
	if line == 0 {
		col += s.start.Column
	} else {
		col++
	}
	return hcl.Pos{Line: s.start.Line + line, Column: col, Byte: s.start.Byte + off}
}

// rng returns the range of src[from:to].
func (s *condScanner) rng(from, to int) hcl.Range {
	return hcl.Range{Filename: s.filename, Start: s.posAt(from), End: s.posAt(to)}
}

func (s *condScanner) eof() bool { return s.pos >= len(s.src) }

// peek returns the byte at pos+i, or 0 past the end.
func (s *condScanner) peek(i int) byte {
	if s.pos+i < len(s.src) {
		return s.src[s.pos+i]
	}
	return 0
}

// skipCS skips whitespace and # comments (Logstash's `cs` rule).
func (s *condScanner) skipCS() {
	for s.pos < len(s.src) {
		switch s.src[s.pos] {
		case ' ', '\t', '\r', '\n':
			s.pos++
		case '#':
			for s.pos < len(s.src) && s.src[s.pos] != '\n' {
				s.pos++
			}
		default:
			return
		}
	}
}

func isWordStart(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func isWordChar(c byte) bool { return isWordStart(c) || c >= '0' && c <= '9' }

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// wordAt returns the identifier-like word starting at off ("" if none) and its
// end offset.
func (s *condScanner) wordAt(off int) (string, int) {
	if off >= len(s.src) || !isWordStart(s.src[off]) {
		return "", off
	}
	end := off + 1
	for end < len(s.src) && isWordChar(s.src[end]) {
		end++
	}
	return s.src[off:end], end
}

// scanQuoted scans a string or regexp literal delimited by q starting at off
// (which holds q). As in Logstash's grammar (lscl_grammar.treetop rules
// double_quoted_string, single_quoted_string and regexp), a backslash followed
// by the delimiter does not end the literal; every other character, including a
// lone backslash, is taken as is. It returns the end offset (after the closing
// delimiter) or -1 if the literal is unterminated.
func (s *condScanner) scanQuoted(off int, q byte) int {
	i := off + 1
	for i < len(s.src) {
		switch s.src[i] {
		case '\\':
			if i+1 < len(s.src) && s.src[i+1] == q {
				i += 2
				continue
			}
			i++
		case q:
			return i + 1
		default:
			i++
		}
	}
	return -1
}

// scanSelector matches Logstash's `selector` rule at off: one or more
// `[` [^\]\[,]+ `]` groups. It returns the end offset and the number of groups
// matched (0 if off does not start a selector).
func (s *condScanner) scanSelector(off int) (end, groups int) {
	p := off
	for p < len(s.src) && s.src[p] == '[' {
		q := p + 1
		for q < len(s.src) && !isSelectorDelim(s.src[q]) {
			q++
		}
		if q == p+1 || q >= len(s.src) || s.src[q] != ']' {
			break
		}
		p = q + 1
		groups++
	}
	return p, groups
}

func isSelectorDelim(c byte) bool { return c == '[' || c == ']' || c == ',' }

// tokenEnd returns the end offset of the token starting at off, for error
// subjects: a word, a number, a quoted literal, a two-character operator, or
// one character.
func (s *condScanner) tokenEnd(off int) int {
	if off >= len(s.src) {
		return off
	}
	c := s.src[off]
	switch {
	case isWordStart(c):
		_, end := s.wordAt(off)
		return end
	case isDigit(c) || c == '-' && off+1 < len(s.src) && isDigit(s.src[off+1]):
		end := off + 1
		for end < len(s.src) && (isDigit(s.src[end]) || s.src[end] == '.') {
			end++
		}
		return end
	case c == '"' || c == '\'':
		if end := s.scanQuoted(off, c); end > 0 {
			return end
		}
		return s.lineEnd(off)
	}
	if off+1 < len(s.src) {
		switch s.src[off : off+2] {
		case "==", "!=", "<=", ">=", "=~", "!~", "=>", "&&", "||":
			return off + 2
		}
	}
	_, size := utf8.DecodeRuneInString(s.src[off:])
	return off + size
}

// lineEnd returns the offset of the end of the line containing off.
func (s *condScanner) lineEnd(off int) int {
	if i := strings.IndexByte(s.src[off:], '\n'); i >= 0 {
		end := off + i
		if end > off && s.src[end-1] == '\r' {
			end--
		}
		return end
	}
	return len(s.src)
}

// describe returns a short quoted description of the token at off for error
// messages.
func (s *condScanner) describe(off int) string {
	if off >= len(s.src) {
		return "the end of the condition"
	}
	tok := s.src[off:s.tokenEnd(off)]
	if utf8.RuneCountInString(tok) > 30 {
		r := []rune(tok)
		tok = string(r[:27]) + "..."
	}
	return quoteForMessage(tok)
}

// quoteForMessage wraps text in double quotes unless it already starts with a
// quote character.
func quoteForMessage(t string) string {
	if t != "" && (t[0] == '"' || t[0] == '\'') {
		return t
	}
	return `"` + t + `"`
}

// processEscapes applies Logstash's LogStash::Config::StringEscape
// (logstash-core/lib/logstash/config/string_escape.rb): every backslash
// followed by a character is replaced, left to right; \" \' \\ become the
// character, \n \r \t \0 the control characters, and any other pair is kept
// as written (so regexp escapes such as "\d" survive).
func processEscapes(s string) string {
	if strings.IndexByte(s, '\\') < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		// Ruby's /\\./ does not match a backslash before a newline.
		if c != '\\' || i+1 >= len(s) || s[i+1] == '\n' {
			b.WriteByte(c)
			continue
		}
		i++
		switch n := s[i]; n {
		case '"', '\'', '\\':
			b.WriteByte(n)
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case '0':
			b.WriteByte(0)
		default:
			b.WriteByte('\\')
			b.WriteByte(n)
		}
	}
	return b.String()
}
