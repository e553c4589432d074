package valuefmt

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
