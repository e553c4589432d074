package cidr_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/plugins/filters/cidr"
	"github.com/pipelined/pipeline/plugins/internal/testkit/plugintest"
)

func TestGolden(t *testing.T) { plugintest.RunFilterGolden(t, "cidr") }

// matched reports whether the filter matched an event whose clientip is ip.
func matched(t *testing.T, f *cidr.Filter, ip string) bool {
	t.Helper()
	e := event.New()
	_ = e.Set(event.MustRef("clientip"), ip)
	_, err := f.Filter(context.Background(), e, nil)
	if err != nil && !errors.Is(err, engine.ErrNotApplied) {
		t.Fatal(err)
	}
	return err == nil
}

// The network file is read again once refresh_interval has passed; a reload
// that fails keeps the networks it had.
func TestRefresh(t *testing.T) {
	path := filepath.Join(t.TempDir(), "networks")
	if err := os.WriteFile(path, []byte("10.0.0.0/8\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := cidr.New(cidr.Options{Address: []string{"%{clientip}"}, NetworkPath: path, RefreshInterval: 1, Separator: "\n"}, engine.Resources{})
	if err != nil {
		t.Fatal(err)
	}
	if !matched(t, f, "10.1.1.1") || matched(t, f, "192.168.1.1") {
		t.Fatal("first load: want 10.0.0.0/8 only")
	}
	if err := os.WriteFile(path, []byte("192.168.0.0/16\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if matched(t, f, "192.168.1.1") {
		t.Fatal("reloaded before refresh_interval")
	}
	time.Sleep(1100 * time.Millisecond)
	if matched(t, f, "10.1.1.1") || !matched(t, f, "192.168.1.1") {
		t.Fatal("after refresh_interval: want 192.168.0.0/16 only")
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond)
	if !matched(t, f, "192.168.1.1") {
		t.Fatal("a failed reload dropped the networks")
	}
}

func TestParseIPAddr(t *testing.T) {
	for in, want := range map[string]string{
		"192.168.1.5/24":         "192.168.1.0/24",
		"10.0.0.0/255.0.0.0":     "10.0.0.0/8",
		"1.2.3.4":                "1.2.3.4/32",
		"[::1]":                  "::1/128",
		"fe80::1%eth0":           "fe80::1/128",
		"2001:db8::/32":          "2001:db8::/32",
		"fe80:0:0:0:0:0:0:1":     "fe80::1/128",
		"10.0.0.0/255.0.255.0":   "",
		"10.0.0.1/33":            "",
		"010.0.0.1":              "",
		"192.168.1":              "",
		" 1.2.3.4":               "",
		"1.2.3.4/":               "",
		"2001:db8::/255.255.0.0": "",
		"10.0.0.0/-1":            "",
		"invalid":                "",
	} {
		p, ok := cidr.ParseIPAddr(in)
		got := ""
		if ok {
			got = p.String()
		}
		if got != want {
			t.Errorf("ParseIPAddr(%q) = %q, want %q", in, got, want)
		}
	}
}
