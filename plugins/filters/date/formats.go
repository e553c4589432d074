package date

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/pipelined/pipeline/engine/event"
)

// A format parses one source value. loc is the zone for local times (never
// nil); now is the reading time, for year-less patterns.
type format interface {
	parse(v any, loc *time.Location, now time.Time) (time.Time, error)
	zoned() bool // whether parse uses loc
}

func (jodaFormat) zoned() bool   { return true }
func (isoFormat) zoned() bool    { return true }
func (unixFormat) zoned() bool   { return false }
func (unixMSFormat) zoned() bool { return false }
func (tai64nFormat) zoned() bool { return false }

var errNotString = errors.New("not a string")

func stringValue(v any) (string, error) {
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("%w: %T", errNotString, v)
	}
	return s, nil
}

// jodaFormat is a Joda-Time pattern (Logstash's JodaParser).
type jodaFormat struct{ p *event.JodaParser }

func (f jodaFormat) parse(v any, loc *time.Location, now time.Time) (time.Time, error) {
	s, err := stringValue(v)
	if err != nil {
		return time.Time{}, err
	}
	return f.p.Parse(s, loc, now)
}

// isoFormat is ISO8601, Logstash's CasualISO8601Parser: Joda's
// ISODateTimeFormat.dateTimeParser(), then yyyy-MM-dd HH:mm:ss.SSS with an
// optional Z offset, with a dot or a comma before the milliseconds.
type isoFormat struct{}

var isoFallbacks = func() []*event.JodaParser {
	var ps []*event.JodaParser
	for _, p := range []string{"yyyy-MM-dd HH:mm:ss.SSSZ", "yyyy-MM-dd HH:mm:ss.SSS", "yyyy-MM-dd HH:mm:ss,SSSZ", "yyyy-MM-dd HH:mm:ss,SSS"} {
		jp, err := event.NewJodaParser(p)
		if err != nil {
			panic(err)
		}
		ps = append(ps, jp)
	}
	return ps
}()

func (isoFormat) parse(v any, loc *time.Location, now time.Time) (time.Time, error) {
	s, err := stringValue(v)
	if err != nil {
		return time.Time{}, err
	}
	t, err := parseISO(s, loc)
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

// parseISO parses the grammar of Joda's ISODateTimeFormat.dateTimeParser():
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
func parseISO(s string, loc *time.Location) (time.Time, error) {
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
			return resolve(s, year, month, day, 0, loc)
		}
		if p == len(s) || s[p] < '0' || s[p] > '9' {
			// 'T' with no time: an optional offset only.
			return offsetAndResolve(s, p, year, month, day, 0, loc)
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
	return offsetAndResolve(s, p, year, month, day, msOfDay, loc)
}

func offsetAndResolve(s string, p, year, month, day, msOfDay int, loc *time.Location) (time.Time, error) {
	if p < len(s) {
		off, n, ok := event.ParseJodaOffset(s[p:])
		if !ok || p+n != len(s) {
			return time.Time{}, fmt.Errorf("%q is not ISO8601: unexpected %q", s, s[p:])
		}
		loc = time.FixedZone("", off)
	}
	return resolve(s, year, month, day, msOfDay, loc)
}

func resolve(s string, year, month, day, msOfDay int, loc *time.Location) (time.Time, error) {
	if month < 1 || month > 12 || day < 1 || day > time.Date(year, time.Month(month)+1, 0, 0, 0, 0, 0, time.UTC).Day() {
		return time.Time{}, fmt.Errorf("%q is not ISO8601: date out of range", s)
	}
	ms := msOfDay % 1000
	sec := msOfDay / 1000
	t, err := event.JodaLocalTime(year, time.Month(month), day, sec/3600, sec/60%60, sec%60, ms*1_000_000, loc)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q: %w", s, err)
	}
	return t, nil
}

// maxEpochSeconds is Logstash's limit for UNIX: Java's Integer.MAX_VALUE.
const maxEpochSeconds = math.MaxInt32

// unixFormat is UNIX, seconds since the epoch (Logstash's UnixEpochParser):
// an integer or float value, or a string of an integer with an optional
// fraction of which the first 3 digits are read. More than 2147483647 seconds
// fails.
type unixFormat struct{}

func (unixFormat) parse(v any, _ *time.Location, _ time.Time) (time.Time, error) {
	switch v := v.(type) {
	case int64:
		if v > maxEpochSeconds {
			return time.Time{}, fmt.Errorf("UNIX: %d is larger than the maximum epoch seconds", v)
		}
		return time.UnixMilli(v * 1000).UTC(), nil
	case float64:
		if math.IsNaN(v) || v >= maxEpochSeconds+1 || v < math.MinInt64/1000 {
			return time.Time{}, fmt.Errorf("UNIX: %v is out of range", v)
		}
		return time.UnixMilli(int64(v * 1000)).UTC(), nil
	case string:
		secs, frac, hasDot := strings.Cut(v, ".")
		n, err := parseJavaLong(secs)
		if err != nil {
			return time.Time{}, fmt.Errorf("UNIX: %q is not a number", v)
		}
		if n > maxEpochSeconds {
			return time.Time{}, fmt.Errorf("UNIX: %q is larger than the maximum epoch seconds", v)
		}
		ms := n * 1000
		if hasDot && frac != "" {
			// Logstash reads at most 3 digits after the dot and ignores the rest.
			digits := frac[:min(3, len(frac))]
			sub, err := parseJavaLong(digits)
			if err != nil {
				return time.Time{}, fmt.Errorf("UNIX: %q is not a number", v)
			}
			for i := len(digits); i < 3; i++ {
				sub *= 10
			}
			ms += sub
		}
		return time.UnixMilli(ms).UTC(), nil
	}
	return time.Time{}, fmt.Errorf("UNIX: cannot parse a %T", v)
}

// unixMSFormat is UNIX_MS, milliseconds since the epoch (Logstash's
// UnixMillisEpochParser): an integer, a float (truncated) or a string of an
// integer.
type unixMSFormat struct{}

func (unixMSFormat) parse(v any, _ *time.Location, _ time.Time) (time.Time, error) {
	switch v := v.(type) {
	case int64:
		return time.UnixMilli(v).UTC(), nil
	case float64:
		if math.IsNaN(v) || v >= math.MaxInt64 || v < math.MinInt64 {
			return time.Time{}, fmt.Errorf("UNIX_MS: %v is out of range", v)
		}
		return time.UnixMilli(int64(v)).UTC(), nil
	case string:
		n, err := parseJavaLong(v)
		if err != nil {
			return time.Time{}, fmt.Errorf("UNIX_MS: %q is not an integer", v)
		}
		return time.UnixMilli(n).UTC(), nil
	}
	return time.Time{}, fmt.Errorf("UNIX_MS: cannot parse a %T", v)
}

// tai64nFormat is TAI64N (Logstash's TAI64NParser): an optional "@", 16 hex
// digits of TAI64 seconds and 8 of nanoseconds, as daemontools' tai64n
// writes; later characters are ignored. TAI is taken as UTC+10s, as Logstash
// does (it ignores the leap seconds after 1972).
type tai64nFormat struct{}

func (tai64nFormat) parse(v any, _ *time.Location, _ time.Time) (time.Time, error) {
	s, err := stringValue(v)
	if err != nil {
		return time.Time{}, err
	}
	s = strings.TrimPrefix(s, "@")
	if len(s) < 24 {
		return time.Time{}, fmt.Errorf("TAI64N: %q is too short", s)
	}
	secs, err1 := strconv.ParseInt(s[:16], 16, 64)
	nanos, err2 := strconv.ParseInt(s[16:24], 16, 32)
	if err1 != nil || err2 != nil || strings.ContainsAny(s[:24], "+-") {
		return time.Time{}, fmt.Errorf("TAI64N: %q is not hexadecimal", s)
	}
	secs &= 1<<62 - 1
	secs -= 10
	return time.UnixMilli(secs*1000 + nanos/1_000_000).UTC(), nil
}

// parseJavaLong is Java's Long.parseLong: an optional sign and decimal digits.
func parseJavaLong(s string) (int64, error) {
	if s == "" || s == "+" || s == "-" {
		return 0, strconv.ErrSyntax
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && !(i == 0 && (c == '+' || c == '-')) {
			return 0, strconv.ErrSyntax
		}
	}
	return strconv.ParseInt(s, 10, 64)
}
