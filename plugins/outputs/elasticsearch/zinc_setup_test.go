package elasticsearch

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/plugins/internal/testkit/zinctest"
)

// TestZincTemplate: against ZincSearch announcing Elasticsearch 8, the output
// installs a template file through the composable API before writing, and
// the index the events create takes its mappings (status a keyword, where a
// string would be text without it). An existing template is left alone
// unless template_overwrite is on.
func TestZincTemplate(t *testing.T) {
	t.Parallel()
	zs := zinctest.Start(t, zinctest.ESVersion("8.15.0"))
	const n = 200
	src := &source{n: n, batch: 100, mk: func(i int) *event.Event {
		e := event.New()
		_ = e.Set(event.MustRef("status"), fmt.Sprint(200+i%3))
		_ = e.Set(event.MustRef("bytes"), int64(i))
		return e
	}}
	r := startPipeline(t, src, zincOptions(zs, `
  index         = "weblogs-2026"
  template      = "testdata/templates/composable.json"
  template_name = "weblogs"
`), engine.Settings{Workers: 1, BatchSize: 100})
	r.wait(t, 60*time.Second)
	if got, err := zs.WaitCount("weblogs-2026", n, 60*time.Second); err != nil || got != n {
		t.Fatalf("search finds %d (%v); want %d", got, err, n)
	}
	priority := func() float64 {
		t.Helper()
		status, b, err := zs.Do("GET", "/_index_template/weblogs", nil)
		if err != nil || status != 200 {
			t.Fatalf("GET template: %d %v %s", status, err, b)
		}
		var tmpl struct {
			Priority float64 `json:"priority"`
		}
		if err := json.Unmarshal(b, &tmpl); err != nil {
			t.Fatalf("template %s: %v", b, err)
		}
		return tmpl.Priority
	}
	if p := priority(); p != 300 {
		t.Errorf("template priority %v; want the file's 300", p)
	}
	status, b, err := zs.Do("GET", "/weblogs-2026/_mapping", nil)
	if err != nil || status != 200 {
		t.Fatalf("GET mapping: %d %v %s", status, err, b)
	}
	var m map[string]struct {
		Mappings struct {
			Properties map[string]struct {
				Type string `json:"type"`
			} `json:"properties"`
		} `json:"mappings"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("mapping %s: %v", b, err)
	}
	props := m["weblogs-2026"].Mappings.Properties
	if props["status"].Type != "keyword" {
		t.Errorf("status is mapped %q; want keyword from the template (mapping %s)", props["status"].Type, b)
	}

	// A second template file for the same name: kept out unless
	// template_overwrite is on.
	v2 := filepath.Join(t.TempDir(), "v2.json")
	data, _ := os.ReadFile("testdata/templates/composable.json")
	if err := os.WriteFile(v2, []byte(strings.Replace(string(data), `"priority": 300`, `"priority": 400`, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	connect := func(overwrite bool) {
		t.Helper()
		var o Options
		o.Defaults()
		o.Hosts = []string{zs.URL()}
		o.User, o.Password = zinctest.User, zinctest.Password
		o.CompressionLevel = 0
		o.Index = "weblogs-2027"
		o.Template, o.TemplateName, o.TemplateOverwrite = v2, "weblogs", overwrite
		out, err := New(o, engine.Resources{})
		if err != nil {
			t.Fatal(err)
		}
		defer out.Close(context.Background())
		if err := out.Connect(context.Background()); err != nil {
			t.Fatalf("connect: %v", err)
		}
	}
	connect(false)
	if p := priority(); p != 300 {
		t.Errorf("template_overwrite => false replaced the template (priority %v)", p)
	}
	connect(true)
	if p := priority(); p != 400 {
		t.Errorf("template_overwrite => true left priority %v; want 400", p)
	}
}

// TestZincDataStream: with only connection options (data_stream unset, ECS
// on), events go to data streams with create actions, routed by their own
// data_stream fields, and the documents carry the stream's type, dataset and
// namespace. ZincSearch announcing its own version (0.x) is refused with
// the reason, as Logstash refuses Elasticsearch before 7.9.
func TestZincDataStream(t *testing.T) {
	t.Parallel()
	zs := zinctest.Start(t, zinctest.ESVersion("8.15.0"))
	const n = 300
	src := &source{n: n, batch: 100, mk: func(i int) *event.Event {
		e := event.New()
		_ = e.Set(seqRef, int64(i))
		if i%3 == 0 {
			_ = e.Set(event.MustRef("[data_stream][dataset]"), "nginx.access")
		}
		return e
	}}
	r := startPipeline(t, src, zincOptions(zs, ""), engine.Settings{Workers: 1, BatchSize: 100})
	r.wait(t, 60*time.Second)
	for _, c := range []struct {
		index string
		want  int
	}{{"logs-nginx.access-default", n / 3}, {"logs-generic-default", n - n/3}} {
		if got, err := zs.WaitCount(c.index, c.want, 60*time.Second); err != nil || got != c.want {
			t.Errorf("%s: search finds %d (%v); want %d", c.index, got, err, c.want)
		}
	}
	// The synced fields are in the documents: search by them.
	q := []byte(`{"size":1,"query":{"bool":{"must":[{"term":{"data_stream.type":"logs"}},{"term":{"data_stream.namespace":"default"}},{"term":{"data_stream.dataset":"generic"}}]}}}`)
	status, b, err := zs.Do("POST", "/logs-generic-default/_search", q)
	if err != nil || status != 200 || !strings.Contains(string(b), `"value":200`) {
		t.Errorf("search by data_stream fields: %d %v %s", status, err, b)
	}

	zs2 := zinctest.Start(t) // announces its own version, 0.x
	var o Options
	o.Defaults()
	o.Hosts = []string{zs2.URL()}
	o.User, o.Password = zinctest.User, zinctest.Password
	o.CompressionLevel = 0
	out, err := New(o, engine.Resources{})
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close(context.Background())
	err = out.Connect(context.Background())
	if err == nil || !strings.Contains(err.Error(), "data streams need Elasticsearch 7.9.0 or later, and the server announces version") {
		t.Errorf("connect to a server without data streams: %v", err)
	}
}

// TestZincWithoutILM: ILM in use (ecs_compatibility => disabled, no index)
// against a server without index lifecycle management fails the connection
// with what to change, and creates nothing on the server.
func TestZincWithoutILM(t *testing.T) {
	t.Parallel()
	zs := zinctest.Start(t, zinctest.ESVersion("8.15.0"))
	var o Options
	o.Defaults()
	o.Hosts = []string{zs.URL()}
	o.User, o.Password = zinctest.User, zinctest.Password
	o.CompressionLevel = 0
	o.ECSCompatibility = "disabled"
	o.ManageTemplate = new(bool)
	out, err := New(o, engine.Resources{})
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close(context.Background())
	err = out.Connect(context.Background())
	if err == nil || !strings.Contains(err.Error(), "the server has no index lifecycle management API") ||
		!strings.Contains(err.Error(), "set ilm_enabled => false") {
		t.Fatalf("connect: %v", err)
	}
	status, b, err := zs.Do("GET", "/_alias", nil)
	if err != nil || status != 200 || strings.Contains(string(b), "logstash") {
		t.Errorf("aliases after a failed setup: %d %v %s", status, err, b)
	}
}
