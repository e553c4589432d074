package correlate

import (
	"bytes"
	"hash/maphash"
	"math"
	"sync"
)

// keyIndex holds the keys of the rules of a pipeline that share a key
// template (rules keyed alike, as "%{[user][name]}-%{[source][ip]}", see
// the same keys): each key has one id, and each rule keeps its state for
// the key at that id in its own flat table. An event's key is found once
// in memory that the rules share, so the rules after the first find it in
// the cache instead of each probing a table of its own (the cost that
// dominated with 100,000 keys). An id lives while a rule holds the key
// (refs); ids are reused after. The index is pointer-free, as the tables.
//
// Lock order: a rule's mutex, then the index's; the index calls no rule.
type keyIndex struct {
	mu      sync.Mutex
	seed    maphash.Seed
	idx     []uint32 // open addressing, linear probing: tag<<24 | id+1 (entry); 0 empty
	keys    []keyEntry
	free    []uint32
	arena   []byte // keys longer than inlineKey
	garbage int    // arena bytes no longer referenced
	live    int
	// budget is what the rules sharing the index may hold together (the
	// sum of their max_keys); a rule past maxSlots gets an index of its own.
	budget int
}

// keyEntry is one key: 64 bytes, one cache line.
type keyEntry struct {
	hash           uint64
	keyOff, keyLen uint32 // key bytes in the arena, or in inl when short
	refs           uint32 // rules holding the key
	inl            [inlineKey]byte
}

// inlineKey is the longest key kept in its entry rather than in the arena
// (one cache miss less per lookup).
const inlineKey = 44

// maxSlots is how many ids an index entry can name (24 bits).
const maxSlots = 1<<24 - 2

func newKeyIndex() *keyIndex {
	return &keyIndex{seed: maphash.MakeSeed(), idx: make([]uint32, 1024)}
}

// keyOf is id's key. ix.mu is held.
func (ix *keyIndex) keyOf(id uint32) []byte {
	k := &ix.keys[id]
	if k.keyLen <= inlineKey {
		return k.inl[:k.keyLen]
	}
	return ix.arena[k.keyOff : k.keyOff+k.keyLen]
}

// keyString is id's key, copied.
func (ix *keyIndex) keyString(id uint32) string {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	return string(ix.keyOf(id))
}

// home is where hash h's probe sequence starts.
func (ix *keyIndex) home(h uint64) int { return int(h) & (len(ix.idx) - 1) }

// entry is the index entry of id of hash h: the hash's top 8 bits (most
// probes of other keys are told apart without reading their entry) and
// id+1.
func entry(h uint64, id uint32) uint32 { return uint32(h>>56)<<24 | (id + 1) }

// entID is the id an index entry names.
func entID(e uint32) uint32 { return e&(1<<24-1) - 1 }

// find is the index position holding key (hash h), or the empty position
// where it would go. ix.mu is held.
func (ix *keyIndex) find(h uint64, key []byte) (int, bool) {
	mask := len(ix.idx) - 1
	tag := uint32(h>>56) << 24
	for p := ix.home(h); ; p = (p + 1) & mask {
		e := ix.idx[p]
		if e == 0 {
			return p, false
		}
		if e&^(1<<24-1) == tag {
			id := entID(e)
			if k := &ix.keys[id]; k.hash == h && bytes.Equal(ix.keyOf(id), key) {
				return p, true
			}
		}
	}
}

// cut is key within its budget.
func cut(key []byte) []byte {
	if len(key) > maxKeyBytes {
		return key[:maxKeyBytes]
	}
	return key
}

// hkey is a key as rendered and the hash of its part within the budget.
type hkey struct {
	b []byte
	h uint64
}

// hkey hashes key.
func (ix *keyIndex) hkey(key []byte) hkey { return hkey{key, maphash.Bytes(ix.seed, cut(key))} }

// lookup finds key's id (held by some rule or not).
func (ix *keyIndex) lookup(k hkey) (uint32, bool) {
	key, h := cut(k.b), k.h
	ix.mu.Lock()
	p, ok := ix.find(h, key)
	id := none
	if ok {
		id = entID(ix.idx[p])
	}
	ix.mu.Unlock()
	return id, ok
}

// acquire returns key's id, made if new, with one more reference.
func (ix *keyIndex) acquire(k hkey) uint32 {
	key, h := cut(k.b), k.h
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if p, ok := ix.find(h, key); ok {
		id := entID(ix.idx[p])
		ix.keys[id].refs++
		return id
	}
	var id uint32
	if n := len(ix.free); n > 0 {
		id = ix.free[n-1]
		ix.free = ix.free[:n-1]
	} else {
		id = uint32(len(ix.keys))
		ix.keys = extend(ix.keys, len(ix.keys)+1)
	}
	if len(key) > inlineKey {
		ix.compactFor(len(key))
	}
	e := &ix.keys[id]
	*e = keyEntry{hash: h, keyLen: uint32(len(key)), refs: 1}
	if len(key) <= inlineKey {
		copy(e.inl[:], key)
	} else {
		e.keyOff = uint32(len(ix.arena))
		ix.arena = appendBytes(ix.arena, key)
	}
	if 2*(ix.live+1) > len(ix.idx) {
		ix.grow()
	}
	p, _ := ix.find(h, key)
	ix.idx[p] = entry(h, id)
	ix.live++
	return id
}

// release drops one reference to id; the last forgets the key.
func (ix *keyIndex) release(id uint32) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	k := &ix.keys[id]
	if k.refs--; k.refs > 0 {
		return
	}
	if p, ok := ix.find(k.hash, ix.keyOf(id)); ok {
		ix.unindex(p)
	}
	if k.keyLen > inlineKey {
		ix.garbage += int(k.keyLen)
	}
	*k = keyEntry{}
	ix.free = append(ix.free, id)
	ix.live--
}

// grow doubles the index. ix.mu is held.
func (ix *keyIndex) grow() {
	old := ix.idx
	ix.idx = make([]uint32, 2*len(old))
	mask := len(ix.idx) - 1
	for _, e := range old {
		if e == 0 {
			continue
		}
		p := ix.home(ix.keys[entID(e)].hash)
		for ix.idx[p] != 0 {
			p = (p + 1) & mask
		}
		ix.idx[p] = e
	}
}

// unindex empties position p, moving later entries of the probe run back
// (deletion without tombstones). ix.mu is held.
func (ix *keyIndex) unindex(p int) {
	mask := len(ix.idx) - 1
	for q := (p + 1) & mask; ix.idx[q] != 0; q = (q + 1) & mask {
		h := ix.home(ix.keys[entID(ix.idx[q])].hash)
		// The entry at q may move to p when its home is not in (p, q].
		if (q > p && (h <= p || h > q)) || (q < p && (h <= p && h > q)) {
			ix.idx[p] = ix.idx[q]
			p = q
		}
	}
	ix.idx[p] = 0
}

// compactFor makes room for n more arena bytes: when more than half of the
// arena is garbage (or offsets would overflow), the live keys are copied
// to a new arena. ix.mu is held.
func (ix *keyIndex) compactFor(n int) {
	if !(ix.garbage > 1<<16 && ix.garbage > len(ix.arena)/2) && len(ix.arena)+n < math.MaxUint32 {
		return
	}
	arena := make([]byte, 0, len(ix.arena)-ix.garbage+n)
	for id := range ix.keys {
		k := &ix.keys[id]
		if k.refs == 0 || k.keyLen <= inlineKey {
			continue
		}
		b := ix.arena[k.keyOff : k.keyOff+k.keyLen]
		k.keyOff = uint32(len(arena))
		arena = append(arena, b...)
	}
	ix.arena, ix.garbage = arena, 0
}
