package redact

import (
	"strings"
	"testing"
)

func TestURL(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"http://elastic:s3cret@es:9200/x", "http://elastic:xxxxx@es:9200/x"},
		{"ftp://elastic:s3cret@es:9200", "ftp://elastic:xxxxx@es:9200"},
		{"https://tok3n@es", "https://xxxxx@es"},
		{"elastic:s3cret@es:9200", "elastic:xxxxx@es:9200"},
		{"//elastic:s3cret@es:9200", "//elastic:xxxxx@es:9200"},
		{"ht tp://elastic:s3cret@es:9200", "ht tp://elastic:xxxxx@es:9200"},
		{"http://elastic:s3c%zzret@es:9200", "http://elastic:xxxxx@es:9200"},
		{"http://a:b@c@es:9200/p@q", "http://a:xxxxx@es:9200/p@q"},
		{"http://es:9200/path", "http://es:9200/path"},
		{"es:9200", "es:9200"},
		{"", ""},
	} {
		got := URL(tc.in)
		if got != tc.want {
			t.Errorf("URL(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if strings.Contains(got, "s3c") || strings.Contains(got, "tok3n") {
			t.Errorf("URL(%q) = %q leaks the secret", tc.in, got)
		}
	}
}
