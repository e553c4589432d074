package jdbc

import (
	"strconv"
	"strings"
)

// query is a statement with its named parameters (":name", Sequel's
// syntax) or "?" marks (prepared statements) turned into the driver's
// placeholders, once.
type query struct {
	sql string
	// args names the value bound to each placeholder in order ("$n" of
	// PostgreSQL may repeat a name's number instead).
	args []string
}

// piece is a part of a statement: text, or a parameter.
type piece struct {
	text  string
	param string // ":name" without the colon; "?" for a question mark
}

// split cuts a statement into text and parameters. Quoted strings ('…',
// "…", `…`, PostgreSQL's $tag$…$tag$), comments (-- and /* */) and casts
// (::type) are text; ":name" needs a letter or "_" first, so "10:30" is
// text too.
func split(s string) []piece {
	var out []piece
	start := 0
	flush := func(i int) {
		if i > start {
			out = append(out, piece{text: s[start:i]})
		}
	}
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\'' || c == '"' || c == '`':
			j := i + 1
			for j < len(s) {
				if s[j] == c {
					if j+1 < len(s) && s[j+1] == c { // doubled quote
						j += 2
						continue
					}
					break
				}
				if s[j] == '\\' && c != '"' && j+1 < len(s) { // MySQL escapes
					j += 2
					continue
				}
				j++
			}
			i = min(j+1, len(s))
		case c == '-' && i+1 < len(s) && s[i+1] == '-':
			j := strings.IndexByte(s[i:], '\n')
			if j < 0 {
				i = len(s)
			} else {
				i += j + 1
			}
		case c == '/' && i+1 < len(s) && s[i+1] == '*':
			j := strings.Index(s[i+2:], "*/")
			if j < 0 {
				i = len(s)
			} else {
				i += j + 4
			}
		case c == '$':
			// $tag$ … $tag$ (tag may be empty); $1 is left as it is.
			j := i + 1
			for j < len(s) && (isWord(s[j]) && !(j == i+1 && s[j] >= '0' && s[j] <= '9')) {
				j++
			}
			if j < len(s) && s[j] == '$' {
				tag := s[i : j+1]
				if k := strings.Index(s[j+1:], tag); k >= 0 {
					i = j + 1 + k + len(tag)
				} else {
					i = len(s)
				}
			} else {
				i = j
			}
		case c == ':' && i+1 < len(s) && s[i+1] == ':':
			i += 2
		case c == ':' && i+1 < len(s) && (isLetter(s[i+1]) || s[i+1] == '_'):
			j := i + 1
			for j < len(s) && isWord(s[j]) {
				j++
			}
			flush(i)
			out = append(out, piece{param: s[i+1 : j]})
			i, start = j, j
		case c == '?':
			flush(i)
			out = append(out, piece{param: "?"})
			i++
			start = i
		default:
			i++
		}
	}
	flush(len(s))
	return out
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isWord(c byte) bool   { return isLetter(c) || c >= '0' && c <= '9' || c == '_' }

// compile turns the named parameters of a statement into placeholders; a
// "?" stays text (it is an operator in PostgreSQL's JSON). With marks, the
// "?" are the placeholders instead (prepared statements), and named ones
// stay text.
func compile(stmt string, d *dialect, marks bool) query {
	var b strings.Builder
	var q query
	num := map[string]int{}
	for _, p := range split(stmt) {
		switch {
		case p.param == "":
			b.WriteString(p.text)
			continue
		case p.param == "?" && !marks:
			b.WriteString("?")
			continue
		case p.param != "?" && marks:
			b.WriteString(":" + p.param)
			continue
		}
		name := p.param
		if marks {
			name = "#" + strconv.Itoa(len(q.args))
		}
		if !d.dollar {
			b.WriteString("?")
			q.args = append(q.args, name)
			continue
		}
		n, ok := num[name]
		if !ok {
			q.args = append(q.args, name)
			n = len(q.args)
			num[name] = n
		}
		b.WriteString("$" + strconv.Itoa(n))
	}
	q.sql = b.String()
	return q
}

// names returns the distinct named parameters of a statement.
func names(stmt string) []string {
	var out []string
	seen := map[string]bool{}
	for _, p := range split(stmt) {
		if p.param != "" && p.param != "?" && !seen[p.param] {
			seen[p.param] = true
			out = append(out, p.param)
		}
	}
	return out
}

// marks counts the "?" placeholders of a statement.
func marks(stmt string) int {
	n := 0
	for _, p := range split(stmt) {
		if p.param == "?" {
			n++
		}
	}
	return n
}

// trimStatement drops the trailing ";" that SQL consoles want and a
// subquery refuses.
func trimStatement(s string) string {
	return strings.TrimRight(strings.TrimSpace(s), "; \t\r\n")
}
