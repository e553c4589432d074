package dsl

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// The pre-processor rewrites a pipeline file before hclsyntax parses it, so
// that Logstash habits keep working in HCL:
//
//  1. `%{NAME}` and `%{[field]}` (grok patterns, sprintf references) are not
//     HCL template directives: a `%{` not followed by if, else, endif, for,
//     endfor or `~` becomes `%%{`, which HCL reads as a literal `%{`.
//  2. `${VAR}` and `${VAR:default}` in strings are replaced by the environment
//     variable's value (or the default), escaped so that it stays literal.
//  3. `} else {` and `} else if "…" {` on one line: HCL wants a newline after a
//     block's closing brace, so one is inserted before `else`.
//  4. In quoted strings, a backslash that does not start an HCL escape
//     sequence (\n \r \t \" \\ \uXXXX \UXXXXXXXX) is kept literally, as in
//     Logstash: "\[%{HTTPDATE}\]" and "/\d+/" mean what they say.
//
// Block labels (plugin types, ids, pipeline names, if conditions) are plain
// strings to HCL, so every `%{` and `${` in them becomes literal; the
// condition string reaches logstash.ParseCondition as written.
//
// Tokens are classified with hclsyntax.LexConfig, so comments and code are
// never touched. A rewrite changes how the text after it lexes (before it,
// `"${URL:http://x}"` lexes `//x}"` as a comment), so the text is lexed
// again after every rewrite, from the start of the current line (segment).
//
// Every rewrite is recorded in an offsetMap, which maps positions in the
// rewritten source back to the original one.

// edit is one rewrite: original bytes [origStart, origEnd) became rewritten
// bytes [newStart, newEnd).
type edit struct {
	newStart, newEnd   int
	origStart, origEnd int
}

// offsetMap maps byte offsets of a rewritten source to the original source.
type offsetMap struct {
	edits []edit // sorted, non-overlapping
}

// toOrig maps a rewritten offset to the original one. An offset inside
// replacement text maps to the corresponding offset inside the replaced text,
// clamped to its end; inserted text maps to the insertion point.
func (m *offsetMap) toOrig(n int) int {
	// Find the last edit starting at or before n.
	lo, hi := 0, len(m.edits)
	for lo < hi {
		mid := (lo + hi) / 2
		if m.edits[mid].newStart <= n {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if lo == 0 {
		return n
	}
	e := m.edits[lo-1]
	if n >= e.newEnd {
		return e.origEnd + (n - e.newEnd)
	}
	return min(e.origStart+(n-e.newStart), e.origEnd)
}

// placeholder is Logstash's ${VAR} / ${VAR:default} syntax
// (SUBSTITUTION_PLACEHOLDER_REGEX), anchored at the `${`.
var placeholder = regexp.MustCompile(`^\$\{([a-zA-Z_.][a-zA-Z0-9_.]*)(?::([^}\r\n]*))?\}`)

// templateKeywords may follow `%{` in a real HCL template directive.
var templateKeywords = map[string]bool{"if": true, "else": true, "endif": true, "for": true, "endfor": true}

type strKind int

const (
	strQuoted  strKind = iota + 1 // "…" attribute value or expression
	strHeredoc                    // <<EOT … EOT
	strLabel                      // "…" block label: no templates allowed
)

// rewrite is one pending change to the current text.
type rewrite struct {
	start, end int    // rewritten-text offsets of the bytes to replace
	repl       string // replacement
	resume     int    // where to continue looking, after the change
}

// preprocess rewrites src (see above). It returns the rewritten source, the
// map back to src (nil when nothing changed) and diagnostics about
// unresolvable ${VAR} references, in original coordinates.
//
// It works segment by segment: a segment ends with a newline token outside
// any string, where the lexer is back in its initial state, so a segment can
// be lexed on its own. After each rewrite only the current segment (usually
// one line) is lexed again.
func preprocess(filename string, src []byte, lookupEnv func(string) (string, bool)) ([]byte, *offsetMap, hcl.Diagnostics) {
	var (
		diags hcl.Diagnostics
		m     = &offsetMap{}
		out   []byte // rewritten text before the current segment
		cur   []byte // rewritten text from the segment start, followed by src[o:]
		o     int
		from  int // rewritten-text offset where rewrites may start
	)
	const minWindow = 128
	w := minWindow
	undefined := func(start, end int, name string) {
		orig := m.toOrig(start)
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Undefined environment variable",
			Detail: fmt.Sprintf("The environment variable %q is not set. Set %s, or write ${%s:default} to give a default value.",
				name, name, name),
			// The text is untouched original text, so its length is the same.
			Subject: &hcl.Range{Filename: filename, Start: hcl.Pos{Byte: orig}, End: hcl.Pos{Byte: orig + end - start}},
		})
	}
	for {
		base := len(out)
		k := max(0, min(len(src)-o, w-len(cur)))
		win := make([]byte, 0, len(cur)+k)
		win = append(append(win, cur...), src[o:o+k]...)
		atEOF := o+k == len(src)
		toks, _ := hclsyntax.LexConfig(win, filename, hcl.Pos{Byte: base, Line: 1, Column: 1})
		n, segEnd := segment(toks, base+len(win), atEOF)
		if n < 0 {
			w *= 2 // the segment goes on beyond the window
			continue
		}
		if rw, ok := nextRewrite(toks[:n], win, base, from, lookupEnv, undefined); ok {
			a, b := rw.start-base, rw.end-base
			if b > len(cur) { // take the original text up to the rewrite into cur
				o += b - len(cur)
				cur = win[:b]
			}
			orig := m.toOrig(rw.start)
			m.edits = append(m.edits, edit{
				newStart: rw.start, newEnd: rw.start + len(rw.repl),
				origStart: orig, origEnd: orig + (b - a),
			})
			nc := make([]byte, 0, len(cur)-(b-a)+len(rw.repl))
			nc = append(append(append(nc, cur[:a]...), rw.repl...), cur[b:]...)
			cur = nc
			from = rw.resume
			continue
		}
		// No (more) rewrites in this segment: commit it.
		size := segEnd - base
		if size <= len(cur) {
			out = append(out, cur[:size]...)
			cur = cur[size:]
		} else {
			out = append(out, win[:size]...)
			o += size - len(cur)
			cur = nil
		}
		w = minWindow
		if atEOF && size == len(win) {
			break
		}
	}
	// Fill in line and column of the diagnostics' positions.
	li := newLineIndex(src)
	for _, d := range diags {
		d.Subject.Start = li.pos(d.Subject.Start.Byte)
		d.Subject.End = li.pos(d.Subject.End.Byte)
	}
	if len(m.edits) == 0 {
		return src, nil, diags
	}
	return out, m, diags
}

// segment finds the end of the first segment in toks: it returns the number
// of tokens in it and its end offset, or -1 if the window (ending at end)
// holds no complete segment.
func segment(toks hclsyntax.Tokens, end int, atEOF bool) (int, int) {
	depth := 0 // open strings
	for i, tok := range toks {
		switch tok.Type {
		case hclsyntax.TokenOQuote, hclsyntax.TokenOHeredoc:
			depth++
		case hclsyntax.TokenCQuote, hclsyntax.TokenCHeredoc:
			depth = max(0, depth-1)
		case hclsyntax.TokenNewline:
			// Leave a margin before a window's end: the lexer may look ahead.
			if depth == 0 && (atEOF || tok.Range.End.Byte+8 <= end) {
				return i + 1, tok.Range.End.Byte
			}
		}
	}
	if atEOF {
		return len(toks), end
	}
	return -1, 0
}

// nextRewrite finds the first rewrite at or after offset from in a segment's
// tokens. text holds the segment's text, text[0] being at offset base.
// undefined is called for a ${VAR} with no value and no default (the
// rewrite then substitutes the empty string).
func nextRewrite(toks hclsyntax.Tokens, text []byte, base, from int, lookupEnv func(string) (string, bool), undefined func(start, end int, name string)) (rewrite, bool) {
	var stack []strKind // open strings, innermost last
	prev := -1          // index of the previous non-comment token
	top := func() strKind {
		if len(stack) == 0 {
			return 0
		}
		return stack[len(stack)-1]
	}
	// lastClosedLabel is true when the previous token closed a label string.
	lastClosedLabel := false
	for i, tok := range toks {
		closedLabel := false
		active := tok.Range.Start.Byte >= from
		switch tok.Type {
		case hclsyntax.TokenOQuote:
			kind := strQuoted
			if len(stack) == 0 && prev >= 0 &&
				(toks[prev].Type == hclsyntax.TokenIdent || toks[prev].Type == hclsyntax.TokenCQuote && lastClosedLabel) {
				kind = strLabel
			}
			stack = append(stack, kind)
		case hclsyntax.TokenOHeredoc:
			stack = append(stack, strHeredoc)
		case hclsyntax.TokenCQuote, hclsyntax.TokenCHeredoc:
			if len(stack) > 0 {
				closedLabel = top() == strLabel
				stack = stack[:len(stack)-1]
			}
		case hclsyntax.TokenQuotedLit:
			// A rewrite inside this token resumes in its middle, always at
			// an escape-sequence boundary.
			skip := max(0, from-tok.Range.Start.Byte)
			if top() == 0 || skip >= len(tok.Bytes) {
				break
			}
			if at := invalidEscape(tok.Bytes[skip:]); at >= 0 {
				s := tok.Range.Start.Byte + skip + at
				return rewrite{start: s, end: s, repl: `\`, resume: s + 2}, true
			}
		case hclsyntax.TokenTemplateControl:
			if !active {
				break
			}
			s := tok.Range.Start.Byte
			if top() != strLabel {
				if string(tok.Bytes) == "%{~" {
					break
				}
				if i+1 < len(toks) && toks[i+1].Type == hclsyntax.TokenIdent && templateKeywords[string(toks[i+1].Bytes)] {
					break
				}
			}
			return rewrite{start: s, end: s, repl: "%", resume: s + 1}, true
		case hclsyntax.TokenTemplateInterp:
			if !active {
				break
			}
			s := tok.Range.Start.Byte
			if top() == strLabel {
				return rewrite{start: s, end: s, repl: "$", resume: s + 1}, true
			}
			mt := placeholder.FindSubmatchIndex(text[s-base:])
			if mt == nil {
				break // an HCL interpolation such as ${upper(x)}: leave it to HCL
			}
			name := string(text[s-base+mt[2] : s-base+mt[3]])
			quoted := top() != strHeredoc
			var repl string
			if v, ok := lookupEnv(name); ok {
				repl = escapeValue(v, quoted)
			} else if mt[4] >= 0 {
				repl = escapeDefault(string(text[s-base+mt[4]:s-base+mt[5]]), quoted)
			} else {
				undefined(s, s+mt[1], name)
			}
			return rewrite{start: s, end: s + mt[1], repl: repl, resume: s + len(repl)}, true
		case hclsyntax.TokenIdent:
			if !active || len(stack) != 0 || string(tok.Bytes) != "else" || prev < 0 || toks[prev].Type != hclsyntax.TokenCBrace {
				break
			}
			// prev is the closing brace; only comments without a newline
			// lie between it and else, so they are on the same line.
			s := tok.Range.Start.Byte
			return rewrite{start: s, end: s, repl: "\n", resume: s + 1}, true
		}
		if tok.Type != hclsyntax.TokenComment {
			prev = i
			lastClosedLabel = closedLabel
		} else if strings.HasSuffix(string(tok.Bytes), "\n") {
			// A line comment ends its line, like a newline token.
			prev = i
			lastClosedLabel = false
		}
	}
	return rewrite{}, false
}

// invalidEscape returns the offset of the first backslash in a quoted-string
// literal token that does not start a valid HCL escape sequence, or -1.
func invalidEscape(b []byte) int {
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' {
			continue
		}
		if i+1 >= len(b) {
			return i
		}
		switch b[i+1] {
		case 'n', 'r', 't', '"', '\\':
			i++
		case 'u':
			if !hexDigits(b[i+2:], 4) {
				return i
			}
			i += 5
		case 'U':
			if !hexDigits(b[i+2:], 8) {
				return i
			}
			i += 9
		default:
			return i
		}
	}
	return -1
}

func hexDigits(b []byte, n int) bool {
	if len(b) < n {
		return false
	}
	for _, c := range b[:n] {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// escapeValue makes an environment variable's value a literal part of a
// quoted string (quoted) or of a heredoc.
func escapeValue(v string, quoted bool) string {
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case (c == '%' || c == '$') && i+1 < len(v) && v[i+1] == '{':
			b.WriteByte(c) // %{ → %%{, ${ → $${
			b.WriteByte(c)
		case quoted && c == '\\':
			b.WriteString(`\\`)
		case quoted && c == '"':
			b.WriteString(`\"`)
		case quoted && c == '\n':
			b.WriteString(`\n`)
		case quoted && c == '\r':
			b.WriteString(`\r`)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// escapeDefault makes a ${VAR:default} default literal. It is written in
// the string's own syntax, so backslash escapes keep their HCL meaning in
// quoted strings, but `%{` and `${` in it are not templates (already doubled
// `%%{` and `$${` stay as they are), and in a quoted string a bare `"` (only
// possible because the lexer took the default for template code) is escaped.
func escapeDefault(s string, quoted bool) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quoted && c == '\\' && i+1 < len(s):
			b.WriteString(s[i : i+2])
			i++
			continue
		case quoted && c == '"':
			b.WriteString(`\"`)
			continue
		case (c == '%' || c == '$') && strings.HasPrefix(s[i+1:], string(c)+"{"):
			b.WriteString(s[i : i+3])
			i += 2
			continue
		case (c == '%' || c == '$') && strings.HasPrefix(s[i+1:], "{"):
			b.WriteByte(c)
		}
		b.WriteByte(c)
	}
	return b.String()
}
