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
// never touched. Each rewrite changes how the rest of the file lexes (e.g.
// `${URL:http://x}` lexes `//x}` as a comment before the rewrite), so the
// file is lexed again after every rewrite; config files are small.
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

// rewrite is one pending change to the current buffer.
type rewrite struct {
	start, end int    // bytes of the current buffer to replace
	repl       string // replacement
	resume     int    // where to continue looking, in the new buffer
}

// preprocess rewrites src (see above). It returns the rewritten source, the
// map back to src (nil when nothing changed) and diagnostics about
// unresolvable ${VAR} references, in original coordinates.
func preprocess(filename string, src []byte, lookupEnv func(string) (string, bool)) ([]byte, *offsetMap, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	m := &offsetMap{}
	buf := src
	from := 0
	for {
		toks, _ := hclsyntax.LexConfig(buf, filename, hcl.InitialPos)
		rw, ok := nextRewrite(toks, buf, from, lookupEnv, func(start, end int, name string) {
			os := m.toOrig(start)
			oe := os + (end - start) // the text is untouched original text
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Undefined environment variable",
				Detail: fmt.Sprintf("The environment variable %q is not set. Set %s, or write ${%s:default} to give a default value.",
					name, name, name),
				Subject: &hcl.Range{Filename: filename, Start: hcl.Pos{Byte: os}, End: hcl.Pos{Byte: oe}},
			})
		})
		if !ok {
			break
		}
		nb := make([]byte, 0, len(buf)-(rw.end-rw.start)+len(rw.repl))
		nb = append(nb, buf[:rw.start]...)
		nb = append(nb, rw.repl...)
		nb = append(nb, buf[rw.end:]...)
		os := m.toOrig(rw.start)
		m.edits = append(m.edits, edit{
			newStart: rw.start, newEnd: rw.start + len(rw.repl),
			origStart: os, origEnd: os + (rw.end - rw.start),
		})
		// Later edits start at or after this one's end, so the recorded
		// edits stay sorted and never need shifting.
		buf = nb
		from = rw.resume
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
	return buf, m, diags
}

// nextRewrite finds the first rewrite at or after offset from. undefined is
// called for a ${VAR} with no value and no default (the rewrite then
// substitutes the empty string).
func nextRewrite(toks hclsyntax.Tokens, buf []byte, from int, lookupEnv func(string) (string, bool), undefined func(start, end int, name string)) (rewrite, bool) {
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
			mt := placeholder.FindSubmatchIndex(buf[s:])
			if mt == nil {
				break // an HCL interpolation such as ${upper(x)}: leave it to HCL
			}
			name := string(buf[s+mt[2] : s+mt[3]])
			var repl string
			if v, ok := lookupEnv(name); ok {
				repl = escapeValue(v, top() != strHeredoc)
			} else if mt[4] >= 0 {
				repl = escapeTemplates(string(buf[s+mt[4] : s+mt[5]]))
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

// escapeTemplates makes a ${VAR:default} default literal: it is written in
// the string's own syntax (so backslash escapes keep their HCL meaning in
// quoted strings), but `%{` and `${` in it are not templates. Already doubled
// `%%{` and `$${` stay as they are.
func escapeTemplates(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '%' || c == '$' {
			if strings.HasPrefix(s[i+1:], string(c)+"{") {
				b.WriteString(s[i : i+3])
				i += 2
				continue
			}
			if strings.HasPrefix(s[i+1:], "{") {
				b.WriteByte(c)
			}
		}
		b.WriteByte(c)
	}
	return b.String()
}
