package syslog

import (
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/pipelined/pipeline/engine/event"
)

// TestFastPathAgrees: for every line the fast path accepts, the event is the
// one the general (grok-exact) matcher makes. The lines are typical headers
// and thousands of random mutations of them.
func TestFastPathAgrees(t *testing.T) {
	for _, mode := range []string{"disabled", "v8"} {
		t.Run(mode, func(t *testing.T) { fastPathAgrees(t, mode) })
	}
}

func fastPathAgrees(t *testing.T, mode string) {
	o := Options{}
	o.Defaults()
	o.Timezone = "Europe/Berlin"
	o.ECSCompatibility = mode
	p, _ := NewParser(o)
	now := time.Date(2026, 1, 3, 12, 0, 0, 0, time.UTC)
	p.now = func() time.Time { return now }
	base := []string{
		"<86>Nov 24 03:26:46 web-07 sshd[28472]: Accepted publickey for deploy\n",
		"<13>Nov  4 03:26:46 host app: hi",
		"<13>Dec 31 23:59:59 host app: x",
		"<191>Feb 28 00:00:00 a.b.c. su: pam_unix(su:session): opened",
		"<1>Mar  1 02:30:00 10.0.0.1 kernel: [12.3] x",
		"<157>Nov 24 03:39:32 rsyshost fwdtest rsyslog line",
		"<13>Jun 30 12:00:00 host prog[12]:x y",
		"<13>Jun 30 12:00:00 host a:b: c",
		"<13>Jun 30 12:00:00 host p[0]: c",
		"<13>Jun 30 12:00:00 host : c",
		"<13>Jun 30 12:00:00 host app: ",
		"<13>Mar 29 02:30:00 host app: dst gap in Berlin",
		"<38>2026-11-24T03:28:41 localhost prg00000[1234]: seq: 0000000000\n",
		"<157>2026-11-24T03:27:10.383206+01:00 rsyshost fwdtest: line\n",
		"<13>2026-02-30T03:27:10Z host app: bad day",
		"<13>2026-11-24T03:27:10,5-05:30 host app: comma",
	}
	alphabet := []byte("0123456789abcAZ :[].-<>\n\t\xff")
	lines := append([]string{}, base...)
	for n := range 60000 {
		rng := rand.New(rand.NewPCG(uint64(n), 7))
		b := []byte(base[rng.IntN(len(base))])
		for range 1 + rng.IntN(3) {
			i := rng.IntN(len(b))
			switch rng.IntN(3) {
			case 0:
				b[i] = alphabet[rng.IntN(len(alphabet))]
			case 1:
				b = append(b[:i], b[i+1:]...)
			default:
				b = append(b[:i], append([]byte{alphabet[rng.IntN(len(alphabet))]}, b[i:]...)...)
			}
			if len(b) == 0 {
				b = []byte("<")
			}
		}
		lines = append(lines, string(b))
	}
	fast := 0
	for _, line := range lines {
		r, ok := fastParse(line)
		if !ok {
			continue
		}
		fast++
		a := event.NewMessageAt(line, now)
		p.fastRelay(a, line, &r, &[]event.Strings{event.NewStrings(7)}[0])
		b := event.NewMessageAt(line, now)
		p.matchRelay(b, line)
		if !reflect.DeepEqual(a.Fields(), b.Fields()) {
			t.Errorf("%q:\nfast    %v\nmatcher %v", line, a.Fields(), b.Fields())
		}
	}
	if fast < len(base)-2 || fast < 1000 {
		t.Fatalf("fast path took only %d of %d lines", fast, len(lines))
	}
	t.Logf("fast path took %d of %d lines", fast, len(lines))
}
