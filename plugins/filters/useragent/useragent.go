// Package useragent implements the useragent filter, like Logstash's: it
// parses a browser's User-Agent text into the browser's name and version,
// the operating system's and the device's name.
//
// The patterns are ua-parser's (uap-core's regexes.yaml), embedded as the
// uap-go module ships them, or those of the file regexes names (same format).
// They are applied as Logstash's parser applies them: the first pattern that
// matches wins, "Other" when none does. Patterns are Go regular expressions;
// the embedded ones are a newer uap-core than Logstash 8's (v0.12.0), so a
// few recent browsers may be named differently (better) than Logstash names
// them. Results are kept in an LRU cache of lru_cache_size entries: a text
// seen before costs microseconds, a new one about half a millisecond (each
// pattern is first checked for literals a match must contain, which skips
// most of them).
//
// With ecs_compatibility disabled the fields are name, device, major, minor,
// patch, version, os, os_name, os_major, os_minor, os_patch, os_version and
// os_full, each with prefix, under target (by default the top level). With v1
// or v8 they are [name], [version], [device][name], [os][name],
// [os][version] and [os][full] under target (by default [user_agent]), and
// the version parts go to [@metadata][filter][user_agent]. A part that is
// missing is not set.
//
// The source may be a string or a list (its first element); when it is
// missing, empty or not a string the event is left alone. When target equals
// source, the source is replaced. The common options apply when the event was
// parsed.
//
// ecs_compatibility chooses the field names.
package useragent

import (
	"container/list"
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/ua-parser/uap-go/uaparser"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/plugins/internal/ecs"
)

func init() { engine.RegisterFilter("useragent", New) }

// RegexesFileBudget is the largest regexes file read, in bytes.
const RegexesFileBudget = 16 << 20

// Options configures the useragent filter.
type Options struct {
	// Source is the field holding the User-Agent text. Required.
	Source string `hcl:"source"`
	// Target is the field the results are stored under: by default the top
	// level, or [user_agent] with ECS compatibility.
	Target string `hcl:"target,optional"`
	// Regexes is a regexes.yaml file in ua-parser's format to use instead of
	// the embedded one.
	Regexes string `hcl:"regexes,optional"`
	// Prefix starts each field name (ECS compatibility disabled only).
	Prefix string `hcl:"prefix,optional"`
	// LRUCacheSize is how many parsed User-Agent texts are kept.
	LRUCacheSize int64 `hcl:"lru_cache_size,optional"`
	ecs.Compatibility
}

// Defaults sets Logstash's defaults.
func (o *Options) Defaults() {
	o.LRUCacheSize = 100_000
	o.Compatibility.Defaults()
}

// Validate checks the options without reading regexes.
func (o *Options) Validate() error {
	if err := o.Compatibility.Validate(); err != nil {
		return err
	}
	if _, err := event.ParseRef(o.Source); err != nil {
		return &engine.FieldError{Field: "source", Err: err}
	}
	if o.LRUCacheSize < 0 {
		return &engine.FieldError{Field: "lru_cache_size", Err: fmt.Errorf("%d is negative", o.LRUCacheSize)}
	}
	if _, err := o.refs(); err != nil {
		return err
	}
	return nil
}

// refs are the fields the filter sets.
type refs struct {
	name, device, version     event.Ref
	major, minor, patch       event.Ref
	osFull, osName, legacyOS  event.Ref
	hasLegacyOS               bool
	osVersion                 event.Ref
	osMajor, osMinor, osPatch event.Ref
}

func (o *Options) refs() (*refs, error) {
	target := o.Target
	if target == "" && o.Compatibility.ECS() {
		target = "[user_agent]"
	}
	if target != "" && !(strings.HasPrefix(target, "[") && strings.HasSuffix(target, "]") && !strings.ContainsAny(target[1:len(target)-1], "[]")) {
		target = "[" + target + "]"
	}
	var err error
	ref := func(s string) event.Ref {
		r, e := event.ParseRef(s)
		if e != nil && err == nil {
			err = &engine.FieldError{Field: "target", Err: e}
		}
		return r
	}
	r := &refs{}
	if o.Compatibility.ECS() {
		const meta = "[@metadata][filter][user_agent]"
		r.name, r.device, r.version = ref(target+"[name]"), ref(target+"[device][name]"), ref(target+"[version]")
		r.major, r.minor, r.patch = ref(meta+"[version][major]"), ref(meta+"[version][minor]"), ref(meta+"[version][patch]")
		r.osFull, r.osName, r.osVersion = ref(target+"[os][full]"), ref(target+"[os][name]"), ref(target+"[os][version]")
		r.osMajor, r.osMinor, r.osPatch = ref(meta+"[os][version][major]"), ref(meta+"[os][version][minor]"), ref(meta+"[os][version][patch]")
	} else {
		p := func(name string) event.Ref {
			if strings.ContainsAny(o.Prefix, "[]") {
				if err == nil {
					err = &engine.FieldError{Field: "prefix", Err: fmt.Errorf("%q: brackets cannot be part of a field name", o.Prefix)}
				}
				return event.Ref{}
			}
			return ref(target + "[" + o.Prefix + name + "]")
		}
		r.name, r.device, r.version = p("name"), p("device"), p("version")
		r.major, r.minor, r.patch = p("major"), p("minor"), p("patch")
		r.osFull, r.osName, r.osVersion = p("os_full"), p("os_name"), p("os_version")
		r.legacyOS, r.hasLegacyOS = p("os"), true
		r.osMajor, r.osMinor, r.osPatch = p("os_major"), p("os_minor"), p("os_patch")
	}
	if err != nil {
		return nil, err
	}
	return r, nil
}

// Filter is the useragent filter. It is safe for concurrent use.
type Filter struct {
	source        event.Ref
	replaceSource bool
	refs          *refs
	parser        *parser
	cache         *lru
}

var _ engine.Filter = (*Filter)(nil)

// The embedded patterns are compiled once, for every filter that uses them.
var embedded = sync.OnceValues(func() (*parser, error) { return newParser(uaparser.DefinitionYaml) })

// New builds a useragent filter, reading regexes.
func New(o Options, res engine.Resources) (*Filter, error) {
	if o.Compatibility.ECS() && o.Prefix != "" && res.Logger != nil {
		res.Logger.Warn("useragent: prefix isn't supported in ECS compatibility mode; it is ignored", "prefix", o.Prefix)
	}
	r, _ := o.refs()
	f := &Filter{
		source:        event.MustRef(o.Source),
		replaceSource: o.Target != "" && o.Target == o.Source,
		refs:          r,
		cache:         newLRU(int(min(o.LRUCacheSize, 1<<30))),
	}
	var err error
	if o.Regexes == "" {
		f.parser, err = embedded()
	} else {
		f.parser, err = loadRegexes(o.Regexes)
	}
	if err != nil {
		return nil, &engine.FieldError{Field: "regexes", Err: err}
	}
	return f, nil
}

func loadRegexes(path string) (*parser, error) {
	file, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer file.Close()
	b, err := io.ReadAll(io.LimitReader(file, RegexesFileBudget+1))
	if err != nil {
		return nil, err
	}
	if len(b) > RegexesFileBudget {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, RegexesFileBudget)
	}
	p, err := newParser(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}

// Filter parses the User-Agent of e.
func (f *Filter) Filter(_ context.Context, e *event.Event, out []*event.Event) ([]*event.Event, error) {
	out = append(out, e)
	v, _ := e.Get(f.source)
	if l, ok := v.([]any); ok {
		v = nil
		if len(l) > 0 {
			v = l[0]
		}
	}
	s, ok := v.(string)
	if !ok || s == "" {
		return out, engine.ErrNotApplied
	}
	c, ok := f.cache.get(s)
	if !ok {
		c = f.parser.parse(s)
		f.cache.put(s, c)
	}
	if f.replaceSource {
		e.Delete(f.source)
	}
	if err := f.set(e, s, c); err != nil {
		return out, fmt.Errorf("useragent: %w", err)
	}
	return out, nil
}

func (f *Filter) set(e *event.Event, source string, c client) error {
	r := f.refs
	var err error
	set := func(ref event.Ref, v string) {
		if err == nil {
			err = e.Set(ref, v)
		}
	}
	ua := c.ua
	set(r.name, ua.family)
	set(r.device, c.device)
	for i, ref := range []event.Ref{r.major, r.minor, r.patch} {
		if ua.v[i] != nil {
			set(ref, *ua.v[i])
		}
	}
	if ua.v[0] != nil {
		version := *ua.v[0]
		if ua.v[1] != nil {
			version += "." + *ua.v[1]
			if ua.v[2] != nil {
				version += "." + *ua.v[2]
				if ua.v[3] != nil {
					version += "." + *ua.v[3]
				} else {
					version = adjustVersion(source, version)
				}
			}
		}
		set(r.version, version)
	}
	osv := c.os
	for i, ref := range []event.Ref{r.osMajor, r.osMinor, r.osPatch} {
		if osv.v[i] != nil {
			set(ref, *osv.v[i])
		}
	}
	version, hasVersion := osVersion(osv)
	if hasVersion {
		set(r.osVersion, version)
	}
	set(r.osName, osv.family)
	if r.hasLegacyOS {
		set(r.legacyOS, osv.family)
	}
	full := osv.family
	if hasVersion {
		full += " " + version
	}
	set(r.osFull, full)
	return err
}

// adjustVersion adds a fourth version part found in the text right after
// the three-part version, as Logstash's check_and_adjust_version does.
func adjustVersion(source, version string) string {
	i := strings.Index(source, version)
	if i < 0 {
		return version
	}
	i += len(version)
	if i >= len(source) || source[i] != '.' {
		return version
	}
	end := strings.IndexByte(source[i+1:], ' ')
	if end < 0 {
		return version
	}
	part := source[i+1 : i+1+end]
	if n, err := strconv.ParseInt(part, 10, 64); err == nil && strconv.FormatInt(n, 10) == part {
		return version + "." + part
	}
	return version
}

// osVersion is Logstash's build_os_version: parts joined with dots, except
// that a major that is not a number ("Vista") is followed by a space.
func osVersion(a agent) (string, bool) {
	if a.v[0] == nil {
		return "", false
	}
	major := *a.v[0]
	sep := " "
	if n, err := strconv.ParseInt(major, 10, 64); err == nil && strconv.FormatInt(n, 10) == major {
		sep = "."
	}
	version := major
	if a.v[1] != nil {
		version += sep + *a.v[1]
		if a.v[2] != nil {
			version += "." + *a.v[2]
			if a.v[3] != nil {
				version += "." + *a.v[3]
			}
		}
	}
	return version, true
}

// lru is a least-recently-used cache of parse results.
type lru struct {
	mu    sync.Mutex
	max   int
	items map[string]*list.Element
	order list.List
}

type lruEntry struct {
	key string
	c   client
}

func newLRU(max int) *lru { return &lru{max: max, items: map[string]*list.Element{}} }

func (l *lru) get(k string) (client, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	el, ok := l.items[k]
	if !ok {
		return client{}, false
	}
	l.order.MoveToFront(el)
	return el.Value.(*lruEntry).c, true
}

func (l *lru) put(k string, c client) {
	if l.max <= 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if el, ok := l.items[k]; ok {
		l.order.MoveToFront(el)
		return
	}
	l.items[k] = l.order.PushFront(&lruEntry{k, c})
	if l.order.Len() > l.max {
		old := l.order.Back()
		l.order.Remove(old)
		delete(l.items, old.Value.(*lruEntry).key)
	}
}
