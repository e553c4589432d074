package logstash

import (
	"fmt"

	"github.com/hashicorp/hcl/v2"

	"github.com/pipelined/pipeline/dsl/ir"
)

// ConfOptions tunes ParseConf.
type ConfOptions struct {
	// SupportEscapes processes escape sequences in quoted strings, as
	// Logstash does with config.support_escapes: true (\" \' \\ \n \r \t
	// \0; any other backslash pair is kept). The default, false, is
	// Logstash's default: the text between the quotes is kept exactly as
	// written, backslashes included; a backslash only stops the quote after
	// it from ending the string.
	SupportEscapes bool
	// LookupEnv resolves ${VAR} and ${VAR:default} in string values
	// (including array items and hash values, but not hash keys, setting or
	// plugin names, ids or conditions). nil leaves them as written.
	LookupEnv func(name string) (string, bool)
}

// ConfFile is what ParseConf makes of one .conf file.
type ConfFile struct {
	// Pipeline holds the file's input, filter and output sections, merged
	// in file order, as the pipeline "main". It is nil when the file has
	// no section (only comments, or a syntax error before the first one).
	Pipeline *ir.Pipeline
	// IDRanges says where each `id => "…"` setting is written. Plugins
	// without one have ID "".
	IDRanges map[*ir.Plugin]hcl.Range
	// Incomplete is true when a syntax error stopped the parse: Pipeline
	// then holds only the plugins and conditionals completed before it.
	Incomplete bool
}

// ParseConf parses a Logstash pipeline configuration (.conf) into the IR.
//
// It follows the grammar of logstash-core/lib/logstash/compiler/lscl/
// lscl_grammar.treetop (elastic/logstash) and the AST semantics of
// compiler/lscl.rb:
//
//	config    := (cs section)* cs
//	section   := ("input" | "filter" | "output") cs "{" cs ((branch | plugin) cs)* "}"
//	plugin    := name cs "{" cs (attribute (whitespace cs attribute)*)? cs "}"
//	name      := [A-Za-z0-9_-]+ | string
//	attribute := name cs "=>" cs value
//	value     := plugin | bareword | string | number | array | hash
//	bareword  := [A-Za-z_] [A-Za-z0-9_]+
//	number    := "-"? [0-9]+ ("." [0-9]*)?
//	array     := "[" cs (value (cs "," cs value)*)? cs "]"
//	hash      := "{" cs (entry (cs entry)*)? cs "}"
//	entry     := (number | bareword | string) cs "=>" cs value
//	branch    := if (cs else_if)* (cs else)?
//	else_if   := "else" cs "if" cs condition cs "{" … "}"   (so "elseif" too)
//	cs        := (whitespace | "#" comment-to-end-of-line)*
//
// Each plugin becomes an *ir.Plugin whose Body is an *hclsyntax.Body:
// settings are attributes (strings and barewords are cty strings, numbers
// cty numbers, arrays tuples, hashes objects), a plugin used as a value
// (`codec => json { … }`, and `codec => json` or `codec => "json"`) is a
// nested block `codec "json" { … }`, and `id => "x"` is taken out of the
// body into Plugin.ID. Every range points into src.
//
// A syntax error stops the parse, as in Logstash: the diagnostics then hold
// one error at the offending token, and the result, marked Incomplete,
// holds the plugins and conditionals completed before it. Other problems
// (invalid numbers, conditions, duplicate hash keys, …) are reported
// without stopping, with the whole IR.
func ParseConf(src []byte, filename string, opts ConfOptions) (*ConfFile, hcl.Diagnostics) {
	p := &confParser{
		confScanner: confScanner{src: src, filename: filename, lines: newConfLines(src)},
		opts:        opts,
		out:         &ConfFile{IDRanges: map[*ir.Plugin]hcl.Range{}},
	}
	func() {
		defer func() {
			if r := recover(); r != nil {
				if _, ok := r.(bailout); !ok {
					panic(r)
				}
				p.out.Incomplete = true
			}
		}()
		p.config()
	}()
	return p.out, p.diags
}

// maxDepth bounds the nesting of blocks, arrays and hashes.
const maxDepth = 200

type confParser struct {
	confScanner
	opts  ConfOptions
	out   *ConfFile
	diags hcl.Diagnostics
	depth int
}

// bailout unwinds the parser after a syntax error.
type bailout struct{}

// fail records a syntax error at src[from:to] and stops the parse.
func (p *confParser) fail(from, to int, summary, format string, args ...any) {
	p.errorf(from, to, summary, format, args...)
	panic(bailout{})
}

// errorf records an error at src[from:to].
func (p *confParser) errorf(from, to int, summary, format string, args ...any) {
	r := p.rng(from, to)
	p.diags = append(p.diags, &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  summary,
		Detail:   fmt.Sprintf(format, args...),
		Subject:  &r,
	})
}

// line returns the 1-based line of offset off.
func (p *confParser) line(off int) int { return p.lines.pos(off).Line }

// enter counts one more level of nesting at open.
func (p *confParser) enter(open int) {
	p.depth++
	if p.depth > maxDepth {
		p.fail(open, open+1, "Nesting too deep",
			"Blocks, arrays and hashes are nested more than %d levels deep here.", maxDepth)
	}
}

func (p *confParser) leave() { p.depth-- }

// unclosed reports a block, array or hash whose closing bracket is missing
// at the end of the file.
func (p *confParser) unclosed(open int, what string) {
	closer, summary := "}", "Unclosed block"
	if p.src[open] == '[' {
		closer, summary = "]", "Unclosed array"
	}
	p.fail(open, open+1, summary,
		"The %q opened here, for the %s at line %d, is never closed: the file ends before its %q. Add the missing %q; this may also be caused by wrong brace nesting elsewhere in the file.",
		string(p.src[open]), what, p.line(open), closer, closer)
}

var sectionKinds = map[string]ir.Kind{"input": ir.Input, "filter": ir.Filter, "output": ir.Output}

// config parses the whole file.
func (p *confParser) config() {
	for {
		p.skipCS()
		if p.eof() {
			return
		}
		start := p.pos
		c := p.src[start]
		if !isNameChar(c) {
			if c == '}' {
				p.fail(start, start+1, `Unexpected "}"`,
					`Expected one of "input", "filter", "output" or the end of the file, found "}". It closes nothing: remove it, or check the braces before it.`)
			}
			p.fail(start, p.tokenEnd(start), "Expected a section",
				`Expected one of "input", "filter" or "output", found %s. A Logstash configuration is made of sections: input { … } filter { … } output { … }.`, p.describe(start))
		}
		end := p.nameEnd(start)
		w := string(p.src[start:end])
		if kind, ok := sectionKinds[w]; ok {
			p.section(kind, start, end)
			continue
		}
		p.unknownSection(start, end, w)
	}
}

func (p *confParser) unknownSection(start, end int, w string) {
	hint := ""
	switch {
	case w == "if" || w == "else":
		hint = " Conditionals go inside a filter or output section."
	case w == "pipeline":
		hint = ` A .conf file is one pipeline, "main"; pipeline "<name>" { … } blocks are HCL syntax (a .hcl file).`
	case ir.Suggest(w, []string{"input", "filter", "output"}) != "":
		hint = fmt.Sprintf(" Did you mean %q?", ir.Suggest(w, []string{"input", "filter", "output"}))
	default:
		p.pos = end
		p.skipCS()
		if !p.eof() && p.src[p.pos] == '{' {
			hint = fmt.Sprintf(" Plugins go inside a section, as in filter { %s { … } }.", w)
		}
	}
	p.fail(start, end, fmt.Sprintf("Unknown section %q", w),
		`Expected one of "input", "filter" or "output", found %q.%s`, w, hint)
}

// section parses `input|filter|output { … }`; kwStart:kwEnd is the keyword.
func (p *confParser) section(kind ir.Kind, kwStart, kwEnd int) {
	pl := p.out.Pipeline
	if pl == nil {
		pl = &ir.Pipeline{Name: "main", Range: p.rng(kwStart, kwEnd)}
		p.out.Pipeline = pl
	}
	p.pos = kwEnd
	p.skipCS()
	if p.eof() || p.src[p.pos] != '{' {
		p.fail(p.pos, p.tokenEnd(p.pos), `Expected "{"`,
			`Expected "{" after %q, found %s. A section holds its plugins in braces: %s { … }.`,
			kind.String(), p.describe(p.pos), kind.String())
	}
	open := p.pos
	p.pos++
	p.items(kind, open, kind.String()+" section", func(n ir.Node) {
		switch kind {
		case ir.Input:
			if pl2, ok := n.(*ir.Plugin); ok {
				pl.Inputs = append(pl.Inputs, pl2)
			}
		case ir.Filter:
			pl.Filters = append(pl.Filters, n)
		case ir.Output:
			pl.Outputs = append(pl.Outputs, n)
		}
	})
}

// items parses `((branch | plugin) cs)* "}"` after the "{" at open,
// passing each plugin and conditional to emit.
func (p *confParser) items(kind ir.Kind, open int, what string, emit func(ir.Node)) {
	p.enter(open)
	defer p.leave()
	for {
		p.skipCS()
		if p.eof() {
			p.unclosed(open, what)
		}
		start := p.pos
		c := p.src[start]
		switch {
		case c == '}':
			p.pos++
			return
		case p.wordIs(start, "if"):
			n := p.branch(kind, start)
			if kind == ir.Input {
				p.errorf(start, start+2, "Conditional in input section",
					"Logstash allows conditionals only in the filter and output sections: conditions test events, which exist only after inputs produce them. Move this if into the filter or output section.")
				continue
			}
			if n != nil {
				emit(n)
			}
		case p.wordIs(start, "else") || p.elseIfGlued(start):
			p.fail(start, start+4, `Unexpected "else"`,
				`An else must directly follow the "}" of an if or else if block, and an if chain ends at its first plain else.`)
		case isNameStart(c):
			if pl := p.pluginNode(kind); pl != nil {
				emit(pl)
			}
		default:
			hint := ""
			if c == ',' || c == ';' {
				hint = fmt.Sprintf(" Plugins are separated by whitespace; remove the %q.", string(c))
			}
			p.fail(start, p.tokenEnd(start), "Expected a plugin",
				`Expected a plugin name, "if" or "}" in the %s, found %s.%s`, what, p.describe(start), hint)
		}
	}
}

// branch parses `if cond { … } (else if cond { … })* (else { … })?` at the
// "if" at ifStart.
func (p *confParser) branch(kind ir.Kind, ifStart int) *ir.If {
	p.enter(ifStart)
	defer p.leave()
	n := &ir.If{}
	p.pos = ifStart + 2
	cond, hdr := p.condition(ifStart)
	body := p.branchBody(kind, "if block")
	n.Branches = append(n.Branches, ir.Branch{Cond: cond, Body: body, Range: hdr})
	end := p.pos
	for {
		save := p.pos
		p.skipCS()
		elseStart := p.pos
		glued := p.elseIfGlued(elseStart)
		if p.eof() || !glued && !p.wordIs(elseStart, "else") {
			p.pos = save
			break
		}
		p.pos += 4
		p.skipCS()
		if glued || !p.eof() && p.wordIs(p.pos, "if") {
			p.pos += 2
			cond, hdr := p.condition(elseStart)
			body := p.branchBody(kind, "else if block")
			n.Branches = append(n.Branches, ir.Branch{Cond: cond, Body: body, Range: hdr})
			end = p.pos
			continue
		}
		if !p.eof() && p.src[p.pos] == '{' {
			n.Else = p.branchBody(kind, "else block")
			end = p.pos
			break
		}
		p.fail(p.pos, p.tokenEnd(p.pos), `Expected "{" or "if"`,
			`Expected "{" or "if" after "else", found %s: write else { … } or else if <condition> { … }.`, p.describe(p.pos))
	}
	n.Range = hcl.RangeBetween(p.rng(ifStart, ifStart+2), p.rng(end-1, end))
	return n
}

// elseIfGlued reports whether off holds "elseif" followed by a condition:
// the grammar's else_if is "else" cs "if" and cs may be empty. Followed by
// "{" it is not a branch but a plugin named elseif, as Logstash's parser
// reads it.
func (p *confParser) elseIfGlued(off int) bool {
	if !p.wordIs(off, "elseif") {
		return false
	}
	save := p.pos
	defer func() { p.pos = save }()
	p.pos = off + 6
	p.skipCS()
	return !p.eof() && p.src[p.pos] != '{'
}

// branchBody parses the "{ … }" of a branch at p.pos.
func (p *confParser) branchBody(kind ir.Kind, what string) []ir.Node {
	open := p.pos
	p.pos++
	var nodes []ir.Node
	p.items(kind, open, what, func(n ir.Node) { nodes = append(nodes, n) })
	return nodes
}

// condition parses the condition after the keyword ("if", or "else if")
// starting at kwStart; p.pos is right after "if". It leaves p.pos at the
// "{" that follows the condition and returns the condition (nil if it is
// invalid) and the range of the branch header, keyword to condition.
func (p *confParser) condition(kwStart int) (ir.Expr, hcl.Range) {
	from := p.pos
	brace := p.conditionEnd(kwStart)
	expr, diags := ParseConditionWith(string(p.src[from:brace]), p.lines.pos(from), p.filename,
		ConditionOptions{RawStrings: !p.opts.SupportEscapes})
	// The condition parser counts columns in code points; recount them as
	// the rest of the file does.
	for _, d := range diags {
		p.fixRange(d.Subject)
		p.fixRange(d.Context)
	}
	p.fixExpr(expr)
	p.diags = append(p.diags, diags...)
	end := brace
	for end > from && isSpace(p.src[end-1]) {
		end--
	}
	if expr != nil {
		end = expr.SrcRange().End.Byte
	}
	p.pos = brace
	return expr, p.rng(kwStart, end)
}

// conditionEnd finds the "{" that ends the condition starting at p.pos: the
// first one outside strings, /regexps/, field references, arrays and
// comments.
func (p *confParser) conditionEnd(kwStart int) int {
	depth := 0 // open arrays
	for i := p.pos; i < len(p.src); {
		switch c := p.src[i]; c {
		case '#':
			for i < len(p.src) && p.src[i] != '\n' {
				i++
			}
		case '"', '\'', '/':
			end := p.quotedEnd(i)
			if end < 0 {
				what := "string"
				if c == '/' {
					what = "regexp"
				}
				p.unterminated(i, what)
			}
			i = end
		case '[':
			if end := p.selectorEnd(i); end > i {
				i = end
			} else {
				depth++
				i++
			}
		case ']':
			depth = max(0, depth-1)
			i++
		case '{':
			if depth == 0 {
				return i
			}
			i++
		case '}':
			if depth == 0 {
				p.fail(i, i+1, `Expected "{"`,
					`Expected "{" after the condition of the %s at line %d, found "}". Write the branch as %s <condition> { … }.`,
					p.keyword(kwStart), p.line(kwStart), p.keyword(kwStart))
			}
			i++
		default:
			i++
		}
	}
	p.fail(kwStart, kwStart+2, `Expected "{"`,
		`The condition of this %s has no "{" after it: the file ends first. Write the branch as %s <condition> { … }.`,
		p.keyword(kwStart), p.keyword(kwStart))
	return 0
}

// keyword returns "if" or "else if" for the branch keyword at off.
func (p *confParser) keyword(off int) string {
	if p.wordIs(off, "else") || p.wordIs(off, "elseif") {
		return "else if"
	}
	return "if"
}

// selectorEnd returns the end of the field reference ([^\]\[,]+ in
// brackets, repeated) at off, or off if there is none.
func (p *confParser) selectorEnd(off int) int {
	end := off
	for end < len(p.src) && p.src[end] == '[' {
		q := end + 1
		for q < len(p.src) && !isSelectorDelim(p.src[q]) {
			q++
		}
		if q == end+1 || q >= len(p.src) || p.src[q] != ']' {
			break
		}
		end = q + 1
	}
	return end
}

// unterminated reports a string or regexp without its closing quote.
func (p *confParser) unterminated(open int, what string) {
	q := p.src[open]
	hint := ""
	if end := p.lineEnd(open); bytesContains(p.src[open+1:end], '\\', q) {
		hint = fmt.Sprintf(` Note that a backslash before %c stops it from ending the %s, so a %s cannot end with a backslash.`, q, what, what)
	}
	p.fail(open, open+1, "Unterminated "+what,
		"The %s starting here has no closing %c before the end of the file; add it at the end of the %s.%s", what, q, what, hint)
}

func bytesContains(b []byte, c1, c2 byte) bool {
	for i := 0; i+1 < len(b); i++ {
		if b[i] == c1 && b[i+1] == c2 {
			return true
		}
	}
	return false
}

// fixRange recomputes the lines and columns of r from its byte offsets.
func (p *confParser) fixRange(r *hcl.Range) {
	if r == nil || r.Filename != p.filename {
		return
	}
	r.Start = p.lines.pos(r.Start.Byte)
	r.End = p.lines.pos(r.End.Byte)
}

// fixExpr applies fixRange to every range of a condition.
func (p *confParser) fixExpr(e ir.Expr) {
	switch x := e.(type) {
	case *ir.BoolOp:
		p.fixRange(&x.Range)
		p.fixExpr(x.Left)
		p.fixExpr(x.Right)
	case *ir.Not:
		p.fixRange(&x.Range)
		p.fixExpr(x.X)
	case *ir.Compare:
		p.fixRange(&x.Range)
		p.fixExpr(x.Left)
		p.fixExpr(x.Right)
	case *ir.Match:
		p.fixRange(&x.Range)
		p.fixExpr(x.Left)
		p.fixExpr(x.Right)
	case *ir.In:
		p.fixRange(&x.Range)
		p.fixExpr(x.Left)
		p.fixExpr(x.Right)
	case *ir.FieldRef:
		p.fixRange(&x.Range)
	case *ir.Literal:
		p.fixRange(&x.Range)
	case *ir.List:
		p.fixRange(&x.Range)
		for _, it := range x.Items {
			p.fixExpr(it)
		}
	case *ir.Regexp:
		p.fixRange(&x.Range)
	}
}
