package elasticsearch

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pipelined/pipeline/engine/enginetest"
	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/plugins/internal/testkit/testpki"
	"github.com/pipelined/pipeline/plugins/internal/testkit/zinctest"
)

var msgRef = event.MustRef("[msg]")

// indexDocs stores n documents in index (msg "doc i", n i, host hostI%3,
// @timestamp one minute apart) and waits until search finds them.
func indexDocs(t *testing.T, z *zinctest.Server, index string, n int) {
	t.Helper()
	var b strings.Builder
	base := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, `{"index":{"_index":%q,"_id":"id%d"}}`+"\n", index, i)
		fmt.Fprintf(&b, `{"msg":"doc %d","n":%d,"host":"host%d","@timestamp":%q}`+"\n", i, i, i%3, base.Add(time.Duration(i)*time.Minute).Format(time.RFC3339))
	}
	code, body, err := z.Do("POST", "/_bulk", []byte(b.String()))
	if err != nil || code != 200 {
		t.Fatalf("bulk: %d %s %v", code, body, err)
	}
	if got, err := z.WaitCount(index, n, 30*time.Second); got != n {
		t.Fatalf("indexed %d of %d: %v", got, n, err)
	}
}

// TestZincSearch: against a real ES-compatible server (ZincSearch), the
// one-shot search returns the matching documents with docinfo, with target,
// and an aggregation; a wrong password is logged and the run ends with no
// events; TLS through a proxy with a test CA.
func TestZincSearch(t *testing.T) {
	z := zinctest.Start(t)
	indexDocs(t, z, "syslog-2026.12.07", 30)
	indexDocs(t, z, "other", 3)
	auth := fmt.Sprintf("user = %q\npassword = %q", zinctest.User, zinctest.Password)

	t.Run("one-shot with docinfo", func(t *testing.T) {
		got := enginetest.Input(t, "elasticsearch", fmt.Sprintf(`hosts = [%q]
%s
index = "syslog-*"
query = "{\"query\":{\"range\":{\"n\":{\"gte\":10}}}}"
size = 100
docinfo = true`, z.URL(), auth), 60*time.Second)
		if len(got) != 20 {
			t.Fatalf("%d events, want the 20 documents with n >= 10", len(got))
		}
		for _, e := range got {
			idx, _ := e.GetString(event.MustRef("[@metadata][input][elasticsearch][_index]"))
			id, _ := e.GetString(event.MustRef("[@metadata][input][elasticsearch][_id]"))
			msg, _ := e.GetString(msgRef)
			if idx != "syslog-2026.12.07" || !strings.HasPrefix(id, "id") || msg != "doc "+strings.TrimPrefix(id, "id") {
				t.Errorf("event %s metadata %v", e.AppendJSON(nil), e.Metadata())
			}
			if e.Timestamp().Year() != 2026 {
				t.Errorf("@timestamp %v: the document's", e.Timestamp())
			}
		}
	})

	t.Run("target and docinfo_target", func(t *testing.T) {
		got := enginetest.Input(t, "elasticsearch", fmt.Sprintf(`hosts = [%q]
%s
index = "other"
target = "[doc]"
docinfo = true
docinfo_target = "[@metadata][es]"
docinfo_fields = ["_id"]
ecs_compatibility = "disabled"`, z.URL(), auth), 60*time.Second)
		if len(got) != 3 {
			t.Fatalf("%d events, want 3", len(got))
		}
		for _, e := range got {
			if _, ok := e.Get(event.MustRef("[doc][msg]")); !ok {
				t.Errorf("no [doc][msg]: %s", e.AppendJSON(nil))
			}
			if _, ok := e.Get(event.MustRef("[@metadata][es][_id]")); !ok {
				t.Errorf("no [@metadata][es][_id]: %v", e.Metadata())
			}
		}
	})

	t.Run("aggregations", func(t *testing.T) {
		got := enginetest.Input(t, "elasticsearch", fmt.Sprintf(`hosts = [%q]
%s
index = "syslog-2026.12.07"
response_type = "aggregations"
query = "{\"query\":{\"range\":{\"n\":{\"gte\":10}}},\"aggs\":{\"max_n\":{\"max\":{\"field\":\"n\"}},\"min_n\":{\"min\":{\"field\":\"n\"}}}}"`, z.URL(), auth), 60*time.Second)
		if len(got) != 1 {
			t.Fatalf("%d events, want 1", len(got))
		}
		maxN, _ := got[0].Get(event.MustRef("[max_n][value]"))
		minN, _ := got[0].Get(event.MustRef("[min_n][value]"))
		if fmt.Sprint(maxN) != "29" || fmt.Sprint(minN) != "10" {
			t.Fatalf("aggregation event %s", got[0].AppendJSON(nil))
		}
	})

	t.Run("wrong password", func(t *testing.T) {
		got := enginetest.Input(t, "elasticsearch", fmt.Sprintf(`hosts = [%q]
user = %q
password = "nope"
index = "other"
retries = 1`, z.URL(), zinctest.User), 60*time.Second)
		if len(got) != 0 {
			t.Fatalf("%d events with a wrong password", len(got))
		}
	})

	t.Run("tls", func(t *testing.T) {
		ca := testpki.NewCA(t, "zinc CA")
		url := z.TLSProxy(t, ca)
		got := enginetest.Input(t, "elasticsearch", fmt.Sprintf(`hosts = [%q]
%s
index = "other"
ssl_certificate_authorities = [%q]`, url, auth, ca.File), 60*time.Second)
		if len(got) != 3 {
			t.Fatalf("%d events over TLS, want 3", len(got))
		}
		other := testpki.NewCA(t, "other CA")
		got = enginetest.Input(t, "elasticsearch", fmt.Sprintf(`hosts = [%q]
%s
index = "other"
ssl_certificate_authorities = [%q]`, url, auth, other.File), 60*time.Second)
		if len(got) != 0 {
			t.Fatalf("%d events from an untrusted server", len(got))
		}
	})

	t.Run("schedule", func(t *testing.T) {
		// Every second: the input runs until the deadline, then stops.
		got := enginetest.Input(t, "elasticsearch", fmt.Sprintf(`hosts = [%q]
%s
index = "other"
schedule = "* * * * * *"`, z.URL(), auth), 3500*time.Millisecond)
		if len(got) < 6 || len(got)%3 != 0 {
			t.Fatalf("%d events in 3.5 s of a schedule every second; want 3 per run, at least 2 runs", len(got))
		}
	})
}
