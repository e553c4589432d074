package syslog

import (
	"testing"
	"time"
)

// BenchmarkParse is the cost of one typical RFC 3164 line into an event.
func BenchmarkParse(b *testing.B) {
	benchmarkParse(b, "<86>Nov 24 03:26:46 web-07 sshd[28472]: Accepted publickey for deploy from 10.1.2.3 port 51234 ssh2\n")
}

// BenchmarkParseISO is a line the fast path leaves to the general matcher
// (an ISO 8601 timestamp, as rsyslog's ForwardFormat and loggen send).
func BenchmarkParseISO(b *testing.B) {
	benchmarkParse(b, "<38>2026-11-24T03:28:41.123456+00:00 web-07 sshd[28472]: Accepted publickey for deploy from 10.1.2.3 port 51234 ssh2\n")
}

// benchmarkParse parses line into an event with the default options (UTC).
func benchmarkParse(b *testing.B, line string) {
	o := Options{}
	o.Defaults()
	o.Timezone = "UTC"
	p, _ := NewParser(o)
	raw := []byte(line)
	now := time.Now()
	b.ReportAllocs()
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		p.Event(raw, "127.0.0.1", now)
	}
}
