package linereader

import (
	"bufio"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestNext(t *testing.T) {
	big := strings.Repeat("y", 3*BufferSize)
	tests := []struct {
		name, delim, in string
		max             int
		want            []string // "!" marks ErrTooLong
	}{
		{"basic", "\n", "a\nb\n", 0, []string{"a", "b"}},
		{"cr kept", "\n", "a\r\n", 0, []string{"a\r"}},
		{"empty lines", "\n", "\n\n", 0, []string{"", ""}},
		{"unterminated", "\n", "a\nb", 0, []string{"a", "b"}},
		{"empty", "\n", "", 0, nil},
		{"multi-byte", "::", "a::b:c::", 0, []string{"a", "b:c"}},
		{"overlapping delimiter", "aab", "xaaab", 0, []string{"xa"}},
		{"longer than the buffer", "\n", big + "\nz\n", 0, []string{big, "z"}},
		{"limit", "\n", "abc\nabcdef\nab\n", 3, []string{"abc", "!", "ab"}},
		{"limit on a long line", "\r\n", "ab\r\n" + big + "\r\nok\r\n", 3, []string{"ab", "!", "ok"}},
		{"limit on the last line", "\n", "ab\nabcd", 3, []string{"ab", "!"}},
		{"limit with a long unterminated line", "\n", "ab\n" + big, 3, []string{"ab", "!"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, r := range []io.Reader{strings.NewReader(tc.in), iotest.OneByteReader(strings.NewReader(tc.in))} {
				lr := New(r, []byte(tc.delim), tc.max)
				var got []string
				for {
					line, err := lr.Next()
					if err == io.EOF {
						break
					}
					if errors.Is(err, ErrTooLong) {
						got = append(got, "!")
						continue
					}
					if err != nil {
						t.Fatal(err)
					}
					got = append(got, string(line))
				}
				if strings.Join(got, "|") != strings.Join(tc.want, "|") {
					t.Errorf("lines %.60q; want %.60q", got, tc.want)
				}
			}
		})
	}
}

func TestUsesLargeBufferedReader(t *testing.T) {
	br := bufio.NewReaderSize(strings.NewReader("a\nb\n"), BufferSize)
	lr := New(br, []byte("\n"), 0)
	if lr.br != br {
		t.Error("a large enough *bufio.Reader was not reused")
	}
}

func TestRefilled(t *testing.T) {
	pr, pw := io.Pipe()
	lr := New(pr, []byte("\n"), 0)
	go func() {
		io.WriteString(pw, "a\nb\nc")
		io.WriteString(pw, "d\n")
		pw.Close()
	}()
	var got []string
	for {
		line, err := lr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, string(line)+"="+map[bool]string{true: "read", false: "buffered"}[lr.Refilled()])
	}
	if want := "a=read|b=buffered|cd=read"; strings.Join(got, "|") != want {
		t.Errorf("got %s; want %s", strings.Join(got, "|"), want)
	}
}
