// Package kv implements the kv filter, like Logstash's: it parses key=value
// pairs out of a text field, such as a=1 b="two words" c=(x y), and sets
// them as fields of the event, or inside the target field.
//
// The text is scanned with Logstash's expression, built from field_split and
// value_split, which are each a set of single-character delimiters (the
// characters of the string, as in a regular expression character class, so
// "&?" splits on & and on ?). A key runs up to a value or field delimiter; a
// value is quoted ("a b", 'a b'), bracketed ((a b), [a b], <a b>, with
// include_brackets) or runs up to the next field delimiter; a backslash
// escapes the next character in both. With whitespace "lenient" (the default)
// spaces around the value delimiter are allowed. Text that matches nothing is
// skipped. When the source holds an array, each string in it is parsed.
//
// For each pair, in order: an empty value is dropped (unless
// allow_empty_values); the key is trimmed (trim_key), stripped of
// remove_char_key characters and transformed (transform_key); it is kept only
// if it is in include_keys (when given) and not in exclude_keys; prefix is
// prepended; the value is trimmed, stripped and transformed likewise; with
// recursive, a value that holds pairs itself becomes an object of them. A key
// seen again collects its values in an array; with allow_duplicate_values
// false, a value already there is not added again (when the key holds one
// string, Logstash's test is whether it contains the new value as a
// substring, kept here for compatibility). include_keys, exclude_keys and
// prefix are sprintf templates.
//
// The pairs found, after default_keys (which they override), are set in
// order as field references ("[a][b]" sets a nested field), or as one object
// in target, replacing its content. When no pair is found and there are no
// default keys, nothing is set and the common options are not applied.
//
// Failure semantics: a key that is not a valid field reference, or a value
// the event refuses (a string for [@timestamp], an object in [tags]), stops
// the setting there, adds the tag_on_failure tags and skips the common
// options; the pairs set before stay, as in Logstash. Go's regular expressions
// run in linear time, so the scan cannot run away: timeout_millis and
// tag_on_timeout are accepted for compatibility and never used.
//
// field_split_pattern and value_split_pattern replace the character sets by
// regular expressions, as in Logstash; keys (and, with field_split_pattern,
// unquoted values) then run up to the next delimiter match, and stop at a
// line end. The patterns use Go's syntax, which has no lookaround: a pattern
// using (?=…) or (?!…) is refused when the pipeline is built.
//
// ecs_compatibility changes nothing but a notice: with "v1" or "v8" and no
// target, a message at build time recommends setting one, as Logstash does.
package kv

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/plugins/internal/ecs"
)

func init() { engine.RegisterFilter("kv", New) }

// Options configures the kv filter.
type Options struct {
	// Source is the field holding the text to parse.
	Source string `hcl:"source,optional"`
	// Target is the field to store the pairs in, as one object that replaces
	// its content. Without it, each pair is set at the top level.
	Target string `hcl:"target,optional"`
	// FieldSplit is the set of characters that separate pairs, used as a
	// regular expression character class.
	FieldSplit string `hcl:"field_split,optional"`
	// ValueSplit is the set of characters that separate a key from its value,
	// used as a regular expression character class. It must not be empty.
	ValueSplit string `hcl:"value_split,optional"`
	// FieldSplitPattern is a regular expression (Go syntax, ^ and $ match at
	// line ends as in Ruby) that separates pairs, instead of field_split.
	// Values then run up to the next match of it, like keys.
	FieldSplitPattern string `hcl:"field_split_pattern,optional"`
	// ValueSplitPattern is a regular expression (Go syntax, ^ and $ match at
	// line ends as in Ruby) that separates a key from its value, instead of
	// value_split.
	ValueSplitPattern string `hcl:"value_split_pattern,optional"`
	// Prefix is prepended to every key found (not to default_keys). It is a
	// sprintf template.
	Prefix string `hcl:"prefix,optional"`
	// IncludeKeys, when not empty, are the only keys kept (compared after
	// trim_key, remove_char_key and transform_key, before prefix). Each is a
	// sprintf template.
	IncludeKeys []string `hcl:"include_keys,optional"`
	// ExcludeKeys are keys to drop, compared like include_keys. Each is a
	// sprintf template.
	ExcludeKeys []string `hcl:"exclude_keys,optional"`
	// DefaultKeys are fields to set when the text does not provide them.
	DefaultKeys map[string]string `hcl:"default_keys,optional"`
	// TrimKey is a set of characters (a character class) removed from the
	// start and the end of every key.
	TrimKey string `hcl:"trim_key,optional"`
	// TrimValue is a set of characters (a character class) removed from the
	// start and the end of every value.
	TrimValue string `hcl:"trim_value,optional"`
	// RemoveCharKey is a set of characters (a character class) removed from
	// anywhere in every key.
	RemoveCharKey string `hcl:"remove_char_key,optional"`
	// RemoveCharValue is a set of characters (a character class) removed from
	// anywhere in every value.
	RemoveCharValue string `hcl:"remove_char_value,optional"`
	// TransformKey changes the case of keys: "lowercase", "uppercase" or
	// "capitalize" (first letter upper case, the rest lower case).
	TransformKey string `hcl:"transform_key,optional"`
	// TransformValue changes the case of values, like transform_key.
	TransformValue string `hcl:"transform_value,optional"`
	// AllowDuplicateValues keeps repeated pairs: a key seen twice with the
	// same value gets both. When false, a value the key already has is not
	// added again.
	AllowDuplicateValues bool `hcl:"allow_duplicate_values,optional"`
	// AllowEmptyValues keeps keys whose value is empty, as "".
	AllowEmptyValues bool `hcl:"allow_empty_values,optional"`
	// IncludeBrackets treats (…), […] and <…> as value quotes, removed from
	// the value, like "…" and '…'.
	IncludeBrackets bool `hcl:"include_brackets,optional"`
	// Recursive parses values again: a value that holds pairs becomes an
	// object of them.
	Recursive bool `hcl:"recursive,optional"`
	// Whitespace is "lenient" (spaces around the value delimiter are ignored)
	// or "strict" (they are not).
	Whitespace string `hcl:"whitespace,optional"`
	// TagOnFailure are the tags added when the pairs cannot be set.
	TagOnFailure []string `hcl:"tag_on_failure,optional"`
	// TimeoutMillis is accepted for compatibility with Logstash and unused:
	// the scan runs in linear time and cannot run away.
	TimeoutMillis float64 `hcl:"timeout_millis,optional"`
	// TagOnTimeout is accepted for compatibility with Logstash and unused.
	TagOnTimeout string `hcl:"tag_on_timeout,optional"`
	ecs.Compatibility
}

// Defaults sets Logstash's defaults.
func (o *Options) Defaults() {
	o.Source = event.MessageField
	o.FieldSplit = " "
	o.ValueSplit = "="
	o.AllowDuplicateValues = true
	o.IncludeBrackets = true
	o.Whitespace = "lenient"
	o.TagOnFailure = []string{"_kv_filter_error"}
	o.TimeoutMillis = 30000
	o.TagOnTimeout = "_kv_filter_timeout"
	o.Compatibility.Defaults()
}

// Validate checks the options that need no compiling; New checks the rest.
func (o *Options) Validate() error {
	if o.ValueSplit == "" {
		return &engine.FieldError{Field: "value_split", Err: errors.New("must be a non-empty string")}
	}
	if o.FieldSplit == "" {
		return &engine.FieldError{Field: "field_split", Err: errors.New("must be a non-empty string")}
	}
	switch o.Whitespace {
	case "lenient", "strict":
	default:
		return &engine.FieldError{Field: "whitespace", Err: fmt.Errorf("%q: want \"lenient\" or \"strict\"", o.Whitespace)}
	}
	for name, v := range map[string]string{"transform_key": o.TransformKey, "transform_value": o.TransformValue} {
		switch v {
		case "", "lowercase", "uppercase", "capitalize":
		default:
			return &engine.FieldError{Field: name, Err: fmt.Errorf("%q: want \"lowercase\", \"uppercase\" or \"capitalize\"", v)}
		}
	}
	if _, err := event.ParseRef(o.Source); err != nil {
		return &engine.FieldError{Field: "source", Err: err}
	}
	if o.Target != "" {
		if _, err := event.ParseRef(o.Target); err != nil {
			return &engine.FieldError{Field: "target", Err: err}
		}
	}
	return o.Compatibility.Validate()
}

// Filter is the kv filter. It is safe for concurrent use.
type Filter struct {
	source    event.Ref
	target    event.Ref
	hasTarget bool
	scan      *regexp.Regexp  // the whole pair, without split patterns
	pat       *patternScanner // the pair, with split patterns
	hasSplit  *regexp.Regexp
	nValues   int // value capture groups after the key's

	prefix               event.Template
	include, exclude     []event.Template
	defaults             []pair
	trimKey, trimValue   *regexp.Regexp
	removeKey, removeVal *regexp.Regexp
	transformKey         string
	transformValue       string
	allowDup, allowEmpty bool
	recursive            bool
	tags                 []string
}

var _ engine.Filter = (*Filter)(nil)

type pair struct {
	key string
	val any // string, []any of strings or map[string]any (recursive)
}

// New builds a kv filter.
func New(o Options, r engine.Resources) (*Filter, error) {
	f := &Filter{
		source:         event.MustRef(o.Source),
		hasTarget:      o.Target != "",
		transformKey:   o.TransformKey,
		transformValue: o.TransformValue,
		allowDup:       o.AllowDuplicateValues,
		allowEmpty:     o.AllowEmptyValues,
		recursive:      o.Recursive,
		tags:           slices.Clone(o.TagOnFailure),
	}
	if f.hasTarget {
		f.target = event.MustRef(o.Target)
	} else if o.Compatibility.ECS() && r.Logger != nil {
		r.Logger.Info("ECS compatibility is enabled but `target` option was not specified. " +
			"This may cause fields to be set at the top-level of the event where they are likely to clash with the Elastic Common Schema. " +
			"It is recommended to set the `target` option to avoid potential schema conflicts " +
			"(if your data is ECS compliant or non-conflicting, feel free to ignore this message)")
	}
	// The expressions of Logstash's kv.rb register, in Go syntax.
	fieldSplit, err := splitExpr("field_split", o.FieldSplit, false)
	if err != nil {
		return nil, err
	}
	if o.FieldSplitPattern != "" {
		if fieldSplit, err = splitExpr("field_split_pattern", o.FieldSplitPattern, true); err != nil {
			return nil, err
		}
	}
	valueSplit, err := splitExpr("value_split", o.ValueSplit, false)
	if err != nil {
		return nil, err
	}
	if o.ValueSplitPattern != "" {
		if valueSplit, err = splitExpr("value_split_pattern", o.ValueSplitPattern, true); err != nil {
			return nil, err
		}
	}
	if o.Whitespace == "lenient" {
		valueSplit = " *" + valueSplit + " *"
	}
	values := []string{quoted(`"`, `"`), quoted(`'`, `'`)}
	if o.IncludeBrackets {
		values = append(values, quoted("(", ")"), quoted("[", "]"), quoted("<", ">"))
	}
	f.nValues = len(values) + 1
	end := "(?:" + fieldSplit + "|(?m:$))"
	f.hasSplit = regexp.MustCompile(valueSplit)
	if o.FieldSplitPattern == "" && o.ValueSplitPattern == "" {
		key := untilClass(o.ValueSplit + o.FieldSplit)
		values = append(values, untilClass(o.FieldSplit))
		expr := key + valueSplit + "(?:" + strings.Join(values, "|") + ")?" + end
		if f.scan, err = regexp.Compile(expr); err != nil {
			return nil, &engine.FieldError{Field: "field_split", Err: err}
		}
	} else {
		// Logstash's expression needs negative lookahead, which Go's regexp
		// lacks: patternScanner runs it by hand.
		ps := &patternScanner{
			vsp:      regexp.MustCompile(`\A(?:` + valueSplit + `)`),
			fsp:      regexp.MustCompile(`\A` + fieldSplit),
			fspGiven: o.FieldSplitPattern != "",
		}
		if ps.fspGiven {
			for _, q := range values {
				ps.quoted = append(ps.quoted, regexp.MustCompile(`\A`+q+end))
			}
		} else {
			values = append(values, untilClass(o.FieldSplit))
			ps.nValues = f.nValues
			ps.rest = regexp.MustCompile(`\A(?:` + strings.Join(values, "|") + ")?" + end)
		}
		f.pat = ps
	}
	for _, c := range []struct {
		name, class string
		trim        bool
		dst         **regexp.Regexp
	}{
		{"trim_key", o.TrimKey, true, &f.trimKey},
		{"trim_value", o.TrimValue, true, &f.trimValue},
		{"remove_char_key", o.RemoveCharKey, false, &f.removeKey},
		{"remove_char_value", o.RemoveCharValue, false, &f.removeVal},
	} {
		if c.class == "" {
			continue
		}
		cls := "[" + c.class + "]"
		if c.trim {
			cls = "(?m)^" + cls + "+|" + cls + "+$"
		}
		re, err := regexp.Compile(cls)
		if err != nil {
			return nil, &engine.FieldError{Field: c.name, Err: err}
		}
		*c.dst = re
	}
	if f.prefix, err = event.ParseTemplate(o.Prefix); err != nil {
		return nil, &engine.FieldError{Field: "prefix", Err: err}
	}
	for _, l := range []struct {
		name string
		src  []string
		dst  *[]event.Template
	}{{"include_keys", o.IncludeKeys, &f.include}, {"exclude_keys", o.ExcludeKeys, &f.exclude}} {
		for _, s := range l.src {
			t, err := event.ParseTemplate(s)
			if err != nil {
				return nil, &engine.FieldError{Field: l.name, Err: err}
			}
			*l.dst = append(*l.dst, t)
		}
	}
	keys := make([]string, 0, len(o.DefaultKeys))
	for k := range o.DefaultKeys {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		f.defaults = append(f.defaults, pair{k, o.DefaultKeys[k]})
	}
	return f, nil
}

// splitExpr returns the expression of a split option: the characters of s as
// a character class, or s as a pattern in which ^ and $ match at line ends.
func splitExpr(name, s string, pattern bool) (string, error) {
	expr := "[" + s + "]"
	if pattern {
		expr = "(?m:" + s + ")"
	}
	if _, err := regexp.Compile(expr); err != nil {
		return "", &engine.FieldError{Field: name, Err: err}
	}
	return expr, nil
}

// untilClass is a capture of one or more characters outside class, each
// possibly escaped by a backslash.
func untilClass(class string) string { return `((?:\\.|[^` + class + `])+)` }

// quoted is a value between open and close, its inside captured.
func quoted(open, close string) string {
	return regexp.QuoteMeta(open) + untilClass(regexp.QuoteMeta(close)) + "?" + regexp.QuoteMeta(close)
}

// errNoPairs is returned, untagged, when nothing was found: the engine then
// skips the common options, as Logstash does.
var errNoPairs = fmt.Errorf("kv: no key/value pairs found: %w", engine.ErrNotApplied)

// Filter parses the source of e and sets the pairs found.
func (f *Filter) Filter(_ context.Context, e *event.Event, out []*event.Event) ([]*event.Event, error) {
	out = append(out, e)
	p := parser{f: f, e: e}
	var kv []pair
	switch v, _ := e.Get(f.source); x := v.(type) {
	case string:
		kv = p.parse(x, kv)
	case []any:
		for _, el := range x {
			if s, ok := el.(string); ok {
				kv = p.parse(s, kv)
			}
		}
	}
	if len(f.defaults) > 0 {
		merged := make([]pair, 0, len(f.defaults)+len(kv))
		for _, d := range f.defaults {
			if find(kv, d.key) < 0 {
				merged = append(merged, d)
			}
		}
		kv = append(merged, kv...)
	}
	if len(kv) == 0 {
		return out, errNoPairs
	}
	if f.hasTarget {
		m := make(map[string]any, len(kv))
		for _, p := range kv {
			m[p.key] = p.val
		}
		if err := e.Set(f.target, m); err != nil {
			return out, f.fail(e, err)
		}
		return out, nil
	}
	for _, p := range kv {
		r, err := event.ParseRef(p.key)
		if err != nil {
			return out, f.fail(e, err)
		}
		if isTags(p.key) && !legalTags(p.key, p.val) {
			return out, f.fail(e, fmt.Errorf("key %q: tags must be a string or a list of strings", p.key))
		}
		if err := e.Set(r, p.val); err != nil {
			return out, f.fail(e, err)
		}
	}
	return out, nil
}

func (f *Filter) fail(e *event.Event, err error) error {
	e.AddTag(f.tags...)
	return fmt.Errorf("kv: %w", err)
}

func isTags(k string) bool {
	return k == event.TagsField || k == "[tags]" || strings.HasPrefix(k, "[tags][")
}

// legalTags reports whether Logstash 8 accepts v at k: top-level tags hold a
// string or a list of strings, and nothing may be set inside them by name.
func legalTags(k string, v any) bool {
	if k != event.TagsField && k != "[tags]" {
		return false
	}
	switch x := v.(type) {
	case string:
		return true
	case []any:
		for _, el := range x {
			if _, ok := el.(string); !ok {
				return false
			}
		}
		return true
	}
	return false
}

func find(kv []pair, key string) int {
	for i := range kv {
		if kv[i].key == key {
			return i
		}
	}
	return -1
}

// parser holds what one event's parse renders once: the sprintf'd include
// and exclude keys and prefix.
type parser struct {
	f                *Filter
	e                *event.Event
	rendered         bool
	include, exclude []string
	prefix           string
}

func (p *parser) render() {
	if p.rendered {
		return
	}
	p.rendered = true
	for _, t := range p.f.include {
		p.include = append(p.include, t.Render(p.e))
	}
	for _, t := range p.f.exclude {
		p.exclude = append(p.exclude, t.Render(p.e))
	}
	p.prefix = p.f.prefix.Render(p.e)
}

// parse appends the pairs of text to kv, merging repeated keys, as kv.rb's
// parse does.
func (p *parser) parse(text string, kv []pair) []pair {
	f := p.f
	if !f.hasSplit.MatchString(text) {
		return kv
	}
	p.render()
	for _, m := range f.pairs(text) {
		key, value := m.key, m.value
		if value == "" && !f.allowEmpty {
			continue
		}
		if f.trimKey != nil {
			key = f.trimKey.ReplaceAllLiteralString(key, "")
		}
		if f.removeKey != nil {
			key = f.removeKey.ReplaceAllLiteralString(key, "")
		}
		key = transform(key, f.transformKey)
		if len(p.include) > 0 && !slices.Contains(p.include, key) {
			continue
		}
		if slices.Contains(p.exclude, key) {
			continue
		}
		key = p.prefix + key
		if f.trimValue != nil {
			value = f.trimValue.ReplaceAllLiteralString(value, "")
		}
		if f.removeVal != nil {
			value = f.removeVal.ReplaceAllLiteralString(value, "")
		}
		value = transform(value, f.transformValue)
		i := find(kv, key)
		if !f.allowDup && i >= 0 && includes(kv[i].val, value) {
			continue
		}
		var v any = value
		if f.recursive {
			if inner := p.parse(value, nil); len(inner) > 0 {
				m := make(map[string]any, len(inner))
				for _, ip := range inner {
					m[ip.key] = ip.val
				}
				v = m
			}
		}
		switch {
		case i < 0:
			kv = append(kv, pair{key, v})
		default:
			if list, ok := kv[i].val.([]any); ok {
				kv[i].val = append(list, v)
			} else {
				kv[i].val = []any{kv[i].val, v}
			}
		}
	}
	return kv
}

type match struct{ key, value string }

// pairs returns the keys and values the scan expression finds in text, as
// Ruby's String#scan does.
func (f *Filter) pairs(text string) []match {
	if f.pat != nil {
		return f.pat.scan(text)
	}
	var out []match
	for _, m := range f.scan.FindAllStringSubmatchIndex(text, -1) {
		out = append(out, match{key: text[m[2]:m[3]], value: firstGroup(text, m, 2, f.nValues)})
	}
	return out
}

// firstGroup returns the first of n groups from g that took part in match m
// (Ruby's value_candidates.compact.first), or "".
func firstGroup(text string, m []int, g, n int) string {
	for ; n > 0; g, n = g+1, n-1 {
		if m[2*g] >= 0 {
			return text[m[2*g]:m[2*g+1]]
		}
	}
	return ""
}

// includes is Ruby's include? on a value already collected: substring for a
// string, membership for an array.
func includes(have any, v string) bool {
	switch h := have.(type) {
	case string:
		return strings.Contains(h, v)
	case []any:
		for _, el := range h {
			if el == v {
				return true
			}
		}
	case map[string]any:
		_, ok := h[v]
		return ok
	}
	return false
}

func transform(s, how string) string {
	switch how {
	case "lowercase":
		return strings.ToLower(s)
	case "uppercase":
		return strings.ToUpper(s)
	case "capitalize":
		r, size := utf8.DecodeRuneInString(s)
		if size == 0 {
			return s
		}
		return string(unicode.ToUpper(r)) + strings.ToLower(s[size:])
	}
	return s
}
