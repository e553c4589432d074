package grok

import (
	"errors"
	"strconv"
	"strings"
	"testing"
)

// The plain-decimal fast path of rubyToF agrees with the general Ruby
// String#to_f reading on decimals and near misses.
func TestRubyToFFastPath(t *testing.T) {
	for _, s := range []string{"0", "12", "-0.5", "+3.25", "007", "1.", ".5", "1.2.3", "1e3", "1_000", " 4", "-", "", "12abc", "3.14159265358979323846"} {
		slow := func() float64 {
			m := floatPrefix.FindString(s)
			m = strings.TrimLeft(strings.ReplaceAll(m, "_", ""), " \t\n\v\f\r")
			for m != "" {
				if fl, err := strconv.ParseFloat(m, 64); err == nil || errors.Is(err, strconv.ErrRange) {
					return fl
				}
				m = m[:len(m)-1]
			}
			return 0
		}()
		if got := rubyToF(s); got != slow {
			t.Errorf("rubyToF(%q) = %v; the general path gives %v", s, got, slow)
		}
	}
	for s, want := range map[string]bool{"12": true, "-0.5": true, "1.": false, ".5": false, "1e3": false, "": false, "+": false} {
		if plainDecimal(s) != want {
			t.Errorf("plainDecimal(%q) = %v", s, !want)
		}
	}
}
