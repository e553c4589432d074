package csv

import (
	"errors"
	"strings"
)

// The parse errors, worded as Ruby's CSV words them, since they end up in logs
// users compare with Logstash's.
var (
	errIllegalQuoting = errors.New("Illegal quoting in line 1.")
	errUnclosed       = errors.New("Unclosed quoted field in line 1.")
	errAfterQuoted    = errors.New("Any value after quoted field isn't allowed in line 1.")
	errNewLine        = errors.New("Unquoted fields do not allow new line in line 1.")
)

// parseLine reads the first row of s as Ruby's CSV.parse_line does with the
// default row separator (:auto): the row ends at the first "\r\n", "\n" or
// "\r" — whichever occurs first in s decides, even inside quotes, as Ruby's
// detection does — and a line break in an unquoted field is an error. An empty
// unquoted field is nil, an empty quoted one "". An empty s has no row
// (ok false); a lone line break is a row without fields.
func parseLine(s, sep string, quote string) (fields []*string, ok bool, err error) {
	if s == "" {
		return nil, false, nil
	}
	rowSep := detectRowSep(s)
	fields = []*string{}
	pos := 0
	for {
		if rowSep != "" && strings.HasPrefix(s[pos:], rowSep) && len(fields) == 0 {
			return fields, true, nil // an empty line
		}
		var field *string
		if strings.HasPrefix(s[pos:], quote) {
			var b strings.Builder
			pos += len(quote)
			for {
				i := strings.Index(s[pos:], quote)
				if i < 0 {
					return nil, true, errUnclosed
				}
				b.WriteString(s[pos : pos+i])
				pos += i + len(quote)
				if strings.HasPrefix(s[pos:], quote) {
					b.WriteString(quote) // a doubled quote is one quote
					pos += len(quote)
					continue
				}
				break
			}
			v := b.String()
			field = &v
			if pos < len(s) && !strings.HasPrefix(s[pos:], sep) && (rowSep == "" || !strings.HasPrefix(s[pos:], rowSep)) {
				return nil, true, errAfterQuoted
			}
		} else {
			end := len(s)
			if i := strings.Index(s[pos:], sep); i >= 0 {
				end = pos + i
			}
			if rowSep != "" {
				if i := strings.Index(s[pos:end], rowSep); i >= 0 {
					end = pos + i
				}
			}
			v := s[pos:end]
			if strings.Contains(v, quote) {
				return nil, true, errIllegalQuoting
			}
			if strings.ContainsAny(v, "\r\n") {
				return nil, true, errNewLine
			}
			if v != "" {
				field = &v
			}
			pos = end
		}
		fields = append(fields, field)
		if strings.HasPrefix(s[pos:], sep) {
			pos += len(sep)
			continue
		}
		return fields, true, nil // at the row separator or the end
	}
}

// detectRowSep is the first line break of s, "" when there is none.
func detectRowSep(s string) string {
	i := strings.IndexAny(s, "\r\n")
	switch {
	case i < 0:
		return ""
	case s[i] == '\n':
		return "\n"
	case i+1 < len(s) && s[i+1] == '\n':
		return "\r\n"
	}
	return "\r"
}
