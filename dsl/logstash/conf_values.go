package logstash

import (
	"fmt"
	"math"
	"math/big"
	"regexp"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/pipelined/pipeline/dsl/ir"
)

// vkind is the kind of a setting value.
type vkind int

const (
	vString vkind = iota + 1 // "…" or '…'
	vBare                    // bareword: a string
	vNumber
	vArray
	vHash
	vPlugin // name { … } as a value
)

// cvalue is a parsed setting value.
type cvalue struct {
	kind    vkind
	str     string // vString, vBare: the value; vNumber: the source text
	raw     string // vString: the source between the quotes
	num     cty.Value
	isFloat bool
	items   []*cvalue // vArray
	entries []*centry // vHash, in source order
	plugin  *cplugin  // vPlugin
	rng     hcl.Range
	open    hcl.Range // the "[" or "{" of an array or hash
}

type centry struct {
	key, val *cvalue
}

// cplugin is a parsed plugin: name { attrs }.
type cplugin struct {
	name        string
	nameRng     hcl.Range // quotes included
	open, close hcl.Range // the braces
	attrs       []*cattr  // in source order, repeats included
}

// cattr is one `name => value` setting.
type cattr struct {
	name    string
	nameRng hcl.Range
	arrow   hcl.Range
	val     *cvalue
}

// name parses a name at p.pos: [A-Za-z0-9_-]+ or a quoted string, whose
// text between the quotes is the name, without escape processing (as
// lscl.rb's Attribute does for setting names). For plugin names lscl.rb's
// Plugin#plugin_name keeps the quotes, so that Logstash then fails to find
// the plugin; here a quoted plugin name means the name inside the quotes.
// It returns the name and its end.
func (p *confParser) name() (string, int) {
	start := p.pos
	if c := p.src[start]; c == '"' || c == '\'' {
		end := p.quotedEnd(start)
		if end < 0 {
			p.unterminated(start, "string")
		}
		p.pos = end
		return string(p.src[start+1 : end-1]), end
	}
	end := p.nameEnd(start)
	p.pos = end
	return string(p.src[start:end]), end
}

// pluginNode parses a plugin in a section or conditional.
func (p *confParser) pluginNode(kind ir.Kind) *ir.Plugin {
	cp := p.plugin(kind)
	if cp.name == "" {
		return nil
	}
	body, id, idRng := p.body(cp, kind)
	pl := &ir.Plugin{Kind: kind, Type: cp.name, ID: id, Body: body, Range: cp.nameRng, TypeRange: cp.nameRng}
	if id != "" {
		p.out.IDRanges[pl] = idRng
	}
	return pl
}

// plugin parses `name cs "{" cs (attribute (whitespace cs attribute)*)? cs "}"`
// at p.pos.
func (p *confParser) plugin(kind ir.Kind) *cplugin {
	start := p.pos
	name, nameEnd := p.name()
	cp := &cplugin{name: name, nameRng: p.rng(start, nameEnd)}
	if name == "" {
		p.errorf(start, nameEnd, "Missing plugin name", "A plugin needs a non-empty name, as in stdin { … }.")
	}
	p.skipCS()
	if p.eof() || p.src[p.pos] != '{' {
		hint := fmt.Sprintf(" A plugin is written %s { setting => value … }.", quoteName(name))
		if p.peek(0) == '=' && p.peek(1) == '>' {
			hint = fmt.Sprintf(" Settings belong inside a plugin block, as in plugin { %s => … }; a \"}\" may close the plugin too early.", quoteName(name))
		}
		p.fail(p.pos, p.tokenEnd(p.pos), `Expected "{"`,
			`Expected "{" after the plugin name %q, found %s.%s`, name, p.describe(p.pos), hint)
	}
	open := p.pos
	p.pos++
	p.enter(open)
	defer p.leave()
	cp.open = p.rng(open, open+1)
	what := fmt.Sprintf("%s plugin %q", kind, name)
	p.skipCS()
	for {
		if p.eof() {
			p.unclosed(open, what)
		}
		c := p.src[p.pos]
		if c == '}' {
			break
		}
		if !isNameStart(c) {
			hint := ""
			switch c {
			case ',', ';':
				hint = fmt.Sprintf(" Settings are separated by whitespace, not %q.", string(c))
			case '@', '[':
				hint = ` Setting names are made of letters, digits, "_" and "-"; quote other names.`
			}
			p.fail(p.pos, p.tokenEnd(p.pos), "Expected a setting",
				`Expected a setting name or "}" in the %s, found %s.%s`, what, p.describe(p.pos), hint)
		}
		a := p.attribute()
		cp.attrs = append(cp.attrs, a)
		if p.eof() {
			p.unclosed(open, what)
		}
		c = p.src[p.pos]
		if c == '}' {
			break
		}
		if !isSpace(c) {
			p.separatorError(a)
		}
		p.skipCS()
	}
	cp.close = p.rng(p.pos, p.pos+1)
	p.pos++
	return cp
}

// quoteHint explains, after a syntax error that follows the string v,
// that a backslash before a quote does not end a string, if v holds one.
func (p *confParser) quoteHint(v *cvalue) string {
	if v.kind != vString {
		return ""
	}
	q := p.src[v.rng.Start.Byte]
	if !strings.Contains(v.raw, `\`+string(q)) {
		return ""
	}
	return fmt.Sprintf(` The string before it, at line %d, column %d, runs on past a \%c: a backslash before a quote does not end a string, so a string cannot end with a backslash.`,
		v.rng.Start.Line, v.rng.Start.Column, q)
}

// quoteName returns name as written in messages: quoted unless it is a
// plain name.
func quoteName(name string) string {
	for i := 0; i < len(name); i++ {
		if !isNameChar(name[i]) {
			return strconv.Quote(name)
		}
	}
	if name == "" {
		return `""`
	}
	return name
}

// separatorError reports what follows a setting's value when it is neither
// whitespace nor "}" (the grammar's `whitespace cs attribute`).
func (p *confParser) separatorError(a *cattr) {
	at := p.pos
	c := p.src[at]
	hint := ""
	switch c {
	case ',':
		hint = ` Logstash settings are separated by whitespace, not commas: remove the ",".`
	case ';':
		hint = ` Logstash settings are separated by whitespace, not semicolons: remove the ";".`
	case '#':
		hint = ` Logstash needs whitespace between a setting and a comment that follows it: add a space before the "#".`
	default:
		if hint = p.quoteHint(a.val); hint == "" && a.val.kind == vString {
			hint = " A string ends at its closing quote; settings after it need whitespace in between."
		}
	}
	p.fail(at, p.tokenEnd(at), fmt.Sprintf("Unexpected %s", p.describe(at)),
		`Expected whitespace or "}" after the value of %q, found %s.%s`, a.name, p.describe(at), hint)
}

// attribute parses `name cs "=>" cs value` at p.pos.
func (p *confParser) attribute() *cattr {
	start := p.pos
	name, nameEnd := p.name()
	a := &cattr{name: name, nameRng: p.rng(start, nameEnd)}
	p.skipCS()
	p.expectArrow(start, nameEnd, "setting name", strconv.Quote(name), quoteName(name))
	arrow := p.pos
	a.arrow = p.rng(arrow, arrow+2)
	p.pos += 2
	p.skipCS()
	a.val = p.value(fmt.Sprintf(`a value for %q after "=>"`, name), arrow)
	return a
}

// expectArrow checks that p.pos holds "=>" after the name or hash key at
// src[start:end]; shown is how messages quote it, and written how it is
// written in the example of the fix.
func (p *confParser) expectArrow(start, end int, role, shown, written string) {
	if p.peek(0) == '=' && p.peek(1) == '>' {
		return
	}
	at := p.pos
	hint := ""
	switch c := p.peek(0); {
	case p.eof():
		p.fail(start, end, `Expected "=>"`,
			`Expected "=>" after the %s %s, found the end of the file.`, role, shown)
	case c == '=' || c == ':':
		what := "settings"
		if role == "hash key" {
			what = "hash entries"
		}
		hint = fmt.Sprintf(` Logstash %s use "=>", as in %s => "value".`, what, written)
	case c == '{' && role == "setting name":
		hint = fmt.Sprintf(` If %s is a plugin, the "}" that closes the plugin before it may be missing.`, shown)
	case c == '}' || c == ',' || isNameStart(c):
		hint = fmt.Sprintf(` Each %s needs a value: %s => value.`, strings.TrimSuffix(role, " name"), written)
	}
	p.fail(at, p.tokenEnd(at), `Expected "=>"`,
		`Expected "=>" after the %s %s, found %s.%s`, role, shown, p.describe(at), hint)
}

// value parses a value at p.pos; what describes it for messages, arrow is
// the offset of the "=>" before it (or of the array's bracket).
func (p *confParser) value(what string, arrow int) *cvalue {
	if p.eof() {
		p.fail(arrow, arrow+1, "Missing value", "Expected %s, found the end of the file.", what)
	}
	start := p.pos
	c := p.src[start]
	switch {
	case c == '[':
		return p.array()
	case c == '{':
		return p.hash()
	case c == '"' || c == '\'':
		end := p.quotedEnd(start)
		if end < 0 {
			p.unterminated(start, "string")
		}
		if p.braceFollows(end) {
			return p.pluginValue()
		}
		p.pos = end
		return p.stringValue(start, end)
	case isNameChar(c):
		if p.braceFollows(p.nameEnd(start)) {
			return p.pluginValue()
		}
		return p.scalar(start, "value")
	}
	p.fail(start, p.tokenEnd(start), "Missing value",
		"Expected %s (a quoted string, a number, a bareword, an array, a hash or a plugin), found %s.", what, p.describe(start))
	return nil
}

// braceFollows reports whether "{" follows off after optional whitespace and
// comments: the name before it then starts a plugin.
func (p *confParser) braceFollows(off int) bool {
	save := p.pos
	p.pos = off
	p.skipCS()
	ok := !p.eof() && p.src[p.pos] == '{'
	p.pos = save
	return ok
}

// pluginValue parses a plugin used as a value, e.g. `codec => json { … }`.
func (p *confParser) pluginValue() *cvalue {
	cp := p.plugin(ir.Codec)
	return &cvalue{kind: vPlugin, plugin: cp, str: cp.name, rng: hcl.RangeBetween(cp.nameRng, cp.close)}
}

// stringValue makes the value of the string at src[start:end], quotes
// included. ${VAR} references are resolved later, in expr: Logstash merges
// repeated settings and takes ids before it substitutes them.
func (p *confParser) stringValue(start, end int) *cvalue {
	raw := string(p.src[start+1 : end-1])
	s := raw
	if p.opts.SupportEscapes {
		s = processEscapes(raw)
	}
	return &cvalue{kind: vString, str: s, raw: raw, rng: p.rng(start, end)}
}

// envPlaceholder is Logstash's SUBSTITUTION_PLACEHOLDER_REGEX
// (logstash-core/lib/logstash/util/substitution_variables.rb).
var envPlaceholder = regexp.MustCompile(`\$\{([a-zA-Z_.][a-zA-Z0-9_.]*)(?::([^}]*))?\}`)

// expandEnv returns the value of a string with ${VAR} and ${VAR:default}
// replaced.
func (p *confParser) expandEnv(v *cvalue) string {
	s, raw, quote := v.str, v.raw, v.rng.Start.Byte
	if v.kind != vString || p.opts.LookupEnv == nil || !strings.Contains(s, "${") {
		return s
	}
	var b strings.Builder
	last := 0
	for _, m := range envPlaceholder.FindAllStringSubmatchIndex(s, -1) {
		b.WriteString(s[last:m[0]])
		last = m[1]
		name := s[m[2]:m[3]]
		if v, ok := p.opts.LookupEnv(name); ok {
			b.WriteString(v)
			continue
		}
		if m[4] >= 0 {
			b.WriteString(s[m[4]:m[5]])
			continue
		}
		// Point at the placeholder: its offset in raw is the same unless
		// escapes were processed.
		from, to := quote, quote+len(raw)+2
		if !p.opts.SupportEscapes {
			from, to = quote+1+m[0], quote+1+m[1]
		} else if i := strings.Index(raw, s[m[0]:m[1]]); i >= 0 {
			from, to = quote+1+i, quote+1+i+m[1]-m[0]
		}
		p.errorf(from, to, "Undefined environment variable",
			"The environment variable %q is not set. Set %s, or write ${%s:default} to give a default value.", name, name, name)
	}
	b.WriteString(s[last:])
	return b.String()
}

// scalar parses a number or a bareword at start (a name character); role is
// "value" or "hash key", for messages.
func (p *confParser) scalar(start int, role string) *cvalue {
	c := p.src[start]
	invalid := func(end int, why string) {
		tok := string(p.src[start:end])
		p.fail(start, end, "Invalid "+role,
			`%q is not a valid %s: %s. Quote it: "%s".`, tok, role, why, tok)
	}
	switch {
	case isDigit(c) || c == '-' && start+1 < len(p.src) && isDigit(p.src[start+1]):
		i := start + 1
		for i < len(p.src) && isDigit(p.src[i]) {
			i++
		}
		if i < len(p.src) && p.src[i] == '.' {
			i++
			for i < len(p.src) && isDigit(p.src[i]) {
				i++
			}
		}
		if i < len(p.src) && isNameChar(p.src[i]) {
			invalid(p.nameEnd(i), `a number is "-"? digits ("." digits)?, and a bareword starts with a letter or "_"`)
		}
		p.pos = i
		return p.number(start, i)
	case isWordStart(c):
		i := start + 1
		for i < len(p.src) && isWordChar(p.src[i]) {
			i++
		}
		if i < len(p.src) && p.src[i] == '-' {
			invalid(p.nameEnd(i), `a bareword is made of letters, digits and "_" only`)
		}
		if i-start < 2 {
			invalid(i, "a bareword has at least two characters")
		}
		p.pos = i
		return &cvalue{kind: vBare, str: string(p.src[start:i]), rng: p.rng(start, i)}
	}
	invalid(p.nameEnd(start), `a number is "-"? digits ("." digits)?, and a bareword starts with a letter or "_"`)
	return nil
}

// number converts the number at src[start:end] as lscl.rb's Number does:
// Float(text) if it holds ".", else Integer(text), which reads a leading 0
// as octal.
func (p *confParser) number(start, end int) *cvalue {
	text := string(p.src[start:end])
	v := &cvalue{kind: vNumber, str: text, rng: p.rng(start, end)}
	if strings.Contains(text, ".") {
		v.isFloat = true
		if strings.HasSuffix(text, ".") {
			p.errorf(start, end, "Invalid number",
				"%q is not a valid number (Logstash rejects it too); write digits after the decimal point, as in %s0, or drop the point.", text, text)
			text += "0"
		}
		f, err := strconv.ParseFloat(text, 64)
		if err != nil || math.IsInf(f, 0) {
			p.errorf(start, end, "Invalid number", "%q is too large for a floating-point number.", text)
			f = 0
		}
		v.num = cty.NumberFloatVal(f)
		return v
	}
	digits := strings.TrimPrefix(text, "-")
	base := 10
	if len(digits) > 1 && digits[0] == '0' {
		base = 8
	}
	n, ok := new(big.Int).SetString(text, base)
	if !ok {
		p.errorf(start, end, "Invalid number",
			"%q is not a valid number: Logstash reads integers with a leading zero as octal, and 8 and 9 are not octal digits. Remove the leading zero.", text)
		n = new(big.Int)
	}
	if n.IsInt64() {
		v.num = cty.NumberIntVal(n.Int64())
	} else {
		v.num = cty.NumberVal(new(big.Float).SetInt(n))
	}
	return v
}

// array parses `"[" cs (value (cs "," cs value)*)? cs "]"` at p.pos.
func (p *confParser) array() *cvalue {
	open := p.pos
	p.enter(open)
	defer p.leave()
	p.pos++
	v := &cvalue{kind: vArray, open: p.rng(open, open+1)}
	p.skipCS()
	if p.peek(0) == ']' {
		p.pos++
		v.rng = p.rng(open, p.pos)
		return v
	}
	for {
		if p.eof() {
			p.unclosed(open, "array")
		}
		item := p.value("an array item", open)
		if item.kind == vPlugin {
			p.errorf(item.plugin.nameRng.Start.Byte, item.plugin.nameRng.End.Byte, "Unexpected plugin",
				"A plugin (name { … }) can only be the value of a setting, as in codec => %s { … }, not an array item.", quoteName(item.plugin.name))
		}
		v.items = append(v.items, item)
		p.skipCS()
		if p.eof() {
			p.unclosed(open, "array")
		}
		switch p.src[p.pos] {
		case ']':
			p.pos++
			v.rng = p.rng(open, p.pos)
			return v
		case ',':
			comma := p.pos
			p.pos++
			p.skipCS()
			if p.peek(0) == ']' {
				p.fail(comma, comma+1, `Unexpected ","`,
					`Expected another array item after ",", found "]". Logstash does not accept a trailing comma in an array: remove it.`)
			}
		default:
			p.fail(p.pos, p.tokenEnd(p.pos), `Expected "," or "]"`,
				`Expected "," or "]" after the array item, found %s. Separate array items with commas.%s`, p.describe(p.pos), p.quoteHint(item))
		}
	}
}

// hash parses `"{" cs (entry (cs entry)*)? cs "}"` at p.pos, where entry is
// `(number | bareword | string) cs "=>" cs value`.
func (p *confParser) hash() *cvalue {
	open := p.pos
	p.enter(open)
	defer p.leave()
	p.pos++
	v := &cvalue{kind: vHash, open: p.rng(open, open+1)}
	seen := map[string]int{} // key as written → its offset
	for {
		p.skipCS()
		if p.eof() {
			p.unclosed(open, "hash")
		}
		start := p.pos
		c := p.src[start]
		if c == '}' {
			p.pos++
			v.rng = p.rng(open, p.pos)
			return v
		}
		var key *cvalue
		switch {
		case c == '"' || c == '\'':
			end := p.quotedEnd(start)
			if end < 0 {
				p.unterminated(start, "string")
			}
			p.pos = end
			key = p.stringValue(start, end)
		case isNameChar(c):
			key = p.scalar(start, "hash key")
		default:
			hint := ""
			switch c {
			case ',':
				if len(v.entries) > 0 {
					hint = ` Hash entries are separated by whitespace, not commas: remove the ",".`
				}
			case '[', '@':
				hint = ` Quote keys that hold other characters than letters, digits and "_", as in "[field][sub]".`
			}
			if len(v.entries) > 0 {
				hint += p.quoteHint(v.entries[len(v.entries)-1].val)
			}
			p.fail(start, p.tokenEnd(start), "Expected a hash key",
				`Expected a hash key (a quoted string, a bareword or a number) or "}", found %s.%s`, p.describe(start), hint)
		}
		keyText := string(p.src[start:p.pos])
		p.skipCS()
		shown := keyText
		if key.kind != vString {
			shown = `"` + keyText + `"`
		}
		p.expectArrow(start, start+len(keyText), "hash key", shown, keyText)
		arrow := p.pos
		p.pos += 2
		p.skipCS()
		val := p.value(fmt.Sprintf(`a value for the key %s after "=>"`, keyText), arrow)
		if val.kind == vPlugin {
			p.errorf(val.plugin.nameRng.Start.Byte, val.plugin.nameRng.End.Byte, "Unexpected plugin",
				"A plugin (name { … }) can only be the value of a setting, as in codec => %s { … }, not a hash value.", quoteName(val.plugin.name))
		}
		if first, dup := seen[keyText]; dup {
			p.errorf(start, start+len(keyText), "Duplicate hash key",
				"The key %s is already set in this hash, at line %d. Logstash refuses hashes with duplicate keys; remove one of them.", keyText, p.line(first))
		} else {
			seen[keyText] = start
		}
		v.entries = append(v.entries, &centry{key: key, val: val})
	}
}

// body builds a plugin's hclsyntax body. Repeated settings are merged as
// lscl.rb's Plugin#map_expr_attributes does; `id` is taken out and
// returned with its range. Codec plugins (kind ir.Codec) keep their id
// setting in the body.
func (p *confParser) body(cp *cplugin, kind ir.Kind) (body *hclsyntax.Body, id string, idRng hcl.Range) {
	type merged struct {
		first *cattr
		val   *cvalue
	}
	var (
		order  []string
		byName = map[string]*merged{}
		idAttr *cattr
	)
	for _, a := range cp.attrs {
		if a.name == "id" && kind != ir.Codec {
			if idAttr == nil {
				idAttr = a
				id, idRng = p.pluginID(a)
				continue
			}
			if other, _ := p.idValue(a); other != id || id == "" {
				p.errorf(a.nameRng.Start.Byte, a.nameRng.End.Byte, "Duplicate id setting",
					"This plugin's id is already set at line %d; a plugin has one id.", idAttr.nameRng.Start.Line)
			}
			continue
		}
		m, ok := byName[a.name]
		if !ok {
			byName[a.name] = &merged{first: a, val: a.val}
			order = append(order, a.name)
			continue
		}
		if v := p.mergeSetting(cp, kind, m.first, m.val, a); v != nil {
			m.val = v
		}
	}
	body = &hclsyntax.Body{
		Attributes: hclsyntax.Attributes{},
		SrcRange:   hcl.RangeBetween(cp.open, cp.close),
		EndRange:   hcl.Range{Filename: cp.close.Filename, Start: cp.close.End, End: cp.close.End},
	}
	for _, name := range order {
		m := byName[name]
		if blk := p.block(m.first, m.val); blk != nil {
			body.Blocks = append(body.Blocks, blk)
			continue
		}
		body.Attributes[name] = &hclsyntax.Attribute{
			Name:        name,
			Expr:        p.expr(m.val),
			SrcRange:    hcl.RangeBetween(m.first.nameRng, m.first.val.rng),
			NameRange:   m.first.nameRng,
			EqualsRange: m.first.arrow,
		}
	}
	return body, id, idRng
}

// idValue returns the text of an id setting's value and whether it may be
// an id (a string, a bareword or a number). ${VAR} is kept as written, as
// in HCL labels.
func (p *confParser) idValue(a *cattr) (string, bool) {
	switch a.val.kind {
	case vString, vBare, vNumber:
		return a.val.str, true
	}
	return "", false
}

// pluginID checks the first id setting of a plugin.
func (p *confParser) pluginID(a *cattr) (string, hcl.Range) {
	s, ok := p.idValue(a)
	r := a.val.rng
	switch {
	case !ok:
		p.errorf(r.Start.Byte, r.End.Byte, "Invalid plugin id", `A plugin id is a string, as in id => "parse_syslog".`)
	case s == "":
		p.errorf(r.Start.Byte, r.End.Byte, "Empty plugin id", "Leave the id out to get a generated one, or give a non-empty id.")
	}
	return s, r
}

// mergeSetting merges the repeated setting a into the value old of the
// setting first, as lscl.rb does: hashes merge key by key
// (LogStash::Util.hash_merge_many), an array gets the new items appended,
// a single value becomes an array of both unless they are equal. It
// returns nil, after a diagnostic, when the values cannot be merged.
func (p *confParser) mergeSetting(cp *cplugin, kind ir.Kind, first *cattr, old *cvalue, a *cattr) *cvalue {
	v := a.val
	if old.kind == vPlugin || v.kind == vPlugin || a.name == "codec" {
		if old.kind != vPlugin && v.kind != vPlugin && valueEqual(old, v, false) {
			return old
		}
		p.errorf(a.nameRng.Start.Byte, a.nameRng.End.Byte, fmt.Sprintf("Duplicate %s", a.name),
			"The %s plugin %q already has a %s at line %d; only one is allowed (Logstash refuses multiple %s declarations too). Keep one.",
			kind, cp.name, quoteName(a.name), first.nameRng.Start.Line, quoteName(a.name))
		return nil
	}
	conflict := func() *cvalue {
		p.errorf(a.nameRng.Start.Byte, a.nameRng.End.Byte, fmt.Sprintf("Conflicting values for %q", a.name),
			"The setting %q is given as %s at line %d and as %s here. A repeated setting is merged only when the values have the same shape (hashes key by key, arrays and single values into one array); give it once.",
			a.name, shape(old), first.nameRng.Start.Line, shape(v))
		return nil
	}
	switch {
	case old.kind == vHash && v.kind == vHash:
		return mergeHashes(old, v, false)
	case old.kind == vHash || v.kind == vHash:
		return conflict()
	case old.kind == vArray && v.kind == vArray:
		return arrayOf(v, cat(old.items, v.items...))
	case old.kind == vArray:
		return arrayOf(v, cat(old.items, v))
	case v.kind == vArray:
		// Logstash would nest the array ([old, [items]]); flattening is
		// what such a config means.
		return arrayOf(v, cat([]*cvalue{old}, v.items...))
	case valueEqual(old, v, false):
		return old
	}
	return arrayOf(v, []*cvalue{old, v})
}

func shape(v *cvalue) string {
	switch v.kind {
	case vHash:
		return "a hash"
	case vArray:
		return "an array"
	}
	return "a single value"
}

// arrayOf makes an array of items, placed at the value at.
func arrayOf(at *cvalue, items []*cvalue) *cvalue {
	open := at.open
	if at.kind != vArray && at.kind != vHash {
		open = at.rng
	}
	return &cvalue{kind: vArray, items: items, rng: at.rng, open: open}
}

// cat returns a new slice of a followed by b.
func cat(a []*cvalue, b ...*cvalue) []*cvalue {
	out := make([]*cvalue, 0, len(a)+len(b))
	return append(append(out, a...), b...)
}

// mergeHashes merges src into a copy of dst. With deep false it follows
// LogStash::Util.hash_merge_with_dups (repeated settings): arrays
// concatenate. Nested hashes merge with deep true, following hash_merge:
// arrays merge without duplicates.
func mergeHashes(dst, src *cvalue, deep bool) *cvalue {
	out := &cvalue{kind: vHash, entries: make([]*centry, len(dst.entries)), rng: src.rng, open: src.open}
	copy(out.entries, dst.entries)
	index := map[string]int{}
	for i, e := range out.entries {
		index[keyID(e.key)] = i
	}
	for _, se := range src.entries {
		k := keyID(se.key)
		i, ok := index[k]
		if !ok {
			index[k] = len(out.entries)
			out.entries = append(out.entries, se)
			continue
		}
		dv, sv := out.entries[i].val, se.val
		var nv *cvalue
		switch {
		case dv.kind == vHash && sv.kind == vHash:
			nv = mergeHashes(dv, sv, true)
		case sv.kind == vArray && deep:
			if dv.kind == vArray {
				nv = arrayOf(sv, union(dv.items, sv.items))
			} else {
				nv = arrayOf(sv, union([]*cvalue{dv}, sv.items))
			}
		case sv.kind == vArray:
			if dv.kind == vArray {
				nv = arrayOf(sv, cat(dv.items, sv.items...))
			} else {
				nv = arrayOf(sv, cat([]*cvalue{dv}, sv.items...))
			}
		case dv.kind == vArray:
			nv = dv
			if !contains(dv.items, sv) {
				nv = arrayOf(sv, cat(dv.items, sv))
			}
		case valueEqual(dv, sv, false):
			nv = dv
		default:
			nv = arrayOf(sv, []*cvalue{dv, sv})
		}
		out.entries[i] = &centry{key: out.entries[i].key, val: nv}
	}
	return out
}

// union is Ruby's Array#|: the items of a then b, without duplicates (eql?).
func union(a, b []*cvalue) []*cvalue {
	var out []*cvalue
	for _, v := range cat(a, b...) {
		dup := false
		for _, o := range out {
			if valueEqual(o, v, true) {
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, v)
		}
	}
	return out
}

// contains is Ruby's Array#include? (==).
func contains(items []*cvalue, v *cvalue) bool {
	for _, it := range items {
		if valueEqual(it, v, false) {
			return true
		}
	}
	return false
}

// keyID identifies a hash key as Ruby does: strings (quoted or bare) by
// their text, integers and floats apart.
func keyID(k *cvalue) string {
	if k.kind == vNumber {
		t := "i"
		if k.isFloat {
			t = "f"
		}
		return t + k.num.AsBigFloat().Text('g', -1)
	}
	return "s" + k.str
}

// valueEqual is Ruby's == on config values (eql? when strict: an integer
// and a float are then never equal).
func valueEqual(a, b *cvalue, strict bool) bool {
	switch {
	case (a.kind == vString || a.kind == vBare) && (b.kind == vString || b.kind == vBare):
		return a.str == b.str
	case a.kind != b.kind:
		return false
	}
	switch a.kind {
	case vNumber:
		if strict && a.isFloat != b.isFloat {
			return false
		}
		return a.num.AsBigFloat().Cmp(b.num.AsBigFloat()) == 0
	case vArray:
		if len(a.items) != len(b.items) {
			return false
		}
		for i := range a.items {
			if !valueEqual(a.items[i], b.items[i], strict) {
				return false
			}
		}
		return true
	case vHash:
		am := map[string]*cvalue{}
		for _, e := range a.entries {
			am[keyID(e.key)] = e.val
		}
		bm := map[string]*cvalue{}
		for _, e := range b.entries {
			bm[keyID(e.key)] = e.val
		}
		if len(am) != len(bm) {
			return false
		}
		for k, av := range am {
			bv, ok := bm[k]
			if !ok || !valueEqual(av, bv, strict) {
				return false
			}
		}
		return true
	}
	return a.plugin == b.plugin
}

// block returns the nested block for a plugin-valued setting, and for a
// codec given by name (`codec => json`, `codec => "json"`, and `codec =>
// ["json"]`, which Logstash's :codec validator reads as its first item), or
// nil.
func (p *confParser) block(a *cattr, v *cvalue) *hclsyntax.Block {
	if a.name == "codec" && v.kind == vArray && len(v.items) == 1 && (v.items[0].kind == vString || v.items[0].kind == vBare) {
		v = v.items[0]
	}
	switch {
	case v.kind == vPlugin:
		cp := v.plugin
		body, _, _ := p.body(cp, ir.Codec)
		return &hclsyntax.Block{
			Type:            a.name,
			Labels:          []string{cp.name},
			Body:            body,
			TypeRange:       a.nameRng,
			LabelRanges:     []hcl.Range{cp.nameRng},
			OpenBraceRange:  cp.open,
			CloseBraceRange: cp.close,
		}
	case a.name == "codec" && (v.kind == vString || v.kind == vBare):
		end := hcl.Range{Filename: v.rng.Filename, Start: v.rng.End, End: v.rng.End}
		return &hclsyntax.Block{
			Type:            a.name,
			Labels:          []string{p.expandEnv(v)},
			Body:            &hclsyntax.Body{Attributes: hclsyntax.Attributes{}, SrcRange: v.rng, EndRange: end},
			TypeRange:       a.nameRng,
			LabelRanges:     []hcl.Range{v.rng},
			OpenBraceRange:  v.rng,
			CloseBraceRange: v.rng,
		}
	}
	return nil
}

// expr turns a value into an HCL expression.
func (p *confParser) expr(v *cvalue) hclsyntax.Expression {
	switch v.kind {
	case vNumber:
		return &hclsyntax.LiteralValueExpr{Val: v.num, SrcRange: v.rng}
	case vArray:
		exprs := make([]hclsyntax.Expression, len(v.items))
		for i, it := range v.items {
			exprs[i] = p.expr(it)
		}
		return &hclsyntax.TupleConsExpr{Exprs: exprs, SrcRange: v.rng, OpenRange: v.open}
	case vHash:
		items := make([]hclsyntax.ObjectConsItem, len(v.entries))
		for i, e := range v.entries {
			items[i] = hclsyntax.ObjectConsItem{
				KeyExpr:   &hclsyntax.ObjectConsKeyExpr{Wrapped: p.keyExpr(e.key), ForceNonLiteral: true},
				ValueExpr: p.expr(e.val),
			}
		}
		return &hclsyntax.ObjectConsExpr{Items: items, SrcRange: v.rng, OpenRange: v.open}
	}
	// Strings, barewords, and plugins where they are not allowed (already
	// reported): their name.
	return &hclsyntax.LiteralValueExpr{Val: cty.StringVal(p.expandEnv(v)), SrcRange: v.rng}
}

// keyExpr turns a hash key into an HCL expression; ${VAR} is kept as
// written, as Logstash does.
func (p *confParser) keyExpr(k *cvalue) hclsyntax.Expression {
	if k.kind == vNumber {
		return &hclsyntax.LiteralValueExpr{Val: k.num, SrcRange: k.rng}
	}
	return &hclsyntax.LiteralValueExpr{Val: cty.StringVal(k.str), SrcRange: k.rng}
}
