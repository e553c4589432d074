package file

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSincedbDamagedLine: a line longer than maxSincedbLineBytes (damage:
// a real line is four numbers, a time and a path) is skipped with a
// warning, as a line that does not parse is, and the lines after it are
// still read: their files are not taken for new ones (read again from the
// start, or from their end, losing what was written while stopped).
func TestSincedbDamagedLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sincedb")
	damaged := "1 2 3 100 1765000000.000000 /var/log/a.log\n" +
		strings.Repeat("\x00", maxSincedbLineBytes+10) + "\n" +
		"4 5 6 200 1765000000.000000 /var/log/b.log\n"
	if err := os.WriteFile(path, []byte(damaged), 0o600); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	db, err := loadSincedb(path, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	for id, want := range map[fileID]int64{{ino: 1, major: 2, minor: 3}: 100, {ino: 4, major: 5, minor: 6}: 200} {
		if pos, ok := db.position(id); !ok || pos != want {
			t.Errorf("%v: position %d, %v; want %d", id, pos, ok, want)
		}
	}
	if !strings.Contains(logs.String(), "line=2") {
		t.Errorf("the damaged line was not logged:\n%s", logs.String())
	}
}

// TestSincedbUnreadable: a sincedb that cannot be read to its end (here a
// directory) fails the input's start rather than starting with part of the
// positions.
func TestSincedbUnreadable(t *testing.T) {
	if _, err := loadSincedb(t.TempDir(), slog.Default()); err == nil {
		t.Fatal("a sincedb that cannot be read was taken for an empty one")
	}
}
