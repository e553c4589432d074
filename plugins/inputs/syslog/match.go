package syslog

// The header parser: Logstash's grok pattern
//
//	<%{POSINT:priority}>%{SYSLOGLINE}
//
// with the legacy (non-ECS) pattern definitions, run as Logstash runs it:
// unanchored (the first '<' from which the pattern matches wins), with '.'
// matching newlines, and with backtracking in the order a backtracking regexp
// engine (Onigmo) tries alternatives: greedy repetitions longest first,
// alternations left to right. The matchers below are continuation-passing
// combinators, so a capture inside a repetition holds its last iteration and a
// failure later in the line makes earlier parts try their next alternative, as
// in the regexp. Go's regexp package cannot run the pattern itself (it uses
// look-around and atomic groups).
//
// Known differences, none of which real syslog senders produce: \b treats
// every byte >= 0x80 as a word character (Onigmo: only Unicode letters and
// digits), and IPV6 accepts any run of hex digits, colons and dots that Go's
// netip parses (instead of Logstash's long regexp), followed by Logstash's
// optional "%zone".

import (
	"net/netip"
)

// Capture slots.
const (
	capPriority = iota
	capTimestamp
	capTimestamp8601
	capFacility
	capFacilityPriority
	capLogsource
	capProgram
	capPid
	capMessage
	numCaps
)

type state struct {
	s    string
	caps [numCaps][2]int
	// steps bounds the backtracking: a line built to make the pattern try
	// every split of a long host name would otherwise take quadratic time
	// (Logstash's grok gives up after 30 s). Past the budget the line counts
	// as not matching.
	steps int
}

// stepBudget is the most backtracking steps for one line: far above what any
// real header needs (about a hundred), far below a noticeable delay.
const stepBudget = 50_000

func (st *state) spend(n int) bool {
	st.steps += n
	return st.steps <= stepBudget
}

type matcher func(st *state, i int, k func(int) bool) bool

func lit(str string) matcher {
	return func(st *state, i int, k func(int) bool) bool {
		if len(st.s)-i >= len(str) && st.s[i:i+len(str)] == str {
			return k(i + len(str))
		}
		return false
	}
}

// class matches one byte of the set.
func class(in func(c byte) bool) matcher {
	return func(st *state, i int, k func(int) bool) bool {
		if i < len(st.s) && in(st.s[i]) {
			return k(i + 1)
		}
		return false
	}
}

// run matches min..max bytes of the set, longest first (max < 0: no bound).
func run(in func(c byte) bool, min, max int) matcher {
	return func(st *state, i int, k func(int) bool) bool {
		n := 0
		for i+n < len(st.s) && (max < 0 || n < max) && in(st.s[i+n]) {
			n++
		}
		for ; n >= min; n-- {
			if !st.spend(1) {
				return false
			}
			if k(i + n) {
				return true
			}
		}
		return false
	}
}

func seq(ms ...matcher) matcher {
	if len(ms) == 1 {
		return ms[0]
	}
	first, rest := ms[0], seq(ms[1:]...)
	return func(st *state, i int, k func(int) bool) bool {
		return first(st, i, func(j int) bool { return rest(st, j, k) })
	}
}

func alt(ms ...matcher) matcher {
	return func(st *state, i int, k func(int) bool) bool {
		for _, m := range ms {
			if m(st, i, k) {
				return true
			}
		}
		return false
	}
}

func empty(_ *state, i int, k func(int) bool) bool { return k(i) }

// opt is a greedy '?'.
func opt(m matcher) matcher { return alt(m, empty) }

// rep is a greedy {min,max} of m (max < 0: no bound). An iteration that
// matches nothing ends the repetition, as in Onigmo.
func rep(m matcher, min, max int) matcher {
	var try func(st *state, i, n int, k func(int) bool) bool
	try = func(st *state, i, n int, k func(int) bool) bool {
		if !st.spend(1) {
			return false
		}
		if max < 0 || n < max {
			if m(st, i, func(j int) bool {
				if j == i {
					return false
				}
				return try(st, j, n+1, k)
			}) {
				return true
			}
		}
		return n >= min && k(i)
	}
	return func(st *state, i int, k func(int) bool) bool { return try(st, i, 0, k) }
}

func capture(slot int, m matcher) matcher {
	return func(st *state, i int, k func(int) bool) bool {
		return m(st, i, func(j int) bool {
			old := st.caps[slot]
			st.caps[slot] = [2]int{i, j}
			if k(j) {
				return true
			}
			st.caps[slot] = old
			return false
		})
	}
}

func isWord(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c >= 0x80
}

func boundary(st *state, i int, k func(int) bool) bool {
	before := i > 0 && isWord(st.s[i-1])
	after := i < len(st.s) && isWord(st.s[i])
	return before != after && k(i)
}

// notBefore is a negative look-ahead for one byte of the set.
func notBefore(in func(c byte) bool) matcher {
	return func(st *state, i int, k func(int) bool) bool {
		return (i >= len(st.s) || !in(st.s[i])) && k(i)
	}
}

// notAfter is a negative look-behind for one byte of the set.
func notAfter(in func(c byte) bool) matcher {
	return func(st *state, i int, k func(int) bool) bool {
		return (i == 0 || !in(st.s[i-1])) && k(i)
	}
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func rng(lo, hi byte) func(byte) bool {
	return func(c byte) bool { return c >= lo && c <= hi }
}
func oneOf(set string) func(byte) bool {
	return func(c byte) bool {
		for i := 0; i < len(set); i++ {
			if set[i] == c {
				return true
			}
		}
		return false
	}
}

// anyRun is .+ or .* with '.' matching newlines, greedy.
func anyRun(min int) matcher {
	return func(st *state, i int, k func(int) bool) bool {
		for j := len(st.s); j >= i+min; j-- {
			if !st.spend(1) {
				return false
			}
			if k(j) {
				return true
			}
		}
		return false
	}
}

// anyByte is '.' (newlines included). Onigmo's '.' is a character; a byte is
// enough where it only separates two numbers.
func anyByte(st *state, i int, k func(int) bool) bool {
	return i < len(st.s) && k(i+1)
}

var (
	digit  = class(isDigit)
	posint = seq(boundary, class(rng('1', '9')), run(isDigit, 0, -1), boundary)
	nonneg = seq(boundary, run(isDigit, 1, -1), boundary)

	// MONTH \b(?:[Jj]an(?:uary|uar)?|[Ff]eb(?:ruary|ruar)?|[Mm](?:a|ä)?r(?:ch|z)?|[Aa]pr(?:il)?|[Mm]a(?:y|i)?|[Jj]un(?:e|i)?|[Jj]ul(?:y|i)?|[Aa]ug(?:ust)?|[Ss]ep(?:tember)?|[Oo](?:c|k)?t(?:ober)?|[Nn]ov(?:ember)?|[Dd]e(?:c|z)(?:ember)?)\b
	month = seq(boundary, alt(
		seq(class(oneOf("Jj")), lit("an"), opt(alt(lit("uary"), lit("uar")))),
		seq(class(oneOf("Ff")), lit("eb"), opt(alt(lit("ruary"), lit("ruar")))),
		seq(class(oneOf("Mm")), opt(alt(lit("a"), lit("ä"))), lit("r"), opt(alt(lit("ch"), lit("z")))),
		seq(class(oneOf("Aa")), lit("pr"), opt(lit("il"))),
		seq(class(oneOf("Mm")), lit("a"), opt(alt(lit("y"), lit("i")))),
		seq(class(oneOf("Jj")), lit("un"), opt(alt(lit("e"), lit("i")))),
		seq(class(oneOf("Jj")), lit("ul"), opt(alt(lit("y"), lit("i")))),
		seq(class(oneOf("Aa")), lit("ug"), opt(lit("ust"))),
		seq(class(oneOf("Ss")), lit("ep"), opt(lit("tember"))),
		seq(class(oneOf("Oo")), opt(alt(lit("c"), lit("k"))), lit("t"), opt(lit("ober"))),
		seq(class(oneOf("Nn")), lit("ov"), opt(lit("ember"))),
		seq(class(oneOf("Dd")), lit("e"), class(oneOf("cz")), opt(lit("ember"))),
	), boundary)
	// MONTHDAY (?:(?:0[1-9])|(?:[12][0-9])|(?:3[01])|[1-9])
	monthday = alt(seq(lit("0"), class(rng('1', '9'))), seq(class(oneOf("12")), digit), seq(lit("3"), class(oneOf("01"))), class(rng('1', '9')))
	// HOUR (?:2[0123]|[01]?[0-9]); MINUTE (?:[0-5][0-9]); SECOND (?:(?:[0-5]?[0-9]|60)(?:[:.,][0-9]+)?)
	hour   = alt(seq(lit("2"), class(oneOf("0123"))), seq(opt(class(oneOf("01"))), digit))
	minute = seq(class(rng('0', '5')), digit)
	second = seq(alt(seq(opt(class(rng('0', '5'))), digit), lit("60")), opt(seq(class(oneOf(":.,")), run(isDigit, 1, -1))))
	// TIME (?!<[0-9])%{HOUR}:%{MINUTE}(?::%{SECOND})(?![0-9]) — the first
	// look-ahead (for "<" and a digit) can never fail before an hour.
	timeOfDay = seq(hour, lit(":"), minute, lit(":"), second, notBefore(isDigit))
	// SYSLOGTIMESTAMP %{MONTH} +%{MONTHDAY} %{TIME}
	syslogTimestamp = seq(month, run(oneOf(" "), 1, -1), monthday, lit(" "), timeOfDay)

	// YEAR (?>\d\d){1,2}: the atomic group only stops backtracking inside a pair.
	year = alt(seq(digit, digit, digit, digit), seq(digit, digit))
	// MONTHNUM (?:0?[1-9]|1[0-2])
	monthnum = alt(seq(opt(lit("0")), class(rng('1', '9'))), seq(lit("1"), class(oneOf("012"))))
	// ISO8601_TIMEZONE (?:Z|[+-]%{HOUR}(?::?%{MINUTE}))
	isoZone = alt(lit("Z"), seq(class(oneOf("+-")), hour, opt(lit(":")), minute))
	// TIMESTAMP_ISO8601 %{YEAR}-%{MONTHNUM}-%{MONTHDAY}[T ]%{HOUR}:?%{MINUTE}(?::?%{SECOND})?%{ISO8601_TIMEZONE}?
	isoTimestamp = seq(year, lit("-"), monthnum, lit("-"), monthday, class(oneOf("T ")), hour, opt(lit(":")), minute,
		opt(seq(opt(lit(":")), second)), opt(isoZone))

	// SYSLOGFACILITY <%{NONNEGINT:facility}.%{NONNEGINT:priority}>
	syslogFacility = seq(lit("<"), capture(capFacility, nonneg), anyByte, capture(capFacilityPriority, nonneg), lit(">"))

	// IPV4 (?<![0-9])(?:octet[.]octet[.]octet[.]octet)(?![0-9]), octet
	// (?:[0-1]?[0-9]{1,2}|2[0-4][0-9]|25[0-5])
	octet = alt(seq(opt(class(oneOf("01"))), run(isDigit, 1, 2)), seq(lit("2"), class(rng('0', '4')), digit), seq(lit("25"), class(rng('0', '5'))))
	ipv4  = seq(notAfter(isDigit), octet, lit("."), octet, lit("."), octet, lit("."), octet, notBefore(isDigit))
	ipv6  = seq(ipv6Addr, opt(seq(lit("%"), anyRun(1))))

	// HOSTNAME \b(?:[0-9A-Za-z][0-9A-Za-z-]{0,62})(?:\.(?:[0-9A-Za-z][0-9A-Za-z-]{0,62}))*(\.?|\b)
	alnum    = func(c byte) bool { return isDigit(c) || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
	label    = seq(class(alnum), run(func(c byte) bool { return alnum(c) || c == '-' }, 0, 62))
	hostname = seq(boundary, label, rep(seq(lit("."), label), 0, -1), alt(opt(lit(".")), boundary))
	// SYSLOGHOST %{IPORHOST}; IPORHOST (?:%{IP}|%{HOSTNAME}); IP (?:%{IPV6}|%{IPV4})
	sysloghost = alt(ipv6, ipv4, hostname)

	// PROG [\x21-\x5a\x5c\x5e-\x7e]+; SYSLOGPROG %{PROG:program}(?:\[%{POSINT:pid}\])?
	prog       = run(func(c byte) bool { return c >= 0x21 && c <= 0x7e && c != '[' && c != ']' }, 1, -1)
	syslogprog = seq(capture(capProgram, prog), opt(seq(lit("["), capture(capPid, posint), lit("]"))))

	// SYSLOGBASE2 (?:%{SYSLOGTIMESTAMP:timestamp}|%{TIMESTAMP_ISO8601:timestamp8601}) (?:%{SYSLOGFACILITY} )?%{SYSLOGHOST:logsource}+(?: %{SYSLOGPROG}:|)
	syslogbase2 = seq(
		alt(capture(capTimestamp, syslogTimestamp), capture(capTimestamp8601, isoTimestamp)),
		lit(" "),
		opt(seq(syslogFacility, lit(" "))),
		rep(capture(capLogsource, sysloghost), 1, -1),
		alt(seq(lit(" "), syslogprog, lit(":")), empty),
	)
	// <%{POSINT:priority}>%{SYSLOGBASE2} %{GREEDYDATA:message}
	linePattern = seq(lit("<"), capture(capPriority, posint), lit(">"), syslogbase2, lit(" "), capture(capMessage, anyRun(0)))

	// The ECS (v1) pattern set:
	// SYSLOGBASE2 (?:%{SYSLOGTIMESTAMP:timestamp}|%{TIMESTAMP_ISO8601:timestamp})(?: %{SYSLOGFACILITY})?(?: %{SYSLOGHOST:[host][hostname]})?(?: %{SYSLOGPROG}:)?
	syslogbase2ECS = seq(
		alt(capture(capTimestamp, syslogTimestamp), capture(capTimestamp, isoTimestamp)),
		opt(seq(lit(" "), syslogFacility)),
		opt(seq(lit(" "), capture(capLogsource, sysloghost))),
		opt(seq(lit(" "), syslogprog, lit(":"))),
	)
	ecsLinePattern = seq(lit("<"), capture(capPriority, posint), lit(">"), syslogbase2ECS, lit(" "), capture(capMessage, anyRun(0)))
)

func isIPv6Byte(c byte) bool {
	return isDigit(c) || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' || c == ':' || c == '.'
}

// ipv6Addr matches an IPv6 address, longest first.
func ipv6Addr(st *state, i int, k func(int) bool) bool {
	n, colons := 0, 0
	// An IPv6 address in text is at most 45 bytes (IPv4-mapped, in full).
	for i+n < len(st.s) && n < 45 && isIPv6Byte(st.s[i+n]) {
		if st.s[i+n] == ':' {
			colons++
		}
		n++
	}
	if colons < 2 {
		return false
	}
	for ; n >= 2; n-- {
		if !st.spend(n) {
			return false
		}
		if a, err := netip.ParseAddr(st.s[i : i+n]); err == nil && a.Is6() && k(i+n) {
			return true
		}
	}
	return false
}

// match runs the pattern from each '<' in turn, as an unanchored regexp
// search does; it reports whether it matched and leaves the captures in st.
func (st *state) match(pattern matcher) bool {
	s := st.s
	for i := 0; i < len(s) && st.steps <= stepBudget; i++ {
		if s[i] != '<' {
			continue
		}
		st.caps = [numCaps][2]int{}
		for c := range st.caps {
			st.caps[c] = [2]int{-1, -1}
		}
		if pattern(st, i, func(int) bool { return true }) {
			return true
		}
	}
	return false
}

// get returns a capture, and whether it participated in the match.
func (st *state) get(slot int) (string, bool) {
	c := st.caps[slot]
	if c[0] < 0 {
		return "", false
	}
	return st.s[c[0]:c[1]], true
}
