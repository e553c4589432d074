package event

import (
	"fmt"
	"strconv"
	"strings"
)

// Ref is a parsed field reference: "message", "[a][b]", "[@metadata][x]",
// "[arr][0]". Parse references once, when a plugin is built.
type Ref struct {
	path []segment
	meta bool
	src  string
}

type segment struct {
	key     string
	index   int
	isIndex bool // key is an integer: an index when the container is an array
}

// ParseRef parses a Logstash field reference. A bare word (no brackets) names a
// top-level field, dots included ("a.b" is one key, as in Logstash).
func ParseRef(s string) (Ref, error) {
	r := Ref{src: s}
	if s == "" {
		return r, fmt.Errorf("empty field reference")
	}
	if s[0] != '[' {
		if strings.ContainsAny(s, "[]") {
			return r, fmt.Errorf("invalid field reference %q: brackets must enclose every path element, as in [a][b]", s)
		}
		r.path = []segment{newSegment(s)}
		return r.finish()
	}
	rest := s
	for rest != "" {
		if rest[0] != '[' {
			return r, fmt.Errorf("invalid field reference %q: expected '[' at %q", s, rest)
		}
		end := strings.IndexByte(rest, ']')
		if end < 0 {
			return r, fmt.Errorf("invalid field reference %q: missing ']'", s)
		}
		name := rest[1:end]
		if name == "" {
			return r, fmt.Errorf("invalid field reference %q: empty path element []", s)
		}
		if strings.IndexByte(name, '[') >= 0 {
			return r, fmt.Errorf("invalid field reference %q: nested '['", s)
		}
		r.path = append(r.path, newSegment(name))
		rest = rest[end+1:]
	}
	return r.finish()
}

func (r Ref) finish() (Ref, error) {
	if len(r.path) > 0 && r.path[0].key == MetadataField {
		r.meta = true
		r.path = r.path[1:]
	}
	return r, nil
}

func newSegment(k string) segment {
	sg := segment{key: k}
	if i, err := strconv.Atoi(k); err == nil {
		sg.index, sg.isIndex = i, true
	}
	return sg
}

// MustRef parses s or panics; for constants in plugin code.
func MustRef(s string) Ref {
	r, err := ParseRef(s)
	if err != nil {
		panic(err)
	}
	return r
}

// String returns the reference as written.
func (r Ref) String() string { return r.src }

// IsMetadata reports whether the reference points into [@metadata].
func (r Ref) IsMetadata() bool { return r.meta }

// IsZero reports whether r was never parsed.
func (r Ref) IsZero() bool { return r.src == "" }
