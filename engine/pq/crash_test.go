package pq

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pipelined/pipeline/engine/atrest"
)

// The SIGKILL test: a child process appends records of several entries
// (batch records) and a reader reads and acknowledges them, each printing
// what returned; the parent kills it with SIGKILL at a random point, reopens
// the queue and checks it against what the child reported, then starts the
// next round on the same directory (the child first reads what the last one
// left). After any kill:
//   - every record whose AppendN returned is there, unless its AckN returned;
//     or it was being acknowledged when the kill came;
//   - no record whose AckN returned is read again (the at-least-once
//     duplicates are only those acknowledged when the kill came, unreported);
//   - each record comes back whole, with its entry count, and Len counts
//     the entries of the records left, not the records.
const (
	crashDirEnv  = "PQ_CRASH_DIR"
	crashBaseEnv = "PQ_CRASH_BASE"
	crashSyncEnv = "PQ_CRASH_SYNC"
	crashKeyEnv  = "PQ_CRASH_KEY" // set: the queue is encrypted under this key (hex)
)

// crashKeyHex is the key of the encrypted rounds.
const crashKeyHex = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

// crashKeys returns the keyring of a round: the first rounds write an
// unencrypted queue, the later ones encrypt (the queue then holds both).
func crashKeys(t *testing.T, encrypted bool) *atrest.Keyring {
	if !encrypted {
		return nil
	}
	t.Setenv("PQ_TEST_KEY", crashKeyHex)
	k, err := atrest.LoadKey(atrest.EnvPrefix+"PQ_TEST_KEY", nil)
	if err != nil {
		t.Fatal(err)
	}
	return atrest.NewKeyring(k)
}

func crashEntries(id int) uint32 { return uint32(1 + id%5) }

// TestSIGKILLChild is the child's side; it does nothing in a normal run.
func TestSIGKILLChild(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("the child of TestSIGKILLKeepsAppendedAndAcked")
	}
	base, _ := strconv.Atoi(os.Getenv(crashBaseEnv))
	q, err := Open(Options{Dir: dir, SegmentBytes: 8 << 10, Sync: os.Getenv(crashSyncEnv) == "1",
		Keys: crashKeys(t, os.Getenv(crashKeyEnv) != "")})
	if err != nil {
		fmt.Println("E", err)
		os.Exit(2)
	}
	var mu sync.Mutex
	say := func(s string) {
		mu.Lock()
		_, _ = os.Stdout.WriteString(s + "\n")
		mu.Unlock()
	}
	ctx := context.Background()
	go func() {
		for range 1_000_000 {
			rs, err := q.Read(ctx, 20)
			if err != nil {
				say("E " + err.Error())
				return
			}
			var entries, bytes int64
			ids := make([]string, len(rs))
			seqs := make([]uint64, len(rs))
			for i, r := range rs {
				entries += int64(r.N)
				bytes += int64(len(r.Data))
				ids[i] = string(r.Data)
				seqs[i] = r.Seq
			}
			// Between this line and the next the acknowledgement is in
			// flight: a kill then may or may not have it written.
			say("R " + strings.Join(ids, " "))
			if err := q.AckN(seqs, entries, bytes); err != nil {
				say("E " + err.Error())
				return
			}
			say("K " + strings.Join(ids, " "))
		}
	}()
	id := base
	for range 1_000_000 {
		n := 1 + id%3
		recs := make([][]byte, n)
		counts := make([]uint32, n)
		line := "A"
		for i := range recs {
			recs[i] = strconv.AppendInt(nil, int64(id), 10)
			counts[i] = crashEntries(id)
			line += " " + string(recs[i])
			id++
		}
		if err := q.AppendN(ctx, recs, counts); err != nil {
			say("E " + err.Error())
			os.Exit(2)
		}
		say(line)
	}
	os.Exit(0)
}

func TestSIGKILLKeepsAppendedAndAcked(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	dir := t.TempDir()
	appended := map[int]bool{} // AppendN returned
	acked := map[int]bool{}    // AckN returned
	var inFlight []int         // read, AckN called and not reported
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	for round := range 6 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestSIGKILLChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashDirEnv+"="+dir, crashBaseEnv+"="+strconv.Itoa(round*10_000_000),
			crashSyncEnv+"="+strconv.Itoa(round%2))
		if round >= 3 {
			cmd.Env = append(cmd.Env, crashKeyEnv+"=1")
		}
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		killAfter := 100 + rng.IntN(3000) // reported operations
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		seen, killed := 0, false
		deadline := time.AfterFunc(60*time.Second, func() { _ = cmd.Process.Signal(syscall.SIGKILL) })
		for sc.Scan() { // bounded by the child's output, ended by the kill
			f := strings.Fields(sc.Text())
			if len(f) == 0 {
				continue
			}
			switch f[0] {
			case "A", "K", "R":
				if f[0] == "R" {
					inFlight = inFlight[:0]
				}
				for _, s := range f[1:] {
					id, err := strconv.Atoi(s)
					if err != nil {
						t.Fatalf("child reported %q", sc.Text())
					}
					switch f[0] {
					case "A":
						appended[id] = true
					case "R":
						inFlight = append(inFlight, id)
					case "K":
						acked[id] = true
					}
				}
			default:
				t.Fatalf("child: %s", sc.Text())
			}
			if seen++; seen == killAfter && !killed {
				killed = true
				_ = cmd.Process.Signal(syscall.SIGKILL)
			}
			// What the child wrote before the kill is still read: it
			// returned.
		}
		// The last batch read was acknowledged or not: either is right.
		deadline.Stop()
		_, _ = io.Copy(io.Discard, out)
		_ = cmd.Wait()
		if !killed {
			t.Fatalf("round %d: the child ended after %d operations before the kill", round, seen)
		}

		q, err := Open(Options{Dir: dir, Keys: crashKeys(t, round >= 3)})
		if err != nil {
			t.Fatalf("round %d: reopen: %v", round, err)
		}
		q.CloseWrites()
		present := map[int]bool{}
		var entries int64
		for range 1_000_000 {
			rs, err := q.Read(context.Background(), 100)
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("round %d: read: %v", round, err)
			}
			for _, r := range rs {
				id, err := strconv.Atoi(string(r.Data))
				if err != nil {
					t.Fatalf("round %d: record %q at %s:%d", round, r.Data, r.Path, r.Off)
				}
				if present[id] {
					t.Fatalf("round %d: record %d read twice", round, id)
				}
				if r.N != crashEntries(id) {
					t.Fatalf("round %d: record %d has %d entries; want %d", round, id, r.N, crashEntries(id))
				}
				if acked[id] {
					t.Fatalf("round %d: record %d was acknowledged before the kill and is read again", round, id)
				}
				present[id] = true
				entries += int64(r.N)
			}
		}
		if n, _ := q.Len(); n != entries {
			t.Errorf("round %d: Len = %d entries; the records read hold %d", round, n, entries)
		}
		rec := q.Recovered()
		if err := q.Close(); err != nil {
			t.Fatal(err)
		}
		if rec.LostBytes > 0 || len(rec.Quarantined) > 0 {
			t.Errorf("round %d: a SIGKILL damaged the queue: %+v", round, rec)
		}
		missing := 0
		for id := range appended {
			if !acked[id] && !present[id] && !slices.Contains(inFlight, id) {
				missing++
				if missing <= 5 {
					t.Errorf("round %d: record %d was appended (AppendN returned), never acknowledged, and is gone", round, id)
				}
			}
		}
		if missing > 0 {
			t.Fatalf("round %d: %d appended records lost", round, missing)
		}
		for _, id := range inFlight {
			if !present[id] { // its acknowledgement was written
				acked[id] = true
			}
		}
		inFlight = nil
		t.Logf("round %d (sync %v, encrypted %v): killed after %d operations; %d records appended, %d acknowledged so far, %d left",
			round, round%2 == 1, round >= 3, killAfter, len(appended), len(acked), len(present))
	}
}
