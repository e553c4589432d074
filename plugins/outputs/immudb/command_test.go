package immudb

import (
	"bytes"
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"

	ilogger "github.com/codenotary/immudb/embedded/logger"
	"github.com/codenotary/immudb/embedded/sql"
	"github.com/codenotary/immudb/embedded/store"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
)

// TestVerifyExitCodes: the `verify` command exits 0 on an intact store and 1,
// naming the row, once another writer stored a row whose key is not the
// SHA-256 of its value.
func TestVerifyExitCodes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store")
	var o Options
	o.Defaults()
	o.Path = path
	write := func(evs ...*event.Event) {
		t.Helper()
		out, err := New(o, engine.Resources{})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		if err := out.Connect(ctx); err != nil {
			t.Fatal(err)
		}
		defer out.Close(ctx)
		if err := out.Write(ctx, evs); err != nil {
			t.Fatal(err)
		}
	}
	write(event.NewMessage("one"), event.NewMessage("two"))

	var stdout, stderr bytes.Buffer
	if code := verifyCommand([]string{"--path", path}, &stdout, &stderr); code != 0 {
		t.Fatalf("intact store: exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
	if !strings.Contains(stdout.String(), "rows checked: 2\n") || !strings.Contains(stdout.String(), "verify OK") {
		t.Fatalf("summary:\n%s", stdout.String())
	}

	// Another client inserts a row whose key is not the hash of its value.
	st, err := store.Open(path, store.DefaultOptions().WithMultiIndexing(true).
		WithLogger(ilogger.NewSimpleLoggerWithLevel("immudb", io.Discard, ilogger.LogError)))
	if err != nil {
		t.Fatal(err)
	}
	eng, err := sql.NewEngine(st, sql.DefaultOptions().WithPrefix([]byte{2}))
	if err != nil {
		t.Fatal(err)
	}
	forged := strings.Repeat("0f", 32)
	if _, _, err := eng.Exec(context.Background(), nil, "INSERT INTO logs (log_key, value) VALUES (@k, @v)",
		map[string]any{"k": forged, "v": `{"message": "not mine"}`}); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	stdout.Reset()
	stderr.Reset()
	if code := verifyCommand([]string{"--path", path}, &stdout, &stderr); code != 1 {
		t.Fatalf("forged row: exit %d, want 1\n%s%s", code, stdout.String(), stderr.String())
	}
	for _, want := range []string{"rows checked: 3\n", "mismatches: 1\n", "row log_key=" + forged, "verify FAILED"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, stdout.String())
		}
	}
}
