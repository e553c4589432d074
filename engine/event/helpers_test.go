package event

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// tsvCase is one line of a tab-separated testdata file.
type tsvCase struct {
	pos    string // file:line, for failure messages
	fields []string
}

// readTSV reads a testdata file of tab-separated cases, skipping blank lines and
// lines starting with '#'. Every case must have between min and max fields.
func readTSV(t *testing.T, name string, min, max int) []tsvCase {
	t.Helper()
	path := filepath.Join("testdata", name)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []tsvCase
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) < min || len(f) > max {
			t.Fatalf("%s:%d: %d tab-separated fields; want %d to %d", path, n, len(f), min, max)
		}
		out = append(out, tsvCase{pos: path + ":" + strconv.Itoa(n), fields: f})
	}
	if len(out) == 0 {
		t.Fatalf("%s: no cases", path)
	}
	return out
}

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
			return ParseTimestamp(s)
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
	tm, err := ParseTimestamp(s)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}
