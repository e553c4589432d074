// Package prune implements the prune filter, like Logstash's: it removes
// top-level fields by name or by value. Nested fields and [@metadata] are not
// looked at, as in Logstash.
//
// The names and values are regular expressions (Go syntax, matching anywhere
// in the text; ^ and $ also match at line ends, as in Ruby). With
// whitelist_names, fields whose name matches none of them are removed —
// @timestamp, @version and tags included, so list those to keep them. Fields
// whose name matches one of blacklist_names are removed; by default those
// whose name holds an unresolved "%{…}" reference.
//
// whitelist_values and blacklist_values map a field name to a pattern the
// value must (or must not) match: a field whose value does not (or does) match
// is removed; for a list, the elements that do not (or do) match are removed
// from it, and the field itself when that would be all of them. A number or a
// boolean is matched as its text ("200"); Logstash would fail on it. A null
// or false value, or an object, is left alone.
//
// With interpolate, every name and pattern is a sprintf template rendered
// from the event first (and compiled for it: slower); without, "%{…}" is
// literal text. A pattern that renders into an invalid expression removes
// nothing and fails the event. The common options always apply otherwise.
package prune

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"sync"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/engine/valuefmt"
)

func init() { engine.RegisterFilter("prune", New) }

// Options configures the prune filter.
type Options struct {
	// Interpolate renders names and patterns as sprintf templates for each
	// event.
	Interpolate bool `hcl:"interpolate,optional"`
	// WhitelistNames are patterns of the field names to keep; when set,
	// every other top-level field is removed.
	WhitelistNames []string `hcl:"whitelist_names,optional"`
	// BlacklistNames are patterns of the field names to remove.
	BlacklistNames []string `hcl:"blacklist_names,optional"`
	// WhitelistValues maps a field name to the pattern its value (or each
	// element of its list) must match to be kept.
	WhitelistValues engine.Hash `hcl:"whitelist_values,optional"`
	// BlacklistValues maps a field name to the pattern its value (or an
	// element of its list) must not match to be kept.
	BlacklistValues engine.Hash `hcl:"blacklist_values,optional"`
}

// Defaults sets Logstash's defaults.
func (o *Options) Defaults() { o.BlacklistNames = []string{`%\{[^}]+\}`} }

// Validate compiles the patterns (or parses the templates, with
// interpolate).
func (o *Options) Validate() error {
	check := func(field, s string) error {
		var err error
		if o.Interpolate {
			_, err = event.ParseTemplate(s)
		} else {
			_, err = compile(s)
		}
		if err != nil {
			return &engine.FieldError{Field: field, Err: fmt.Errorf("%q: %w", s, err)}
		}
		return nil
	}
	for _, s := range o.WhitelistNames {
		if err := check("whitelist_names", s); err != nil {
			return err
		}
	}
	for _, s := range o.BlacklistNames {
		if err := check("blacklist_names", s); err != nil {
			return err
		}
	}
	for _, h := range []struct {
		name string
		hash engine.Hash
	}{{"whitelist_values", o.WhitelistValues}, {"blacklist_values", o.BlacklistValues}} {
		for _, kv := range h.hash {
			if o.Interpolate {
				if _, err := event.ParseTemplate(kv.Key); err != nil {
					return &engine.FieldError{Field: h.name, Err: fmt.Errorf("%q: %w", kv.Key, err)}
				}
			}
			if err := check(h.name, kv.Value); err != nil {
				return err
			}
		}
	}
	return nil
}

func compile(s string) (*regexp.Regexp, error) { return regexp.Compile("(?m)" + s) }

// pattern is a regular expression, or its template with interpolate.
type pattern struct {
	re   *regexp.Regexp
	tmpl event.Template
}

// valueRule is one entry of whitelist_values or blacklist_values.
type valueRule struct {
	name  string          // the field name, without interpolate
	tmpl  *event.Template // the field name's template, with interpolate
	value pattern
}

func (r *valueRule) key(e *event.Event) string {
	if r.tmpl != nil {
		return r.tmpl.Render(e)
	}
	return r.name
}

// Filter is the prune filter. It is safe for concurrent use.
type Filter struct {
	interpolate          bool
	whitelist, blacklist []pattern
	whiteVals, blackVals []valueRule

	// cache holds expressions compiled from rendered patterns (interpolate),
	// up to cacheLimit of them.
	cache sync.Map
	count int64
	mu    sync.Mutex
}

const cacheLimit = 1000

var _ engine.Filter = (*Filter)(nil)

// New builds a prune filter.
func New(o Options, _ engine.Resources) (*Filter, error) {
	f := &Filter{interpolate: o.Interpolate}
	mk := func(s string) pattern {
		if o.Interpolate {
			return pattern{tmpl: event.MustTemplate(s)}
		}
		re, _ := compile(s)
		return pattern{re: re}
	}
	for _, s := range o.WhitelistNames {
		f.whitelist = append(f.whitelist, mk(s))
	}
	for _, s := range o.BlacklistNames {
		f.blacklist = append(f.blacklist, mk(s))
	}
	rules := func(h engine.Hash) []valueRule {
		var out []valueRule
		for _, kv := range h {
			r := valueRule{name: kv.Key, value: mk(kv.Value)}
			if o.Interpolate {
				t := event.MustTemplate(kv.Key)
				r.tmpl = &t
			}
			out = append(out, r)
		}
		return out
	}
	f.whiteVals, f.blackVals = rules(o.WhitelistValues), rules(o.BlacklistValues)
	return f, nil
}

// regexp returns p's expression for e.
func (f *Filter) regexp(p pattern, e *event.Event) (*regexp.Regexp, error) {
	if p.re != nil {
		return p.re, nil
	}
	s := p.tmpl.Render(e)
	if re, ok := f.cache.Load(s); ok {
		return re.(*regexp.Regexp), nil
	}
	re, err := compile(s)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	if f.count < cacheLimit {
		f.cache.Store(s, re)
		f.count++
	}
	f.mu.Unlock()
	return re, nil
}

func (f *Filter) anyMatch(ps []pattern, e *event.Event, s string) (bool, error) {
	for _, p := range ps {
		re, err := f.regexp(p, e)
		if err != nil {
			return false, err
		}
		if re.MatchString(s) {
			return true, nil
		}
	}
	return false, nil
}

// Filter prunes e.
func (f *Filter) Filter(_ context.Context, e *event.Event, out []*event.Event) ([]*event.Event, error) {
	out = append(out, e)
	if err := f.prune(e); err != nil {
		return out, fmt.Errorf("prune: %w", err)
	}
	return out, nil
}

func (f *Filter) prune(e *event.Event) error {
	fields := e.Fields()
	var remove []string
	if len(f.whitelist) > 0 {
		for name := range fields {
			ok, err := f.anyMatch(f.whitelist, e, name)
			if err != nil {
				return err
			}
			if !ok {
				remove = append(remove, name)
			}
		}
	}
	if len(f.blacklist) > 0 {
		for name := range fields {
			ok, err := f.anyMatch(f.blacklist, e, name)
			if err != nil {
				return err
			}
			if ok {
				remove = append(remove, name)
			}
		}
	}
	// Lists to shorten, applied after the checks so that both value rules see
	// the event as it came, as Logstash's do.
	type shorten struct {
		name string
		drop []bool
	}
	var lists []shorten
	for _, rules := range []struct {
		rules []valueRule
		keep  bool // whitelist: a match keeps
	}{{f.whiteVals, true}, {f.blackVals, false}} {
		for i := range rules.rules {
			r := &rules.rules[i]
			name := r.key(e)
			v, ok := fields[name]
			if !ok || v == nil || v == false {
				continue
			}
			re, err := f.regexp(r.value, e)
			if err != nil {
				return err
			}
			if list, ok := v.([]any); ok {
				drop := make([]bool, len(list))
				n := 0
				for i, el := range list {
					s, ok := text(el)
					if ok && re.MatchString(s) != rules.keep {
						drop[i] = true
						n++
					}
				}
				switch {
				case n == len(list) && n > 0:
					remove = append(remove, name)
				case n > 0:
					lists = append(lists, shorten{name, drop})
				}
				continue
			}
			if s, ok := text(v); ok && re.MatchString(s) != rules.keep {
				remove = append(remove, name)
			}
		}
	}
	for _, l := range lists {
		list, ok := fields[l.name].([]any)
		if !ok || len(list) != len(l.drop) {
			continue // removed meanwhile
		}
		kept := make([]any, 0, len(list))
		for i, el := range list {
			if !l.drop[i] {
				kept = append(kept, el)
			}
		}
		if r, err := topRef(l.name); err == nil {
			_ = e.Set(r, kept)
		}
	}
	for _, name := range remove {
		if r, err := topRef(name); err == nil {
			e.Delete(r)
		}
	}
	return nil
}

// topRef is the reference of the top-level field name.
func topRef(name string) (event.Ref, error) {
	return event.ParseRef("[" + name + "]")
}

// text is the value matched against a pattern: a string, or a number's or a
// boolean's text.
func text(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case int64:
		return strconv.FormatInt(x, 10), true
	case float64, bool:
		return string(valuefmt.AppendRubyToS(nil, x)), true
	}
	return "", false
}
