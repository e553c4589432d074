package fingerprint

import (
	"context"
	"regexp"
	"sync"
	"testing"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/plugins/internal/testkit/plugintest"
)

func fingerprintOf(t testing.TB, opts string, e *event.Event) any {
	t.Helper()
	f := plugintest.MustNew(t, New, "ecs_compatibility = \"disabled\"\n"+opts, engine.Resources{})
	if _, err := f.Filter(context.Background(), e, nil); err != nil {
		t.Fatalf("%s: %v", opts, err)
	}
	v, _ := e.Get(event.MustRef("fingerprint"))
	return v
}

// The digest vectors of Logstash's fingerprint_spec.rb for "123.123.123.123",
// with the key "longencryptionkey".
func TestDigestVectors(t *testing.T) {
	const key = "\nkey = \"longencryptionkey\""
	const b64 = "\nbase64encode = true"
	for _, tc := range []struct{ opts, want string }{
		{`method = "SHA1"`, "3a5076c520b4b463f43806896ea0b3978d09dcae"},
		{`method = "SHA1"` + b64, "OlB2xSC0tGP0OAaJbqCzl40J3K4="},
		{`method = "SHA1"` + key, "fdc60acc4773dc5ac569ffb78fcb93c9630797f4"},
		{`method = "SHA1"` + key + b64, "/cYKzEdz3FrFaf+3j8uTyWMHl/Q="},
		{`method = "SHA256"`, "4dabcab210766e35f03e77120e6986d6e6d4752b2a9ff22980b9253d026080d8"},
		{`method = "SHA256"` + key, "345bec3eff242d53b568916c2610b3e393d885d6b96d643f38494fd74bf4a9ca"},
		{`method = "SHA256"` + key + b64, "NFvsPv8kLVO1aJFsJhCz45PYhda5bWQ/OElP10v0qco="},
		{`method = "SHA384"`, "fd605b0a3af3e04ce0d7a0b0d9c48d67a12dab811f60072e6eae84e35d567793ffb68a1807536f11c90874065c2a4392"},
		{`method = "SHA384"` + key, "22d4c0e8c4fbcdc4887d2038fca7650f0e2e0e2457ff41c06eb2a980dded6749561c814fe182aff93e2538d18593947a"},
		{`method = "SHA384"` + key + b64, "ItTA6MT7zcSIfSA4/KdlDw4uDiRX/0HAbrKpgN3tZ0lWHIFP4YKv+T4lONGFk5R6"},
		{`method = "SHA512"`, "5468e2dc64ea92b617782aae884b35af60041ac9e168a283615b6a462c54c13d42fa9542cce9b7d76a8124ac6616818905e3e5dd35d6e519f77c3b517558639a"},
		{`method = "SHA512"` + key, "11c19b326936c08d6c50a3c847d883e5a1362e6a64dd55201a25f2c1ac1b673f7d8bf15b8f112a4978276d573275e3b14166e17246f670c2a539401c5bfdace8"},
		{`method = "SHA512"` + key + b64, "EcGbMmk2wI1sUKPIR9iD5aE2Lmpk3VUgGiXywawbZz99i/FbjxEqSXgnbVcydeOxQWbhckb2cMKlOUAcW/2s6A=="},
		{`method = "MD5"`, "ccdd8d3d940a01b2fb3258c059924c0d"},
		{`method = "MD5"` + key, "9336c879e305c9604a3843fc3e75948f"},
		{`method = "MD5"` + key + b64, "kzbIeeMFyWBKOEP8PnWUjw=="},
		{`method = "MURMUR3_128"`, "41cbc4056eed401d091dfbeabf7ea9e0"},
		{`method = "MURMUR3_128"` + b64, "QcvEBW7tQB0JHfvqv36p4A=="},
	} {
		e := event.NewMessage("123.123.123.123")
		if got := fingerprintOf(t, tc.opts, e); got != tc.want {
			t.Errorf("%q: fingerprint = %v; want %s", tc.opts, got, tc.want)
		}
	}
}

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestUUID(t *testing.T) {
	seen := map[any]bool{}
	for range 100 {
		v := fingerprintOf(t, `method = "UUID"`, event.NewMessage("same"))
		s, ok := v.(string)
		if !ok || !uuidRE.MatchString(s) {
			t.Fatalf("UUID = %#v", v)
		}
		if seen[s] {
			t.Fatalf("UUID %s repeated", s)
		}
		seen[s] = true
	}
}

// IPv6 addresses are masked too, as Ruby's IPAddr#mask does.
func TestIPv6Network(t *testing.T) {
	e := event.NewMessage("2001:db8:abcd::1")
	if got := fingerprintOf(t, "method = \"IPV4_NETWORK\"\nkey = \"16\"", e); got != "2001::" {
		t.Errorf("fingerprint = %v; want 2001::", got)
	}
}

func TestFilterAppends(t *testing.T) {
	f := plugintest.MustNew(t, New, "", engine.Resources{})
	prev, e := event.NewMessage("earlier"), event.NewMessage("m")
	got, err := f.Filter(context.Background(), e, []*event.Event{prev})
	if err != nil || len(got) != 2 || got[0] != prev || got[1] != e {
		t.Errorf("Filter = %v, %v", got, err)
	}
}

// Pooled hashes are safe to share between workers.
func TestConcurrent(t *testing.T) {
	for _, opts := range []string{"", `key = "k"`, `method = "MURMUR3"`, "concatenate_all_fields = true"} {
		f := plugintest.MustNew(t, New, "ecs_compatibility = \"disabled\"\n"+opts, engine.Resources{})
		want := fingerprintOf(t, opts, event.NewMessageAt("x", plugintest.FixedTime))
		var wg sync.WaitGroup
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 200 {
					e := event.NewMessageAt("x", plugintest.FixedTime)
					if _, err := f.Filter(context.Background(), e, nil); err != nil {
						t.Error(err)
						return
					}
					if got, _ := e.Get(event.MustRef("fingerprint")); got != want {
						t.Errorf("%q: got %v; want %v", opts, got, want)
						return
					}
				}
			}()
		}
		wg.Wait()
	}
}

func BenchmarkSHA256(b *testing.B) {
	f := plugintest.MustNew(b, New, `method = "SHA256"`, engine.Resources{})
	e := event.NewMessage("Nov 24 10:00:01 host sshd[42]: Accepted publickey for root from 10.0.0.1 port 22")
	b.ReportAllocs()
	for range b.N {
		if _, err := f.Filter(context.Background(), e, nil); err != nil {
			b.Fatal(err)
		}
	}
}
