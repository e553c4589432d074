// Package corpus measures how much of a directory of real-world Logstash
// configurations `pipeline check` accepts: it completes conf.d fragments
// into runnable pipelines, gives ${VAR} references dummy values, and groups
// the errors check reports into blockers that can be ranked.
//
// The scanner here is deliberately lexical and forgiving: it must say which
// sections a file has and which plugin encloses an error position even when
// the file is one our parser refuses, so it cannot reuse that parser.
package corpus

import (
	"regexp"
	"sort"
	"strings"
	"unicode/utf8"
)

// Block is a `name { … }` the scanner found: a section, a plugin or a codec.
type Block struct {
	Kind    string // "section", "plugin" or "codec"
	Name    string
	Section string // input, filter or output: the section the block is in
	Start   int    // byte offset of the name
	End     int    // byte offset just past the closing brace (len(src) if unclosed)
}

// Setting is a `name => value` inside a plugin.
type Setting struct {
	Name       string
	ValueStart int // byte offset of the value's first byte
}

// Var is a ${NAME} or ${NAME:default} reference.
type Var struct {
	Name       string
	HasDefault bool
}

// Info is what Scan learns of one file.
type Info struct {
	Sections map[string]bool // input, filter, output (others too: a typo is a section to Scan)
	Blocks   []Block         // in source order of their names
	Settings []Setting       // in source order
	Vars     []Var           // distinct names, in order of first use
	lines    []int           // byte offset of each line start
	src      []byte
}

// IsPipeline reports whether the file has at least one of the three
// Logstash sections, the test for "this is a pipeline configuration".
func (in *Info) IsPipeline() bool {
	return in.Sections["input"] || in.Sections["filter"] || in.Sections["output"]
}

// Complete reports whether the file is a whole pipeline on its own: it has
// both an input and an output section.
func (in *Info) Complete() bool { return in.Sections["input"] && in.Sections["output"] }

var varRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_.]*)(:[^}]*)?\}`)

type token struct {
	kind byte // 'w' word, 's' string, 'r' regexp, '=' for =>, 'm' for =~ and !~, or the punctuation byte
	text string
	off  int
}

type frame struct {
	kind    string // section, plugin, codec, cond, hash
	block   int    // index in Info.Blocks, -1 for cond and hash
	section string
}

// Scan reads src lexically: comments, strings and regexps are skipped as
// Logstash's grammar skips them, braces are matched, and every `name {`
// becomes a Block.
func Scan(src []byte) *Info {
	in := &Info{Sections: map[string]bool{}, src: src, lines: []int{0}}
	for i, c := range src {
		if c == '\n' {
			in.lines = append(in.lines, i+1)
		}
	}
	var (
		stack  []frame
		prev   []token // significant tokens since the last brace, newest last
		inCond bool    // between if/else if and its "{"
		brack  int     // [ ] depth inside a condition or value
	)
	top := func() *frame {
		if len(stack) == 0 {
			return nil
		}
		return &stack[len(stack)-1]
	}
	last := func(n int) token {
		if len(prev) < n {
			return token{}
		}
		return prev[len(prev)-n]
	}
	seenVar := map[string]bool{}
	for _, tk := range tokens(src) {
		switch {
		case tk.kind == 's' || tk.kind == 'w':
			for _, m := range varRef.FindAllStringSubmatch(tk.text, -1) {
				if !seenVar[m[1]] {
					seenVar[m[1]] = true
					in.Vars = append(in.Vars, Var{Name: m[1], HasDefault: m[2] != ""})
				}
			}
		}
		switch tk.kind {
		case 'w':
			if t := top(); t != nil && (t.kind == "section" || t.kind == "cond") && !inCond && brack == 0 &&
				(tk.text == "if" || tk.text == "elseif") {
				inCond = true
			}
		case '[':
			brack++
		case ']':
			if brack > 0 {
				brack--
			}
		case '=':
			if t := top(); t != nil && (t.kind == "plugin" || t.kind == "codec") && last(1).kind != 0 {
				if n := last(1); n.kind == 'w' || n.kind == 's' {
					in.Settings = append(in.Settings, Setting{Name: unquote(n.text), ValueStart: nextOffset(src, tk.off+2)})
				}
			}
		case '{':
			t := top()
			p1 := last(1)
			var f frame
			switch {
			case inCond:
				f = frame{kind: "cond", block: -1}
				inCond = false
			case t == nil && (p1.kind == 'w' || p1.kind == 's'):
				name := unquote(p1.text)
				in.Sections[name] = true
				in.Blocks = append(in.Blocks, Block{Kind: "section", Name: name, Section: name, Start: p1.off, End: len(src)})
				f = frame{kind: "section", block: len(in.Blocks) - 1, section: name}
			case p1.kind == 'w' && p1.text == "else":
				f = frame{kind: "cond", block: -1}
			case p1.kind == '=' || t == nil || t.kind == "hash" || brack > 0:
				f = frame{kind: "hash", block: -1}
			case p1.kind == 'w' || p1.kind == 's':
				kind := "plugin"
				if last(2).kind == '=' {
					kind = "codec"
				}
				in.Blocks = append(in.Blocks, Block{Kind: kind, Name: unquote(p1.text), Section: t.section, Start: p1.off, End: len(src)})
				f = frame{kind: kind, block: len(in.Blocks) - 1}
			default:
				f = frame{kind: "hash", block: -1}
			}
			if t != nil && f.section == "" {
				f.section = t.section
			}
			stack = append(stack, f)
			prev = prev[:0]
			brack = 0
			continue
		case '}':
			if t := top(); t != nil {
				if t.block >= 0 {
					in.Blocks[t.block].End = tk.off + 1
				}
				stack = stack[:len(stack)-1]
			}
			prev = prev[:0]
			inCond = false
			brack = 0
			continue
		}
		prev = append(prev, tk)
	}
	return in
}

// nextOffset skips blanks from off.
func nextOffset(src []byte, off int) int {
	for off < len(src) && (src[off] == ' ' || src[off] == '\t' || src[off] == '\n' || src[off] == '\r') {
		off++
	}
	return off
}

func unquote(s string) string {
	if len(s) >= 2 && (s[0] == '"' || s[0] == '\'') && s[len(s)-1] == s[0] {
		return s[1 : len(s)-1]
	}
	return s
}

// tokens splits a .conf source into the tokens Scan needs. A "/" starts a
// regexp only right after =~ or !~, where Logstash's grammar allows one.
func tokens(src []byte) []token {
	var out []token
	isWord := func(c byte) bool {
		return c == '_' || c == '-' || c == '.' || c == '@' || c == '$' || c == ':' || c == '/' ||
			c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= utf8.RuneSelf
	}
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == '#':
			for i < len(src) && src[i] != '\n' {
				i++
			}
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ',':
			i++
		case c == '"' || c == '\'':
			j := i + 1
			for j < len(src) && src[j] != c {
				if src[j] == '\\' {
					j++
				}
				j++
			}
			j = min(j+1, len(src))
			out = append(out, token{kind: 's', text: string(src[i:j]), off: i})
			i = j
		case c == '/' && len(out) > 0 && out[len(out)-1].kind == 'm':
			j := i + 1
			for j < len(src) && src[j] != '/' && src[j] != '\n' {
				if src[j] == '\\' {
					j++
				}
				j++
			}
			j = min(j+1, len(src))
			out = append(out, token{kind: 'r', text: string(src[i:j]), off: i})
			i = j
		case c == '=' && i+1 < len(src) && src[i+1] == '>':
			out = append(out, token{kind: '=', text: "=>", off: i})
			i += 2
		case (c == '=' || c == '!') && i+1 < len(src) && src[i+1] == '~':
			out = append(out, token{kind: 'm', text: string(src[i : i+2]), off: i})
			i += 2
		case c == '{' || c == '}' || c == '[' || c == ']':
			out = append(out, token{kind: c, text: string(c), off: i})
			i++
		case c == '$' && i+1 < len(src) && src[i+1] == '{':
			j := i
			for j < len(src) && src[j] != '}' && src[j] != '\n' {
				j++
			}
			j = min(j+1, len(src))
			out = append(out, token{kind: 'w', text: string(src[i:j]), off: i})
			i = j
		case isWord(c):
			j := i
			for j < len(src) && isWord(src[j]) {
				j++
			}
			out = append(out, token{kind: 'w', text: string(src[i:j]), off: i})
			i = j
		default:
			out = append(out, token{kind: c, text: string(c), off: i})
			i++
		}
	}
	return out
}

// Offset turns a 1-based line and column (columns counted in characters)
// into a byte offset, clamped to the source.
func (in *Info) Offset(line, col int) int {
	if line < 1 || line > len(in.lines) {
		return len(in.src)
	}
	off := in.lines[line-1]
	for n := 1; n < col && off < len(in.src) && in.src[off] != '\n'; n++ {
		_, size := utf8.DecodeRune(in.src[off:])
		off += size
	}
	return off
}

// PluginAt returns the innermost plugin or codec block around offset off.
func (in *Info) PluginAt(off int) (Block, bool) {
	best, found := Block{}, false
	for _, b := range in.Blocks {
		if b.Kind != "section" && b.Start <= off && off < b.End && (!found || b.Start >= best.Start) {
			best, found = b, true
		}
	}
	return best, found
}

// SettingAt returns the name of the setting whose value contains offset
// off: the last setting of the innermost plugin around off that starts at
// or before it.
func (in *Info) SettingAt(off int) (string, bool) {
	b, ok := in.PluginAt(off)
	if !ok {
		return "", false
	}
	i := sort.Search(len(in.Settings), func(i int) bool { return in.Settings[i].ValueStart > off })
	if i == 0 || in.Settings[i-1].ValueStart < b.Start {
		return "", false
	}
	return in.Settings[i-1].Name, true
}

// Completed returns src made into a whole pipeline: a stub input and a stub
// output are appended where the file has none, so a conf.d fragment is
// checked as Logstash would run it among its siblings. Appending keeps the
// line numbers of the errors in the original text.
func (in *Info) Completed() []byte {
	var add strings.Builder
	if !in.Sections["input"] {
		add.WriteString("input { stdin {} }\n")
	}
	if !in.Sections["output"] {
		add.WriteString("output { stdout {} }\n")
	}
	if add.Len() == 0 {
		return in.src
	}
	out := append([]byte(nil), in.src...)
	if len(out) > 0 && out[len(out)-1] != '\n' {
		out = append(out, '\n')
	}
	return append(out, add.String()...)
}
