package event

import (
	"strings"
	"sync"
	"testing"
	"time"
)

// TestTemplateRenderFile runs testdata/templates.txt against testdata/event.json.
func TestTemplateRenderFile(t *testing.T) {
	for _, c := range readTSV(t, "templates.txt", 3, 4) {
		name, src, want := c.fields[0], c.fields[1], c.fields[2]
		t.Run(name, func(t *testing.T) {
			e := loadEvent(t, "event.json")
			if len(c.fields) == 4 {
				ts, ok := strings.CutPrefix(c.fields[3], "ts=")
				if !ok {
					t.Fatalf("%s: fourth field %q; want ts=TIME or ts=none", c.pos, c.fields[3])
				}
				if ts == "none" {
					e.Delete(MustRef(TimestampField))
				} else {
					e.SetTimestamp(mustTime(t, ts))
				}
			}
			tmpl, err := ParseTemplate(src)
			if err != nil {
				t.Fatalf("%s: ParseTemplate(%q): %v", c.pos, src, err)
			}
			if got := tmpl.Render(e); got != want {
				t.Errorf("%s: Render(%q) = %q; want %q", c.pos, src, got, want)
			}
			prefix := []byte("prefix:")
			if got := string(tmpl.RenderAppend(prefix, e)); got != "prefix:"+want {
				t.Errorf("%s: RenderAppend(%q) = %q; want %q", c.pos, src, got, "prefix:"+want)
			}
			if got := tmpl.String(); got != src {
				t.Errorf("%s: String() = %q; want %q", c.pos, got, src)
			}
		})
	}
}

// TestParseTemplateErrorsFile runs testdata/template_errors.txt.
func TestParseTemplateErrorsFile(t *testing.T) {
	for _, c := range readTSV(t, "template_errors.txt", 3, 3) {
		name, src, want := c.fields[0], c.fields[1], c.fields[2]
		t.Run(name, func(t *testing.T) {
			tmpl, err := ParseTemplate(src)
			if err == nil {
				t.Fatalf("%s: ParseTemplate(%q) = %q, nil; want error containing %q", c.pos, src, tmpl.Render(loadEvent(t, "event.json")), want)
			}
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s: ParseTemplate(%q) error = %q; want it to contain %q", c.pos, src, err, want)
			}
			if !strings.Contains(err.Error(), src) {
				t.Errorf("%s: ParseTemplate(%q) error = %q; want it to quote the template", c.pos, src, err)
			}
		})
	}
}

// TestJodaFile runs testdata/joda.txt, whose expectations come from Joda-Time.
func TestJodaFile(t *testing.T) {
	for _, c := range readTSV(t, "joda.txt", 3, 3) {
		pattern, ts, want := c.fields[0], c.fields[1], c.fields[2]
		t.Run(pattern, func(t *testing.T) {
			f, err := ParseJoda(pattern)
			if wantErr, ok := strings.CutPrefix(want, "error: "); ok {
				if err == nil {
					t.Fatalf("%s: ParseJoda(%q) = nil error; want one containing %q", c.pos, pattern, wantErr)
				}
				if !strings.Contains(err.Error(), wantErr) {
					t.Errorf("%s: ParseJoda(%q) error = %q; want it to contain %q", c.pos, pattern, err, wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("%s: ParseJoda(%q): %v", c.pos, pattern, err)
			}
			tm := mustTime(t, ts)
			if got := f.Format(tm); got != want {
				t.Errorf("%s: Format(%q, %s) = %q; want %q", c.pos, pattern, ts, got, want)
			}
			if got := string(f.AppendFormat([]byte("x"), tm)); got != "x"+want {
				t.Errorf("%s: AppendFormat(%q, %s) = %q; want %q", c.pos, pattern, ts, got, "x"+want)
			}
			if f.String() != pattern {
				t.Errorf("String() = %q; want %q", f.String(), pattern)
			}
		})
	}
}

func TestJodaFormatsInLocation(t *testing.T) {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Skipf("no time zone data: %v", err)
	}
	tm := time.Date(2026, 7, 1, 14, 30, 0, 0, paris)
	tests := []struct {
		name, pattern, want string
	}{
		{"clock", "HH:mm", "14:30"},
		{"offset", "Z", "+0200"},
		{"offset colon", "ZZ", "+02:00"},
		{"zone id", "ZZZ", "Europe/Paris"},
		{"zone short", "z", "CEST"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := MustJoda(tc.pattern).Format(tm); got != tc.want {
				t.Errorf("Format(%q) = %q; want %q", tc.pattern, got, tc.want)
			}
		})
	}
	west := time.Date(2026, 7, 1, 14, 30, 0, 0, time.FixedZone("", -(3*3600+30*60)))
	if got := MustJoda("Z ZZ ZZZ z").Format(west); got != "-0330 -03:30 -03:30 -03:30" {
		t.Errorf("Format(fixed -03:30) = %q; want %q", got, "-0330 -03:30 -03:30 -03:30")
	}
}

func TestTemplateIsConstant(t *testing.T) {
	tests := []struct {
		src      string
		constant bool
	}{
		{"", true},
		{"plain", true},
		{"100%", true},
		{"%{unclosed", true},
		{"{braces}", true},
		{"%{message}", false},
		{"a %{+YYYY}", false},
		{"%{+%s}", false},
		{"%{{TIME_NOW}}", false},
		{"%{nope} and %{", false},
	}
	e := New()
	for _, tc := range tests {
		t.Run(tc.src, func(t *testing.T) {
			tmpl := MustTemplate(tc.src)
			if got := tmpl.IsConstant(); got != tc.constant {
				t.Errorf("ParseTemplate(%q).IsConstant() = %v; want %v", tc.src, got, tc.constant)
			}
			if tc.constant {
				if got := tmpl.Render(e); got != tc.src {
					t.Errorf("Render(%q) = %q; want %q", tc.src, got, tc.src)
				}
				if n := testing.AllocsPerRun(100, func() { _ = tmpl.Render(e) }); n != 0 {
					t.Errorf("Render(%q) allocates %v times; want 0", tc.src, n)
				}
			}
		})
	}
}

func TestTemplateZeroValue(t *testing.T) {
	var tmpl Template
	if got := tmpl.Render(New()); got != "" {
		t.Errorf("Template{}.Render = %q; want \"\"", got)
	}
	if !tmpl.IsConstant() {
		t.Error("Template{}.IsConstant() = false; want true")
	}
}

func TestTemplateSingleStringRefDoesNotAllocate(t *testing.T) {
	e := NewMessage("hello")
	tmpl := MustTemplate("%{message}")
	if n := testing.AllocsPerRun(100, func() { _ = tmpl.Render(e) }); n != 0 {
		t.Errorf("Render(%%{message}) allocates %v times; want 0", n)
	}
	buf := make([]byte, 0, 64)
	dated := MustTemplate("logs-%{+YYYY.MM.dd}-%{message}")
	if n := testing.AllocsPerRun(100, func() { buf = dated.RenderAppend(buf[:0], e) }); n != 0 {
		t.Errorf("RenderAppend(date template) allocates %v times; want 0", n)
	}
}

func TestTemplateRef(t *testing.T) {
	tests := []struct {
		src, ref string
		ok       bool
	}{
		{"%{[host][name]}", "[host][name]", true},
		{"%{message}", "message", true},
		{"x%{message}", "", false},
		{"%{+YYYY}", "", false},
		{"plain", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.src, func(t *testing.T) {
			r, ok := MustTemplate(tc.src).Ref()
			if ok != tc.ok || r.String() != tc.ref {
				t.Errorf("ParseTemplate(%q).Ref() = %q, %v; want %q, %v", tc.src, r, ok, tc.ref, tc.ok)
			}
		})
	}
}

func TestTemplateTimeNow(t *testing.T) {
	tmpl := MustTemplate("now=%{{TIME_NOW}}")
	before := time.Now().UTC().Truncate(time.Microsecond)
	got := tmpl.Render(New())
	after := time.Now().UTC()
	s, ok := strings.CutPrefix(got, "now=")
	if !ok || !strings.HasSuffix(s, "Z") {
		t.Fatalf("Render(%q) = %q; want now=<ISO8601 UTC>", tmpl, got)
	}
	tm, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatalf("Render(%q) = %q: %v", tmpl, got, err)
	}
	if tm.Before(before) || tm.After(after) {
		t.Errorf("Render(%q) = %q; want a time between %s and %s", tmpl, got, before, after)
	}
}

func TestMustTemplatePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("MustTemplate(%{[a}) did not panic")
		}
	}()
	MustTemplate("%{[a}")
}

func TestTemplateConcurrentRender(t *testing.T) {
	tmpl := MustTemplate("%{[host][name]}-%{count}-%{+YYYY.MM.dd}-%{obj}")
	e := loadEvent(t, "event.json")
	want := tmpl.Render(e)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 200 {
				if got := tmpl.Render(e); got != want {
					t.Errorf("Render = %q; want %q", got, want)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestRenderValueFallbacks(t *testing.T) {
	// Values written to Fields() directly, bypassing Set's normalisation.
	e := New()
	e.Fields()["ints"] = []int{1, 2}
	e.Fields()["n"] = 7
	e.Fields()["m"] = map[string]string{"k": "v"}
	tests := []struct{ src, want string }{
		{"%{ints}", "1,2"},
		{"%{n}", "7"},
		{"%{m}", `{"k":"v"}`},
	}
	for _, tc := range tests {
		t.Run(tc.src, func(t *testing.T) {
			if got := MustTemplate(tc.src).Render(e); got != tc.want {
				t.Errorf("Render(%q) = %q; want %q", tc.src, got, tc.want)
			}
		})
	}
}

func TestAppendJavaDouble(t *testing.T) {
	// Expectations from Java's Double.toString (JDK 19+).
	tests := []struct {
		f    float64
		want string
	}{
		{1.5, "1.5"}, {3, "3.0"}, {-2.5, "-2.5"}, {100, "100.0"}, {0.1, "0.1"}, {0.3, "0.3"},
		{0.001, "0.001"}, {0.0001, "1.0E-4"}, {9999999, "9999999.0"}, {1e7, "1.0E7"},
		{123456.789, "123456.789"}, {12345678.9, "1.23456789E7"}, {1.234e-5, "1.234E-5"},
		{1e20, "1.0E20"}, {1e21, "1.0E21"}, {1.7976931348623157e308, "1.7976931348623157E308"},
		{5e-324, "4.9E-324"}, {2.0 / 3, "0.6666666666666666"}, {0, "0.0"}, {negZero(), "-0.0"},
	}
	for _, tc := range tests {
		t.Run(tc.want, func(t *testing.T) {
			if got := string(appendJavaDouble(nil, tc.f)); got != tc.want {
				t.Errorf("appendJavaDouble(%v) = %q; want %q", tc.f, got, tc.want)
			}
		})
	}
}

func negZero() float64 {
	z := 0.0
	return -z
}

func BenchmarkTemplateRender(b *testing.B) {
	e := NewMessage("hello world")
	if err := e.Set(MustRef("[host][name]"), "web-1"); err != nil {
		b.Fatal(err)
	}
	cases := []struct{ name, src string }{
		{"constant", "logs-static"},
		{"one_ref", "%{message}"},
		{"nested_ref_in_text", "host=%{[host][name]}!"},
		{"date", "logs-%{+YYYY.MM.dd}"},
		{"mixed", "%{[host][name]}-%{+YYYY.MM.dd'T'HH:mm:ss.SSSZ}-%{missing}"},
	}
	for _, c := range cases {
		tmpl := MustTemplate(c.src)
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = tmpl.Render(e)
			}
		})
	}
	b.Run("append_date", func(b *testing.B) {
		tmpl := MustTemplate("logs-%{+YYYY.MM.dd}")
		buf := make([]byte, 0, 64)
		b.ReportAllocs()
		for b.Loop() {
			buf = tmpl.RenderAppend(buf[:0], e)
		}
	})
}
