package timefmt

import (
	"fmt"
	"time"
)

// ParseTimestamp parses @timestamp text as leniently as Logstash's Timestamp(String):
// a required yyyy-MM-dd date, an optional 'T'-prefixed HH:mm[:ss[.fraction]]
// time and an optional zone: Z, ±HH, ±HHMM, ±HH:MM or ±HH:MM:SS (letters in any
// case). A missing time is midnight; a missing zone is UTC (Logstash uses the
// JVM's default zone, which is UTC on servers). The result is in UTC.
func ParseTimestamp(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	bad := func(why string) (time.Time, error) {
		return time.Time{}, fmt.Errorf("invalid ISO8601 timestamp %q: %s", s, why)
	}
	p := 0
	// num reads min to max digits; it consumes nothing when there are fewer.
	num := func(min, max int) (int, bool) {
		n, v := 0, 0
		for p+n < len(s) && n < max && s[p+n] >= '0' && s[p+n] <= '9' {
			v = v*10 + int(s[p+n]-'0')
			n++
		}
		if n < min {
			return 0, false
		}
		p += n
		return v, true
	}
	lit := func(c byte) bool {
		if p < len(s) && (s[p] == c || c >= 'A' && c <= 'Z' && s[p] == c+'a'-'A') {
			p++
			return true
		}
		return false
	}
	sign := 1
	var year int
	var ok bool
	if p < len(s) && (s[p] == '+' || s[p] == '-') {
		if s[p] == '-' {
			sign = -1
		}
		p++
		year, ok = num(4, 9)
	} else {
		year, ok = num(4, 4)
	}
	if !ok {
		return bad("want a yyyy-MM-dd date")
	}
	year *= sign
	if !lit('-') {
		return bad("want a yyyy-MM-dd date")
	}
	month, ok := num(2, 2)
	if !ok || !lit('-') {
		return bad("want a yyyy-MM-dd date")
	}
	day, ok := num(2, 2)
	if !ok {
		return bad("want a yyyy-MM-dd date")
	}
	var hour, minute, sec, nsec int
	if lit('T') {
		if hour, ok = num(2, 2); !ok || !lit(':') {
			return bad("want a HH:mm time after T")
		}
		if minute, ok = num(2, 2); !ok {
			return bad("want a HH:mm time after T")
		}
		if lit(':') {
			if sec, ok = num(2, 2); !ok {
				return bad("want seconds after HH:mm:")
			}
			if lit('.') {
				start := p
				frac, _ := num(0, 9)
				for i := p - start; i < 9; i++ {
					frac *= 10
				}
				nsec = frac
			}
		}
	}
	loc := time.UTC
	if p < len(s) {
		switch s[p] {
		case 'Z', 'z':
			p++
		case '+', '-':
			neg := s[p] == '-'
			p++
			oh, ok := num(2, 2)
			if !ok {
				return bad("want a ±HH[:MM] zone offset")
			}
			var om, os int
			if lit(':') {
				if om, ok = num(2, 2); !ok {
					return bad("want a ±HH:MM zone offset")
				}
				if lit(':') {
					if os, ok = num(2, 2); !ok {
						return bad("want a ±HH:MM:SS zone offset")
					}
				}
			} else if om, ok = num(2, 2); ok {
				os, _ = num(2, 2)
			}
			if oh > 18 || om > 59 || os > 59 {
				return bad("zone offset out of range")
			}
			off := oh*3600 + om*60 + os
			if neg {
				off = -off
			}
			loc = time.FixedZone("", off)
		}
	}
	if p != len(s) {
		return bad(fmt.Sprintf("unexpected %q", s[p:]))
	}
	if month < 1 || month > 12 || hour > 23 || minute > 59 || sec > 59 {
		return bad("field out of range")
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, nsec, loc)
	if t.Day() != day {
		return bad("day out of range")
	}
	return t.UTC(), nil
}

// AppendTimestamp appends t in UTC as Logstash's Timestamp.toString does: ISO
// 8601 with a Z, and a fraction of 3 digits, or 6 or 9 when the sub-millisecond
// part needs them (java.time ISO_INSTANT, with at least millisecond precision),
// e.g. 2026-11-24T10:00:01.000Z. A year outside 0000–9999 is signed and has as
// many digits as it needs (+10000-01-01T00:00:00.000Z), as in Java. This is the
// text of a timestamp in JSON, sprintf, Event#to_s, conditionals and rubydebug.
func AppendTimestamp(dst []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	hour, minute, sec := t.Clock()
	switch {
	case year > 9999:
		dst = append(dst, '+')
		dst = appendInt(dst, year, 4)
	case year < 0:
		dst = append(dst, '-')
		dst = appendInt(dst, -year, 4)
	default:
		dst = append(dst, byte('0'+year/1000), byte('0'+year/100%10), byte('0'+year/10%10), byte('0'+year%10))
	}
	dst = append(dst, '-',
		byte('0'+int(month)/10), byte('0'+int(month)%10), '-',
		byte('0'+day/10), byte('0'+day%10), 'T',
		byte('0'+hour/10), byte('0'+hour%10), ':',
		byte('0'+minute/10), byte('0'+minute%10), ':',
		byte('0'+sec/10), byte('0'+sec%10), '.')
	ns := t.Nanosecond()
	switch {
	case ns%1_000_000 == 0:
		ms := ns / 1_000_000
		dst = append(dst, byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10))
	case ns%1_000 == 0:
		dst = appendInt(dst, ns/1_000, 6)
	default:
		dst = appendInt(dst, ns, 9)
	}
	return append(dst, 'Z')
}

// appendInt appends a non-negative v, zero-padded to width digits.
func appendInt(dst []byte, v, width int) []byte {
	var buf [20]byte
	i := len(buf)
	for v >= 10 {
		i--
		buf[i] = byte('0' + v%10)
		v /= 10
	}
	i--
	buf[i] = byte('0' + v)
	for n := len(buf) - i; n < width; n++ {
		dst = append(dst, '0')
	}
	return append(dst, buf[i:]...)
}
