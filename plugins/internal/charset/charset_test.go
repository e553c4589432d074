package charset

import "testing"

func TestLookup(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		// Invalid UTF-8 becomes Ruby's inspect of it, as in Logstash.
		{"UTF-8", "caf\xc3\xa9 \xff", `café \xFF`},
		{"UTF-8", "caf\xc3\xa9 \"q\"", "caf\xc3\xa9 \"q\""},
		{"UTF-8", "\"q\"\t#{x}\xfe", `\"q\"\t\#{x}\xFE`},
		{"utf-8", "x", "x"},
		{"ISO-8859-1", "caf\xe9", "café"},
		{"ISO-8859-1", "plain", "plain"},
		{"Windows-1252", "\x80 \x93q\x94 \xe9 \x81", "€ “q” é \uFFFD"},
		{"BINARY", "\x00\xff", "\x00\xff"},
	}
	for _, tc := range tests {
		conv, err := Lookup(tc.name)
		if err != nil {
			t.Fatalf("Lookup(%s): %v", tc.name, err)
		}
		if got := string(conv([]byte(tc.in))); got != tc.want {
			t.Errorf("%s(%q) = %q; want %q", tc.name, tc.in, got, tc.want)
		}
	}
	if _, err := Lookup("EBCDIC"); err == nil {
		t.Error("Lookup(EBCDIC) succeeded")
	}
}
