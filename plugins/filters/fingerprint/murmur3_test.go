package fingerprint

import (
	"encoding/hex"
	"testing"
)

// The golden files add Logstash's own fingerprint spec vectors (seed 0 for
// 32 bits, seed 2 for 128 bits) over inputs of 4, 8, 15, 24, 27 and 30 bytes.

// Reference values of the canonical MurmurHash3 (SMHasher) implementation.
func TestMurmur3x86_32(t *testing.T) {
	for _, tc := range []struct {
		in   string
		seed uint32
		want uint32
	}{
		{"", 0, 0},
		{"", 1, 0x514e28b7},
		{"", 0xffffffff, 0x81f16f39},
		{"\xff\xff\xff\xff", 0, 0x76293b50},
		{"!Ce\x87", 0, 0xf55b516b},
		{"!Ce\x87", 0x5082edee, 0x2362f9de},
		{"!Ce", 0, 0x7e4a8634},
		{"!C", 0, 0xa0f7b07a},
		{"!", 0, 0x72661cf4},
		{"\x00\x00\x00\x00", 0, 0x2362f9de},
		{"\x00\x00\x00", 0, 0x85f0b427},
		{"\x00\x00", 0, 0x30f4c306},
		{"\x00", 0, 0x514e28b7},
		{"Hello, world!", 1234, 0xfaf6cdb3},
		{"The quick brown fox jumps over the lazy dog", 0x9747b28c, 0x2fa826cd},
	} {
		if got := murmur3x86_32([]byte(tc.in), tc.seed); got != tc.want {
			t.Errorf("murmur3_32(%q, %#x) = %#x; want %#x", tc.in, tc.seed, got, tc.want)
		}
	}
}

func TestMurmur3x64_128(t *testing.T) {
	for _, tc := range []struct {
		in   string
		seed uint64
		want string // h1 then h2, little-endian
	}{
		{"", 0, "00000000000000000000000000000000"},
		// mmh3.hash128 gives h1 = 0xcbd8a7b341bd9b02, h2 = 0x5b1e906a48ae1d19
		// for "hello"; the digest is their little-endian bytes.
		{"hello", 0, "029bbd41b3a7d8cb191dae486a901e5b"},
		{"hello, world", 0, "8ebc5e3a62ac2f344d41429607bcdc4c"},
		{"The quick brown fox jumps over the lazy dog", 0, "6c1b07bc7bbc4be347939ac4a93c437a"},
	} {
		got := murmur3x64_128([]byte(tc.in), tc.seed)
		if hex.EncodeToString(got[:]) != tc.want {
			t.Errorf("murmur3_128(%q, %d) = %x; want %s", tc.in, tc.seed, got, tc.want)
		}
	}
}
