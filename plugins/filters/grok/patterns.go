package grok

import (
	"bufio"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
	"sync"
)

// The pattern library is Logstash's own, logstash-patterns-core, vendored
// under patterns/ (see patterns/NOTICE): patterns/legacy for
// ecs_compatibility "disabled", patterns/ecs-v1 for "v1" and "v8".
//
//go:embed patterns/legacy patterns/ecs-v1
var patternFS embed.FS

// The libraries are parsed on first use, not at start-up: about 3 MB of
// allocations (most of the executable's start-up heap) that a pipeline
// without grok never needs. The maps are shared: never modify them.
var (
	legacyLibrary = sync.OnceValue(func() map[string]string { return mustLoadLibrary("patterns/legacy") })
	ecsLibrary    = sync.OnceValue(func() map[string]string { return mustLoadLibrary("patterns/ecs-v1") })
)

func mustLoadLibrary(dir string) map[string]string {
	entries, err := fs.ReadDir(patternFS, dir)
	if err != nil {
		panic(fmt.Sprintf("grok: pattern library %s: %v", dir, err))
	}
	lib := map[string]string{}
	// Logstash reads the files of a directory in sorted order; a name
	// defined twice keeps the last definition.
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	for _, n := range names {
		b, err := patternFS.ReadFile(path.Join(dir, n))
		if err != nil {
			panic(err)
		}
		if err := parsePatternFile(string(b), lib); err != nil {
			panic(fmt.Sprintf("grok: %s/%s: %v", dir, n, err))
		}
	}
	// An upstream typo, a capture named "[source][user][name?]", which is
	// no field reference (later upstream releases correct it).
	const typo = "%{DATA:[source][user][name?]}"
	for name, def := range lib {
		lib[name] = strings.ReplaceAll(def, typo, "%{DATA:[source][user][name]}")
	}
	return lib
}

// parsePatternFile reads a grok pattern file as jls-grok does: one
// "NAME definition" per line, the name and definition separated by
// whitespace; blank lines and lines starting with # are skipped.
func parsePatternFile(text string, into map[string]string) error {
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimRight(sc.Text(), "\r")
		trimmed := strings.TrimLeft(line, " \t")
		if trimmed == "" || trimmed[0] == '#' {
			continue
		}
		i := strings.IndexAny(trimmed, " \t")
		if i < 0 {
			return fmt.Errorf("line %d: %q has a name but no definition", n, line)
		}
		name, def := trimmed[:i], strings.TrimLeft(trimmed[i:], " \t")
		if !validName(name) {
			return fmt.Errorf("line %d: %q is not a pattern name (letters, digits and _)", n, name)
		}
		into[name] = def
	}
	return sc.Err()
}

// equivalents are rewrites of library definitions into forms RE2 runs, used
// for the RE2 side only (the backtracking engine gets the original, whose
// atomic groups keep it from backtracking exponentially), each matching
// exactly what the original matches under Onigmo (the argument is
// beside each; TestEquivalents compares both on generated input). A rewrite
// applies only to the definition text it was written for, so a changed
// library or a user's own definition of the name is left alone.
var equivalents = map[string]struct{ from, to string }{
	// An atomic group whose body is capture-free and has one length can
	// match in one way only, so atomicity changes nothing.
	"YEAR": {`(?>\d\d){1,2}`, `(?:\d\d){1,2}`},
	// Each quoted alternative is prefix-free (it ends at the first unescaped
	// closing quote) and capture-free, so at any position it matches at most
	// one span in one way: the atomic groups change nothing. The inner
	// atomic (?>\\.|[^\\"]+)+ accepts the same strings as the plain loop (a
	// run of ordinary characters split differently is the same text). The
	// zero-width look-behind moves out of the atomic group unchanged.
	"QUOTEDSTRING": {
		"(?>(?<!\\\\)(?>\"(?>\\\\.|[^\\\\\"]+)+\"|\"\"|(?>'(?>\\\\.|[^\\\\']+)+')|''|(?>`(?>\\\\.|[^\\\\`]+)+`)|``))",
		"(?<!\\\\)(?:\"(?:\\\\.|[^\\\\\"]+)+\"|\"\"|'(?:\\\\.|[^\\\\']+)+'|''|`(?:\\\\.|[^\\\\`]+)+`|``)",
	},
}

// supersets are the library patterns the RE2 side replaces with a small
// superset checked against the definition (see superset in onig.go): IPV6
// (about 1,000 RE2 instructions) by the characters it is made of, HOSTNAME by
// its labels without their 63-character limit ({0,62} unrolls into a long
// chain). Both definitions are RE2 as written; HOSTNAME's leading \b is
// repeated in the superset.
var supersets = map[string]struct {
	from, to string
	first    func(string) int // optional: the definition's first match, hand-written
}{
	"IPV6": {
		from: ipv6Def,
		to:   `[0-9A-Fa-f.]*:[0-9A-Fa-f:.]*(?:%.+)?`, // every IPV6 has a colon
	},
	// ECS EMAILLOCALPART's {1,62} inside {0,63} exceeds what RE2 can
	// hold; its check runs on the backtracking engine, on the local part
	// only.
	"EMAILLOCALPART": {
		from: "[a-zA-Z0-9!#$%&'*+\\-/=?^_`{|}~]{1,64}(?:\\.[a-zA-Z0-9!#$%&'*+\\-/=?^_`{|}~]{1,62}){0,63}",
		to:   "[a-zA-Z0-9!#$%&'*+\\-/=?^_`{|}~]+(?:\\.[a-zA-Z0-9!#$%&'*+\\-/=?^_`{|}~]+)*",
	},
	"HOSTNAME": {
		from:  `\b(?:[0-9A-Za-z][0-9A-Za-z-]{0,62})(?:\.(?:[0-9A-Za-z][0-9A-Za-z-]{0,62}))*(\.?|\b)`,
		to:    `\b(?:[0-9A-Za-z][0-9A-Za-z-]*)(?:\.(?:[0-9A-Za-z][0-9A-Za-z-]*))*(?:\.?|\b)`,
		first: hostnameFirst,
	},
}

// vacuousTimePrefix is the look-ahead TIME and HAPROXYTIME start with. It
// asserts the next two characters are not "<" and a digit; the next character
// is HOUR's first, a digit, never "<", so it always holds.
const vacuousTimePrefix = `(?!<[0-9])%{HOUR`

func re2Equivalent(name, def string) string {
	if e, ok := equivalents[name]; ok && def == e.from {
		return e.to
	}
	if (name == "TIME" || name == "HAPROXYTIME") && strings.HasPrefix(def, vacuousTimePrefix) {
		return def[len(`(?!<[0-9])`):]
	}
	return def
}

// ipv6Def is the IPV6 definition of both library sets.
const ipv6Def = `((([0-9A-Fa-f]{1,4}:){7}([0-9A-Fa-f]{1,4}|:))|(([0-9A-Fa-f]{1,4}:){6}(:[0-9A-Fa-f]{1,4}|((25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3})|:))|(([0-9A-Fa-f]{1,4}:){5}(((:[0-9A-Fa-f]{1,4}){1,2})|:((25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3})|:))|(([0-9A-Fa-f]{1,4}:){4}(((:[0-9A-Fa-f]{1,4}){1,3})|((:[0-9A-Fa-f]{1,4})?:((25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}))|:))|(([0-9A-Fa-f]{1,4}:){3}(((:[0-9A-Fa-f]{1,4}){1,4})|((:[0-9A-Fa-f]{1,4}){0,2}:((25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}))|:))|(([0-9A-Fa-f]{1,4}:){2}(((:[0-9A-Fa-f]{1,4}){1,5})|((:[0-9A-Fa-f]{1,4}){0,3}:((25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}))|:))|(([0-9A-Fa-f]{1,4}:){1}(((:[0-9A-Fa-f]{1,4}){1,6})|((:[0-9A-Fa-f]{1,4}){0,4}:((25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}))|:))|(:(((:[0-9A-Fa-f]{1,4}){1,7})|((:[0-9A-Fa-f]{1,4}){0,5}:((25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}))|:)))(%.+)?`

// hostnameFirst is HOSTNAME's first match at the start of s, as a
// backtracking engine finds it: the end, or -1. Every quantifier is greedy and
// the final (\.?|\b) always succeeds through \.? , so the first match is the
// all-greedy path: a label (an alphanumeric and up to 62 more alphanumerics
// or dashes), then ".label" as often as it follows, then an optional dot.
// The leading \b holds at the start of s since a label starts with an
// alphanumeric (its left side was checked in context by the superset).
// TestHostnameFirst compares it with the regexp.
func hostnameFirst(s string) int {
	label := func(i int) int { // i is past the label's first character
		for n := 0; n < 62 && i < len(s) && (isAlnum(s[i]) || s[i] == '-'); n++ {
			i++
		}
		return i
	}
	if len(s) == 0 || !isAlnum(s[0]) {
		return -1
	}
	i := label(1)
	for i+1 < len(s) && s[i] == '.' && isAlnum(s[i+1]) {
		i = label(i + 2)
	}
	if i < len(s) && s[i] == '.' {
		i++
	}
	return i
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}
