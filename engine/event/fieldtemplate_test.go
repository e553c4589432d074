package event

import "testing"

func TestFieldTemplate(t *testing.T) {
	e := NewMessage("m")
	_ = e.Set(MustRef("k"), "x")
	for _, tc := range []struct{ src, want string }{
		{"[a][b]", "[a][b]"},
		{"[a][%{k}]", "[a][x]"},
		{"f-%{k}", "f-x"},
	} {
		f, err := ParseFieldTemplate(tc.src)
		if err != nil {
			t.Fatalf("ParseFieldTemplate(%q): %v", tc.src, err)
		}
		r, err := f.Resolve(e)
		if err != nil || r.String() != tc.want {
			t.Errorf("Resolve(%q) = %v, %v; want %s", tc.src, r, err, tc.want)
		}
	}
	if _, err := ParseFieldTemplate("[a"); err == nil {
		t.Error("ParseFieldTemplate([a) succeeded; want an error at parse time")
	}
	f, _ := ParseFieldTemplate("[%{k}")
	if _, err := f.Resolve(e); err == nil {
		t.Error("Resolve of a template rendering to a bad reference succeeded")
	}
}
