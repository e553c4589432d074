// Package atrest encrypts the records the engine keeps on disk (the
// persisted queue's and the dead letter queue's) with AES-256-GCM.
//
// A sealed record is
//
//	key id  8 bytes: the first 8 bytes of SHA-256("pipeline at-rest key" ‖ key)
//	nonce   12 bytes, random
//	ciphertext and the 16-byte GCM tag
//
// Each record gets a fresh random 96-bit nonce from crypto/rand. GCM stays
// safe while no nonce repeats under one key; with random nonces NIST SP
// 800-38D bounds a key to 2^32 messages, which keeps the chance of a repeat
// below 2^-32. A record is a whole batch (up to pipeline.batch.size events),
// so that is 2^32 batches per key: at 10,000 batches a second, 13 years.
// Rotate the key well before (see docs/operations.md). A random nonce needs
// no state kept across crashes, which a counter would (a counter restarted
// from a stale value would repeat nonces).
//
// The caller's additional data binds a record to its place (the queue's
// sequence number, the dead letter queue's segment and offset), so records
// cannot be swapped or replayed within a queue without the tag failing.
//
// The key id identifies the key without revealing it, so that a queue
// written under another key is refused with both ids named instead of being
// taken for damage.
package atrest

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/pipelined/pipeline/engine/childenv"
)

const (
	// KeySize is the size of a key: AES-256.
	KeySize = 32
	// IDSize is the size of a key id.
	IDSize   = 8
	nonceLen = 12
	tagLen   = 16
	// Overhead is what sealing adds to a record.
	Overhead = IDSize + nonceLen + tagLen
	// maxKeyFile bounds what is read of a key file: a key is at most 64
	// hex characters and a newline; anything much larger is not a key.
	maxKeyFile = 4 << 10
	// EnvPrefix, before a variable's name in place of a path, reads the
	// key from the environment.
	EnvPrefix = "env:"
)

// ID is a key id.
type ID [IDSize]byte

func (id ID) String() string { return hex.EncodeToString(id[:]) }

// Key is an AES-256-GCM key and its id.
type Key struct {
	id   ID
	aead cipher.AEAD
}

// ID returns the key's id.
func (k *Key) ID() ID { return k.id }

// NewKey makes a key of 32 bytes.
func NewKey(raw []byte) (*Key, error) {
	if len(raw) != KeySize {
		return nil, fmt.Errorf("a key is %d bytes, not %d", KeySize, len(raw))
	}
	b, err := aes.NewCipher(raw)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(b)
	if err != nil {
		return nil, err
	}
	h := sha256.New()
	h.Write([]byte("pipeline at-rest key"))
	h.Write(raw)
	var id ID
	copy(id[:], h.Sum(nil))
	return &Key{id: id, aead: aead}, nil
}

// LoadKey reads a key from path: a file holding the key as 64 hexadecimal
// characters (openssl rand -hex 32), or as 44 base64 characters (openssl
// rand -base64 32), surrounding white space ignored, or as exactly 32 raw
// bytes (not all printable); or, when path is env:NAME, the environment variable NAME holding
// it as hex or base64. warn, if not nil, is told when the file can be read
// by every user of the machine (the key is still used: a secret mounted by
// a container platform often is).
func LoadKey(path string, warn func(msg string)) (*Key, error) {
	var data []byte
	if name, ok := strings.CutPrefix(path, EnvPrefix); ok {
		childenv.Hide(name) // no process a plugin starts inherits the key
		v, set := os.LookupEnv(name)
		if !set || v == "" {
			return nil, fmt.Errorf("encryption key: the environment variable %s is not set", name)
		}
		k, err := parseText(v)
		if err != nil {
			return nil, fmt.Errorf("encryption key in the environment variable %s: %w", name, err)
		}
		return k, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("encryption key: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("encryption key: %w", err)
	}
	if !fi.Mode().IsRegular() && fi.Mode()&os.ModeNamedPipe == 0 && fi.Mode()&os.ModeCharDevice == 0 {
		return nil, fmt.Errorf("encryption key: %s is not a file", path)
	}
	if fi.Mode().IsRegular() && fi.Mode().Perm()&0o004 != 0 && warn != nil {
		warn(fmt.Sprintf("the encryption key file %s can be read by every user of this machine (mode %v): chmod 600 it", path, fi.Mode().Perm()))
	}
	data, err = io.ReadAll(io.LimitReader(f, maxKeyFile+1))
	if err != nil {
		return nil, fmt.Errorf("encryption key: %w", err)
	}
	if len(data) > maxKeyFile {
		return nil, fmt.Errorf("encryption key: %s is over %d bytes: not a key file", path, maxKeyFile)
	}
	if len(data) == KeySize && !printable(data) {
		// Raw bytes. 32 printable characters are text, a key too short
		// (openssl rand -hex 16): a random key is all printable once in
		// 10^14.
		return NewKey(data)
	}
	k, err := parseText(string(data))
	if err != nil {
		return nil, fmt.Errorf("encryption key file %s: %w", path, err)
	}
	return k, nil
}

func printable(b []byte) bool {
	for _, c := range b {
		if c < 0x20 || c > 0x7e {
			return false
		}
	}
	return true
}

// parseText reads a key written as hex or base64.
func parseText(s string) (*Key, error) {
	s = strings.TrimSpace(s)
	if len(s) == 2*KeySize {
		if raw, err := hex.DecodeString(s); err == nil {
			return NewKey(raw)
		}
	}
	if raw, err := base64.StdEncoding.DecodeString(s); err == nil && len(raw) == KeySize {
		return NewKey(raw)
	}
	return nil, fmt.Errorf("want %d bytes written as %d hexadecimal characters (openssl rand -hex 32), as base64 (openssl rand -base64 32), or raw", KeySize, 2*KeySize)
}

// Keyring is the key new records are sealed with and older keys records
// may still be sealed with (during a rotation).
type Keyring struct {
	cur *Key
	old []*Key
}

// NewKeyring makes a keyring sealing with cur and opening with cur and old.
func NewKeyring(cur *Key, old ...*Key) *Keyring {
	return &Keyring{cur: cur, old: old}
}

// Current returns the key new records are sealed with.
func (r *Keyring) Current() *Key { return r.cur }

// Has tells whether the ring holds the key of id.
func (r *Keyring) Has(id ID) bool { return r.key(id) != nil }

func (r *Keyring) key(id ID) *Key {
	if r == nil {
		return nil
	}
	if r.cur != nil && r.cur.id == id {
		return r.cur
	}
	for _, k := range r.old {
		if k.id == id {
			return k
		}
	}
	return nil
}

// IDs lists the ids of the ring's keys, the current one first.
func (r *Keyring) IDs() string {
	if r == nil || r.cur == nil {
		return "none"
	}
	s := r.cur.id.String()
	for _, k := range r.old {
		s += ", " + k.id.String()
	}
	return s
}

// Seal appends plaintext sealed with the current key, bound to ad, to dst.
func (r *Keyring) Seal(dst, plaintext, ad []byte) []byte {
	k := r.cur
	dst = append(dst, k.id[:]...)
	var nonce [nonceLen]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		panic("atrest: crypto/rand failed: " + err.Error()) // crypto/rand does not fail on supported systems
	}
	dst = append(dst, nonce[:]...)
	return k.aead.Seal(dst, nonce[:], plaintext, ad)
}

// KeyID returns the id of the key a sealed record names; ok is false when
// it is too short to be one.
func KeyID(sealed []byte) (id ID, ok bool) {
	if len(sealed) < Overhead {
		return id, false
	}
	copy(id[:], sealed)
	return id, true
}

// ErrUnknownKey is returned by Open for a record sealed under a key the ring
// does not hold; ErrAuth for a record that fails authentication under the
// key it names (damaged or altered).
var (
	ErrUnknownKey = errors.New("sealed with a key that is not configured")
	ErrAuth       = errors.New("fails authentication (damaged or altered)")
)

// Open appends the plaintext of sealed, checked against ad, to dst.
func (r *Keyring) Open(dst, sealed, ad []byte) ([]byte, error) {
	id, ok := KeyID(sealed)
	if !ok {
		return nil, ErrAuth
	}
	k := r.key(id)
	if k == nil {
		return nil, ErrUnknownKey
	}
	out, err := k.aead.Open(dst, sealed[IDSize:IDSize+nonceLen], sealed[IDSize+nonceLen:], ad)
	if err != nil {
		return nil, ErrAuth
	}
	return out, nil
}

// Load reads the current key from path and the old keys from oldPaths
// (see LoadKey); it returns nil when path is "".
func Load(path string, oldPaths []string, warn func(string)) (*Keyring, error) {
	oldPaths = slices.DeleteFunc(slices.Clone(oldPaths), func(p string) bool { return p == "" })
	if path == "" {
		if len(oldPaths) > 0 {
			return nil, errors.New("an old encryption key is set without a current one")
		}
		return nil, nil
	}
	cur, err := LoadKey(path, warn)
	if err != nil {
		return nil, err
	}
	var old []*Key
	for _, p := range oldPaths {
		k, err := LoadKey(p, warn)
		if err != nil {
			return nil, err
		}
		old = append(old, k)
	}
	return NewKeyring(cur, old...), nil
}
