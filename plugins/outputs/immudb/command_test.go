package immudb

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	ilogger "github.com/codenotary/immudb/embedded/logger"
	"github.com/codenotary/immudb/embedded/sql"
	"github.com/codenotary/immudb/embedded/store"

	"github.com/pipelined/pipeline/dsl"
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
	if code := verifyCommand([]string{"--path", path}, engine.CommandEnv{Stdout: &stdout, Stderr: &stderr}); code != 0 {
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
	if code := verifyCommand([]string{"--path", path}, engine.CommandEnv{Stdout: &stdout, Stderr: &stderr}); code != 1 {
		t.Fatalf("forged row: exit %d, want 1\n%s%s", code, stdout.String(), stderr.String())
	}
	for _, want := range []string{"rows checked: 3\n", "mismatches: 1\n", "row log_key=" + forged, "verify FAILED"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, stdout.String())
		}
	}
}

// TestVerifyFromConfig: `verify -f CONFIG [--id ID]` reads the store's
// settings from the pipeline's immudb output; --id picks one of several;
// a flag given as well overrides the file.
func TestVerifyFromConfig(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "store")
	var o Options
	o.Defaults()
	o.Path, o.Table = path, "audit"
	out, err := New(o, engine.Resources{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := out.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	if err := out.Write(ctx, []*event.Event{event.NewMessage("one"), event.NewMessage("two")}); err != nil {
		t.Fatal(err)
	}
	out.Close(ctx)

	conf := filepath.Join(dir, "pipeline.conf")
	os.WriteFile(conf, []byte(`input { stdin {} }
output {
  if [type] == "audit" {
    immudb { id => "audit_store" path => "`+path+`" table => "audit" codec => json }
  } else {
    immudb { id => "other" path => "`+filepath.Join(dir, "other")+`" }
  }
}
`), 0o600)
	verify := func(args ...string) (int, string) {
		var stdout, stderr bytes.Buffer
		code := verifyCommand(args, engine.CommandEnv{Stdout: &stdout, Stderr: &stderr, LoadConfig: dsl.Loader{}.Load})
		return code, stdout.String() + stderr.String()
	}
	if code, out := verify("-f", conf, "--id", "audit_store"); code != 0 || !strings.Contains(out, "rows checked: 2\n") || !strings.Contains(out, ", table audit\n") {
		t.Fatalf("-f --id audit_store: exit %d\n%s", code, out)
	}
	if code, out := verify("-f", conf); code != engine.ExitUsage || !strings.Contains(out, "choose one with --id: audit_store, other") {
		t.Fatalf("two immudb outputs, no --id: exit %d\n%s", code, out)
	}
	if code, out := verify("-f", conf, "--id", "nope"); code != engine.ExitConfig || !strings.Contains(out, `no immudb output with id "nope"`) {
		t.Fatalf("unknown id: exit %d\n%s", code, out)
	}
	// The flag wins over the file: the table "logs" holds nothing.
	if code, out := verify("-f", conf, "--id", "audit_store", "--table", "logs"); code == 0 && strings.Contains(out, "rows checked: 2\n") {
		t.Fatalf("--table did not override the file: exit %d\n%s", code, out)
	}
	if code, out := verify("--id", "audit_store"); code != engine.ExitUsage {
		t.Fatalf("--id without -f: exit %d\n%s", code, out)
	}
}
