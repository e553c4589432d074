package main

import (
	"context"
	"encoding/json"
	"maps"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/pipelined/pipeline/dsl"
	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/monitor"
)

// TestWhyNotDeliveredCounts runs a pipeline whose drops, unmatched output
// branch and grok failures are known, and reads them from /_node/stats: 100
// events, 50 fail grok (tagged _grokparsefailure), 25 are dropped, 50 match
// no output condition, 25 are delivered.
func TestWhyNotDeliveredCounts(t *testing.T) {
	const conf = `
input { generator { id => "gen" lines => ["ok 1", "bad", "drop me", "other 2"] count => 25 } }
filter {
  grok { id => "parse" match => { "message" => "^%{WORD:kind} %{INT:n}$" } }
  if [message] =~ /^drop/ { drop { id => "dropper" } }
}
output {
  if [kind] == "ok" { null { id => "sink" } }
}
`
	cfg, diags := dsl.LoadSource("counts.conf", []byte(conf))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	pl, diags := engine.Build(cfg.Pipelines[0], engine.Default, engine.Settings{Workers: 2, DataDir: t.TempDir()})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := pl.Run(ctx); err != nil {
		t.Fatal(err)
	}
	srv := monitor.New(monitor.Options{Version: "test"}, func() []monitor.Source { return []monitor.Source{{Pipeline: pl}} })
	w := httptest.NewRecorder()
	srv.Handler().ServeHTTP(w, httptest.NewRequest("GET", "/_node/stats/pipelines/main", nil))
	var got struct {
		Pipelines map[string]struct {
			Events struct {
				In, Filtered, Out, Dropped, Unrouted, Failed int64
				FilterFailed                                 int64 `json:"filter_failed"`
			}
			UnroutedBy map[string]int64 `json:"unrouted_by_conditions"`
			Plugins    struct {
				Filters []struct {
					ID     string
					Events struct {
						In, Out, Dropped, Failed int64
					}
					FailureTags map[string]int64 `json:"failure_tags"`
					Examples    []struct {
						Tag   string
						Event map[string]any
					} `json:"failure_examples"`
				}
				Outputs []struct {
					ID     string
					Events map[string]any
				}
			}
		}
	}
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
		t.Fatalf("%v: %s", err, w.Body.String())
	}
	p, ok := got.Pipelines["main"]
	if !ok {
		t.Fatalf("no pipeline main: %s", w.Body.String())
	}
	ev := p.Events
	for k, c := range map[string][2]int64{"in": {ev.In, 100}, "filtered": {ev.Filtered, 75}, "out": {ev.Out, 25}, "dropped": {ev.Dropped, 25},
		"unrouted": {ev.Unrouted, 50}, "filter_failed": {ev.FilterFailed, 50}, "failed": {ev.Failed, 0}} {
		if c[0] != c[1] {
			t.Errorf("events.%s = %d, want %d", k, c[0], c[1])
		}
	}
	// The unrouted events by the condition chain they went through.
	if want := map[string]int64{`if [kind] == 'ok' → false`: 50}; !maps.Equal(p.UnroutedBy, want) {
		t.Errorf("unrouted_by_conditions = %v, want %v", p.UnroutedBy, want)
	}
	filters := map[string]int{}
	for i, f := range p.Plugins.Filters {
		filters[f.ID] = i
	}
	parse := p.Plugins.Filters[filters["parse"]]
	if e := parse.Events; e.In != 100 || e.Out != 100 || e.Failed != 50 || e.Dropped != 0 || parse.FailureTags["_grokparsefailure"] != 50 || len(parse.FailureTags) != 1 {
		t.Errorf("filter parse: %+v", parse)
	}
	// Examples of the failures: at most one a second, so the first one.
	if ex := parse.Examples; len(ex) < 1 || len(ex) > 5 || ex[0].Tag != "_grokparsefailure" || (ex[0].Event["message"] != "bad" && ex[0].Event["message"] != "drop me") {
		t.Errorf("filter parse: failure_examples %+v", ex)
	}
	drop := p.Plugins.Filters[filters["dropper"]].Events
	if drop.In != 25 || drop.Out != 0 || drop.Dropped != 25 || drop.Failed != 0 {
		t.Errorf("filter dropper: %+v", drop)
	}
	if len(p.Plugins.Outputs) != 1 || p.Plugins.Outputs[0].ID != "sink" || p.Plugins.Outputs[0].Events["out"] != float64(25) {
		t.Errorf("outputs: %+v", p.Plugins.Outputs)
	}
}
