package http

import (
	"fmt"
	"net/url"
	"sort"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/engine/valuefmt"
)

// node is a compiled mapping: a template (a leaf), an object (keys sorted)
// or a list.
type node struct {
	leaf   *event.Template
	keys   []string
	fields []node
	items  []node
	list   bool
}

// compileMapping compiles mapping; a nil mapping is the zero node (the
// whole event is sent).
func compileMapping(m engine.AnyHash) (node, error) {
	if m == nil {
		return node{}, nil
	}
	return compileValue(map[string]any(m))
}

func compileValue(v any) (node, error) {
	switch v := v.(type) {
	case map[string]any:
		n := node{keys: make([]string, 0, len(v))}
		for k := range v {
			n.keys = append(n.keys, k)
		}
		sort.Strings(n.keys)
		for _, k := range n.keys {
			c, err := compileValue(v[k])
			if err != nil {
				return node{}, fmt.Errorf("%s: %w", k, err)
			}
			n.fields = append(n.fields, c)
		}
		if n.fields == nil {
			n.fields = []node{}
		}
		return n, nil
	case []any:
		n := node{list: true}
		for i, el := range v {
			c, err := compileValue(el)
			if err != nil {
				return node{}, fmt.Errorf("[%d]: %w", i, err)
			}
			n.items = append(n.items, c)
		}
		return n, nil
	case string:
		t, err := event.ParseTemplate(v)
		if err != nil {
			return node{}, err
		}
		return node{leaf: &t}, nil
	case nil:
		t := event.MustTemplate("")
		return node{leaf: &t}, nil
	default:
		// Logstash's sprintf of a number or boolean is its text.
		t, err := event.ParseTemplate(string(valuefmt.AppendRubyToS(nil, v)))
		if err != nil {
			return node{}, err
		}
		return node{leaf: &t}, nil
	}
}

// isSet reports whether the node is a compiled mapping.
func (n node) isSet() bool { return n.leaf != nil || n.fields != nil || n.list }

// value renders the node for e as event value types.
func (n node) value(e *event.Event) any {
	switch {
	case n.leaf != nil:
		return n.leaf.Render(e)
	case n.list:
		out := make([]any, len(n.items))
		for i, it := range n.items {
			out[i] = it.value(e)
		}
		return out
	}
	out := make(map[string]any, len(n.keys))
	for i, k := range n.keys {
		out[k] = n.fields[i].value(e)
	}
	return out
}

// appendJSON appends the JSON of the event or its mapping.
func (o *Output) appendJSON(dst []byte, e *event.Event) []byte {
	if !o.mapping.isSet() {
		return e.AppendJSON(dst)
	}
	return event.AppendJSONValue(dst, o.mapping.value(e))
}

// appendForm appends the top-level fields of the event or its mapping as
// key=value pairs joined by "&", each escaped as Ruby's CGI.escape does
// (spaces as "+") and each value as Ruby's to_s prints it.
func (o *Output) appendForm(dst []byte, e *event.Event) []byte {
	var m map[string]any
	if o.mapping.isSet() {
		m, _ = o.mapping.value(e).(map[string]any)
	} else {
		m = e.Fields()
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var buf []byte
	for i, k := range keys {
		if i > 0 {
			dst = append(dst, '&')
		}
		dst = append(dst, url.QueryEscape(k)...)
		dst = append(dst, '=')
		buf = valuefmt.AppendRubyToS(buf[:0], m[k])
		dst = append(dst, url.QueryEscape(string(buf))...)
	}
	return dst
}
