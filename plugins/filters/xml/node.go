package xml

import (
	"encoding/xml"
	"fmt"
	"strings"

	"github.com/antchfx/xpath"
)

// The document tree the filter parses into and its XPath navigator. This
// was xmlquery's; its package imports golang.org/x/net/html/charset, whose
// encoding index initializes every CJK table of golang.org/x/text (0.6 MB
// of data, 0.8 MB of the release binary with their code, #23) although the
// filter parses with its own decoder. The navigator moves as xmlquery's did
// (TestNavigatorMatchesXmlquery compares them), so XPath results are the
// same.

// nodeType is what a node is.
type nodeType uint8

const (
	documentNode nodeType = iota
	elementNode
	textNode
	charDataNode
	commentNode
)

// attr is an attribute of an element.
type attr struct {
	Name         xml.Name
	Value        string
	NamespaceURI string
}

// node is a document, element, text or comment, linked to its parent and
// siblings.
type node struct {
	Parent, FirstChild, LastChild, PrevSibling, NextSibling *node

	Type         nodeType
	Data         string // the element's local name, or the text
	Prefix       string
	NamespaceURI string
	Attr         []attr
}

// addChild appends n to parent's children.
func addChild(parent, n *node) {
	n.Parent, n.NextSibling = parent, nil
	n.PrevSibling = parent.LastChild
	if parent.LastChild == nil {
		parent.FirstChild = n
	} else {
		parent.LastChild.NextSibling = n
	}
	parent.LastChild = n
}

// innerText is the text of n and its descendants, comments left out.
func (n *node) innerText() string {
	var b strings.Builder
	var walk func(*node)
	walk = func(n *node) {
		switch n.Type {
		case textNode, charDataNode:
			b.WriteString(n.Data)
		case commentNode:
		default:
			for c := n.FirstChild; c != nil; c = c.NextSibling {
				walk(c)
			}
		}
	}
	walk(n)
	return b.String()
}

// navigator is an xpath.NodeNavigator over a tree of nodes: at node cur, or
// at its attribute number at when at ≥ 0.
type navigator struct {
	root, cur *node
	at        int
}

var _ xpath.NodeNavigator = (*navigator)(nil)

func newNavigator(root *node) *navigator { return &navigator{root: root, cur: root, at: -1} }

func (x *navigator) NodeType() xpath.NodeType {
	switch x.cur.Type {
	case documentNode:
		return xpath.RootNode
	case elementNode:
		if x.at >= 0 {
			return xpath.AttributeNode
		}
		return xpath.ElementNode
	case textNode, charDataNode:
		return xpath.TextNode
	case commentNode:
		return xpath.CommentNode
	}
	panic(fmt.Sprintf("xml: node type %d", x.cur.Type))
}

func (x *navigator) LocalName() string {
	if x.at >= 0 {
		return x.cur.Attr[x.at].Name.Local
	}
	return x.cur.Data
}

func (x *navigator) Prefix() string {
	if x.at >= 0 {
		return x.cur.Attr[x.at].Name.Space
	}
	return x.cur.Prefix
}

func (x *navigator) NamespaceURL() string {
	if x.at >= 0 {
		return x.cur.Attr[x.at].NamespaceURI
	}
	return x.cur.NamespaceURI
}

// Value is an attribute's value, an element's inner text, a text's or a
// comment's data; a CDATA node's value is empty, as xmlquery's was.
func (x *navigator) Value() string {
	switch x.cur.Type {
	case elementNode:
		if x.at >= 0 {
			return x.cur.Attr[x.at].Value
		}
		return x.cur.innerText()
	case textNode, commentNode:
		return x.cur.Data
	}
	return ""
}

func (x *navigator) String() string { return x.Value() }

func (x *navigator) Copy() xpath.NodeNavigator {
	c := *x
	return &c
}

func (x *navigator) MoveToRoot() { x.cur, x.at = x.root, -1 }

func (x *navigator) MoveToParent() bool {
	if x.at >= 0 {
		x.at = -1
		return true
	}
	if x.cur.Parent == nil {
		return false
	}
	x.cur = x.cur.Parent
	return true
}

func (x *navigator) MoveToNextAttribute() bool {
	if x.at+1 >= len(x.cur.Attr) {
		return false
	}
	x.at++
	return true
}

func (x *navigator) MoveToChild() bool {
	if x.at >= 0 || x.cur.FirstChild == nil {
		return false
	}
	x.cur = x.cur.FirstChild
	return true
}

func (x *navigator) MoveToFirst() bool {
	if x.at >= 0 || x.cur.PrevSibling == nil {
		return false
	}
	for x.cur.PrevSibling != nil {
		x.cur = x.cur.PrevSibling
	}
	return true
}

// blank is a text node of whitespace only, which sibling moves skip (as
// xmlquery's did; a first child is not skipped).
func blank(n *node) bool { return n.Type == textNode && strings.TrimSpace(n.Data) == "" }

func (x *navigator) MoveToNext() bool {
	if x.at >= 0 {
		return false
	}
	for n := x.cur.NextSibling; n != nil; n = n.NextSibling {
		x.cur = n
		if !blank(n) {
			return true
		}
	}
	return false
}

func (x *navigator) MoveToPrevious() bool {
	if x.at >= 0 {
		return false
	}
	for n := x.cur.PrevSibling; n != nil; n = n.PrevSibling {
		x.cur = n
		if !blank(n) {
			return true
		}
	}
	return false
}

func (x *navigator) MoveTo(other xpath.NodeNavigator) bool {
	o, ok := other.(*navigator)
	if !ok || o.root != x.root {
		return false
	}
	x.cur, x.at = o.cur, o.at
	return true
}
