package dsl

import (
	"strings"

	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/pipelined/pipeline/dsl/configdebug"
	"github.com/pipelined/pipeline/dsl/ir"
	"github.com/pipelined/pipeline/engine/childenv"
	"github.com/pipelined/pipeline/engine/redact"
)

// envRefs remembers the ${VAR} references a load resolved, with their values.
type envRefs struct {
	look func(string) (string, bool)
	seen map[string]string
}

func (r *envRefs) lookup(name string) (string, bool) {
	v, ok := r.look(name)
	if ok {
		r.seen[name] = v
	}
	return v, ok
}

// hideSecretEnv keeps out of child processes' environments (childenv) every
// variable referenced by the configuration that gave a secret: its value is
// in a secret option's value (password, token, … as --config.debug redacts
// them), or in the userinfo of a URL-like value. Values shorter than 4 bytes
// are not matched (too common to say anything).
func hideSecretEnv(cfg *ir.Config, refs map[string]string) {
	if len(refs) == 0 {
		return
	}
	var strs []string
	visit := func(v cty.Value) {}
	visit = func(v cty.Value) {
		if v.IsNull() || !v.IsKnown() {
			return
		}
		t := v.Type()
		switch {
		case t == cty.String:
			strs = append(strs, v.AsString())
		case t.IsListType() || t.IsTupleType() || t.IsSetType() || t.IsMapType() || t.IsObjectType():
			for it := v.ElementIterator(); it.Next(); {
				k, e := it.Element()
				if k.Type() == cty.String {
					strs = append(strs, k.AsString())
				}
				visit(e)
			}
		}
	}
	var body func(b *hclsyntax.Body)
	body = func(b *hclsyntax.Body) {
		for n, a := range b.Attributes {
			v, diags := a.Expr.Value(nil)
			if diags.HasErrors() {
				continue
			}
			strs = strs[:0]
			visit(v)
			secret := configdebug.Secret(n)
			for _, s := range strs {
				masked := redact.URL(s)
				for name, val := range refs {
					if len(val) < 4 || !strings.Contains(s, val) {
						continue
					}
					if secret || (masked != s && !strings.Contains(masked, val)) {
						childenv.Hide(name)
					}
				}
			}
		}
		for _, nb := range b.Blocks {
			body(nb.Body)
		}
	}
	for _, p := range cfg.Pipelines {
		for _, pl := range p.Plugins() {
			if b, ok := pl.Body.(*hclsyntax.Body); ok && b != nil {
				body(b)
			}
		}
	}
}
