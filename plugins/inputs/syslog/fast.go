package syslog

import (
	"time"

	"github.com/pipelined/pipeline/engine/timefmt"
)

// The fast path: the shape almost every sender uses,
//
//	<PRI>Mmm dd hh:mm:ss host prog[pid]: message
//
// parsed by hand in one pass. It accepts a line only when the grok matcher
// (match.go) is certain to match it the same way, from the first byte and
// with the same captures; anything unusual (full month names, one-digit
// hours, fractions of seconds, IPv6 hosts, a facility field, text before the
// PRI…) returns false and goes through the general matcher.
// TestFastPathAgrees checks the two against each other.

// fastResult holds the captures as offsets into the line, and the parsed
// timestamp fields.
type fastResult struct {
	pri                        int64
	priEnd                     int
	tsStart, tsEnd             int
	hostStart, hostEnd         int
	progStart, progEnd         int // progEnd == 0: no program
	pidStart, pidEnd           int // pidEnd == 0: no pid
	msgStart                   int
	month, day, hour, min, sec int
	// iso: the timestamp is ISO 8601 (timestamp8601).
	iso bool
	// plainDay: "Mmm dd" or "Mmm  d", the spacings the date patterns
	// surely read; other spacings are left to the Joda parsers.
	plainDay bool
}

// monthIndex is the month of an English abbreviation ("Jan" is 1), 0 for
// anything else: a switch, not a map, which hashed every line's month.
func monthIndex(s string) int {
	switch s {
	case "Jan":
		return 1
	case "Feb":
		return 2
	case "Mar":
		return 3
	case "Apr":
		return 4
	case "May":
		return 5
	case "Jun":
		return 6
	case "Jul":
		return 7
	case "Aug":
		return 8
	case "Sep":
		return 9
	case "Oct":
		return 10
	case "Nov":
		return 11
	case "Dec":
		return 12
	}
	return 0
}

func twoDigits(s string, i int) (int, bool) {
	if i+1 >= len(s) || !isDigit(s[i]) || !isDigit(s[i+1]) {
		return 0, false
	}
	return int(s[i]-'0')*10 + int(s[i+1]-'0'), true
}

func fastParse(s string) (r fastResult, ok bool) {
	ok = true
	// <PRI>: POSINT, at most 18 digits (no overflow).
	if len(s) < 20 || s[0] != '<' || s[1] < '1' || s[1] > '9' {
		return r, false
	}
	i := 1
	for i < len(s) && isDigit(s[i]) && i < 19 {
		r.pri = r.pri*10 + int64(s[i]-'0')
		i++
	}
	if i >= len(s) || s[i] != '>' {
		return r, false
	}
	i++
	r.tsStart = i
	if i < len(s) && isDigit(s[i]) {
		if i, ok = fastISO(s, i); !ok {
			return r, false
		}
		r.iso = true
		r.tsEnd = i
		return fastRest(s, i, r)
	}
	// Mmm, spaces, day, space, hh:mm:ss, space.
	if i+4 > len(s) || s[i+3] != ' ' {
		return r, false
	}
	if r.month = monthIndex(s[i : i+3]); r.month == 0 {
		return r, false
	}
	i += 4
	spaces := 1
	for i < len(s) && s[i] == ' ' {
		i++
		spaces++
	}
	switch {
	case i+1 < len(s) && isDigit(s[i]) && s[i+1] == ' ':
		r.day = int(s[i] - '0')
		r.plainDay = spaces == 2
		i++
	case i+2 < len(s) && isDigit(s[i]) && isDigit(s[i+1]) && s[i+2] == ' ':
		r.day, _ = twoDigits(s, i)
		r.plainDay = spaces == 1 && s[i] != '0'
		i += 2
	default:
		return r, false
	}
	if r.day < 1 || r.day > 31 || r.day > 28 && r.month == 2 || r.day == 31 && (r.month == 4 || r.month == 6 || r.month == 9 || r.month == 11) {
		return r, false
	}
	i++ // the space
	var ok1, ok2, ok3 bool
	r.hour, ok1 = twoDigits(s, i)
	r.min, ok2 = twoDigits(s, i+3)
	r.sec, ok3 = twoDigits(s, i+6)
	if !ok1 || !ok2 || !ok3 || s[i+2] != ':' || s[i+5] != ':' || r.hour > 23 || r.min > 59 || r.sec > 59 {
		return r, false
	}
	i += 8
	r.tsEnd = i
	return fastRest(s, i, r)
}

// fastISO accepts yyyy-MM-ddTHH:mm:ss[.fff…][Z|±HH:mm] followed by a space,
// the form RFC 3339 senders use, on which TIMESTAMP_ISO8601 has one match.
func fastISO(s string, i int) (int, bool) {
	y1, ok1 := twoDigits(s, i)
	y2, ok2 := twoDigits(s, i+2)
	_, _ = y1, y2
	if !ok1 || !ok2 || i+19 > len(s) || s[i+4] != '-' || s[i+7] != '-' || s[i+10] != 'T' || s[i+13] != ':' || s[i+16] != ':' {
		return i, false
	}
	mo, ok3 := twoDigits(s, i+5)
	d, ok4 := twoDigits(s, i+8)
	h, ok5 := twoDigits(s, i+11)
	mi, ok6 := twoDigits(s, i+14)
	sec, ok7 := twoDigits(s, i+17)
	if !ok3 || !ok4 || !ok5 || !ok6 || !ok7 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 59 {
		return i, false
	}
	i += 19
	if i < len(s) && (s[i] == '.' || s[i] == ',') {
		j := i + 1
		for j < len(s) && isDigit(s[j]) {
			j++
		}
		if j == i+1 {
			return i, false
		}
		i = j
	}
	switch {
	case i < len(s) && s[i] == 'Z':
		i++
	case i < len(s) && (s[i] == '+' || s[i] == '-'):
		zh, ok1 := twoDigits(s, i+1)
		zm, ok2 := twoDigits(s, i+4)
		if !ok1 || !ok2 || s[i+3] != ':' || zh > 23 || zm > 59 {
			return i, false
		}
		i += 6
	}
	return i, i < len(s) && s[i] == ' '
}

// fastRest parses from the space after the timestamp: host, program, pid.
func fastRest(s string, i int, r fastResult) (fastResult, bool) {
	if i >= len(s) || s[i] != ' ' {
		return r, false
	}
	i++
	// The host: dot-separated labels of [0-9A-Za-z][0-9A-Za-z-]{0,62}, an
	// optional final dot, then a space.
	r.hostStart = i
	labelLen := 0
	for ; i < len(s) && s[i] != ' '; i++ {
		c := s[i]
		switch {
		case c == '.':
			if labelLen == 0 {
				return r, false
			}
			labelLen = 0
		case c == '-':
			if labelLen == 0 {
				return r, false
			}
			labelLen++
		case isDigit(c) || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			labelLen++
		default:
			return r, false
		}
		if labelLen > 63 {
			return r, false
		}
	}
	r.hostEnd = i
	if i >= len(s) || i == r.hostStart {
		return r, false
	}
	i++ // the space
	// " prog[pid]:" then a space, trying the longest PROG first, as grok.
	r.msgStart = i
	n := 0
	for i+n < len(s) && s[i+n] >= 0x21 && s[i+n] <= 0x7e && s[i+n] != '[' && s[i+n] != ']' {
		n++
	}
	for l := n; l >= 1; l-- {
		p := i + l
		if p < len(s) && s[p] == '[' && p+1 < len(s) && s[p+1] >= '1' && s[p+1] <= '9' {
			q := p + 1
			for q < len(s) && isDigit(s[q]) {
				q++
			}
			if q+2 < len(s) && s[q] == ']' && s[q+1] == ':' && s[q+2] == ' ' {
				r.progStart, r.progEnd = i, p
				r.pidStart, r.pidEnd = p+1, q
				r.msgStart = q + 3
				return r, true
			}
		}
		if p+1 < len(s) && s[p] == ':' && s[p+1] == ' ' {
			r.progStart, r.progEnd = i, p
			r.msgStart = p + 2
			return r, true
		}
	}
	return r, true // no program: the message follows the host
}

// fastDate is the date filter's result for a timestamp fastParse accepted,
// when it can tell; ok is false for the rare cases left to the Joda parsers.
func (p *Parser) fastDate(r *fastResult) (time.Time, bool) {
	if !r.plainDay {
		return time.Time{}, false
	}
	now := p.now()
	year := timefmt.GuessYear(time.Month(r.month), now)
	t, err := timefmt.JodaLocalTime(year, time.Month(r.month), r.day, r.hour, r.min, r.sec, 0, p.loc)
	return t, err == nil
}
