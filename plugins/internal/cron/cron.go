// Package cron parses the cron lines of Logstash's schedule options (the
// jdbc input's schedule) as rufus-scheduler reads them, and computes when
// such a line next fires.
//
// A line has 5 fields (minute, hour, day of month, month, day of week) or 6
// (a seconds field first), optionally followed by a time zone: a name such as
// "America/Chicago" or "UTC", or an offset such as "+09:00" or "-0500".
// Without a zone the line is read in the zone the caller gives (the local
// zone, as rufus does). Each field is "*", a number, a range "a-b", a step
// "*/n", "a-b/n" or "a/n" (from a to the field's end), or a comma-separated
// list of those. Months and days of the week may be written as English
// three-letter names (jan, mon, case-insensitive); 7 is Sunday like 0; hour
// 24 is 0. Days of the month may be "L" or "last" (the last day) or negative
// (-2: the day before the last). A day of the week may carry "#n", its n-th
// occurrence in the month ("mon#1", "fri#-1" or "fri#L" for the last one).
// When both the day of month and the day of week are restricted, a day
// matching either fires (classic cron). "@yearly", "@annually", "@monthly",
// "@weekly", "@daily", "@midnight" and "@hourly" are the usual shorthands.
package cron

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // zones on machines without a tz database
)

// Schedule is a parsed cron line. It is immutable and safe for concurrent
// use.
type Schedule struct {
	src            string
	sec, min, hour uint64 // bit i: value i matches
	mon            uint64 // bits 1..12
	dom            uint64 // bits 1..31; nil-like when domAll
	domLast        []int  // negative days: -1 last, -2 the one before…
	domAll, dowAll bool
	dow            [7]bool
	dowNth         []nth
	loc            *time.Location // nil: the zone Next's caller gives
}

type nth struct{ wday, n int } // n > 0 from the start of the month, < 0 from its end

var specials = map[string]string{
	"@yearly":   "0 0 1 1 *",
	"@annually": "0 0 1 1 *",
	"@monthly":  "0 0 1 * *",
	"@weekly":   "0 0 * * 0",
	"@daily":    "0 0 * * *",
	"@midnight": "0 0 * * *",
	"@hourly":   "0 * * * *",
}

var (
	months   = []string{"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}
	weekdays = []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}
	offsetRe = regexp.MustCompile(`^[-+]([01][0-9]|2[0-4]):?(00|15|30|45)$`)
)

// String returns the line as it was given.
func (s *Schedule) String() string { return s.src }

// Parse reads a cron line. The error says which field is wrong.
func Parse(line string) (*Schedule, error) {
	src := line
	line = strings.TrimSpace(line)
	if sp, ok := specials[strings.ToLower(line)]; ok {
		line = sp
	}
	f := strings.Fields(line)
	var s *Schedule
	var err error
	switch len(f) {
	case 5:
		s, err = parseFields(nil, f)
	case 6:
		// Six fields are seconds first; failing that, five and a zone (as
		// rufus tries them).
		if s, err = parseFields(f[:1], f[1:]); err != nil {
			s2, err2 := parseFields(nil, f[:5])
			if err2 != nil {
				return nil, err
			}
			if s2.loc, err2 = zone(f[5]); err2 != nil {
				return nil, err2
			}
			s, err = s2, nil
		}
	case 7:
		if s, err = parseFields(f[:1], f[1:6]); err == nil {
			s.loc, err = zone(f[6])
		}
	default:
		return nil, fmt.Errorf("cron line %q has %d fields; want 5 (minute hour day month weekday) or 6 (seconds first), and an optional time zone", src, len(f))
	}
	if err != nil {
		return nil, fmt.Errorf("cron line %q: %w", src, err)
	}
	s.src = src
	if s.Next(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)).IsZero() {
		return nil, fmt.Errorf("cron line %q never fires", src)
	}
	return s, nil
}

func zone(z string) (*time.Location, error) {
	if m := offsetRe.FindStringSubmatch(z); m != nil {
		h, _ := strconv.Atoi(m[1])
		mm, _ := strconv.Atoi(m[2])
		off := h*3600 + mm*60
		if z[0] == '-' {
			off = -off
		}
		return time.FixedZone(z, off), nil
	}
	l, err := time.LoadLocation(z)
	if err != nil || strings.EqualFold(z, "local") {
		return nil, fmt.Errorf("unknown time zone %q", z)
	}
	return l, nil
}

func parseFields(sec []string, f []string) (*Schedule, error) {
	s := &Schedule{}
	var err error
	if sec == nil {
		s.sec = 1 // second 0
	} else if s.sec, _, err = bits(sec[0], "seconds", 0, 59, nil); err != nil {
		return nil, err
	}
	if s.min, _, err = bits(f[0], "minutes", 0, 59, nil); err != nil {
		return nil, err
	}
	if s.hour, _, err = bits(f[1], "hours", 0, 24, nil); err != nil {
		return nil, err
	}
	if s.hour&(1<<24) != 0 {
		s.hour = s.hour&^(1<<24) | 1
	}
	if err = s.parseDom(f[2]); err != nil {
		return nil, err
	}
	if s.mon, _, err = bits(f[3], "month", 1, 12, months); err != nil {
		return nil, err
	}
	if err = s.parseDow(f[4]); err != nil {
		return nil, err
	}
	return s, nil
}

// bits reads a field of numbers between lo and hi (names[i] is lo+i).
func bits(field, what string, lo, hi int, names []string) (uint64, bool, error) {
	var b uint64
	all := false
	for _, item := range strings.Split(field, ",") {
		a, z, step, star, err := item3(item, lo, hi, names)
		if err != nil {
			return 0, false, fmt.Errorf("%s field %q: %w", what, field, err)
		}
		if star && step == 1 {
			all = true
		}
		for v := a; v <= z; v += step {
			b |= 1 << uint(v)
		}
	}
	return b, all, nil
}

// item3 reads "*", "n", "a-b", with an optional "/step".
func item3(item string, lo, hi int, names []string) (a, z, step int, star bool, err error) {
	step = 1
	slash := false
	if i := strings.IndexByte(item, '/'); i >= 0 {
		slash = true
		step, err = strconv.Atoi(item[i+1:])
		if err != nil || step < 1 || step > hi {
			return 0, 0, 0, false, fmt.Errorf("bad step %q", item[i+1:])
		}
		item = item[:i]
	}
	if item == "*" {
		return lo, hi, step, true, nil
	}
	from, to, isRange := strings.Cut(item, "-")
	if a, err = number(from, lo, hi, names); err != nil {
		return 0, 0, 0, false, err
	}
	switch {
	case isRange:
		if z, err = number(to, lo, hi, names); err != nil {
			return 0, 0, 0, false, err
		}
		if a > z {
			a, z = z, a // rufus reads 5-1 as 1-5
		}
	case slash:
		z = hi // "a/n": from a to the end
	default:
		z = a
	}
	return a, z, step, false, nil
}

func number(s string, lo, hi int, names []string) (int, error) {
	for i, n := range names {
		if strings.EqualFold(s, n) {
			return lo + i, nil
		}
	}
	v, err := strconv.Atoi(s)
	if err != nil || s == "" || s[0] == '+' || s[0] == '-' {
		return 0, fmt.Errorf("%q is not a number", s)
	}
	if v < lo || v > hi {
		return 0, fmt.Errorf("%d is out of range %d-%d", v, lo, hi)
	}
	return v, nil
}

func (s *Schedule) parseDom(field string) error {
	var rest []string
	for _, item := range strings.Split(field, ",") {
		l := strings.ToLower(item)
		switch {
		case l == "l" || l == "last":
			s.domLast = append(s.domLast, -1)
		case strings.HasPrefix(l, "-"):
			v, err := strconv.Atoi(l)
			if err != nil || v < -31 {
				return fmt.Errorf("day of month field %q: bad day %q", field, item)
			}
			s.domLast = append(s.domLast, v)
		default:
			rest = append(rest, item)
		}
	}
	if len(rest) > 0 {
		b, all, err := bits(strings.Join(rest, ","), "day of month", 1, 31, nil)
		if err != nil {
			return err
		}
		s.dom, s.domAll = b, all && len(s.domLast) == 0
	}
	return nil
}

func (s *Schedule) parseDow(field string) error {
	var rest []string
	for _, item := range strings.Split(field, ",") {
		d, h, ok := strings.Cut(item, "#")
		if !ok {
			rest = append(rest, item)
			continue
		}
		wd, err := number(d, 0, 7, weekdays)
		if err != nil {
			return fmt.Errorf("day of week field %q: %w", field, err)
		}
		var n int
		if strings.EqualFold(h, "l") || strings.EqualFold(h, "last") {
			n = -1
		} else if n, err = strconv.Atoi(h); err != nil || n == 0 || n < -5 || n > 5 {
			return fmt.Errorf("day of week field %q: bad occurrence %q", field, h)
		}
		s.dowNth = append(s.dowNth, nth{wd % 7, n})
	}
	if len(rest) > 0 {
		b, all, err := bits(strings.Join(rest, ","), "day of week", 0, 7, weekdays)
		if err != nil {
			return err
		}
		for i := range 8 {
			if b&(1<<uint(i)) != 0 {
				s.dow[i%7] = true
			}
		}
		s.dowAll = all && len(s.dowNth) == 0
	}
	return nil
}

func (s *Schedule) domRestricted() bool { return !s.domAll && (s.dom != 0 || len(s.domLast) > 0) }
func (s *Schedule) dowRestricted() bool {
	if s.dowAll {
		return false
	}
	for _, b := range s.dow {
		if b {
			return true
		}
	}
	return len(s.dowNth) > 0
}

func (s *Schedule) domMatch(t time.Time) bool {
	if !s.domRestricted() {
		return true
	}
	d := t.Day()
	if s.dom&(1<<uint(d)) != 0 {
		return true
	}
	last := daysIn(t)
	for _, n := range s.domLast {
		if last+1+n == d {
			return true
		}
	}
	return false
}

func (s *Schedule) dowMatch(t time.Time) bool {
	if !s.dowRestricted() {
		return true
	}
	wd := int(t.Weekday())
	if s.dow[wd] {
		return true
	}
	for _, n := range s.dowNth {
		if n.wday != wd {
			continue
		}
		if n.n > 0 && (t.Day()-1)/7+1 == n.n {
			return true
		}
		if n.n < 0 && -((daysIn(t)-t.Day())/7+1) == n.n {
			return true
		}
	}
	return false
}

func (s *Schedule) dayMatch(t time.Time) bool {
	if s.domRestricted() && s.dowRestricted() {
		return s.domMatch(t) || s.dowMatch(t)
	}
	return s.domMatch(t) && s.dowMatch(t)
}

func daysIn(t time.Time) int {
	return time.Date(t.Year(), t.Month()+1, 0, 12, 0, 0, 0, time.UTC).Day()
}

// errNever is what Next's bound means.
var errNever = errors.New("never fires")

// Next returns the first time strictly after `after` (to the second) that
// the line fires, in after's zone, or the zero time when it does not fire
// within about eight years (a line such as "0 0 30 2 *"). A line without a
// zone of its own is read in after's zone.
func (s *Schedule) Next(after time.Time) time.Time {
	t, err := s.next(after)
	if err != nil {
		return time.Time{}
	}
	return t
}

func (s *Schedule) next(after time.Time) (time.Time, error) {
	loc := s.loc
	if loc == nil {
		loc = after.Location()
	}
	t := after.In(loc).Truncate(time.Second).Add(time.Second)
	limit := after.Add(8 * 366 * 24 * time.Hour)
	for i := 0; i < 200000 && t.Before(limit); i++ {
		switch {
		case s.mon&(1<<uint(t.Month())) == 0:
			t = time.Date(t.Year(), t.Month()+1, 1, 0, 0, 0, 0, loc)
		case !s.dayMatch(t):
			t = time.Date(t.Year(), t.Month(), t.Day()+1, 0, 0, 0, 0, loc)
		case s.hour&(1<<uint(t.Hour())) == 0:
			t = t.Add(time.Duration(60-t.Minute())*time.Minute - time.Duration(t.Second())*time.Second)
		case s.min&(1<<uint(t.Minute())) == 0:
			t = t.Add(time.Duration(60-t.Second()) * time.Second)
		case s.sec&(1<<uint(t.Second())) == 0:
			t = t.Add(time.Second)
		default:
			return t.In(after.Location()), nil
		}
	}
	return time.Time{}, errNever
}
