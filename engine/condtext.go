package engine

import (
	"strconv"
	"strings"

	"github.com/pipelined/pipeline/dsl/ir"
)

// condText writes a condition back in the pipeline's condition language, for
// reports (the condition chain an unrouted event went through).
func condText(e ir.Expr) string {
	var b strings.Builder
	writeCond(&b, e)
	return b.String()
}

func writeCond(b *strings.Builder, e ir.Expr) {
	switch x := e.(type) {
	case nil:
		b.WriteString("(none)")
	case *ir.BoolOp:
		b.WriteByte('(')
		writeCond(b, x.Left)
		b.WriteString(" " + string(x.Op) + " ")
		writeCond(b, x.Right)
		b.WriteByte(')')
	case *ir.Not:
		b.WriteString("!(")
		writeCond(b, x.X)
		b.WriteByte(')')
	case *ir.Compare:
		writeCond(b, x.Left)
		b.WriteString(" " + string(x.Op) + " ")
		writeCond(b, x.Right)
	case *ir.Match:
		writeCond(b, x.Left)
		if x.Negate {
			b.WriteString(" !~ ")
		} else {
			b.WriteString(" =~ ")
		}
		writeCond(b, x.Right)
	case *ir.In:
		writeCond(b, x.Left)
		if x.Negate {
			b.WriteString(" not in ")
		} else {
			b.WriteString(" in ")
		}
		writeCond(b, x.Right)
	case *ir.FieldRef:
		b.WriteString(x.Path)
	case *ir.Literal:
		switch v := x.Value.(type) {
		case string:
			b.WriteString(strconv.Quote(v))
		case int64:
			b.WriteString(strconv.FormatInt(v, 10))
		case float64:
			b.WriteString(strconv.FormatFloat(v, 'g', -1, 64))
		}
	case *ir.List:
		b.WriteByte('[')
		for i, it := range x.Items {
			if i > 0 {
				b.WriteString(", ")
			}
			writeCond(b, it)
		}
		b.WriteByte(']')
	case *ir.Regexp:
		b.WriteString("/" + x.Pattern + "/")
	}
}
