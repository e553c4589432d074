package cron

import (
	"bufio"
	"os"
	"strings"
	"testing"
	"time"
)

// rows reads a tab-separated case file: one case a line, "#" comments.
func rows(t *testing.T, name string, cols int) [][]string {
	t.Helper()
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out [][]string
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || strings.TrimSpace(line) == "" && !strings.Contains(line, "\t") {
			continue
		}
		r := strings.Split(line, "\t")
		if len(r) != cols {
			t.Fatalf("%s:%d: %d columns, want %d", name, n, len(r), cols)
		}
		out = append(out, r)
	}
	if len(out) == 0 {
		t.Fatalf("%s: no cases", name)
	}
	return out
}

func TestNext(t *testing.T) {
	for _, r := range rows(t, "testdata/next.tsv", 3) {
		t.Run(r[0]+" from "+r[1], func(t *testing.T) {
			s, err := Parse(r[0])
			if err != nil {
				t.Fatal(err)
			}
			from, err := time.Parse(time.RFC3339, r[1])
			if err != nil {
				t.Fatal(err)
			}
			cur := from
			for _, w := range strings.Fields(r[2]) {
				want, err := time.Parse(time.RFC3339, w)
				if err != nil {
					t.Fatal(err)
				}
				got := s.Next(cur)
				if !got.Equal(want) {
					t.Fatalf("Next(%s) = %s; want %s", cur.Format(time.RFC3339), got.Format(time.RFC3339), w)
				}
				if got.Location() != cur.Location() {
					t.Errorf("Next(%s) is in %s; want the zone it was given", cur, got.Location())
				}
				cur = got
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	for _, r := range rows(t, "testdata/errors.tsv", 2) {
		t.Run(r[0], func(t *testing.T) {
			s, err := Parse(r[0])
			if err == nil {
				t.Fatalf("Parse(%q) = %v; want an error containing %q", r[0], s, r[1])
			}
			if !strings.Contains(err.Error(), r[1]) {
				t.Fatalf("Parse(%q) error %q; want it to contain %q", r[0], err, r[1])
			}
		})
	}
}

// A line without a zone is read in the zone of the time Next is given.
func TestNextLocalZone(t *testing.T) {
	s, err := Parse("0 6 * * *")
	if err != nil {
		t.Fatal(err)
	}
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	got := s.Next(time.Date(2026, 12, 7, 12, 0, 0, 0, paris))
	if want := time.Date(2026, 12, 8, 6, 0, 0, 0, paris); !got.Equal(want) {
		t.Fatalf("Next = %s; want %s", got, want)
	}
}
