package translate

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/plugins/internal/testkit/plugintest"
)

// translateOne runs f on a new event with status and returns its translation.
func translateOne(t *testing.T, f *Filter, status string) any {
	t.Helper()
	e := event.New()
	_ = e.Set(event.MustRef("status"), status)
	if _, err := f.Filter(context.Background(), e, nil); err != nil && !strings.Contains(err.Error(), "not applied") {
		t.Fatalf("Filter: %v", err)
	}
	v, _ := e.Get(event.MustRef("translation"))
	return v
}

// writeDict replaces the file as a careful producer does (a new file renamed
// over the old, so no reader sees it half written), with a modification time
// moved by age, so a short refresh interval sees a change even within one
// clock tick.
func writeDict(t *testing.T, path, content string, age time.Duration) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	mt := time.Now().Add(age)
	if err := os.Chtimes(tmp, mt, mt); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// waitFor filters events until the translation of status is want, bounded
// in time: a reload runs in the background after the event that starts it.
func waitFor(t *testing.T, f *Filter, status string, want any) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if got := translateOne(t, f, status); got == want {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("translation of %q never became %v (is %v)", status, want, translateOne(t, f, status))
}

// spec "refresh_behaviour": merge keeps leftover entries, replace removes them.
func TestRefreshBehaviour(t *testing.T) {
	for _, tc := range []struct {
		behaviour string
		afterDel  any
	}{{"merge", int64(3)}, {"replace", "no match"}} {
		t.Run(tc.behaviour, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "dict.yml")
			writeDict(t, path, "a : 1\nb : 2\nc : 3", -time.Hour)
			f := plugintest.MustNew(t, New, fmt.Sprintf(`
source = "status"
target = "translation"
dictionary_path = %q
refresh_interval = 0.05
fallback = "no match"
refresh_behaviour = %q
`, path, tc.behaviour), engine.Resources{})
			if got := translateOne(t, f, "b"); got != int64(2) {
				t.Fatalf("before: b = %v", got)
			}
			if got := translateOne(t, f, "c"); got != int64(3) {
				t.Fatalf("before: c = %v", got)
			}
			writeDict(t, path, "a : 1\nb : 4", 0)
			waitFor(t, f, "b", int64(4))
			if got := translateOne(t, f, "c"); got != tc.afterDel {
				t.Fatalf("after: c = %v, want %v", got, tc.afterDel)
			}
		})
	}
}

// A file that no longer loads (invalid, missing, over budget) keeps the old
// dictionary; a good file afterwards is picked up again.
func TestBadReloadKeepsDictionary(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "dict.json")
	writeDict(t, path, `{"a": "one"}`, -time.Hour)
	f := plugintest.MustNew(t, New, fmt.Sprintf(`
source = "status"
target = "translation"
dictionary_path = %q
refresh_interval = 0.02
`, path), engine.Resources{})
	writeDict(t, path, `{"a": "broken`, -30*time.Minute)
	waitReloadAttempt(t, f)
	if got := translateOne(t, f, "a"); got != "one" {
		t.Fatalf("after a broken file: %v", got)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	waitReloadAttempt(t, f)
	if got := translateOne(t, f, "a"); got != "one" {
		t.Fatalf("after a removed file: %v", got)
	}
	writeDict(t, path, `{"a": "two"}`, 0)
	waitFor(t, f, "a", "two")
}

// waitReloadAttempt drives events until at least two reload attempts ran.
func waitReloadAttempt(t *testing.T, f *Filter) {
	t.Helper()
	for i := 0; i < 2; i++ {
		start := f.file.next.Load()
		deadline := time.Now().Add(10 * time.Second)
		for f.file.next.Load() == start || f.file.running.Load() {
			if time.Now().After(deadline) {
				t.Fatal("no reload attempt")
			}
			translateOne(t, f, "a")
			time.Sleep(5 * time.Millisecond)
		}
	}
}

// Lookups from many goroutines while the file is rewritten see either the
// old or the new dictionary, never a mix or a torn one (run with -race).
func TestConcurrentReload(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dict.csv")
	writeDict(t, path, "a,old\nb,old\n", -time.Hour)
	f := plugintest.MustNew(t, New, fmt.Sprintf(`
source = "status"
target = "translation"
dictionary_path = %q
refresh_interval = 0.001
refresh_behaviour = "replace"
`, path), engine.Resources{})
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 2000; i++ {
				e := event.New()
				_ = e.Set(event.MustRef("status"), "a")
				_, _ = f.Filter(context.Background(), e, nil)
				v, _ := e.Get(event.MustRef("translation"))
				if v != "old" && v != "new" {
					errs <- fmt.Errorf("translation %v", v)
					return
				}
			}
		}()
	}
	for i := 0; i < 20; i++ {
		content := "a,old\nb,old\n"
		if i%2 == 1 {
			content = "a,new\n"
		}
		writeDict(t, path, content, time.Duration(i)*time.Second)
		time.Sleep(2 * time.Millisecond)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// A dictionary file over the budget is refused at start.
func TestFileBudget(t *testing.T) {
	path := filepath.Join(t.TempDir(), "big.csv")
	fh, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := fh.Truncate(DictionaryFileBudget + 1); err != nil {
		t.Fatal(err)
	}
	fh.Close()
	o := plugintest.NewOptions[Options](t, fmt.Sprintf("source = \"s\"\ndictionary_path = %q", path))
	if _, err := New(o, engine.Resources{}); err == nil || !strings.Contains(err.Error(), "over the budget") {
		t.Fatalf("New = %v, want a budget error", err)
	}
}

// Nested YAML aliases that would expand past the node budget are refused.
func TestYAMLAliasBomb(t *testing.T) {
	defer func(n int) { maxYAMLNodes = n }(maxYAMLNodes)
	maxYAMLNodes = 100_000
	var b strings.Builder
	b.WriteString("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i < 9; i++ {
		fmt.Fprintf(&b, "a%d: &a%d [*a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d]\n", i, i, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1)
	}
	path := filepath.Join(t.TempDir(), "bomb.yml")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	o := plugintest.NewOptions[Options](t, fmt.Sprintf("source = \"s\"\ndictionary_path = %q", path))
	if _, err := New(o, engine.Resources{}); err == nil || !strings.Contains(err.Error(), "expands to more than") {
		t.Fatalf("New = %v, want the node budget error", err)
	}
}
