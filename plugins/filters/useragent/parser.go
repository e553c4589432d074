package useragent

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// The parser applies ua-parser's regexes (uap-core's regexes.yaml format) as
// Logstash's Java port of ua-parser does: for each of the user agent, the
// operating system and the device, the first pattern that matches somewhere
// in the text and yields a name wins; "Other" when none does.

// client is what parse finds. Missing parts are nil.
type client struct {
	ua     agent
	os     agent
	device string
}

// agent is a name and up to four version parts (major, minor, patch,
// patch minor).
type agent struct {
	family string
	v      [4]*string
}

type regexFile struct {
	UserAgentParsers []map[string]string `yaml:"user_agent_parsers"`
	OSParsers        []map[string]string `yaml:"os_parsers"`
	DeviceParsers    []map[string]string `yaml:"device_parsers"`
}

type uaPattern struct {
	re                   *regexp.Regexp
	pre                  prefilter
	family, v1, v2       *string
	familyHasPlaceholder bool
}

type osPattern struct {
	re                 *regexp.Regexp
	pre                prefilter
	family, v1, v2, v3 *string
}

type devicePattern struct {
	re     *regexp.Regexp
	pre    prefilter
	device *string
}

type parser struct {
	ua     []uaPattern
	os     []osPattern
	device []devicePattern
}

// macOSFix is the pattern Logstash rewrites when it loads uap-core's file
// (greedy .{1,50} took the build number for the version).
const (
	macOSGreedy = `Mac OS X\s.{1,50}\s(\d+).(\d+).(\d+)`
	macOSLazy   = `Mac OS X\s.{1,50}?\s(\d+).(\d+).(\d+)`
)

func newParser(src []byte) (*parser, error) {
	var f regexFile
	if err := yaml.Unmarshal(src, &f); err != nil {
		return nil, err
	}
	switch {
	case f.UserAgentParsers == nil:
		return nil, errors.New("user_agent_parsers is missing")
	case f.OSParsers == nil:
		return nil, errors.New("os_parsers is missing")
	case f.DeviceParsers == nil:
		return nil, errors.New("device_parsers is missing")
	}
	p := &parser{}
	opt := func(m map[string]string, k string) *string {
		if v, ok := m[k]; ok {
			return &v
		}
		return nil
	}
	compile := func(kind string, i int, m map[string]string) (*regexp.Regexp, prefilter, error) {
		expr, ok := m["regex"]
		if !ok {
			return nil, prefilter{}, fmt.Errorf("%s %d: no regex", kind, i+1)
		}
		if expr == macOSGreedy {
			expr = macOSLazy
		}
		if m["regex_flag"] == "i" {
			expr = "(?i)" + expr
		}
		re, err := regexp.Compile(expr)
		if err != nil {
			return nil, prefilter{}, fmt.Errorf("%s %d: %w", kind, i+1, err)
		}
		return re, newPrefilter(expr), nil
	}
	for i, m := range f.UserAgentParsers {
		re, pre, err := compile("user_agent_parsers", i, m)
		if err != nil {
			return nil, err
		}
		pat := uaPattern{re: re, pre: pre, family: opt(m, "family_replacement"), v1: opt(m, "v1_replacement"), v2: opt(m, "v2_replacement")}
		pat.familyHasPlaceholder = pat.family != nil && strings.Contains(*pat.family, "$1")
		p.ua = append(p.ua, pat)
	}
	for i, m := range f.OSParsers {
		re, pre, err := compile("os_parsers", i, m)
		if err != nil {
			return nil, err
		}
		p.os = append(p.os, osPattern{re: re, pre: pre, family: opt(m, "os_replacement"), v1: opt(m, "os_v1_replacement"), v2: opt(m, "os_v2_replacement"), v3: opt(m, "os_v3_replacement")})
	}
	for i, m := range f.DeviceParsers {
		re, pre, err := compile("device_parsers", i, m)
		if err != nil {
			return nil, err
		}
		p.device = append(p.device, devicePattern{re: re, pre: pre, device: opt(m, "device_replacement")})
	}
	return p, nil
}

// group returns submatch n of s (nil when it did not take part).
func group(s string, m []int, n int) *string {
	if 2*n+1 >= len(m) || m[2*n] < 0 {
		return nil
	}
	g := s[m[2*n]:m[2*n+1]]
	return &g
}

func nonBlank(p *string) *string {
	if p == nil || *p == "" {
		return nil
	}
	return p
}

func (p *parser) parse(s string) client {
	lower := strings.ToLower(s)
	return client{ua: p.parseUA(s, lower), os: p.parseOS(s, lower), device: p.parseDevice(s, lower)}
}

func (p *parser) parseUA(s, lower string) agent {
	for _, pat := range p.ua {
		if !pat.pre.pass(s, lower) {
			continue
		}
		m := pat.re.FindStringSubmatchIndex(s)
		if m == nil {
			continue
		}
		groups := len(m)/2 - 1
		var a agent
		var family *string
		switch {
		case pat.family != nil:
			f := *pat.family
			if g := group(s, m, 1); pat.familyHasPlaceholder && g != nil {
				f = strings.Replace(f, "$1", *g, 1)
			}
			family = &f
		case groups >= 1:
			family = group(s, m, 1)
		}
		if family == nil {
			continue // Logstash goes on to the next pattern
		}
		a.family = *family
		if pat.v1 != nil {
			a.v[0] = pat.v1
		} else if groups >= 2 {
			a.v[0] = nonBlank(group(s, m, 2))
		}
		if pat.v2 != nil {
			a.v[1] = pat.v2
		} else if groups >= 3 {
			a.v[1] = nonBlank(group(s, m, 3))
			if groups >= 4 {
				a.v[2] = nonBlank(group(s, m, 4))
				if groups >= 5 {
					a.v[3] = nonBlank(group(s, m, 5))
				}
			}
		}
		return a
	}
	return agent{family: "Other"}
}

func (p *parser) parseOS(s, lower string) agent {
	for _, pat := range p.os {
		if !pat.pre.pass(s, lower) {
			continue
		}
		m := pat.re.FindStringSubmatchIndex(s)
		if m == nil {
			continue
		}
		groups := len(m)/2 - 1
		var family *string
		switch {
		case pat.family != nil && groups >= 1:
			g := ""
			if x := group(s, m, 1); x != nil {
				g = *x
			}
			f := strings.ReplaceAll(*pat.family, "$1", g)
			family = &f
		case pat.family != nil:
			family = pat.family
		case groups >= 1:
			family = group(s, m, 1)
		}
		if family == nil {
			continue
		}
		a := agent{family: *family}
		for i, r := range []*string{pat.v1, pat.v2, pat.v3} {
			switch {
			case r != nil && strings.HasPrefix(*r, "$"):
				n, err := strconv.Atoi((*r)[1:])
				if err == nil {
					a.v[i] = group(s, m, n)
				}
			case r != nil:
				a.v[i] = r
			case groups >= i+2:
				a.v[i] = group(s, m, i+2)
			}
		}
		if groups >= 5 {
			a.v[3] = group(s, m, 5)
		}
		return a
	}
	return agent{family: "Other"}
}

var substitution = regexp.MustCompile(`\$\d`)

func (p *parser) parseDevice(s, lower string) string {
	for _, pat := range p.device {
		if !pat.pre.pass(s, lower) {
			continue
		}
		m := pat.re.FindStringSubmatchIndex(s)
		if m == nil {
			continue
		}
		groups := len(m)/2 - 1
		switch {
		case pat.device != nil && strings.Contains(*pat.device, "$"):
			d := *pat.device
			for _, sub := range substitution.FindAllString(*pat.device, -1) {
				n := int(sub[1] - '0')
				rep := ""
				if g := group(s, m, n); g != nil && groups >= n {
					rep = *g
				}
				d = strings.Replace(d, sub, rep, 1)
			}
			return strings.TrimSpace(d)
		case pat.device != nil:
			return *pat.device
		case groups >= 1:
			if g := group(s, m, 1); g != nil {
				return *g
			}
		}
	}
	return "Other"
}
