package charset

import (
	"unicode/utf8"

	"github.com/pipelined/pipeline/engine/valuefmt"
)

// Text is the text Logstash's codecs make of bytes read with charset UTF-8:
// the bytes when they are valid UTF-8, else their Ruby inspect form (so
// "a\xffb" becomes the 6 characters a\xFFb), as LogStash::Util::Charset
// does.
func Text(raw []byte) string {
	if utf8.Valid(raw) {
		return string(raw)
	}
	return Inspect(raw)
}

func utf8Text(b []byte) []byte {
	if utf8.Valid(b) {
		return b
	}
	return []byte(Inspect(b))
}

// Inspect is Ruby's String#inspect of a UTF-8 string, without the quotes.
func Inspect(b []byte) string {
	q := valuefmt.AppendRubyString(make([]byte, 0, len(b)+len(b)/4+2), string(b))
	return string(q[1 : len(q)-1])
}
