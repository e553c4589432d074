package event

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pipelined/pipeline/engine/internal/tsvtest"
)

// TestTemplateRenderFile runs testdata/templates.txt against testdata/event.json.
func TestTemplateRenderFile(t *testing.T) {
	for _, c := range tsvtest.Read(t, "testdata/templates.txt", 3, 4) {
		name, src, want := c.Fields[0], c.Fields[1], c.Fields[2]
		t.Run(name, func(t *testing.T) {
			e := loadEvent(t, "event.json")
			if len(c.Fields) == 4 {
				ts, ok := strings.CutPrefix(c.Fields[3], "ts=")
				if !ok {
					t.Fatalf("%s: fourth field %q; want ts=TIME or ts=none", c.Pos, c.Fields[3])
				}
				if ts == "none" {
					e.Delete(MustRef(TimestampField))
				} else {
					e.SetTimestamp(mustTime(t, ts))
				}
			}
			tmpl, err := ParseTemplate(src)
			if err != nil {
				t.Fatalf("%s: ParseTemplate(%q): %v", c.Pos, src, err)
			}
			if got := tmpl.Render(e); got != want {
				t.Errorf("%s: Render(%q) = %q; want %q", c.Pos, src, got, want)
			}
			prefix := []byte("prefix:")
			if got := string(tmpl.RenderAppend(prefix, e)); got != "prefix:"+want {
				t.Errorf("%s: RenderAppend(%q) = %q; want %q", c.Pos, src, got, "prefix:"+want)
			}
			if got := tmpl.String(); got != src {
				t.Errorf("%s: String() = %q; want %q", c.Pos, got, src)
			}
		})
	}
}

// TestParseTemplateErrorsFile runs testdata/template_errors.txt.
func TestParseTemplateErrorsFile(t *testing.T) {
	for _, c := range tsvtest.Read(t, "testdata/template_errors.txt", 3, 3) {
		name, src, want := c.Fields[0], c.Fields[1], c.Fields[2]
		t.Run(name, func(t *testing.T) {
			tmpl, err := ParseTemplate(src)
			if err == nil {
				t.Fatalf("%s: ParseTemplate(%q) = %q, nil; want error containing %q", c.Pos, src, tmpl.Render(loadEvent(t, "event.json")), want)
			}
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s: ParseTemplate(%q) error = %q; want it to contain %q", c.Pos, src, err, want)
			}
			if !strings.Contains(err.Error(), src) {
				t.Errorf("%s: ParseTemplate(%q) error = %q; want it to quote the template", c.Pos, src, err)
			}
		})
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
