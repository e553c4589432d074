package syslog

import (
	"encoding/json"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pipelined/pipeline/engine/event"
)

type parseCase struct {
	Name     string         `json:"name"`
	Raw      *string        `json:"raw"`
	RawGo    string         `json:"raw_go"`
	Timezone string         `json:"timezone"`
	Now      string         `json:"now"`
	RFC5424  bool           `json:"rfc5424"`
	ECS      string         `json:"ecs"`
	Want     map[string]any `json:"want"`
}

// normalize turns event fields into what encoding/json makes of them.
func normalize(t *testing.T, m map[string]any) map[string]any {
	t.Helper()
	b, err := event.FromMap(m)
	if err != nil {
		t.Fatal(err)
	}
	js := b.AppendJSON(nil)
	var out map[string]any
	if err := json.Unmarshal(js, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestParseTable checks every field of the event made of each message in
// testdata/parse.json: Logstash's syslog input behaviour, quirks included.
func TestParseTable(t *testing.T) {
	data, err := os.ReadFile("testdata/parse.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []parseCase
	if err := json.Unmarshal(data, &cases); err != nil {
		t.Fatal(err)
	}
	if len(cases) < 20 {
		t.Fatalf("only %d cases", len(cases))
	}
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			o := Options{}
			o.Defaults()
			o.Timezone = "UTC"
			if tc.Timezone != "" {
				o.Timezone = tc.Timezone
			}
			o.RFC5424 = tc.RFC5424
			if tc.ECS != "" {
				o.ECSCompatibility = tc.ECS
			}
			p, err := NewParser(o)
			if err != nil {
				t.Fatal(err)
			}
			now := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
			if tc.Now != "" {
				if now, err = time.Parse(time.RFC3339, tc.Now); err != nil {
					t.Fatal(err)
				}
			}
			p.now = func() time.Time { return now }
			var raw string
			if tc.Raw != nil {
				raw = *tc.Raw
			} else if raw, err = strconv.Unquote(tc.RawGo); err != nil {
				t.Fatal(err)
			}
			e := p.Event([]byte(raw), "127.0.0.1", time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC))
			got := normalize(t, e.Fields())
			want := tc.Want
			if !reflect.DeepEqual(got, want) {
				for k := range merge(got, want) {
					if !reflect.DeepEqual(got[k], want[k]) {
						t.Errorf("%s: got %#v, want %#v", k, got[k], want[k])
					}
				}
			}
		})
	}
}

func merge(a, b map[string]any) map[string]bool {
	out := map[string]bool{}
	for k := range a {
		out[k] = true
	}
	for k := range b {
		out[k] = true
	}
	return out
}

// TestPathologicalLinesAreBounded: lines that make the pattern backtrack a
// lot end quickly as parse failures.
func TestPathologicalLinesAreBounded(t *testing.T) {
	o := Options{}
	o.Defaults()
	p, _ := NewParser(o)
	for _, line := range []string{
		"<13>Nov 24 03:26:46 " + strings.Repeat("a.", 500000) + "x:",
		"<13>Nov 24 03:26:46 " + strings.Repeat("a-", 500000) + ":",
		strings.Repeat("<13>Nov 24 03:26:46 a", 50000),
		"<13>Nov 24 03:26:46 " + strings.Repeat("1:", 100000),
		strings.Repeat("<", 1<<20),
	} {
		// The bound is the step budget, not a clock: the matcher gives up
		// once it has spent it (a few milliseconds of work, see
		// BenchmarkParse*), so no line can cost more.
		st := state{s: line}
		if st.match(p.pattern) {
			t.Errorf("%.30q…: matched", line)
		}
		if st.steps > stepBudget+len(line) {
			t.Errorf("%.30q…: %d steps, budget %d", line, st.steps, stepBudget)
		}
		e := p.Event([]byte(line), "127.0.0.1", time.Now())
		if !e.HasTag(TagParseFailure) {
			t.Errorf("%.30q…: parsed", line)
		}
	}
}

func TestLabelOptions(t *testing.T) {
	o := Options{}
	o.Defaults()
	o.UseLabels = false
	p, _ := NewParser(o)
	e := p.Event([]byte("<13>Nov 24 03:26:46 host app: x"), "h", time.Now())
	if _, ok := e.Get(legacyFields.facilityLabel); ok {
		t.Error("facility_label with use_labels = false")
	}
	if _, ok := e.Get(legacyFields.severityLabel); ok {
		t.Error("severity_label with use_labels = false")
	}
	o.UseLabels = true
	o.FacilityLabels = []string{"k", "u"}
	o.SeverityLabels = []string{"e0", "e1", "e2", "e3", "e4", "notice!"}
	p, _ = NewParser(o)
	e = p.Event([]byte("<13>Nov 24 03:26:46 host app: x"), "h", time.Now())
	fv, _ := e.Get(legacyFields.facilityLabel)
	sv, _ := e.Get(legacyFields.severityLabel)
	if fv != "u" || sv != "notice!" {
		t.Errorf("custom labels: %v", e.Fields())
	}
	// Numbers beyond the lists (facility 2, severity 7) get no label.
	e = p.Event([]byte("<23>Nov 24 03:26:46 host app: x"), "h", time.Now())
	_, fl := e.Get(legacyFields.facilityLabel)
	_, sl := e.Get(legacyFields.severityLabel)
	if fl || sl {
		t.Errorf("labels beyond the lists: %v", e.Fields())
	}
}
