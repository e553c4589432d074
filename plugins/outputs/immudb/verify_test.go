package immudb

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/pipelined/pipeline/plugins/internal/testkit/immudbtest"
)

// embeddedStore writes n events to a new embedded store, closes it and
// returns its options.
func embeddedStore(t *testing.T, n int, tag string) VerifyOptions {
	t.Helper()
	path := filepath.Join(t.TempDir(), "store")
	out := newOutput(t, map[string]any{"path": path})
	writeAll(t, out, testEvents(t, n, tag), 250)
	if err := out.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	var vo VerifyOptions
	vo.Defaults()
	vo.Path = path
	return vo
}

func mustVerify(t *testing.T, vo VerifyOptions) *Report {
	t.Helper()
	var log bytes.Buffer
	rep, err := Verify(context.Background(), vo, &log)
	if err != nil {
		t.Fatalf("verify: %v\n%s", err, log.String())
	}
	return rep
}

func TestVerifyEmbeddedIntact(t *testing.T) {
	vo := embeddedStore(t, 2000, "intact")
	rep := mustVerify(t, vo)
	if len(rep.Mismatches) > 0 || rep.Rows != 2000 || rep.TrustedTx != 0 {
		t.Fatalf("first run: %+v", rep)
	}
	if rep.FirstTx != 1 || rep.LastTx < 9 {
		t.Fatalf("tx range %d-%d", rep.FirstTx, rep.LastTx)
	}
	if _, err := os.Stat(filepath.Join(vo.StateDir(), "trusted.json")); err != nil {
		t.Fatal(err)
	}
	// Second run: consistency proof from the trusted state.
	rep2 := mustVerify(t, vo)
	if len(rep2.Mismatches) > 0 || rep2.TrustedTx != rep.LastTx {
		t.Fatalf("second run: %+v", rep2)
	}
	// A tx range.
	vo.FromTx, vo.ToTx = 3, 5
	rep3 := mustVerify(t, vo)
	if len(rep3.Mismatches) > 0 || rep3.FirstTx != 3 || rep3.LastTx != 5 || rep3.Rows != 750 {
		t.Fatalf("range run (3 transactions of 250 rows): %+v", rep3)
	}
}

func TestVerifyEmbeddedValueLogAltered(t *testing.T) {
	vo := embeddedStore(t, 2000, "tamper")
	if rep := mustVerify(t, vo); len(rep.Mismatches) > 0 {
		t.Fatalf("intact store: %v", rep.Mismatches)
	}
	// Edit one event's message in the value log files, behind immudb's back.
	victim := testEvents(t, 2000, "tamper")[1234]
	victimKey := Key(AppendPython(nil, victim))
	marker := []byte("tamper audit \\u00e9v\\u00e8nement 1234 ")
	files, _ := filepath.Glob(filepath.Join(vo.Path, "val_0", "*"))
	edited := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if i := bytes.Index(b, marker); i >= 0 {
			b[i+len("tamper audit \\u00e9v\\u00e8nement ")] = '9' // 1234 → 9234
			if err := os.WriteFile(f, b, 0o600); err != nil {
				t.Fatal(err)
			}
			edited++
		}
	}
	if edited != 1 {
		t.Fatalf("found the event in %d of %d value log files", edited, len(files))
	}
	rep := mustVerify(t, vo)
	if len(rep.Mismatches) == 0 {
		t.Fatal("verify passed on an altered store")
	}
	all := strings.Join(rep.Mismatches, "\n")
	if !strings.Contains(all, "row log_key="+victimKey) || !strings.Contains(all, "tx ") {
		t.Fatalf("mismatches do not name the row %s and its tx:\n%s", victimKey, all)
	}
	t.Logf("found:\n%s", all)
}

func TestVerifyEmbeddedForeignRow(t *testing.T) {
	vo := embeddedStore(t, 500, "foreign")
	mustVerify(t, vo)
	// Another client inserts a row whose key is not the hash of its value.
	db, err := openEmbedded(vo.Options, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	forged := strings.Repeat("ab", 32)
	if err := db.exec(context.Background(), insertSQL("logs", 1), map[string]any{"k0": forged, "v0": `{"message": "forged"}`}); err != nil {
		t.Fatal(err)
	}
	_ = db.close()
	rep := mustVerify(t, vo)
	if len(rep.Mismatches) != 1 || !strings.Contains(rep.Mismatches[0], "row log_key="+forged) {
		t.Fatalf("want one mismatch naming %s, got %v", forged, rep.Mismatches)
	}
	if rep.Rows != 501 {
		t.Fatalf("%d rows", rep.Rows)
	}
}

// serverWith300 starts an immudb server, writes 300 events tagged tag to it
// through the output, and returns verify options for it (with a fresh state
// file).
func serverWith300(t *testing.T, tag string) (*immudbtest.Server, *Output, VerifyOptions) {
	t.Helper()
	srv := immudbtest.Start(t)
	out := newOutput(t, map[string]any{"mode": "server", "host": srv.Host, "port": srv.Port})
	writeAll(t, out, testEvents(t, 300, tag), 100)
	var vo VerifyOptions
	vo.Defaults()
	vo.Mode, vo.Host, vo.Port = "server", srv.Host, srv.Port
	vo.State = filepath.Join(t.TempDir(), "state")
	return srv, out, vo
}

func TestVerifyServer(t *testing.T) {
	_, out, vo := serverWith300(t, "srv")
	rep := mustVerify(t, vo)
	if len(rep.Mismatches) > 0 || rep.Rows != 300 || rep.LastTx == 0 {
		t.Fatalf("intact: %+v", rep)
	}
	// The rows of the last transaction only.
	ranged := vo
	ranged.FromTx, ranged.ToTx = rep.LastTx, rep.LastTx
	if r := mustVerify(t, ranged); len(r.Mismatches) > 0 || r.Rows != 100 {
		t.Fatalf("last tx: %+v", r)
	}
	// Another client inserts a row whose key is not the hash of its value.
	forged := strings.Repeat("cd", 32)
	if err := out.db.exec(context.Background(), insertSQL("logs", 1), map[string]any{"k0": forged, "v0": `{"message": "forged"}`}); err != nil {
		t.Fatal(err)
	}
	rep = mustVerify(t, vo)
	if len(rep.Mismatches) != 1 || !strings.Contains(rep.Mismatches[0], "row log_key="+forged) {
		t.Fatalf("want one mismatch naming %s, got %v", forged, rep.Mismatches)
	}
}

// TestVerifyEmbeddedHistoryReplaced: a store rebuilt behind the trusted
// state's back (same path, other history) fails the consistency check, and
// so does one with fewer transactions than the trusted state.
func TestVerifyEmbeddedHistoryReplaced(t *testing.T) {
	vo := embeddedStore(t, 2000, "original")
	first := mustVerify(t, vo)
	if len(first.Mismatches) > 0 {
		t.Fatal(first.Mismatches)
	}

	// Same number of transactions, other content.
	if err := os.RemoveAll(vo.Path); err != nil {
		t.Fatal(err)
	}
	out := newOutput(t, map[string]any{"path": vo.Path})
	writeAll(t, out, testEvents(t, 2000, "forged"), 250)
	_ = out.Close(context.Background())
	rep := mustVerify(t, vo)
	want := fmt.Sprintf("tx %d: its hash differs from the trusted state", first.LastTx)
	if len(rep.Mismatches) == 0 || !strings.Contains(strings.Join(rep.Mismatches, "\n"), want) {
		t.Fatalf("want %q, got %v", want, rep.Mismatches)
	}

	// Fewer transactions.
	if err := os.RemoveAll(vo.Path); err != nil {
		t.Fatal(err)
	}
	out = newOutput(t, map[string]any{"path": vo.Path})
	writeAll(t, out, testEvents(t, 10, "short"), 10)
	_ = out.Close(context.Background())
	rep = mustVerify(t, vo)
	if len(rep.Mismatches) == 0 || !strings.Contains(rep.Mismatches[0], "transactions were removed") {
		t.Fatalf("got %v", rep.Mismatches)
	}
}

func TestVerifyEmbeddedEmptiedStore(t *testing.T) {
	vo := embeddedStore(t, 10, "gone")
	mustVerify(t, vo)
	if err := os.RemoveAll(vo.Path); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(vo.Path, 0o750); err != nil {
		t.Fatal(err)
	}
	rep := mustVerify(t, vo)
	if len(rep.Mismatches) != 1 || !strings.Contains(rep.Mismatches[0], "the store is empty") {
		t.Fatalf("got %v", rep.Mismatches)
	}
}

// TestVerifyServerValueLogAltered: a value edited in the server's files
// while it was stopped fails verify once it runs again.
func TestVerifyServerValueLogAltered(t *testing.T) {
	srv, out, vo := serverWith300(t, "srvtamper")
	if rep := mustVerify(t, vo); len(rep.Mismatches) > 0 {
		t.Fatal(rep.Mismatches)
	}
	_ = out.Close(context.Background())
	srv.Stop()

	marker := []byte("srvtamper audit \\u00e9v\\u00e8nement 123 ")
	files, _ := filepath.Glob(filepath.Join(srv.Dir, DefaultDatabase, "val_0", "*"))
	edited := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if i := bytes.Index(b, marker); i >= 0 {
			b[i+len(marker)-2] = '9' // 123 → 193
			if err := os.WriteFile(f, b, 0o600); err != nil {
				t.Fatal(err)
			}
			edited++
		}
	}
	if edited != 1 {
		t.Fatalf("found the event in %d of %d value log files", edited, len(files))
	}
	srv2 := immudbtest.StartDir(t, srv.Dir, nil)
	vo.Port = srv2.Port
	rep := mustVerify(t, vo)
	if len(rep.Mismatches) == 0 {
		t.Fatal("verify passed on an altered server")
	}
	all := strings.Join(rep.Mismatches, "\n")
	victims := testEvents(t, 300, "srvtamper")
	keys := make([]string, len(victims))
	for i, e := range victims {
		keys[i] = Key(AppendPython(nil, e))
	}
	slices.Sort(keys)
	victim := Key(AppendPython(nil, victims[123]))
	i, _ := slices.BinarySearch(keys, victim)
	before := ""
	if i > 0 {
		before = keys[i-1]
	}
	if !strings.Contains(all, fmt.Sprintf("the row after log_key=%q", before)) || !regexp.MustCompile(`tx \d+: unreadable`).MatchString(all) {
		t.Fatalf("mismatches do not locate the row after %s and its tx:\n%s", before, all)
	}
	t.Logf("found:\n%s", all)
}
