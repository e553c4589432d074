package dissect

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/engine/valuefmt"
)

// The pattern syntax and the scan follow Logstash's Java Dissector, so that
// its corner cases (a delimiter at the very start, greedy padding, the text
// after the last field) give the same results.

type fieldKind uint8

const (
	skipField fieldKind = iota
	normalField
	appendField
	indirectField
)

// Sort ranks of the saved fields, as Logstash's: normal fields first, then
// append fields by their /n order, then indirect ones.
const (
	normalOrdinal   = 1
	appendOrdinal   = 100
	indirectOrdinal = 1000
)

type delimiter struct {
	text   string
	greedy bool // skip repeats: the field before it had "->"
}

// index is the first occurrence of d at or after from, or -1; an empty
// delimiter is never found.
func (d *delimiter) index(s string, from int) int {
	if d.text == "" || from > len(s) {
		return -1
	}
	i := strings.Index(s[from:], d.text)
	if i < 0 {
		return -1
	}
	return from + i
}

type field struct {
	kind       fieldKind
	name       string
	ref        event.Ref // normal and append fields
	ordinal    int
	prev, next *delimiter
}

// joiner is what an append field puts before its value.
func (f *field) joiner() string {
	if f.prev == nil || f.prev.text == "" {
		return " "
	}
	return f.prev.text
}

type dissector struct {
	pattern    string
	fields     []field
	saved      []int // indexes of fields to set, in setting order
	firstDelim int   // length of the text before the first field
}

var (
	fieldExpr     = regexp.MustCompile(`(?s)(.*?)%\{([^}]*?)}`)
	finalDelim    = regexp.MustCompile(`[^}]+$`)
	suffixOnly    = regexp.MustCompile(`^(/\d{1,2}|->|/\d{1,2}->|->/\d{1,2})?$`)
	nameAndSuffix = regexp.MustCompile(`^(.+?)(/\d{1,2}|->|/\d{1,2}->|->/\d{1,2})?$`)
	digits        = regexp.MustCompile(`\d+`)
)

func compile(pattern string) (*dissector, error) {
	d := &dissector{pattern: pattern}
	type holder struct {
		name       string
		prev, next *delimiter
	}
	var hs []holder
	for _, m := range fieldExpr.FindAllStringSubmatch(pattern, -1) {
		delim := &delimiter{text: m[1]}
		if len(hs) == 0 {
			d.firstDelim = len(delim.text)
		} else {
			hs[len(hs)-1].next = delim
		}
		hs = append(hs, holder{name: m[2], prev: delim})
	}
	if len(hs) == 0 {
		return nil, errors.New("the pattern has no %{} field")
	}
	if m := finalDelim.FindString(pattern); m != "" {
		delim := &delimiter{text: m}
		hs[len(hs)-1].next = delim
		hs = append(hs, holder{name: "?", prev: delim})
	}
	for _, h := range hs {
		fl, err := newField(h.name, h.prev, h.next)
		if err != nil {
			return nil, err
		}
		d.fields = append(d.fields, fl)
	}
	for i := range d.fields {
		if d.fields[i].kind != skipField {
			d.saved = append(d.saved, i)
		}
	}
	sort.SliceStable(d.saved, func(a, b int) bool {
		return d.fields[d.saved[a]].ordinal < d.fields[d.saved[b]].ordinal
	})
	return d, nil
}

func newField(spec string, prev, next *delimiter) (field, error) {
	fl := field{prev: prev, next: next}
	var name, suffix string
	switch {
	case spec == "" || spec[0] == '?':
		fl.kind = skipField
		name, suffix = splitSuffix(strings.TrimPrefix(spec, "?"))
	case strings.HasPrefix(spec, "+&"), strings.HasPrefix(spec, "&+"):
		return fl, fmt.Errorf("field %%{%s}: cannot prefix with both append and indirect (%s)", spec, spec[:2])
	case spec[0] == '+' || spec[0] == '&':
		fl.kind, fl.ordinal = appendField, appendOrdinal
		if spec[0] == '&' {
			fl.kind, fl.ordinal = indirectField, indirectOrdinal
		}
		if len(spec) == 1 {
			return fl, fmt.Errorf("field %%{%s}: a prefix cannot stand on its own without a name", spec)
		}
		name, suffix = splitSuffix(spec[1:])
		if name == "" {
			return fl, fmt.Errorf("field %%{%s}: a prefix and a suffix need a name between them", spec)
		}
		if fl.kind == appendField {
			if n := digits.FindString(suffix); n != "" {
				k, _ := strconv.Atoi(n)
				fl.ordinal += k
			}
		}
	default:
		fl.kind, fl.ordinal = normalField, normalOrdinal
		name, suffix = splitSuffix(spec)
		if name == "" {
			// %{->}: Logstash sets a field with an empty name; here it
			// is a skip field, since an empty name is no field reference.
			fl.kind, fl.ordinal = skipField, 0
		}
	}
	fl.name = name
	if next != nil {
		next.greedy = strings.Contains(suffix, "->")
	}
	if fl.kind == normalField || fl.kind == appendField {
		r, err := event.ParseRef(name)
		if err != nil {
			return fl, fmt.Errorf("field %%{%s}: %w", spec, err)
		}
		fl.ref = r
	}
	return fl, nil
}

func splitSuffix(s string) (name, suffix string) {
	if suffixOnly.MatchString(s) {
		return "", s
	}
	if m := nameAndSuffix.FindStringSubmatch(s); m != nil {
		return m[1], m[2]
	}
	return s, ""
}

// span is where a field's value lies in the source.
type span struct{ start, length int }

// dissect scans src and, when the whole pattern matches, sets the fields on e.
// It reports whether the pattern matched; *err is set when a matched value
// could not be set.
func (d *dissector) dissect(src string, e *event.Event, err *error) bool {
	var buf [16]span
	spans := buf[:0]
	if len(d.fields) > len(buf) {
		spans = make([]span, 0, len(d.fields))
	}
	spans = spans[:len(d.fields)]
	p := position{src: src, firstDelim: d.firstDelim, ok: true}
	last := len(d.fields) - 1
	for i := 0; i < last && p.ok; i++ {
		fl := &d.fields[i]
		p.beyond(fl.prev)
		if !p.ok {
			break
		}
		p.next(fl.next)
		if !p.ok {
			break
		}
		spans[i] = span{p.start, p.length}
	}
	if !p.ok {
		return false
	}
	p.beyond(d.fields[last].prev)
	if !p.ok {
		return false
	}
	spans[last] = span{p.start, len(src) - p.left}
	value := func(i int) string { s := spans[i]; return src[s.start : s.start+s.length] }
	for _, i := range d.saved {
		fl := &d.fields[i]
		var setErr error
		switch fl.kind {
		case normalField:
			setErr = e.Set(fl.ref, value(i))
		case appendField:
			v := value(i)
			if old, ok := e.Get(fl.ref); ok {
				var b []byte
				if s, isString := old.(string); isString {
					b = append(b, s...)
				} else {
					b = valuefmt.AppendRubyToS(b, old)
				}
				v = string(append(append(b, fl.joiner()...), v...))
			}
			setErr = e.Set(fl.ref, v)
		case indirectField:
			key := d.indirectName(fl, i, e, value)
			if key == "" {
				continue
			}
			r, perr := event.ParseRef(key)
			if perr != nil {
				setErr = fmt.Errorf("indirect field name %q: %w", key, perr)
			} else {
				setErr = e.Set(r, value(i))
			}
		}
		if setErr != nil {
			*err = fmt.Errorf("dissect: field %q: %w", fl.name, setErr)
			return false
		}
	}
	return true
}

// indirectName is the value naming an indirect field's key: the event's field
// of that name, else the value of another field of the pattern by that name.
func (d *dissector) indirectName(fl *field, self int, e *event.Event, value func(int) string) string {
	if r, err := event.ParseRef(fl.name); err == nil {
		if v, ok := e.Get(r); ok {
			if s, isString := v.(string); isString {
				return s
			}
			return string(valuefmt.AppendRubyToS(nil, v))
		}
	}
	for i := range d.fields {
		if i != self && d.fields[i].name == fl.name {
			return value(i)
		}
	}
	return ""
}

// position is the scan state of Logstash's Dissector.Position.
type position struct {
	src           string
	firstDelim    int
	left, pos     int
	start, length int
	ok            bool
}

// beyond moves past the delimiter before a field: past all its repeats when
// greedy; for the first field, the text before it must start src.
func (p *position) beyond(prev *delimiter) {
	switch {
	case prev.greedy:
		for {
			p.pos = prev.index(p.src, p.left)
			if p.pos != p.left {
				break
			}
			p.left = p.pos + len(prev.text)
		}
	case p.left == 0 && p.firstDelim > 0:
		p.pos = prev.index(p.src, p.left)
		if p.pos != 0 {
			p.ok = false
			return
		}
		p.left = len(prev.text)
	}
	p.start = p.left
}

// next finds the delimiter after a field: the field ends there.
func (p *position) next(next *delimiter) {
	p.length = 0
	p.pos = next.index(p.src, p.left)
	switch {
	case p.pos < 0:
		p.ok = false
	case p.pos > 0:
		// As in Logstash, a delimiter at offset 0 leaves the field empty
		// without moving past it.
		p.length = p.pos - p.left
		p.left = p.pos + len(next.text)
	}
}
