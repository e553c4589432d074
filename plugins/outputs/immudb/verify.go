package immudb

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/codenotary/immudb/embedded/sql"
	"github.com/codenotary/immudb/embedded/store"
	"github.com/codenotary/immudb/pkg/api/schema"
)

// VerifyOptions says what `pipeline verify` checks.
type VerifyOptions struct {
	// Options are the output's connection options (mode, path or host, port,
	// credentials, database, table).
	Options
	// State is the directory holding the trusted state (trust on first use).
	// Default: path + ".verify-state" in embedded mode, ".immudb-verify" in
	// server mode.
	State string
	// FromTx and ToTx bound the transactions walked and the rows checked:
	// those written by these transactions (0: the first and the last).
	FromTx, ToTx uint64
}

// Report is what Verify found.
type Report struct {
	Rows            int      // rows whose key was recomputed
	FirstTx, LastTx uint64   // the transactions proved
	TrustedTx       uint64   // the trusted state before this run (0: first use)
	Mismatches      []string // each names the row or transaction
}

// StateDir returns the trusted state directory Verify uses for vo.
func (vo VerifyOptions) StateDir() string {
	switch {
	case vo.State != "":
		return vo.State
	case vo.Mode == "server":
		return ".immudb-verify"
	}
	return filepath.Clean(vo.Path) + ".verify-state"
}

// Verify checks an immudb table written by the output: immudb's consistency
// proof from the locally trusted state to the current one, every walked
// transaction's hash chain, the inclusion proof of each entry and its value
// against the hash recorded for it, and that each row's key is the SHA-256 of
// its value. Progress lines go to w. It returns an error only when it could
// not check (store unreadable, server unreachable); what it found is in the
// report. The trusted state advances only when nothing was found.
func Verify(ctx context.Context, vo VerifyOptions, w io.Writer) (*Report, error) {
	if err := vo.Validate(); err != nil {
		return nil, err
	}
	if vo.Mode == "server" {
		return verifyServer(ctx, vo, w)
	}
	return verifyEmbedded(ctx, vo, w)
}

// trustedState is the state file of embedded mode.
type trustedState struct {
	TxID uint64 `json:"tx_id"`
	Alh  string `json:"alh"` // hex of the accumulated linear hash at TxID
}

var hexKeyRE = regexp.MustCompile(`[0-9a-f]{64}`)

// entryName names a store entry: the row, when the key holds a log_key.
func entryName(key []byte) string {
	if k := hexKeyRE.Find(key); k != nil {
		return "row log_key=" + string(k)
	}
	return fmt.Sprintf("entry %x", key)
}

func verifyEmbedded(ctx context.Context, vo VerifyOptions, w io.Writer) (*Report, error) {
	if _, err := os.Stat(vo.Path); err != nil {
		return nil, fmt.Errorf("immudb: embedded store: %w", err)
	}
	st, err := store.Open(vo.Path, storeOptions(vo.Options, slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelWarn}))))
	if err != nil {
		return nil, fmt.Errorf("immudb: open embedded store %s (stop the pipeline using it first): %w", vo.Path, err)
	}
	defer st.Close()
	eng, err := sql.NewEngine(st, sql.DefaultOptions().WithPrefix(sqlPrefix))
	if err != nil {
		return nil, fmt.Errorf("immudb: embedded store %s: %w", vo.Path, err)
	}
	rep := &Report{}
	bad := func(format string, a ...any) {
		rep.Mismatches = append(rep.Mismatches, fmt.Sprintf(format, a...))
	}
	stateFile := filepath.Join(vo.StateDir(), "trusted.json")
	var trusted trustedState
	if b, err := os.ReadFile(stateFile); err == nil {
		if err := json.Unmarshal(b, &trusted); err != nil {
			return nil, fmt.Errorf("immudb: trusted state %s: %w", stateFile, err)
		}
		rep.TrustedTx = trusted.TxID
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	last := st.LastCommittedTxID()
	if last == 0 {
		if trusted.TxID > 0 {
			bad("tx %d: the trusted state is at tx %d but the store is empty: transactions were removed", trusted.TxID, trusted.TxID)
		}
		return rep, nil
	}
	lastHdr, err := st.ReadTxHeader(last, false, false)
	if err != nil {
		return nil, fmt.Errorf("immudb: read tx %d: %w", last, err)
	}

	// Consistency: the current history must extend the trusted one.
	if trusted.TxID > 0 {
		var talh [sha256.Size]byte
		if b, err := hex.DecodeString(trusted.Alh); err != nil || len(b) != sha256.Size {
			return nil, fmt.Errorf("immudb: trusted state %s: bad alh", stateFile)
		} else {
			copy(talh[:], b)
		}
		switch {
		case trusted.TxID > last:
			bad("tx %d: the trusted state is at tx %d but the store ends at tx %d: transactions were removed", last, trusted.TxID, last)
		default:
			thdr, err := st.ReadTxHeader(trusted.TxID, false, false)
			switch {
			case err != nil:
				bad("tx %d: cannot read the trusted transaction: %v", trusted.TxID, err)
			case thdr.Alh() != talh:
				bad("tx %d: its hash differs from the trusted state: history was rewritten", trusted.TxID)
			case trusted.TxID < last:
				proof, err := st.DualProof(thdr, lastHdr)
				if err != nil || !store.VerifyDualProof(proof, trusted.TxID, last, talh, lastHdr.Alh()) {
					bad("tx %d: consistency proof from the trusted tx %d failed (%v)", last, trusted.TxID, err)
				}
			}
		}
	}

	// Every walked transaction: hash chain, entries' inclusion, values.
	from, to := max(vo.FromTx, 1), last
	if vo.ToTx > 0 && vo.ToTx < last {
		to = vo.ToTx
	}
	rep.FirstTx, rep.LastTx = from, to
	var prevAlh [sha256.Size]byte
	if from > 1 {
		h, err := st.ReadTxHeader(from-1, false, false)
		if err != nil {
			return nil, fmt.Errorf("immudb: read tx %d: %w", from-1, err)
		}
		prevAlh = h.Alh()
	}
	tx := store.NewTx(st.MaxTxEntries(), st.MaxKeyLen())
	for id := from; id <= to; id++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err := st.ReadTx(id, false, tx); err != nil {
			bad("tx %d: unreadable or altered: %v", id, err)
			prevAlh = [sha256.Size]byte{}
			continue
		}
		hdr := tx.Header()
		if id > 1 && prevAlh != ([sha256.Size]byte{}) && hdr.PrevAlh != prevAlh {
			bad("tx %d: not chained to tx %d (history was rewritten)", id, id-1)
		}
		prevAlh = hdr.Alh()
		digest, err := hdr.TxEntryDigest()
		if err != nil {
			bad("tx %d: %v", id, err)
			continue
		}
		for _, e := range tx.Entries() {
			if _, err := st.ReadValue(e); err != nil {
				if errors.Is(err, store.ErrExpiredEntry) {
					continue
				}
				bad("tx %d: %s: the stored value does not match the hash recorded in the transaction (value log altered): %v", id, entryName(e.Key()), err)
				continue
			}
			d, err := digest(e)
			if err != nil {
				bad("tx %d: %s: %v", id, entryName(e.Key()), err)
				continue
			}
			if p, err := tx.Proof(e.Key()); err != nil || !store.VerifyInclusion(p, d, hdr.Eh) {
				bad("tx %d: %s: inclusion proof failed", id, entryName(e.Key()))
			}
		}
		if id == to && to == last && hdr.Alh() != lastHdr.Alh() {
			bad("tx %d: hash differs from the store's current state", id)
		}
	}

	// Every row: its key must be the SHA-256 of its value.
	db := &embedded{path: vo.Path, st: st, eng: eng}
	if err := checkKeys(ctx, db, tableSource(vo.Table, vo.FromTx, vo.ToTx), rep, w); err != nil {
		return nil, err
	}
	if len(rep.Mismatches) == 0 {
		if err := os.MkdirAll(vo.StateDir(), 0o750); err != nil {
			return nil, err
		}
		alh := lastHdr.Alh()
		b, _ := json.MarshalIndent(trustedState{TxID: last, Alh: hex.EncodeToString(alh[:])}, "", "  ")
		if err := writeFileAtomic(stateFile, b); err != nil {
			return nil, err
		}
	}
	return rep, nil
}

// tableSource is the FROM clause for the rows written by transactions from
// to to (0: unbounded).
func tableSource(table string, from, to uint64) string {
	src := table
	if from > 0 {
		src += " SINCE TX " + strconv.FormatUint(from, 10)
	}
	if to > 0 {
		src += " UNTIL TX " + strconv.FormatUint(to, 10)
	}
	return src
}

// checkKeys walks the table (source: a FROM clause) in key order and
// recomputes each row's key.
func checkKeys(ctx context.Context, db backend, source string, rep *Report, w io.Writer) error {
	after := ""
	for {
		n, err := db.scan(ctx, source, after, 1000, func(k, v string) error {
			rep.Rows++
			if got := Key([]byte(v)); got != k {
				rep.Mismatches = append(rep.Mismatches, fmt.Sprintf("row log_key=%s: the key is not the SHA-256 of the value (%s)", k, got))
			}
			after = k
			return nil
		})
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			rep.Mismatches = append(rep.Mismatches, fmt.Sprintf("row after log_key=%q: table %s unreadable: %v", after, source, err))
			return nil
		}
		if n < 1000 {
			return nil
		}
		if rep.Rows%100000 == 0 {
			fmt.Fprintf(w, "%d rows checked\n", rep.Rows)
		}
	}
}

func writeFileAtomic(name string, b []byte) error {
	tmp := name + ".tmp"
	if err := os.WriteFile(tmp, b, 0o640); err != nil {
		return err
	}
	return os.Rename(tmp, name)
}

func verifyServer(ctx context.Context, vo VerifyOptions, w io.Writer) (*Report, error) {
	o := vo.Options
	o.CreateDatabase = false
	dir := vo.StateDir()
	// The immudb client keeps the trusted state in dir, one .state-<server
	// uuid> file per server: VerifyRow proves each row against it (trusting
	// the server's state on first use) and advances it.
	firstUse := true
	if ents, err := os.ReadDir(dir); err == nil {
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), ".state-") {
				firstUse = false
			}
		}
	}
	s, err := dialServer(ctx, o, slog.New(slog.DiscardHandler), dir)
	if err != nil {
		return nil, err
	}
	defer s.close()
	rep := &Report{FirstTx: max(vo.FromTx, 1)}
	if firstUse {
		fmt.Fprintf(w, "no trusted state in %s: trusting the server's current state (first use)\n", dir)
	}
	after := ""
	for {
		res, err := s.c.SQLQuery(ctx, "SELECT log_key, value FROM "+tableSource(vo.Table, vo.FromTx, vo.ToTx)+" WHERE log_key > @a ORDER BY log_key LIMIT 1000",
			map[string]any{"a": after}, false)
		if err != nil {
			if s.isConnErr(err) || ctx.Err() != nil {
				return nil, s.wrapConn(err)
			}
			// The server could not read the rows: data altered behind
			// its back fails the value hash check. Name the place.
			if err := s.locateUnreadable(ctx, vo, after, rep); err != nil {
				return nil, err
			}
			break
		}
		cols := make([]string, len(res.Columns))
		for i, c := range res.Columns {
			cols[i] = c.Name
		}
		for _, r := range res.Rows {
			k, v := r.Values[0].GetS(), r.Values[1].GetS()
			after = k
			rep.Rows++
			if got := Key([]byte(v)); got != k {
				rep.Mismatches = append(rep.Mismatches, fmt.Sprintf("row log_key=%s: the key is not the SHA-256 of the value (%s)", k, got))
			}
			row := &schema.Row{Columns: cols, Values: r.Values}
			if err := s.c.VerifyRow(ctx, row, vo.Table, []*schema.SQLValue{{Value: &schema.SQLValue_S{S: k}}}); err != nil {
				if s.isConnErr(err) {
					return nil, s.wrapConn(err)
				}
				rep.Mismatches = append(rep.Mismatches, fmt.Sprintf("row log_key=%s: inclusion or consistency proof failed: %v", k, err))
			}
		}
		if len(res.Rows) < 1000 {
			break
		}
		if rep.Rows%100000 == 0 {
			fmt.Fprintf(w, "%d rows checked\n", rep.Rows)
		}
	}
	cur, err := s.c.CurrentState(ctx)
	if err != nil {
		return nil, s.wrapConn(err)
	}
	rep.LastTx = cur.TxId
	if vo.ToTx > 0 && vo.ToTx < rep.LastTx {
		rep.LastTx = vo.ToTx
	}
	return rep, nil
}

// locateUnreadable runs after a page of rows from after on could not be read:
// it reads the rows one at a time to find the last readable key, then reads
// the transactions with their values to name the altered ones.
func (s *server) locateUnreadable(ctx context.Context, vo VerifyOptions, after string, rep *Report) error {
	bad := func(format string, a ...any) { rep.Mismatches = append(rep.Mismatches, fmt.Sprintf(format, a...)) }
	last := after
	for range 1000 {
		res, err := s.c.SQLQuery(ctx, "SELECT log_key FROM "+tableSource(vo.Table, vo.FromTx, vo.ToTx)+" WHERE log_key > @a ORDER BY log_key LIMIT 1",
			map[string]any{"a": last}, false)
		if err != nil {
			if s.isConnErr(err) {
				return s.wrapConn(err)
			}
			bad("the row after log_key=%q in key order: unreadable: %v", last, err)
			break
		}
		if len(res.Rows) == 0 {
			break
		}
		last = res.Rows[0].Values[0].GetS()
	}
	cur, err := s.c.CurrentState(ctx)
	if err != nil {
		return s.wrapConn(err)
	}
	to := cur.TxId
	if vo.ToTx > 0 && vo.ToTx < to {
		to = vo.ToTx
	}
	spec := &schema.EntriesSpec{
		KvEntriesSpec:  &schema.EntryTypeSpec{Action: schema.EntryTypeAction_EXCLUDE},
		ZEntriesSpec:   &schema.EntryTypeSpec{Action: schema.EntryTypeAction_EXCLUDE},
		SqlEntriesSpec: &schema.EntryTypeSpec{Action: schema.EntryTypeAction_RAW_VALUE},
	}
	for id := max(vo.FromTx, 1); id <= to; id++ {
		_, err := s.c.TxByIDWithSpec(ctx, &schema.TxRequest{Tx: id, EntriesSpec: spec})
		if err != nil {
			if s.isConnErr(err) {
				return s.wrapConn(err)
			}
			bad("tx %d: unreadable (value altered behind the server's back?): %v", id, err)
		}
	}
	return nil
}
