package uuid_test

import (
	"regexp"
	"testing"

	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/plugins/internal/testkit/plugintest"
)

func TestGolden(t *testing.T) { plugintest.RunFilterGolden(t, "uuid") }

var v4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func ev(t *testing.T, js string) *event.Event {
	t.Helper()
	e, err := event.FromJSON([]byte(js))
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// The spec's "should generate an uuid field" and "with overwrite", through the
// engine: a missing or null target gets a version 4 UUID, an existing one is
// replaced only with overwrite; every event gets its own.
func TestGeneration(t *testing.T) {
	ref := event.MustRef("[target]")
	out := plugintest.Filter(t, "uuid", `target = "target"
add_tag = ["uuid"]`, ev(t, `{"name":"foo"}`), ev(t, `{"target":null}`), ev(t, `{"target":"foo"}`))
	seen := map[string]bool{}
	for i, e := range out[:2] {
		s, _ := e.GetString(ref)
		if !v4.MatchString(s) || seen[s] {
			t.Errorf("event %d: target %q: want a new version 4 UUID", i, s)
		}
		seen[s] = true
		if !e.HasTag("uuid") {
			t.Errorf("event %d: no common options", i)
		}
	}
	if s, _ := out[2].GetString(ref); s != "foo" {
		t.Errorf("existing target = %q, want foo kept", s)
	}

	out = plugintest.Filter(t, "uuid", `target = "[a][id]"
overwrite = true`, ev(t, `{"a":{"id":"foo"}}`))
	if s, _ := out[0].GetString(event.MustRef("[a][id]")); !v4.MatchString(s) {
		t.Errorf("with overwrite: target %q, want a UUID", s)
	}
}
