package engine

import (
	"fmt"
	"reflect"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// Options that Logstash deprecated or removed are declared with struct tags,
// so each plugin says it once, next to its options, and the engine words
// the diagnostics the same way for all of them:
//
//	// CACert is the old name of ssl_certificate_authorities.
//	CACert string `hcl:"cacert,optional" deprecated:"ssl_certificate_authorities"`
//
//	// FlushSize was removed: the pipeline's batch size bounds a bulk request.
//	FlushSize engine.Removed `hcl:"flush_size,optional" removed:"7.0" use:"pipeline.batch.size"`
//
// A deprecated option works as before and gets one warning naming what to use
// instead (the tag's value: an option name, or a sentence when there is no
// one replacement). A removed option is refused, as Logstash refuses options
// it marks obsolete: "flush_size was removed in Logstash 7.0; use
// pipeline.batch.size instead".

// Removed is the type of an option Logstash removed (see the tags above): it
// holds nothing, and setting it is an error.
type Removed struct{}

var removedType = reflect.TypeFor[Removed]()

var _ shapeDecoder = (*Removed)(nil)

func (*Removed) decodeShape(*hcl.Attribute, string) hcl.Diagnostics { return nil }

// DocType and DocValue name the type in the generated plugin reference.
func (Removed) DocType() string { return "removed" }
func (Removed) DocValue() any   { return nil }

// lifecycleDiags reports the deprecated and removed options set in body.
func lifecycleDiags(body hcl.Body, p *decodePlan) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, f := range p.fields {
		if !f.isDeprecated && f.removed == "" {
			continue
		}
		c, _, _ := body.PartialContent(&hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: f.name}}})
		if c == nil || c.Attributes[f.name] == nil {
			continue
		}
		r := c.Attributes[f.name].NameRange
		if f.removed != "" {
			detail := fmt.Sprintf("%s was removed in Logstash %s", f.name, f.removed)
			if f.use != "" {
				detail += "; " + instead(f.use)
			}
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: fmt.Sprintf("Removed option %q", f.name),
				Detail: detail + ".", Subject: &r})
			continue
		}
		detail := fmt.Sprintf("Logstash has deprecated %s; it still works", f.name)
		if f.deprecated != "" {
			detail += ", but " + instead(f.deprecated)
		}
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagWarning, Summary: fmt.Sprintf("Deprecated option %q", f.name),
			Detail: detail + ".", Subject: &r})
	}
	return diags
}

// instead words a replacement: an option name becomes "use x instead", a
// sentence is kept.
func instead(use string) string {
	if strings.ContainsAny(use, " ") {
		return use
	}
	return fmt.Sprintf("use %s instead", use)
}
