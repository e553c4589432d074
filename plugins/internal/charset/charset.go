// Package charset converts the text that codecs read to UTF-8, for their
// charset option (Logstash's LogStash::Util::Charset).
package charset

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/pipelined/pipeline/engine"
)

// Converter turns bytes read in some charset into UTF-8. It returns b itself
// when there is nothing to convert, so the result may alias b.
type Converter func(b []byte) []byte

// Names lists the supported charsets, for docs and errors.
var Names = []string{"UTF-8", "US-ASCII", "ASCII-8BIT", "BINARY", "ISO-8859-1", "Windows-1252"}

// Lookup returns the converter for a charset name (case-insensitive). UTF-8
// keeps valid text as it is and turns invalid UTF-8 into its Ruby inspect
// form, as Logstash does (see Text). US-ASCII, ASCII-8BIT and BINARY keep the
// bytes as they are: invalid UTF-8 becomes U+FFFD when serialized as JSON.
// ISO-8859-1 (Latin-1) and Windows-1252 (CP1252) are converted to UTF-8.
func Lookup(name string) (Converter, error) {
	switch strings.ToUpper(name) {
	case "UTF-8", "UTF8":
		return utf8Text, nil
	case "US-ASCII", "ASCII", "ASCII-8BIT", "BINARY":
		return identity, nil
	case "ISO-8859-1", "ISO8859-1", "LATIN1":
		return latin1, nil
	case "WINDOWS-1252", "CP1252":
		return cp1252, nil
	}
	return nil, &engine.FieldError{Field: "charset", Err: fmt.Errorf("unsupported charset %q: supported are %s", name, strings.Join(Names, ", "))}
}

func identity(b []byte) []byte { return b }

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

func latin1(b []byte) []byte {
	if isASCII(b) {
		return b
	}
	out := make([]byte, 0, len(b)+len(b)/2)
	for _, c := range b {
		out = utf8.AppendRune(out, rune(c))
	}
	return out
}

// cp1252High maps bytes 0x80..0x9F; the other bytes are Latin-1. Undefined
// bytes map to U+FFFD.
var cp1252High = [32]rune{
	0x20AC, 0xFFFD, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
	0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0xFFFD, 0x017D, 0xFFFD,
	0xFFFD, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
	0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0xFFFD, 0x017E, 0x0178,
}

func cp1252(b []byte) []byte {
	if isASCII(b) {
		return b
	}
	out := make([]byte, 0, len(b)+len(b)/2)
	for _, c := range b {
		switch {
		case c < utf8.RuneSelf:
			out = append(out, c)
		case c < 0xA0:
			out = utf8.AppendRune(out, cp1252High[c-0x80])
		default:
			out = utf8.AppendRune(out, rune(c))
		}
	}
	return out
}

// Option is the charset option of a codec that decodes text (an option
// group: codecs embed it in their Options struct).
type Option struct {
	// Charset is the character set of the input, converted to UTF-8 when
	// decoding: UTF-8 (text with invalid bytes becomes its Ruby inspect form,
	// as in Logstash), US-ASCII, ASCII-8BIT, BINARY, ISO-8859-1 or
	// Windows-1252.
	Charset string `hcl:"charset,optional"`
}

// DocTitle names the group in the plugin reference.
func (Option) DocTitle() string { return "Charset" }

// Defaults sets Logstash's default, UTF-8.
func (o *Option) Defaults() { o.Charset = "UTF-8" }

// Validate checks that the charset is supported.
func (o Option) Validate() error {
	_, err := Lookup(o.Charset)
	return err
}

// Converter returns the converter of a validated charset.
func (o Option) Converter() Converter {
	c, _ := Lookup(o.Charset)
	return c
}
