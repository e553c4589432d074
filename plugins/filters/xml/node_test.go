package xml

import (
	"fmt"
	"strings"
	"testing"

	"github.com/antchfx/xmlquery"
	"github.com/antchfx/xpath"
)

// toXmlquery copies a tree into xmlquery's nodes.
func toXmlquery(n *node) *xmlquery.Node {
	types := map[nodeType]xmlquery.NodeType{documentNode: xmlquery.DocumentNode, elementNode: xmlquery.ElementNode,
		textNode: xmlquery.TextNode, charDataNode: xmlquery.CharDataNode, commentNode: xmlquery.CommentNode}
	q := &xmlquery.Node{Type: types[n.Type], Data: n.Data, Prefix: n.Prefix, NamespaceURI: n.NamespaceURI}
	for _, a := range n.Attr {
		q.Attr = append(q.Attr, xmlquery.Attr{Name: a.Name, Value: a.Value, NamespaceURI: a.NamespaceURI})
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		xmlquery.AddChild(q, toXmlquery(c))
	}
	return q
}

// results renders what an expression gives: each node as its type, name and
// value, or the value of a number, string or boolean.
func results(v any) string {
	it, ok := v.(*xpath.NodeIterator)
	if !ok {
		return fmt.Sprintf("%T %v", v, v)
	}
	var b strings.Builder
	for i := 0; it.MoveNext() && i < 1000; i++ {
		c := it.Current()
		ns := ""
		if n, ok := c.(interface{ NamespaceURL() string }); ok {
			ns = n.NamespaceURL()
		}
		fmt.Fprintf(&b, "[%d %s:%s %s %q]", c.NodeType(), c.Prefix(), c.LocalName(), ns, c.Value())
	}
	return b.String()
}

// TestNavigatorMatchesXmlquery evaluates XPath expressions that use every
// axis and node test over documents with namespaces, attributes, comments,
// blank and mixed text, with this package's navigator and with xmlquery's
// over the same tree: the results must be the same.
func TestNavigatorMatchesXmlquery(t *testing.T) {
	docs := []string{
		`<r a="1" b="2"><x>one</x>  <x y="3">two<!-- c --><z/></x>
  <w>  </w><x>three</x>tail</r>`,
		`<?xml version="1.0"?><p:root xmlns:p="urn:p" xmlns="urn:d" p:at="v"><p:item n="1">a</p:item><item n="2">b<sub>c</sub></item><!--note--></p:root>`,
		`<a><b><c>1</c><c>2</c></b><b><c>3</c></b><b/></a>`,
		`<doc xml:lang="en"><t>x &amp; y</t><t></t><t>
</t></doc>`,
	}
	exprs := []string{
		"/", "/*", "//*", "//x", "//x[2]", "//x[last()]", "//@*", "//@y", "//text()", "//comment()", "//node()",
		"/r/x/following-sibling::*", "//z/preceding-sibling::node()", "//x/preceding-sibling::*", "//z/ancestor::*",
		"//z/ancestor-or-self::node()", "/r/descendant::*", "//x/parent::*", "//x[@y]/@y/..", "count(//x)", "string(/r)",
		"name(/*)", "local-name(/*)", "namespace-uri(/*)", "//*[local-name()='item']", "//*[namespace-uri()='urn:p']",
		"//@*[local-name()='at']", "sum(//c)", "//b[c]", "//b[not(c)]", "//c[. > 1]", "//c[position() = 2]",
		"//t[normalize-space(.) = '']", "//t[1]/text()", "//x/following::*", "//z/preceding::*",
		"concat(//x[1], '-', //x[3])", "//x[1]/following-sibling::text()", "boolean(//w)", "//w/text()", "(//c)[last()]",
		"//@n/parent::*", "/*/*[1]/self::*",
	}
	for i, d := range docs {
		doc, err := parse(d, parseOptions{})
		if err != nil {
			t.Fatalf("doc %d: %v", i, err)
		}
		q := toXmlquery(doc)
		for _, e := range exprs {
			x, err := xpath.Compile(e)
			if err != nil {
				t.Fatalf("%s: %v", e, err)
			}
			got := results(x.Evaluate(newNavigator(doc)))
			want := results(x.Evaluate(xmlquery.CreateXPathNavigator(q)))
			if got != want {
				t.Errorf("doc %d, %s:\n got %s\nwant %s", i, e, got, want)
			}
		}
	}
}
