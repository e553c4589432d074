package elasticsearch

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pipelined/pipeline/dsl/ir"
	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/plugins/internal/testkit/plugintest"
	"github.com/pipelined/pipeline/plugins/internal/testkit/zinctest"
)

// indexDocs stores the start events of three operations (and an unrelated
// document) and waits until search finds them.
func indexDocs(t *testing.T, z *zinctest.Server) {
	t.Helper()
	var b strings.Builder
	base := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	for i := 0; i < 3; i++ {
		fmt.Fprintf(&b, `{"index":{"_index":"ops","_id":"start%d"}}`+"\n", i)
		fmt.Fprintf(&b, `{"type":"start","opid":"op%d","user":{"name":"u%d"},"@timestamp":%q}`+"\n", i, i, base.Add(time.Duration(i)*time.Minute).Format(time.RFC3339))
	}
	fmt.Fprintf(&b, `{"index":{"_index":"ops","_id":"other"}}`+"\n")
	fmt.Fprintf(&b, `{"type":"end","opid":"op0","user":{"name":"x"},"@timestamp":%q}`+"\n", base.Format(time.RFC3339))
	code, body, err := z.Do("POST", "/_bulk", []byte(b.String()))
	if err != nil || code != 200 {
		t.Fatalf("bulk: %d %s %v", code, body, err)
	}
	if got, err := z.WaitCount("ops", 4, 30*time.Second); got != 4 {
		t.Fatalf("indexed %d of 4: %v", got, err)
	}
}

func get(e *event.Event, ref string) any {
	v, _ := e.Get(event.MustRef(ref))
	return v
}

// Logstash's documented use: find the start event of an operation by a
// query string built from the event, and copy its fields, against a real
// ES-compatible server (ZincSearch; its query strings take Lucene's +/-
// operators, not AND/OR).
func TestZincLookup(t *testing.T) {
	z := zinctest.Start(t)
	indexDocs(t, z)
	auth := fmt.Sprintf("user = %q\npassword = %q\nhosts = [%q]\nindex = \"ops\"\n", zinctest.User, zinctest.Password, z.URL())
	in := func(opid string) *event.Event {
		e := event.NewMessage("end of " + opid)
		_ = e.Set(event.MustRef("opid"), opid)
		return e
	}

	t.Run("query string", func(t *testing.T) {
		got := plugintest.Filter(t, "elasticsearch", auth+`query = "+type:start +opid:%{opid}"
fields = { "[user][name]" = "started_by", "@timestamp" = "started" }
docinfo_fields = { "_id" = "[start][id]" }
add_tag = ["found"]`, in("op1"), in("op9"))
		if len(got) != 2 {
			t.Fatalf("%d events", len(got))
		}
		e := got[0]
		if get(e, "started_by") != "u1" || get(e, "[start][id]") != "start1" || get(e, "started") == nil || get(e, "[@metadata][total_hits]") != int64(1) {
			t.Errorf("op1: started_by %v id %v started %v total %v", get(e, "started_by"), get(e, "[start][id]"), get(e, "started"), get(e, "[@metadata][total_hits]"))
		}
		if tags := fmt.Sprint(get(e, "tags")); tags != "[found]" {
			t.Errorf("op1 tags %s", tags)
		}
		// No hit: left alone, common options not applied.
		if get(got[1], "started_by") != nil || get(got[1], "tags") != nil {
			t.Errorf("op9: %v %v", get(got[1], "started_by"), get(got[1], "tags"))
		}
	})

	t.Run("several hits and target", func(t *testing.T) {
		got := plugintest.Filter(t, "elasticsearch", auth+`query = "type:start"
result_size = 3
sort = "@timestamp:asc"
target = "lookup"
fields = { "opid" = "ops" }`, in("x"))
		ops, ok := get(got[0], "[lookup][ops]").([]any)
		if !ok || len(ops) != 3 || ops[0] != "op0" || ops[2] != "op2" {
			t.Errorf("[lookup][ops] = %v", get(got[0], "[lookup][ops]"))
		}
	})

	t.Run("query_template", func(t *testing.T) {
		tmpl := filepath.Join(t.TempDir(), "q.json")
		os.WriteFile(tmpl, []byte(`{"query":{"bool":{"must":[{"term":{"opid":"%{opid}"}},{"term":{"type":"start"}}]}},"size":1}`), 0o644)
		got := plugintest.Filter(t, "elasticsearch", auth+fmt.Sprintf("query_template = %q\nfields = { \"[user][name]\" = \"who\" }", tmpl), in("op2"))
		if get(got[0], "who") != "u2" {
			t.Errorf("who = %v", get(got[0], "who"))
		}
	})

	t.Run("failures are tagged", func(t *testing.T) {
		got := plugintest.Filter(t, "elasticsearch", fmt.Sprintf("user = %q\npassword = \"wrong\"\nhosts = [%q]\nindex = \"ops\"\nquery = \"type:start\"\nfields = { \"opid\" = \"o\" }", zinctest.User, z.URL()), in("op1"))
		if tags := fmt.Sprint(get(got[0], "tags")); tags != "[_elasticsearch_lookup_failure]" || get(got[0], "o") != nil {
			t.Errorf("wrong password: tags %s", tags)
		}
		got = plugintest.Filter(t, "elasticsearch", "hosts = [\"127.0.0.1:1\"]\nquery = \"*\"\ntag_on_failure = [\"down\"]", in("op1"))
		if tags := fmt.Sprint(get(got[0], "tags")); tags != "[down]" {
			t.Errorf("server down: tags %s", tags)
		}
	})
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct{ opts, want string }{
		{`index = "x"`, "query"},
		{"query = \"a\"\nquery_template = \"/q.json\"", "exactly one"},
		{"query = \"a\"\nquery_type = \"esql\"", "ES|QL"},
		{"query = \"a\"\nsort = \"@timestamp:down\"", "sort"},
		{"query = \"a\"\napi_key = \"id:key\"", "TLS"},
		{"query = \"a\"\nuser = \"u\"", "password"},
	} {
		diags := plugintest.BuildDiags(t, ir.Filter, "elasticsearch", tc.opts)
		if !diags.HasErrors() || !strings.Contains(diags.Error(), tc.want) {
			t.Errorf("%s: diags %v; want %q", tc.opts, diags, tc.want)
		}
	}
}

// A password in a hosts URL or in proxy stays out of errors and logs: a
// host that does not answer, a host that does not parse, a bad proxy.
func TestErrorsHidePassword(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nobody answers there now
	o := Options{}
	o.Defaults()
	o.Query = "a"
	o.Hosts = []string{"http://elastic:s3cret@" + addr}
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	f, err := New(o, engine.Resources{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.Filter(context.Background(), event.New(), nil)
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("search of a closed port: %v", err)
	}
	for _, bad := range []func(*Options){
		func(o *Options) { o.Hosts = []string{"http://elastic:s3cret@host:port"} },
		func(o *Options) { o.Proxy = "http://proxy:s3cret@:bad" },
	} {
		o := Options{}
		o.Defaults()
		o.Query = "a"
		bad(&o)
		if err := o.Validate(); err == nil || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("validate: %v", err)
		}
	}
}
