package correlate

import "testing"

// TestMatcherAgreesWithRegexp: the prefix fast path answers as the regular
// expression does, for patterns it applies to and patterns it must not
// (multi-line ^, case folding, alternations, no anchor).
func TestMatcherAgreesWithRegexp(t *testing.T) {
	patterns := []string{
		"^Failed", "^Failed password", "^Accepted (password|publickey)", "^Fa+iled", "^(?i)failed",
		"(?m)^Failed", "Failed", "^Failed|^Accepted", "^", "^$", "^Failed$", "^é", "^\\x{FFFD}", "^Fail(ed)?",
		"^F[a]iled", "(?s)^Failed.*root",
	}
	inputs := []string{
		"", "Failed", "Failed password for root", "failed password", "FAILED", "x\nFailed", "Fail", "Faaailed",
		"Accepted password for u", "Accepted publickey", "Accepted other", "é", "\xff", "\xe9", "Failed\nroot",
	}
	fast := 0
	for _, p := range patterns {
		m := newMatcher(p)
		if m.prefix != "" {
			fast++
		}
		for _, in := range inputs {
			if got, want := m.match(in), m.re.MatchString(in); got != want {
				t.Errorf("pattern %q on %q: %v, the regexp says %v (prefix %q, complete %v)", p, in, got, want, m.prefix, m.complete)
			}
		}
	}
	if fast < 5 {
		t.Errorf("the fast path applied to %d patterns only", fast)
	}
	for p, want := range map[string]bool{"^Failed password": true, "^Accepted (password|publickey)": false, "(?m)^Failed": false, "^(?i)failed": false} {
		m := newMatcher(p)
		if m.complete != want {
			t.Errorf("pattern %q: prefix %q complete %v", p, m.prefix, m.complete)
		}
	}
}
