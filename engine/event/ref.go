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

// ParseRef parses a Logstash field reference with Logstash's strict grammar
// (FieldReference.StrictTokenizer):
//
//   - a bare word (no brackets) names a top-level field, dots and spaces
//     included ("a.b" is one key);
//   - otherwise every path element is bracketed, as in "[a][b]"; an embedded
//     reference such as "[a][[b][c]]" is flattened to [a][b][c];
//   - "a[b]", "[a]b", "[a", "a]", "[]" and "[a][]" are errors.
//
// A first element "@metadata" points into the event metadata. The empty string
// is refused (Logstash would take it as the key "").
func ParseRef(s string) (Ref, error) {
	r := Ref{src: s}
	if s == "" {
		return r, fmt.Errorf("empty field reference")
	}
	bracket := false
	for i := 0; i < len(s); i++ {
		if s[i] == '[' || s[i] == ']' {
			bracket = true
			break
		}
	}
	if !bracket {
		r.path = []segment{newSegment(s)}
		return r.finish(), nil
	}
	var (
		depth    int
		split    int
		previous byte
		current  byte
	)
	invalid := func(why string) (Ref, error) {
		return Ref{src: s}, fmt.Errorf("invalid field reference %q: %s", s, why)
	}
	for i := 0; i < len(s); i++ {
		previous, current = current, s[i]
		switch current {
		case '[':
			if split != i {
				return invalid("brackets must enclose every path element, as in [a][b]")
			}
			depth++
			split = i + 1
		case ']':
			if depth <= 0 {
				return invalid("unbalanced ']'")
			}
			if split == i && previous != ']' {
				return invalid("empty path element []")
			}
			if split < i {
				r.path = append(r.path, newSegment(s[split:i]))
			}
			depth--
			split = i + 1
		default:
			if previous == ']' {
				return invalid("text after ']' must be enclosed in brackets, as in [a][b]")
			}
		}
	}
	if depth > 0 {
		return invalid("missing ']'")
	}
	return r.finish(), nil
}

func (r Ref) finish() Ref {
	if len(r.path) > 0 && r.path[0].key == MetadataField {
		r.meta = true
		r.path = r.path[1:]
	}
	return r
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

// PlainKeys splits a field reference made of plain keys ("a" or "[a][b]")
// into them, for a plugin that writes the path into JSON itself (the beats
// input's and the lumberjack output's agent token field). A nested
// reference ("[a][[b][c]]") is refused.
func PlainKeys(s string) ([]string, error) {
	if _, err := ParseRef(s); err != nil {
		return nil, err
	}
	if !strings.HasPrefix(s, "[") {
		return []string{s}, nil
	}
	keys := strings.Split(strings.TrimSuffix(strings.TrimPrefix(s, "["), "]"), "][")
	for _, k := range keys {
		if k == "" || strings.ContainsAny(k, "[]") {
			return nil, fmt.Errorf("%q: want plain keys such as [fields][agent_token]", s)
		}
	}
	return keys, nil
}
