package correlate

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
)

// TestStateKeyCutInACharacter: a key or description cut at its byte budget
// in the middle of a UTF-8 character is stored so that it loads again; the
// state file is not taken for damaged (which would drop every key's
// state), and the key reloaded is the one the rule matches.
func TestStateKeyCutInACharacter(t *testing.T) {
	dir := t.TempDir()
	var logs bytes.Buffer
	set := func(o *Options) {
		o.RuleType, o.Key, o.Window, o.MaxKeys = "PairWithWindow", "%{host}", 3600, 3
		o.Pattern, o.Pattern2 = "^started", "^completed"
		o.StatePath = "s"
	}
	host := "a" + strings.Repeat("é", maxKeyBytes) // cut after one byte of an é
	f := mkAt(t, dir, &logs, set)
	e := event.NewAt(t0)
	_ = e.Set(event.MustRef("message"), "started"+strings.Repeat("é", maxDescBytes))
	_ = e.Set(event.MustRef("host"), host)
	if _, err := f.Filter(context.Background(), e, nil); err != nil && !errors.Is(err, engine.ErrNotApplied) {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	logs.Reset()
	g := mkAt(t, dir, &logs, set)
	// The pair completes after the restart only if the key reloaded is the
	// one the completing event renders.
	e = event.NewAt(t0.Add(time.Second))
	_ = e.Set(event.MustRef("message"), "completed")
	_ = e.Set(event.MustRef("host"), host)
	out, err := g.Filter(context.Background(), e, nil)
	if err != nil && !errors.Is(err, engine.ErrNotApplied) {
		t.Fatal(err)
	}
	if strings.Contains(logs.String(), "damaged") {
		t.Fatalf("state taken for damaged:\n%s", logs.String())
	}
	if len(out) < 2 {
		t.Errorf("no pair alert after the restart (%d events out):\n%s", len(out), logs.String())
	}
	_ = g.Close()
}
