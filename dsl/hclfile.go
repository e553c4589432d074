package dsl

import (
	"fmt"
	"slices"
	"sort"
	"strconv"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/pipelined/pipeline/dsl/ir"
	"github.com/pipelined/pipeline/dsl/logstash"
)

// parseHCL is the HCL front-end.
func parseHCL(l Loader, filename string, src []byte) (*fileIR, hcl.Diagnostics) {
	text, m, diags := preprocess(filename, src, l.lookupEnv())
	f, pdiags := hclsyntax.ParseConfig(text, filename, hcl.InitialPos)
	li := newLineIndex(src)
	if m != nil {
		fn := func(p hcl.Pos) hcl.Pos {
			if p == (hcl.Pos{}) {
				return p
			}
			return li.pos(m.toOrig(p.Byte))
		}
		remapDiags(pdiags, fn) // first: they may point into the AST
		remapPositions(f.Body, fn)
	}
	diags = append(diags, pdiags...)

	p := &hclParser{
		filename: filename,
		src:      src,
		lines:    li,
		out: &fileIR{
			File:     &hcl.File{Body: f.Body, Bytes: src, Nav: f.Nav},
			IDRanges: map[*ir.Plugin]hcl.Range{},
		},
	}
	body, ok := f.Body.(*hclsyntax.Body)
	if !ok {
		return p.out, diags
	}
	p.topLevel(body)
	return p.out, append(diags, p.diags...)
}

type hclParser struct {
	filename string
	src      []byte // original source
	lines    *lineIndex
	out      *fileIR
	diags    hcl.Diagnostics
}

// context is where a block list is.
type context int

const (
	ctxTop      context = iota // top level of a file
	ctxPipeline                // inside pipeline "<name>" { … }
	ctxIf                      // inside if / else if / else
)

// blockTypes lists the block types allowed in each context, for "Did you
// mean" suggestions.
var blockTypes = map[context][]string{
	ctxTop:      {"pipeline", "input", "filter", "output", "if", "else"},
	ctxPipeline: {"input", "filter", "output", "if", "else", "dead_letter_queue"},
	ctxIf:       {"filter", "output", "if", "else"},
}

// nodes collects the contents of a block list.
type nodes struct {
	inputs           []*ir.Plugin
	filters, outputs []ir.Node
}

func (p *hclParser) errorf(subject hcl.Range, summary, detail string, args ...any) {
	p.diags = append(p.diags, &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  summary,
		Detail:   fmt.Sprintf(detail, args...),
		Subject:  subject.Ptr(),
	})
}

// topLevel walks a file's body.
func (p *hclParser) topLevel(body *hclsyntax.Body) {
	for _, a := range sortedAttrs(body) {
		if slices.Contains(ir.SettingNames(""), a.Name) {
			p.errorf(a.NameRange, "Unsupported argument",
				`An argument named %q is not expected here. Pipeline settings go inside a pipeline block: pipeline "main" { %s = … }.`, a.Name, a.Name)
			continue
		}
		p.errorf(a.NameRange, "Unsupported argument", "An argument named %q is not expected here.", a.Name)
	}
	var implicit *nodes
	p.blocks(body.Blocks, ctxTop, func() *nodes {
		if implicit == nil {
			implicit = &nodes{}
		}
		return implicit
	}, func(b *hclsyntax.Block) {
		// The first block of the implicit pipeline fixes its place and range.
		if p.out.Implicit == nil {
			p.out.Implicit = &ir.Pipeline{Name: "main", Range: b.DefRange()}
			p.out.Pipelines = append(p.out.Pipelines, p.out.Implicit)
		}
	})
	if implicit != nil {
		p.out.Implicit.Inputs = implicit.inputs
		p.out.Implicit.Filters = implicit.filters
		p.out.Implicit.Outputs = implicit.outputs
	}
}

// blocks walks a block list in source order. target returns the nodes to add
// to; seen is called for each input, filter, output and if block, before it
// is added.
func (p *hclParser) blocks(blocks []*hclsyntax.Block, ctx context, target func() *nodes, seen func(*hclsyntax.Block)) {
	for i := 0; i < len(blocks); i++ {
		b := blocks[i]
		switch b.Type {
		case "pipeline":
			if ctx != ctxTop {
				p.errorf(b.TypeRange, "Unexpected pipeline block",
					"Pipeline blocks are only allowed at the top level of a file, not inside another block.")
				continue
			}
			p.pipeline(b)
		case "input":
			if ctx == ctxIf {
				p.errorf(b.DefRange(), "Conditional input",
					"Inputs cannot be inside an if block: conditions test events, which exist only after inputs produce them (Logstash has no conditionals around inputs either). Move this input out of the if block.")
				continue
			}
			if pl := p.plugin(ir.Input, b); pl != nil {
				seen(b)
				t := target()
				t.inputs = append(t.inputs, pl)
			}
		case "filter", "output":
			kind := ir.Filter
			if b.Type == "output" {
				kind = ir.Output
			}
			if pl := p.plugin(kind, b); pl != nil {
				seen(b)
				t := target()
				if kind == ir.Filter {
					t.filters = append(t.filters, pl)
				} else {
					t.outputs = append(t.outputs, pl)
				}
			}
		case "if":
			chain := []*hclsyntax.Block{b}
			for i+1 < len(blocks) && blocks[i+1].Type == "else" {
				i++
				chain = append(chain, blocks[i])
				if !isElseIf(blocks[i]) {
					break // a final else ends the chain
				}
			}
			seen(b)
			fif, oif := p.ifChain(chain)
			t := target()
			if fif != nil {
				t.filters = append(t.filters, fif)
			}
			if oif != nil {
				t.outputs = append(t.outputs, oif)
			}
		case "else":
			p.errorf(b.TypeRange, "Unexpected else block",
				"An else block must directly follow an if or else if block.")
		default:
			detail := fmt.Sprintf("Blocks of type %q are not expected here.", b.Type)
			if s := ir.Suggest(b.Type, blockTypes[ctx]); s != "" {
				detail += fmt.Sprintf(" Did you mean %q?", s)
			}
			p.errorf(b.TypeRange, "Unsupported block type", "%s", detail)
		}
	}
}

// pipeline handles pipeline "<name>" { … }.
func (p *hclParser) pipeline(b *hclsyntax.Block) {
	pl := &ir.Pipeline{Range: b.DefRange()}
	switch {
	case len(b.Labels) == 0:
		p.errorf(b.DefRange(), "Missing pipeline name", `A pipeline block needs a name: pipeline "<name>" { … }.`)
	case len(b.Labels) > 1:
		p.errorf(b.LabelRanges[1], "Extraneous label", `A pipeline block has one label, its name: pipeline "<name>" { … }.`)
		fallthrough
	default:
		pl.Name = b.Labels[0]
		if pl.Name == "" {
			p.errorf(b.LabelRanges[0], "Empty pipeline name", "A pipeline needs a non-empty name.")
		}
	}
	p.out.Pipelines = append(p.out.Pipelines, pl)

	settings, blocks, diags := ir.DecodeSettingsHCL(b.Body)
	pl.Settings = settings
	p.diags = append(p.diags, diags...)
	n := &nodes{}
	p.blocks(blocks, ctxPipeline, func() *nodes { return n }, func(*hclsyntax.Block) {})
	pl.Inputs, pl.Filters, pl.Outputs = n.inputs, n.filters, n.outputs
}

// plugin handles input/filter/output "<type>" "<id>" { … }. It returns nil
// when the block has no type.
func (p *hclParser) plugin(kind ir.Kind, b *hclsyntax.Block) *ir.Plugin {
	if len(b.Labels) == 0 || b.Labels[0] == "" {
		p.errorf(b.DefRange(), "Missing plugin type",
			`%s %s block needs the plugin type as its first label and may have an id as its second: %s "<type>" "<id>" { … }.`, article(kind), kind, kind)
		return nil
	}
	pl := &ir.Plugin{
		Kind:      kind,
		Type:      b.Labels[0],
		Body:      b.Body,
		Range:     b.DefRange(),
		TypeRange: b.LabelRanges[0],
	}
	if len(b.Labels) > 1 {
		if b.Labels[1] == "" {
			p.errorf(b.LabelRanges[1], "Empty plugin id", "Leave the id out to get a generated one, or give a non-empty id.")
		} else {
			pl.ID = b.Labels[1]
			p.out.IDRanges[pl] = b.LabelRanges[1]
		}
	}
	if len(b.Labels) > 2 {
		p.errorf(b.LabelRanges[2], "Extraneous label",
			`%s %s block has at most two labels, the plugin type and its id: %s "<type>" "<id>" { … }.`, article(kind), kind, kind)
	}
	return pl
}

func article(k ir.Kind) string {
	if k == ir.Filter {
		return "A"
	}
	return "An"
}

// ifChain handles an if block and the else blocks that follow it. An if that
// holds both filters and outputs is split in two with the same conditions:
// one for the filters, one for the outputs. Either result may be nil; an
// if holding neither is returned as a filter.
func (p *hclParser) ifChain(chain []*hclsyntax.Block) (filterIf, outputIf *ir.If) {
	rng := hcl.RangeBetween(chain[0].TypeRange, chain[len(chain)-1].CloseBraceRange)
	fi, oi := &ir.If{Range: rng}, &ir.If{Range: rng}
	hasF, hasO := false, false
	for _, b := range chain {
		var cond ir.Expr
		isElse := false
		switch {
		case b.Type == "if" && len(b.Labels) == 1:
			cond = p.cond(b.Labels[0], b.LabelRanges[0])
		case b.Type == "if" && len(b.Labels) == 0, b.Type == "else" && len(b.Labels) == 1 && b.Labels[0] == "if":
			p.errorf(b.DefRange(), "Missing condition",
				`Write the condition as a label: if "[type] == 'syslog'" { … }.`)
		case b.Type == "if":
			p.errorf(b.LabelRanges[1], "Extraneous label",
				`An if block has one label, its condition: if "[type] == 'syslog'" { … }.`)
			cond = p.cond(b.Labels[0], b.LabelRanges[0])
		case len(b.Labels) == 0:
			isElse = true
		case len(b.Labels) == 2 && b.Labels[0] == "if":
			cond = p.cond(b.Labels[1], b.LabelRanges[1])
		default:
			// Taken as a final else, so that its contents are still built.
			p.errorf(b.DefRange(), "Invalid else block", `Write else { … } or else if "<condition>" { … }.`)
			isElse = true
		}
		for _, a := range sortedAttrs(b.Body) {
			p.errorf(a.NameRange, "Unsupported argument",
				"An argument named %q is not expected here: an if block holds filter, output and if blocks.", a.Name)
		}
		n := &nodes{}
		p.blocks(b.Body.Blocks, ctxIf, func() *nodes { return n }, func(*hclsyntax.Block) {})
		hasF = hasF || len(n.filters) > 0
		hasO = hasO || len(n.outputs) > 0
		if isElse {
			fi.Else, oi.Else = n.filters, n.outputs
			continue
		}
		fi.Branches = append(fi.Branches, ir.Branch{Cond: cond, Body: n.filters, Range: b.DefRange()})
		oi.Branches = append(oi.Branches, ir.Branch{Cond: cond, Body: n.outputs, Range: b.DefRange()})
	}
	if len(fi.Branches) == 0 {
		return nil, nil // only possible after a diagnostic
	}
	if hasF || !hasO {
		filterIf = fi
	}
	if hasO {
		outputIf = oi
	}
	return filterIf, outputIf
}

// isElseIf reports whether an else block is an else if (maybe missing its
// condition), which may be followed by more else blocks.
func isElseIf(b *hclsyntax.Block) bool {
	return len(b.Labels) > 0 && b.Labels[0] == "if"
}

// cond parses a condition label. rng is the label's range, quotes included.
// The label value is the decoded string (escapes resolved); positions in the
// result are made to point into the original file even when escapes make
// the decoded string shorter than its source.
func (p *hclParser) cond(label string, rng hcl.Range) ir.Expr {
	if rng.Start.Byte < 0 || rng.End.Byte > len(p.src) || rng.Start.Byte > rng.End.Byte {
		expr, diags := logstash.ParseCondition(label, rng.Start, p.filename)
		p.diags = append(p.diags, diags...)
		return expr
	}
	raw := p.src[rng.Start.Byte:rng.End.Byte]
	start := rng.Start
	if len(raw) >= 2 && raw[0] == '"' && raw[len(raw)-1] == '"' {
		raw = raw[1 : len(raw)-1]
		start = p.lines.pos(rng.Start.Byte + 1)
	}
	expr, diags := logstash.ParseCondition(label, start, p.filename)
	if offs := decodeLabel(raw); len(offs) == len(label)+1 && !identity(offs) {
		fn := func(pos hcl.Pos) hcl.Pos {
			if pos == (hcl.Pos{}) {
				return pos
			}
			d := max(0, min(pos.Byte-start.Byte, len(label)))
			return p.lines.pos(start.Byte + offs[d])
		}
		remapDiags(diags, fn)
		remapPositions(&expr, fn)
	}
	p.diags = append(p.diags, diags...)
	return expr
}

// decodeLabel decodes the source text of a quoted label the way HCL does
// (after pre-processing: invalid escapes, `%{` and `${` are literal) and
// returns, for each byte of the decoded value and one past its end, the
// offset of its source in raw.
func decodeLabel(raw []byte) []int {
	var offs []int
	for i := 0; i < len(raw); {
		c := raw[i]
		switch {
		case c == '\\' && i+1 < len(raw):
			n := 2
			size := 1
			switch raw[i+1] {
			case 'u', 'U':
				digits := 4
				if raw[i+1] == 'U' {
					digits = 8
				}
				if !hexDigits(raw[i+2:], digits) {
					size, n = 2, 2 // invalid: kept literally
					break
				}
				r, _ := strconv.ParseUint(string(raw[i+2:i+2+digits]), 16, 32)
				size, n = len(string(rune(r))), 2+digits
			case 'n', 'r', 't', '"', '\\':
			default:
				size = 2 // invalid escape: kept literally
			}
			for k := 0; k < size; k++ {
				offs = append(offs, i+min(k, n-1))
			}
			i += n
		case (c == '%' || c == '$') && i+2 < len(raw) && raw[i+1] == c && raw[i+2] == '{':
			offs = append(offs, i, i+2) // %%{ → %{
			i += 3
		default:
			offs = append(offs, i)
			i++
		}
	}
	return append(offs, len(raw))
}

func identity(offs []int) bool {
	for i, o := range offs {
		if o != i {
			return false
		}
	}
	return true
}

// sortedAttrs returns a body's attributes in source order.
func sortedAttrs(body *hclsyntax.Body) []*hclsyntax.Attribute {
	attrs := make([]*hclsyntax.Attribute, 0, len(body.Attributes))
	for _, a := range body.Attributes {
		attrs = append(attrs, a)
	}
	sort.Slice(attrs, func(i, j int) bool { return attrs[i].SrcRange.Start.Byte < attrs[j].SrcRange.Start.Byte })
	return attrs
}
