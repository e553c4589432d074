package elasticsearch

import (
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/pipelined/pipeline/engine"
)

// TestParseAnswers: how a 2xx bulk answer sorts the items.
func TestParseAnswers(t *testing.T) {
	var o Options
	o.Defaults()
	out, err := New(o, engine.Resources{})
	if err != nil {
		t.Fatal(err)
	}
	items := []item{{idx: 0, action: "index"}, {idx: 1, action: "create"}, {idx: 2, action: "index"}}
	for _, tc := range []struct {
		name, body string
		whole      string         // a whole-request error, or ""
		failed     map[int]string // per item: "retry" or "permanent"
	}{
		{"all ok", `{"errors":false,"items":[{"index":{"status":201}},{"create":{"status":201}},{"index":{"status":200}}]}`, "", nil},
		{"mixed", `{"errors":true,"items":[{"index":{"status":429,"error":{"type":"es_rejected_execution_exception","reason":"busy"}}},{"create":{"status":409}},{"index":{"status":400,"error":{"type":"mapper_parsing_exception","reason":"bad","caused_by":{"type":"number_format_exception","reason":"x"}}}}]}`,
			"", map[int]string{0: "retry", 2: "permanent"}},
		{"409 on index is not delivered", `{"errors":true,"items":[{"index":{"status":200}},{"create":{"status":200}},{"index":{"status":409}}]}`,
			"", map[int]string{2: "permanent"}},
		{"5xx item", `{"errors":true,"items":[{"index":{"status":503}},{"create":{"status":200}},{"index":{"status":200}}]}`,
			"", map[int]string{0: "retry"}},
		// ZincSearch stops at the first document it cannot store and answers
		// 200 with "error" and the items so far: retry the whole request.
		{"zinc partial", `{"took":0,"errors":false,"error":"index: mapping conflict","items":[{"index":{"status":200}}]}`, "mapping conflict", nil},
		{"missing items", `{"errors":false,"items":[{"index":{"status":200}}]}`, "1 items for 3 actions", nil},
		{"not JSON", `<html>proxy error</html>`, "not JSON", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out.resp.Reset()
			out.resp.WriteString(tc.body)
			failed := map[int]error{}
			n, err := out.parse(items, failed)
			if tc.whole != "" {
				if err == nil || !strings.Contains(err.Error(), tc.whole) || engine.IsPermanent(err) {
					t.Fatalf("err = %v; want a retryable whole-request error with %q", err, tc.whole)
				}
				return
			}
			if err != nil || n != len(items) {
				t.Fatalf("n = %d, err = %v", n, err)
			}
			if len(failed) != len(tc.failed) {
				t.Fatalf("failed = %v; want %v", failed, tc.failed)
			}
			for i, kind := range tc.failed {
				e := failed[i]
				if e == nil || engine.IsPermanent(e) != (kind == "permanent") {
					t.Errorf("item %d: %v; want %s", i, e, kind)
				}
			}
			if e := failed[2]; e != nil && strings.Contains(tc.body, "caused_by") && !strings.Contains(e.Error(), "mapper_parsing_exception: bad (caused by number_format_exception: x)") {
				t.Errorf("reason %q", e)
			}
		})
	}
}

// TestAPIKeyHeader: api_key "id:key" goes out base64-encoded in an ApiKey
// authorization header, over TLS.
func TestAPIKeyHeader(t *testing.T) {
	var got string
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Get("Authorization")
		w.Header().Set("X-Elastic-Product", "Elasticsearch")
		io.WriteString(w, `{"version":{"number":"8.15.0"}}`)
	}))
	defer srv.Close()
	var o Options
	o.Defaults()
	o.Hosts = []string{srv.URL}
	o.APIKey = "myid:mykey"
	o.SSLVerificationMode = "none"
	out, err := New(o, engine.Resources{})
	if err != nil {
		t.Fatal(err)
	}
	if err := out.Connect(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Elasticsearch reads the scheme case-insensitively ("ApiKey", "APIKey").
	if want := "ApiKey " + base64.StdEncoding.EncodeToString([]byte("myid:mykey")); !strings.EqualFold(got, want) || got[7:] != want[7:] {
		t.Errorf("Authorization %q; want %q", got, want)
	}
}
