package dsl

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"

	"github.com/pipelined/pipeline/dsl/ir"
)

// ConvertConf loads a Logstash configuration, a .conf file or a directory
// whose .conf files load together (as with run -f), and prints it as HCL
// that loads to the same IR. ${VAR} references are kept as written, never
// resolved, so no secret reaches the output. When the configuration is
// refused (a syntax error, or something HCL cannot express) out is nil and
// diags say why; cfg holds the files read, for diagnostic snippets.
//
// Full-line comments and comments after a setting are kept (see
// FormatHCL); plugin options are not checked against the plugins, so
// configurations using plugins this build lacks convert too.
func ConvertConf(path string) (out []byte, cfg *ir.Config, diags hcl.Diagnostics) {
	cfg = &ir.Config{Files: map[string]*hcl.File{}}
	refuse := func(summary, detail string) ([]byte, *ir.Config, hcl.Diagnostics) {
		return nil, cfg, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: summary, Detail: detail}}
	}
	info, err := os.Stat(path)
	if err != nil {
		return refuse("Cannot read configuration", err.Error())
	}
	names := []string{path}
	if info.IsDir() {
		entries, err := os.ReadDir(path)
		if err != nil {
			return refuse("Cannot read configuration", err.Error())
		}
		names = nil
		for _, e := range entries {
			if e.IsDir() || strings.HasPrefix(e.Name(), ".") {
				continue
			}
			switch filepath.Ext(e.Name()) {
			case ".conf":
				names = append(names, filepath.Join(path, e.Name()))
			case ".hcl":
				return refuse("Cannot convert HCL", fmt.Sprintf("%s is already HCL; convert reads directories of .conf files only.", filepath.Join(path, e.Name())))
			}
		}
		if len(names) == 0 {
			return refuse("No configuration files", fmt.Sprintf("The directory %s holds no .conf files.", path))
		}
	} else if filepath.Ext(path) != ".conf" {
		return refuse("Not a .conf file", fmt.Sprintf("%s: convert reads Logstash .conf files (or a directory of them).", path))
	}
	srcs, diags := readSources(names)
	if diags.HasErrors() {
		return nil, cfg, diags
	}
	cfg, diags = Loader{keepEnv: true}.load(srcs)
	if diags.HasErrors() {
		return nil, cfg, diags
	}
	out, d := FormatHCL(cfg)
	diags = append(diags, d...)
	if diags.HasErrors() {
		return nil, cfg, diags
	}
	return out, cfg, diags
}

// FormatHCL prints a configuration in the HCL pipeline language, such that
// loading the result gives the same IR, source ranges aside:
//
//   - plugins print as kind "type" "id" { … }, always with the id (ids
//     generated for .conf plugins become explicit);
//   - a pipeline "main" without settings prints as top-level blocks, any
//     other as a pipeline block;
//   - settings keep their source order; hashes print as maps, with every
//     key quoted; codecs and other plugins used as values print as nested
//     blocks;
//   - strings are HCL strings that the loader reads back unchanged: `%{…}`
//     (sprintf and grok) and regexp backslashes (`\d`) are written as is,
//     Logstash's ${VAR} references in string values are kept for the
//     loader to resolve (in hash keys, which Logstash does not resolve, they
//     are escaped as $${VAR});
//   - barewords, which the IR holds as strings, print as strings;
//   - conditions print in the if label with ir.FormatCondition.
//
// Comments of .conf files (cfg.Files holds their source) are carried over
// where practical: full-line comments print before the plugin, setting or
// conditional they precede, or before the closing brace they precede;
// comments after a plugin header or a setting stay on its line. Comments
// inside a condition are dropped; comments inside an array or hash value
// print before the setting; comments in sections without plugins print
// where the next plugin or conditional is.
//
// One IR difference remains: an if of the output section holding no plugin
// in any branch loads from HCL as a filter conditional (a no-op either way).
//
// It fails (with diagnostics) for setting names that are not HCL
// identifiers, for ${VAR} in the name of a codec (HCL labels are never
// resolved) and for strings that are not UTF-8.
func FormatHCL(cfg *ir.Config) ([]byte, hcl.Diagnostics) {
	p := &hclPrinter{files: map[string]*commentSet{}}
	skip := map[string][][2]int{} // condition source spans per file
	for _, pl := range cfg.Pipelines {
		walkIfs(pl.Filters, skip)
		walkIfs(pl.Outputs, skip)
	}
	for name, f := range cfg.Files {
		if filepath.Ext(name) != ".conf" || f == nil {
			continue
		}
		p.files[name] = scanComments(f.Bytes, skip[name])
		p.order = append(p.order, name)
	}
	sort.Strings(p.order)

	for i, pl := range cfg.Pipelines {
		if i > 0 {
			p.blank()
		}
		p.pipeline(pl, len(cfg.Pipelines) == 1)
	}
	p.flushAll("")
	return []byte(p.b.String()), p.diags
}

// walkIfs records the source spans of the conditions in nodes.
func walkIfs(nodes []ir.Node, spans map[string][][2]int) {
	for _, n := range nodes {
		if n, ok := n.(*ir.If); ok {
			for _, br := range n.Branches {
				spans[br.Range.Filename] = append(spans[br.Range.Filename], [2]int{br.Range.Start.Byte, br.Range.End.Byte})
				walkIfs(br.Body, spans)
			}
			walkIfs(n.Else, spans)
		}
	}
}

// comment is a # comment of a .conf file.
type comment struct {
	line     int
	text     string // from "#" to the end of the line
	trailing bool   // code precedes it on its line
	done     bool
}

// commentSet holds a file's comments in order.
type commentSet struct {
	list []*comment
}

// scanComments finds the # comments of .conf source, outside strings and
// outside the condition spans given (field references such as [a#b] and
// /regexps/ live there; comments inside conditions are dropped).
func scanComments(src []byte, skip [][2]int) *commentSet {
	cs := &commentSet{}
	sort.Slice(skip, func(a, b int) bool { return skip[a][0] < skip[b][0] })
	line := 1
	lineHasCode := false
	for i := 0; i < len(src); i++ {
		for len(skip) > 0 && skip[0][0] <= i {
			for ; i < skip[0][1] && i < len(src); i++ {
				if src[i] == '\n' {
					line++
				}
				lineHasCode = true
			}
			skip = skip[1:]
		}
		if i >= len(src) {
			break
		}
		switch c := src[i]; c {
		case '\n':
			line++
			lineHasCode = false
		case ' ', '\t', '\r':
		case '"', '\'':
			lineHasCode = true
			for i++; i < len(src); i++ {
				if src[i] == '\\' && i+1 < len(src) && src[i+1] == c {
					i++
					continue
				}
				if src[i] == '\n' {
					line++
				}
				if src[i] == c {
					break
				}
			}
		case '#':
			end := i
			for end < len(src) && src[end] != '\n' {
				end++
			}
			text := strings.TrimRight(string(src[i:end]), " \t\r")
			cs.list = append(cs.list, &comment{line: line, text: text, trailing: lineHasCode})
			i = end - 1
		default:
			lineHasCode = true
		}
	}
	return cs
}

// hclPrinter writes HCL. Attributes are buffered in runs, so that their
// "=" can be aligned.
type hclPrinter struct {
	b     strings.Builder
	files map[string]*commentSet
	order []string // the .conf files, in load order
	cur   string   // the file of the last item printed
	diags hcl.Diagnostics
	run   []attrLine // attributes waiting to be aligned
	runIn string     // their indentation
}

type attrLine struct {
	name, value, trailing string
}

func (p *hclPrinter) errorf(r hcl.Range, summary, format string, args ...any) {
	p.diags = append(p.diags, &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  summary,
		Detail:   fmt.Sprintf(format, args...),
		Subject:  r.Ptr(),
	})
}

// line writes one line at indent, after any buffered attributes.
func (p *hclPrinter) line(indent, s string) {
	p.endRun()
	p.b.WriteString(indent)
	p.b.WriteString(s)
	p.b.WriteByte('\n')
}

// blank writes an empty line unless the output is empty or ends with one.
func (p *hclPrinter) blank() {
	p.endRun()
	s := p.b.String()
	if s != "" && !strings.HasSuffix(s, "\n\n") {
		p.b.WriteByte('\n')
	}
}

// attr buffers an attribute line.
func (p *hclPrinter) attr(indent string, a attrLine) {
	if len(p.run) > 0 && p.runIn != indent {
		p.endRun()
	}
	p.runIn = indent
	p.run = append(p.run, a)
}

// endRun writes the buffered attributes with their "=" aligned.
func (p *hclPrinter) endRun() {
	if len(p.run) == 0 {
		return
	}
	names, values := make([]string, len(p.run)), make([]string, len(p.run))
	for i, a := range p.run {
		names[i], values[i] = a.name, a.value
	}
	lines := alignLines(names, values)
	// Comments after consecutive one-line settings line up too.
	for i := 0; i < len(lines); {
		j, width := i, 0
		for ; j < len(lines) && !strings.Contains(lines[j], "\n"); j++ {
			width = max(width, textWidth(lines[j]))
		}
		if j == i {
			j++
		}
		for ; i < j; i++ {
			p.b.WriteString(p.runIn)
			p.b.WriteString(indentLines(lines[i], p.runIn))
			if t := p.run[i].trailing; t != "" {
				if !strings.Contains(lines[i], "\n") {
					p.b.WriteString(strings.Repeat(" ", width-textWidth(lines[i])))
				}
				p.b.WriteString(" " + t)
			}
			p.b.WriteByte('\n')
		}
	}
	p.run = nil
}

// alignLines returns `name = value` lines with the "=" of consecutive
// single-line values aligned, as hclwrite.Format does; a multi-line value
// is not aligned and ends a group.
func alignLines(names, values []string) []string {
	out := make([]string, len(names))
	for i := 0; i < len(names); {
		if strings.Contains(values[i], "\n") {
			out[i] = names[i] + " = " + values[i]
			i++
			continue
		}
		j, width := i, 0
		for ; j < len(names) && !strings.Contains(values[j], "\n"); j++ {
			width = max(width, textWidth(names[j]))
		}
		for ; i < j; i++ {
			out[i] = names[i] + strings.Repeat(" ", width-textWidth(names[i])) + " = " + values[i]
		}
	}
	return out
}

// textWidth is the width of s in columns, counting a character as one.
func textWidth(s string) int { return utf8.RuneCountInString(s) }

// indentLines indents every line of s but the first.
func indentLines(s, indent string) string {
	return strings.ReplaceAll(s, "\n", "\n"+indent)
}

// switchFile makes file the current one: the comments of the files before
// it that are left print first.
func (p *hclPrinter) switchFile(file, indent string) {
	if file == p.cur {
		return
	}
	for _, name := range p.order {
		if name == file {
			break
		}
		if name >= p.cur {
			p.flush(name, -1, indent)
		}
	}
	p.cur = file
}

// flush prints, at indent, the comments of file before line limit (all of
// them when limit < 0) that are not printed yet.
func (p *hclPrinter) flush(file string, limit int, indent string) {
	cs := p.files[file]
	if cs == nil {
		return
	}
	prev := 0
	for _, c := range cs.list {
		if limit >= 0 && c.line >= limit {
			break
		}
		if !c.done {
			if prev > 0 && c.line > prev+1 {
				p.blank() // comments apart in the source stay apart
			}
			c.done = true
			p.line(indent, c.text)
			prev = c.line
		}
	}
}

// flushAll prints every comment not printed yet.
func (p *hclPrinter) flushAll(indent string) {
	p.endRun()
	first, prev := true, 0
	for _, name := range p.order {
		prev = 0
		for _, c := range p.files[name].list {
			if c.done {
				continue
			}
			if first || c.line > prev+1 {
				p.blank()
				first = false
			}
			prev = c.line
			c.done = true
			p.line(indent, c.text)
		}
	}
}

// pending reports whether file has comments not printed yet before line
// limit.
func (p *hclPrinter) pending(file string, limit int) bool {
	if cs := p.files[file]; cs != nil {
		for _, c := range cs.list {
			if c.line >= limit {
				break
			}
			if !c.done {
				return true
			}
		}
	}
	return false
}

// trailing takes the comment after code on line of file, if not printed
// yet, and returns it (with its leading "#"), or "".
func (p *hclPrinter) trailing(file string, line int) string {
	if cs := p.files[file]; cs != nil {
		for _, c := range cs.list {
			if c.line == line && c.trailing && !c.done {
				c.done = true
				return c.text
			}
			if c.line > line {
				break
			}
		}
	}
	return ""
}

// settings prints a pipeline's settings: its own arguments, then a queue and
// a dead_letter_queue block when any of theirs is set.
func (p *hclPrinter) settings(indent string, s ir.Settings) {
	set := ir.SettingsHCL(s)
	for _, block := range []string{"", "dead_letter_queue", "queue"} {
		in := indent
		for _, st := range set {
			if st.Block != block {
				continue
			}
			if in == indent && block != "" {
				p.line(indent, block+" {")
				in = indent + "  "
			}
			value := fmt.Sprint(st.Value)
			if str, ok := st.Value.(string); ok {
				value = labelString(str)
			}
			p.attr(in, attrLine{name: st.Name, value: value})
		}
		if in != indent {
			p.line(indent, "}")
		}
	}
}

// pipeline prints a pipeline; alone says whether it is the only one.
func (p *hclPrinter) pipeline(pl *ir.Pipeline, alone bool) {
	s := pl.Settings
	empty := len(pl.Inputs) == 0 && len(pl.Filters) == 0 && len(pl.Outputs) == 0
	// An empty pipeline "main" (a .conf file with empty sections) needs its
	// block: an HCL file without blocks declares no pipeline.
	implicit := alone && pl.Name == "main" && s == (ir.Settings{}) && !empty
	indent := ""
	if !implicit {
		p.line("", fmt.Sprintf("pipeline %s {", labelString(pl.Name)))
		indent = "  "
		p.settings(indent, s)
	}
	// Inputs, filters and outputs in source order: the loader sorts them
	// out by kind again.
	var nodes []ir.Node
	for _, in := range pl.Inputs {
		nodes = append(nodes, in)
	}
	nodes = append(nodes, pl.Filters...)
	nodes = append(nodes, pl.Outputs...)
	fileIndex := map[string]int{}
	for i, name := range p.order {
		fileIndex[name] = i
	}
	sort.SliceStable(nodes, func(i, j int) bool {
		a, b := nodeRange(nodes[i]), nodeRange(nodes[j])
		if a.Filename != b.Filename {
			return fileIndex[a.Filename] < fileIndex[b.Filename]
		}
		return a.Start.Byte < b.Start.Byte
	})
	for i, n := range nodes {
		if i > 0 || !implicit {
			p.blank()
		}
		p.node(n, indent)
	}
	if !implicit {
		p.line("", "}")
	}
}

func nodeRange(n ir.Node) hcl.Range {
	switch n := n.(type) {
	case *ir.Plugin:
		return n.Range
	case *ir.If:
		return n.Range
	}
	return hcl.Range{}
}

func (p *hclPrinter) nodes(nodes []ir.Node, indent string) {
	for _, n := range nodes {
		p.node(n, indent)
	}
}

func (p *hclPrinter) node(n ir.Node, indent string) {
	switch n := n.(type) {
	case *ir.Plugin:
		p.plugin(n, indent)
	case *ir.If:
		p.ifNode(n, indent)
	}
}

func (p *hclPrinter) plugin(pl *ir.Plugin, indent string) {
	file := pl.Range.Filename
	p.switchFile(file, indent)
	p.flush(file, pl.Range.Start.Line, indent)
	header := fmt.Sprintf("%s %s %s", pl.Kind, labelString(pl.Type), labelString(pl.ID))
	body, ok := pl.Body.(*hclsyntax.Body)
	if !ok {
		p.errorf(pl.Range, "Cannot convert plugin", "The options of this %s are not in a form that can be printed.", pl.Kind)
		return
	}
	p.block(header, body, file, indent)
}

// block prints `header { body }`.
func (p *hclPrinter) block(header string, body *hclsyntax.Body, file, indent string) {
	open, closing := body.SrcRange.Start.Line, body.SrcRange.End.Line
	items := bodyItems(body)
	var afterOpen, afterClose string
	switch {
	case open == closing:
		afterClose = p.trailing(file, open)
	case len(items) == 0 || items[0].line() != open:
		afterOpen = p.trailing(file, open)
	}
	if len(items) == 0 && !p.pending(file, closing) {
		p.line(indent, join(header+" {}", afterClose, afterOpen))
		return
	}
	p.line(indent, join(header+" {", afterOpen))
	in := indent + "  "
	for _, it := range items {
		if it.attr != nil {
			p.attribute(it.attr, file, in)
			continue
		}
		b := it.block
		if !hclsyntax.ValidIdentifier(b.Type) {
			p.badName(b.Type, b.TypeRange)
		}
		p.flush(file, b.TypeRange.Start.Line, in)
		h := b.Type
		for i, l := range b.Labels {
			if envRef.MatchString(l) {
				// .conf resolves ${VAR} in `codec => "${VAR}"`; HCL never
				// resolves labels.
				p.errorf(b.LabelRanges[i], "Environment variable in a plugin name",
					"HCL block labels are never resolved, so a %s named by an environment variable cannot be converted. Write the name itself.", b.Type)
			}
			h += " " + labelString(l)
		}
		p.block(h, b.Body, file, in)
	}
	p.flush(file, closing, in)
	p.line(indent, join("}", afterClose))
}

func join(s string, comments ...string) string {
	for _, c := range comments {
		if c != "" {
			s += " " + c
		}
	}
	return s
}

// bodyItem is an attribute or a block of a body.
type bodyItem struct {
	attr  *hclsyntax.Attribute
	block *hclsyntax.Block
}

func (it bodyItem) start() hcl.Pos {
	if it.attr != nil {
		return it.attr.SrcRange.Start
	}
	return it.block.TypeRange.Start
}

func (it bodyItem) line() int { return it.start().Line }

// bodyItems returns a body's attributes and blocks in source order.
func bodyItems(body *hclsyntax.Body) []bodyItem {
	var items []bodyItem
	for _, a := range sortedAttrs(body) {
		items = append(items, bodyItem{attr: a})
	}
	for _, b := range body.Blocks {
		items = append(items, bodyItem{block: b})
	}
	sort.SliceStable(items, func(i, j int) bool { return items[i].start().Byte < items[j].start().Byte })
	return items
}

func (p *hclPrinter) badName(name string, r hcl.Range) {
	p.errorf(r, "Setting name not valid in HCL",
		"HCL option names are identifiers (letters, digits, \"_\" and \"-\", starting with a letter or \"_\"); %q cannot be written as one. No plugin has such an option: rename or remove it.", name)
}

func (p *hclPrinter) attribute(a *hclsyntax.Attribute, file, indent string) {
	if !hclsyntax.ValidIdentifier(a.Name) {
		p.badName(a.Name, a.NameRange)
	}
	end := a.SrcRange.End.Line
	tr := p.trailing(file, end)
	// Comments before the setting, and inside its value, print before it.
	if p.pending(file, end+1) {
		p.endRun()
		p.flush(file, end+1, indent)
	}
	p.attr(indent, attrLine{name: a.Name, value: p.value(a.Expr), trailing: tr})
}

// maxLine is the width up to which arrays print on one line.
const maxLine = 80

// value prints an option value.
func (p *hclPrinter) value(e hclsyntax.Expression) string {
	switch e := e.(type) {
	case *hclsyntax.LiteralValueExpr:
		return p.literal(e.Val, e.SrcRange, true)
	case *hclsyntax.TupleConsExpr:
		items := make([]string, len(e.Exprs))
		multi := false
		for i, x := range e.Exprs {
			items[i] = p.value(x)
			multi = multi || strings.Contains(items[i], "\n")
		}
		if one := "[" + strings.Join(items, ", ") + "]"; !multi && len(one) <= maxLine {
			return one
		}
		var b strings.Builder
		b.WriteString("[\n")
		for _, it := range items {
			b.WriteString("  " + indentLines(it, "  ") + ",\n")
		}
		b.WriteString("]")
		return b.String()
	case *hclsyntax.ObjectConsExpr:
		if len(e.Items) == 0 {
			return "{}"
		}
		keys, values := make([]string, len(e.Items)), make([]string, len(e.Items))
		for i, it := range e.Items {
			keys[i], values[i] = p.key(it.KeyExpr), p.value(it.ValueExpr)
		}
		var b strings.Builder
		b.WriteString("{\n")
		for _, l := range alignLines(keys, values) {
			b.WriteString("  " + indentLines(l, "  ") + "\n")
		}
		b.WriteString("}")
		return b.String()
	}
	// Not made by the .conf front-end: print the value.
	v, diags := e.Value(nil)
	if diags.HasErrors() || !v.IsWhollyKnown() {
		p.errorf(e.Range(), "Cannot convert value", "This value is not a constant and cannot be printed.")
		return `""`
	}
	return string(hclwrite.TokensForValue(v).Bytes())
}

// key prints a map key, always as a quoted string.
func (p *hclPrinter) key(e hclsyntax.Expression) string {
	if k, ok := e.(*hclsyntax.ObjectConsKeyExpr); ok {
		e = k.Wrapped
	}
	v, diags := e.Value(nil)
	if !diags.HasErrors() && v.IsKnown() && !v.IsNull() && (v.Type() == cty.String || v.Type() == cty.Number) {
		if v.Type() == cty.Number {
			return `"` + v.AsBigFloat().Text('f', -1) + `"`
		}
		return p.literal(v, e.Range(), false)
	}
	p.errorf(e.Range(), "Cannot convert value", "This hash key is not a string or a number.")
	return `""`
}

// literal prints a string, number, bool or null. env says whether ${VAR}
// references in a string are kept for the loader to resolve.
func (p *hclPrinter) literal(v cty.Value, r hcl.Range, env bool) string {
	switch {
	case v.IsNull():
		return "null"
	case v.Type() == cty.String:
		s := v.AsString()
		if !utf8.ValidString(s) {
			p.errorf(r, "Invalid UTF-8", "This string is not valid UTF-8, which HCL files must be.")
		}
		return valueString(s, env)
	}
	return string(hclwrite.TokensForValue(v).Bytes())
}

// ifNode prints an if / else if / else chain.
func (p *hclPrinter) ifNode(n *ir.If, indent string) {
	in := indent + "  "
	for i, br := range n.Branches {
		file := br.Range.Filename
		if i == 0 {
			p.switchFile(file, indent)
			p.flush(file, br.Range.Start.Line, indent)
		} else {
			p.flush(file, br.Range.Start.Line, in)
		}
		kw := "if"
		if i > 0 {
			kw = "} else if"
		}
		cond := "<invalid>"
		if br.Cond != nil {
			cond = ir.FormatCondition(br.Cond)
			if !utf8.ValidString(cond) {
				p.errorf(br.Range, "Invalid UTF-8", "A string in this condition is not valid UTF-8, which HCL files must be.")
			}
		}
		p.line(indent, join(fmt.Sprintf("%s %s {", kw, labelString(cond)), p.trailing(file, br.Range.End.Line)))
		p.nodes(br.Body, in)
	}
	file := n.Range.Filename
	if n.Else != nil {
		p.line(indent, "} else {")
		p.nodes(n.Else, in)
	}
	p.flush(file, n.Range.End.Line, in)
	p.line(indent, "}")
}

// envRef is Logstash's ${VAR} / ${VAR:default} placeholder, as the .conf
// front-end resolves it in string values.
var envRef = regexp.MustCompile(`\$\{([a-zA-Z_.][a-zA-Z0-9_.]*)(?::([^}]*))?\}`)

// valueString writes s as an HCL string that the loader reads back as s.
// With env, ${VAR} references are written as such, for the loader to
// resolve as the .conf front-end does; without, they are escaped.
func valueString(s string, env bool) string {
	var b strings.Builder
	b.WriteByte('"')
	last := 0
	if env {
		for _, m := range envRef.FindAllStringSubmatchIndex(s, -1) {
			lit := escapeLit(s[last:m[0]], false)
			if strings.HasSuffix(lit, "$") {
				// "$${" would be an escape: write that "$" as \u0024.
				lit = lit[:len(lit)-1] + `\u0024`
			}
			b.WriteString(lit)
			b.WriteString("${" + s[m[2]:m[3]])
			if m[4] >= 0 {
				// The loader reads a default in the string's own syntax.
				b.WriteString(":" + string(escapeQuoted(s[m[4]:m[5]])))
			}
			b.WriteString("}")
			last = m[1]
		}
	}
	b.WriteString(escapeLit(s[last:], false))
	b.WriteByte('"')
	return b.String()
}

// labelString writes s as an HCL block label. The loader never resolves
// ${VAR} or %{…} in labels.
func labelString(s string) string {
	return `"` + escapeLit(s, true) + `"`
}

// escapeQuoted escapes s for an HCL quoted string, as hclwrite does: \\,
// \", \n, \r, \t, \uXXXX, and %%{ and $${ for a literal %{ and ${.
func escapeQuoted(s string) []byte {
	toks := hclwrite.TokensForValue(cty.StringVal(s))
	for _, t := range toks {
		if t.Type == hclsyntax.TokenQuotedLit {
			return t.Bytes
		}
	}
	return nil
}

// hclEscapes are the characters that may follow a backslash in an HCL
// escape sequence; a backslash before any other is kept by the loader.
// "$" and "%" are listed too, to leave template sequences alone.
const hclEscapes = "nrt\"\\uU$%"

// escapeLit escapes s for an HCL quoted string (escapeQuoted), then undoes
// the escapes the loader makes unnecessary, for readability: a lone
// backslash before a character that starts no HCL escape is written alone
// ("\d", "\["), and %%{ is written %{ when a simple sequence such as %{[a][b]},
// %{+YYYY.MM.dd} or %{NUMBER:n} follows, since the loader keeps %{ literal
// unless an HCL template keyword follows. In labels, where the loader keeps
// ${ literal too, $${ is written ${ in the same cases.
func escapeLit(s string, label bool) string {
	esc := escapeQuoted(s)
	var b strings.Builder
	b.Grow(len(esc))
	for i := 0; i < len(esc); {
		c := esc[i]
		switch {
		case c == '\\' && i+1 < len(esc):
			// A lone backslash ("\\" not next to another one, so that
			// runs of backslashes stay easy to count) before a character
			// that starts no escape is written alone.
			lone := esc[i+1] == '\\' && (i == 0 || esc[i-1] != '\\') && i+2 < len(esc) &&
				!strings.ContainsRune(hclEscapes, rune(esc[i+2]))
			if lone {
				b.WriteByte('\\')
			} else {
				b.Write(esc[i : i+2])
			}
			i += 2
		case (c == '%' || c == '$' && label) && i+2 < len(esc) && esc[i+1] == c && esc[i+2] == '{' &&
			(i == 0 || esc[i-1] != c) && simpleSequence(esc[i+3:]):
			b.WriteByte(c)
			b.WriteByte('{')
			i += 3
		default:
			b.WriteByte(c)
			i++
		}
	}
	return b.String()
}

// templateKeyword matches the start of an HCL template directive.
var templateKeyword = regexp.MustCompile(`^\s*(~|(if|else|endif|for|endfor)\b)`)

// simpleSequence reports whether rest, the text after a `%{`, holds a
// sequence the loader keeps literal without confusing the HCL lexer:
// closed by "}", with no quote, backslash, brace, "$" or "%" before it, and
// not an HCL template directive.
func simpleSequence(rest []byte) bool {
	end := -1
	for i, c := range rest {
		if c == '}' {
			end = i
			break
		}
		if strings.IndexByte("\"\\{$%\n", c) >= 0 {
			return false
		}
	}
	if end <= 0 {
		return false
	}
	seq := rest[:end]
	return !templateKeyword.Match(seq)
}
