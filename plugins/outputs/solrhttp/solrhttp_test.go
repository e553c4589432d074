package solrhttp

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pipelined/pipeline/dsl/ir"
	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/plugins/internal/httpclient"
	"github.com/pipelined/pipeline/plugins/internal/testkit/plugintest"
)

// solr answers like Solr's JSON update handler at /solr/logs/update and
// keeps the documents of each request (Apache Solr itself is a Java server
// with no Debian package: it cannot run on these machines).
type solr struct {
	mu     sync.Mutex
	docs   []map[string]any
	status int
}

func (s *solr) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.URL.Path != "/solr/logs/update" || r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
		http.Error(w, `{"error":{"msg":"not an update"}}`, http.StatusNotFound)
		return
	}
	if s.status != 0 {
		http.Error(w, `{"error":{"msg":"down"}}`, s.status)
		return
	}
	var docs []map[string]any
	b, _ := io.ReadAll(r.Body)
	if err := json.Unmarshal(b, &docs); err != nil {
		http.Error(w, `{"error":{"msg":"bad json"}}`, http.StatusBadRequest)
		return
	}
	s.docs = append(s.docs, docs...)
	w.Write([]byte(`{"responseHeader":{"status":0,"QTime":1}}`))
}

func TestAddDocuments(t *testing.T) {
	s := &solr{}
	srv := httptest.NewServer(s)
	defer srv.Close()
	ctx := context.Background()
	withID := plugintest.MustNew(t, New, `solr_url = "`+srv.URL+`/solr/logs/"`+"\ndocument_id = \"%%{[host][name]}-%%{seq}\"", engine.Resources{})
	random := plugintest.MustNew(t, New, `solr_url = "`+srv.URL+`/solr/logs"`, engine.Resources{})
	e := event.NewMessage("one")
	e.Set(event.MustRef("[host][name]"), "web-1")
	e.Set(event.MustRef("seq"), int64(7))
	e.SetTimestamp(time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC))
	if err := withID.Write(ctx, []*event.Event{e}); err != nil {
		t.Fatal(err)
	}
	if err := random.Write(ctx, []*event.Event{event.NewMessage("two"), event.NewMessage("three")}); err != nil {
		t.Fatal(err)
	}
	if len(s.docs) != 3 {
		t.Fatalf("%d documents", len(s.docs))
	}
	d := s.docs[0]
	if d["id"] != "web-1-7" || d["message"] != "one" || d["@timestamp"] != "2026-11-21T10:00:00.000Z" {
		t.Errorf("document %v", d)
	}
	uuidRE := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	if id, _ := s.docs[1]["id"].(string); !uuidRE.MatchString(id) || s.docs[1]["id"] == s.docs[2]["id"] {
		t.Errorf("random ids %v %v", s.docs[1]["id"], s.docs[2]["id"])
	}
	if _, ok := e.Get(event.MustRef("id")); ok {
		t.Error("the event itself was given the id")
	}

	// Solr down: the engine retries (not Permanent); a refusal fails for good.
	s.status = http.StatusServiceUnavailable
	if err := random.Write(ctx, []*event.Event{event.NewMessage("later")}); err == nil || engine.IsPermanent(err) {
		t.Errorf("503: %v; want an error to retry", err)
	}
	s.status = http.StatusBadRequest
	if err := random.Write(ctx, []*event.Event{event.NewMessage("bad")}); !engine.IsPermanent(err) {
		t.Errorf("400: %v; want a permanent failure", err)
	}
}

func TestValidate(t *testing.T) {
	for _, opts := range []string{`solr_url = "localhost:8983"`, `solr_url = "ftp://x/solr"`, `document_id = "%%{[a}"`, `timeout = 0`} {
		if diags := plugintest.CheckDiags(t, ir.Output, "solr_http", opts); !diags.HasErrors() {
			t.Errorf("%s: accepted", opts)
		}
	}
}

// A solr_url that does not parse must not bring its password into the
// error (the check command prints it).
func TestValidateHidesPassword(t *testing.T) {
	o := Options{}
	o.Defaults()
	for _, u := range []string{"http://solr:s3cret@host:port/solr", "ftp://solr:s3cret@host/solr"} {
		o.SolrURL = u
		err := o.Validate()
		if err == nil {
			t.Fatalf("%s: accepted", u)
		}
		if regexp.MustCompile(`s3cret`).MatchString(err.Error()) {
			t.Errorf("%s: the error shows the password: %v", u, err)
		}
	}
}

// A long error answer (Solr's carry a stack trace) goes into the error,
// logged at every retry, only up to httpclient.MaxAnswerHead.
func TestLongErrorAnswer(t *testing.T) {
	long := strings.Repeat("at org.apache.solr.Frame\n", 80<<10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		http.Error(w, long, http.StatusInternalServerError)
	}))
	defer srv.Close()
	out := plugintest.MustNew(t, New, `solr_url = "`+srv.URL+`/solr/logs"`, engine.Resources{})
	err := out.Write(context.Background(), []*event.Event{event.NewMessage("one")})
	if err == nil || !strings.Contains(err.Error(), "500") {
		t.Fatalf("error %v; want the 500", err)
	}
	if n := len(err.Error()); n > httpclient.MaxAnswerHead+512 {
		t.Errorf("the error holds %d bytes of the answer", n)
	}
}
