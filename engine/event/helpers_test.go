package event

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pipelined/pipeline/engine/timefmt"
)

// loadEvent builds an event from a testdata JSON file. Integers become int64,
// other numbers float64 and an object {"$time": "RFC 3339"} a time.Time.
func loadEvent(t testing.TB, name string) *Event {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return eventFromJSON(t, string(data))
}

func eventFromJSON(t testing.TB, src string) *Event {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(src))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("decode %q: %v", src, err)
	}
	v, err := jsonTimes(m)
	if err != nil {
		t.Fatal(err)
	}
	e, err := FromMap(v.(map[string]any))
	if err != nil {
		t.Fatalf("FromMap: %v", err)
	}
	return e
}

func jsonTimes(v any) (any, error) {
	switch x := v.(type) {
	case map[string]any:
		if s, ok := x["$time"].(string); ok && len(x) == 1 {
			return timefmt.ParseTimestamp(s)
		}
		for k, el := range x {
			n, err := jsonTimes(el)
			if err != nil {
				return nil, err
			}
			x[k] = n
		}
	case []any:
		for i, el := range x {
			n, err := jsonTimes(el)
			if err != nil {
				return nil, err
			}
			x[i] = n
		}
	}
	return v, nil
}

func mustTime(t testing.TB, s string) time.Time {
	t.Helper()
	tm, err := timefmt.ParseTimestamp(s)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}
