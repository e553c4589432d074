package dsl

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

func TestScratchPerf(t *testing.T) {
	var b strings.Builder
	for i := 0; i < 150; i++ {
		fmt.Fprintf(&b, "filter \"grok\" {\n  match = { message = [\"%%{SYSLOGBASE} %%{WORD:a} \\[%%{DATA:b}\\] ${HOME}\"] }\n}\n")
	}
	src := []byte(b.String())
	start := time.Now()
	for i := 0; i < 10; i++ {
		hclsyntax.LexConfig(src, "p.hcl", hcl.InitialPos)
	}
	t.Logf("lex: %v per 46KB", time.Since(start)/10)
	start = time.Now()
	_, diags := testLoader().LoadSource("p.hcl", src)
	t.Logf("%d bytes, %v, %d diags", len(src), time.Since(start), len(diags))
}
