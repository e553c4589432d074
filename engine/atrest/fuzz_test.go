package atrest

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzOpen: sealed records come back from disk, where anything may have
// happened to them. Any bytes opened under a keyring give the plaintext only
// when they are an intact seal of it with the same associated data, and
// otherwise ErrAuth or ErrUnknownKey, never a panic.
func FuzzOpen(f *testing.F) {
	cur, _ := NewKey(bytes.Repeat([]byte{7}, KeySize))
	old, _ := NewKey(bytes.Repeat([]byte{9}, KeySize))
	ring := NewKeyring(cur, old)
	good := ring.Seal(nil, []byte("audit line"), []byte("seq 1"))
	f.Add(good, []byte("seq 1"))
	f.Add(good[:Overhead], []byte("seq 1"))
	f.Add(good[:Overhead-1], []byte(""))
	f.Add(NewKeyring(old).Seal(nil, []byte("older"), nil), []byte{})
	f.Fuzz(func(t *testing.T, sealed, ad []byte) {
		plain, err := ring.Open(nil, sealed, ad)
		if err != nil {
			if !errors.Is(err, ErrAuth) && !errors.Is(err, ErrUnknownKey) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		if len(sealed) != len(plain)+Overhead {
			t.Fatalf("opened %d bytes from %d sealed", len(plain), len(sealed))
		}
	})
}
