package dns_test

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/pipelined/pipeline/dsl/ir"
	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/plugins/internal/testkit/plugintest"
)

// server is a DNS server on a loopback UDP port answering from fixed
// records; names under slow. are never answered (the client times out).
type server struct {
	addr    string
	queries atomic.Int64
}

var (
	aRecords   = map[string][4]byte{"host.example.": {192, 0, 2, 10}, "xn--bcher-kva.example.": {192, 0, 2, 11}}
	ptrRecords = map[string]string{"10.2.0.192.in-addr.arpa.": "host.example."}
)

func startServer(t *testing.T) *server {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &server{addr: pc.LocalAddr().String()}
	done := make(chan struct{})
	t.Cleanup(func() { pc.Close(); <-done })
	go func() {
		defer close(done)
		buf := make([]byte, 1500)
		for i := 0; i < 10000; i++ {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			s.queries.Add(1)
			if out := answer(buf[:n]); out != nil {
				_, _ = pc.WriteTo(out, from)
			}
		}
	}()
	return s
}

func answer(q []byte) []byte {
	var p dnsmessage.Parser
	h, err := p.Start(q)
	if err != nil {
		return nil
	}
	qs, err := p.AllQuestions()
	if err != nil || len(qs) != 1 {
		return nil
	}
	qu := qs[0]
	name := strings.ToLower(qu.Name.String())
	if strings.HasSuffix(name, "slow.example.") {
		return nil
	}
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true, RCode: dnsmessage.RCodeSuccess})
	b.EnableCompression()
	rh := dnsmessage.ResourceHeader{Name: qu.Name, Class: dnsmessage.ClassINET, TTL: 60}
	a, hasA := aRecords[name]
	ptr, hasPTR := ptrRecords[name]
	if !hasA && !hasPTR {
		b = dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true, RCode: dnsmessage.RCodeNameError})
	}
	_ = b.StartQuestions()
	_ = b.Question(qu)
	_ = b.StartAnswers()
	switch {
	case qu.Type == dnsmessage.TypeA && hasA:
		_ = b.AResource(rh, dnsmessage.AResource{A: a})
	case qu.Type == dnsmessage.TypePTR && hasPTR:
		_ = b.PTRResource(rh, dnsmessage.PTRResource{PTR: dnsmessage.MustNewName(ptr)})
	}
	out, err := b.Finish()
	if err != nil {
		return nil
	}
	return out
}

func run(t *testing.T, opts string, fields map[string]any) *event.Event {
	t.Helper()
	e := event.New()
	for k, v := range fields {
		_ = e.Set(event.MustRef(k), v)
	}
	out := plugintest.Filter(t, "dns", opts, e)
	if len(out) != 1 {
		t.Fatalf("got %d events", len(out))
	}
	return out[0]
}

func get(e *event.Event, f string) any {
	v, _ := e.Get(event.MustRef(f))
	return v
}

func TestResolveAndReverse(t *testing.T) {
	s := startServer(t)
	ns := fmt.Sprintf("nameserver = [%q]\n", s.addr)
	cases := []struct {
		name, opts string
		in         map[string]any
		field      string
		want       string
		tags       string
	}{
		{"resolve append", `resolve = ["h"]`, map[string]any{"h": "host.example"}, "h", `[host.example 192.0.2.10]`, ""},
		{"resolve replace", "resolve = [\"h\"]\naction = \"replace\"", map[string]any{"h": "host.example"}, "h", `192.0.2.10`, ""},
		{"resolve one-element array append", `resolve = ["h"]`, map[string]any{"h": []any{"host.example"}}, "h", `[host.example 192.0.2.10]`, ""},
		{"resolve one-element array replace", "resolve = [\"h\"]\naction = \"replace\"", map[string]any{"h": []any{"host.example"}}, "h", `[192.0.2.10]`, ""},
		{"idn", "resolve = [\"h\"]\naction = \"replace\"", map[string]any{"h": "bücher.example"}, "h", `192.0.2.11`, ""},
		{"reverse replace", "reverse = [\"ip\"]\naction = \"replace\"", map[string]any{"ip": "192.0.2.10"}, "ip", `host.example`, ""},
		{"reverse not an address", "reverse = [\"ip\"]\naction = \"replace\"\nadd_tag = [\"done\"]", map[string]any{"ip": "nope"}, "ip", `nope`, ""},
		{"not found: no common options", "resolve = [\"h\"]\nadd_tag = [\"done\"]", map[string]any{"h": "missing.example"}, "h", `missing.example`, ""},
		{"found: common options", "resolve = [\"h\"]\naction = \"replace\"\nadd_tag = [\"done\"]", map[string]any{"h": "host.example"}, "h", `192.0.2.10`, "[done]"},
		{"missing field skipped", "resolve = [\"nope\", \"h\"]\naction = \"replace\"", map[string]any{"h": "host.example"}, "h", `192.0.2.10`, ""},
		{"several values stop", "resolve = [\"h\"]\nadd_tag = [\"done\"]", map[string]any{"h": []any{"a", "b"}}, "h", `[a b]`, ""},
		{"timeout tags", "resolve = [\"h\"]\ntimeout = 0.2\nmax_retries = 0", map[string]any{"h": "x.slow.example"}, "h", `x.slow.example`, "[_dnstimeout]"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := run(t, ns+c.opts, c.in)
			if got := fmt.Sprint(get(e, c.field)); got != c.want {
				t.Errorf("%s = %s; want %s", c.field, got, c.want)
			}
			if got := fmt.Sprint(get(e, "tags")); c.tags != "" && got != c.tags || c.tags == "" && get(e, "tags") != nil {
				t.Errorf("tags = %s; want %q", got, c.tags)
			}
		})
	}
}

// The hit cache answers a name again without a query; the failed cache
// skips a name that failed; max_retries retries a timeout.
func TestCachesAndRetries(t *testing.T) {
	s := startServer(t)
	ns := fmt.Sprintf("nameserver = [%q]\naction = \"replace\"\n", s.addr)
	evs := func(n int, v string) []*event.Event {
		out := make([]*event.Event, n)
		for i := range out {
			out[i] = event.New()
			_ = out[i].Set(event.MustRef("h"), v)
		}
		return out
	}
	plugintest.Filter(t, "dns", ns+"resolve = [\"h\"]\nhit_cache_size = 10", evs(5, "host.example")...)
	if q := s.queries.Load(); q != 1 {
		t.Errorf("hit cache: %d queries for 5 events; want 1", q)
	}
	s.queries.Store(0)
	plugintest.Filter(t, "dns", ns+"resolve = [\"h\"]\nfailed_cache_size = 10", evs(5, "missing.example")...)
	// A name not found asks for A then AAAA, once.
	if q := s.queries.Load(); q != 2 {
		t.Errorf("failed cache: %d queries for 5 events; want 2", q)
	}
	s.queries.Store(0)
	start := time.Now()
	out := plugintest.Filter(t, "dns", ns+"resolve = [\"h\"]\ntimeout = 0.2\nmax_retries = 2", evs(1, "a.slow.example")...)
	if q := s.queries.Load(); q < 3 {
		t.Errorf("retries: %d queries; want at least 3 (1 + max_retries)", q)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("took %v", d)
	}
	if !out[0].HasTag("_dnstimeout") {
		t.Error("no _dnstimeout tag")
	}
}

// hostsfile entries answer before DNS; a missing hostsfile is empty.
func TestHostsfile(t *testing.T) {
	s := startServer(t)
	hosts := filepath.Join(t.TempDir(), "hosts")
	if err := os.WriteFile(hosts, []byte("# comment\n198.51.100.7 myhost.local myalias\n192.0.2.10 fromfile.example\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	opts := fmt.Sprintf("nameserver = [%q]\naction = \"replace\"\nhostsfile = [\"/nonexistent/hosts\", %q]\n", s.addr, hosts)
	if got := get(run(t, opts+`resolve = ["h"]`, map[string]any{"h": "myalias"}), "h"); got != "198.51.100.7" {
		t.Errorf("resolve from hostsfile = %v", got)
	}
	if got := get(run(t, opts+`reverse = ["h"]`, map[string]any{"h": "192.0.2.10"}), "h"); got != "fromfile.example" {
		t.Errorf("reverse from hostsfile = %v", got)
	}
	if q := s.queries.Load(); q != 0 {
		t.Errorf("%d DNS queries; want none", q)
	}
}

func TestValidate(t *testing.T) {
	for src, field := range map[string]string{
		`action = "merge"`:           "action",
		`nameserver = ["dns.local"]`: "nameserver",
		`timeout = 0`:                "timeout",
		`resolve = ["[bad"]`:         "resolve",
		`reverse = ["[bad"]`:         "reverse",
		`hit_cache_size = -1`:        "hit_cache_size",
	} {
		diags := plugintest.BuildDiags(t, ir.Filter, "dns", src)
		if !strings.Contains(diags.Error(), fmt.Sprintf("Invalid value for %q", field)) {
			t.Errorf("%s: %v; want an error on %s", src, diags, field)
		}
	}
}
