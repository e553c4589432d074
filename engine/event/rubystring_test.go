package event

import "testing"

func TestAppendRubyString(t *testing.T) {
	for in, want := range map[string]string{
		`plain`: `"plain"`, `a"b`: `"a\"b"`, `a\b`: `"a\\b"`, "#{x}": `"\#{x}"`, "#$x #@y #z": `"\#$x \#@y #z"`,
		"\x00\x1b\x7f": `"\u0000\e\u007F"`, "\xff": `"\xFF"`, "\u0085": `"\u0085"`, "é☃": `"é☃"`,
		"a\u2028b": `"a\u2028b"`, "\u00a0": "\"\u00a0\"", "\n\t": `"\n\t"`,
	} {
		if got := string(AppendRubyString(nil, in)); got != want {
			t.Errorf("AppendRubyString(%q) = %s; want %s", in, got, want)
		}
	}
	// Event values inspect their strings the same way (not Go's quoting).
	if got := string(AppendRubyInspect(nil, map[string]any{"k\x01": "v\x01"})); got != `{"k\u0001"=>"v\u0001"}` {
		t.Errorf("AppendRubyInspect = %s", got)
	}
}

// AppendJSONWithMetadata keeps [@metadata], and FromJSON reads the event back
// whole, with or without other fields.
func TestAppendJSONWithMetadataRoundTrip(t *testing.T) {
	for _, js := range []string{
		`{"@metadata":{"beat":"filebeat","n":1},"a":{"b":[1,"x"]},"message":"hi"}`,
		`{"@metadata":{"k":"v"}}`,
		`{"message":"no metadata"}`,
	} {
		e, err := FromJSON([]byte(js))
		if err != nil {
			t.Fatal(err)
		}
		out := e.AppendJSONWithMetadata(nil)
		back, err := FromJSON(out)
		if err != nil {
			t.Fatalf("%s: %v", out, err)
		}
		if got, want := string(back.AppendJSONWithMetadata(nil)), string(out); got != want {
			t.Errorf("round trip: %s; want %s", got, want)
		}
	}
	only := &Event{fields: map[string]any{}, meta: map[string]any{"k": "v"}}
	if got := string(only.AppendJSONWithMetadata(nil)); got != `{"@metadata":{"k":"v"}}` {
		t.Errorf("metadata only: %s", got)
	}
}
