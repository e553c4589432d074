package xml

import (
	"strings"
)

// simple turns a document into a hash as Ruby's XmlSimple.xml_in does with
// the options Logstash passes (ForceArray, ForceContent, SuppressEmpty; no
// KeyAttr folding):
//   - the root element itself is not a key: its attributes and children are;
//   - an element's attributes are string values named as written (with
//     their prefix, xmlns declarations included); children are keyed by
//     their local name, a name seen twice collects a list, and with
//     force_array every child is a list;
//   - an element with only text is that text (or {"content" => text} with
//     force_content, or when it has attributes); mixed content puts its text
//     pieces under "content";
//   - an element with nothing in it is {} (kept, or dropped from its parent
//     with suppress_empty when the parent has no attributes; the root then
//     gives null).
type simple struct {
	forceArray, forceContent, suppressEmpty bool
}

const contentKey = "content"
const anonymousTag = "anon"

// absent is what an empty element collapses to with suppress_empty
// (XmlSimple's nil): skipped by a parent without attributes, null otherwise.
type absent struct{}

func (s simple) convert(root *node) any {
	v := s.collapse(root)
	if _, ok := v.(absent); ok {
		return nil
	}
	return v
}

func (s simple) collapse(el *node) any {
	result := make(map[string]any, len(el.Attr))
	for _, a := range el.Attr {
		result[qname(a.Name)] = a.Value
	}
	hasElements, hasText := false, false
	for c := el.FirstChild; c != nil; c = c.NextSibling {
		switch c.Type {
		case elementNode:
			hasElements = true
		case textNode, charDataNode:
			hasText = true
		}
	}
	if hasElements {
		for c := el.FirstChild; c != nil; c = c.NextSibling {
			if c.Type != elementNode {
				continue
			}
			v := s.collapse(c)
			if isEmpty(v) && len(el.Attr) == 0 && s.suppressEmpty {
				continue
			}
			if _, ok := v.(absent); ok {
				v = nil
			}
			s.merge(result, c.Data, v)
		}
		if hasText {
			var texts []any
			var all strings.Builder
			for c := el.FirstChild; c != nil; c = c.NextSibling {
				if c.Type == textNode || c.Type == charDataNode {
					var b strings.Builder
					escapeText(&b, c.Data) // REXML's Text#to_s: the escaped form
					texts = append(texts, b.String())
					all.WriteString(c.Data)
				}
			}
			if strings.TrimSpace(all.String()) != "" {
				if len(texts) == 1 {
					result[contentKey] = texts[0]
				} else {
					result[contentKey] = texts
				}
			}
		}
	} else if hasText {
		var text strings.Builder
		for c := el.FirstChild; c != nil; c = c.NextSibling {
			if c.Type == textNode || c.Type == charDataNode {
				text.WriteString(c.Data)
			}
		}
		value := text.String()
		if strings.TrimSpace(value) == "" && len(el.Attr) == 0 {
			return map[string]any{}
		}
		if len(el.Attr) > 0 || s.forceContent {
			s.merge(result, contentKey, value)
			return result
		}
		return value
	}
	// A hash holding one array under the anonymous tag is that array.
	arrays := 0
	for _, v := range result {
		if _, ok := v.([]any); ok {
			arrays++
		}
	}
	if arrays == 1 {
		if a, ok := result[anonymousTag].([]any); ok {
			return a
		}
	}
	if len(result) == 0 && s.suppressEmpty {
		return absent{}
	}
	return result
}

// merge adds key: value to h as XmlSimple's merge: a second value turns the
// first into a list.
func (s simple) merge(h map[string]any, key string, value any) {
	if old, ok := h[key]; ok {
		if l, ok := old.([]any); ok {
			h[key] = append(l, value)
		} else {
			h[key] = []any{old, value}
		}
		return
	}
	if l, ok := value.([]any); ok {
		h[key] = []any{l}
		return
	}
	if s.forceArray && key != contentKey {
		h[key] = []any{value}
		return
	}
	h[key] = value
}

// isEmpty is XmlSimple's empty: nil, a blank string or an empty hash.
func isEmpty(v any) bool {
	switch x := v.(type) {
	case absent, nil:
		return true
	case map[string]any:
		return len(x) == 0
	case string:
		return strings.TrimSpace(x) == ""
	}
	return false
}
