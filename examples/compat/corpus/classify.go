package corpus

import (
	"regexp"
	"strconv"
	"strings"
)

// CheckError is one error of `pipeline check` output.
type CheckError struct {
	Line, Col int // 0 when the error has no position
	Summary   string
	Detail    string // the first line of explanation under the summary
}

var (
	errHead   = regexp.MustCompile(`^(?:(.*?):(\d+):(\d+): )?error: (.*)$`)
	warnHead  = regexp.MustCompile(`^(?:(.*?):(\d+):(\d+): )?warning: (.*)$`)
	snippetLn = regexp.MustCompile(`^\s*\d*\s\|`)
)

// ParseErrors reads the errors out of `pipeline check` output: each starts
// with "file:line:col: error: summary" (or "error: summary") and goes on
// with indented lines, the first of which explains it; a source snippet
// ("12 | …") follows.
func ParseErrors(out string) []CheckError { return parseDiags(out, errHead) }

// startRefusal is what check adds to the detail of a warning about an error
// Logstash finds only when the pipeline starts (engine.StartRefusal; the
// engine is not imported, so that this package measures any build).
const startRefusal = "refuses to start with this"

// ParseStartRefusals reads the warnings of `pipeline check` output about
// errors `pipeline run` refuses at start, as Logstash does (its plugins'
// register errors, which `logstash -t` does not see).
func ParseStartRefusals(out string) []CheckError {
	var errs []CheckError
	for _, w := range parseDiags(out, warnHead) {
		if strings.Contains(w.Detail, startRefusal) {
			errs = append(errs, w)
		}
	}
	return errs
}

func parseDiags(out string, head *regexp.Regexp) []CheckError {
	var errs []CheckError
	lines := strings.Split(out, "\n")
	for i := 0; i < len(lines); i++ {
		m := head.FindStringSubmatch(lines[i])
		if m == nil {
			continue
		}
		e := CheckError{Summary: strings.TrimSpace(m[4])}
		e.Line, _ = strconv.Atoi(m[2])
		e.Col, _ = strconv.Atoi(m[3])
		for j := i + 1; j < len(lines) && strings.HasPrefix(lines[j], "    "); j++ {
			if snippetLn.MatchString(lines[j]) {
				break
			}
			e.Detail += strings.TrimSpace(lines[j]) + " "
		}
		e.Detail = strings.TrimSpace(e.Detail)
		errs = append(errs, e)
	}
	return errs
}

// Blocker is an error reduced to what it has in common with the same
// problem in other files, so blockers can be counted.
type Blocker struct {
	Key    string
	Detail string // what Key leaves out, for the per-file results
	// Env is true for errors that come from the machine, not from the
	// language or plugins: a file or directory the configuration names is
	// missing here. Logstash would refuse those too.
	Env bool
}

var (
	reUnknownPlugin = regexp.MustCompile(`^Unknown (input|filter|output) type "([^"]+)"`)
	reUnknownCodec  = regexp.MustCompile(`^Unknown codec type "([^"]+)"`)
	reArgNamed      = regexp.MustCompile(`argument named "([^"]+)"`)
	reInvalidFor    = regexp.MustCompile(`^Invalid value for "([^"]+)"`)
	reUnknownPat    = regexp.MustCompile(`unknown pattern %\{([^}:]+)`)
	reMissingFile   = regexp.MustCompile(`no such file or directory|does not exist|is not a directory`)
	reQuoted        = regexp.MustCompile(`"[^"]*"`)
	reNumber        = regexp.MustCompile(`\b\d+\b`)
	reElse          = regexp.MustCompile(`plugin name "(elseif|else)"`)
)

// Classify turns a check error into a blocker. in is the scan of the
// checked file, used to name the plugin and the setting at the error's
// position, which the error text itself does not always say.
func Classify(e CheckError, in *Info) Blocker {
	where := ""
	setting := ""
	if e.Line > 0 && in != nil {
		off := in.Offset(e.Line, e.Col)
		if b, ok := in.PluginAt(off); ok {
			where = b.Section + " " + b.Name
			if b.Kind == "codec" {
				where = "codec " + b.Name
			}
		}
		setting, _ = in.SettingAt(off)
	}
	of := func(s string) string {
		if where == "" {
			return s
		}
		return s + " of " + where
	}
	because := func(s, why string) string {
		return of(s) + ": " + generic(strings.TrimPrefix(why, "Unsuitable value: "))
	}
	switch {
	case reUnknownPlugin.MatchString(e.Summary):
		m := reUnknownPlugin.FindStringSubmatch(e.Summary)
		return Blocker{Key: "unknown " + m[1] + " plugin " + m[2]}
	case reUnknownCodec.MatchString(e.Summary):
		return Blocker{Key: "unknown codec " + reUnknownCodec.FindStringSubmatch(e.Summary)[1]}
	case e.Summary == "Unsupported argument" && reArgNamed.MatchString(e.Detail):
		return Blocker{Key: of("unknown option " + reArgNamed.FindStringSubmatch(e.Detail)[1])}
	case reInvalidFor.MatchString(e.Summary):
		opt := reInvalidFor.FindStringSubmatch(e.Summary)[1]
		switch {
		case reMissingFile.MatchString(e.Detail):
			return Blocker{Key: of("missing local file for " + opt), Env: true}
		case reUnknownPat.MatchString(e.Detail):
			return Blocker{Key: of("unknown grok pattern"), Detail: "%{" + reUnknownPat.FindStringSubmatch(e.Detail)[1] + "}"}
		}
		return Blocker{Key: because("invalid value for "+opt, e.Detail)}
	case e.Summary == "Unsuitable value type" || e.Summary == "Incorrect attribute value type":
		if setting != "" {
			return Blocker{Key: because("wrong value type for "+setting, e.Detail)}
		}
		return Blocker{Key: because("wrong value type", e.Detail)}
	case strings.HasPrefix(e.Summary, "Expected") || strings.HasPrefix(e.Summary, "Unexpected") ||
		strings.HasPrefix(e.Summary, "Unknown section") || strings.HasPrefix(e.Summary, "Unterminated") ||
		strings.HasPrefix(e.Summary, "Unclosed"):
		key := "syntax: " + e.Summary
		if m := reElse.FindStringSubmatch(e.Detail); m != nil {
			key += " (" + m[1] + ")"
		}
		return Blocker{Key: key}
	}
	if reMissingFile.MatchString(e.Detail) {
		return Blocker{Key: of("missing local file"), Env: true}
	}
	if e.Detail != "" {
		return Blocker{Key: because(e.Summary, e.Detail)}
	}
	return Blocker{Key: of(e.Summary)}
}

// generic strips the specifics of one file (quoted values, numbers) from a
// message so the same problem in two files reads the same, and cuts it to
// a table cell.
func generic(s string) string {
	s = reQuoted.ReplaceAllString(s, `"…"`)
	s = reNumber.ReplaceAllString(s, "N")
	if i := strings.IndexAny(s, ".;"); i > 0 && i < len(s)-1 {
		s = s[:i]
	}
	s = strings.TrimSuffix(s, ".")
	if len(s) > 90 {
		s = s[:90] + "…"
	}
	return s
}
