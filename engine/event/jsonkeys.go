package event

// The JSON encoder's table of known keys. Sorting an object's keys and
// quoting them was a third of encoding a flat event (W5: 8 % and 6 % of the
// process's CPU). Nearly every key a pipeline writes is the same string
// object on every event: the key segment of a compiled field reference
// (MustRef, a filter's Ref), a constant such as "@timestamp", or a key the
// JSON decoder interns. The table maps such a key, by the address and length
// of its bytes, to its rank among the table's keys in byte order and to its
// quoted form ("key":), so that an object whose keys are all in the table is
// written in rank order with no comparison and no escaping.
//
// Identity is safe: the table holds the strings it knows, so their bytes are
// never freed and reused for another string, and Go strings are immutable;
// a key at another address with the same bytes is simply not found.
//
// Learning: a key is added once it has been missed in two objects (a key
// allocated per event, as a decoder's, is never seen twice at one address),
// at most maxTableKeys keys; the candidates are bounded too, and once either
// bound is reached the table is frozen and objects with other keys take the
// general path (sortKVs) as before. The table is immutable once published
// (atomic pointer); learning takes a mutex, only on a miss while not frozen.

import (
	"math/bits"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"
)

const (
	maxTableKeys  = 64  // ranks fit a 64-bit set
	maxCandidates = 512 // keys missed once, waiting for a second miss
	keyTableSlots = 128 // open addressing, at most half full
	keyTableShift = 64 - 7
	keyHashFactor = 0x9E3779B97F4A7C15
)

type keyEntry struct {
	s      string // keeps the key's bytes alive: its address is its identity
	quoted string // `"key":`
}

// keyTable's entries are sorted by key: an entry's index is its rank.
type keyTable struct {
	entries []keyEntry
	slots   [keyTableSlots]uint8 // index+1 into entries; 0: empty
}

func keyHash(s string) int {
	return int((uint64(uintptr(unsafe.Pointer(unsafe.StringData(s))))^uint64(len(s))<<48)*keyHashFactor>>keyTableShift) & (keyTableSlots - 1)
}

// find returns the rank of the key at s's address, or -1.
func (t *keyTable) find(s string) int {
	if len(s) == 0 {
		return -1
	}
	p := unsafe.StringData(s)
	for i := keyHash(s); ; i = (i + 1) & (keyTableSlots - 1) {
		j := int(t.slots[i]) - 1
		if j < 0 {
			return -1
		}
		if e := &t.entries[j]; unsafe.StringData(e.s) == p && len(e.s) == len(s) {
			return j
		}
	}
}

var (
	keys      atomic.Pointer[keyTable]
	keysFroze atomic.Bool
	keysMu    sync.Mutex
	// keysSeen counts the objects each missed key was missed in (by
	// address), under keysMu.
	keysSeen = map[keyID]int{}
)

// keyID is a key's address and length. The address is a number, not a
// pointer: a candidate must not keep its key's bytes alive (a decoded key
// shares its document's arena, or is a substring of a whole Redis element,
// and up to maxCandidates of them would stay in memory until the table
// froze). Were the bytes freed and the address reused by another key, that
// key would be taken for the candidate: it is then learned one miss early,
// and the table holds it, the string itself, so the identity stays exact.
type keyID struct {
	p uintptr
	n int
}

// appendKnownObject writes kvs (a map's entries, in any order) as a JSON
// object when every key is in the table, and reports whether it did.
func appendKnownObject(dst []byte, kvs []jsonKV) ([]byte, bool) {
	t := keys.Load()
	if t == nil || len(kvs) > maxTableKeys {
		return dst, false
	}
	// One object holds distinct keys, so distinct ranks: a set of ranks,
	// read in increasing order, is the sorted order.
	var set uint64
	var at [maxTableKeys]uint8 // rank -> index in kvs
	for i := range kvs {
		r := t.find(kvs[i].k)
		if r < 0 {
			return dst, false
		}
		set |= 1 << r
		at[r] = uint8(i)
	}
	dst = append(dst, '{')
	for first := true; set != 0; first = false {
		r := bits.TrailingZeros64(set)
		set &= set - 1
		if !first {
			dst = append(dst, ',')
		}
		dst = append(dst, t.entries[r].quoted...)
		dst = AppendJSONValue(dst, kvs[at[r]].v)
	}
	return append(dst, '}'), true
}

// learnKeys notes the keys of an object that took the general path, and
// publishes a new table when some were missed twice.
func learnKeys(kvs []jsonKV) {
	if keysFroze.Load() {
		return
	}
	keysMu.Lock()
	defer keysMu.Unlock()
	t := keys.Load()
	var add []string
	for _, kv := range kvs {
		if kv.k == "" || t != nil && t.find(kv.k) >= 0 {
			continue
		}
		id := keyID{uintptr(unsafe.Pointer(unsafe.StringData(kv.k))), len(kv.k)}
		n := keysSeen[id] + 1
		if n >= 2 {
			add = append(add, kv.k)
			delete(keysSeen, id)
			continue
		}
		if len(keysSeen) >= maxCandidates {
			keysFroze.Store(true)
			clear(keysSeen)
			return
		}
		keysSeen[id] = n
	}
	if len(add) == 0 {
		return
	}
	var old []string
	if t != nil {
		for _, e := range t.entries {
			old = append(old, e.s)
		}
	}
	if len(old)+len(add) > maxTableKeys {
		keysFroze.Store(true)
		clear(keysSeen)
		return
	}
	keys.Store(newKeyTable(append(old, add...)))
}

// newKeyTable builds the table of the given keys (distinct addresses).
func newKeyTable(ks []string) *keyTable {
	slices.SortStableFunc(ks, strings.Compare)
	t := &keyTable{entries: make([]keyEntry, len(ks))}
	for i, k := range ks {
		// Keys with the same bytes at different addresses get adjacent
		// ranks: one object cannot hold both.
		q := jsonAppendString(make([]byte, 0, len(k)+3), k)
		t.entries[i] = keyEntry{s: k, quoted: string(append(q, ':'))}
		h := keyHash(k)
		for t.slots[h] != 0 {
			h = (h + 1) & (keyTableSlots - 1)
		}
		t.slots[h] = uint8(i + 1)
	}
	return t
}
