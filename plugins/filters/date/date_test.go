package date

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/plugins/internal/testkit/plugintest"
)

func newFilter(t testing.TB, opts string) *Filter {
	t.Helper()
	return plugintest.MustNew(t, New, opts, engine.Resources{})
}

// run filters one event whose field t is v and returns it and the error.
func run(t testing.TB, f *Filter, v any) (*event.Event, error) {
	t.Helper()
	e := event.NewAt(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC))
	if err := e.Set(event.MustRef("t"), v); err != nil {
		t.Fatal(err)
	}
	out, err := f.Filter(context.Background(), e, nil)
	if len(out) != 1 || out[0] != e {
		t.Fatalf("Filter returned %v; want the event", out)
	}
	return e, err
}

// Each named format, through the filter.
func TestFormats(t *testing.T) {
	tests := []struct {
		opts string
		in   any
		want string // "" means failure
	}{
		{`match = ["t", "ISO8601"]`, "2026-11-24T10:00:01.123Z", "2026-11-24T10:00:01.123Z"},
		{`match = ["t", "ISO8601"]`, "2026-11-24T10:00:01.123999Z", "2026-11-24T10:00:01.123Z"},
		{`match = ["t", "ISO8601"]`, "2026-1-2T3:4:5", "2026-01-02T03:04:05Z"},
		{`match = ["t", "ISO8601"]`, "+2026-11-24T10:00:00-01", "2026-11-24T11:00:00Z"},
		{`match = ["t", "ISO8601"]`, "2026-328", ""},                               // ordinal dates are not supported
		{`match = ["t", "ISO8601"]`, "2026-11-24T10.5", "2026-11-24T10:30:00Z"},    // fraction of hour
		{`match = ["t", "ISO8601"]`, "2026-11-24T10:30.5", "2026-11-24T10:30:30Z"}, // fraction of minute
		{`match = ["t", "ISO8601"]`, "2026-11-24T10:00:01.", ""},
		{`match = ["t", "ISO8601"]`, "T10:30:00Z", "1970-01-01T10:30:00Z"},
		{`match = ["t", "ISO8601"]`, "2026-11-24T", "2026-11-24T00:00:00Z"},
		{`match = ["t", "ISO8601"]`, "2026-11-24TZ", "2026-11-24T00:00:00Z"},
		{`match = ["t", "ISO8601"]`, "2026-11-24T10:00:00+24:00", ""},
		{`match = ["t", "ISO8601"]`, "2026-11-24T24:00:00", ""},
		{`match = ["t", "ISO8601"]`, "2026-11-24T10:00:00.1234567890Z", ""}, // at most 9 digits
		{`match = ["t", "ISO8601"]`, 1764000000, ""},
		{`match = ["t", "ISO8601"]` + "\ntimezone = \"Asia/Tokyo\"", "2026-11-24T10:00:00", "2026-11-24T01:00:00Z"},
		{`match = ["t", "ISO8601"]` + "\ntimezone = \"Asia/Tokyo\"", "2026-11-24 10:00:00.000", "2026-11-24T01:00:00Z"},
		{`match = ["t", "UNIX"]`, int64(0), "1970-01-01T00:00:00Z"},
		{`match = ["t", "UNIX"]`, 1.5, "1970-01-01T00:00:01.5Z"},
		{`match = ["t", "UNIX"]`, "1.", "1970-01-01T00:00:01Z"},
		{`match = ["t", "UNIX"]`, "+1", "1970-01-01T00:00:01Z"},
		{`match = ["t", "UNIX"]`, " 1", ""},
		{`match = ["t", "UNIX"]`, "2147483647", "2038-01-19T03:14:07Z"},
		{`match = ["t", "UNIX"]`, "2147483648", ""},
		{`match = ["t", "UNIX_MS"]`, int64(-1), "1969-12-31T23:59:59.999Z"},
		{`match = ["t", "UNIX_MS"]`, "1500", "1970-01-01T00:00:01.5Z"},
		{`match = ["t", "UNIX_MS"]`, "1.5", ""},
		{`match = ["t", "TAI64N"]`, "@400000000000000a00000000", "1970-01-01T00:00:00Z"},
		{`match = ["t", "TAI64N"]`, "@400000000000000a000f4240 trailing", "1970-01-01T00:00:00.001Z"},
		{`match = ["t", "TAI64N"]`, int64(1), ""},
		{`match = ["t", "yyyy-MM-dd HH:mm:ss,SSS"]`, "2026-11-24 10:00:01,5", "2026-11-24T10:00:01.5Z"},
		{`match = ["t", "dd.MM.yy"]` + "\nlocale = \"en\"", "24.11.26", "2026-11-24T00:00:00Z"},
		{`match = ["t", "yyyy-MM-dd HH:mm ZZZ"]`, "2026-07-01 10:00 America/Sao_Paulo", "2026-07-01T13:00:00Z"},
		{`match = ["t", "yyyy-MM-dd HH:mm z"]`, "2026-07-01 10:00 PDT", "2026-07-01T17:00:00Z"},
	}
	for _, tc := range tests {
		f := newFilter(t, tc.opts)
		e, err := run(t, f, tc.in)
		if tc.want == "" {
			if err == nil || !e.HasTag("_dateparsefailure") {
				t.Errorf("%s: %v parsed as %v; want a failure", tc.opts, tc.in, e.Timestamp())
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v: %v", tc.opts, tc.in, err)
			continue
		}
		want, _ := time.Parse(time.RFC3339Nano, tc.want)
		if got := e.Timestamp(); !got.Equal(want) || got.Location() != time.UTC {
			t.Errorf("%s: %v = %v; want %v", tc.opts, tc.in, got, want)
		}
	}
}

// A syslog date without a year, received on 1 January for 31 December, is
// last year's; Logstash's JodaParser.parseAndGuessYear.
func TestYearless(t *testing.T) {
	tests := []struct {
		now        time.Time
		in, want   string
		zone, opts string
	}{
		{time.Date(2027, 1, 1, 0, 0, 5, 0, time.UTC), "Dec 31 23:59:58", "2026-12-31T23:59:58Z", "", ""},
		{time.Date(2027, 1, 1, 0, 0, 5, 0, time.UTC), "Jan  1 00:00:01", "2027-01-01T00:00:01Z", "", ""},
		{time.Date(2026, 12, 31, 23, 59, 0, 0, time.UTC), "Jan  1 00:00:01", "2027-01-01T00:00:01Z", "", ""},
		{time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC), "Nov 24 09:59:00", "2026-11-24T09:59:00Z", "", ""},
		{time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC), "Dec 24 09:59:00", "2026-12-24T09:59:00Z", "", ""},
		// The local time is in timezone: 31 Dec 23:30 in Berlin is 22:30 UTC.
		{time.Date(2027, 1, 1, 0, 0, 5, 0, time.UTC), "Dec 31 23:30:00", "2026-12-31T22:30:00Z", "Europe/Berlin", ""},
	}
	for _, tc := range tests {
		opts := `match = ["t", "MMM dd HH:mm:ss", "MMM  d HH:mm:ss"]`
		if tc.zone != "" {
			opts += "\ntimezone = \"" + tc.zone + "\""
		}
		f := newFilter(t, opts)
		f.now = func() time.Time { return tc.now }
		e, err := run(t, f, tc.in)
		if err != nil {
			t.Errorf("%q at %v: %v", tc.in, tc.now, err)
			continue
		}
		if got := e.Timestamp().Format(time.RFC3339); got != tc.want {
			t.Errorf("%q at %v = %s; want %s", tc.in, tc.now, got, tc.want)
		}
	}
}

func TestTargetNotTimestamp(t *testing.T) {
	f := newFilter(t, `
match  = ["t", "UNIX"]
target = "when"`)
	e, err := run(t, f, int64(60))
	if err != nil {
		t.Fatal(err)
	}
	v, _ := e.Get(event.MustRef("when"))
	if tm, ok := v.(time.Time); !ok || !tm.Equal(time.Unix(60, 0)) || tm.Location() != time.UTC {
		t.Errorf("when = %#v; want 1970-01-01T00:01:00Z as a time", v)
	}
	if !e.Timestamp().Equal(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("@timestamp changed to %v", e.Timestamp())
	}
}

func TestMissingIsNotAFailure(t *testing.T) {
	f := newFilter(t, `match = ["t", "ISO8601"]`)
	e := event.NewMessage("x")
	out, err := f.Filter(context.Background(), e, nil)
	if !errors.Is(err, errNoSource) || len(out) != 1 || e.HasTag("_dateparsefailure") {
		t.Errorf("Filter = %v, %v, tags %v; want the event, errNoSource and no tag", out, err, e.Tags())
	}
}

func TestValidate(t *testing.T) {
	bad := []Options{
		{},
		{Match: []string{"t"}},
		{Match: []string{"t", "yyyy-MM-ddTHH"}},
		{Match: []string{"t", "GGGG yyyy"}},
		{Match: []string{"t", "ISO8601"}, Locale: "ja"},
		{Match: []string{"t", "ISO8601"}, Locale: "pt_BR"},
	}
	for _, o := range bad {
		var fe *engine.FieldError
		if err := o.Validate(); !errors.As(err, &fe) {
			t.Errorf("Validate(%+v) = %v; want a FieldError", o, err)
		}
	}
	for _, l := range []string{"", "en", "en-US", "en_GB", "EN", "fr", "fr-FR", "de_DE", "de-AT", "it", "it-CH", "es", "es-MX"} {
		o := Options{Match: []string{"t", "ISO8601"}, Locale: l}
		if err := o.Validate(); err != nil {
			t.Errorf("locale %q: %v", l, err)
		}
	}
	for _, tz := range []string{"%{[tz", "Local"} {
		o := Options{Match: []string{"t", "ISO8601"}, Timezone: tz, Target: "@timestamp"}
		if _, err := New(o, engine.Resources{}); err == nil {
			t.Errorf("timezone %q accepted", tz)
		}
	}
}

// Filter is called from several workers at once.
func TestConcurrent(t *testing.T) {
	f, err := New(Options{Match: []string{"t", "dd/MMM/yyyy:HH:mm:ss", "ISO8601"}, Timezone: "%{tz}", Target: "@timestamp"}, engine.Resources{})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			zones := []string{"Europe/Berlin", "Asia/Tokyo", "UTC", "America/New_York"}
			for j := range 200 {
				e := event.NewMessage("m")
				_ = e.Set(event.MustRef("t"), "24/Nov/2026:10:00:01")
				_ = e.Set(event.MustRef("tz"), zones[(i+j)%len(zones)])
				if _, err := f.Filter(context.Background(), e, nil); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// Through the real engine: failures skip add_tag, successes get it.
func TestEngine(t *testing.T) {
	a, b := event.NewMessage("a"), event.NewMessage("b")
	_ = a.Set(event.MustRef("t"), "2026-11-24T10:00:00Z")
	_ = b.Set(event.MustRef("t"), "garbage")
	out := plugintest.Filter(t, "date", `
match   = ["t", "ISO8601"]
add_tag = ["dated"]`, a, b)
	if len(out) != 2 {
		t.Fatalf("got %d events", len(out))
	}
	for _, e := range out {
		v, _ := e.GetString(event.MustRef("t"))
		switch v {
		case "2026-11-24T10:00:00Z":
			if !e.HasTag("dated") || !e.Timestamp().Equal(time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)) {
				t.Errorf("success: tags %v, @timestamp %v", e.Tags(), e.Timestamp())
			}
		default:
			if e.HasTag("dated") || !e.HasTag("_dateparsefailure") {
				t.Errorf("failure: tags %v", e.Tags())
			}
		}
	}
}

func benchmark(b *testing.B, opts, value string) {
	f := newFilter(b, opts)
	r := event.MustRef("t")
	e := event.NewMessage("m")
	out := make([]*event.Event, 0, 1)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		_ = e.Set(r, value)
		var err error
		if out, err = f.Filter(context.Background(), e, out[:0]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDateISO8601(b *testing.B) {
	benchmark(b, `match = ["t", "ISO8601"]`, "2026-11-24T10:00:01.123+01:00")
}

func BenchmarkDateJoda(b *testing.B) {
	benchmark(b, `
match    = ["t", "dd/MMM/yyyy:HH:mm:ss Z"]`, "24/Nov/2026:10:00:01 +0100")
}

func BenchmarkDateJodaTimezone(b *testing.B) {
	benchmark(b, `
match    = ["t", "yyyy-MM-dd HH:mm:ss.SSS"]
timezone = "Europe/Berlin"`, "2026-11-24 10:00:01.123")
}
