// Package ir is the intermediate representation shared by the HCL and Logstash
// .conf front-ends and consumed by the engine. It imports only hcl/v2: plugin
// options stay an hcl.Body, decoded later against each plugin's Options type.
//
// Pipeline settings (Settings) are decoded here, once, from one table that
// names each setting as a pipeline block writes it and as Logstash does
// (pipelines.yml, logstash.yml, command-line flags); the engine and the
// supervisor take them typed.
package ir

import "github.com/hashicorp/hcl/v2"

// Kind is a plugin kind.
type Kind int

const (
	Input Kind = iota + 1
	Filter
	Output
	Codec
)

func (k Kind) String() string {
	switch k {
	case Input:
		return "input"
	case Filter:
		return "filter"
	case Output:
		return "output"
	case Codec:
		return "codec"
	}
	return "unknown"
}

// Config is everything loaded from one -f argument.
type Config struct {
	Pipelines []*Pipeline
	// Files maps file names to their original source, for diagnostic snippets.
	Files map[string]*hcl.File
}

// Pipeline is one isolated pipeline: inputs, then filters and outputs in source
// order, with conditionals.
type Pipeline struct {
	Name     string
	Inputs   []*Plugin
	Filters  []Node // *Plugin or *If
	Outputs  []Node // *Plugin or *If
	Settings Settings
	Range    hcl.Range
}

// Node is a *Plugin or an *If.
type Node interface{ node() }

// Plugin is one plugin block.
type Plugin struct {
	Kind Kind
	Type string // "grok"
	ID   string // HCL second label; .conf `id =>` or synthesised "<type>_<n>"
	// Body holds the options, including a nested `codec "<type>" { … }` block.
	Body      hcl.Body
	Range     hcl.Range // the whole block header
	TypeRange hcl.Range // where the type name is written
}

// If is an if / else if / else chain.
type If struct {
	Branches []Branch // `if` then each `else if`, in order
	Else     []Node   // nil when there is no else
	Range    hcl.Range
}

// Branch is one condition and the nodes it guards.
type Branch struct {
	Cond  Expr
	Body  []Node
	Range hcl.Range
}

func (*Plugin) node() {}
func (*If) node()     {}

// Expr is a condition expression node: *BoolOp, *Not, *Compare, *Match, *In,
// *FieldRef, *Literal, *List, *Regexp.
type Expr interface {
	expr()
	SrcRange() hcl.Range
}

// BoolOperator is and/or/xor/nand.
type BoolOperator string

const (
	And  BoolOperator = "and"
	Or   BoolOperator = "or"
	Xor  BoolOperator = "xor"
	Nand BoolOperator = "nand"
)

// BoolOp combines two conditions.
type BoolOp struct {
	Op          BoolOperator
	Left, Right Expr
	Range       hcl.Range
}

// Not negates a condition: `!(...)` or `![field]`.
type Not struct {
	X     Expr
	Range hcl.Range
}

// CompareOperator is ==, !=, <, >, <=, >=.
type CompareOperator string

// Compare compares two values.
type Compare struct {
	Op          CompareOperator
	Left, Right Expr
	Range       hcl.Range
}

// Match is `left =~ right` (or `!~` when Negate). Right is a *Regexp or a
// string *Literal (the string is used as a regexp).
type Match struct {
	Negate      bool
	Left, Right Expr
	Range       hcl.Range
}

// In is `left in right` (or `not in` when Negate). Right is a *List, a
// *FieldRef (array membership or substring) or a string *Literal (substring).
type In struct {
	Negate      bool
	Left, Right Expr
	Range       hcl.Range
}

// FieldRef is a field reference as written, e.g. "[a][b]".
type FieldRef struct {
	Path  string
	Range hcl.Range
}

// Literal is a string, an int64 or a float64.
type Literal struct {
	Value any
	Range hcl.Range
}

// List is an array literal `["a", "b"]`.
type List struct {
	Items []Expr
	Range hcl.Range
}

// Regexp is a /regexp/ literal (Pattern without the slashes).
type Regexp struct {
	Pattern string
	Range   hcl.Range
}

func (*BoolOp) expr()   {}
func (*Not) expr()      {}
func (*Compare) expr()  {}
func (*Match) expr()    {}
func (*In) expr()       {}
func (*FieldRef) expr() {}
func (*Literal) expr()  {}
func (*List) expr()     {}
func (*Regexp) expr()   {}

func (x *BoolOp) SrcRange() hcl.Range   { return x.Range }
func (x *Not) SrcRange() hcl.Range      { return x.Range }
func (x *Compare) SrcRange() hcl.Range  { return x.Range }
func (x *Match) SrcRange() hcl.Range    { return x.Range }
func (x *In) SrcRange() hcl.Range       { return x.Range }
func (x *FieldRef) SrcRange() hcl.Range { return x.Range }
func (x *Literal) SrcRange() hcl.Range  { return x.Range }
func (x *List) SrcRange() hcl.Range     { return x.Range }
func (x *Regexp) SrcRange() hcl.Range   { return x.Range }

// Plugins returns every plugin of p in source order (inputs, then filters
// and outputs, inside conditionals too).
func (p *Pipeline) Plugins() []*Plugin {
	out := append([]*Plugin(nil), p.Inputs...)
	var walk func([]Node)
	walk = func(ns []Node) {
		for _, n := range ns {
			switch n := n.(type) {
			case *Plugin:
				out = append(out, n)
			case *If:
				for _, b := range n.Branches {
					walk(b.Body)
				}
				walk(n.Else)
			}
		}
	}
	walk(p.Filters)
	walk(p.Outputs)
	return out
}
