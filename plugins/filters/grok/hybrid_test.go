package grok

import (
	"math/rand"
	"regexp"
	"sort"
	"testing"
	"time"

	"github.com/dlclark/regexp2"
)

// The hybrid matcher (RE2, its checks, the backtracking engine when a check
// fails) gives exactly what the backtracking engine alone gives, for every
// library pattern that needs it, on the table's lines and on mutations of
// them chosen to break look-arounds and atomic groups (a digit or sign glued
// before or after, characters dropped or doubled).
func TestHybridSameAsBacktracking(t *testing.T) {
	lines := map[string]bool{}
	rnd := rand.New(rand.NewSource(1))
	for _, c := range loadLibraryCases(t) {
		l := c.Line
		lines[l] = true
		lines["1"+l] = true
		lines[l+"7"] = true
		lines["-"+l] = true
		for k := 0; k < 1 && len(l) > 2; k++ {
			i := rnd.Intn(len(l) - 1)
			lines[l[:i]+l[i+1:]] = true
			lines[l[:i]+l[i:i+1]+l[i:]] = true
			lines[l[:i]+"9"+l[i:]] = true
		}
	}
	corpus := make([]string, 0, len(lines))
	for l := range lines {
		corpus = append(corpus, l)
	}
	sort.Strings(corpus)
	if raceEnabled {
		corpus = everyNth(corpus, 4)
	}
	checked, viaBT, rejected := 0, 0, 0
	slow := map[string]time.Duration{}
	for _, lib := range []map[string]string{legacyLibrary(), ecsLibrary()} {
		names := make([]string, 0, len(lib))
		for n := range lib {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			c, err := compilePattern("%{"+n+"}", lib, false, "", nil, 200*time.Millisecond)
			if err != nil {
				t.Fatal(err)
			}
			if c.bt == nil || c.re == nil {
				continue // RE2 alone
			}
			for k, in := range corpus {
				if !c.re.MatchString(in) {
					// No relaxed match must mean no match (the prefilter);
					// checked on a sample to bound the time.
					if k%8 == 0 {
						start := time.Now()
						bm, err := c.bt.FindStringMatch(in)
						if d := time.Since(start); d > 50*time.Millisecond {
							slow[n] = d
						}
						if err == nil && bm != nil {
							t.Errorf("%%{%s} on %q: the prefilter rejects a line the backtracking engine matches", n, in)
						}
						rejected++
					}
					continue
				}
				if !c.verifiable {
					continue // the backtracking engine on every match
				}
				checked++
				m := c.re.FindStringSubmatchIndex(in)
				if !c.tr.verify(in, m) {
					viaBT++
					continue // the backtracking engine runs: exact by definition
				}
				bm, err := c.bt.FindStringMatch(in)
				if err != nil {
					t.Fatal(err)
				}
				if bm == nil {
					t.Errorf("%%{%s} on %q: the hybrid matches, the backtracking engine does not", n, in)
					continue
				}
				for j, cp := range c.captures {
					var want, got string
					wok, gok := false, false
					if g := bm.GroupByNumber(c.btGroups[j]); g != nil && len(g.Captures) > 0 {
						want, wok = g.String(), true
					}
					if lo := m[2*cp.group]; lo >= 0 {
						got, gok = in[lo:m[2*cp.group+1]], true
					}
					if want != got || wok != gok {
						t.Errorf("%%{%s} on %q: capture %v = %q (%v); the backtracking engine gives %q (%v)", n, in, cp.ref, got, gok, want, wok)
					}
				}
			}
		}
	}
	t.Logf("%d relaxed matches compared, %d of them sent to the backtracking engine by a failed check; %d rejections confirmed", checked, viaBT, rejected)
	if len(slow) > 0 {
		t.Logf("slow on the backtracking engine: %v", slow)
	}
	if checked < 5000 || viaBT == 0 {
		t.Errorf("too few comparisons (%d, %d via backtracking) to mean anything", checked, viaBT)
	}
}

// Patterns RE2 runs alone give what the backtracking engine gives on the
// same text: the two engines agree on plain regular expressions, and the
// RE2 equivalents (YEAR, TIME) agree with the definitions as written.
func TestRE2SameAsBacktracking(t *testing.T) {
	var corpus []string
	for _, c := range loadLibraryCases(t) {
		corpus = append(corpus, c.Line)
	}
	n := 0
	for _, lib := range []map[string]string{legacyLibrary(), ecsLibrary()} {
		for name := range lib {
			x := &expander{defs: lib, namedOnly: false, used: map[string]int{}, equiv: true}
			expr, err := x.expand("%{" + name + "}")
			if err != nil {
				t.Fatal(err)
			}
			tr, err := translate(expr, false, x.sup)
			if err != nil || tr.net != "" {
				continue
			}
			c, err := compileExpr(expr, expr, x.sup, 0)
			if err != nil || c.re == nil || c.bt != nil {
				continue
			}
			// The backtracking engine gets the definitions as written, so
			// this also compares the RE2 equivalents with their originals.
			orig := &expander{defs: lib, namedOnly: false, used: map[string]int{}}
			exprBT, _ := orig.expand("%{" + name + "}")
			trBT, err := translate(exprBT, false, nil)
			if err != nil {
				t.Fatal(err)
			}
			bt := regexp2.MustCompile(trBT.netAll, regexp2.Multiline)
			bt.MatchTimeout = time.Second
			for _, in := range corpus {
				m := c.re.FindStringIndex(in)
				bm, _ := bt.FindStringMatch(in)
				if (m == nil) != (bm == nil) || m != nil && in[m[0]:m[1]] != bm.String() {
					t.Errorf("%%{%s} on %q: RE2 %v, backtracking %v", name, in, m, bm)
				}
				n++
			}
		}
	}
	t.Logf("%d comparisons", n)
}

func everyNth(s []string, n int) []string {
	var out []string
	for i := 0; i < len(s); i += n {
		out = append(out, s[i])
	}
	return out
}

// hostnameFirst gives what Go's regexp gives for HOSTNAME as written, on
// random strings over the characters that matter (labels past 63 characters
// included).
func TestHostnameFirst(t *testing.T) {
	def := supersets["HOSTNAME"].from
	if legacyLibrary()["HOSTNAME"] != def || ecsLibrary()["HOSTNAME"] != def {
		t.Fatal("the library's HOSTNAME is not the one hostnameFirst was written for")
	}
	re := regexp.MustCompile(`\A(?:` + def + `)`)
	rnd := rand.New(rand.NewSource(2))
	const alphabet = "aZ9-._ :"
	for n := 0; n < 20000; n++ {
		b := make([]byte, rnd.Intn(150))
		for i := range b {
			b[i] = alphabet[rnd.Intn(len(alphabet))]
			if rnd.Intn(3) > 0 {
				b[i] = "ab7"[rnd.Intn(3)] // long labels
			}
		}
		s := string(b)
		want := -1
		if loc := re.FindStringIndex(s); loc != nil {
			want = loc[1]
		}
		if got := hostnameFirst(s); got != want {
			t.Fatalf("hostnameFirst(%q) = %d; the regexp gives %d", s, got, want)
		}
	}
}
