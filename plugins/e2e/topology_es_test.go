package e2e_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/pipelined/pipeline/plugins/internal/testkit/redistest"
	"github.com/pipelined/pipeline/plugins/internal/testkit/testpki"
	"github.com/pipelined/pipeline/plugins/internal/testkit/zinctest"
)

// TestTopologyRedisToElasticsearch runs the reference deployment's
// elastic-pipeline, examples/topology/conf.d/logstash1.conf as written (redis
// list → elasticsearch over TLS with ssl => true and cacert, daily
// from-redis-YYYY.MM.dd indices), against a real Redis and a real
// ZincSearch behind TLS. Only what points at this machine changes: the redis
// port, the hosts URL, the credentials, the CA file, compression (ZincSearch
// takes no gzip), and the stdout output is left out. 30,000 JSON documents
// whose @timestamps span three UTC days (written with a -03:00 offset) land
// in the index of their UTC day, each found by search.
func TestTopologyRedisToElasticsearch(t *testing.T) {
	const n = 30000
	srv := redistest.Start(t)
	zs := zinctest.Start(t)
	ca := testpki.NewCA(t, "topology")
	esURL := zs.TLSProxy(t, ca)
	rc := topoRedis(t, srv)

	base := time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC)
	step := 3 * 24 * time.Hour / n
	minus3 := time.FixedZone("", -3*3600)
	want := map[string]int{}
	ctx := context.Background()
	pipe := rc.Pipeline()
	vals := make([]any, 0, 1000)
	for i := range n {
		ts := base.Add(time.Duration(i) * step)
		want["from-redis-"+ts.Format("2006.01.02")]++
		vals = append(vals, fmt.Sprintf(`{"@timestamp":%q,"message":"m-%d","seq":%d}`, ts.In(minus3).Format(time.RFC3339), i, i))
		if len(vals) == cap(vals) || i == n-1 {
			pipe.RPush(ctx, "redis-queue-elastic", vals...)
			vals = make([]any, 0, 1000)
		}
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}

	b, err := os.ReadFile("../../examples/topology/conf.d/logstash1.conf")
	if err != nil {
		t.Fatal(err)
	}
	conf := string(b)
	for _, r := range [][2]string{
		{`data_type => "list" `, fmt.Sprintf(`port => %d data_type => "list" `, srv.Port())},
		{`hosts => ["https://127.0.0.1:9200"]`, fmt.Sprintf(`hosts => [%q] compression_level => 0`, esURL)},
		{"user => \"\"\n    password => \"\"", fmt.Sprintf("user => %q\n    password => %q", zinctest.User, zinctest.Password)},
		{`cacert => "/etc/elasticsearch/certs/ca.crt"`, fmt.Sprintf(`cacert => %q`, ca.File)},
		{`stdout { codec => rubydebug }`, ``},
	} {
		if !strings.Contains(conf, r[0]) {
			t.Fatalf("logstash1.conf no longer holds %q:\n%s", r[0], conf)
		}
		conf = strings.Replace(conf, r[0], r[1], 1)
	}
	if !strings.Contains(conf, "ssl => true") || !strings.Contains(conf, `index => "from-redis-%{+YYYY.MM.dd}"`) {
		t.Fatalf("the deployment's TLS and index settings are gone:\n%s", conf)
	}
	stop := topoRun(t, "logstash1.conf", conf, 2)
	topoWait(t, 60*time.Second, func() string {
		return fmt.Sprintf("list %d", topoLLen(t, rc, "redis-queue-elastic"))
	}, func() bool { return topoLLen(t, rc, "redis-queue-elastic") == 0 })
	if err := stop(); err != nil { // drains: every event read is delivered
		t.Fatal(err)
	}
	if len(want) != 3 {
		t.Fatalf("events span %d UTC days; want 3", len(want))
	}
	total := 0
	for idx, w := range want {
		got, err := zs.WaitCount(idx, w, 60*time.Second)
		if err != nil || got != w {
			t.Errorf("%s: search finds %d (%v); want %d", idx, got, err, w)
		}
		total += got
	}
	if total != n {
		t.Errorf("%d documents found; want %d", total, n)
	}
}
