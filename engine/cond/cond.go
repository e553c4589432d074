// Package cond compiles condition expressions (dsl/ir) into predicates over
// events, with Logstash's semantics.
//
// A condition is compiled once into a tree of closures: field references are
// parsed and regexps compiled at compile time, and evaluation does no parsing,
// no reflection and, for the usual operand types, no allocation.
//
// Semantics follow Logstash's compiled conditions
// (logstash-core/src/main/java/org/logstash/config/ir/compiler/EventCondition.java
// and DSL.java in elastic/logstash):
//
//   - Truthiness (`if [field]`, operands of and/or/!): a missing field, nil,
//     false, "" and the string "false" are false; everything else, including
//     0, empty arrays and empty maps, is true. (valueIsTruthy: non-null and
//     toString() neither empty nor "false"; elastic/logstash#12064.)
//   - == and !=: Ruby == on the values: numbers compare numerically across
//     integer and float (5 == 5.0), a string never equals a number
//     ("200" != 200), arrays and maps compare deeply, a missing field is nil
//     and nil == nil. != is the negation of ==, so [missing] != "x" is true.
//     (Logstash compares two fields with Java equals, which may not equate
//     5 and 5.0; here all == comparisons use the same numeric rule.)
//   - < > <= >=: numbers numerically, strings byte-wise (Ruby String#<=>),
//     timestamps chronologically. Any other combination, including a missing
//     field, is false. (Logstash raises an error there, cancels the event and
//     logs "condition evaluation error"; a predicate cannot drop events, so the
//     comparison is simply false.)
//   - =~ and !~: the left value must be a string, else =~ is false (so
//     [missing] =~ /x/ is false and [missing] !~ /x/ is true, !~ being the
//     negation of =~). Patterns are Go RE2 regexps; as in Ruby, ^ and $ match
//     at line boundaries ((?m) is implied).
//   - in / not in (not in is the negation of in); a missing or nil left side
//     is never in anything, nor is an array or map:
//     right side an array literal: Logstash compares string forms
//     (val.toString().equals(found.toString())), so [code] in [200, 404]
//     holds for the integer 200 and for the string "200";
//     right side a string: substring test, for a string left side only;
//     right side a field holding an array: membership with == semantics;
//     right side a field holding a string: substring test;
//     right side anything else: == (Logstash's FieldInField does this;
//     its ConstantScalarInField, for `5 in [field]`, compares with the field
//     reference itself by mistake and is always false for a scalar field).
//   - and, or, xor, nand short-circuit where possible; nand is !(a and b) and
//     xor is (a != b), as DSL.eNand / DSL.eXor define them.
package cond

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/pipelined/pipeline/dsl/ir"
	"github.com/pipelined/pipeline/engine/event"
)

// Compile compiles a condition into a predicate. On error it returns nil and
// diagnostics pointing at the offending node (an invalid field reference or
// regexp, an operand where a condition is required, an unknown operator).
func Compile(e ir.Expr) (func(*event.Event) bool, hcl.Diagnostics) {
	c := &compiler{}
	if e == nil {
		c.diags = append(c.diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid condition",
			Detail:   "The condition is missing; write a test such as [field] == \"value\".",
		})
		return nil, c.diags
	}
	p := c.pred(e)
	if c.diags.HasErrors() {
		return nil, c.diags
	}
	return p, c.diags
}

type pred = func(*event.Event) bool

type compiler struct {
	diags hcl.Diagnostics
}

func (c *compiler) errorf(r hcl.Range, summary, format string, args ...any) {
	c.diags = append(c.diags, &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  summary,
		Detail:   fmt.Sprintf(format, args...),
		Subject:  r.Ptr(),
	})
}

func constant(b bool) pred {
	if b {
		return func(*event.Event) bool { return true }
	}
	return func(*event.Event) bool { return false }
}

// pred compiles e as a condition.
func (c *compiler) pred(e ir.Expr) pred {
	switch x := e.(type) {
	case *ir.BoolOp:
		return c.boolOp(x)
	case *ir.Not:
		inner := c.pred(x.X)
		return func(ev *event.Event) bool { return !inner(ev) }
	case *ir.Compare:
		return c.compare(x)
	case *ir.Match:
		return c.match(x)
	case *ir.In:
		return c.in(x)
	case *ir.FieldRef:
		ref, ok := c.ref(x)
		if !ok {
			return nil
		}
		return func(ev *event.Event) bool {
			v, _ := ev.Get(ref)
			return truthy(v)
		}
	case *ir.Literal:
		return constant(truthy(x.Value))
	case *ir.List:
		c.operand(x) // validate items
		return constant(true)
	case *ir.Regexp:
		c.errorf(x.Range, "Invalid condition", "A regexp cannot be used as a condition on its own; match it against a field, as in [field] =~ /%s/.", x.Pattern)
		return nil
	}
	c.errorf(srcRange(e), "Invalid condition", "Unsupported condition node %T.", e)
	return nil
}

func srcRange(e ir.Expr) hcl.Range {
	if e == nil {
		return hcl.Range{}
	}
	return e.SrcRange()
}

func (c *compiler) boolOp(x *ir.BoolOp) pred {
	l, r := c.pred(x.Left), c.pred(x.Right)
	switch x.Op {
	case ir.And:
		return func(ev *event.Event) bool { return l(ev) && r(ev) }
	case ir.Or:
		return func(ev *event.Event) bool { return l(ev) || r(ev) }
	case ir.Nand:
		return func(ev *event.Event) bool { return !(l(ev) && r(ev)) }
	case ir.Xor:
		return func(ev *event.Event) bool { return l(ev) != r(ev) }
	}
	c.errorf(x.Range, "Invalid condition", "Unknown boolean operator %q; use and, or, xor or nand.", string(x.Op))
	return nil
}

func (c *compiler) ref(x *ir.FieldRef) (event.Ref, bool) {
	r, err := event.ParseRef(x.Path)
	if err != nil {
		c.errorf(x.Range, "Invalid field reference", "%s. Write field references as [field] or [outer][inner].", capitalize(err.Error()))
		return event.Ref{}, false
	}
	return r, true
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// operand is a compiled value: a field reference or a constant.
type operand struct {
	isField bool
	ref     event.Ref
	konst   any // literal value; lists become []any
	isList  bool
	ok      bool
}

// getter returns a closure reading the operand.
func (o operand) getter() func(*event.Event) any {
	if o.isField {
		ref := o.ref
		return func(ev *event.Event) any {
			v, _ := ev.Get(ref)
			return v
		}
	}
	k := o.konst
	return func(*event.Event) any { return k }
}

func (c *compiler) operand(e ir.Expr) operand {
	switch x := e.(type) {
	case *ir.FieldRef:
		r, ok := c.ref(x)
		return operand{isField: true, ref: r, ok: ok}
	case *ir.Literal:
		switch x.Value.(type) {
		case string, int64, float64:
			return operand{konst: x.Value, ok: true}
		}
		c.errorf(x.Range, "Invalid condition", "Unsupported literal of type %T; literals are strings, integers or floats.", x.Value)
		return operand{}
	case *ir.List:
		vals := make([]any, 0, len(x.Items))
		ok := true
		for _, it := range x.Items {
			switch it.(type) {
			case *ir.Literal, *ir.List:
			default:
				c.errorf(it.SrcRange(), "Invalid condition", "Array items in conditions must be strings, numbers or arrays.")
				ok = false
				continue
			}
			o := c.operand(it)
			ok = ok && o.ok
			vals = append(vals, o.konst)
		}
		return operand{konst: vals, isList: true, ok: ok}
	case *ir.Regexp:
		c.errorf(x.Range, "Invalid condition", "A regexp literal can only be used on the right of =~ or !~.")
		return operand{}
	case nil:
		c.errorf(hcl.Range{}, "Invalid condition", "Missing operand.")
		return operand{}
	}
	c.errorf(e.SrcRange(), "Invalid condition", "Expected a value (a field reference, string, number or array) here, not a condition; compare values, as in [field] == \"value\".")
	return operand{}
}

func (c *compiler) compare(x *ir.Compare) pred {
	l, r := c.operand(x.Left), c.operand(x.Right)
	if !l.ok || !r.ok {
		return nil
	}
	switch x.Op {
	case "==":
		return equalPred(l, r, false)
	case "!=":
		return equalPred(l, r, true)
	case "<", ">", "<=", ">=":
		return orderPred(l, r, string(x.Op))
	}
	c.errorf(x.Range, "Invalid condition", "Unknown comparison operator %q; use ==, !=, <, >, <= or >=.", string(x.Op))
	return nil
}

// equalPred compiles l == r (or l != r when negate), with fast paths for the
// common field-versus-constant cases.
func equalPred(l, r operand, negate bool) pred {
	if !l.isField && r.isField {
		l, r = r, l
	}
	if l.isField && !r.isField {
		ref := l.ref
		switch k := r.konst.(type) {
		case string:
			return func(ev *event.Event) bool {
				v, _ := ev.Get(ref)
				s, ok := v.(string)
				return (ok && s == k) != negate
			}
		case int64:
			return func(ev *event.Event) bool {
				v, _ := ev.Get(ref)
				return equalInt(v, k) != negate
			}
		}
		k := r.konst
		return func(ev *event.Event) bool {
			v, _ := ev.Get(ref)
			return valuesEqual(v, k) != negate
		}
	}
	if !l.isField && !r.isField {
		return constant(valuesEqual(l.konst, r.konst) != negate)
	}
	lr, rr := l.ref, r.ref
	return func(ev *event.Event) bool {
		a, _ := ev.Get(lr)
		b, _ := ev.Get(rr)
		return valuesEqual(a, b) != negate
	}
}

func orderPred(l, r operand, op string) pred {
	var test func(int) bool
	switch op {
	case "<":
		test = func(c int) bool { return c < 0 }
	case ">":
		test = func(c int) bool { return c > 0 }
	case "<=":
		test = func(c int) bool { return c <= 0 }
	default:
		test = func(c int) bool { return c >= 0 }
	}
	if !l.isField && !r.isField {
		c, ok := compareValues(l.konst, r.konst)
		return constant(ok && test(c))
	}
	lg, rg := l.getter(), r.getter()
	return func(ev *event.Event) bool {
		c, ok := compareValues(lg(ev), rg(ev))
		return ok && test(c)
	}
}

// re2Hint is appended to regexp compilation errors.
const re2Hint = "Patterns use Go's RE2 syntax, which has no look-around ((?=…), (?!…), (?<=…), (?<!…)), backreferences (\\1), atomic groups or possessive quantifiers; rewrite the pattern without them."

func (c *compiler) match(x *ir.Match) pred {
	var pattern string
	switch r := x.Right.(type) {
	case *ir.Regexp:
		pattern = r.Pattern
	case *ir.Literal:
		s, ok := r.Value.(string)
		if !ok {
			c.errorf(r.Range, "Invalid condition", "The right side of =~ and !~ must be a regexp or a string, not %T.", r.Value)
			return nil
		}
		pattern = s
	default:
		c.errorf(srcRange(x.Right), "Invalid condition", "The right side of =~ and !~ must be a regexp literal such as /^foo/ or a quoted string.")
		return nil
	}
	re, err := compileRegexp(pattern)
	if err != nil {
		c.errorf(x.Right.SrcRange(), "Invalid regular expression", "%s. %s", capitalize(err.Error()), re2Hint)
		return nil
	}
	l := c.operand(x.Left)
	if !l.ok {
		return nil
	}
	neg := x.Negate
	if !l.isField {
		s, ok := l.konst.(string)
		return constant((ok && re.MatchString(s)) != neg)
	}
	ref := l.ref
	return func(ev *event.Event) bool {
		v, _ := ev.Get(ref)
		s, ok := v.(string)
		return (ok && re.MatchString(s)) != neg
	}
}

// compileRegexp compiles a Logstash (Ruby) pattern as an RE2 regexp. Ruby's ^
// and $ always match at line boundaries, so multi-line mode is implied. The
// pattern is first compiled as written so that errors quote the user's text.
func compileRegexp(pattern string) (*regexp.Regexp, error) {
	if _, err := regexp.Compile(pattern); err != nil {
		return nil, err
	}
	return regexp.Compile("(?m)" + pattern)
}

func (c *compiler) in(x *ir.In) pred {
	l, r := c.operand(x.Left), c.operand(x.Right)
	if !l.ok || !r.ok {
		return nil
	}
	neg := x.Negate
	switch {
	case r.isList:
		set := newStringSet(r.konst.([]any))
		if !l.isField {
			return constant(set.containsValue(l.konst) != neg)
		}
		ref := l.ref
		return func(ev *event.Event) bool {
			v, _ := ev.Get(ref)
			return set.containsValue(v) != neg
		}
	case !r.isField:
		// A constant string (or number, by its string form) on the right: a
		// substring test for a string on the left.
		hay := scalarString(r.konst)
		if !l.isField {
			s, ok := l.konst.(string)
			return constant((ok && strings.Contains(hay, s)) != neg)
		}
		ref := l.ref
		return func(ev *event.Event) bool {
			v, _ := ev.Get(ref)
			s, ok := v.(string)
			return (ok && strings.Contains(hay, s)) != neg
		}
	case !l.isField:
		// A constant in a field: `"x" in [tags]`.
		ref := r.ref
		if k, ok := l.konst.(string); ok {
			return func(ev *event.Event) bool {
				v, _ := ev.Get(ref)
				return stringInValue(k, v) != neg
			}
		}
		k := l.konst
		return func(ev *event.Event) bool {
			v, _ := ev.Get(ref)
			return valueIn(k, v) != neg
		}
	}
	lr, rr := l.ref, r.ref
	return func(ev *event.Event) bool {
		a, _ := ev.Get(lr)
		b, _ := ev.Get(rr)
		return valueIn(a, b) != neg
	}
}
