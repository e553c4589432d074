package netserver

import (
	"bufio"
	"strings"
	"testing"
)

func TestReadProxyV1(t *testing.T) {
	for _, tc := range []struct {
		in, src, dst, rest string
		unknown, bad       bool
	}{
		{in: "PROXY TCP4 192.0.2.1 198.51.100.2 40000 514\r\nhello\n", src: "192.0.2.1:40000", dst: "198.51.100.2:514", rest: "hello\n"},
		{in: "PROXY TCP6 2001:db8::1 2001:db8::2 1 2\r\nx", src: "[2001:db8::1]:1", dst: "[2001:db8::2]:2", rest: "x"},
		{in: "PROXY UNKNOWN\r\nx", unknown: true, rest: "x"},
		{in: "GET / HTTP/1.0\r\n", bad: true},
		{in: "PROXY TCP4 1.2.3.4 5.6.7.8 99999 1\r\n", bad: true},
		{in: "PROXY TCP4 1.2.3.4\r\n", bad: true},
		{in: "PROXY " + strings.Repeat("x", 200) + "\r\n", bad: true},
		{in: "PROX", bad: true},
	} {
		br := bufio.NewReader(strings.NewReader(tc.in))
		h, err := ReadProxyV1(br)
		if tc.bad {
			if err == nil {
				t.Errorf("%q: no error", tc.in)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		rest, _ := br.ReadString(0)
		if h.Unknown != tc.unknown || !tc.unknown && (h.Source.String() != tc.src || h.Dest.String() != tc.dst) || rest != tc.rest {
			t.Errorf("%q: %+v rest %q", tc.in, h, rest)
		}
	}
}

func TestLineLimiter(t *testing.T) {
	l := &LineLimiter{R: strings.NewReader("abc\n" + strings.Repeat("x", 10) + "\n"), Max: 5}
	buf := make([]byte, 4)
	var err error
	for err == nil {
		_, err = l.Read(buf)
	}
	if !strings.Contains(err.Error(), "line too long") {
		t.Fatalf("err %v", err)
	}
	ok := &LineLimiter{R: strings.NewReader("abcde\nabcde\nabc"), Max: 5}
	for err = nil; err == nil; {
		_, err = ok.Read(buf)
	}
	if err.Error() != "EOF" {
		t.Fatalf("lines within the limit refused: %v", err)
	}
}
