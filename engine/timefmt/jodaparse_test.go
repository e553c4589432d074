package timefmt

import (
	"strings"
	"testing"
	"time"
)

func TestJodaParse(t *testing.T) {
	now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		pattern, in string
		loc         *time.Location
		want        string // RFC 3339 UTC; "" means a parse error
	}{
		{"yyyy-MM-dd HH:mm:ss", "2026-11-24 10:00:01", nil, "2026-11-24T10:00:01Z"},
		{"yyyy-MM-dd HH:mm:ss", "2026-1-2 3:4:5", nil, "2026-01-02T03:04:05Z"},
		{"yyyy-MM-dd HH:mm:ss.SSS", "2026-11-24 10:00:01.123", nil, "2026-11-24T10:00:01.123Z"},
		{"yyyy-MM-dd HH:mm:ss.SSS", "2026-11-24 10:00:01.1", nil, "2026-11-24T10:00:01.1Z"},
		{"yyyy-MM-dd HH:mm:ss.SSS", "2026-11-24 10:00:01.1234", nil, ""}, // SSS reads at most 3 digits
		{"yyyy-MM-dd HH:mm:ss.SSSSSS", "2026-11-24 10:00:01.123456", nil, "2026-11-24T10:00:01.123Z"},
		{"yyyyMMddHHmmss", "20261124100001", nil, "2026-11-24T10:00:01Z"},
		{"yyyy-MM-dd'T'HH:mm:ssZ", "2026-11-24T10:00:01+0200", nil, "2026-11-24T08:00:01Z"},
		{"yyyy-MM-dd'T'HH:mm:ssZ", "2026-11-24t10:00:01+02:00", nil, "2026-11-24T08:00:01Z"},
		{"yyyy-MM-dd'T'HH:mm:ssZZ", "2026-11-24T10:00:01-05:30", nil, "2026-11-24T15:30:01Z"},
		{"yyyy-MM-dd'T'HH:mm:ssZZ", "2026-11-24T10:00:01Z", berlin, "2026-11-24T10:00:01Z"},
		{"yyyy-MM-dd HH:mm:ss ZZZ", "2026-07-01 10:00:00 Europe/Berlin", nil, "2026-07-01T08:00:00Z"},
		{"yyyy-MM-dd HH:mm:ss ZZZ", "2026-07-01 10:00:00 UTC", berlin, "2026-07-01T10:00:00Z"},
		{"yyyy-MM-dd HH:mm:ss ZZZ", "2026-07-01 10:00:00 Mars/Base", nil, ""},
		{"yyyy-MM-dd HH:mm:ss z", "2026-07-01 10:00:00 EDT", nil, "2026-07-01T14:00:00Z"},
		{"yyyy-MM-dd HH:mm:ss z", "2026-01-01 10:00:00 PST", nil, "2026-01-01T18:00:00Z"},
		{"yyyy-MM-dd HH:mm:ss z", "2026-01-01 10:00:00 GMT", berlin, "2026-01-01T10:00:00Z"},
		{"dd/MMM/yyyy:HH:mm:ss Z", "24/Nov/2026:10:00:01 +0000", nil, "2026-11-24T10:00:01Z"},
		{"dd/MMM/yyyy:HH:mm:ss Z", "24/NOV/2026:10:00:01 +0000", nil, "2026-11-24T10:00:01Z"},
		{"dd/MMM/yyyy:HH:mm:ss Z", "24/nov/2026:10:00:01 +0000", nil, "2026-11-24T10:00:01Z"},
		{"dd/MMM/yyyy:HH:mm:ss Z", "24/November/2026:10:00:01 +0000", nil, "2026-11-24T10:00:01Z"},
		{"dd/MMM/yyyy:HH:mm:ss Z", "24/nOV/2026:10:00:01 +0000", nil, ""},
		{"dd/MMM/yyyy:HH:mm:ss Z", "24/Foo/2026:10:00:01 +0000", nil, ""},
		{"MMMM d, yyyy", "September 5, 2026", nil, "2026-09-05T00:00:00Z"},
		{"EEE MMM dd HH:mm:ss yyyy", "Tue Nov 24 10:00:01 2026", nil, "2026-11-24T10:00:01Z"},
		{"EEEE, dd-MMM-yy HH:mm:ss", "Tuesday, 24-Nov-26 10:00:01", nil, "2026-11-24T10:00:01Z"},
		// Joda sets the day of week last: a wrong one moves the date in its week.
		{"EEE yyyy-MM-dd", "Mon 2026-11-26", nil, "2026-11-23T00:00:00Z"},
		{"e yyyy-MM-dd", "7 2026-11-24", nil, "2026-11-29T00:00:00Z"},
		{"yy-MM-dd", "26-11-24", nil, "2026-11-24T00:00:00Z"},
		{"yy-MM-dd", "95-11-24", nil, "1995-11-24T00:00:00Z"},
		{"yy-MM-dd", "2026-11-24", nil, "2026-11-24T00:00:00Z"}, // lenient yy
		{"yyMMdd", "261124", nil, "2026-11-24T00:00:00Z"},
		{"yyMMdd", "2611245", nil, ""},
		{"h:mm a, MMM d yyyy", "12:30 AM, Nov 24 2026", nil, "2026-11-24T00:30:00Z"},
		{"h:mm a, MMM d yyyy", "12:30 pm, Nov 24 2026", nil, "2026-11-24T12:30:00Z"},
		{"h:mm a, MMM d yyyy", "1:30 PM, Nov 24 2026", nil, "2026-11-24T13:30:00Z"},
		{"K:mm a yyyy-MM-dd", "0:30 PM 2026-11-24", nil, "2026-11-24T12:30:00Z"},
		{"kk:mm yyyy-MM-dd", "24:30 2026-11-24", nil, "2026-11-24T00:30:00Z"},
		{"HH:mm yyyy-MM-dd", "24:30 2026-11-24", nil, ""},
		{"yyyy-MM-dd", "2026-02-29", nil, ""},
		// D, the day of year, reads up to 3 digits and sets the month and day.
		{"yyyy-DDD HH:mm", "2026-034 10:00", nil, "2026-02-03T10:00:00Z"},
		{"yyyy-D", "2024-366", nil, "2024-12-31T00:00:00Z"},
		{"yyyyDDD", "2026001", nil, "2026-01-01T00:00:00Z"},
		{"yyyy-D", "2026-366", nil, ""},
		{"yyyy-D", "2026-0", nil, ""},
		{"yyyy-DDDD", "2026-1000", nil, ""},
		{"yyyy-MM-dd", "2028-02-29", nil, "2028-02-29T00:00:00Z"},
		{"yyyy-MM-dd", "2026-13-01", nil, ""},
		{"yyyy-MM-dd", "2026-11-24 ", nil, ""},
		{"yyyy-MM-dd", "2026-11-", nil, ""},
		{"yyyy.MM.dd 'at' HH:mm", "2026.11.24 AT 10:00", nil, "2026-11-24T10:00:00Z"},
		{"yyyy-MM-dd''HH", "2026-11-24'10", nil, "2026-11-24T10:00:00Z"},
		{"yyyy-MM-dd HH:mm:ss", "2026-07-01 10:00:00", berlin, "2026-07-01T08:00:00Z"},
		{"yyyy-MM-dd HH:mm:ss", "2026-01-01 10:00:00", berlin, "2026-01-01T09:00:00Z"},
		{"yyyy-MM-dd HH:mm:ss", "-0044-03-15 12:00:00", nil, "-0044-03-15T12:00:00Z"},
	}
	for _, tc := range tests {
		p, err := NewJodaParser(tc.pattern)
		if err != nil {
			t.Fatalf("NewJodaParser(%q): %v", tc.pattern, err)
		}
		got, err := p.Parse(tc.in, tc.loc, now)
		if tc.want == "" {
			if err == nil {
				t.Errorf("Parse(%q, %q) = %v; want an error", tc.pattern, tc.in, got)
			}
			continue
		}
		if err != nil {
			t.Errorf("Parse(%q, %q): %v", tc.pattern, tc.in, err)
			continue
		}
		if s := got.Format(time.RFC3339Nano); s != tc.want || got.Location() != time.UTC {
			t.Errorf("Parse(%q, %q) = %s (%v); want %s", tc.pattern, tc.in, s, got.Location(), tc.want)
		}
	}
}

// Joda resolves a local time in a DST overlap to the earlier instant (summer
// time) and refuses one in a gap (IllegalInstantException).
func TestJodaParseDST(t *testing.T) {
	now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	p, _ := NewJodaParser("yyyy-MM-dd HH:mm:ss")
	tests := []struct {
		zone, in, want string
	}{
		{"Europe/Berlin", "2026-03-29 01:59:59", "2026-03-29T00:59:59Z"},
		{"Europe/Berlin", "2026-03-29 02:00:00", ""}, // gap 02:00-03:00
		{"Europe/Berlin", "2026-03-29 02:30:00", ""},
		{"Europe/Berlin", "2026-03-29 03:00:00", "2026-03-29T01:00:00Z"},
		{"Europe/Berlin", "2026-10-25 01:59:59", "2026-10-24T23:59:59Z"},
		{"Europe/Berlin", "2026-10-25 02:00:00", "2026-10-25T00:00:00Z"}, // overlap: CEST
		{"Europe/Berlin", "2026-10-25 02:30:00", "2026-10-25T00:30:00Z"},
		{"Europe/Berlin", "2026-10-25 03:00:00", "2026-10-25T02:00:00Z"},
		{"America/New_York", "2026-03-08 02:30:00", ""},
		{"America/New_York", "2026-03-08 03:00:00", "2026-03-08T07:00:00Z"},
		{"America/New_York", "2026-11-01 01:30:00", "2026-11-01T05:30:00Z"}, // EDT
		{"America/New_York", "2026-11-01 02:30:00", "2026-11-01T07:30:00Z"},
		{"Australia/Sydney", "2026-04-05 02:30:00", "2026-04-04T15:30:00Z"}, // overlap: AEDT
		{"Australia/Sydney", "2026-10-04 02:30:00", ""},
		{"Australia/Lord_Howe", "2026-04-05 01:45:00", "2026-04-04T14:45:00Z"}, // 30-minute shift
		{"Asia/Kolkata", "2026-03-29 02:30:00", "2026-03-28T21:00:00Z"},
	}
	for _, tc := range tests {
		loc, err := LoadJodaZone(tc.zone)
		if err != nil {
			t.Fatal(err)
		}
		got, err := p.Parse(tc.in, loc, now)
		if tc.want == "" {
			if err == nil || !strings.Contains(err.Error(), "time zone offset transition") {
				t.Errorf("%s %s = %v, %v; want a transition error", tc.zone, tc.in, got, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s %s: %v", tc.zone, tc.in, err)
		} else if s := got.Format(time.RFC3339); s != tc.want {
			t.Errorf("%s %s = %s; want %s", tc.zone, tc.in, s, tc.want)
		}
	}
}

func TestJodaParseYearless(t *testing.T) {
	utc := func(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 1, 0, time.UTC) }
	tests := []struct {
		pattern, in string
		now         time.Time
		want        string
	}{
		// Logstash's JodaParser.parseAndGuessYear.
		{"MMM dd HH:mm:ss", "Dec 31 23:59:59", utc(2027, 1, 1), "2026-12-31T23:59:59Z"},
		{"MMM dd HH:mm:ss", "Jan 01 00:00:01", utc(2026, 12, 31), "2027-01-01T00:00:01Z"},
		{"MMM dd HH:mm:ss", "Nov 24 10:00:00", utc(2026, 11, 24), "2026-11-24T10:00:00Z"},
		{"MMM dd HH:mm:ss", "Dec 25 10:00:00", utc(2026, 2, 1), "2026-12-25T10:00:00Z"}, // only Jan/Dec wrap
		{"MMM  d HH:mm:ss", "Nov  4 10:00:00", utc(2026, 11, 24), "2026-11-04T10:00:00Z"},
		{"MMM  d HH:mm:ss", "Nov 14 10:00:00", utc(2026, 11, 24), ""},
		{"MMM dd HH:mm:ss", "Feb 29 10:00:00", utc(2028, 3, 1), "2028-02-29T10:00:00Z"},
		{"MMM dd HH:mm:ss", "Feb 29 10:00:00", utc(2026, 3, 1), ""},
		{"HH:mm:ss", "10:00:00", utc(2026, 11, 24), "2026-01-01T10:00:00Z"},
	}
	for _, tc := range tests {
		p, err := NewJodaParser(tc.pattern)
		if err != nil {
			t.Fatal(err)
		}
		if p.HasYear() {
			t.Fatalf("%q HasYear", tc.pattern)
		}
		got, err := p.Parse(tc.in, nil, tc.now)
		switch {
		case tc.want == "" && err == nil:
			t.Errorf("%q at %v = %v; want an error", tc.in, tc.now, got)
		case tc.want != "" && err != nil:
			t.Errorf("%q at %v: %v", tc.in, tc.now, err)
		case tc.want != "" && got.Format(time.RFC3339) != tc.want:
			t.Errorf("%q at %v = %v; want %s", tc.in, tc.now, got, tc.want)
		}
	}
}

func TestNewJodaParserErrors(t *testing.T) {
	for _, p := range []string{"", "yyyy-MM-ddTHH", "G yyyy", "xxxx-ww", "yyyy zzzz", "CC"} {
		if _, err := NewJodaParser(p); err == nil {
			t.Errorf("NewJodaParser(%q) succeeded", p)
		}
	}
	for _, p := range []string{"yyyy", "Y", "yy"} {
		jp, err := NewJodaParser(p)
		if err != nil || !jp.HasYear() {
			t.Errorf("NewJodaParser(%q) = %v, %v; want a parser with a year", p, jp, err)
		}
	}
}

func TestParseJodaOffset(t *testing.T) {
	tests := []struct {
		in     string
		off, n int
		ok     bool
	}{
		{"Z", 0, 1, true},
		{"z", 0, 1, true},
		{"+02", 7200, 3, true},
		{"+0200", 7200, 5, true},
		{"+02:00", 7200, 6, true},
		{"-05:30", -19800, 6, true},
		{"+02:00:30", 7230, 9, true},
		{"+020030", 7230, 7, true},
		{"+02:0", 0, 0, false},
		{"+24", 0, 0, false},
		{"+02:60", 0, 0, false},
		{"+2", 0, 0, false},
		{"0200", 0, 0, false},
		{"+02 x", 7200, 3, true},
	}
	for _, tc := range tests {
		off, n, ok := parseJodaOffset(tc.in)
		if off != tc.off || n != tc.n || ok != tc.ok {
			t.Errorf("parseJodaOffset(%q) = %d, %d, %v; want %d, %d, %v", tc.in, off, n, ok, tc.off, tc.n, tc.ok)
		}
	}
}

func TestLoadJodaZone(t *testing.T) {
	for _, id := range []string{"UTC", "Europe/Berlin", "+02:00", "-0530", "+05"} {
		if _, err := LoadJodaZone(id); err != nil {
			t.Errorf("LoadJodaZone(%q): %v", id, err)
		}
	}
	for _, id := range []string{"", "Local", "Mars/Base", "+25:00", "+02:00x"} {
		if _, err := LoadJodaZone(id); err == nil {
			t.Errorf("LoadJodaZone(%q) succeeded", id)
		}
	}
}

// What JodaFormat prints, JodaParser reads back.
func TestJodaRoundTrip(t *testing.T) {
	patterns := []string{
		"yyyy-MM-dd'T'HH:mm:ss.SSSZZ",
		"dd/MMM/yyyy:HH:mm:ss Z",
		"EEE MMM d HH:mm:ss.SSS yyyy Z",
		"EEEE, MMMM dd, yyyy h:mm:ss.SSS a ZZ",
		"yyyyMMddHHmmssSSSZ",
		"yy-M-d k:m:s.S Z",
		"e yyyy-MM-dd KK:mm:ss.SSS a ZZ",
	}
	zones := []*time.Location{time.UTC, time.FixedZone("", 5*3600+30*60), time.FixedZone("", -8*3600)}
	now := time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)
	start := time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	end := time.Date(2040, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	step := (end - start) / 997
	for _, pat := range patterns {
		f := MustJoda(pat)
		p, err := NewJodaParser(pat)
		if err != nil {
			t.Fatal(err)
		}
		for i, ms := 0, start; ms < end; i, ms = i+1, ms+step+int64(i)*7919 {
			tm := time.UnixMilli(ms).In(zones[i%len(zones)])
			want := tm
			switch {
			case strings.Contains(pat, "SSS"):
			case strings.Contains(pat, "S"):
				want = tm.Truncate(100 * time.Millisecond)
			default:
				want = tm.Truncate(time.Second)
			}
			s := f.Format(tm)
			got, err := p.Parse(s, nil, now)
			if err != nil {
				t.Fatalf("%q: Parse(%q): %v", pat, s, err)
			}
			if !got.Equal(want) {
				t.Fatalf("%q: Parse(%q) = %v; want %v", pat, s, got, want.UTC())
			}
		}
	}
}
