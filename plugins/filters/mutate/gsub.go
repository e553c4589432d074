package mutate

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/pipelined/pipeline/engine/event"
)

func newGsub(field, needle, replacement string) (gsubOp, error) {
	var op gsubOp
	r, err := event.ParseRef(field)
	if err != nil {
		return op, err
	}
	op.ref = r
	// As in mutate.rb, a pattern containing "%{" is a template, rendered and
	// compiled for each event.
	if strings.Contains(needle, "%{") {
		if op.needle, err = event.ParseTemplate(needle); err != nil {
			return op, err
		}
	}
	if op.needle.IsConstant() {
		if op.re, err = compileRuby(needle); err != nil {
			return op, err
		}
	}
	if op.repl, err = event.ParseTemplate(replacement); err != nil {
		return op, err
	}
	if op.repl.IsConstant() {
		op.pieces = parseReplacement(replacement)
	}
	return op, nil
}

// compileRuby compiles a pattern with RE2, with "^" and "$" matching at line
// breaks, as they do in Ruby.
func compileRuby(pattern string) (*regexp.Regexp, error) {
	re, err := regexp.Compile("(?m)" + pattern)
	if err != nil {
		return nil, fmt.Errorf("regexp %q: %w", pattern, err)
	}
	return re, nil
}

func (op *gsubOp) apply(e *event.Event) error {
	v, ok := e.Get(op.ref)
	if !ok {
		return nil
	}
	switch v.(type) {
	case string, []any:
	default:
		return nil
	}
	re := op.re
	if re == nil {
		var err error
		if re, err = compileRuby(op.needle.Render(e)); err != nil {
			return err
		}
	}
	pieces := op.pieces
	if !op.repl.IsConstant() {
		pieces = parseReplacement(op.repl.Render(e))
	}
	switch x := v.(type) {
	case string:
		if y := gsub(re, x, pieces); y != x {
			return e.Set(op.ref, y)
		}
	case []any:
		for i, el := range x {
			if s, ok := el.(string); ok {
				x[i] = gsub(re, s, pieces)
			}
		}
	}
	return nil
}

type pieceKind uint8

const (
	pieceText pieceKind = iota
	pieceGroup
	pieceNamed
	piecePre
	piecePost
)

type piece struct {
	kind  pieceKind
	text  string // pieceText: the text; pieceNamed: the group name
	group int
}

// parseReplacement parses a Ruby gsub replacement: \0-\9 and \& insert a
// group, \k<name> a named group, \` and \' the text before and after the
// match, \\ a backslash; any other backslash is literal.
func parseReplacement(s string) []piece {
	pieces := []piece{} // non-nil: parsed
	var text strings.Builder
	flush := func() {
		if text.Len() > 0 {
			pieces = append(pieces, piece{kind: pieceText, text: text.String()})
			text.Reset()
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 == len(s) {
			text.WriteByte(c)
			continue
		}
		n := s[i+1]
		switch {
		case n >= '0' && n <= '9':
			flush()
			pieces = append(pieces, piece{kind: pieceGroup, group: int(n - '0')})
		case n == '&':
			flush()
			pieces = append(pieces, piece{kind: pieceGroup, group: 0})
		case n == '`':
			flush()
			pieces = append(pieces, piece{kind: piecePre})
		case n == '\'':
			flush()
			pieces = append(pieces, piece{kind: piecePost})
		case n == '\\':
			text.WriteByte('\\')
		case n == 'k' && i+2 < len(s) && s[i+2] == '<':
			end := strings.IndexByte(s[i+3:], '>')
			if end <= 0 {
				text.WriteString(`\k`)
				break
			}
			flush()
			pieces = append(pieces, piece{kind: pieceNamed, text: s[i+3 : i+3+end]})
			i += 3 + end // on '>'; the loop's i++ moves past it
			continue
		default:
			text.WriteByte('\\')
			text.WriteByte(n)
		}
		i++
	}
	flush()
	return pieces
}

// gsub replaces every match of re in s, as Ruby's String#gsub.
func gsub(re *regexp.Regexp, s string, pieces []piece) string {
	if !re.MatchString(s) {
		return s
	}
	switch {
	case len(pieces) == 0:
		return re.ReplaceAllLiteralString(s, "")
	case len(pieces) == 1 && pieces[0].kind == pieceText:
		return re.ReplaceAllLiteralString(s, pieces[0].text)
	}
	matches := re.FindAllStringSubmatchIndex(s, -1)
	if matches == nil {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	last := 0
	for _, m := range matches {
		b.WriteString(s[last:m[0]])
		for _, p := range pieces {
			switch p.kind {
			case pieceText:
				b.WriteString(p.text)
			case pieceGroup:
				if 2*p.group+1 < len(m) && m[2*p.group] >= 0 {
					b.WriteString(s[m[2*p.group]:m[2*p.group+1]])
				}
			case pieceNamed:
				if g := re.SubexpIndex(p.text); g >= 0 && m[2*g] >= 0 {
					b.WriteString(s[m[2*g]:m[2*g+1]])
				}
			case piecePre:
				b.WriteString(s[:m[0]])
			case piecePost:
				b.WriteString(s[m[1]:])
			}
		}
		last = m[1]
	}
	b.WriteString(s[last:])
	return b.String()
}
