package logstash

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/pipelined/pipeline/dsl/ir"
)

// ConditionOptions tunes ParseConditionWith.
type ConditionOptions struct {
	// RawStrings keeps string literals exactly as written between the quotes,
	// backslashes included. That is Logstash's behaviour with its default
	// config.support_escapes: false. When false (the default here), escape
	// sequences are processed as Logstash does with config.support_escapes:
	// true: \" \' \\ \n \r \t \0; any other backslash pair is kept as written.
	RawStrings bool
}

// ParseCondition parses a Logstash condition: the text between `if` (or
// `else if`) and `{`, e.g. `[a] == "b" and ![c]`. start is the position of
// src[0] in filename (a zero Line or Column is taken as 1); every node's
// Range is absolute, with columns counted in characters. String escapes are
// processed (see ConditionOptions.RawStrings).
//
// A bare operand (`[field]`, `"string"`, a number or an array) is a
// truthiness test and is returned as the *ir.FieldRef, *ir.Literal or
// *ir.List itself.
//
// On a syntax error the returned Expr is nil and the diagnostics hold one
// error whose Subject is the offending token. Warnings (for constructs that
// Logstash accepts but that rarely mean what they say) may accompany a
// non-nil Expr.
func ParseCondition(src string, start hcl.Pos, filename string) (ir.Expr, hcl.Diagnostics) {
	return ParseConditionWith(src, start, filename, ConditionOptions{})
}

// ParseConditionWith is ParseCondition with options.
//
// # Grammar
//
// It follows logstash-core/lib/logstash/compiler/lscl/lscl_grammar.treetop
// (elastic/logstash):
//
//	condition  := expression (boolean_operator expression)*
//	expression := "(" condition ")"
//	            | "!" "(" condition ")" | "!" selector
//	            | rvalue ("in" | "not in") rvalue
//	            | rvalue ("==" | "!=" | "<=" | ">=" | "<" | ">") rvalue
//	            | rvalue ("=~" | "!~") (string | regexp)
//	            | rvalue
//	rvalue     := string | number | selector | array
//	selector   := ("[" [^\]\[,]+ "]")+
//
// As in Logstash, `[...]` is read as a selector (field reference) whenever it
// can be, so `["a"]` is a reference to a field named `"a"` (quotes included),
// not a one-element array (elastic/logstash#1850, #9932). This parser keeps
// that reading for compatibility and adds a warning.
//
// # Boolean operator precedence
//
// Logstash does not use a grammar for and/or/xor/nand precedence: Condition#
// join_conditions in logstash-core/lib/logstash/compiler/lscl.rb runs a
// shunting-yard pass where `precedence` gives "and" 2 and "or" 1, an operator
// pops at most one operator, and only when the stacked one has strictly
// higher precedence. This parser replicates it exactly, so every config
// groups as in Logstash:
//
//	a and b or c          => (a and b) or c
//	a or b and c          => a or (b and c)
//	a or b or c           => a or (b or c)     (right-associative)
//	a and b and c or d    => a and ((b and c) or d)   (Logstash's quirk: only
//	                                           one "and" is popped)
//
// `precedence` raises ArgumentError for xor and nand, so Logstash rejects a
// chain of two or more boolean operators at one parenthesis level if any of
// them is xor or nand; so does this parser, with a hint to add parentheses.
// `a xor b` and `(a and b) nand c` are fine.
//
// Other Logstash-compatible details: integers with a leading zero are octal
// (Ruby's Integer()), "1." is rejected (Ruby's Float()), a backslash before
// the closing quote escapes it even after another backslash, `#` starts a
// comment, method calls and hashes are rejected (Logstash cannot compile
// them either).
func ParseConditionWith(src string, start hcl.Pos, filename string, opts ConditionOptions) (ir.Expr, hcl.Diagnostics) {
	p := &condParser{condScanner: newCondScanner(src, start, filename), raw: opts.RawStrings}
	p.skipCS()
	if p.eof() {
		p.errorf(p.pos, p.pos, "The condition is empty; write a test such as [field] == \"value\".")
		return nil, p.diags
	}
	el, ok := p.parseCondition("", 0, 0)
	if !ok {
		return nil, p.diags
	}
	p.skipCS()
	if !p.eof() {
		p.unexpectedAfterOperand(el, nil)
		return nil, p.diags
	}
	return el.expr, p.diags
}

type condParser struct {
	*condScanner
	raw   bool
	diags hcl.Diagnostics
	depth int // parentheses and arrays open at p.pos
	ops   int // boolean operators read so far
}

// MaxConditionOperators is how many boolean operators (and, or, xor, nand)
// one condition may hold. A chain of them becomes a tree as deep as it is
// long, which compiling and evaluating walk recursively: a million operands
// overflowed the stack. Ten thousand is far beyond any hand-written
// condition and compiles in milliseconds.
const MaxConditionOperators = 10000

// MaxConditionDepth is how deep parentheses and arrays may nest in a
// condition. The parser and the compiled condition recurse once per level,
// so without a budget a condition of a million "(" would overflow the stack
// and end the process (at `pipeline check` or a reload) instead of being
// reported.
const MaxConditionDepth = 256

// enter opens one level of nesting at p.pos; false (reported) when that goes
// beyond MaxConditionDepth.
func (p *condParser) enter(what string) bool {
	if p.depth++; p.depth > MaxConditionDepth {
		p.errorf(p.pos, p.pos+1, "%s nest deeper than %d levels; simplify the condition.", what, MaxConditionDepth)
		return false
	}
	return true
}

// condElem is a parsed expression with the source range it was read from
// (which includes any parentheses around it).
type condElem struct {
	expr  ir.Expr
	from  int // byte offsets into src
	to    int
	paren bool // read from "(" … ")"

	// For error hints: the last expression of a chain and whether it was
	// parenthesised.
	last      ir.Expr
	lastParen bool
}

type condOp struct {
	op       ir.BoolOperator
	from, to int
}

func (p *condParser) errorf(from, to int, format string, args ...any) {
	r := p.rng(from, to)
	p.diags = append(p.diags, &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  "Invalid condition",
		Detail:   fmt.Sprintf(format, args...),
		Subject:  &r,
	})
}

func (p *condParser) warnf(from, to int, summary, format string, args ...any) {
	r := p.rng(from, to)
	p.diags = append(p.diags, &hcl.Diagnostic{
		Severity: hcl.DiagWarning,
		Summary:  summary,
		Detail:   fmt.Sprintf(format, args...),
		Subject:  &r,
	})
}

var boolOps = map[string]ir.BoolOperator{
	"and":  ir.And,
	"or":   ir.Or,
	"xor":  ir.Xor,
	"nand": ir.Nand,
}

// parseCondition parses expression (boolean_operator expression)* and combines
// the chain with Logstash's precedence algorithm. It stops before anything
// that is not a boolean operator; the caller checks what follows.
func (p *condParser) parseCondition(after string, afterFrom, afterTo int) (condElem, bool) {
	first, ok := p.parseExpression(after, afterFrom, afterTo)
	if !ok {
		return condElem{}, false
	}
	elems := []condElem{first}
	var ops []condOp
	for {
		p.skipCS()
		w, end := p.wordAt(p.pos)
		op, isOp := boolOps[w]
		if !isOp {
			break
		}
		o := condOp{op: op, from: p.pos, to: end}
		if p.ops++; p.ops > MaxConditionOperators {
			p.errorf(o.from, o.to, "The condition has more than %d boolean operators; split it (e.g. into nested if blocks, or an in [list] test).", MaxConditionOperators)
			return condElem{}, false
		}
		p.pos = end
		e, ok := p.parseExpression(w, o.from, o.to)
		if !ok {
			return condElem{}, false
		}
		ops = append(ops, o)
		elems = append(elems, e)
	}
	return p.combine(elems, ops)
}

func precedence(op ir.BoolOperator) int {
	switch op {
	case ir.And:
		return 2
	case ir.Or:
		return 1
	}
	return 0 // xor, nand: Logstash raises ArgumentError
}

// combine builds the tree for e0 op1 e1 op2 e2 … exactly as
// Condition#join_conditions in logstash-core/lib/logstash/compiler/lscl.rb.
func (p *condParser) combine(elems []condElem, ops []condOp) (condElem, bool) {
	last, lastParen := elems[len(elems)-1].expr, elems[len(elems)-1].paren
	if len(ops) == 0 {
		e := elems[0]
		e.last, e.lastParen = last, lastParen
		return e, true
	}
	type rpn struct {
		isOp bool
		op   condOp
		el   condElem
	}
	out := []rpn{{el: elems[0]}}
	var stack []condOp
	for i, op := range ops {
		if len(stack) > 0 {
			top := stack[len(stack)-1]
			if precedence(top.op) == 0 || precedence(op.op) == 0 {
				bad := top
				if precedence(top.op) != 0 {
					bad = op
				}
				other := op
				if bad == op {
					other = top
				}
				p.errorf(bad.from, bad.to,
					"%q cannot be combined with %q at the same level without parentheses (Logstash rejects this too); add parentheses to say which operator applies first, e.g. ([a] %s [b]) %s [c].",
					string(bad.op), string(other.op), bad.op, other.op)
				return condElem{}, false
			}
			if precedence(top.op) > precedence(op.op) {
				out = append(out, rpn{isOp: true, op: top})
				stack = stack[:len(stack)-1]
			}
		}
		stack = append(stack, op)
		out = append(out, rpn{el: elems[i+1]})
	}
	for i := len(stack) - 1; i >= 0; i-- {
		out = append(out, rpn{isOp: true, op: stack[i]})
	}
	var work []condElem
	for _, it := range out {
		if !it.isOp {
			work = append(work, it.el)
			continue
		}
		r, l := work[len(work)-1], work[len(work)-2]
		work = work[:len(work)-2]
		work = append(work, condElem{
			expr: &ir.BoolOp{Op: it.op.op, Left: l.expr, Right: r.expr, Range: p.rng(l.from, r.to)},
			from: l.from,
			to:   r.to,
		})
	}
	res := work[0]
	res.last, res.lastParen = last, lastParen
	return res, true
}

// parseExpression parses one expression. after/afterFrom/afterTo describe the
// preceding token (a boolean operator, "(" or "!"), for "expected an operand"
// errors; after is "" at the start of the condition.
func (p *condParser) parseExpression(after string, afterFrom, afterTo int) (condElem, bool) {
	p.skipCS()
	start := p.pos
	if p.eof() {
		return condElem{}, p.missingOperand(after, afterFrom, afterTo)
	}
	switch c := p.src[p.pos]; {
	case c == '(':
		return p.parseParen()
	case c == '!' && p.peek(1) != '=' && p.peek(1) != '~':
		bangTo := p.pos + 1
		p.pos++
		p.skipCS()
		if p.eof() {
			return condElem{}, p.missingOperand("!", start, bangTo)
		}
		switch p.src[p.pos] {
		case '(':
			inner, ok := p.parseParen()
			if !ok {
				return condElem{}, false
			}
			return condElem{expr: &ir.Not{X: inner.expr, Range: p.rng(start, inner.to)}, from: start, to: inner.to}, true
		case '[':
			if _, n := p.scanSelector(p.pos); n > 0 {
				ref, ok := p.parseSelector()
				if !ok {
					return condElem{}, false
				}
				return condElem{expr: &ir.Not{X: ref.expr, Range: p.rng(start, ref.to)}, from: start, to: ref.to}, true
			}
		}
		p.errorf(p.pos, p.tokenEnd(p.pos),
			"Unexpected %s after \"!\"; \"!\" negates only a field reference or a parenthesised condition, as in ![field] or !([field] == \"value\").",
			p.describe(p.pos))
		return condElem{}, false
	}

	left, ok := p.parseRValue(after, afterFrom, afterTo, false)
	if !ok {
		return condElem{}, false
	}
	p.skipCS()
	opFrom := p.pos
	two := ""
	if p.pos+2 <= len(p.src) {
		two = p.src[p.pos : p.pos+2]
	}
	switch {
	case two == "==" || two == "!=" || two == "<=" || two == ">=":
		p.pos += 2
		return p.finishCompare(left, ir.CompareOperator(two), opFrom)
	case two == "=~" || two == "!~":
		p.pos += 2
		right, ok := p.parseRValue(two, opFrom, opFrom+2, true)
		if !ok {
			return condElem{}, false
		}
		switch r := right.expr.(type) {
		case *ir.Regexp:
		case *ir.Literal:
			if _, isStr := r.Value.(string); !isStr {
				return condElem{}, p.badRegexpOperand(two, right)
			}
		default:
			return condElem{}, p.badRegexpOperand(two, right)
		}
		return condElem{
			expr: &ir.Match{Negate: two == "!~", Left: left.expr, Right: right.expr, Range: p.rng(left.from, right.to)},
			from: left.from, to: right.to,
		}, true
	case p.peek(0) == '<' || p.peek(0) == '>':
		p.pos++
		return p.finishCompare(left, ir.CompareOperator(p.src[opFrom:p.pos]), opFrom)
	}
	w, end := p.wordAt(p.pos)
	switch w {
	case "in":
		p.pos = end
		return p.finishIn(left, false, opFrom, end)
	case "not":
		p.pos = end
		p.skipCS()
		w2, end2 := p.wordAt(p.pos)
		if w2 != "in" {
			p.errorf(opFrom, end,
				"Unexpected \"not\"; the only operator spelled with \"not\" is \"not in\", as in \"value\" not in [field]. To negate a condition use \"!\", as in !([field] == \"value\").")
			return condElem{}, false
		}
		p.pos = end2
		return p.finishIn(left, true, opFrom, end2)
	}
	return left, true
}

func (p *condParser) badRegexpOperand(op string, right condElem) bool {
	p.errorf(right.from, right.to,
		"The right side of %q must be a regexp literal such as /^foo/ or a quoted string; a field reference or number cannot be used as a pattern.", op)
	return false
}

func (p *condParser) finishCompare(left condElem, op ir.CompareOperator, opFrom int) (condElem, bool) {
	right, ok := p.parseRValue(string(op), opFrom, p.pos, false)
	if !ok {
		return condElem{}, false
	}
	return condElem{
		expr: &ir.Compare{Op: op, Left: left.expr, Right: right.expr, Range: p.rng(left.from, right.to)},
		from: left.from, to: right.to,
	}, true
}

func (p *condParser) finishIn(left condElem, negate bool, opFrom, opTo int) (condElem, bool) {
	name := "in"
	if negate {
		name = "not in"
	}
	right, ok := p.parseRValue(name, opFrom, opTo, false)
	if !ok {
		return condElem{}, false
	}
	return condElem{
		expr: &ir.In{Negate: negate, Left: left.expr, Right: right.expr, Range: p.rng(left.from, right.to)},
		from: left.from, to: right.to,
	}, true
}

// parseParen parses "(" condition ")" at p.pos.
func (p *condParser) parseParen() (condElem, bool) {
	if !p.enter("Parentheses") {
		return condElem{}, false
	}
	defer func() { p.depth-- }()
	open := p.pos
	p.pos++
	p.skipCS()
	if p.eof() {
		p.errorf(open, open+1, "This \"(\" is never closed; add the missing \")\".")
		return condElem{}, false
	}
	inner, ok := p.parseCondition("(", open, open+1)
	if !ok {
		return condElem{}, false
	}
	p.skipCS()
	if p.eof() {
		p.errorf(open, open+1, "This \"(\" is never closed; add the missing \")\".")
		return condElem{}, false
	}
	if p.src[p.pos] != ')' {
		p.unexpectedAfterOperand(inner, &open)
		return condElem{}, false
	}
	p.pos++
	return condElem{expr: inner.expr, from: open, to: p.pos, paren: true}, true
}

func (p *condParser) missingOperand(after string, from, to int) bool {
	if after == "" {
		p.errorf(p.pos, p.pos, "The condition is empty; write a test such as [field] == \"value\".")
		return false
	}
	p.errorf(from, to, "Expected an operand after %q, but the condition ends here; add a field reference such as [field], a quoted string or a number.", after)
	return false
}

// unexpectedAfterOperand reports the token at p.pos, which follows a complete
// expression but is neither a boolean operator nor (inside parentheses) ")".
func (p *condParser) unexpectedAfterOperand(chain condElem, open *int) {
	from := p.pos
	to := p.tokenEnd(from)
	tok := p.src[from:to]
	closer := ""
	if open != nil {
		closer = " or \")\""
	}
	expected := "Expected a boolean operator (and, or, xor, nand)" + closer
	if open == nil {
		expected += " or the end of the condition"
	}
	w, _ := p.wordAt(from)
	switch {
	case tok == "=" || tok == "=>":
		p.errorf(from, to, "Unexpected %q; did you mean \"==\"?", tok)
	case tok == "&&" || tok == "&":
		p.errorf(from, to, "Unexpected %q; Logstash conditions use the word \"and\".", tok)
	case tok == "||" || tok == "|":
		p.errorf(from, to, "Unexpected %q; Logstash conditions use the word \"or\".", tok)
	case tok == ")" && open == nil:
		p.errorf(from, to, "Unexpected \")\" without a matching \"(\"; remove it or add the missing \"(\".")
	case isCompareToken(tok) || tok == "in" || tok == "not":
		switch {
		case chain.lastParen:
			p.errorf(from, to, "Unexpected %q; a parenthesised condition cannot be compared. Compare operands directly, as in [field] == \"value\".", tok)
		case isNot(chain.last):
			p.errorf(from, to, "Unexpected %q after a negation; \"!\" applies only to the field reference or parenthesised condition right after it, so write !([field] %s …) to negate the comparison, or use the opposite operator.", tok, tok)
		default:
			p.errorf(from, to, "Unexpected %q; comparisons cannot be chained. Combine them with \"and\", as in 1 < [n] and [n] < 10.", tok)
		}
	case w != "" && boolOps[strings.ToLower(w)] != "":
		p.errorf(from, to, "Unexpected %q; boolean operators are lower case: did you mean %q?", w, strings.ToLower(w))
	case tok == "!":
		p.errorf(from, to, "Unexpected \"!\"; \"!\" must come before the field reference or parenthesised condition it negates. %s.", expected)
	default:
		p.errorf(from, to, "Unexpected %s. %s.", p.describe(from), expected)
	}
}

func isNot(e ir.Expr) bool {
	_, ok := e.(*ir.Not)
	return ok
}

func isCompareToken(t string) bool {
	switch t {
	case "==", "!=", "<=", ">=", "<", ">", "=~", "!~":
		return true
	}
	return false
}

// parseRValue parses string | number | selector | array, and a regexp when
// allowRegexp (the right side of =~ / !~).
func (p *condParser) parseRValue(after string, afterFrom, afterTo int, allowRegexp bool) (condElem, bool) {
	p.skipCS()
	if p.eof() {
		return condElem{}, p.missingOperand(after, afterFrom, afterTo)
	}
	start := p.pos
	c := p.src[p.pos]
	switch {
	case c == '"' || c == '\'':
		return p.parseString()
	case isDigit(c) || c == '-' && isDigit(p.peek(1)):
		return p.parseNumber()
	case c == '[':
		return p.parseBracket()
	case c == '/':
		if !allowRegexp {
			end := p.scanQuoted(start, '/')
			if end < 0 {
				end = p.tokenEnd(start)
			}
			p.errorf(start, end, "A /regexp/ literal is only allowed on the right of =~ or !~, as in [field] =~ /pattern/.")
			return condElem{}, false
		}
		end := p.scanQuoted(start, '/')
		if end < 0 {
			p.errorf(start, p.lineEnd(start), "Unterminated regexp: no closing \"/\" was found. End the pattern with \"/\" (write \\/ for a slash inside it).")
			return condElem{}, false
		}
		p.pos = end
		return condElem{expr: &ir.Regexp{Pattern: p.src[start+1 : end-1], Range: p.rng(start, end)}, from: start, to: end}, true
	case isWordStart(c):
		w, end := p.wordAt(start)
		switch {
		case w == "not":
			p.errorf(start, end, "Unexpected \"not\"; to negate use \"!\", as in ![field] or !([field] == \"value\"). The word \"not\" is only used in \"not in\".")
		case (boolOps[w] != "" || w == "in") && after != "":
			p.errorf(start, end, "Expected an operand after %q, found the operator %q; add a field reference such as [field], a quoted string or a number.", after, w)
		case boolOps[w] != "" || w == "in":
			p.errorf(start, end, "Unexpected operator %q at the start of the condition; it needs an operand on each side, as in [a] %s [b].", w, w)
		case w == "true" || w == "false" || w == "nil" || w == "null":
			p.errorf(start, end, "Unexpected %q; Logstash conditions have no boolean or null literals. Test a field's truthiness with [field] or ![field], or compare with a quoted string such as \"%s\".", w, w)
		default:
			q := end
			for q < len(p.src) && (p.src[q] == ' ' || p.src[q] == '\t') {
				q++
			}
			if q < len(p.src) && p.src[q] == '(' {
				p.errorf(start, end, "Method calls such as %s(...) are not supported in conditions (Logstash cannot compile them either).", w)
			} else {
				p.errorf(start, end, "Unexpected %q; field references need brackets, as in [%s], and strings need quotes, as in \"%s\".", w, w, w)
			}
		}
		return condElem{}, false
	}
	if after == "" {
		p.errorf(start, p.tokenEnd(start), "Unexpected %s at the start of a condition; expected a field reference such as [field], a quoted string, a number, \"!\" or \"(\".", p.describe(start))
	} else {
		p.errorf(start, p.tokenEnd(start), "Unexpected %s after %q; expected an operand: a field reference such as [field], a quoted string, a number or an array.", p.describe(start), after)
	}
	return condElem{}, false
}

func (p *condParser) parseString() (condElem, bool) {
	start := p.pos
	q := p.src[start]
	end := p.scanQuoted(start, q)
	if end < 0 {
		hint := ""
		if strings.Contains(p.src[start:], `\`+string(q)) {
			hint = fmt.Sprintf(" Note that a backslash before %c escapes it, as in Logstash, so a string cannot end with a backslash.", q)
		}
		p.errorf(start, p.lineEnd(start), "Unterminated string: no closing %c was found; add it at the end of the string.%s", q, hint)
		return condElem{}, false
	}
	p.pos = end
	s := p.src[start+1 : end-1]
	if !p.raw {
		s = processEscapes(s)
	}
	return condElem{expr: &ir.Literal{Value: s, Range: p.rng(start, end)}, from: start, to: end}, true
}

// parseNumber parses "-"? [0-9]+ ("." [0-9]*)? and converts it as Logstash's
// Number node does (lscl.rb): Float(text) if it contains ".", else
// Integer(text), which reads a leading 0 as octal.
func (p *condParser) parseNumber() (condElem, bool) {
	start := p.pos
	i := start
	if p.src[i] == '-' {
		i++
	}
	digits := i
	for i < len(p.src) && isDigit(p.src[i]) {
		i++
	}
	intEnd := i
	isFloat := false
	if i < len(p.src) && p.src[i] == '.' {
		isFloat = true
		i++
		fracStart := i
		for i < len(p.src) && isDigit(p.src[i]) {
			i++
		}
		if i == fracStart {
			p.errorf(start, i, "%q is not a valid number; write digits after the decimal point, as in %s0.", p.src[start:i], p.src[start:i])
			return condElem{}, false
		}
	}
	text := p.src[start:i]
	var v any
	if isFloat {
		f, err := strconv.ParseFloat(text, 64)
		if err != nil {
			p.errorf(start, i, "%q is not a valid number: %v.", text, err)
			return condElem{}, false
		}
		v = f
	} else {
		base := 10
		if intEnd-digits > 1 && p.src[digits] == '0' {
			base = 8
		}
		n, err := strconv.ParseInt(text, base, 64)
		switch {
		case err != nil && base == 8 && strings.ContainsAny(text, "89"):
			p.errorf(start, i, "%q is not a valid number: Logstash reads integers with a leading zero as octal, and 8 and 9 are not octal digits. Remove the leading zero.", text)
			return condElem{}, false
		case err != nil:
			p.errorf(start, i, "%q is out of range for a 64-bit integer; use a smaller number or a decimal such as %s.0.", text, text)
			return condElem{}, false
		}
		if base == 8 {
			p.warnf(start, i, "Octal number",
				"%s is read as the octal number %d, as Logstash does for integers with a leading zero; remove the leading zero if you meant decimal.", text, n)
		}
		v = n
	}
	p.pos = i
	return condElem{expr: &ir.Literal{Value: v, Range: p.rng(start, i)}, from: start, to: i}, true
}

// parseBracket parses a selector (field reference) or an array at "[".
func (p *condParser) parseBracket() (condElem, bool) {
	start := p.pos
	if _, n := p.scanSelector(start); n > 0 {
		return p.parseSelector()
	}
	// Not a selector. Decide from the first delimiter whether the user wrote a
	// broken field reference or an array.
	q := start + 1
	for q < len(p.src) && !isSelectorDelim(p.src[q]) {
		q++
	}
	switch {
	case q >= len(p.src):
		p.errorf(start, p.lineEnd(start), "Invalid field reference %q: missing the closing \"]\"; add it after the field name, as in [field].", strings.TrimRight(p.src[start:p.lineEnd(start)], " \t"))
		return condElem{}, false
	case p.src[q] == '[' && q > start+1:
		p.errorf(start, q+1, "Invalid field reference %q: \"[\" cannot appear inside a path element; close each element first, as in [a][b].", p.src[start:q+1])
		return condElem{}, false
	}
	return p.parseArray()
}

// parseSelector parses the selector at p.pos, which scanSelector accepted, and
// reports a malformed element that directly follows it (`[a][b`, `[a][]`).
func (p *condParser) parseSelector() (condElem, bool) {
	start := p.pos
	end, n := p.scanSelector(start)
	if end < len(p.src) && p.src[end] == '[' {
		q := end + 1
		for q < len(p.src) && !isSelectorDelim(p.src[q]) {
			q++
		}
		switch {
		case q == end+1 && q < len(p.src) && p.src[q] == ']':
			p.errorf(start, q+1, "Invalid field reference %q: empty path element \"[]\"; remove it or name the field inside the brackets.", p.src[start:q+1])
		case q >= len(p.src):
			p.errorf(start, p.lineEnd(start), "Invalid field reference %q: missing the closing \"]\"; add it after the field name, as in [field].", strings.TrimRight(p.src[start:p.lineEnd(start)], " \t"))
		case p.src[q] == ',':
			p.errorf(start, q+1, "Invalid field reference %q: a path element cannot contain \",\".", p.src[start:q+1])
		default:
			p.errorf(start, q+1, "Invalid field reference %q: \"[\" cannot appear inside a path element; close each element first, as in [a][b].", p.src[start:q+1])
		}
		return condElem{}, false
	}
	p.pos = end
	if n == 1 {
		inner := strings.TrimSpace(p.src[start+1 : end-1])
		if len(inner) >= 2 && (inner[0] == '"' || inner[0] == '\'') && strings.IndexByte(inner[1:], inner[0]) == len(inner)-2 {
			p.warnf(start, end, "Single-element array read as a field reference",
				"%s is read as a reference to a field named %s (quotes included), not as a one-element array; Logstash reads it the same way (elastic/logstash#9932). To test for one value write [field] == %s; for a list, give at least two elements.",
				p.src[start:end], inner, inner)
		}
	}
	return condElem{expr: &ir.FieldRef{Path: p.src[start:end], Range: p.rng(start, end)}, from: start, to: end}, true
}

// parseArray parses "[" (value ("," value)*)? "]" where a value is a string, a
// number, a bareword (a string) or a nested array (Logstash's `array` rule;
// inside an array, brackets always mean an array).
func (p *condParser) parseArray() (condElem, bool) {
	if !p.enter("Arrays") {
		return condElem{}, false
	}
	defer func() { p.depth-- }()
	start := p.pos
	p.pos++
	var items []ir.Expr
	p.skipCS()
	if p.peek(0) == ']' {
		p.pos++
		return condElem{expr: &ir.List{Range: p.rng(start, p.pos)}, from: start, to: p.pos}, true
	}
	for {
		p.skipCS()
		item, ok := p.parseArrayValue(start)
		if !ok {
			return condElem{}, false
		}
		items = append(items, item.expr)
		p.skipCS()
		if p.eof() {
			p.errorf(start, start+1, "This array is never closed; add the missing \"]\".")
			return condElem{}, false
		}
		switch p.src[p.pos] {
		case ']':
			p.pos++
			return condElem{expr: &ir.List{Items: items, Range: p.rng(start, p.pos)}, from: start, to: p.pos}, true
		case ',':
			comma := p.pos
			p.pos++
			p.skipCS()
			if p.peek(0) == ']' {
				p.errorf(comma, comma+1, "Unexpected trailing \",\" in array; remove it (Logstash does not accept it).")
				return condElem{}, false
			}
		default:
			p.errorf(p.pos, p.tokenEnd(p.pos), "Unexpected %s in array; separate array items with \",\" and close the array with \"]\".", p.describe(p.pos))
			return condElem{}, false
		}
	}
}

func (p *condParser) parseArrayValue(arrayStart int) (condElem, bool) {
	if p.eof() {
		p.errorf(arrayStart, arrayStart+1, "This array is never closed; add the missing \"]\".")
		return condElem{}, false
	}
	start := p.pos
	c := p.src[start]
	switch {
	case c == '"' || c == '\'':
		return p.parseString()
	case isDigit(c) || c == '-' && isDigit(p.peek(1)):
		return p.parseNumber()
	case c == '[':
		return p.parseArray()
	case isWordStart(c):
		w, end := p.wordAt(start)
		p.pos = end
		return condElem{expr: &ir.Literal{Value: w, Range: p.rng(start, end)}, from: start, to: end}, true
	case c == '{':
		p.errorf(start, start+1, "Hashes are not supported in conditions; use an array of strings or numbers.")
		return condElem{}, false
	}
	p.errorf(start, p.tokenEnd(start), "Unexpected %s in array; array items are quoted strings, numbers, barewords or arrays.", p.describe(start))
	return condElem{}, false
}
