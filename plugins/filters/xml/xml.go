// Package xml implements the xml filter, like Logstash's: it parses the XML
// text of a field and stores the whole document as a hash in target
// (store_xml, XmlSimple's conversion), and/or the results of XPath
// expressions in fields (xpath).
//
// The source may hold a string or a list of exactly one string; another
// value (a number, a hash, a longer or empty list) tags the event
// _xmlparsefailure. A missing, null or blank source leaves the event alone.
//
// XPath expressions (antchfx/xpath: location paths, attributes, text(),
// predicates, the XPath 1.0 functions) are evaluated on a document parsed
// as Nokogiri's default does: malformed XML is recovered (what was read
// before the error is kept) unless parse_options asks for strict parsing.
// Each result is stored as a list of strings: an element as its XML
// (Nokogiri's to_s), a text node as its escaped text, an attribute as its
// value, a number, string or boolean result as its text; with force_array
// false, a single result is stored as a string. A result-less expression
// sets nothing. Without namespaces, a prefix in an expression matches the
// prefix written in the document; with namespaces, the namespace URI.
//
// store_xml needs well-formed XML: a document that does not parse strictly
// tags the event _xmlparsefailure (the xpath fields already set stay, as in
// Logstash).
//
// The common options apply when an xpath expression found something or the
// document was stored. Documents over MaxDocumentBytes (16 MiB) or nested
// deeper than MaxDepth (400) elements are refused (_xmlparsefailure).
package xml

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"

	"github.com/antchfx/xpath"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/engine/valuefmt"
)

func init() { engine.RegisterFilter("xml", New) }

// FailureTag is the tag of events whose XML could not be parsed.
const FailureTag = "_xmlparsefailure"

// Options configures the xml filter.
type Options struct {
	// Source is the field holding the XML text. Required.
	Source string `hcl:"source"`
	// Target is the field the document is stored in as a hash (store_xml).
	// Required when store_xml is true.
	Target string `hcl:"target,optional"`
	// XPath maps XPath expressions to the fields their results are stored
	// in, e.g. { "/event/user/@id" => "user_id" }.
	XPath engine.Hash `hcl:"xpath,optional"`
	// ParseOptions are Nokogiri parse options, separated by commas or "|",
	// e.g. "strict" or "recover, noblanks": without "recover" parsing is
	// strict (malformed XML tags the event). "noblanks" drops whitespace-only
	// text; the other names Nokogiri knows (noent, nonet, noerror,
	// nowarning, huge, ...) are accepted and change nothing here.
	ParseOptions string `hcl:"parse_options,optional"`
	// StoreXML stores the whole document in target.
	StoreXML bool `hcl:"store_xml,optional"`
	// ForceArray makes every child element a list in the stored hash, and
	// keeps a single xpath result in a list.
	ForceArray bool `hcl:"force_array,optional"`
	// ForceContent stores the text of an element without attributes as
	// {"content" => text} instead of the text itself.
	ForceContent bool `hcl:"force_content,optional"`
	// Namespaces maps the prefixes the xpath expressions use to namespace
	// URIs.
	Namespaces engine.Hash `hcl:"namespaces,optional"`
	// RemoveNamespaces drops every namespace from the document before the
	// xpath expressions run (so "/foo/div" finds <h:div>).
	RemoveNamespaces bool `hcl:"remove_namespaces,optional"`
	// SuppressEmpty leaves empty elements out of the stored hash.
	SuppressEmpty bool `hcl:"suppress_empty,optional"`
}

// Defaults sets Logstash's defaults.
func (o *Options) Defaults() {
	o.StoreXML = true
	o.ForceArray = true
	o.SuppressEmpty = true
}

// nokogiriOptions are the names Nokogiri::XML::ParseOptions resolves once
// Logstash removed underscores and upper-cased them.
var nokogiriOptions = map[string]bool{
	"STRICT": true, "RECOVER": true, "NOENT": true, "DTDLOAD": true, "DTDATTR": true,
	"DTDVALID": true, "NOERROR": true, "NOWARNING": true, "PEDANTIC": true, "NOBLANKS": true,
	"SAX1": true, "XINCLUDE": true, "NONET": true, "NODICT": true, "NSCLEAN": true,
	"NOCDATA": true, "NOXINCNODE": true, "COMPACT": true, "OLD10": true, "NOBASEFIX": true,
	"HUGE": true,
}

// readParseOptions reads parse_options as Logstash does.
func readParseOptions(s string) (parseOptions, error) {
	if s == "" {
		return parseOptions{recover: true}, nil
	}
	var po parseOptions
	for _, opt := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == '|' }) {
		name := strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(opt), "_", ""))
		if name == "" {
			continue
		}
		if !nokogiriOptions[name] {
			return po, fmt.Errorf("unsupported parse option: %q", opt)
		}
		switch name {
		case "RECOVER":
			po.recover = true
		case "NOBLANKS":
			po.noBlanks = true
		}
	}
	return po, nil
}

type compiled struct {
	expr *xpath.Expr
	dest event.Ref
	src  string
}

func (o *Options) compile() ([]compiled, error) {
	var ns map[string]string
	if len(o.Namespaces) > 0 {
		ns = make(map[string]string, len(o.Namespaces))
		for _, e := range o.Namespaces {
			ns[e.Key] = e.Value
		}
	}
	out := make([]compiled, 0, len(o.XPath))
	for _, x := range o.XPath {
		var expr *xpath.Expr
		var err error
		if ns != nil {
			expr, err = xpath.CompileWithNS(x.Key, ns)
		} else {
			expr, err = xpath.Compile(x.Key)
		}
		if err != nil {
			return nil, &engine.FieldError{Field: "xpath", Err: fmt.Errorf("expression %q: %w", x.Key, err)}
		}
		dest, err := event.ParseRef(x.Value)
		if err != nil {
			return nil, &engine.FieldError{Field: "xpath", Err: fmt.Errorf("destination of %q: %w", x.Key, err)}
		}
		out = append(out, compiled{expr: expr, dest: dest, src: x.Key})
	}
	return out, nil
}

// Validate checks the references, the expressions and parse_options.
func (o *Options) Validate() error {
	if _, err := event.ParseRef(o.Source); err != nil {
		return &engine.FieldError{Field: "source", Err: err}
	}
	if o.StoreXML && o.Target == "" {
		return &engine.FieldError{Field: "target", Err: errors.New("when the 'store_xml' configuration option is true, 'target' must also be set")}
	}
	if o.Target != "" {
		if _, err := event.ParseRef(o.Target); err != nil {
			return &engine.FieldError{Field: "target", Err: err}
		}
	}
	if _, err := readParseOptions(o.ParseOptions); err != nil {
		return &engine.FieldError{Field: "parse_options", Err: err}
	}
	_, err := o.compile()
	return err
}

// Filter is the xml filter. It is safe for concurrent use.
type Filter struct {
	source, target event.Ref
	store          bool
	xpaths         []compiled
	// exprs holds []*xpath.Expr sets, one per concurrent caller: a compiled
	// expression keeps iteration state and is not safe for concurrent use.
	exprs      sync.Pool
	po         parseOptions
	removeNS   bool
	forceArray bool
	simple     simple
}

var _ engine.Filter = (*Filter)(nil)

// New builds an xml filter.
func New(o Options, _ engine.Resources) (*Filter, error) {
	f := &Filter{
		source:     event.MustRef(o.Source),
		store:      o.StoreXML,
		removeNS:   o.RemoveNamespaces,
		forceArray: o.ForceArray,
		simple:     simple{forceArray: o.ForceArray, forceContent: o.ForceContent, suppressEmpty: o.SuppressEmpty},
	}
	if o.Target != "" {
		f.target = event.MustRef(o.Target)
	}
	f.po, _ = readParseOptions(o.ParseOptions)
	var err error
	if f.xpaths, err = o.compile(); err != nil {
		return nil, err
	}
	f.exprs.New = func() any {
		c, _ := o.compile() // compiled once above: cannot fail now
		exprs := make([]*xpath.Expr, len(c))
		for i := range c {
			exprs[i] = c[i].expr
		}
		return &exprs
	}
	return f, nil
}

func fail(e *event.Event, out []*event.Event, format string, args ...any) ([]*event.Event, error) {
	e.AddTag(FailureTag)
	return out, fmt.Errorf("xml: "+format, args...)
}

// Filter parses the XML of e's source.
func (f *Filter) Filter(_ context.Context, e *event.Event, out []*event.Event) ([]*event.Event, error) {
	out = append(out, e)
	v, _ := e.Get(f.source)
	if v == nil || v == false {
		return out, engine.ErrNotApplied
	}
	if l, ok := v.([]any); ok {
		if len(l) != 1 {
			return fail(e, out, "%s: expected a list of one string, got %d items", f.source, len(l))
		}
		v = l[0]
	}
	text, ok := v.(string)
	if !ok {
		return fail(e, out, "%s: expected a string, got a %T", f.source, v)
	}
	if strings.TrimSpace(text) == "" {
		return out, engine.ErrNotApplied
	}
	matched := false
	var strictDoc *node
	var strictErr error
	strictParsed := false
	if len(f.xpaths) > 0 || !f.po.recover {
		doc, err := parse(text, f.po)
		if err != nil {
			return fail(e, out, "parsing %s: %v", f.source, err)
		}
		if !f.po.recover {
			strictDoc, strictParsed = doc, true
		}
		if f.removeNS {
			removeNamespaces(doc.FirstChild)
		}
		exprs := f.exprs.Get().(*[]*xpath.Expr)
		defer f.exprs.Put(exprs)
		for i, x := range f.xpaths {
			data := evaluate((*exprs)[i], doc)
			if len(data) == 0 {
				continue
			}
			matched = true
			var val any
			if len(data) == 1 && !f.forceArray {
				val = data[0]
			} else {
				l := make([]any, len(data))
				for i, s := range data {
					l[i] = s
				}
				val = l
			}
			if err := e.Set(x.dest, val); err != nil {
				return fail(e, out, "storing the result of %q: %v", x.src, err)
			}
		}
	}
	if f.store {
		doc := strictDoc
		if !strictParsed || f.removeNS || f.po.noBlanks {
			// XmlSimple reads the text again, strictly, whatever parse_options say.
			doc, strictErr = parse(text, parseOptions{})
		}
		if strictErr != nil {
			return fail(e, out, "parsing %s for store_xml: %v", f.source, strictErr)
		}
		root := rootElement(doc)
		if root == nil {
			return fail(e, out, "parsing %s for store_xml: %v", f.source, errNoRoot)
		}
		if err := e.Set(f.target, f.simple.convert(root)); err != nil {
			return fail(e, out, "storing the document in %s: %v", f.target, err)
		}
		matched = true
	}
	if !matched {
		return out, engine.ErrNotApplied
	}
	return out, nil
}

// evaluate runs expr on doc and returns its results as Nokogiri's to_s
// renders them.
func evaluate(expr *xpath.Expr, doc *node) []string {
	switch r := expr.Evaluate(newNavigator(doc)).(type) {
	case *xpath.NodeIterator:
		var out []string
		for r.MoveNext() {
			nav, ok := r.Current().(*navigator)
			if !ok {
				continue
			}
			if nav.NodeType() == xpath.AttributeNode {
				out = append(out, nav.Value())
				continue
			}
			var b strings.Builder
			serialize(&b, nav.cur, 0)
			out = append(out, b.String())
		}
		return out
	case float64:
		if math.IsNaN(r) {
			return []string{"NaN"}
		}
		return []string{string(valuefmt.AppendRubyFloat(nil, r))}
	case string:
		return []string{r}
	case bool:
		if r {
			return []string{"true"}
		}
		return []string{"false"}
	}
	return nil
}
