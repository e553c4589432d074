package timefmt

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
)

// JodaParser parses text with a Joda-Time DateTimeFormat pattern, as
// Logstash's date filter does (DateTimeFormatter.parseMillis). Compile it once
// with NewJodaParser; it is immutable and safe for concurrent use.
//
// Parsing follows Joda-Time 2:
//
//   - numbers take 1 up to their maximum digits whatever the token length (d and
//     dd both read "4" and "04"; M, d, H, k, h, K, m, s at most 2, D 3, e 1);
//     y, yyyy and Y read an optionally signed year of up to 9 digits, or exactly
//     the token length when the next token is numeric too (yyyyMMdd);
//   - yy reads two digits as a year in the century around now-30 years (Joda's
//     pivot), or a longer or signed number as a full year when the next token
//     is not numeric;
//   - S…S reads 1 to as many digits as letters; only milliseconds are kept;
//   - MMM and MMMM read a short or long month name, EEE and EEEE a day name
//     (English: each exactly, all lower case or all upper case; other
//     locales ignoring case, an abbreviation with or without its dot), a
//     AM/PM;
//   - Z and ZZ read Z or ±HH, ±HHMM, ±HH:MM (±HH:MM:SS); ZZZ a zone id such as
//     Europe/Berlin or UTC; z one of UT, UTC, GMT, EST, EDT, CST, CDT, MST,
//     MDT, PST, PDT (Joda's default short names; EST means America/New_York);
//   - literal text matches ignoring case; the whole input must be consumed;
//   - a day of week moves the date within its ISO week, as Joda sets the field;
//   - a value out of range (day 31 in April, hour 24 for H) fails.
//
// A local time is turned into an instant in the parsed zone, else in the
// location given to Parse, as Joda does: a time repeated when clocks go back
// takes the earlier instant (summer time); a time skipped when clocks go
// forward is an error ("Illegal instant due to time zone offset transition").
//
// Pattern letters that Joda can only print, or that this parser does not
// implement (G, C, x, w, zzzz), are refused by NewJodaParser.
type JodaParser struct {
	f       JodaFormat
	ops     []jodaParseOp
	hasYear bool
	names   *Locale // month and day names
}

type jodaParseOp struct {
	jodaOp
	max     int  // most digits a number reads
	lenient bool // yy: a longer number is a full year
}

// NewJodaParser compiles pattern for parsing, with English month and day
// names.
func NewJodaParser(pattern string) (*JodaParser, error) { return NewJodaParserLocale(pattern, english) }

// NewJodaParserLocale compiles pattern for parsing with l's month and day
// names (see LookupLocale); nil is English.
func NewJodaParserLocale(pattern string, l *Locale) (*JodaParser, error) {
	if l == nil {
		l = english
	}
	f, err := ParseJoda(pattern)
	if err != nil {
		return nil, err
	}
	p := &JodaParser{f: f, names: l}
	for i, op := range f.ops {
		nextNumeric := i+1 < len(f.ops) && f.ops[i+1].isNumeric()
		po := jodaParseOp{jodaOp: op, max: 2}
		switch op.kind {
		case jEra, jCentury, jWeekyear, jTwoDigitWeekyear, jWeekOfWeekyear, jZoneLong:
			return nil, fmt.Errorf("date format %q: pattern letter %q cannot be parsed here (supported: y Y M D d E e a H k h K m s S Z z and quoted text)", pattern, jodaLetter(op.kind))
		case jDayOfYear:
			po.max = 3
		case jYear, jYearOfEra:
			p.hasYear = true
			po.max = 9
			if nextNumeric {
				po.max = op.n
			}
		case jTwoDigitYear:
			p.hasYear = true
			po.lenient = !nextNumeric
		case jDayOfWeekNum:
			po.max = 1
		case jFraction:
			po.max = op.n
		}
		p.ops = append(p.ops, po)
	}
	return p, nil
}

func (op jodaOp) isNumeric() bool {
	switch op.kind {
	case jLiteral, jEra, jDayOfWeekShort, jDayOfWeekLong, jMonthShort, jMonthLong, jHalfday,
		jZoneShort, jZoneLong, jOffset, jOffsetColon, jZoneID:
		return false
	}
	return true
}

func jodaLetter(k jodaKind) string {
	switch k {
	case jEra:
		return "G"
	case jCentury:
		return "C"
	case jWeekyear, jTwoDigitWeekyear:
		return "x"
	case jWeekOfWeekyear:
		return "w"
	case jDayOfYear:
		return "D"
	case jZoneLong:
		return "zzzz"
	}
	return "?"
}

// String returns the pattern as written.
func (p *JodaParser) String() string { return p.f.pattern }

// HasYear reports whether the pattern has a year (y, yy, Y).
func (p *JodaParser) HasYear() bool { return p.hasYear }

// errJodaMismatch is wrapped by every parse failure.
var errJodaMismatch = errors.New("does not match")

// Parse parses s. loc is the zone of a local time when s has no zone (nil
// means UTC). now decides the two-digit-year pivot and, for a pattern without
// a year, the year, as Logstash's date filter guesses it: the year of now,
// except that a December date read in January is last year's and a January
// date read in December is next year's. The result is in UTC.
func (p *JodaParser) Parse(s string, loc *time.Location, now time.Time) (time.Time, error) {
	var (
		pos               int
		year              int
		month, day        = 1, 1
		dayOfYear         int  // D; 0: none
		daySet            bool // d
		hour, minute, sec int
		ms                int
		hourSet           bool // H or k
		half, hour12      = 0, -1
		dow               int // 0: none, else 1 (Monday) .. 7
		offset, offsetSet = 0, false
		zone              *time.Location
	)
	fail := func(what string) (time.Time, error) {
		return time.Time{}, fmt.Errorf("%q %w format %q: %s", s, errJodaMismatch, p.f.pattern, what)
	}
	for i := range p.ops {
		op := &p.ops[i]
		switch op.kind {
		case jLiteral:
			if len(s)-pos < len(op.lit) || !strings.EqualFold(s[pos:pos+len(op.lit)], op.lit) {
				return fail(fmt.Sprintf("want %q at offset %d", op.lit, pos))
			}
			pos += len(op.lit)
			continue
		case jMonthShort, jMonthLong:
			m, n := p.names.match(s[pos:], p.names.monthShort, p.names.monthLong)
			if n == 0 {
				return fail(fmt.Sprintf("want a month name at offset %d", pos))
			}
			month = m + 1
			pos += n
			continue
		case jDayOfWeekShort, jDayOfWeekLong:
			d, n := p.names.match(s[pos:], p.names.dayShort, p.names.dayLong)
			if n == 0 {
				return fail(fmt.Sprintf("want a day name at offset %d", pos))
			}
			dow = d + 1
			pos += n
			continue
		case jHalfday:
			h, n := matchName(s[pos:], halfdays[:], nil)
			if n == 0 {
				return fail(fmt.Sprintf("want AM or PM at offset %d", pos))
			}
			half = h
			pos += n
			continue
		case jOffset, jOffsetColon:
			off, n, ok := parseJodaOffset(s[pos:])
			if !ok {
				return fail(fmt.Sprintf("want a zone offset at offset %d", pos))
			}
			offset, offsetSet = off, true
			pos += n
			continue
		case jZoneID:
			j := pos
			for j < len(s) && (isASCIILetter(s[j]) || s[j] >= '0' && s[j] <= '9' || strings.IndexByte("/_+-", s[j]) >= 0) {
				j++
			}
			l, err := loadZone(s[pos:j])
			if err != nil {
				return fail(fmt.Sprintf("want a zone id at offset %d", pos))
			}
			zone, offsetSet = l, false
			pos = j
			continue
		case jZoneShort:
			l, n := matchShortZone(s[pos:])
			if n == 0 {
				return fail(fmt.Sprintf("want a zone name at offset %d", pos))
			}
			zone, offsetSet = l, false
			pos += n
			continue
		case jFraction:
			n := 0
			v := 0
			for n < op.max && pos+n < len(s) && s[pos+n] >= '0' && s[pos+n] <= '9' {
				if n < 3 {
					v += int(s[pos+n]-'0') * pow10[2-n]
				}
				n++
			}
			if n == 0 {
				return fail(fmt.Sprintf("want a fraction of second at offset %d", pos))
			}
			ms = v
			pos += n
			continue
		}
		// Numbers.
		signed := op.kind == jYear || op.kind == jTwoDigitYear && op.lenient
		v, n, neg, signSeen := readNumber(s[pos:], op.max, signed, op.kind == jTwoDigitYear && op.lenient)
		if n == 0 {
			return fail(fmt.Sprintf("want a number at offset %d", pos))
		}
		if neg {
			v = -v
		}
		pos += n
		switch op.kind {
		case jYear, jYearOfEra:
			year = v
		case jTwoDigitYear:
			digits := n
			if signSeen {
				digits = -1
			}
			if !op.lenient && digits != 2 {
				return fail("want a two-digit year")
			}
			if digits != 2 {
				year = v
				break
			}
			low := now.Year() - 30 - 50
			var t int
			if low >= 0 {
				t = low % 100
			} else {
				t = 99 + (low+1)%100
			}
			year = v + low - t
			if v < t {
				year += 100
			}
		case jMonth:
			month = v
			if v < 1 || v > 12 {
				return fail("month out of range")
			}
		case jDayOfMonth:
			day, daySet = v, true
		case jDayOfYear:
			if v < 1 || v > 366 {
				return fail("day of year out of range")
			}
			dayOfYear = v
		case jDayOfWeekNum:
			if v < 1 || v > 7 {
				return fail("day of week out of range")
			}
			dow = v
		case jHourOfDay:
			if v > 23 {
				return fail("hour out of range")
			}
			hour, hourSet = v, true
		case jClockhourOfDay:
			if v < 1 || v > 24 {
				return fail("hour out of range")
			}
			hour, hourSet = v%24, true
		case jClockhourOfHalfday:
			if v < 1 || v > 12 {
				return fail("hour out of range")
			}
			hour12 = v % 12
		case jHourOfHalfday:
			if v > 11 {
				return fail("hour out of range")
			}
			hour12 = v
		case jMinute:
			if v > 59 {
				return fail("minute out of range")
			}
			minute = v
		case jSecond:
			if v > 59 {
				return fail("second out of range")
			}
			sec = v
		}
	}
	if pos != len(s) {
		return fail(fmt.Sprintf("unexpected %q", s[pos:]))
	}
	if !p.hasYear {
		if dayOfYear != 0 {
			month = int(time.Date(now.Year(), time.January, dayOfYear, 0, 0, 0, 0, time.UTC).Month())
		}
		year = GuessYear(time.Month(month), now)
	}
	if !hourSet && hour12 >= 0 {
		hour = hour12 + 12*half
	} else if !hourSet && half == 1 {
		hour = 12
	}
	if dayOfYear != 0 {
		// Joda sets the fields from the largest: the day of year replaces
		// the month and day, then a day of month (d) moves the day within
		// that month.
		if dayOfYear == 366 && daysIn(time.February, year) == 28 {
			return fail("day of year out of range")
		}
		d := time.Date(year, time.January, dayOfYear, 0, 0, 0, 0, time.UTC)
		month = int(d.Month())
		if !daySet {
			day = d.Day()
		}
	}
	if day < 1 || day > daysIn(time.Month(month), year) {
		return fail("day out of range")
	}
	if dow != 0 {
		// Joda sets the day of week last: the date moves within its ISO week.
		wd := int(time.Date(year, time.Month(month), day, 0, 0, 0, 0, time.UTC).Weekday())
		if wd == 0 {
			wd = 7
		}
		d := time.Date(year, time.Month(month), day+dow-wd, 0, 0, 0, 0, time.UTC)
		year, month, day = d.Year(), int(d.Month()), d.Day()
	}
	if offsetSet {
		t := time.Date(year, time.Month(month), day, hour, minute, sec, ms*1_000_000, time.UTC)
		return t.Add(-time.Duration(offset) * time.Second), nil
	}
	if zone == nil {
		zone = loc
	}
	t, err := JodaLocalTime(year, time.Month(month), day, hour, minute, sec, ms*1_000_000, zone)
	if err != nil {
		return fail(err.Error())
	}
	return t, nil
}

var halfdays = [...]string{"AM", "PM"}

// GuessYear is the year Logstash's date filter gives a date of month that has
// no year, read at now: now's year, but the previous year for a December date
// read in January and the next year for a January date read in December.
func GuessYear(month time.Month, now time.Time) int {
	switch {
	case month == time.December && now.Month() == time.January:
		return now.Year() - 1
	case month == time.January && now.Month() == time.December:
		return now.Year() + 1
	}
	return now.Year()
}

// JodaLocalTime returns the instant of a local date and time in loc (nil means
// UTC) as Joda-Time resolves it: when the local time occurs twice (clocks go
// back), the earlier instant; when it does not occur (clocks go forward), an
// error. Fields must be in range. The result is in UTC.
func JodaLocalTime(year int, month time.Month, day, hour, minute, sec, nsec int, loc *time.Location) (time.Time, error) {
	local := time.Date(year, month, day, hour, minute, sec, nsec, time.UTC)
	if loc == nil || loc == time.UTC {
		return local, nil
	}
	l := local.Unix()
	// Offsets within 14 hours either side cover any one transition.
	const span = 14 * 3600
	_, before := time.Unix(l-span, 0).In(loc).Zone()
	_, after := time.Unix(l+span, 0).In(loc).Zone()
	valid := func(off int) bool {
		_, o := time.Unix(l-int64(off), 0).In(loc).Zone()
		return o == off
	}
	okB, okA := valid(before), valid(after)
	var off int
	switch {
	case okB && okA:
		off = max(before, after) // the earlier instant
	case okB:
		off = before
	case okA:
		off = after
	default:
		return time.Time{}, fmt.Errorf("illegal instant due to time zone offset transition (%s)", loc)
	}
	return local.Add(-time.Duration(off) * time.Second), nil
}

func daysIn(m time.Month, year int) int {
	switch m {
	case time.February:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case time.April, time.June, time.September, time.November:
		return 30
	}
	return 31
}

// readNumber reads up to max digits, after a sign when signed. When long, a
// number may have any length (a lenient yy). It returns the value, the bytes
// read (0: no digits), whether it is negative and whether a sign was read.
func readNumber(s string, max int, signed, long bool) (v, n int, neg, sign bool) {
	if signed && len(s) > 0 && (s[0] == '-' || s[0] == '+') {
		neg, sign = s[0] == '-', true
		n = 1
		if max < len(s) {
			max++
		}
	}
	if long {
		max = len(s)
	}
	start := n
	for n < len(s) && n < max && s[n] >= '0' && s[n] <= '9' {
		if v < 1e15 {
			v = v*10 + int(s[n]-'0')
		}
		n++
	}
	if n == start {
		return 0, 0, false, false
	}
	return v, n, neg, sign
}

// matchName returns the index of the longest name in short or long that s
// starts with exactly, in lower case or in upper case, and its length.
func matchName(s string, short, long []string) (idx, n int) {
	try := func(names []string) {
		for i, name := range names {
			if len(name) <= n || len(s) < len(name) {
				continue
			}
			if nameMatch(s[:len(name)], name) {
				idx, n = i, len(name)
			}
		}
	}
	try(long)
	try(short)
	return idx, n
}

// nameMatch reports whether w is name exactly, all in lower case or all in
// upper case (ASCII names), without allocating.
func nameMatch(w, name string) bool {
	if w == name {
		return true
	}
	lower, upper := true, true
	for i := 0; i < len(name); i++ {
		c := name[i]
		lc, uc := c, c
		if c >= 'A' && c <= 'Z' {
			lc = c + 'a' - 'A'
		} else if c >= 'a' && c <= 'z' {
			uc = c - ('a' - 'A')
		}
		lower = lower && w[i] == lc
		upper = upper && w[i] == uc
		if !lower && !upper {
			return false
		}
	}
	return true
}

var shortZones = []struct {
	name string
	loc  string
}{
	{"UTC", "UTC"}, {"UT", "UTC"}, {"GMT", "UTC"},
	{"EST", "America/New_York"}, {"EDT", "America/New_York"},
	{"CST", "America/Chicago"}, {"CDT", "America/Chicago"},
	{"MST", "America/Denver"}, {"MDT", "America/Denver"},
	{"PST", "America/Los_Angeles"}, {"PDT", "America/Los_Angeles"},
}

func matchShortZone(s string) (*time.Location, int) {
	for _, z := range shortZones {
		if strings.HasPrefix(s, z.name) {
			l, err := loadZone(z.loc)
			if err != nil {
				return nil, 0
			}
			return l, len(z.name)
		}
	}
	return nil, 0
}

var zoneCache sync.Map // string -> *time.Location

// LoadJodaZone returns the zone named id as Joda-Time's DateTimeZone.forID
// accepts it: an IANA zone id (Europe/Berlin, UTC) or a fixed offset ±HH,
// ±HH:MM or ±HHMM. Named zones are cached (unknown names are not); it is safe
// for concurrent use.
func LoadJodaZone(id string) (*time.Location, error) { return loadZone(id) }

func loadZone(id string) (*time.Location, error) {
	if l, ok := zoneCache.Load(id); ok {
		return l.(*time.Location), nil
	}
	var l *time.Location
	switch {
	case id == "" || id == "Local":
		return nil, fmt.Errorf("unknown time zone %q", id)
	case id == "UTC":
		l = time.UTC
	case id[0] == '+' || id[0] == '-':
		off, n, ok := parseJodaOffset(id)
		if !ok || n != len(id) {
			return nil, fmt.Errorf("invalid time zone offset %q", id)
		}
		return time.FixedZone(id, off), nil // not cached: too many spellings
	default:
		var err error
		if l, err = time.LoadLocation(id); err != nil {
			return nil, fmt.Errorf("unknown time zone %q", id)
		}
	}
	zoneCache.Store(id, l)
	return l, nil
}

// ParseJodaOffset reads a zone offset at the start of s as Joda-Time's
// offset parser does (see parseJodaOffset); ISO 8601 parsers share it.
func ParseJodaOffset(s string) (off, n int, ok bool) { return parseJodaOffset(s) }

// parseJodaOffset reads a zone offset as Joda's TimeZoneOffset parser: Z (any
// case), or a sign, two-digit hours (at most 23) and optional minutes and
// seconds, with or without colons. It returns the offset in seconds and the
// bytes read.
func parseJodaOffset(s string) (off, n int, ok bool) {
	if len(s) > 0 && (s[0] == 'Z' || s[0] == 'z') {
		return 0, 1, true
	}
	if len(s) < 3 || s[0] != '+' && s[0] != '-' {
		return 0, 0, false
	}
	neg := s[0] == '-'
	two := func(i int) (int, bool) {
		if i+2 > len(s) || s[i] < '0' || s[i] > '9' || s[i+1] < '0' || s[i+1] > '9' {
			return 0, false
		}
		return int(s[i]-'0')*10 + int(s[i+1]-'0'), true
	}
	h, ok := two(1)
	if !ok || h > 23 {
		return 0, 0, false
	}
	off, n = h*3600, 3
	colon := false
	if n < len(s) && s[n] == ':' {
		colon = true
	}
	for unit := 60; unit >= 1 && n < len(s); unit /= 60 {
		i := n
		if colon {
			if s[i] != ':' {
				break
			}
			i++
		}
		v, ok := two(i)
		if !ok {
			if colon || i < len(s) && s[i] >= '0' && s[i] <= '9' {
				return 0, 0, false
			}
			break
		}
		if v > 59 {
			return 0, 0, false
		}
		off += v * unit
		n = i + 2
	}
	if neg {
		off = -off
	}
	return off, n, true
}
