package timefmt

import (
	"fmt"
	"strings"
	"time"
)

// JodaFormat is a compiled Joda-Time DateTimeFormat pattern, as used by
// Logstash's %{+FORMAT} sprintf references and the date filter. Parse a pattern
// once with ParseJoda; formatting does not parse again. A JodaFormat is
// immutable and safe for concurrent use.
//
// Pattern letters (Joda-Time semantics; a run of the same letter is one token
// and its length picks the form):
//
//	G   era                 AD
//	C   century of era      20
//	Y   year of era         YYYY 2026, YY 26
//	y   year                yyyy 2026, yy 26, y 2026
//	x   ISO week-year       xxxx 2026, xx 26
//	w   ISO week of week-year  w 1, ww 01
//	e   ISO day of week     1 (Monday) .. 7 (Sunday)
//	E   day of week name    E, EE, EEE Tue; EEEE Tuesday
//	M   month               M 1, MM 01, MMM Jan, MMMM January
//	d   day of month        d 1, dd 01
//	D   day of year         D 1, DDD 001
//	a   half of day         AM / PM
//	K   hour of half day    0-11
//	h   clock hour of half day  1-12
//	H   hour of day         0-23
//	k   clock hour of day   1-24
//	m   minute              m 7, mm 07
//	s   second              s 7, ss 07
//	S   fraction of second  S 1 digit, SS 2, SSS milliseconds (Joda has no finer
//	    precision: further digits are 0)
//	z   zone name           z, zz, zzz UTC; zzzz Coordinated Universal Time
//	Z   zone offset         Z +0000, ZZ +00:00, ZZZ zone id (UTC)
//	'   quotes literal text; '' is a single quote, inside quotes or out
//
// Numbers are zero-padded to the token length. Any other ASCII letter is
// reserved and refused by ParseJoda; other characters are literal. Names are
// English.
type JodaFormat struct {
	pattern string
	ops     []jodaOp
	need    jodaNeeds
}

type jodaNeeds uint8

const (
	needDate jodaNeeds = 1 << iota
	needClock
	needWeek
	needYearDay
	needWeekday
)

type jodaKind uint8

const (
	jLiteral jodaKind = iota
	jEra
	jCentury
	jYearOfEra
	jYear
	jWeekyear
	jTwoDigitYear // yy or YY
	jTwoDigitWeekyear
	jWeekOfWeekyear
	jDayOfWeekNum
	jDayOfWeekShort
	jDayOfWeekLong
	jMonth
	jMonthShort
	jMonthLong
	jDayOfMonth
	jDayOfYear
	jHalfday
	jHourOfHalfday
	jClockhourOfHalfday
	jHourOfDay
	jClockhourOfDay
	jMinute
	jSecond
	jFraction
	jZoneShort
	jZoneLong
	jOffset
	jOffsetColon
	jZoneID
)

type jodaOp struct {
	kind jodaKind
	n    int    // token length: the minimum number of digits
	lit  string // jLiteral text
}

// ParseJoda compiles a Joda-Time pattern. It fails on an empty pattern and on a
// reserved pattern letter (put literal letters in quotes: yyyy-MM-dd'T'HH:mm).
// An unterminated quote runs to the end of the pattern, as in Joda.
func ParseJoda(pattern string) (JodaFormat, error) {
	f := JodaFormat{pattern: pattern}
	if pattern == "" {
		return f, fmt.Errorf("empty date format pattern")
	}
	for i := 0; i < len(pattern); {
		c := pattern[i]
		if isASCIILetter(c) {
			j := i + 1
			for j < len(pattern) && pattern[j] == c {
				j++
			}
			op, need, err := jodaToken(c, j-i)
			if err != nil {
				return JodaFormat{pattern: pattern}, fmt.Errorf("invalid date format %q: %w", pattern, err)
			}
			f.ops = append(f.ops, op)
			f.need |= need
			i = j
			continue
		}
		// Literal text up to the next unquoted letter (Joda's parseToken).
		var lit strings.Builder
		quoted := false
		for ; i < len(pattern); i++ {
			c := pattern[i]
			if c == '\'' {
				if i+1 < len(pattern) && pattern[i+1] == '\'' {
					i++
					lit.WriteByte('\'')
				} else {
					quoted = !quoted
				}
				continue
			}
			if !quoted && isASCIILetter(c) {
				break
			}
			lit.WriteByte(c)
		}
		if lit.Len() == 0 {
			continue
		}
		if n := len(f.ops); n > 0 && f.ops[n-1].kind == jLiteral {
			f.ops[n-1].lit += lit.String()
		} else {
			f.ops = append(f.ops, jodaOp{kind: jLiteral, lit: lit.String()})
		}
	}
	return f, nil
}

// MustJoda is ParseJoda that panics on error; for constant patterns.
func MustJoda(pattern string) JodaFormat {
	f, err := ParseJoda(pattern)
	if err != nil {
		panic(err)
	}
	return f
}

func isASCIILetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

func jodaToken(c byte, n int) (jodaOp, jodaNeeds, error) {
	op := jodaOp{n: n}
	var need jodaNeeds
	switch c {
	case 'G':
		op.kind, need = jEra, needDate
	case 'C':
		op.kind, need = jCentury, needDate
	case 'Y':
		op.kind, need = jYearOfEra, needDate
		if n == 2 {
			op.kind = jTwoDigitYear
		}
	case 'y':
		op.kind, need = jYear, needDate
		if n == 2 {
			op.kind = jTwoDigitYear
		}
	case 'x':
		op.kind, need = jWeekyear, needWeek
		if n == 2 {
			op.kind = jTwoDigitWeekyear
		}
	case 'w':
		op.kind, need = jWeekOfWeekyear, needWeek
	case 'e':
		op.kind, need = jDayOfWeekNum, needWeekday
	case 'E':
		op.kind, need = jDayOfWeekShort, needWeekday
		if n >= 4 {
			op.kind = jDayOfWeekLong
		}
	case 'M':
		op.kind, need = jMonth, needDate
		switch {
		case n >= 4:
			op.kind = jMonthLong
		case n == 3:
			op.kind = jMonthShort
		}
	case 'd':
		op.kind, need = jDayOfMonth, needDate
	case 'D':
		op.kind, need = jDayOfYear, needYearDay
	case 'a':
		op.kind, need = jHalfday, needClock
	case 'K':
		op.kind, need = jHourOfHalfday, needClock
	case 'h':
		op.kind, need = jClockhourOfHalfday, needClock
	case 'H':
		op.kind, need = jHourOfDay, needClock
	case 'k':
		op.kind, need = jClockhourOfDay, needClock
	case 'm':
		op.kind, need = jMinute, needClock
	case 's':
		op.kind, need = jSecond, needClock
	case 'S':
		op.kind = jFraction
	case 'z':
		op.kind = jZoneShort
		if n >= 4 {
			op.kind = jZoneLong
		}
	case 'Z':
		switch n {
		case 1:
			op.kind = jOffset
		case 2:
			op.kind = jOffsetColon
		default:
			op.kind = jZoneID
		}
	default:
		return op, 0, fmt.Errorf("illegal pattern letter %q (Joda-Time reserves letters: quote literal text, as in 'T')", strings.Repeat(string(c), n))
	}
	return op, need, nil
}

// String returns the pattern as written.
func (f JodaFormat) String() string { return f.pattern }

// IsZero reports whether f was never parsed.
func (f JodaFormat) IsZero() bool { return f.pattern == "" }

var (
	monthShort = [...]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}
	monthLong  = [...]string{"January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"}
	// Indexed by ISO day of week - 1 (Monday first).
	dayShort = [...]string{"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"}
	dayLong  = [...]string{"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"}
)

// Format returns t formatted with f, in t's location.
func (f JodaFormat) Format(t time.Time) string {
	return string(f.AppendFormat(make([]byte, 0, len(f.pattern)+16), t))
}

// AppendFormat appends t formatted with f, in t's location (call t.UTC() for
// Logstash's sprintf behaviour), to dst.
func (f JodaFormat) AppendFormat(dst []byte, t time.Time) []byte {
	var (
		year, day, yday, wyear, week, dow int
		month                             time.Month
		hour, minute, sec                 int
	)
	if f.need&needDate != 0 {
		year, month, day = t.Date()
	}
	if f.need&needClock != 0 {
		hour, minute, sec = t.Clock()
	}
	if f.need&needWeek != 0 {
		wyear, week = t.ISOWeek()
	}
	if f.need&needYearDay != 0 {
		yday = t.YearDay()
	}
	if f.need&needWeekday != 0 {
		dow = int(t.Weekday())
		if dow == 0 {
			dow = 7
		}
	}
	for i := range f.ops {
		op := &f.ops[i]
		switch op.kind {
		case jLiteral:
			dst = append(dst, op.lit...)
		case jEra:
			if year > 0 {
				dst = append(dst, "AD"...)
			} else {
				dst = append(dst, "BC"...)
			}
		case jCentury:
			dst = appendSigned(dst, yearOfEra(year)/100, op.n)
		case jYearOfEra:
			dst = appendSigned(dst, yearOfEra(year), op.n)
		case jYear:
			dst = appendSigned(dst, year, op.n)
		case jWeekyear:
			dst = appendSigned(dst, wyear, op.n)
		case jTwoDigitYear:
			dst = appendInt(dst, abs(year)%100, 2)
		case jTwoDigitWeekyear:
			dst = appendInt(dst, abs(wyear)%100, 2)
		case jWeekOfWeekyear:
			dst = appendInt(dst, week, op.n)
		case jDayOfWeekNum:
			dst = appendInt(dst, dow, op.n)
		case jDayOfWeekShort:
			dst = append(dst, dayShort[dow-1]...)
		case jDayOfWeekLong:
			dst = append(dst, dayLong[dow-1]...)
		case jMonth:
			dst = appendInt(dst, int(month), op.n)
		case jMonthShort:
			dst = append(dst, monthShort[month-1]...)
		case jMonthLong:
			dst = append(dst, monthLong[month-1]...)
		case jDayOfMonth:
			dst = appendInt(dst, day, op.n)
		case jDayOfYear:
			dst = appendInt(dst, yday, op.n)
		case jHalfday:
			if hour < 12 {
				dst = append(dst, "AM"...)
			} else {
				dst = append(dst, "PM"...)
			}
		case jHourOfHalfday:
			dst = appendInt(dst, hour%12, op.n)
		case jClockhourOfHalfday:
			h := hour % 12
			if h == 0 {
				h = 12
			}
			dst = appendInt(dst, h, op.n)
		case jHourOfDay:
			dst = appendInt(dst, hour, op.n)
		case jClockhourOfDay:
			h := hour
			if h == 0 {
				h = 24
			}
			dst = appendInt(dst, h, op.n)
		case jMinute:
			dst = appendInt(dst, minute, op.n)
		case jSecond:
			dst = appendInt(dst, sec, op.n)
		case jFraction:
			// Joda scales the millisecond of second to n digits, truncating.
			ms := t.Nanosecond() / 1_000_000
			if op.n <= 3 {
				dst = appendInt(dst, ms/pow10[3-op.n], op.n)
			} else {
				dst = appendInt(dst, ms, 3)
				for j := 3; j < op.n; j++ {
					dst = append(dst, '0')
				}
			}
		case jZoneShort, jZoneLong:
			name, off := t.Zone()
			switch {
			case off == 0 && (name == "UTC" || name == "" || t.Location() == time.UTC):
				if op.kind == jZoneLong {
					dst = append(dst, "Coordinated Universal Time"...)
				} else {
					dst = append(dst, "UTC"...)
				}
			case name != "" && (name[0] < '0' || name[0] > '9') && name[0] != '+' && name[0] != '-':
				dst = append(dst, name...)
			default:
				dst = appendOffset(dst, off, true)
			}
		case jOffset:
			_, off := t.Zone()
			dst = appendOffset(dst, off, false)
		case jOffsetColon:
			_, off := t.Zone()
			dst = appendOffset(dst, off, true)
		case jZoneID:
			name, off := t.Zone()
			switch loc := t.Location().String(); {
			case loc == "UTC" || (off == 0 && name == "UTC"):
				dst = append(dst, "UTC"...)
			case loc != "" && loc != "Local" && strings.IndexByte(loc, '/') > 0:
				dst = append(dst, loc...)
			default:
				dst = appendOffset(dst, off, true)
			}
		}
	}
	return dst
}

var pow10 = [...]int{1, 10, 100, 1000}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

func yearOfEra(year int) int {
	if year <= 0 {
		return 1 - year
	}
	return year
}

// appendSigned appends v zero-padded to width digits, with a leading '-' when
// negative (Joda's FormatUtils.appendPaddedInteger).
func appendSigned(dst []byte, v, width int) []byte {
	if v < 0 {
		dst = append(dst, '-')
		v = -v
	}
	return appendInt(dst, v, width)
}

// appendOffset appends a zone offset as +HHMM or +HH:MM (seconds dropped, as
// Joda's two-field offset printer does).
func appendOffset(dst []byte, off int, colon bool) []byte {
	if off < 0 {
		dst = append(dst, '-')
		off = -off
	} else {
		dst = append(dst, '+')
	}
	dst = appendInt(dst, off/3600, 2)
	if colon {
		dst = append(dst, ':')
	}
	return appendInt(dst, off/60%60, 2)
}
