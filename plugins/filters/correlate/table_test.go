package correlate

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// TestTableAgainstMap: random inserts and removals (with the index growing,
// probe runs shifted back on removal, long keys in the arena and its
// compaction) find exactly what a Go map holds.
func TestTableAgainstMap(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	tb := newTable(2, false)
	ref := map[string]uint32{}
	key := func(n int) string {
		if n%3 == 0 {
			return fmt.Sprint(strings.Repeat("long-", 10), n) // in the arena
		}
		return fmt.Sprint("k", n)
	}
	for op := range 300000 {
		k := key(r.IntN(5000))
		i, ok := tb.lookup([]byte(k))
		want, wantOK := ref[k]
		if ok != wantOK || (ok && i != want) {
			t.Fatalf("op %d: lookup %q = %d %v, want %d %v", op, k, i, ok, want, wantOK)
		}
		switch {
		case !ok:
			i = tb.insert([]byte(k))
			tb.setDesc(i, []byte("desc of "+k))
			ref[k] = i
		case r.IntN(2) == 0:
			if string(tb.key(i)) != k || string(tb.desc(i)) != "desc of "+k {
				t.Fatalf("slot %d holds %q %q", i, tb.key(i), tb.desc(i))
			}
			tb.remove(i)
			delete(ref, k)
		}
		if tb.live != len(ref) {
			t.Fatalf("op %d: %d live, want %d", op, tb.live, len(ref))
		}
	}
	for k, i := range ref {
		if j, ok := tb.lookup([]byte(k)); !ok || j != i || string(tb.key(i)) != k {
			t.Fatalf("%q: %d %v", k, j, ok)
		}
	}
	if tb.garbage > len(tb.arena)/2+1<<16 {
		t.Errorf("arena %d bytes, %d garbage: not compacted", len(tb.arena), tb.garbage)
	}
}
