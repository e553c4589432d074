package atrest

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A key reads the same from hex, base64, raw bytes and the environment;
// anything else is refused with what to write; a key file every user can
// read is used, with a warning.
func TestLoadKey(t *testing.T) {
	raw := bytes.Repeat([]byte{0xA5, 0x11}, 16)
	want, _ := NewKey(raw)
	dir := t.TempDir()
	write := func(name string, data []byte, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, mode); err != nil {
			t.Fatal(err)
		}
		os.Chmod(p, mode)
		return p
	}
	t.Setenv("AT_REST_KEY", base64.StdEncoding.EncodeToString(raw))
	for _, path := range []string{
		write("hex", []byte(hex.EncodeToString(raw)+"\n"), 0o600),
		write("b64", []byte(" "+base64.StdEncoding.EncodeToString(raw)+"\n"), 0o600),
		write("raw", raw, 0o600),
		EnvPrefix + "AT_REST_KEY",
	} {
		var warned []string
		k, err := LoadKey(path, func(m string) { warned = append(warned, m) })
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if k.ID() != want.ID() || len(warned) != 0 {
			t.Fatalf("%s: id %s, warnings %v", path, k.ID(), warned)
		}
	}
	var warned []string
	if _, err := LoadKey(write("open", []byte(hex.EncodeToString(raw)), 0o644), func(m string) { warned = append(warned, m) }); err != nil || len(warned) != 1 || !strings.Contains(warned[0], "chmod 600") {
		t.Fatalf("world-readable: %v, %v", err, warned)
	}
	for _, bad := range []string{
		write("short", []byte(hex.EncodeToString(raw[:16])), 0o600),
		write("text", []byte("correct horse battery staple"), 0o600),
		filepath.Join(dir, "missing"),
		EnvPrefix + "AT_REST_UNSET_VARIABLE",
	} {
		k, err := LoadKey(bad, nil)
		if err == nil {
			t.Fatalf("%s: key %s accepted", bad, k.ID())
		}
		if strings.Contains(err.Error(), hex.EncodeToString(raw)) {
			t.Fatalf("the error shows the key: %v", err)
		}
	}
}

// Seal and Open round-trip; another key is ErrUnknownKey, a changed byte
// or other additional data ErrAuth; an old key of the ring opens.
func TestSealOpen(t *testing.T) {
	a, _ := NewKey(bytes.Repeat([]byte{1}, 32))
	b, _ := NewKey(bytes.Repeat([]byte{2}, 32))
	ra := NewKeyring(a)
	s := ra.Seal([]byte("hdr"), []byte("secret payload"), []byte("ad"))
	if !bytes.HasPrefix(s, []byte("hdr")) || bytes.Contains(s, []byte("secret")) || len(s) != 3+len("secret payload")+Overhead {
		t.Fatalf("sealed %q", s)
	}
	s = s[3:]
	if p, err := ra.Open(nil, s, []byte("ad")); err != nil || string(p) != "secret payload" {
		t.Fatalf("Open = %q, %v", p, err)
	}
	if _, err := NewKeyring(b).Open(nil, s, []byte("ad")); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("other key: %v", err)
	}
	if p, err := NewKeyring(b, a).Open(nil, s, []byte("ad")); err != nil || string(p) != "secret payload" {
		t.Fatalf("old key: %q, %v", p, err)
	}
	if _, err := ra.Open(nil, s, []byte("other")); !errors.Is(err, ErrAuth) {
		t.Fatalf("other ad: %v", err)
	}
	s[len(s)-1] ^= 1
	if _, err := ra.Open(nil, s, []byte("ad")); !errors.Is(err, ErrAuth) {
		t.Fatalf("changed byte: %v", err)
	}
}
