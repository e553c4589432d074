package xml

import (
	"context"
	"errors"
	"testing"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/plugins/internal/testkit/plugintest"
)

// FuzzXML: any message through the filter's own document tree and XPath
// navigator (store_xml and xpath over every axis) either stores what it
// parsed or is tagged with the failure tag; it never panics, and an
// event it fails on carries the failure tag.
func FuzzXML(f *testing.F) {
	for _, s := range []string{
		`<a><b n="1">x</b><b n="2">y</b><c/></a>`,
		`<?xml version="1.0"?><!DOCTYPE a [<!ENTITY e "x">]><a>&e;&amp;<![CDATA[<z>]]></a>`,
		`<a xmlns:p="urn:p"><p:b p:n="1">t</p:b><!-- c --><?pi x?></a>`,
		`<a><b>`, `</a>`, ``, `<a b="1" b="2"/>`,
	} {
		f.Add(s)
	}
	filters := []engine.Filter{
		plugintest.MustNew(f, New, `source = "message"
target = "doc"
force_array = false`, engine.Resources{}),
		plugintest.MustNew(f, New, `source = "message"
store_xml = false
xpath = { "//b[@n>1]/text()" = "b", "/a/*[last()]" = "last", "//@*" = "attrs", "//comment()" = "c", "//b/following-sibling::*" = "f", "//b/preceding::node()" = "p", "count(//*)" = "n" }`, engine.Resources{}),
	}
	f.Fuzz(func(t *testing.T, doc string) {
		for _, flt := range filters {
			e := event.NewMessage(doc)
			_, err := flt.Filter(context.Background(), e, nil)
			if err != nil && !errors.Is(err, engine.ErrNotApplied) && !e.HasTag(FailureTag) {
				t.Fatalf("%q: error %v without the failure tag", doc, err)
			}
		}
	})
}
