package grok

import (
	"context"
	"testing"

	vgrok "github.com/vjeantet/grok"

	"github.com/pipelined/pipeline/engine/event"
)

// The library read into legacyPatterns matches what github.com/vjeantet/grok
// itself extracts, on lines of the common formats: the same named captures
// with the same values (patterns chosen without a name captured twice, which
// vjeantet/grok reports only once). Where vjeantet/grok's library differs
// from Logstash's (its HTTPD_ERRORLOG captures errormsg where Logstash's
// captures message; COMMONENVOYACCESSLOG is its own), Logstash's is followed
// and the case is left out.
func TestSameAsVjeantet(t *testing.T) {
	g, err := vgrok.NewWithConfig(&vgrok.Config{NamedCapturesOnly: true, RemoveEmptyValues: true})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ pattern, line string }{
		{"%{SYSLOGBASE} %{GREEDYDATA:msg}", "Oct 11 22:14:15 mymachine su[230]: 'su root' failed for lonvick on /dev/pts/8"},
		{"%{SYSLOGBASE} %{GREEDYDATA:msg}", "Oct  1 02:04:05 <4.3> 10.0.0.1 kernel: x"},
		{"%{COMBINEDAPACHELOG}", `127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326 "http://www.example.com/start.html" "Mozilla/4.08 [en] (Win98; I ;Nav)"`},
		{"%{COMBINEDAPACHELOG}", `2001:db8::1 - - [10/Oct/2000:13:55:36 +0000] "-" 400 - "-" "-"`},
		{"%{TIMESTAMP_ISO8601:ts} %{LOGLEVEL:level} %{GREEDYDATA:rest}", "2026-11-24T10:00:00,123+0100 WARN disk nearly full"},
		{"%{URI:uri}", "see https://user:pw@example.com:8443/a/b.html?x=1&y=%20 now"},
		{"%{IP:ip} %{MAC:mac} %{UUID:id} %{EMAILADDRESS:mail}", "fe80::1%eth0 00:1a:2b:3c:4d:5e 123e4567-e89b-12d3-a456-426614174000 a.b@example.org"},
		{"%{DATESTAMP_RFC2822:d} %{QS:q} %{PATH:p}", `Tue, 24 Nov 2026 10:00:00 +0100 "quoted \"x\"" /var/log/syslog`},
		{"%{HOSTPORT:hp} %{NUMBER:n} %{BASE16NUM:h} %{TTY:tty}", "db-1.example.com:5432 -1.5e 0x1F /dev/pts/8"},
		{"%{SYSLOGBASE}", "not syslog"},
	}
	for _, tc := range tests {
		want, err := g.Parse(tc.pattern, tc.line)
		if err != nil {
			t.Fatalf("vjeantet %s: %v", tc.pattern, err)
		}
		f := newFilter(t, `match = { message = "`+tc.pattern+`" }`+"\necs_compatibility = \"disabled\"")
		e := event.NewMessage(tc.line)
		_, ferr := f.Filter(context.Background(), e, nil)
		if len(want) == 0 {
			if ferr == nil {
				t.Errorf("%s on %q: matched, vjeantet/grok does not", tc.pattern, tc.line)
			}
			continue
		}
		if ferr != nil {
			t.Errorf("%s on %q: no match; vjeantet/grok gives %v", tc.pattern, tc.line, want)
			continue
		}
		for k, v := range want {
			if got, _ := e.Get(event.MustRef(k)); got != v {
				t.Errorf("%s on %q: %s = %#v; vjeantet/grok gives %q", tc.pattern, tc.line, k, got, v)
			}
		}
		if n := len(e.Fields()) - 3; n != len(want) {
			t.Errorf("%s on %q: %d captures %v; vjeantet/grok gives %d: %v", tc.pattern, tc.line, n, e.Fields(), len(want), want)
		}
	}
}
