package ir

import (
	"encoding/json"
	"fmt"
	"strconv"
)

// exprJSON is the JSON form of an Expr, without source ranges. It lets a
// condition parsed by a front-end be kept as data and compiled where the
// front-end may not be imported (engine/cond's tests compile the conditions
// of their case table from such a file, written by dsl/logstash's tests).
type exprJSON struct {
	// Node is bool, not, compare, match, in, field, string, int, float,
	// list or regexp.
	Node   string      `json:"node"`
	Op     string      `json:"op,omitempty"`
	Negate bool        `json:"negate,omitempty"`
	Left   *exprJSON   `json:"left,omitempty"`
	Right  *exprJSON   `json:"right,omitempty"`
	Items  []*exprJSON `json:"items,omitempty"`
	// Value is a field path, a regexp pattern or a literal; numbers are
	// written as text so that int64 and float64 survive exactly.
	Value string `json:"value,omitempty"`
}

// MarshalExprJSON returns the JSON form of e (source ranges are left out).
func MarshalExprJSON(e Expr) ([]byte, error) {
	j, err := toJSON(e)
	if err != nil {
		return nil, err
	}
	return json.Marshal(j)
}

// UnmarshalExprJSON reads what MarshalExprJSON wrote.
func UnmarshalExprJSON(b []byte) (Expr, error) {
	var j exprJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return nil, err
	}
	return fromJSON(&j)
}

func toJSON(e Expr) (*exprJSON, error) {
	pair := func(node, op string, negate bool, l, r Expr) (*exprJSON, error) {
		lj, err := toJSON(l)
		if err != nil {
			return nil, err
		}
		rj, err := toJSON(r)
		if err != nil {
			return nil, err
		}
		return &exprJSON{Node: node, Op: op, Negate: negate, Left: lj, Right: rj}, nil
	}
	switch e := e.(type) {
	case nil:
		return nil, nil
	case *BoolOp:
		return pair("bool", string(e.Op), false, e.Left, e.Right)
	case *Compare:
		return pair("compare", string(e.Op), false, e.Left, e.Right)
	case *Match:
		return pair("match", "", e.Negate, e.Left, e.Right)
	case *In:
		return pair("in", "", e.Negate, e.Left, e.Right)
	case *Not:
		x, err := toJSON(e.X)
		return &exprJSON{Node: "not", Left: x}, err
	case *FieldRef:
		return &exprJSON{Node: "field", Value: e.Path}, nil
	case *Regexp:
		return &exprJSON{Node: "regexp", Value: e.Pattern}, nil
	case *List:
		j := &exprJSON{Node: "list", Items: []*exprJSON{}}
		for _, it := range e.Items {
			ij, err := toJSON(it)
			if err != nil {
				return nil, err
			}
			j.Items = append(j.Items, ij)
		}
		return j, nil
	case *Literal:
		switch v := e.Value.(type) {
		case string:
			return &exprJSON{Node: "string", Value: v}, nil
		case int64:
			return &exprJSON{Node: "int", Value: strconv.FormatInt(v, 10)}, nil
		case float64:
			return &exprJSON{Node: "float", Value: strconv.FormatFloat(v, 'g', -1, 64)}, nil
		}
		return nil, fmt.Errorf("literal of type %T", e.Value)
	}
	return nil, fmt.Errorf("expression node %T", e)
}

func fromJSON(j *exprJSON) (Expr, error) {
	if j == nil {
		return nil, nil
	}
	var l, r Expr
	var err error
	if l, err = fromJSON(j.Left); err != nil {
		return nil, err
	}
	if r, err = fromJSON(j.Right); err != nil {
		return nil, err
	}
	switch j.Node {
	case "bool":
		return &BoolOp{Op: BoolOperator(j.Op), Left: l, Right: r}, nil
	case "compare":
		return &Compare{Op: CompareOperator(j.Op), Left: l, Right: r}, nil
	case "match":
		return &Match{Negate: j.Negate, Left: l, Right: r}, nil
	case "in":
		return &In{Negate: j.Negate, Left: l, Right: r}, nil
	case "not":
		return &Not{X: l}, nil
	case "field":
		return &FieldRef{Path: j.Value}, nil
	case "regexp":
		return &Regexp{Pattern: j.Value}, nil
	case "string":
		return &Literal{Value: j.Value}, nil
	case "int":
		n, err := strconv.ParseInt(j.Value, 10, 64)
		return &Literal{Value: n}, err
	case "float":
		f, err := strconv.ParseFloat(j.Value, 64)
		return &Literal{Value: f}, err
	case "list":
		list := &List{}
		for _, it := range j.Items {
			e, err := fromJSON(it)
			if err != nil {
				return nil, err
			}
			list.Items = append(list.Items, e)
		}
		return list, nil
	}
	return nil, fmt.Errorf("unknown expression node %q", j.Node)
}
