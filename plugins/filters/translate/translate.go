// Package translate implements the translate filter, like Logstash's: it looks
// the value of a field up in a dictionary and stores what it finds in the
// target field.
//
// The dictionary is inline (dictionary) or a file (dictionary_path): YAML
// (.yml, .yaml), JSON (.json) or CSV (.csv, the first column is the key, the
// second the value). A file's values keep their types (numbers, booleans,
// lists, objects). Entries keep the order they are written in, in the file or
// inline, which matters for regular expression keys. Keys are strings (a YAML
// key 200 is the key "200"; Logstash would keep the number, which no field
// value matches).
//
// Lookup, as in Logstash: with exact (the default) and without regex, the
// whole value must be a key; with exact and regex, the value of the first key
// whose regular expression matches somewhere in it (Go syntax, where ^ and $
// match at line ends as in Ruby); without exact, every occurrence of any key
// in the value is replaced by its value (keys are literal text, the first
// listed wins at one position), and it is a match when the text changed.
//
// The looked-up value is the source field's text: a string as is, the first
// element of a list, a number or another value as Ruby's to_s prints it. When
// nothing matches, fallback (a sprintf template) is stored instead, if given.
// With iterate_on equal to source, the source is a list and the target gets a
// list of the translations (null, or the fallback, where nothing matched);
// with iterate_on naming a list of objects, each object's source field is
// translated into the object's target field.
//
// The target defaults to "translation", or, with ECS compatibility (v1, v8),
// to the source itself (in place). An event whose target exists is left alone
// unless override is true, which is the default when source and target are
// the same. The deprecated field and destination options are still accepted
// for source and target, with a warning.
//
// A dictionary file is read when the pipeline starts (a missing or bad file
// fails the build) and again every refresh_interval seconds: the check is made
// as events arrive and the file is read in the background, never holding up
// the events, which use the dictionary they find. With refresh_interval at 300
// or less the file is read only when its modification time changed, as in
// Logstash; 0 or less never reloads. refresh_behaviour "merge" updates and
// adds entries, keeping those no longer in the file; "replace" replaces the
// dictionary. A file that fails to load (missing, invalid, over budget) keeps
// the old dictionary and logs a warning. A file may hold at most
// DictionaryFileBudget bytes, a YAML file at most
// yaml_dictionary_code_point_limit characters.
//
// The common options apply when a translation (or fallback) was stored, and
// always when source and target are the same, as in Logstash.
//
// ecs_compatibility chooses the default target.
package translate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/engine/valuefmt"
	"github.com/pipelined/pipeline/plugins/internal/ecs"
)

func init() { engine.RegisterFilter("translate", New) }

// DictionaryFileBudget is the largest dictionary file read, in bytes: a
// larger one is refused (at start) or ignored with a warning (on reload).
const DictionaryFileBudget = 64 << 20

// defaultCodePointLimit is Logstash's yaml_dictionary_code_point_limit.
const defaultCodePointLimit = 134_217_728

// Options configures the translate filter.
type Options struct {
	// Source is the field whose value is looked up. Required (or field).
	Source string `hcl:"source,optional"`
	// Field is the deprecated name of source.
	Field string `hcl:"field,optional" deprecated:"source"`
	// Target is the field the translation is stored in; by default
	// "translation", or the source itself with ECS compatibility.
	Target string `hcl:"target,optional"`
	// Destination is the deprecated name of target.
	Destination string `hcl:"destination,optional" deprecated:"target"`
	// Override replaces a target that exists already. It defaults to true
	// when source and target are the same (and may not be false then), to
	// false otherwise.
	Override *bool `hcl:"override,optional"`
	// Dictionary is the inline dictionary: { "200" = "OK" }. Exclusive with
	// dictionary_path.
	Dictionary engine.Hash `hcl:"dictionary,optional" item:"translation"`
	// DictionaryPath is a YAML (.yml, .yaml), JSON (.json) or CSV (.csv)
	// dictionary file.
	DictionaryPath string `hcl:"dictionary_path,optional"`
	// YAMLDictionaryCodePointLimit is the most characters a YAML dictionary
	// may hold (default 134217728); only for YAML files.
	YAMLDictionaryCodePointLimit *int `hcl:"yaml_dictionary_code_point_limit,optional"`
	// YAMLLoadStrategy is "one_shot" or "streaming". Both read the file the
	// same way here; the option is accepted for compatibility.
	YAMLLoadStrategy string `hcl:"yaml_load_strategy,optional"`
	// RefreshInterval is how often, in seconds, the dictionary file is
	// checked for changes; 0 or less never.
	RefreshInterval float64 `hcl:"refresh_interval,optional"`
	// RefreshBehaviour is "merge" (update and add entries) or "replace" (the
	// new file replaces the dictionary).
	RefreshBehaviour string `hcl:"refresh_behaviour,optional"`
	// Exact requires the whole value to be a key (or, with regex, a key to
	// match in it). When false, occurrences of keys in the value are replaced.
	Exact bool `hcl:"exact,optional"`
	// Regex treats the keys as regular expressions (with exact).
	Regex bool `hcl:"regex,optional"`
	// Fallback is stored when nothing matches (a sprintf template).
	Fallback *string `hcl:"fallback,optional"`
	// IterateOn is a list field to translate element by element: the source
	// itself (a list of values), or a list of objects holding source.
	IterateOn string `hcl:"iterate_on,optional"`
	ecs.Compatibility
}

// Defaults sets Logstash's defaults.
func (o *Options) Defaults() {
	o.YAMLLoadStrategy = "one_shot"
	o.RefreshInterval = 300
	o.RefreshBehaviour = "merge"
	o.Exact = true
	o.Compatibility.Defaults()
}

var yamlPath = regexp.MustCompile(`\.y[a]?ml$`)

// fileKind is the format of a dictionary file by its name, as Logstash's.
func fileKind(path string) string {
	switch {
	case yamlPath.MatchString(path):
		return "yaml"
	case strings.HasSuffix(path, ".json"):
		return "json"
	case strings.HasSuffix(path, ".csv"):
		return "csv"
	}
	return ""
}

// Validate checks the options without reading the dictionary file.
func (o *Options) Validate() error {
	if err := o.Compatibility.Validate(); err != nil {
		return err
	}
	if o.DictionaryPath != "" && len(o.Dictionary) > 0 {
		return &engine.FieldError{Field: "dictionary_path", Err: errors.New("the options 'dictionary' and 'dictionary_path' are mutually exclusive")}
	}
	if o.Field != "" && o.Source != "" {
		return &engine.FieldError{Field: "field", Err: fmt.Errorf("please remove `field => %q` and only set the `source => ...` option instead", o.Field)}
	}
	if o.Destination != "" && o.Target != "" {
		return &engine.FieldError{Field: "destination", Err: fmt.Errorf("please remove `destination => %q` and only set the `target => ...` option instead", o.Destination)}
	}
	source, target := o.resolved()
	if source == "" {
		return &engine.FieldError{Field: "source", Err: errors.New("no source field specified, please provide the `source => ...` option")}
	}
	for name, ref := range map[string]string{"source": source, "target": target, "iterate_on": o.IterateOn} {
		if ref == "" {
			continue
		}
		if _, err := event.ParseRef(ref); err != nil {
			return &engine.FieldError{Field: name, Err: err}
		}
	}
	if source == target && o.Override != nil && !*o.Override {
		return &engine.FieldError{Field: "override", Err: errors.New("configuring `override => false` with in-place translation has no effect, please remove the option")}
	}
	switch o.RefreshBehaviour {
	case "merge", "replace":
	default:
		return &engine.FieldError{Field: "refresh_behaviour", Err: fmt.Errorf("%q: want \"merge\" or \"replace\"", o.RefreshBehaviour)}
	}
	switch o.YAMLLoadStrategy {
	case "one_shot", "streaming":
	default:
		return &engine.FieldError{Field: "yaml_load_strategy", Err: fmt.Errorf("%q: want \"one_shot\" or \"streaming\"", o.YAMLLoadStrategy)}
	}
	if o.DictionaryPath != "" {
		kind := fileKind(o.DictionaryPath)
		if kind == "" {
			return &engine.FieldError{Field: "dictionary_path", Err: fmt.Errorf("dictionary %s has a non valid format: want .yml, .yaml, .json or .csv", o.DictionaryPath)}
		}
		if o.YAMLDictionaryCodePointLimit != nil && kind != "yaml" {
			return &engine.FieldError{Field: "yaml_dictionary_code_point_limit", Err: errors.New("please remove `yaml_dictionary_code_point_limit` for dictionary file in JSON or CSV format")}
		}
	}
	if o.YAMLDictionaryCodePointLimit != nil && *o.YAMLDictionaryCodePointLimit <= 0 {
		return &engine.FieldError{Field: "yaml_dictionary_code_point_limit", Err: fmt.Errorf("please set a positive number, not %d", *o.YAMLDictionaryCodePointLimit)}
	}
	if o.Fallback != nil {
		if _, err := event.ParseTemplate(*o.Fallback); err != nil {
			return &engine.FieldError{Field: "fallback", Err: err}
		}
	}
	if o.Exact && o.Regex {
		for _, kv := range o.Dictionary {
			if _, err := compileKey(kv.Key); err != nil {
				return &engine.FieldError{Field: "dictionary", Err: fmt.Errorf("key %q: %w", kv.Key, err)}
			}
		}
	}
	return nil
}

// resolved returns source and target after the deprecated names and the ECS
// default.
func (o *Options) resolved() (source, target string) {
	source, target = o.Source, o.Target
	if source == "" {
		source = o.Field
	}
	if target == "" {
		target = o.Destination
	}
	if target == "" {
		target = "translation"
		if o.Compatibility.ECS() {
			target = source
		}
	}
	return source, target
}

type updateMode uint8

const (
	singleValue updateMode = iota
	arrayOfValues
	arrayOfMaps
)

// Filter is the translate filter. It is safe for concurrent use: lookups read
// an immutable dictionary that a reload swaps atomically.
type Filter struct {
	source, target, iterate event.Ref
	inPlace                 bool
	override                bool
	mode                    updateMode
	fallback                event.Template
	hasFallback             bool
	// for arrayOfMaps: the source and target inside each element, as
	// bracketed references to append to "[iterate_on][i]".
	innerSource, innerTarget string
	iterateName              string

	exact, regex bool
	dict         atomic.Pointer[dictionary]
	file         *fileSource
	logger       *slog.Logger
}

var _ engine.Filter = (*Filter)(nil)

// New builds a translate filter; a dictionary file is read now.
func New(o Options, r engine.Resources) (*Filter, error) {
	source, target := o.resolved()
	f := &Filter{
		source:  event.MustRef(source),
		target:  event.MustRef(target),
		inPlace: source == target,
		exact:   o.Exact,
		regex:   o.Regex,
		logger:  r.Logger,
	}
	if f.logger == nil {
		f.logger = slog.New(slog.DiscardHandler)
	}
	f.override = f.inPlace
	if o.Override != nil {
		f.override = *o.Override
	}
	if o.Fallback != nil {
		f.fallback, f.hasFallback = event.MustTemplate(*o.Fallback), true
	}
	switch {
	case o.IterateOn == "":
		f.mode = singleValue
	case o.IterateOn == source:
		f.mode = arrayOfValues
		f.iterate = event.MustRef(o.IterateOn)
	default:
		f.mode = arrayOfMaps
		f.iterate = event.MustRef(o.IterateOn)
		f.iterateName = bracketed(o.IterateOn)
		f.innerSource, f.innerTarget = bracketed(source), bracketed(target)
	}
	if o.DictionaryPath == "" {
		keys := make([]string, 0, len(o.Dictionary))
		vals := make(map[string]any, len(o.Dictionary))
		for _, kv := range o.Dictionary {
			keys = append(keys, kv.Key)
			vals[kv.Key] = kv.Value
		}
		d, err := newDictionary(keys, vals, f.exact, f.regex)
		if err != nil {
			return nil, &engine.FieldError{Field: "dictionary", Err: err}
		}
		f.dict.Store(d)
		return f, nil
	}
	limit := defaultCodePointLimit
	if o.YAMLDictionaryCodePointLimit != nil {
		limit = *o.YAMLDictionaryCodePointLimit
	}
	f.file = &fileSource{
		path:       o.DictionaryPath,
		kind:       fileKind(o.DictionaryPath),
		replace:    o.RefreshBehaviour == "replace",
		codePoints: limit,
		interval:   time.Duration(o.RefreshInterval * float64(time.Second)),
		logger:     f.logger,
	}
	d, err := f.file.load(nil, f.exact, f.regex)
	if err != nil {
		return nil, &engine.FieldError{Field: "dictionary_path", Err: err}
	}
	f.dict.Store(d)
	if f.file.interval > 0 {
		f.file.next.Store(time.Now().Add(f.file.interval).UnixNano())
	}
	return f, nil
}

// bracketed is Logstash's ensure_reference_format: "[a]" stays, "a" becomes
// "[a]".
func bracketed(s string) string {
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		return s
	}
	return "[" + s + "]"
}

var errSkipped = fmt.Errorf("translate: nothing translated: %w", engine.ErrNotApplied)

// Filter translates the source of e.
func (f *Filter) Filter(_ context.Context, e *event.Event, out []*event.Event) ([]*event.Event, error) {
	out = append(out, e)
	if f.file != nil {
		f.file.maybeReload(f)
	}
	d := f.dict.Load()
	var matched bool
	var err error
	switch f.mode {
	case singleValue:
		if !f.override && has(e, f.target) || !has(e, f.source) {
			return out, errSkipped
		}
		matched, err = f.updateSingle(d, e)
	case arrayOfValues:
		if !f.override && has(e, f.target) || !has(e, f.iterate) {
			return out, errSkipped
		}
		matched, err = f.updateValues(d, e)
	case arrayOfMaps:
		if !has(e, f.iterate) {
			return out, errSkipped
		}
		matched, err = f.updateMaps(d, e)
	}
	if err != nil {
		f.logger.Error("translate: something went wrong when attempting to translate from dictionary", "source", f.source.String(), "error", err.Error())
		return out, fmt.Errorf("translate: %v: %w", err, engine.ErrNotApplied)
	}
	if matched || f.inPlace {
		return out, nil
	}
	return out, errSkipped
}

func has(e *event.Event, r event.Ref) bool {
	_, ok := e.Get(r)
	return ok
}

func (f *Filter) updateSingle(d *dictionary, e *event.Event) (bool, error) {
	v, _ := e.Get(f.source)
	var text string
	switch x := v.(type) {
	case string:
		text = x
	case []any:
		if len(x) > 0 {
			text = toS(x[0])
		}
	default:
		text = toS(x)
	}
	if val, ok := d.lookup(text); ok {
		return true, e.Set(f.target, val)
	}
	if f.hasFallback {
		return true, e.Set(f.target, f.fallback.Render(e))
	}
	return false, nil
}

func (f *Filter) updateValues(d *dictionary, e *event.Event) (bool, error) {
	v, _ := e.Get(f.iterate)
	src := rubyArray(v)
	out := make([]any, len(src))
	if f.hasFallback {
		fb := f.fallback.Render(e)
		for i := range out {
			out[i] = fb
		}
	}
	for i, el := range src {
		if val, ok := d.lookup(toS(el)); ok {
			out[i] = val
		}
	}
	if err := e.Set(f.target, out); err != nil {
		return false, err
	}
	for _, el := range out {
		if el != nil && el != false {
			return true, nil
		}
	}
	return false, nil
}

func (f *Filter) updateMaps(d *dictionary, e *event.Event) (bool, error) {
	v, _ := e.Get(f.iterate)
	n := len(rubyArray(v))
	hit := false
	for i := 0; i < n; i++ {
		prefix := fmt.Sprintf("%s[%d]", f.iterateName, i)
		src, err := event.ParseRef(prefix + f.innerSource)
		if err != nil {
			return hit, err
		}
		inner, ok := e.Get(src)
		if !ok || inner == nil {
			continue
		}
		dst, err := event.ParseRef(prefix + f.innerTarget)
		if err != nil {
			return hit, err
		}
		if val, ok := d.lookup(toS(inner)); ok {
			if err := e.Set(dst, val); err != nil {
				return hit, err
			}
			hit = true
		} else if f.hasFallback {
			if err := e.Set(dst, f.fallback.Render(e)); err != nil {
				return hit, err
			}
			hit = true
		}
	}
	return hit, nil
}

// rubyArray is Ruby's Array(v): a list as is, nil as empty, an object as its
// [key, value] pairs, anything else as a list of itself.
func rubyArray(v any) []any {
	switch x := v.(type) {
	case []any:
		return x
	case nil:
		return nil
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		out := make([]any, 0, len(keys))
		for _, k := range keys {
			out = append(out, []any{k, x[k]})
		}
		return out
	}
	return []any{v}
}

func toS(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	return string(valuefmt.AppendRubyToS(nil, v))
}

// dictionary is an immutable lookup table.
type dictionary struct {
	keys  []string // in order
	vals  map[string]any
	res   []*regexp.Regexp // exact+regex: one per key
	union *regexp.Regexp   // !exact: any key, literally
	exact bool
}

func compileKey(k string) (*regexp.Regexp, error) { return regexp.Compile("(?m)" + k) }

func newDictionary(keys []string, vals map[string]any, exact, regex bool) (*dictionary, error) {
	d := &dictionary{keys: keys, vals: vals, exact: exact}
	switch {
	case exact && regex:
		d.res = make([]*regexp.Regexp, len(keys))
		for i, k := range keys {
			re, err := compileKey(k)
			if err != nil {
				return nil, fmt.Errorf("key %q: %w", k, err)
			}
			d.res[i] = re
		}
	case !exact && len(keys) > 0:
		quoted := make([]string, len(keys))
		for i, k := range keys {
			quoted[i] = regexp.QuoteMeta(k)
		}
		re, err := regexp.Compile(strings.Join(quoted, "|"))
		if err != nil {
			return nil, err
		}
		d.union = re
	}
	return d, nil
}

// lookup returns a copy of the translation of text, and whether there is one.
func (d *dictionary) lookup(text string) (any, bool) {
	switch {
	case d.res != nil:
		for i, re := range d.res {
			if re.MatchString(text) {
				return deepCopy(d.vals[d.keys[i]]), true
			}
		}
		return nil, false
	case d.exact:
		v, ok := d.vals[text]
		return deepCopy(v), ok
	case d.union == nil:
		return nil, false
	}
	replaced := d.union.ReplaceAllStringFunc(text, func(m string) string { return toS(d.vals[m]) })
	if replaced == text {
		return nil, false
	}
	return replaced, true
}

func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, el := range x {
			m[k] = deepCopy(el)
		}
		return m
	case []any:
		l := make([]any, len(x))
		for i, el := range x {
			l[i] = deepCopy(el)
		}
		return l
	}
	return v
}
