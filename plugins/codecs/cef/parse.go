package cef

import (
	"errors"
	"fmt"
	"math/big"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/pipelined/pipeline/engine/event"
)

var errKeyless = errors.New("invalid extensions; keyless value present")

// Parse decodes one CEF message into an event; a message that is not valid
// CEF gives a _cefparsefailure event holding it.
func (c *Codec) Parse(data string) *event.Event {
	e, err := c.parse(data)
	if err != nil {
		if data != "" && data[0] == '"' && utf8.ValidString(data) {
			data = unquote(data)
		}
		return c.failure(data)
	}
	return e
}

// unquote drops the first and last characters, as Ruby's data[1..-2].
func unquote(s string) string {
	_, first := utf8.DecodeRuneInString(s)
	if len(s) <= first {
		return ""
	}
	_, last := utf8.DecodeLastRuneInString(s)
	if len(s)-last < first {
		return ""
	}
	return s[first : len(s)-last]
}

func (c *Codec) parse(data string) (*event.Event, error) {
	e := event.NewAt(c.now())
	if c.hasRaw {
		if err := e.Set(c.raw, data); err != nil {
			return nil, err
		}
	}
	if !utf8.ValidString(data) {
		return nil, errors.New("invalid byte sequence in UTF-8")
	}
	if data != "" && data[0] == '"' {
		data = unquote(data)
	}
	rest := chomp(data)
	if strings.Contains(rest, "\n") {
		return nil, errors.New("message is not valid CEF because it contains unescaped newline characters")
	}
	var header [7]string
	for i := range header {
		end := headerEnd(rest)
		if end < 0 {
			return nil, fmt.Errorf("message is not valid CEF; found %d of 7 required pipe-terminated header fields", i)
		}
		header[i] = unescapeHeader(rest[:end])
		rest = rest[end+1:]
	}
	if sp := strings.LastIndexByte(header[0], ' '); sp >= 0 {
		if err := e.Set(c.syslogRef, header[0][:sp]); err != nil {
			return nil, err
		}
		header[0] = header[0][sp+1:]
	}
	header[0] = strings.TrimPrefix(header[0], "CEF:")
	for i, v := range header {
		if err := e.Set(c.headerRefs[i], v); err != nil {
			return nil, err
		}
	}
	if rest == "" {
		return e, nil
	}
	rest = strings.Trim(rest, rubySpace)
	type kv struct{ key, value string }
	var ext []kv
	index := map[string]int{}
	for {
		keyEnd := extensionKey(rest, 0)
		if keyEnd < 0 {
			break
		}
		key := rest[:keyEnd]
		valEnd := extensionValue(rest, keyEnd+1)
		raw := rest[keyEnd+1 : valEnd]
		rest = strings.TrimLeft(rest[valEnd:], rubySpace)
		if m, ok := c.decodeMap[key]; ok {
			key = m
		}
		if strings.HasSuffix(key, "]") {
			key = arrayKey(key)
		}
		v := unescapeValue(raw)
		if i, ok := index[key]; ok {
			ext[i].value = v
		} else {
			index[key] = len(ext)
			ext = append(ext, kv{key, v})
		}
	}
	if rest != "" {
		return nil, errKeyless
	}
	if c.ecs {
		dtz := ""
		if i, ok := index["[event][timezone]"]; ok {
			dtz = ext[i].value
		}
		for i := range ext {
			if !c.timestamps[ext[i].key] {
				continue
			}
			r := event.MustRef(ext[i].key)
			if strings.TrimSpace(ext[i].value) == "" {
				if err := e.Set(r, nil); err != nil {
					return nil, err
				}
			} else {
				t, err := c.parseTimestamp(ext[i].value, dtz)
				if err != nil {
					return nil, err
				}
				if err := e.Set(r, t); err != nil {
					return nil, err
				}
			}
			ext[i].key = "" // set
		}
	}
	for _, x := range ext {
		if x.key == "" {
			continue
		}
		r, err := event.ParseRef(x.key)
		if err != nil {
			return nil, err
		}
		if err := e.Set(r, x.value); err != nil {
			return nil, err
		}
	}
	return e, nil
}

// rubySpace is Ruby's \s and strip set.
const rubySpace = " \t\n\v\f\r\x00"

func isSpace(b byte) bool {
	return b == ' ' || b == '\t' || b == '\n' || b == '\v' || b == '\f' || b == '\r'
}

// chomp drops one trailing "\r\n", "\n" or "\r", as Ruby's String#chomp.
func chomp(s string) string {
	switch {
	case strings.HasSuffix(s, "\r\n"):
		return s[:len(s)-2]
	case strings.HasSuffix(s, "\n"), strings.HasSuffix(s, "\r"):
		return s[:len(s)-1]
	}
	return s
}

// headerEnd returns the index of the "|" ending the first header field of
// s, as Logstash's lazy pattern (?:\\\||\\\\|[^|])*?\| finds it with
// backtracking: escaped pipes and backslashes are skipped, and only when no
// field end follows does an escaping backslash count as text.
func headerEnd(s string) int {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '|':
			return i
		case '\\':
			if i+1 < len(s) && (s[i+1] == '|' || s[i+1] == '\\') {
				i++
			}
		}
	}
	if strings.IndexByte(s, '|') < 0 {
		return -1
	}
	// Backtracking: res[i] is the end the pattern finds from i, in the
	// regexp engine's order of alternatives.
	res := make([]int, len(s)+2)
	res[len(s)], res[len(s)+1] = -1, -1
	for i := len(s) - 1; i >= 0; i-- {
		res[i] = -1
		if s[i] == '|' {
			res[i] = i
			continue
		}
		if s[i] == '\\' && i+1 < len(s) && (s[i+1] == '|' || s[i+1] == '\\') && res[i+2] >= 0 {
			res[i] = res[i+2]
			continue
		}
		res[i] = res[i+1]
	}
	return res[0]
}

func unescapeHeader(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) && (s[i+1] == '\\' || s[i+1] == '|') {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isWord(b byte) bool {
	return b == '_' || '0' <= b && b <= '9' || 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z'
}

// extensionKey matches Logstash's key pattern \w+(?:\.[^.=\s|\\\[\]]+)*(?:\[[0-9]+\])?
// followed by "=" at s[p:], and returns the index of that "=", or -1.
func extensionKey(s string, p int) int {
	i := p
	for i < len(s) && isWord(s[i]) {
		i++
	}
	if i == p {
		return -1
	}
	for i < len(s) && s[i] == '.' {
		j := i + 1
		for j < len(s) && !strings.ContainsRune(".= \t\n\v\f\r|\\[]", rune(s[j])) {
			j++
		}
		if j == i+1 {
			break
		}
		i = j
	}
	if i < len(s) && s[i] == '[' {
		j := i + 1
		for j < len(s) && '0' <= s[j] && s[j] <= '9' {
			j++
		}
		if j > i+1 && j < len(s) && s[j] == ']' {
			i = j + 1
		}
	}
	if i < len(s) && s[i] == '=' {
		return i
	}
	return -1
}

// extensionValue returns where the value starting at s[p:] ends: at a run
// of whitespace followed by another key=, or at the end.
func extensionValue(s string, p int) int {
	i := p
	for i < len(s) {
		if !isSpace(s[i]) {
			i++
			continue
		}
		j := i
		for j < len(s) && isSpace(s[j]) {
			j++
		}
		if extensionKey(s, j) >= 0 {
			return i
		}
		i = j
	}
	return i
}

var arrayKeyRE = regexp.MustCompile(`^([^\[\]]+)((?:\[[0-9]+\])+)$`)

func arrayKey(k string) string { return arrayKeyRE.ReplaceAllString(k, "[$1]$2") }

func unescapeValue(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			switch s[i+1] {
			case '\\', '=':
				b.WriteByte(s[i+1])
				i++
				continue
			case 'n':
				b.WriteByte('\n')
				i++
				continue
			case 'r':
				b.WriteByte('\r')
				i++
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

var epochRE = regexp.MustCompile(`^[1-9][0-9]*(?:\.[0-9]+)?$`)

// cefTimeRE is "MMM dd[ yyyy] HH:mm:ss[.SSSSSSSSS|.SSSSSS|.SSS][ zzz]".
var cefTimeRE = regexp.MustCompile(`^([A-Za-z]{3}) ([0-9]{2})(?: ([0-9]{4}))? ([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{9}|[0-9]{6}|[0-9]{3}))?(?: (\S+))?$`)

var months = map[string]time.Month{"jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6, "jul": 7, "aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12}

// loadZone reads a zone name as the timestamps and dtz give it.
func loadZone(name string) (*time.Location, error) {
	switch name {
	case "UTC", "GMT", "Z", "UT":
		return time.UTC, nil
	}
	if z, err := time.LoadLocation(name); err == nil && name != "" && name != "Local" {
		return z, nil
	}
	return nil, fmt.Errorf("unknown time zone %q", name)
}

// parseTimestamp reads a CEF timestamp as Logstash's TimestampNormalizer:
// milliseconds since the epoch, or the CEF date format in the zone it names,
// else the device's zone dtz, else default_timezone; the year guessed from
// the clock when absent.
func (c *Codec) parseTimestamp(v, dtz string) (time.Time, error) {
	if epochRE.MatchString(v) {
		r, ok := new(big.Rat).SetString(v)
		if !ok {
			return time.Time{}, fmt.Errorf("not a valid CEF timestamp: %q", v)
		}
		ns := new(big.Rat).Mul(r, big.NewRat(1_000_000, 1))
		n := new(big.Int).Quo(ns.Num(), ns.Denom())
		if !n.IsInt64() {
			return time.Time{}, fmt.Errorf("not a valid CEF timestamp: %q", v)
		}
		return time.Unix(0, n.Int64()).UTC(), nil
	}
	m := cefTimeRE.FindStringSubmatch(v)
	if m == nil {
		return time.Time{}, fmt.Errorf("not a valid CEF timestamp: %q", v)
	}
	month, ok := months[strings.ToLower(m[1])]
	if !ok {
		return time.Time{}, fmt.Errorf("not a valid CEF timestamp: %q (month)", v)
	}
	day, _ := strconv.Atoi(m[2])
	hh, _ := strconv.Atoi(m[4])
	mm, _ := strconv.Atoi(m[5])
	ss, _ := strconv.Atoi(m[6])
	ns := 0
	if m[7] != "" {
		frac := m[7] + strings.Repeat("0", 9-len(m[7]))
		ns, _ = strconv.Atoi(frac)
	}
	zone := c.zone
	if dtz != "" {
		z, err := loadZone(dtz)
		if err != nil {
			return time.Time{}, err
		}
		zone = z
	}
	if m[8] != "" {
		z, err := loadZone(m[8])
		if err != nil {
			return time.Time{}, err
		}
		zone = z
	}
	if day < 1 || day > 31 || hh > 23 || mm > 59 || ss > 59 {
		return time.Time{}, fmt.Errorf("not a valid CEF timestamp: %q (out of range)", v)
	}
	valid := func(y int) bool { return time.Date(y, month, day, 0, 0, 0, 0, time.UTC).Day() == day }
	if m[3] != "" {
		y, _ := strconv.Atoi(m[3])
		if !valid(y) {
			return time.Time{}, fmt.Errorf("not a valid CEF timestamp: %q (day)", v)
		}
		return time.Date(y, month, day, hh, mm, ss, ns, zone).UTC(), nil
	}
	now := c.now().In(zone)
	at := func(y int) time.Time { return time.Date(y, month, day, hh, mm, ss, ns, zone) }
	t := at(now.Year())
	switch {
	case t.After(now.AddDate(0, 0, 2)):
		t = at(now.Year() - 1)
	case now.Month() == time.December && !at(now.Year()+1).After(now.AddDate(0, 0, 2)):
		t = at(now.Year() + 1)
	}
	return t.UTC(), nil
}
