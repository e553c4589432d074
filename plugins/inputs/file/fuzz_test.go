package file

import "testing"

// FuzzSincedbLine: any line of a damaged sincedb is read or refused, never a
// panic; what is read gives a position that is not negative.
func FuzzSincedbLine(f *testing.F) {
	f.Add("1234 0 2049 512 1700000000.5 /var/log/app.log")
	f.Add("1 2 3 4")
	f.Add("x y z")
	f.Add("18446744073709551615 0 0 18446744073709551615 1e400 /p a t h")
	f.Fuzz(func(t *testing.T, line string) {
		if _, e, ok := parseDBLine(line); ok && e.pos < 0 {
			t.Fatalf("negative position %d from %q", e.pos, line)
		}
	})
}
