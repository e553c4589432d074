// Package grok implements the grok filter, like Logstash's: it matches a field
// against grok patterns (regular expressions with named, reusable parts) and
// stores what the named parts captured as fields.
//
//	filter "grok" "syslog" {
//	  match     = { message = "<%{NONNEGINT:priority}>%{SYSLOGLINE}" }
//	  overwrite = ["message"]
//	}
//
// A pattern is a Go regular expression in which %{NAME} stands for the
// library pattern NAME, %{NAME:field} also stores what it matched in field,
// and %{NAME:field:int} or %{NAME:field:float} converts it to a number first
// (as Ruby's to_i and to_f do: the longest numeric prefix, 0 when there is
// none; other type names keep the string). field may be nested, [a][b].
// (?<field>…) is a raw named group; its field is stored too. Matching is
// unanchored, and ^ and $ match at line ends, as in Logstash's Onigmo.
//
// The pattern library is Logstash's legacy (non-ECS) core set, as shipped by
// github.com/vjeantet/grok (USERNAME … COMBINEDAPACHELOG, HTTPD_ERRORLOG,
// TIMESTAMP_ISO8601, SYSLOGBASE, …), plus Logstash's linux-syslog names
// SYSLOGBASE2, SYSLOGLINE, SYSLOG5424LINE (and its parts), CRON_ACTION and
// CRONLOG. pattern_definitions adds to it or overrides it. Constructs Go's
// regexp engine cannot run (look-around, backreferences, atomic groups,
// possessive quantifiers) are a configuration error naming the pattern.
//
// Patterns are expanded and matched here, not with vjeantet/grok's Parse: its
// map-building API allocates per event, it silently matches nothing for
// [a][b] capture names, it races when patterns are compiled concurrently, and
// it has no list of patterns per field. Every pattern is expanded once, when
// the pipeline is built, into one Go regexp whose groups map to prepared
// field references; matching uses regexp.FindStringSubmatchIndex. The pattern
// definitions themselves come from vjeantet/grok's library, read at start-up;
// TestSameAsVjeantet checks that we extract what vjeantet/grok extracts.
//
// Semantics follow logstash-filter-grok: the fields of match are tried in
// order (source order), and each field's patterns in order; break_on_match
// stops at the first pattern that matches. A capture into a field that exists
// and is not listed in overwrite turns it into an array (a string becomes
// [old, new], an array gets new appended; other values are left alone).
// Empty and non-participating captures are dropped unless
// keep_empty_captures. A field whose value is an array is matched element by
// element. An absent field is matched as the empty string, as Logstash does
// (so it normally fails and gets tag_on_failure). When nothing matches, the
// tags of tag_on_failure are added and add_field/add_tag/remove_* are skipped.
package grok

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
)

func init() { engine.RegisterFilter("grok", New) }

// Options configures the grok filter.
type Options struct {
	// Match (required) maps a field to the pattern, or list of patterns, it is matched
	// against: { message = "%{IP:client} %{WORD:method}" } or
	// { message = ["%{SYSLOGLINE}", "%{GREEDYDATA:message}"] }. Fields are
	// tried in the order written. Logstash's flat array form, ["message",
	// "pattern", …], is accepted too.
	Match hcl.Expression `hcl:"match,optional"`
	// BreakOnMatch stops at the first pattern that matches; false tries every
	// pattern of every field and keeps all captures.
	BreakOnMatch bool `hcl:"break_on_match,optional"`
	// NamedCapturesOnly stores only named captures (%{NAME:field} and
	// (?<field>…)); false also stores %{NAME} as the field NAME.
	NamedCapturesOnly bool `hcl:"named_captures_only,optional"`
	// KeepEmptyCaptures stores empty captures ("") and captures that did not
	// participate in the match (null) instead of dropping them.
	KeepEmptyCaptures bool `hcl:"keep_empty_captures,optional"`
	// Overwrite lists the captured field names that replace an existing value
	// instead of being appended to it (which turns it into an array), e.g.
	// ["message"].
	Overwrite []string `hcl:"overwrite,optional"`
	// PatternDefinitions defines patterns by name for this filter, adding to
	// or overriding the library: { POSTFIX_QUEUEID = "[0-9A-F]{10,11}" }.
	PatternDefinitions map[string]string `hcl:"pattern_definitions,optional"`
	// TagOnFailure are the tags added when no pattern matches.
	TagOnFailure []string `hcl:"tag_on_failure,optional"`
	// Target, if set, is the field under which captures are stored
	// (target = "parsed" stores %{WORD:w} as [parsed][w]).
	Target string `hcl:"target,optional"`
}

// Defaults sets Logstash's defaults.
func (o *Options) Defaults() {
	o.BreakOnMatch = true
	o.NamedCapturesOnly = true
	o.TagOnFailure = []string{"_grokparsefailure"}
}

// Validate decodes match and compiles every pattern.
func (o *Options) Validate() error {
	_, err := o.compile()
	return err
}

// fieldPatterns is one entry of match: a source field and its patterns.
type fieldPatterns struct {
	field    string
	patterns []string
}

// matchEntries normalises the match option to its entries, in source order.
func (o *Options) matchEntries() ([]fieldPatterns, error) {
	if o.Match == nil {
		return nil, &engine.FieldError{Field: "match", Err: errors.New(`give at least one field and pattern, e.g. { message = "%{GREEDYDATA:msg}" }`)}
	}
	var out []fieldPatterns
	add := func(field string, v cty.Value) error {
		ps, err := patternList(v)
		if err != nil {
			return fmt.Errorf("field %q: %w", field, err)
		}
		for i := range out {
			if out[i].field == field {
				out[i].patterns = append(out[i].patterns, ps...)
				return nil
			}
		}
		out = append(out, fieldPatterns{field, ps})
		return nil
	}
	if obj, ok := o.Match.(*hclsyntax.ObjectConsExpr); ok {
		// Source order, as Logstash keeps the hash's insertion order.
		for _, it := range obj.Items {
			k, diags := it.KeyExpr.Value(nil)
			if diags.HasErrors() {
				return nil, &engine.FieldError{Field: "match", Err: errors.New(diags.Error())}
			}
			if k.IsNull() || !k.IsKnown() || k.Type() != cty.String {
				return nil, &engine.FieldError{Field: "match", Err: errors.New("field names must be strings")}
			}
			v, diags := it.ValueExpr.Value(nil)
			if diags.HasErrors() {
				return nil, &engine.FieldError{Field: "match", Err: errors.New(diags.Error())}
			}
			if err := add(k.AsString(), v); err != nil {
				return nil, &engine.FieldError{Field: "match", Err: err}
			}
		}
	} else {
		v, diags := o.Match.Value(nil)
		if diags.HasErrors() {
			return nil, &engine.FieldError{Field: "match", Err: errors.New(diags.Error())}
		}
		if v.IsNull() {
			return nil, &engine.FieldError{Field: "match", Err: errors.New(`give at least one field and pattern, e.g. { message = "%{GREEDYDATA:msg}" }`)}
		}
		t := v.Type()
		switch {
		case t.IsObjectType() || t.IsMapType():
			keys := make([]string, 0)
			m := v.AsValueMap()
			for k := range m {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				if err := add(k, m[k]); err != nil {
					return nil, &engine.FieldError{Field: "match", Err: err}
				}
			}
		case t.IsTupleType() || t.IsListType():
			// Logstash's flat form: field, pattern, field, pattern, …
			l := v.AsValueSlice()
			if len(l)%2 != 0 {
				return nil, &engine.FieldError{Field: "match", Err: fmt.Errorf("the array form needs field, pattern pairs; got %d items", len(l))}
			}
			for i := 0; i < len(l); i += 2 {
				if l[i].IsNull() || l[i].Type() != cty.String {
					return nil, &engine.FieldError{Field: "match", Err: errors.New("field names must be strings")}
				}
				if err := add(l[i].AsString(), l[i+1]); err != nil {
					return nil, &engine.FieldError{Field: "match", Err: err}
				}
			}
		default:
			return nil, &engine.FieldError{Field: "match", Err: fmt.Errorf(`want a map of field to pattern(s), e.g. { message = "%%{GREEDYDATA:msg}" }; got %s`, t.FriendlyName())}
		}
	}
	if len(out) == 0 {
		return nil, &engine.FieldError{Field: "match", Err: errors.New(`give at least one field and pattern, e.g. { message = "%{GREEDYDATA:msg}" }`)}
	}
	return out, nil
}

// patternList accepts a string or a list of strings.
func patternList(v cty.Value) ([]string, error) {
	if v.IsNull() || !v.IsWhollyKnown() {
		return nil, errors.New("the pattern is null")
	}
	t := v.Type()
	if t == cty.String {
		return []string{v.AsString()}, nil
	}
	if t.IsTupleType() || t.IsListType() {
		var out []string
		for _, el := range v.AsValueSlice() {
			if el.IsNull() || el.Type() != cty.String {
				return nil, errors.New("patterns must be strings")
			}
			out = append(out, el.AsString())
		}
		if len(out) == 0 {
			return nil, errors.New("the pattern list is empty")
		}
		return out, nil
	}
	return nil, fmt.Errorf("want a pattern or a list of patterns; got %s", t.FriendlyName())
}

// conversion of a capture.
const (
	convNone = iota
	convInt
	convFloat
)

// capture is one group of a compiled pattern whose value is stored.
type capture struct {
	group     int // submatch index
	ref       event.Ref
	conv      int
	overwrite bool
}

// compiled is one pattern of one field.
type compiled struct {
	re       *regexp.Regexp
	captures []capture
}

// source is one entry of match, compiled.
type source struct {
	ref      event.Ref
	patterns []compiled
}

type config struct {
	sources      []source
	breakOnMatch bool
	keepEmpty    bool
	tags         []string
}

func (o *Options) compile() (*config, error) {
	entries, err := o.matchEntries()
	if err != nil {
		return nil, err
	}
	defs := make(map[string]string, len(legacyPatterns)+len(syslogPatterns)+len(o.PatternDefinitions))
	for k, v := range legacyPatterns {
		defs[k] = v
	}
	for k, v := range syslogPatterns {
		defs[k] = v
	}
	for k, v := range o.PatternDefinitions {
		if !validName(k) {
			return nil, &engine.FieldError{Field: "pattern_definitions", Err: fmt.Errorf("%q is not a pattern name (letters, digits and _)", k)}
		}
		defs[k] = strings.TrimRight(v, "\r\n") // Logstash chomps
	}
	overwrite := make(map[string]bool, len(o.Overwrite))
	for _, s := range o.Overwrite {
		overwrite[s] = true
	}
	target := ""
	if o.Target != "" {
		target = bracket(o.Target)
		if _, err := event.ParseRef(target); err != nil {
			return nil, &engine.FieldError{Field: "target", Err: err}
		}
	}
	c := &config{breakOnMatch: o.BreakOnMatch, keepEmpty: o.KeepEmptyCaptures, tags: o.TagOnFailure}
	for _, en := range entries {
		s := source{}
		if s.ref, err = event.ParseRef(en.field); err != nil {
			return nil, &engine.FieldError{Field: "match", Err: fmt.Errorf("field %q: %w", en.field, err)}
		}
		for _, p := range en.patterns {
			cp, err := compilePattern(p, defs, o.NamedCapturesOnly, target, overwrite)
			if err != nil {
				return nil, &engine.FieldError{Field: "match", Err: fmt.Errorf("pattern %q: %w", p, err)}
			}
			s.patterns = append(s.patterns, cp)
		}
		c.sources = append(c.sources, s)
	}
	return c, nil
}

// bracket turns a field name into a reference string: "a" → "[a]"; "[a][b]"
// is kept.
func bracket(s string) string {
	if strings.HasPrefix(s, "[") {
		return s
	}
	return "[" + s + "]"
}

func validName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

// groupInfo describes one generated named group before compilation.
type groupInfo struct {
	field string // the capture name, without the type suffix
	conv  int
}

// expander turns a grok pattern into a Go regexp with named groups _g0, _g1, …
// and remembers what each stores.
type expander struct {
	defs      map[string]string
	namedOnly bool
	groups    []groupInfo
	stack     []string
	used      map[string]int // pattern name → deepest nesting level seen
}

// refRE matches %{NAME}, %{NAME:field} and %{NAME:field:type}, as jls-grok's
// PATTERN_RE does (without its inline =definition form).
var refRE = regexp.MustCompile(`%\{(\w+)(?::([@\[\]\w:.-]+))?[^}]*\}`)

func (x *expander) expand(p string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(p); {
		c := p[i]
		switch {
		case c == '\\' && i+1 < len(p):
			b.WriteString(p[i : i+2])
			i += 2
			continue
		case c == '%' && strings.HasPrefix(p[i:], "%{"):
			m := refRE.FindStringSubmatchIndex(p[i:])
			if m == nil || m[0] != 0 {
				b.WriteByte(c)
				i++
				continue
			}
			name := p[i+m[2] : i+m[3]]
			sub := ""
			if m[4] >= 0 {
				sub = p[i+m[4] : i+m[5]]
			}
			i += m[1]
			def, ok := x.defs[name]
			if !ok {
				return "", fmt.Errorf("unknown pattern %%{%s}", name)
			}
			for _, s := range x.stack {
				if s == name {
					return "", fmt.Errorf("pattern %%{%s} refers to itself (%s)", name, strings.Join(append(x.stack, name), " → "))
				}
			}
			if d, ok := x.used[name]; !ok || d < len(x.stack) {
				x.used[name] = len(x.stack)
			}
			x.stack = append(x.stack, name)
			inner, err := x.expand(def)
			x.stack = x.stack[:len(x.stack)-1]
			if err != nil {
				return "", err
			}
			if sub == "" && x.namedOnly {
				b.WriteString("(?:")
				b.WriteString(inner)
				b.WriteString(")")
				continue
			}
			g := groupInfo{field: name}
			if sub != "" {
				field, typ, _ := strings.Cut(sub, ":")
				typ, _, _ = strings.Cut(typ, ":")
				g.field = field
				switch typ {
				case "int":
					g.conv = convInt
				case "float":
					g.conv = convFloat
				}
			}
			fmt.Fprintf(&b, "(?P<_g%d>", len(x.groups))
			x.groups = append(x.groups, g)
			b.WriteString(inner)
			b.WriteString(")")
			continue
		case c == '(' && (strings.HasPrefix(p[i:], "(?<") || strings.HasPrefix(p[i:], "(?P<")):
			// A raw named group (?<name>…): store it under name. Look-behind
			// (?<= and (?<! is left for the regexp compiler to refuse.
			j := i + 3
			if p[i+2] == 'P' {
				j++
			}
			end := strings.IndexByte(p[j:], '>')
			if end > 0 && p[j] != '=' && p[j] != '!' {
				field := p[j : j+end]
				fmt.Fprintf(&b, "(?P<_g%d>", len(x.groups))
				x.groups = append(x.groups, groupInfo{field: field})
				i = j + end + 1
				continue
			}
		}
		b.WriteByte(c)
		i++
	}
	return b.String(), nil
}

// compilePattern expands and compiles one pattern.
func compilePattern(p string, defs map[string]string, namedOnly bool, target string, overwrite map[string]bool) (compiled, error) {
	x := &expander{defs: defs, namedOnly: namedOnly, used: map[string]int{}}
	expr, err := x.expand(p)
	if err != nil {
		return compiled{}, err
	}
	// Onigmo, Logstash's engine, always lets ^ and $ match at line ends.
	re, err := regexp.Compile("(?m)" + expr)
	if err != nil {
		return compiled{}, blame(err, x.used, defs)
	}
	// Group index of each generated name.
	index := make([]int, len(x.groups))
	for i, n := range re.SubexpNames() {
		if strings.HasPrefix(n, "_g") {
			k, _ := strconv.Atoi(n[2:])
			index[k] = i
		}
	}
	// jls-grok yields captures name by name (in order of first appearance),
	// each name's groups in order.
	order := make([]int, len(x.groups))
	first := map[string]int{}
	for i, g := range x.groups {
		if _, ok := first[g.field]; !ok {
			first[g.field] = i
		}
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool {
		return first[x.groups[order[a]].field] < first[x.groups[order[b]].field]
	})
	c := compiled{re: re}
	for _, k := range order {
		g := x.groups[k]
		name := g.field
		if target != "" {
			name = target + bracket(name)
		}
		ref, err := event.ParseRef(name)
		if err != nil {
			return compiled{}, fmt.Errorf("capture name %q: %w", g.field, err)
		}
		c.captures = append(c.captures, capture{group: index[k], ref: ref, conv: g.conv, overwrite: overwrite[g.field]})
	}
	return c, nil
}

// blame names the library or user pattern whose own definition Go's regexp
// refuses: the most deeply nested one that fails alone.
func blame(err error, used map[string]int, defs map[string]string) error {
	best, depth := "", -1
	for name, d := range used {
		x := &expander{defs: defs, namedOnly: true, used: map[string]int{}}
		e, xerr := x.expand(defs[name])
		if xerr != nil {
			continue
		}
		if _, cerr := regexp.Compile(e); cerr != nil && (d > depth || d == depth && name < best) {
			best, depth = name, d
		}
	}
	if best != "" {
		return fmt.Errorf("pattern %%{%s} cannot be compiled by Go's regexp (RE2: no look-around, backreferences, atomic groups or possessive quantifiers): %w", best, err)
	}
	return fmt.Errorf("cannot be compiled by Go's regexp (RE2: no look-around, backreferences, atomic groups or possessive quantifiers): %w", err)
}

// Filter is the grok filter.
type Filter struct{ c *config }

var _ engine.Filter = (*Filter)(nil)

// New compiles every pattern. It must run on one goroutine (the engine builds
// pipelines that way); Filter is then safe for concurrent use.
func New(o Options, _ engine.Resources) (*Filter, error) {
	c, err := o.compile()
	if err != nil {
		return nil, err
	}
	return &Filter{c: c}, nil
}

var errNoMatch = errors.New("grok: no pattern matched")

// Filter matches the fields of e and stores the captures.
func (f *Filter) Filter(_ context.Context, e *event.Event, out []*event.Event) ([]*event.Event, error) {
	matched := false
	for i := range f.c.sources {
		s := &f.c.sources[i]
		v, _ := e.Get(s.ref)
		ok := false
		if arr, isArr := v.([]any); isArr {
			for _, el := range arr {
				ok = f.matchValue(s, toString(el), e) || ok
			}
		} else {
			ok = f.matchValue(s, toString(v), e)
		}
		if ok {
			matched = true
			if f.c.breakOnMatch {
				break
			}
		}
	}
	if !matched {
		e.AddTag(f.c.tags...)
		return append(out, e), errNoMatch
	}
	return append(out, e), nil
}

// toString is Ruby's to_s of the value Logstash hands grok.
func toString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case nil:
		return ""
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return string(event.AppendRubyFloat(nil, x))
	case bool:
		return strconv.FormatBool(x)
	}
	return string(event.AppendJavaString(nil, v))
}

func (f *Filter) matchValue(s *source, in string, e *event.Event) bool {
	matched := false
	for i := range s.patterns {
		p := &s.patterns[i]
		m := p.re.FindStringSubmatchIndex(in)
		if m == nil {
			continue
		}
		matched = true
		for j := range p.captures {
			c := &p.captures[j]
			var val any
			lo, hi := m[2*c.group], m[2*c.group+1]
			if lo >= 0 {
				val = in[lo:hi]
			}
			switch c.conv {
			case convInt:
				if lo >= 0 {
					val = rubyToI(in[lo:hi])
				}
			case convFloat:
				if lo >= 0 {
					val = rubyToF(in[lo:hi])
				}
			}
			f.handle(e, c, val)
		}
		if f.c.breakOnMatch {
			break
		}
	}
	return matched
}

// handle stores one capture, as grok.rb's handle.
func (f *Filter) handle(e *event.Event, c *capture, val any) {
	if !f.c.keepEmpty && (val == nil || val == "") {
		return
	}
	if c.overwrite {
		_ = e.Set(c.ref, val)
		return
	}
	old, _ := e.Get(c.ref)
	switch o := old.(type) {
	case nil:
		_ = e.Set(c.ref, val)
	case []any:
		arr := make([]any, len(o), len(o)+1)
		copy(arr, o)
		_ = e.Set(c.ref, append(arr, val))
	case string:
		_ = e.Set(c.ref, []any{o, val})
	}
	// Any other existing value is left alone, as Logstash does.
}

// rubyToI is Ruby's String#to_i: an optional sign and the leading digits
// (underscores between digits allowed), 0 when there are none. A value beyond
// int64 becomes a float64.
func rubyToI(s string) any {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n // the common case, without allocating
	}
	s = strings.TrimLeft(s, " \t\n\v\f\r")
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	start := i
	var digits []byte
	for i < len(s) {
		switch {
		case s[i] >= '0' && s[i] <= '9':
			digits = append(digits, s[i])
		case s[i] == '_' && i > start && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9':
		default:
			goto done
		}
		i++
	}
done:
	if len(digits) == 0 {
		return int64(0)
	}
	num := string(digits)
	if start > 0 {
		num = s[:1] + num
	}
	if n, err := strconv.ParseInt(num, 10, 64); err == nil {
		return n
	}
	fl, _ := strconv.ParseFloat(num, 64)
	return fl
}

// floatPrefix matches what Ruby's String#to_f reads.
var floatPrefix = regexp.MustCompile(`^[ \t\n\v\f\r]*[+-]?(?:\d+(?:_\d+)*)?(?:\.\d+(?:_\d+)*)?(?:[eE][+-]?\d+)?`)

// rubyToF is Ruby's String#to_f: the longest numeric prefix, 0.0 when none.
func rubyToF(s string) float64 {
	m := floatPrefix.FindString(s)
	m = strings.TrimLeft(strings.ReplaceAll(m, "_", ""), " \t\n\v\f\r")
	for m != "" {
		if fl, err := strconv.ParseFloat(m, 64); err == nil || errors.Is(err, strconv.ErrRange) {
			return fl
		}
		m = m[:len(m)-1] // "1e", "+", "." and the like
	}
	return 0
}
