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

// BenchmarkParseEncode is W5's work per line: the event of a typical RFC 3164
// line, then its JSON line (the file output's json_lines).
func BenchmarkParseEncode(b *testing.B) {
	o := Options{}
	o.Defaults()
	o.Timezone = "UTC"
	p, _ := NewParser(o)
	raw := []byte("<86>Nov 24 03:26:46 web-07 sshd[28472]: Accepted publickey for deploy from 10.1.2.3 port 51234 ssh2\n")
	now := time.Now()
	var buf []byte
	b.ReportAllocs()
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		buf = p.Event(raw, "127.0.0.1", now).AppendJSON(buf[:0])
	}
}

// BenchmarkEventMap is BenchmarkParseEncode with the event's map made at the
// size NewParser learnt and its string fields boxed in one allocation
// ("sized", what Event does) and, as the peer in the same run, the way before
// (#20): the map grown from three fields, one allocation per string
// ("grown"); it reports the ratio of their times.
func BenchmarkEventMap(b *testing.B) {
	o := Options{}
	o.Defaults()
	o.Timezone = "UTC"
	raw := []byte("<86>Nov 24 03:26:46 web-07 sshd[28472]: Accepted publickey for deploy from 10.1.2.3 port 51234 ssh2\n")
	now := time.Now()
	sized, _ := NewParser(o)
	grown, _ := NewParser(o)
	grown.fields = 0
	if sized.fields < 10 {
		b.Fatalf("NewParser learnt %d fields", sized.fields)
	}
	var buf []byte
	var tSized, tGrown time.Duration
	b.ReportAllocs()
	for b.Loop() {
		start := time.Now()
		for range 100 {
			buf = sized.Event(raw, "127.0.0.1", now).AppendJSON(buf[:0])
		}
		mid := time.Now()
		for range 100 {
			buf = grown.Event(raw, "127.0.0.1", now).AppendJSON(buf[:0])
		}
		tSized += mid.Sub(start)
		tGrown += time.Since(mid)
	}
	b.ReportMetric(float64(tSized.Nanoseconds())/float64(100*b.N), "sized-ns/line")
	b.ReportMetric(float64(tGrown.Nanoseconds())/float64(100*b.N), "grown-ns/line")
	b.ReportMetric(tGrown.Seconds()/tSized.Seconds(), "speedup")
}
