package logstash

import (
	"bytes"
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
)

// confLines turns byte offsets of a .conf source into hcl positions: lines
// and columns are 1-based and columns count grapheme clusters, as hclsyntax
// counts them, so that diagnostics and HCL-built ranges agree.
type confLines struct {
	src    []byte
	starts []int  // byte offset where each line begins
	ascii  []bool // whether each line is pure ASCII (columns are bytes)
}

func newConfLines(src []byte) *confLines {
	l := &confLines{src: src, starts: []int{0}}
	ascii := true
	for i, c := range src {
		if c >= utf8.RuneSelf {
			ascii = false
		}
		if c == '\n' {
			l.ascii = append(l.ascii, ascii)
			l.starts = append(l.starts, i+1)
			ascii = true
		}
	}
	l.ascii = append(l.ascii, ascii)
	return l
}

// pos returns the position of byte offset off (clamped to the source).
func (l *confLines) pos(off int) hcl.Pos {
	off = max(0, min(off, len(l.src)))
	line := sort.Search(len(l.starts), func(i int) bool { return l.starts[i] > off }) - 1
	start := l.starts[line]
	col := 1 + off - start
	if !l.ascii[line] && off > start {
		col = 1
		sc := hcl.NewRangeScannerFragment(l.src[start:off], "", hcl.Pos{Line: line + 1, Column: 1}, scanRest)
		for sc.Scan() {
			col = sc.Range().End.Column
		}
	}
	return hcl.Pos{Line: line + 1, Column: col, Byte: off}
}

// scanRest is a bufio.SplitFunc returning all remaining data as one token.
func scanRest(data []byte, atEOF bool) (int, []byte, error) {
	if len(data) == 0 {
		return 0, nil, nil
	}
	return len(data), data, nil
}

// confScanner reads a .conf source byte by byte.
type confScanner struct {
	src      []byte
	pos      int
	filename string
	lines    *confLines
}

func (s *confScanner) eof() bool { return s.pos >= len(s.src) }

// peek returns the byte at pos+i, or 0 past the end.
func (s *confScanner) peek(i int) byte {
	if s.pos+i < len(s.src) {
		return s.src[s.pos+i]
	}
	return 0
}

// rng returns the range of src[from:to].
func (s *confScanner) rng(from, to int) hcl.Range {
	return hcl.Range{Filename: s.filename, Start: s.lines.pos(from), End: s.lines.pos(to)}
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// isNameChar matches the unquoted `name` rule's characters: [A-Za-z0-9_-].
func isNameChar(c byte) bool { return isWordChar(c) || c == '-' }

// isNameStart reports whether c starts a `name`: a name character or a quote.
func isNameStart(c byte) bool { return isNameChar(c) || c == '"' || c == '\'' }

// skipCS skips Logstash's `cs` rule: whitespace and # comments (a comment
// runs to the end of its line or of the file). A UTF-8 byte order mark at
// the very start of the file is skipped too.
func (s *confScanner) skipCS() {
	if s.pos == 0 && len(s.src) >= 3 && s.src[0] == 0xEF && s.src[1] == 0xBB && s.src[2] == 0xBF {
		s.pos = 3
	}
	for s.pos < len(s.src) {
		switch s.src[s.pos] {
		case ' ', '\t', '\r', '\n':
			s.pos++
		case '#':
			s.skipLine()
		default:
			return
		}
	}
}

// skipLine moves to the start of the next line, or to the end of the file.
func (s *confScanner) skipLine() {
	if i := bytes.IndexByte(s.src[s.pos:], '\n'); i >= 0 {
		s.pos += i + 1
	} else {
		s.pos = len(s.src)
	}
}

// nameEnd returns the end of the unquoted name ([A-Za-z0-9_-]*) at off.
func (s *confScanner) nameEnd(off int) int {
	for off < len(s.src) && isNameChar(s.src[off]) {
		off++
	}
	return off
}

// wordIs reports whether the unquoted name at off is exactly w (the keywords
// input, filter, output, if and else).
func (s *confScanner) wordIs(off int, w string) bool {
	return s.nameEnd(off)-off == len(w) && string(s.src[off:off+len(w)]) == w
}

// quotedEnd returns the end of the string at off (which holds its quote,
// " or '), or -1 if it is unterminated. As in the grammar's
// double_quoted_string and single_quoted_string rules, a backslash followed
// by the quote does not end the string; any other character, including a
// lone backslash or a newline, is part of it.
func (s *confScanner) quotedEnd(off int) int {
	q := s.src[off]
	for i := off + 1; i < len(s.src); i++ {
		switch s.src[i] {
		case '\\':
			if i+1 < len(s.src) && s.src[i+1] == q {
				i++
			}
		case q:
			return i + 1
		}
	}
	return -1
}

// tokenEnd returns the end of the token at off, for error subjects: a
// name, a quoted string (or the rest of its line when unterminated), "=>",
// or one character.
func (s *confScanner) tokenEnd(off int) int {
	if off >= len(s.src) {
		return off
	}
	c := s.src[off]
	switch {
	case isNameChar(c):
		return s.nameEnd(off)
	case c == '"' || c == '\'':
		if end := s.quotedEnd(off); end > 0 {
			return end
		}
		return s.lineEnd(off)
	case c == '=' && off+1 < len(s.src) && s.src[off+1] == '>':
		return off + 2
	}
	_, size := utf8.DecodeRune(s.src[off:])
	return off + size
}

// lineEnd returns the end of the line holding off, before any "\r\n".
func (s *confScanner) lineEnd(off int) int {
	end := len(s.src)
	if i := bytes.IndexByte(s.src[off:], '\n'); i >= 0 {
		end = off + i
	}
	if end > off && s.src[end-1] == '\r' {
		end--
	}
	return end
}

// describe returns the token at off, quoted, for "found …" messages.
func (s *confScanner) describe(off int) string {
	if off >= len(s.src) {
		return "the end of the file"
	}
	tok := string(s.src[off:s.tokenEnd(off)])
	if !utf8.ValidString(tok) {
		return fmt.Sprintf("the byte 0x%02X", s.src[off])
	}
	if i := strings.IndexByte(tok, '\n'); i >= 0 {
		tok = tok[:i] + "..."
	}
	if utf8.RuneCountInString(tok) > 30 {
		r := []rune(tok)
		tok = string(r[:27]) + "..."
	}
	if tok != "" && (tok[0] == '"' || tok[0] == '\'') {
		return tok
	}
	return `"` + tok + `"`
}
