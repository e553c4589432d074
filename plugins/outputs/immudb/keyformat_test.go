package immudb

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/pipelined/pipeline/engine/event"
)

type pyVector struct {
	Input string `json:"input"`
	Text  string `json:"text"`
	Key   string `json:"key"`
}

// loadVectors reads testdata/python_vectors.json, made once by
// testdata/gen_vectors.py with Python's json and hashlib.
func loadVectors(t testing.TB) []pyVector {
	t.Helper()
	b, err := os.ReadFile("testdata/python_vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var vs []pyVector
	if err := json.Unmarshal(b, &vs); err != nil {
		t.Fatal(err)
	}
	if len(vs) < 10 {
		t.Fatalf("only %d vectors", len(vs))
	}
	return vs
}

func TestPythonVectors(t *testing.T) {
	for i, v := range loadVectors(t) {
		e, err := event.FromJSON([]byte(v.Input))
		if err != nil {
			t.Fatalf("vector %d: %v", i, err)
		}
		got := AppendPython(nil, e)
		if string(got) != v.Text {
			t.Errorf("vector %d:\n got %s\nwant %s", i, got, v.Text)
		}
		if k := Key(got); k != v.Key {
			t.Errorf("vector %d: key %s, want %s", i, k, v.Key)
		}
		// What the engine itself writes for the event (the json codec) must
		// give the same text: the Python consumer reads that JSON.
		e2, err := event.FromJSON(e.AppendJSON(nil))
		if err != nil {
			t.Fatal(err)
		}
		if got2 := AppendPython(nil, e2); string(got2) != v.Text {
			t.Errorf("vector %d after the engine's JSON round trip:\n got %s\nwant %s", i, got2, v.Text)
		}
	}
}

func TestPythonStringEdgeCases(t *testing.T) {
	for in, want := range map[string]string{
		"a\xffb":     `"a\ufffdb"`,
		"\x7f":       `"\u007f"`,
		"\U0010FFFF": `"\udbff\udfff"`,
		"\u00e9\"\\": `"\u00e9\"\\"`,
		"":           `""`,
	} {
		if got := string(appendPyString(nil, in)); got != want {
			t.Errorf("%q: got %s want %s", in, got, want)
		}
	}
}
