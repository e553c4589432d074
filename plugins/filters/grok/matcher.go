package grok

// Matcher is one grok pattern compiled only to tell whether a string
// matches, for plugins that take a grok pattern without captures (the
// multiline codec's pattern). It matches as the grok filter does: Logstash's
// pattern library, Onigmo's syntax and flags.
type Matcher struct {
	c compiled
}

// CompileMatcher compiles p with Logstash's legacy library of patterns and
// those of the files in patternsDir (directories or files, as the grok
// filter's patterns_dir; read here). Errors about the files are
// *engine.FieldError values naming patterns_dir.
func CompileMatcher(p string, patternsDir []string) (*Matcher, error) {
	o := Options{PatternsDir: patternsDir}
	o.ECSCompatibility = "disabled"
	defs, _, err := o.library()
	if err != nil {
		return nil, err
	}
	c, err := compilePattern(p, defs, true, "", nil, 0)
	if err != nil {
		return nil, err
	}
	return &Matcher{c: c}, nil
}

// MatchString reports whether s matches.
func (m *Matcher) MatchString(s string) bool {
	p := &m.c
	var idx []int
	if p.re != nil {
		idx = p.re.FindStringSubmatchIndex(s)
		if idx == nil {
			return false // no relaxed match: no match (see onig.go)
		}
	}
	if p.bt != nil && !(p.verifiable && p.tr.verify(s, idx)) {
		bm, err := p.bt.FindStringMatch(s)
		return err == nil && bm != nil
	}
	return true
}
