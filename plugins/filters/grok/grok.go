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
// The pattern library is Logstash's own (logstash-patterns-core, built into
// the binary): with ecs_compatibility "disabled" its legacy set (clientip,
// verb, logsource, …), with "v1" or "v8" (the default, as in Logstash 8) its
// ECS set ([source][address], [http][request][method], [host][hostname], …).
// Every pattern of both sets compiles. patterns_dir files and
// pattern_definitions add to it or override it.
//
// Patterns are matched by Go's RE2 engine (linear time) wherever that gives
// Onigmo's answer. Look-around, atomic groups and backreferences, which RE2
// lacks, run on a backtracking engine (github.com/dlclark/regexp2), bounded
// by timeout_millis; a relaxed RE2 form of such a pattern still rejects
// non-matching lines and, when the removed constructs are checked to hold,
// gives the answer alone, so the backtracking engine runs only when a check
// fails. Possessive quantifiers, conditionals and absent operators are a
// configuration error naming the pattern.
//
// Patterns are expanded and matched here, not with github.com/vjeantet/grok
// (which the tests still use as a reference): its map-building API allocates
// per event, it silently matches nothing for [a][b] capture names, it races
// when patterns are compiled concurrently, it has no list of patterns per
// field, and its library is a rewritten subset of Logstash's. Every pattern
// is expanded once, when the pipeline is built, into one regexp whose groups
// map to prepared field references.
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
//
// ecs_compatibility selects the pattern library: "disabled" is Logstash's
// legacy set (fields such as clientip, verb, response), "v1" and "v8" its ECS
// set (fields such as [source][address], [http][request][method]).
package grok

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"regexp/syntax"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/dlclark/regexp2"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/engine/valuefmt"
	"github.com/pipelined/pipeline/plugins/internal/ecs"
)

func init() { engine.RegisterFilter("grok", New) }

// Options configures the grok filter.
type Options struct {
	// Match maps a field to the pattern, or list of patterns, it is matched
	// against: { message = "%{IP:client} %{WORD:method}" } or
	// { message = ["%{SYSLOGLINE}", "%{GREEDYDATA:message}"] }. Fields are
	// tried in the order written. Logstash's flat array form, ["message",
	// "pattern", …], is accepted too. Without it nothing matches, so every
	// event gets tag_on_failure, as in Logstash (whose default is {}).
	Match engine.HashOfLists `hcl:"match,optional" item:"pattern"`
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
	// PatternsDir lists directories (or files, or globs) of pattern files to
	// read, as Logstash's patterns_dir: each line "NAME definition". They add
	// to or override the library; pattern_definitions overrides them. As in
	// Logstash, an entry that matches nothing (a directory missing on this
	// machine) reads nothing, with a warning; a pattern the match option
	// uses and nothing defines stops `pipeline run` at start and is a
	// warning in `pipeline check`, as Logstash finds it only at start. The
	// files of LOGSTASH_HOME/patterns, when that variable is set, are read
	// before these, as Logstash's default patterns path.
	PatternsDir []string `hcl:"patterns_dir,optional"`
	// PatternsFilesGlob selects the files read in each patterns_dir directory.
	PatternsFilesGlob string `hcl:"patterns_files_glob,optional"`
	ecs.Compatibility
	// TimeoutMillis bounds the matching of a pattern that needs the
	// backtracking engine (one using look-around, atomic groups or
	// backreferences); 0 disables the bound. Patterns run by Go's RE2 engine
	// take time linear in the line and are not interrupted.
	TimeoutMillis float64 `hcl:"timeout_millis,optional"`
	// TimeoutScope is "pattern" (each pattern attempt gets timeout_millis) or
	// "event" (all attempts of one event share it; an attempt that starts
	// with budget left may still run for up to timeout_millis).
	TimeoutScope string `hcl:"timeout_scope,optional"`
	// TagOnTimeout is the tag added when matching is cut off by the timeout;
	// the event is then not tagged with tag_on_failure.
	TagOnTimeout string `hcl:"tag_on_timeout,optional"`
}

// Defaults sets Logstash's defaults.
func (o *Options) Defaults() {
	o.BreakOnMatch = true
	o.NamedCapturesOnly = true
	o.TagOnFailure = []string{"_grokparsefailure"}
	o.PatternsFilesGlob = "*"
	o.Compatibility.Defaults()
	o.TimeoutMillis = 30000
	o.TimeoutScope = "pattern"
	o.TagOnTimeout = "_groktimeout"
}

// Validate checks the options without reading pattern files or compiling
// patterns: New does that, once.
func (o *Options) Validate() error {
	for _, en := range o.Match {
		if _, err := event.ParseRef(en.Key); err != nil {
			return &engine.FieldError{Field: "match", Err: fmt.Errorf("field %q: %w", en.Key, err)}
		}
		if len(en.Values) == 0 {
			return &engine.FieldError{Field: "match", Err: fmt.Errorf("field %q: the pattern list is empty", en.Key)}
		}
	}
	if err := o.Compatibility.Validate(); err != nil {
		return err
	}
	if _, err := filepath.Match(o.PatternsFilesGlob, ""); err != nil {
		return &engine.FieldError{Field: "patterns_files_glob", Err: err}
	}
	for k := range o.PatternDefinitions {
		if !validName(k) {
			return &engine.FieldError{Field: "pattern_definitions", Err: fmt.Errorf("%q is not a pattern name (letters, digits and _)", k)}
		}
	}
	if o.TimeoutMillis < 0 {
		return &engine.FieldError{Field: "timeout_millis", Err: errors.New("must be 0 (no timeout) or more")}
	}
	if o.TimeoutScope != "pattern" && o.TimeoutScope != "event" {
		return &engine.FieldError{Field: "timeout_scope", Err: fmt.Errorf(`want "pattern" or "event"; got %q`, o.TimeoutScope)}
	}
	if o.Target != "" {
		if _, err := event.ParseRef(bracket(o.Target)); err != nil {
			return &engine.FieldError{Field: "target", Err: err}
		}
	}
	return nil
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
	// re is the pattern for Go's RE2 engine: exact when bt is nil, else the
	// relaxed form (see onig.go), nil when even that cannot be written.
	re *regexp.Regexp
	// tr holds the checks that make a relaxed match exact; verifiable is
	// false when some construct cannot be checked, and every relaxed match
	// then goes to bt.
	tr         *translation
	verifiable bool
	bt         *regexp2.Regexp
	btGroups   []int // regexp2 group number of each capture
	captures   []capture
	name       string // the pattern as written, for logs
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
	timeout      time.Duration // 0: none
	eventScope   bool
	timeoutTag   string
}

// library returns the pattern definitions in effect: the library chosen by
// ecs_compatibility, then the files of LOGSTASH_HOME/patterns, then
// patterns_dir, then pattern_definitions; the last definition of a name
// wins. missing lists the patterns_dir entries that matched no file.
func (o *Options) library() (defs map[string]string, missing []string, err error) {
	lib := legacyLibrary()
	if o.Compatibility.ECS() {
		lib = ecsLibrary()
	}
	defs = make(map[string]string, len(lib)+len(o.PatternDefinitions))
	for k, v := range lib {
		defs[k] = v
	}
	glob := o.PatternsFilesGlob
	if glob == "" {
		glob = "*"
	}
	files, _ := patternFiles(patternsPath(), "*")
	more, missing := patternFiles(o.PatternsDir, glob)
	for _, f := range append(files, more...) {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, nil, &engine.FieldError{Field: "patterns_dir", Err: err}
		}
		if err := parsePatternFile(string(b), defs); err != nil {
			return nil, nil, &engine.FieldError{Field: "patterns_dir", Err: fmt.Errorf("%s: %w", f, err)}
		}
	}
	for k, v := range o.PatternDefinitions {
		defs[k] = strings.TrimRight(v, "\r\n") // Logstash chomps
	}
	return defs, missing, nil
}

// patternsPath is the part of Logstash's default patterns path that is not
// its core library: every file of LOGSTASH_HOME/patterns
// (logstash-filter-grok grok.rb #patterns_path, with
// LogStash::Environment.pattern_path("*") of lib/bootstrap/environment.rb),
// read when the LOGSTASH_HOME environment variable names a directory.
func patternsPath() []string {
	if h := os.Getenv("LOGSTASH_HOME"); h != "" {
		return []string{filepath.Join(h, "patterns", "*")}
	}
	return nil
}

// patternFiles lists the pattern files of paths as Logstash's grok
// (grok.rb #patterns_files_from_paths) does: a directory stands for
// directory/glob, every path is then a glob (Ruby's Dir.glob, sorted), and
// directories among the matches are skipped. A path that matches nothing,
// a directory that does not exist included, reads nothing: Logstash's
// patterns_dir is an :array option, not a :path one, so nothing checks that
// it exists. missing lists those paths.
func patternFiles(paths []string, glob string) (files, missing []string) {
	for _, p := range paths {
		if st, err := os.Stat(p); err == nil && st.IsDir() {
			p = filepath.Join(p, glob)
		}
		matches, _ := filepath.Glob(p) // a malformed glob matches nothing, as in Ruby
		sort.Strings(matches)
		for _, f := range matches {
			if st, err := os.Stat(f); err == nil && !st.IsDir() {
				files = append(files, f)
			}
		}
		if len(matches) == 0 {
			missing = append(missing, p)
		}
	}
	return files, missing
}

// unknownPatternError is a %{NAME} that no library, file or definition
// defines.
type unknownPatternError struct{ name string }

func (u *unknownPatternError) Error() string { return fmt.Sprintf("unknown pattern %%{%s}", u.name) }

// compile reads the pattern library and compiles every pattern of validated
// options.
func (o *Options) compile() (*config, []string, error) {
	defs, missing, err := o.library()
	if err != nil {
		return nil, nil, err
	}
	overwrite := make(map[string]bool, len(o.Overwrite))
	for _, s := range o.Overwrite {
		overwrite[s] = true
	}
	target := ""
	if o.Target != "" {
		target = bracket(o.Target)
	}
	c := &config{breakOnMatch: o.BreakOnMatch, keepEmpty: o.KeepEmptyCaptures, tags: o.TagOnFailure,
		timeout: time.Duration(o.TimeoutMillis * float64(time.Millisecond)), eventScope: o.TimeoutScope == "event", timeoutTag: o.TagOnTimeout}
	for _, en := range o.Match {
		s := source{ref: event.MustRef(en.Key)}
		for _, p := range en.Values {
			cp, err := compilePattern(p, defs, o.NamedCapturesOnly, target, overwrite, c.timeout)
			if err != nil {
				err = &engine.FieldError{Field: "match", Err: fmt.Errorf("pattern %q: %w", p, err)}
				if u := (*unknownPatternError)(nil); errors.As(err, &u) {
					// Logstash's grok compiles its patterns in register
					// (jls-grok raises PatternError there), with the pattern
					// files of the machine it runs on.
					if len(missing) > 0 {
						err = &engine.FieldError{Field: "match", Err: fmt.Errorf("pattern %q: %w (patterns_dir %q matches no file here)", p, u, strings.Join(missing, `", "`))}
					}
					err = engine.AtStart(err)
				}
				return nil, nil, err
			}
			s.patterns = append(s.patterns, cp)
		}
		c.sources = append(c.sources, s)
	}
	return c, missing, nil
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
	equiv     bool           // use the RE2 equivalents of library definitions
	sup       []superset     // supersets used (equiv only)
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
			if strings.HasPrefix(p[i:], `\k<`) {
				// A backreference by name: to the generated name of the
				// first group so named.
				if end := strings.IndexByte(p[i:], '>'); end > 0 {
					if k := x.groupIndex(p[i+3 : i+end]); k >= 0 {
						fmt.Fprintf(&b, `\k<_g%d>`, k)
						i += end + 1
						continue
					}
				}
			}
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
			if x.equiv {
				def = re2Equivalent(name, def)
			}
			if !ok {
				return "", &unknownPatternError{name}
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
			if rel, ok := supersets[name]; ok && x.equiv && def == rel.from && !strings.Contains(inner, "(?P<") {
				// A token translate replaces with the superset (onig.go).
				k := len(x.sup)
				x.sup = append(x.sup, superset{relaxed: rel.to, exact: inner, first: rel.first})
				inner = fmt.Sprintf("(?>%c%d%c)", supersetMark, k, supersetMark)
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

// groupIndex is the index of the first group capturing into field, -1 if none.
func (x *expander) groupIndex(field string) int {
	for k, g := range x.groups {
		if g.field == field {
			return k
		}
	}
	return -1
}

// compilePattern expands and compiles one pattern.
func compilePattern(p string, defs map[string]string, namedOnly bool, target string, overwrite map[string]bool, timeout time.Duration) (compiled, error) {
	x := &expander{defs: defs, namedOnly: namedOnly, used: map[string]int{}, equiv: true}
	expr, err := x.expand(p)
	if err != nil {
		return compiled{}, err
	}
	// The same expansion with the definitions as written, for the
	// backtracking engine; the groups are the same (equivalents capture
	// nothing).
	orig := &expander{defs: defs, namedOnly: namedOnly, used: map[string]int{}}
	exprBT, err := orig.expand(p)
	if err != nil {
		return compiled{}, err
	}
	c, err := compileExpr(expr, exprBT, x.sup, timeout)
	if err != nil {
		return compiled{}, blame(err, x.used, defs)
	}
	c.name = p
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
		gname := fmt.Sprintf("_g%d", k)
		cp := capture{group: -1, ref: ref, conv: g.conv, overwrite: overwrite[g.field]}
		if c.re != nil {
			cp.group = c.re.SubexpIndex(gname)
		}
		c.captures = append(c.captures, cp)
		if c.bt != nil {
			c.btGroups = append(c.btGroups, c.bt.GroupNumberFromName(gname))
		}
	}
	if c.re != nil && c.verifiable {
		for _, cp := range c.captures {
			if cp.group < 0 {
				// A capture inside a removed look-around: only the
				// backtracking engine has it.
				c.verifiable = false
			}
		}
	}
	return c, nil
}

// compileExpr compiles an expanded pattern for RE2, and, when it needs them,
// for the backtracking engine with its relaxed RE2 prefilter.
func compileExpr(expr, exprBT string, sup []superset, timeout time.Duration) (compiled, error) {
	tr, err := translate(expr, false, sup)
	if err != nil {
		return compiled{}, err
	}
	// Onigmo, Logstash's engine, always lets ^ and $ match at line ends, and
	// Logstash compiles with Regexp::MULTILINE, which lets . match a newline
	// (Perl's s flag): %{GREEDYDATA} takes a stack trace whole.
	re, reErr := regexp.Compile(onigFlags + tr.re2)
	var se *syntax.Error
	if errors.As(reErr, &se) && se.Code == syntax.ErrInvalidRepeatSize {
		if tr, err = translate(expr, true, sup); err != nil {
			return compiled{}, err
		}
		re, reErr = regexp.Compile(onigFlags + tr.re2)
	}
	if tr.net == "" {
		if reErr != nil {
			return compiled{}, reErr
		}
		return compiled{re: re}, nil
	}
	net := tr.net
	if exprBT != expr {
		trBT, err := translate(exprBT, false, nil)
		if err != nil {
			return compiled{}, err
		}
		net = trBT.netAll
	}
	bt, err := regexp2.Compile(net, netFlags)
	if err != nil {
		return compiled{}, fmt.Errorf("the backtracking engine refuses it: %w", err)
	}
	if timeout > 0 {
		bt.MatchTimeout = timeout
	}
	c := compiled{bt: bt, tr: tr}
	if reErr == nil {
		c.re = re
		c.verifiable = tr.verifiable && tr.compileChecks(re)
	}
	return c, nil
}

// blame names the library or user pattern whose own definition cannot be
// compiled: the most deeply nested one that fails alone.
func blame(err error, used map[string]int, defs map[string]string) error {
	best, depth := "", -1
	for name, d := range used {
		x := &expander{defs: defs, namedOnly: true, used: map[string]int{}, equiv: true}
		e, xerr := x.expand(defs[name])
		if xerr != nil {
			continue
		}
		orig := &expander{defs: defs, namedOnly: true, used: map[string]int{}}
		eBT, _ := orig.expand(defs[name])
		if _, cerr := compileExpr(e, eBT, x.sup, 0); cerr != nil && (d > depth || d == depth && name < best) {
			best, depth = name, d
		}
	}
	if best != "" {
		return fmt.Errorf("pattern %%{%s} cannot be compiled: %w", best, err)
	}
	return fmt.Errorf("cannot be compiled: %w", err)
}

// Filter is the grok filter.
type Filter struct {
	c   *config
	log *slog.Logger
}

var _ engine.Filter = (*Filter)(nil)

// New compiles every pattern. It must run on one goroutine (the engine builds
// pipelines that way); Filter is then safe for concurrent use.
func New(o Options, r engine.Resources) (*Filter, error) {
	c, missing, err := o.compile()
	if err != nil {
		return nil, err
	}
	if r.Logger == nil {
		r.Logger = slog.Default()
	}
	for _, p := range missing {
		r.Logger.Warn("grok patterns_dir matches no file here: no patterns read from it", "path", p)
	}
	if len(o.Match) == 0 && len(o.TagOnFailure) > 0 {
		r.Logger.Warn("grok has no match option: every event fails to match and is tagged", "tag_on_failure", o.TagOnFailure)
	}
	return &Filter{c: c, log: r.Logger}, nil
}

var (
	errNoMatch = errors.New("grok: no pattern matched")
	errTimeout = errors.New("grok: matching timed out")
)

// matchState is the per-event state of one Filter call.
type matchState struct {
	deadline time.Time // event scope only
	timedOut bool
}

// Filter matches the fields of e and stores the captures.
func (f *Filter) Filter(_ context.Context, e *event.Event, out []*event.Event) ([]*event.Event, error) {
	matched := false
	var st matchState
	if f.c.eventScope && f.c.timeout > 0 {
		st.deadline = time.Now().Add(f.c.timeout)
	}
	for i := range f.c.sources {
		s := &f.c.sources[i]
		v, _ := e.Get(s.ref)
		ok := false
		if arr, isArr := v.([]any); isArr {
			for _, el := range arr {
				ok = f.matchValue(s, toString(el), e, &st) || ok
				if st.timedOut {
					break
				}
			}
		} else {
			ok = f.matchValue(s, toString(v), e, &st)
		}
		if st.timedOut {
			// As Logstash: the timeout ends grok for this event, with
			// tag_on_timeout instead of tag_on_failure.
			if f.c.timeoutTag != "" {
				e.AddTag(f.c.timeoutTag)
			}
			return append(out, e), errTimeout
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
		return string(valuefmt.AppendRubyFloat(nil, x))
	case bool:
		return strconv.FormatBool(x)
	}
	return string(event.AppendJavaString(nil, v))
}

func (f *Filter) matchValue(s *source, in string, e *event.Event, st *matchState) bool {
	matched := false
	for i := range s.patterns {
		p := &s.patterns[i]
		var m []int
		var bm *regexp2.Match
		if p.re != nil {
			m = p.re.FindStringSubmatchIndex(in)
			if m == nil {
				continue // no relaxed match: no match (see onig.go)
			}
		}
		if p.bt != nil && !(p.verifiable && p.tr.verify(in, m)) {
			if !st.deadline.IsZero() && !time.Now().Before(st.deadline) {
				st.timedOut = true
				return matched
			}
			var err error
			bm, err = p.bt.FindStringMatch(in)
			if err != nil {
				st.timedOut = true
				if f.log != nil {
					f.log.Warn("grok: timeout matching a pattern", "pattern", p.name, "value_length", len(in), "timeout", f.c.timeout)
				}
				return matched
			}
			if bm == nil {
				continue
			}
		}
		matched = true
		for j := range p.captures {
			c := &p.captures[j]
			var val any
			var text string
			present := false
			if bm != nil {
				if g := bm.GroupByNumber(p.btGroups[j]); g != nil && len(g.Captures) > 0 {
					text, present = g.String(), true
				}
			} else if lo, hi := m[2*c.group], m[2*c.group+1]; lo >= 0 {
				text, present = in[lo:hi], true
			}
			if present {
				switch c.conv {
				case convInt:
					val = rubyToI(text)
				case convFloat:
					val = rubyToF(text)
				default:
					val = text
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
	// A plain decimal ("12", "-0.5"), what captures almost always are, is
	// its own prefix: no regexp needed.
	if plainDecimal(s) {
		if fl, err := strconv.ParseFloat(s, 64); err == nil {
			return fl
		}
	}
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

// plainDecimal reports whether s is [+-]?digits[.digits]: text that Ruby's
// to_f and Float() read whole, exactly as strconv.ParseFloat does.
func plainDecimal(s string) bool {
	if s != "" && (s[0] == '-' || s[0] == '+') {
		s = s[1:]
	}
	digits, dot := 0, -1
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			digits++
		case c == '.' && dot < 0 && digits > 0:
			dot = i
		default:
			return false
		}
	}
	return digits > 0 && dot != len(s)-1
}
