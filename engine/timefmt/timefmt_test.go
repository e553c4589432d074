package timefmt

import (
	"strings"
	"testing"
	"time"

	"github.com/pipelined/pipeline/engine/internal/tsvtest"
)

func mustTime(t testing.TB, s string) time.Time {
	t.Helper()
	tm, err := ParseTimestamp(s)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

// TestJodaFile runs testdata/joda.txt, whose expectations come from Joda-Time.
func TestJodaFile(t *testing.T) {
	for _, c := range tsvtest.Read(t, "testdata/joda.txt", 3, 3) {
		pattern, ts, want := c.Fields[0], c.Fields[1], c.Fields[2]
		t.Run(pattern, func(t *testing.T) {
			f, err := ParseJoda(pattern)
			if wantErr, ok := strings.CutPrefix(want, "error: "); ok {
				if err == nil {
					t.Fatalf("%s: ParseJoda(%q) = nil error; want one containing %q", c.Pos, pattern, wantErr)
				}
				if !strings.Contains(err.Error(), wantErr) {
					t.Errorf("%s: ParseJoda(%q) error = %q; want it to contain %q", c.Pos, pattern, err, wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("%s: ParseJoda(%q): %v", c.Pos, pattern, err)
			}
			tm := mustTime(t, ts)
			if got := f.Format(tm); got != want {
				t.Errorf("%s: Format(%q, %s) = %q; want %q", c.Pos, pattern, ts, got, want)
			}
			if got := string(f.AppendFormat([]byte("x"), tm)); got != "x"+want {
				t.Errorf("%s: AppendFormat(%q, %s) = %q; want %q", c.Pos, pattern, ts, got, "x"+want)
			}
			if f.String() != pattern {
				t.Errorf("String() = %q; want %q", f.String(), pattern)
			}
		})
	}
}

func TestJodaFormatsInLocation(t *testing.T) {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Skipf("no time zone data: %v", err)
	}
	tm := time.Date(2026, 7, 1, 14, 30, 0, 0, paris)
	tests := []struct {
		name, pattern, want string
	}{
		{"clock", "HH:mm", "14:30"},
		{"offset", "Z", "+0200"},
		{"offset colon", "ZZ", "+02:00"},
		{"zone id", "ZZZ", "Europe/Paris"},
		{"zone short", "z", "CEST"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := MustJoda(tc.pattern).Format(tm); got != tc.want {
				t.Errorf("Format(%q) = %q; want %q", tc.pattern, got, tc.want)
			}
		})
	}
	west := time.Date(2026, 7, 1, 14, 30, 0, 0, time.FixedZone("", -(3*3600+30*60)))
	if got := MustJoda("Z ZZ ZZZ z").Format(west); got != "-0330 -03:30 -03:30 -03:30" {
		t.Errorf("Format(fixed -03:30) = %q; want %q", got, "-0330 -03:30 -03:30 -03:30")
	}
}

func TestParseISO8601(t *testing.T) {
	utc := func(y int, mo time.Month, d, h, mi, s, ns int) time.Time {
		return time.Date(y, mo, d, h, mi, s, ns, time.UTC)
	}
	tests := []struct {
		in   string
		want time.Time
		err  bool
	}{
		{in: "2026-11-24T10:00:01.000Z", want: utc(2026, 11, 24, 10, 0, 1, 0)},
		{in: "2026-11-24T10:00:01.123456789Z", want: utc(2026, 11, 24, 10, 0, 1, 123456789)},
		{in: "2026-11-24T10:00:01+02:00", want: utc(2026, 11, 24, 8, 0, 1, 0)},
		{in: "2026-11-24T10:00:01-0230", want: utc(2026, 11, 24, 12, 30, 1, 0)},
		{in: "2026-11-24T10:00:01+02", want: utc(2026, 11, 24, 8, 0, 1, 0)},
		{in: "2026-11-24T10:00:01.5", want: utc(2026, 11, 24, 10, 0, 1, 500_000_000)},
		{in: "2026-11-24T10:00", want: utc(2026, 11, 24, 10, 0, 0, 0)},
		{in: "2026-11-24", want: utc(2026, 11, 24, 0, 0, 0, 0)},
		{in: "2026-11-24Z", want: utc(2026, 11, 24, 0, 0, 0, 0)},
		{in: "2026-11-24t10:00:01z", want: utc(2026, 11, 24, 10, 0, 1, 0)},
		{in: "+12345-01-01T00:00:00Z", want: utc(12345, 1, 1, 0, 0, 0, 0)},
		{in: "", err: true},
		{in: "yesterday", err: true},
		{in: "2026-11-24 10:00:01", err: true},
		{in: "2026-13-01", err: true},
		{in: "2026-02-30", err: true},
		{in: "2026-11-24T25:00", err: true},
		{in: "2026-11-24T10", err: true},
		{in: "2026-11-24T10:00:01+0", err: true},
		{in: "2026-11-24T10:00:01+02:", err: true},
		{in: "2026-11-24T10:00:01Zjunk", err: true},
		{in: "26-11-24", err: true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseTimestamp(tc.in)
			if tc.err {
				if err == nil {
					t.Errorf("ParseTimestamp(%q) = %v; want error", tc.in, got)
				}
				return
			}
			if err != nil || !got.Equal(tc.want) || got.Location() != time.UTC {
				t.Errorf("ParseTimestamp(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
			}
		})
	}
}
