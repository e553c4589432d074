// Package configdebug renders a pipeline's configuration for --config.debug
// with every secret redacted: the value of an option whose name says it is
// a secret (password, passphrase, token, secret, api key, private key) is
// replaced whole, and the userinfo of every URL-like string is masked, so a
// password written into a host URL or given through ${VAR} never reaches the
// log. It lives under plugins/ because the redaction rules are the
// plugins'.
package configdebug

import (
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/pipelined/pipeline/dsl/ir"
	"github.com/pipelined/pipeline/engine/redact"
)

// secretWords mark an option whose whole value is a secret.
var secretWords = []string{"password", "passphrase", "secret", "token", "api_key", "apikey", "private_key", "credential", "authorization", "cloud_auth"}

// Secret reports whether an option named name holds a secret.
func Secret(name string) bool {
	n := strings.ToLower(name)
	for _, w := range secretWords {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}

// Describe returns one line per plugin of p: its section, type, id and
// options, in configuration order, conditionals shown by their nesting.
func Describe(p *ir.Pipeline) []string {
	var lines []string
	var nodes func(section string, ns []ir.Node, depth int)
	nodes = func(section string, ns []ir.Node, depth int) {
		for _, n := range ns {
			switch n := n.(type) {
			case *ir.Plugin:
				lines = append(lines, plugin(section, n, depth))
			case *ir.If:
				for i, b := range n.Branches {
					word := "if"
					if i > 0 {
						word = "else if"
					}
					lines = append(lines, fmt.Sprintf("%s%s (line %d) {", indent(depth), word, b.Range.Start.Line))
					nodes(section, b.Body, depth+1)
				}
				if n.Else != nil {
					lines = append(lines, indent(depth)+"else {")
					nodes(section, n.Else, depth+1)
				}
			}
		}
	}
	for _, in := range p.Inputs {
		lines = append(lines, plugin("input", in, 0))
	}
	nodes("filter", p.Filters, 0)
	nodes("output", p.Outputs, 0)
	return lines
}

func indent(depth int) string { return strings.Repeat("  ", depth) }

func plugin(section string, pl *ir.Plugin, depth int) string {
	return fmt.Sprintf("%s%s %s %q {%s}", indent(depth), section, pl.Type, pl.ID, options(pl.Body))
}

// options renders a plugin's (or codec's) body as "name => value; …".
func options(body any) string {
	b, ok := body.(*hclsyntax.Body)
	if !ok || b == nil {
		return ""
	}
	names := make([]string, 0, len(b.Attributes))
	for n := range b.Attributes {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool {
		return b.Attributes[names[i]].SrcRange.Start.Byte < b.Attributes[names[j]].SrcRange.Start.Byte
	})
	var parts []string
	for _, n := range names {
		v, diags := b.Attributes[n].Expr.Value(nil)
		var text string
		switch {
		case Secret(n):
			text = `"` + redact.Mask + `"`
		case diags.HasErrors():
			text = "(expression)"
		default:
			text = render(v)
		}
		parts = append(parts, n+" => "+text)
	}
	for _, nb := range b.Blocks {
		label := strings.Join(nb.Labels, " ")
		parts = append(parts, fmt.Sprintf("%s %s {%s}", nb.Type, label, options(nb.Body)))
	}
	if len(parts) == 0 {
		return ""
	}
	return " " + strings.Join(parts, "; ") + " "
}

// render writes a value as .conf would, URLs redacted.
func render(v cty.Value) string {
	switch {
	case v.IsNull():
		return "null"
	case !v.IsKnown():
		return "(unknown)"
	}
	t := v.Type()
	switch {
	case t == cty.String:
		return fmt.Sprintf("%q", redact.URL(v.AsString()))
	case t == cty.Number:
		return v.AsBigFloat().Text('g', -1)
	case t == cty.Bool:
		return fmt.Sprint(v.True())
	case t.IsListType() || t.IsTupleType() || t.IsSetType():
		var parts []string
		for it := v.ElementIterator(); it.Next(); {
			_, e := it.Element()
			parts = append(parts, render(e))
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case t.IsMapType() || t.IsObjectType():
		var parts []string
		for it := v.ElementIterator(); it.Next(); {
			k, e := it.Element()
			val := render(e)
			if Secret(k.AsString()) {
				val = `"` + redact.Mask + `"`
			}
			parts = append(parts, fmt.Sprintf("%q => %s", k.AsString(), val))
		}
		return "{" + strings.Join(parts, ", ") + "}"
	}
	return "(value)"
}
