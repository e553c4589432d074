package syslog

import (
	"strconv"
	"strings"

	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/engine/timefmt"
)

// rfc5424Event parses msg as RFC 5424:
//
//	<PRI>VERSION SP TIMESTAMP SP HOSTNAME SP APP-NAME SP PROCID SP MSGID SP SD [SP MSG]
//
// into e and reports whether it was one. A "-" (nil value) sets no field. A
// trailing newline stays in message, as with RFC 3164; a UTF-8 BOM at the
// start of MSG is removed.
func (p *Parser) rfc5424Event(e *event.Event, msg string) bool {
	s := msg
	if len(s) < 4 || s[0] != '<' {
		return false
	}
	end := strings.IndexByte(s, '>')
	if end < 2 || end > 4 {
		return false
	}
	pri, err := strconv.Atoi(s[1:end])
	if err != nil || pri > 191 || s[1] == '0' && end > 2 {
		return false
	}
	s = s[end+1:]
	field := func() (string, bool) {
		i := strings.IndexByte(s, ' ')
		if i <= 0 {
			return "", false
		}
		v := s[:i]
		s = s[i+1:]
		return v, true
	}
	version, ok := field()
	if !ok || version[0] < '1' || version[0] > '9' || len(version) > 3 {
		return false
	}
	for i := 0; i < len(version); i++ {
		if !isDigit(version[i]) {
			return false
		}
	}
	var parts [5]string
	for i := range parts {
		if parts[i], ok = field(); !ok {
			return false
		}
	}
	ts, host, app, procid, msgid := parts[0], parts[1], parts[2], parts[3], parts[4]
	sd, rest, ok := parseSD(s)
	if !ok {
		return false
	}
	text := strings.TrimPrefix(rest, " ")
	text = strings.TrimPrefix(text, "\ufeff")

	_ = e.Set(p.f.version, version)
	set := func(r event.Ref, v string) {
		if v != "-" {
			_ = e.Set(r, v)
		}
	}
	if !p.ecs {
		set(refTimestamp, ts)
	}
	set(p.f.logsource, host)
	set(p.f.program, app)
	if procid != "-" {
		if _, err := strconv.ParseInt(procid, 10, 64); err == nil || !p.ecs {
			p.setPid(e, procid, nil)
		} else {
			_ = e.Set(refProcessID, procid)
		}
	}
	set(p.f.msgid, msgid)
	if sd != nil {
		_ = e.Set(p.f.structuredData, sd)
	}
	_ = e.Set(refMessage, text)
	p.setPriority(e, int64(pri), nil)
	if ts != "-" {
		if t, err := timefmt.ParseISO8601(ts, p.loc, p.now()); err == nil {
			e.SetTimestamp(t)
		} else {
			e.AddTag(TagDateFailure)
		}
	}
	p.labels(e, int64(pri), nil)
	return true
}

// parseSD parses STRUCTURED-DATA: "-" or one or more [SD-ID *(SP NAME="VALUE")]
// elements, with \" \\ and \] escapes in values.
func parseSD(s string) (map[string]any, string, bool) {
	if strings.HasPrefix(s, "-") {
		return nil, s[1:], true
	}
	if !strings.HasPrefix(s, "[") {
		return nil, s, false
	}
	out := map[string]any{}
	for strings.HasPrefix(s, "[") {
		s = s[1:]
		i := strings.IndexAny(s, " ]")
		if i <= 0 {
			return nil, s, false
		}
		id := s[:i]
		params := map[string]any{}
		s = s[i:]
		for strings.HasPrefix(s, " ") {
			s = s[1:]
			eq := strings.Index(s, "=\"")
			if eq <= 0 {
				return nil, s, false
			}
			name := s[:eq]
			s = s[eq+2:]
			var val strings.Builder
			closed := false
			for j := 0; j < len(s); j++ {
				c := s[j]
				if c == '\\' && j+1 < len(s) && (s[j+1] == '"' || s[j+1] == '\\' || s[j+1] == ']') {
					val.WriteByte(s[j+1])
					j++
					continue
				}
				if c == '"' {
					s = s[j+1:]
					closed = true
					break
				}
				val.WriteByte(c)
			}
			if !closed {
				return nil, s, false
			}
			params[name] = val.String()
		}
		if !strings.HasPrefix(s, "]") {
			return nil, s, false
		}
		s = s[1:]
		out[id] = params
	}
	return out, s, true
}

var refProcessID = event.MustRef("[process][id]")
