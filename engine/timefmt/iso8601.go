package timefmt

import (
	"fmt"
	"time"
)

// ParseISO8601 parses s as the ISO8601 format of Logstash's date filter (its
// CasualISO8601Parser): Joda's ISODateTimeFormat.dateTimeParser(), then
// yyyy-MM-dd HH:mm:ss.SSS with an optional Z offset, with a dot or a comma
// before the milliseconds. loc is the zone of a time without an offset; now is
// the reading time the Joda fallbacks are given. The date filter and the
// syslog input (timestamp8601) share it so that both read the same values.
func ParseISO8601(s string, loc *time.Location, now time.Time) (time.Time, error) {
	t, err := parseISODateTime(s, loc)
	if err == nil {
		return t, nil
	}
	for _, p := range isoFallbacks {
		if t, err2 := p.Parse(s, loc, now); err2 == nil {
			return t, nil
		}
	}
	return time.Time{}, err
}

var isoFallbacks = func() []*JodaParser {
	var ps []*JodaParser
	for _, p := range []string{"yyyy-MM-dd HH:mm:ss.SSSZ", "yyyy-MM-dd HH:mm:ss.SSS", "yyyy-MM-dd HH:mm:ss,SSSZ", "yyyy-MM-dd HH:mm:ss,SSS"} {
		jp, err := NewJodaParser(p)
		if err != nil {
			panic(err)
		}
		ps = append(ps, jp)
	}
	return ps
}()

// parseISODateTime parses the grammar of Joda's ISODateTimeFormat.dateTimeParser():
//
//	datetime      = time | date-opt-time
//	time          = 'T' time-element [offset]
//	date-opt-time = date-element ['T' [time-element] [offset]]
//	date-element  = yyyy ['-' MM ['-' dd]]
//	time-element  = HH [':' mm [':' ss [fraction] | fraction] | fraction]
//	fraction      = ('.' | ',') digit+
//	offset        = 'Z' | ('+' | '-') HH [[':'] mm [[':'] ss]]
//
// A year has 1 to 9 digits and an optional sign; other numbers 1 or 2 digits;
// a fraction up to 9 digits, of which milliseconds are kept. The week-date
// (2026-W48-2) and ordinal-date (2026-328) forms are not supported.
func parseISODateTime(s string, loc *time.Location) (time.Time, error) {
	bad := func(why string) (time.Time, error) {
		return time.Time{}, fmt.Errorf("%q is not ISO8601: %s", s, why)
	}
	p := 0
	num := func(max int) (int, bool) {
		n, v := 0, 0
		for p+n < len(s) && n < max && s[p+n] >= '0' && s[p+n] <= '9' {
			v = v*10 + int(s[p+n]-'0')
			n++
		}
		p += n
		return v, n > 0
	}
	lit := func(c byte) bool {
		if p < len(s) && (s[p] == c || s[p] == c+'a'-'A') {
			p++
			return true
		}
		return false
	}
	// fraction reads digits after '.' or ',' as milliseconds of unit ms.
	fraction := func(unit int) (int, bool, bool) {
		if p >= len(s) || s[p] != '.' && s[p] != ',' {
			return 0, false, true
		}
		p++
		v, n := 0, 0
		for k := unit * 10; n < 9 && p < len(s) && s[p] >= '0' && s[p] <= '9'; n++ {
			k /= 10
			v += int(s[p]-'0') * k
			p++
		}
		return v / 10, true, n > 0
	}
	year, month, day := 1970, 1, 1
	if !lit('T') {
		neg := false
		if p < len(s) && (s[p] == '-' || s[p] == '+') {
			neg = s[p] == '-'
			p++
		}
		var ok bool
		if year, ok = num(9); !ok {
			return bad("want a year")
		}
		if neg {
			year = -year
		}
		if p < len(s) && s[p] == '-' {
			p++
			if month, ok = num(2); !ok {
				return bad("want a month")
			}
			if p < len(s) && s[p] == '-' {
				p++
				if day, ok = num(2); !ok {
					return bad("want a day")
				}
			}
		}
		if !lit('T') {
			if p != len(s) {
				return bad(fmt.Sprintf("unexpected %q", s[p:]))
			}
			return isoResolve(s, year, month, day, 0, loc)
		}
		if p == len(s) || s[p] < '0' || s[p] > '9' {
			// 'T' with no time: an optional offset only.
			return isoOffsetAndResolve(s, p, year, month, day, 0, loc)
		}
	}
	hour, ok := num(2)
	if !ok {
		return bad("want an hour")
	}
	msOfDay := hour * 3_600_000
	if p < len(s) && s[p] == ':' {
		p++
		minute, ok := num(2)
		if !ok || minute > 59 {
			return bad("want minutes")
		}
		msOfDay += minute * 60_000
		if p < len(s) && s[p] == ':' {
			p++
			sec, ok := num(2)
			if !ok || sec > 59 {
				return bad("want seconds")
			}
			msOfDay += sec * 1000
			f, had, ok := fraction(1000)
			if had && !ok {
				return bad("want a fraction of second")
			}
			msOfDay += f
		} else {
			f, had, ok := fraction(60_000)
			if had && !ok {
				return bad("want a fraction of minute")
			}
			msOfDay += f
		}
	} else {
		f, had, ok := fraction(3_600_000)
		if had && !ok {
			return bad("want a fraction of hour")
		}
		msOfDay += f
	}
	if hour > 23 {
		return bad("hour out of range")
	}
	return isoOffsetAndResolve(s, p, year, month, day, msOfDay, loc)
}

func isoOffsetAndResolve(s string, p, year, month, day, msOfDay int, loc *time.Location) (time.Time, error) {
	if p < len(s) {
		off, n, ok := ParseJodaOffset(s[p:])
		if !ok || p+n != len(s) {
			return time.Time{}, fmt.Errorf("%q is not ISO8601: unexpected %q", s, s[p:])
		}
		loc = time.FixedZone("", off)
	}
	return isoResolve(s, year, month, day, msOfDay, loc)
}

func isoResolve(s string, year, month, day, msOfDay int, loc *time.Location) (time.Time, error) {
	if month < 1 || month > 12 || day < 1 || day > time.Date(year, time.Month(month)+1, 0, 0, 0, 0, 0, time.UTC).Day() {
		return time.Time{}, fmt.Errorf("%q is not ISO8601: date out of range", s)
	}
	ms := msOfDay % 1000
	sec := msOfDay / 1000
	t, err := JodaLocalTime(year, time.Month(month), day, sec/3600, sec/60%60, sec%60, ms*1_000_000, loc)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q: %w", s, err)
	}
	return t, nil
}
