package syslog

import (
	"reflect"
	"testing"
	"time"

	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/plugins/internal/charset"
)

// FuzzEvent: any bytes make an event with a priority, never a panic, and the
// fast path never disagrees with the matcher on what it accepts.
func FuzzEvent(f *testing.F) {
	for _, s := range []string{
		"<13>Nov 24 03:26:46 host app[1]: x\n",
		"<38>2026-11-24T03:28:41 localhost prg00000[1234]: seq\n",
		"<13>1 2026-11-24T03:26:46Z host app 1 ID [a b=\"c\"] m",
		"junk <13>Nov  4 03:26:46 fe80::1%eth0 app: x",
		"\xff\xfe<9>",
		"<157>2026-11-24T03:27:10.383206+01:00 rsyshost fwdtest: line\n",
	} {
		f.Add([]byte(s), false, false)
		f.Add([]byte(s), true, true)
	}
	f.Fuzz(func(t *testing.T, b []byte, rfc5424, ecsOn bool) {
		o := Options{}
		o.Defaults()
		o.Timezone = "UTC"
		o.RFC5424 = rfc5424
		if ecsOn {
			o.ECSCompatibility = "v8"
		}
		p, _ := NewParser(o)
		e := p.Event(b, "127.0.0.1", time.Unix(0, 0))
		if v, _ := e.Get(p.f.priority); v == nil {
			t.Fatalf("%q: no priority", b)
		}
		msg := charset.Text(b)
		if r, ok := fastParse(msg); ok {
			a, m := event.NewMessageAt(msg, time.Unix(0, 0)), event.NewMessageAt(msg, time.Unix(0, 0))
			p.fastRelay(a, msg, &r, &[]event.Strings{event.NewStrings(2)}[0])
			p.matchRelay(m, msg)
			if !reflect.DeepEqual(a.Fields(), m.Fields()) {
				t.Fatalf("%q:\nfast    %v\nmatcher %v", msg, a.Fields(), m.Fields())
			}
		}
	})
}
