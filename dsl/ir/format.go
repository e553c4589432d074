package ir

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// FormatCondition prints a condition in Logstash syntax such that
// logstash.ParseCondition (escapes processed, as for HCL `if` labels) reads it back
// to the same IR, source ranges aside. Strings are single-quoted, with \\
// and \' escaped; regexps are written /as parsed/; integers in decimal;
// floats always with a decimal point.
//
// Parentheses keep the tree: Logstash groups chains of and/or with a
// peculiar shunting-yard pass (see logstash.ParseConditionWith), so a chain is
// printed without parentheses only when it uses one operator throughout,
// which every reading groups the same way (to the right). Any other boolean
// operand is parenthesised: (a and b) or c, a or (b and c).
func FormatCondition(e Expr) string {
	var b strings.Builder
	formatExpr(&b, e)
	return b.String()
}

func formatExpr(b *strings.Builder, e Expr) {
	switch x := e.(type) {
	case *BoolOp:
		formatOperand(b, x.Left, "")
		b.WriteString(" " + string(x.Op) + " ")
		same := ""
		if x.Op == And || x.Op == Or {
			same = string(x.Op) // a chain of one operator needs no parentheses
		}
		formatOperand(b, x.Right, same)
	case *Not:
		if _, ok := x.X.(*FieldRef); ok {
			b.WriteString("!")
			formatExpr(b, x.X)
			return
		}
		b.WriteString("!(")
		formatExpr(b, x.X)
		b.WriteString(")")
	case *Compare:
		formatExpr(b, x.Left)
		b.WriteString(" " + string(x.Op) + " ")
		formatExpr(b, x.Right)
	case *Match:
		formatExpr(b, x.Left)
		if x.Negate {
			b.WriteString(" !~ ")
		} else {
			b.WriteString(" =~ ")
		}
		formatExpr(b, x.Right)
	case *In:
		formatExpr(b, x.Left)
		if x.Negate {
			b.WriteString(" not in ")
		} else {
			b.WriteString(" in ")
		}
		formatExpr(b, x.Right)
	case *FieldRef:
		b.WriteString(x.Path)
	case *Literal:
		b.WriteString(formatLiteral(x.Value))
	case *List:
		b.WriteString("[")
		for i, it := range x.Items {
			if i > 0 {
				b.WriteString(", ")
			}
			formatExpr(b, it)
		}
		b.WriteString("]")
	case *Regexp:
		b.WriteString("/" + x.Pattern + "/")
	default:
		fmt.Fprintf(b, "<%T>", e)
	}
}

// formatOperand prints an operand of a boolean operator: parenthesised if
// it is itself a boolean operation, unless its operator is same.
func formatOperand(b *strings.Builder, e Expr, same string) {
	if op, ok := e.(*BoolOp); ok && (same == "" || string(op.Op) != same) {
		b.WriteString("(")
		formatExpr(b, e)
		b.WriteString(")")
		return
	}
	formatExpr(b, e)
}

// formatLiteral prints a string, integer or float literal.
func formatLiteral(v any) string {
	switch v := v.(type) {
	case string:
		return quoteString(v)
	case int64:
		return strconv.FormatInt(v, 10)
	case int:
		return strconv.Itoa(v)
	case float64:
		if math.IsInf(v, 0) || math.IsNaN(v) {
			return fmt.Sprint(v) // not produced by the parser
		}
		s := strconv.FormatFloat(v, 'f', -1, 64)
		if !strings.Contains(s, ".") {
			s += ".0"
		}
		return s
	}
	return fmt.Sprint(v)
}

// quoteString writes s as a single-quoted Logstash string that reads back as
// s with escapes processed (config.support_escapes: true, and HCL `if`
// labels): single quotes and backslashes are escaped, except that a lone
// backslash (not next to another one) before a character that starts no
// escape is written alone, as in '\d+'. A string ending in a backslash
// cannot be written (a backslash before the closing quote escapes it), but
// no parsed string ends in one.
func quoteString(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('\'')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\'':
			b.WriteString(`\'`)
		case c == '\\':
			lone := (i == 0 || s[i-1] != '\\') && i+1 < len(s) && !strings.ContainsRune(`"'\nrt0`, rune(s[i+1]))
			if !lone {
				b.WriteByte('\\')
			}
			b.WriteByte('\\')
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('\'')
	return b.String()
}
