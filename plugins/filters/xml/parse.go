package xml

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
)

// MaxDocumentBytes is the largest XML text the filter parses; a longer one
// fails the event (_xmlparsefailure).
const MaxDocumentBytes = 16 << 20

// MaxDepth is the deepest element nesting the filter parses; a deeper
// document fails the event. The hash store_xml makes of it nests about
// twice as deep (a list and an object per level), within what an event
// holds.
const MaxDepth = 400

var errNoRoot = errors.New("no root element")

// parseOptions say how a document is read.
type parseOptions struct {
	// recover keeps what was read before an error, as libxml2's RECOVER
	// (Nokogiri's default): a mismatched end tag closes up to the element it
	// names or is ignored, and the document ends at a syntax error.
	recover bool
	// noBlanks drops text nodes that are only whitespace.
	noBlanks bool
}

// parse reads text into a document tree that the XPath navigator
// walks. In strict mode (recover false) it refuses what XML forbids and
// encoding/xml lets pass: duplicate attributes, mismatched or missing end
// tags, text or a second element beside the root, no root at all.
func parse(text string, po parseOptions) (*node, error) {
	if len(text) > MaxDocumentBytes {
		return nil, fmt.Errorf("the document is %d bytes, over the %d-byte budget (MaxDocumentBytes)", len(text), MaxDocumentBytes)
	}
	d := xml.NewDecoder(strings.NewReader(text))
	d.Strict = !po.recover
	// The text is already UTF-8 (Logstash passes the string's own encoding
	// to the parser, whatever the declaration says).
	d.CharsetReader = func(_ string, r io.Reader) (io.Reader, error) { return r, nil }

	doc := &node{Type: documentNode}
	var stack []*node
	var scopes []map[string]string // prefix → namespace URI, per open element
	var root *node
	lookup := func(prefix string) string {
		for i := len(scopes) - 1; i >= 0; i-- {
			if uri, ok := scopes[i][prefix]; ok {
				return uri
			}
		}
		if prefix == "xml" {
			return "http://www.w3.org/XML/1998/namespace"
		}
		return ""
	}
	parent := func() *node {
		if len(stack) == 0 {
			return doc
		}
		return stack[len(stack)-1]
	}
	pop := func(n int) {
		stack = stack[:n]
		scopes = scopes[:n]
	}
	for {
		tok, err := d.RawToken()
		if err == io.EOF {
			break
		}
		if err != nil {
			if po.recover {
				break // keep what was read, as libxml2 recovers
			}
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if len(stack) == 0 && root != nil {
				if po.recover {
					// libxml2 stops at "extra content at the end".
					return doc, nil
				}
				return nil, fmt.Errorf("line %d: a second root element <%s>", lineOf(d, text), qname(t.Name))
			}
			if len(stack) >= MaxDepth {
				return nil, fmt.Errorf("elements nested deeper than %d levels (MaxDepth)", MaxDepth)
			}
			var scope map[string]string
			for _, a := range t.Attr {
				switch {
				case a.Name.Space == "" && a.Name.Local == "xmlns":
					if scope == nil {
						scope = map[string]string{}
					}
					scope[""] = a.Value
				case a.Name.Space == "xmlns":
					if scope == nil {
						scope = map[string]string{}
					}
					scope[a.Name.Local] = a.Value
				}
			}
			scopes = append(scopes, scope)
			n := &node{Type: elementNode, Data: t.Name.Local, Prefix: t.Name.Space, NamespaceURI: lookup(t.Name.Space)}
			for i, a := range t.Attr {
				if !po.recover {
					for _, b := range t.Attr[:i] {
						if a.Name == b.Name {
							return nil, fmt.Errorf("line %d: attribute %s given twice on <%s>", lineOf(d, text), qname(a.Name), qname(t.Name))
						}
					}
				} else if hasAttr(n, a.Name) {
					continue // libxml2 keeps the first
				}
				at := attr{Name: a.Name, Value: a.Value}
				if a.Name.Space != "" && a.Name.Space != "xmlns" {
					at.NamespaceURI = lookup(a.Name.Space)
				}
				n.Attr = append(n.Attr, at)
			}
			addChild(parent(), n)
			stack = append(stack, n)
			if root == nil {
				root = n
			}
		case xml.EndElement:
			if len(stack) > 0 {
				top := stack[len(stack)-1]
				if top.Data == t.Name.Local && top.Prefix == t.Name.Space {
					pop(len(stack) - 1)
					continue
				}
			}
			if !po.recover {
				return nil, fmt.Errorf("line %d: end tag </%s> does not match", lineOf(d, text), qname(t.Name))
			}
			for i := len(stack) - 1; i >= 0; i-- {
				if stack[i].Data == t.Name.Local && stack[i].Prefix == t.Name.Space {
					pop(i)
					break
				}
			}
		case xml.CharData:
			if len(stack) == 0 {
				if len(bytes.TrimSpace(t)) > 0 {
					if po.recover {
						if root != nil {
							return doc, nil
						}
						continue
					}
					return nil, fmt.Errorf("line %d: text outside the root element", lineOf(d, text))
				}
				continue
			}
			if po.noBlanks && len(bytes.TrimSpace(t)) == 0 {
				continue
			}
			p := parent()
			if last := p.LastChild; last != nil && last.Type == textNode {
				last.Data += string(t)
				continue
			}
			addChild(p, &node{Type: textNode, Data: string(t)})
		case xml.Comment:
			addChild(parent(), &node{Type: commentNode, Data: string(t)})
		case xml.ProcInst, xml.Directive:
			// The declaration, processing instructions and DOCTYPE carry
			// nothing the filter stores.
		}
	}
	if len(stack) > 0 && !po.recover {
		return nil, fmt.Errorf("the document ends inside <%s>", qname(xml.Name{Space: stack[len(stack)-1].Prefix, Local: stack[len(stack)-1].Data}))
	}
	if root == nil && !po.recover {
		return nil, errNoRoot
	}
	return doc, nil
}

func hasAttr(n *node, name xml.Name) bool {
	for _, a := range n.Attr {
		if a.Name == name {
			return true
		}
	}
	return false
}

func qname(n xml.Name) string {
	if n.Space == "" {
		return n.Local
	}
	return n.Space + ":" + n.Local
}

func lineOf(d *xml.Decoder, text string) int {
	off := d.InputOffset()
	if off > int64(len(text)) {
		off = int64(len(text))
	}
	return 1 + strings.Count(text[:off], "\n")
}

// rootElement returns the document's root element, or nil.
func rootElement(doc *node) *node {
	for c := doc.FirstChild; c != nil; c = c.NextSibling {
		if c.Type == elementNode {
			return c
		}
	}
	return nil
}

// removeNamespaces drops every namespace from the tree, as Nokogiri's
// remove_namespaces!: prefixes, URIs and the xmlns declarations.
func removeNamespaces(n *node) {
	for ; n != nil; n = n.NextSibling {
		if n.Type == elementNode {
			n.Prefix, n.NamespaceURI = "", ""
			attrs := n.Attr[:0]
			for _, a := range n.Attr {
				if a.Name.Space == "xmlns" || (a.Name.Space == "" && a.Name.Local == "xmlns") {
					continue
				}
				a.Name.Space, a.NamespaceURI = "", ""
				attrs = append(attrs, a)
			}
			n.Attr = attrs
		}
		removeNamespaces(n.FirstChild)
	}
}

// serialize writes n as Nokogiri's to_s does (libxml2's dump with
// formatting): an element whose children hold no text gets each child on a
// line of its own, indented by two spaces a level; namespace declarations
// come before the other attributes; an element without children is
// self-closed.
func serialize(b *strings.Builder, n *node, level int) {
	switch n.Type {
	case textNode, charDataNode:
		escapeText(b, n.Data)
	case commentNode:
		b.WriteString("<!--")
		b.WriteString(n.Data)
		b.WriteString("-->")
	case documentNode:
		b.WriteString("<?xml version=\"1.0\"?>\n")
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			serialize(b, c, 0)
			b.WriteByte('\n')
		}
	case elementNode:
		b.WriteByte('<')
		writeQName(b, n.Prefix, n.Data)
		for pass := 0; pass < 2; pass++ {
			for _, a := range n.Attr {
				decl := a.Name.Space == "xmlns" || (a.Name.Space == "" && a.Name.Local == "xmlns")
				if decl != (pass == 0) {
					continue
				}
				b.WriteByte(' ')
				writeQName(b, a.Name.Space, a.Name.Local)
				b.WriteString(`="`)
				escapeAttr(b, a.Value)
				b.WriteByte('"')
			}
		}
		if n.FirstChild == nil {
			b.WriteString("/>")
			return
		}
		b.WriteByte('>')
		format := true
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			if c.Type == textNode || c.Type == charDataNode {
				format = false
				break
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			if format {
				b.WriteByte('\n')
				b.WriteString(strings.Repeat("  ", level+1))
			}
			next := level + 1
			if !format {
				next = 0
			}
			serialize(b, c, next)
		}
		if format {
			b.WriteByte('\n')
			b.WriteString(strings.Repeat("  ", level))
		}
		b.WriteString("</")
		writeQName(b, n.Prefix, n.Data)
		b.WriteByte('>')
	}
}

func writeQName(b *strings.Builder, prefix, local string) {
	if prefix != "" {
		b.WriteString(prefix)
		b.WriteByte(':')
	}
	b.WriteString(local)
}

func escapeText(b *strings.Builder, s string) {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '&':
			b.WriteString("&amp;")
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '\r':
			b.WriteString("&#13;")
		default:
			b.WriteByte(c)
		}
	}
}

func escapeAttr(b *strings.Builder, s string) {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '&':
			b.WriteString("&amp;")
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '"':
			b.WriteString("&quot;")
		case '\n':
			b.WriteString("&#10;")
		case '\r':
			b.WriteString("&#13;")
		case '\t':
			b.WriteString("&#9;")
		default:
			b.WriteByte(c)
		}
	}
}
