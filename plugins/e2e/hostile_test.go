package e2e_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/klauspost/compress/zlib"

	lumberclient "github.com/elastic/go-lumber/client/v2"

	"github.com/pipelined/pipeline/engine/enginetest/logwatch"
)

// Hostile-input test sizes. The good streams are paced so that they flow
// for the whole attack rather than finish before it warms up.
const (
	hostileAttackers   = 20
	hostileMinAttack   = 10 * time.Second // the attack lasts at least this long
	hostileMaxAttack   = 15 * time.Second // and at most this long, whatever happens
	hostileBeatsBatch  = 100
	hostileBeatsN      = 2_000 // numbered events through beats
	hostileLinesN      = 2_000 // numbered lines through tcp, and messages through syslog
	hostileBigLine     = 50 << 20
	hostileBombInflate = 60 << 20 // what one compressed frame inflates to (beyond max_frame_bytes)
	hostileRSSLimit    = 150 << 20
)

// TestHostileInputs: one engine process (testdata/hostile/pipeline.conf, the
// inputs' default budgets) with beats, tcp, syslog (TCP and UDP) and udp
// inputs on loopback is attacked by 20 connections at once — random garbage,
// truncated lumberjack frames, compression bombs (small zlib frames that
// inflate to 60 MiB events, or to frames that are no lumberjack), 60 MiB
// uncompressed frames, 50 MB lines without a newline to tcp and syslog, an
// octet count of a gigabyte, invalid UTF-8 everywhere, a byte-at-a-time
// sender — while numbered events flow through beats (a go-lumber client that,
// like Filebeat, resends a window the input refused), tcp and syslog. Every
// good event reaches the output, the process keeps running and answers
// /_node/stats, and its peak resident memory (VmHWM) stays under 150 MiB.
func TestHostileInputs(t *testing.T) {
	bin := pipelineBinary(t)
	dir := t.TempDir()
	conf, err := filepath.Abs("testdata/hostile/pipeline.conf")
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "good.jsonl")
	ports := map[string]int{}
	for _, name := range []string{"beats", "tcp", "syslog"} {
		ports[name] = topoFreePort(t)
	}
	ports["udp"] = hostileFreeUDPPort(t)

	cmd := exec.Command(bin, "run", "-f", conf, "--path.data", filepath.Join(dir, "data"), "--api.http.port", "0")
	cmd.Env = append(os.Environ(), "HOSTILE_OUT="+out,
		fmt.Sprintf("HOSTILE_BEATS_PORT=%d", ports["beats"]), fmt.Sprintf("HOSTILE_TCP_PORT=%d", ports["tcp"]),
		fmt.Sprintf("HOSTILE_SYSLOG_PORT=%d", ports["syslog"]), fmt.Sprintf("HOSTILE_UDP_PORT=%d", ports["udp"]))
	proc := logwatch.Start(t, cmd)
	proc.Wait(t, "monitoring API listening", 20*time.Second)
	proc.Wait(t, "pipeline started", 20*time.Second)
	m := reloadAPIAddr.FindStringSubmatch(proc.String())
	if m == nil {
		t.Fatalf("no API address in the log:\n%s", proc)
	}
	api := "http://" + m[1]
	pid := proc.Cmd.Process.Pid
	addr := func(name string) string { return fmt.Sprintf("127.0.0.1:%d", ports[name]) }

	// The attack: 20 goroutines, each one kind of hostile sender, looping
	// until the good streams are through (and hostileMinAttack has passed).
	// The bombs are made before the attack's clock starts: compressing
	// takes a while (long on a loaded machine).
	a := &hostileAttack{t: t, addr: addr, stats: map[string]*hostileStat{}}
	a.bomb(0)
	a.big(0)
	attackCtx, stopAttack := context.WithTimeout(context.Background(), hostileMaxAttack)
	defer stopAttack()
	a.ctx = attackCtx
	kinds := a.kinds()
	if only := os.Getenv("HOSTILE_ONLY"); only != "" {
		// Narrowing a failure down: only the attacks whose name matches.
		re := regexp.MustCompile(only)
		kinds = slices.DeleteFunc(kinds, func(k hostileKind) bool { return !re.MatchString(k.name) })
	}
	var attackers sync.WaitGroup
	for i := range hostileAttackers {
		k := kinds[i%len(kinds)]
		st := a.stat(k.name)
		attackers.Add(1)
		go func() {
			defer attackers.Done()
			r := rand.New(rand.NewPCG(uint64(i), 19))
			for attackCtx.Err() == nil {
				k.run(a, st, r)
				st.rounds.Add(1)
			}
		}()
	}
	attackStart := time.Now()

	// Peak RSS is read from VmHWM at the end; VmRSS is sampled meanwhile to
	// say when the peak was.
	var rssMu sync.Mutex
	var rssPeak int64
	var rssPeakAt time.Duration
	rssDone := make(chan struct{})
	go func() {
		defer close(rssDone)
		for attackCtx.Err() == nil {
			if v, err := procStatusBytes(pid, "VmRSS"); err == nil {
				rssMu.Lock()
				if v > rssPeak {
					rssPeak, rssPeakAt = v, time.Since(attackStart)
				}
				rssMu.Unlock()
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()

	// The good streams, started once the attack is under way.
	time.Sleep(500 * time.Millisecond)
	var good sync.WaitGroup
	var beatsResent atomic.Int64
	good.Add(3)
	go func() {
		defer good.Done()
		beatsResent.Store(int64(hostileGoodBeats(t, addr("beats"))))
	}()
	go func() {
		defer good.Done()
		hostileGoodLines(t, "tcp", addr("tcp"), func(i int) string { return fmt.Sprintf("good-tcp %d\n", i) })
	}()
	go func() {
		defer good.Done()
		hostileGoodLines(t, "syslog", addr("syslog"), func(i int) string {
			return fmt.Sprintf("<13>Dec  7 13:00:00 goodhost app[1]: good-syslog %d\n", i)
		})
	}()
	good.Wait()
	if d := hostileMinAttack - time.Since(attackStart); d > 0 {
		time.Sleep(d)
	}
	stopAttack()
	attackers.Wait()
	<-rssDone
	attackTime := time.Since(attackStart)

	// The process survived and still answers.
	if err := proc.Cmd.Process.Signal(syscall.Signal(0)); err != nil {
		t.Fatalf("the engine is gone: %v\n%s", err, proc.String())
	}
	stats := hostileNodeStats(t, api)

	// Every good event reaches the output.
	want := map[string]int{"beats": hostileBeatsN, "tcp": hostileLinesN, "syslog": hostileLinesN}
	var got map[string]map[int]int
	// The good events may still queue behind the garbage the attackers
	// left in the engine's socket buffers: the pipeline takes it in turn.
	deadline := time.Now().Add(90 * time.Second)
	for {
		got = hostileReadGood(t, out)
		done := true
		for k, n := range want {
			if len(got[k]) < n {
				done = false
			}
		}
		if done || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	for k, n := range want {
		missing := 0
		for i := range n {
			if got[k][i] == 0 {
				missing++
			}
		}
		if missing > 0 {
			t.Errorf("%s: %d of %d good events missing", k, missing, n)
		}
	}
	for k, seen := range got {
		dups := 0
		for _, c := range seen {
			dups += c - 1
		}
		if k != "beats" && dups > 0 {
			t.Errorf("%s: %d duplicates of good events", k, dups)
		}
		if k == "beats" {
			t.Logf("beats: %d windows resent by the good client after a refusal, %d duplicate events", beatsResent.Load(), dups)
		}
	}

	hwm, err := procStatusBytes(pid, "VmHWM")
	if err != nil {
		t.Fatal(err)
	}
	rssMu.Lock()
	t.Logf("peak RSS (VmHWM) %.1f MiB; sampled VmRSS peaked at %.1f MiB %.1f s into a %.1f s attack",
		float64(hwm)/(1<<20), float64(rssPeak)/(1<<20), rssPeakAt.Seconds(), attackTime.Seconds())
	rssMu.Unlock()
	t.Logf("attack: %s", a.report())
	for name, st := range a.stats {
		// An attack that never reached the engine proves nothing.
		if st.conns.Load() == 0 {
			t.Errorf("attack %q never connected", name)
		}
	}
	t.Logf("inputs after the attack: %s", stats)
	t.Logf("engine log: %d lines", strings.Count(proc.String(), "\n"))
	if hwm >= hostileRSSLimit {
		t.Errorf("peak RSS %.1f MiB; want under %d MiB", float64(hwm)/(1<<20), hostileRSSLimit>>20)
	}

	// The drain reads what the kernel had received on every connection
	// still open (garbage, from hundreds of attackers) through the pipeline.
	if err := proc.Exit(t, syscall.SIGTERM, 90*time.Second); err != nil {
		t.Errorf("exit after SIGTERM: %v", err)
	}
	if s := proc.String(); strings.Contains(s, "panic") || strings.Contains(s, "goroutine ") {
		t.Errorf("a panic was logged:\n%s", hostileGrep(s, "panic"))
	}
}

// hostileFreeUDPPort is a UDP port free on loopback.
func hostileFreeUDPPort(t *testing.T) int {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// procStatusBytes reads a "kB" field (VmHWM, VmRSS) of /proc/<pid>/status.
func procStatusBytes(pid int, field string) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", field, pid)
}

// hostileNodeStats asks the monitoring API for the pipeline's stats and
// returns the inputs' event counts (the test fails if it does not answer).
func hostileNodeStats(t *testing.T, api string) string {
	t.Helper()
	c := http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(api + "/_node/stats")
	if err != nil {
		t.Fatalf("/_node/stats: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/_node/stats: %s\n%s", resp.Status, body)
	}
	var doc struct {
		Pipelines map[string]struct {
			Plugins struct {
				Inputs []map[string]any `json:"inputs"`
			} `json:"plugins"`
		} `json:"pipelines"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatalf("/_node/stats: %v\n%s", err, body)
	}
	var parts []string
	for _, in := range doc.Pipelines["main"].Plugins.Inputs {
		delete(in, "name")
		id := in["id"]
		delete(in, "id")
		b, _ := json.Marshal(in)
		parts = append(parts, fmt.Sprintf("%v %s", id, b))
	}
	return strings.Join(parts, "; ")
}

// hostileGoodBeats sends hostileBeatsN numbered events in windows of
// hostileBeatsBatch, resending a window whose connection the input closed
// (as Filebeat does), and returns how many windows were resent.
func hostileGoodBeats(t *testing.T, addr string) int {
	dial := func() *lumberclient.SyncClient {
		for range 200 {
			c, err := lumberclient.SyncDial(addr, lumberclient.Timeout(30*time.Second))
			if err == nil {
				return c
			}
			time.Sleep(50 * time.Millisecond)
		}
		return nil
	}
	c := dial()
	if c == nil {
		t.Errorf("beats: cannot connect to %s", addr)
		return 0
	}
	resent := 0
	for b := 0; b < hostileBeatsN/hostileBeatsBatch; {
		evs := make([]any, hostileBeatsBatch)
		for j := range evs {
			evs[j] = map[string]any{"good": "beats", "seq": b*hostileBeatsBatch + j, "message": "a good event from a beat"}
		}
		n, err := c.Send(evs)
		if err == nil && n == len(evs) {
			b++
			time.Sleep(40 * time.Millisecond)
			continue
		}
		_ = c.Close()
		if resent++; resent > 500 {
			t.Errorf("beats: window %d refused %d times, last: %d acked, %v", b, resent, n, err)
			return resent
		}
		time.Sleep(100 * time.Millisecond)
		if c = dial(); c == nil {
			t.Errorf("beats: cannot reconnect to %s", addr)
			return resent
		}
	}
	_ = c.Close()
	return resent
}

// hostileGoodLines sends hostileLinesN lines on one TCP connection, 100 at a
// time: a well-behaved sender must never be cut off.
func hostileGoodLines(t *testing.T, name, addr string, line func(int) string) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Errorf("%s: %v", name, err)
		return
	}
	defer c.Close()
	_ = c.SetWriteDeadline(time.Now().Add(hostileMaxAttack + 20*time.Second))
	w := bufio.NewWriter(c)
	for i := range hostileLinesN {
		_, _ = w.WriteString(line(i))
		if i%100 == 99 {
			if err := w.Flush(); err != nil {
				t.Errorf("%s: the good sender was cut off after %d lines: %v", name, i, err)
				return
			}
			time.Sleep(25 * time.Millisecond)
		}
	}
	if err := w.Flush(); err != nil {
		t.Errorf("%s: %v", name, err)
	}
}

// hostileReadGood reads the good output: per stream, how often each number
// was written.
func hostileReadGood(t *testing.T, path string) map[string]map[int]int {
	got := map[string]map[int]int{"beats": {}, "tcp": {}, "syslog": {}}
	f, err := os.Open(path)
	if err != nil {
		return got
	}
	defer f.Close()
	r := bufio.NewReader(f)
	for {
		line, err := r.ReadBytes('\n')
		if err != nil {
			return got // a last line still being written counts next time
		}
		var d struct {
			Good    string
			Seq     *int
			Message string
		}
		if err := json.Unmarshal(line, &d); err != nil {
			t.Fatalf("good output: %v in %.200q", err, line)
		}
		switch {
		case d.Good == "beats" && d.Seq != nil:
			got["beats"][*d.Seq]++
		default:
			// The syslog input keeps the line's newline, as Logstash's does.
			kind, num, _ := strings.Cut(strings.TrimSuffix(d.Message, "\n"), " ")
			n, err := strconv.Atoi(num)
			if err != nil || (kind != "good-tcp" && kind != "good-syslog") {
				t.Fatalf("good output: an event that is no good event: %.300q", line)
			}
			got[strings.TrimPrefix(kind, "good-")][n]++
		}
	}
}

func hostileGrep(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// hostileAttack is the state the attackers share.
type hostileAttack struct {
	ctx  context.Context
	t    *testing.T
	addr func(input string) string

	mu    sync.Mutex
	stats map[string]*hostileStat

	bombOnce sync.Once
	bombs    [][]byte // compressed lumberjack frames, made once
	bigOnce  sync.Once
	bigs     [][]byte // the large uncompressed messages, made once
}

// hostileStat counts what one kind of attacker did.
type hostileStat struct {
	rounds, conns, bytes atomic.Int64
}

func (a *hostileAttack) stat(name string) *hostileStat {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.stats[name] == nil {
		a.stats[name] = &hostileStat{}
	}
	return a.stats[name]
}

func (a *hostileAttack) report() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	var parts []string
	for name, s := range a.stats {
		parts = append(parts, fmt.Sprintf("%s: %d conns, %.1f MiB", name, s.conns.Load(), float64(s.bytes.Load())/(1<<20)))
	}
	return strings.Join(parts, "; ")
}

type hostileKind struct {
	name string
	run  func(a *hostileAttack, st *hostileStat, r *rand.Rand)
}

// kinds are the attacks, one per attacker (20 attackers, 20 kinds).
func (a *hostileAttack) kinds() []hostileKind {
	return []hostileKind{
		{"beats garbage", func(a *hostileAttack, st *hostileStat, r *rand.Rand) {
			a.stream(st, "beats", hostileRandom(r, 64<<10), 0)
		}},
		{"beats truncated frames", func(a *hostileAttack, st *hostileStat, r *rand.Rand) {
			w := hostileWindow(r, 50)
			a.stream(st, "beats", w[:r.IntN(len(w))], 200*time.Millisecond)
		}},
		{"beats bomb: 60 MiB event", func(a *hostileAttack, st *hostileStat, r *rand.Rand) {
			a.stream(st, "beats", append(lumberWindow(1), a.bomb(0)...), 2*time.Second)
		}},
		{"beats bomb: 60 MiB of spaces", func(a *hostileAttack, st *hostileStat, r *rand.Rand) {
			a.stream(st, "beats", append(lumberWindow(1), a.bomb(1)...), 2*time.Second)
		}},
		{"beats bomb: window of 1 MiB events", func(a *hostileAttack, st *hostileStat, r *rand.Rand) {
			// 10,000 events announced, 16 MiB per compressed frame: only the
			// window budget stops it.
			msg := lumberWindow(10_000)
			for range 20 {
				msg = append(msg, a.bomb(2)...)
			}
			a.stream(st, "beats", msg, time.Second)
		}},
		{"beats bomb: zeros", func(a *hostileAttack, st *hostileStat, r *rand.Rand) {
			a.stream(st, "beats", append(lumberWindow(1), a.bomb(3)...), 0)
		}},
		{"beats 60 MiB frame", func(a *hostileAttack, st *hostileStat, r *rand.Rand) {
			a.stream(st, "beats", a.big(2), 2*time.Second)
		}},
		{"beats frame announcing 4 GiB", func(a *hostileAttack, st *hostileStat, r *rand.Rand) {
			msg := append(lumberWindow(1), lumberJSONHeader(1, 1<<32-1)...)
			a.stream(st, "beats", append(msg, hostileRandom(r, 4096)...), 0)
		}},
		{"beats window of 4 G events", func(a *hostileAttack, st *hostileStat, r *rand.Rand) {
			msg := lumberWindow(1<<32 - 1)
			a.stream(st, "beats", append(msg, lumberJSONFrame(1, []byte(`{"a":1}`))...), 0)
		}},
		{"beats invalid UTF-8", func(a *hostileAttack, st *hostileStat, r *rand.Rand) {
			msg := lumberWindow(20)
			for i := range 20 {
				ev := append([]byte(`{"message":"`), hostileBadUTF8(r, 200)...)
				msg = append(msg, lumberJSONFrame(uint32(i+1), append(ev, `"}`...))...)
			}
			a.stream(st, "beats", msg, 100*time.Millisecond)
		}},
		{"tcp 50 MB line", func(a *hostileAttack, st *hostileStat, r *rand.Rand) {
			a.stream(st, "tcp", a.big(0), time.Second)
		}},
		{"tcp invalid UTF-8 lines", func(a *hostileAttack, st *hostileStat, r *rand.Rand) {
			var b []byte
			for range 200 {
				b = append(append(b, hostileBadUTF8(r, 300)...), '\n')
			}
			a.stream(st, "tcp", b, 0)
		}},
		{"tcp garbage", func(a *hostileAttack, st *hostileStat, r *rand.Rand) {
			a.stream(st, "tcp", hostileRandom(r, 256<<10), 0)
		}},
		{"tcp byte at a time", func(a *hostileAttack, st *hostileStat, r *rand.Rand) {
			a.drip(st, "tcp", hostileRandom(r, 100))
		}},
		{"syslog 50 MB line", func(a *hostileAttack, st *hostileStat, r *rand.Rand) {
			a.stream(st, "syslog", a.big(1), time.Second)
		}},
		{"syslog octet count of 1 GB", func(a *hostileAttack, st *hostileStat, r *rand.Rand) {
			b := append([]byte("999999999 <13>Dec  7 13:00:00 evil app: "), hostileRandom(r, 1<<20)...)
			a.stream(st, "syslog", b, time.Second)
		}},
		{"syslog invalid UTF-8", func(a *hostileAttack, st *hostileStat, r *rand.Rand) {
			var b []byte
			for range 200 {
				b = append(b, "<13>Dec  7 13:00:00 evil app: "...)
				b = append(append(b, hostileBadUTF8(r, 300)...), '\n')
			}
			a.stream(st, "syslog", b, 0)
		}},
		{"syslog garbage", func(a *hostileAttack, st *hostileStat, r *rand.Rand) {
			a.stream(st, "syslog", hostileRandom(r, 256<<10), 0)
		}},
		{"udp garbage and invalid UTF-8", func(a *hostileAttack, st *hostileStat, r *rand.Rand) {
			a.datagrams(st, "udp", r)
		}},
		{"syslog udp garbage and invalid UTF-8", func(a *hostileAttack, st *hostileStat, r *rand.Rand) {
			a.datagrams(st, "syslog", r)
		}},
	}
}

// conn dials input's TCP port; the connection is closed when the attack
// ends, so no attacker outlives it.
func (a *hostileAttack) conn(st *hostileStat, input string) (net.Conn, func()) {
	d := net.Dialer{Timeout: 2 * time.Second}
	c, err := d.DialContext(a.ctx, "tcp", a.addr(input))
	if err != nil {
		a.pause(50 * time.Millisecond) // refused (max_connections) or the attack is over
		return nil, nil
	}
	st.conns.Add(1)
	stop := context.AfterFunc(a.ctx, func() { _ = c.Close() })
	// The engine's answers (beats ACKs) are read and dropped, so that its
	// writes never block on us.
	go func() { _, _ = io.Copy(io.Discard, c) }()
	return c, func() { stop(); _ = c.Close() }
}

// stream sends b on a new connection, then holds it open for hold (the
// engine may close it first) and closes it.
func (a *hostileAttack) stream(st *hostileStat, input string, b []byte, hold time.Duration) {
	c, done := a.conn(st, input)
	if c == nil {
		return
	}
	defer done()
	for len(b) > 0 && a.ctx.Err() == nil {
		n, err := c.Write(b[:min(len(b), 1<<20)])
		st.bytes.Add(int64(n))
		if err != nil {
			return // closed by the engine: what it should do
		}
		b = b[n:]
	}
	a.pause(hold)
}

// drip sends b one byte every 50 ms.
func (a *hostileAttack) drip(st *hostileStat, input string, b []byte) {
	c, done := a.conn(st, input)
	if c == nil {
		return
	}
	defer done()
	for i := range b {
		if _, err := c.Write(b[i : i+1]); err != nil {
			return
		}
		st.bytes.Add(1)
		a.pause(50 * time.Millisecond)
		if a.ctx.Err() != nil {
			return
		}
	}
}

// datagrams sends 100 datagrams of up to 64 KB (random bytes, or invalid
// UTF-8 with a syslog header), at most 2,000 a second.
func (a *hostileAttack) datagrams(st *hostileStat, input string, r *rand.Rand) {
	c, err := net.Dial("udp", a.addr(input))
	if err != nil {
		a.pause(50 * time.Millisecond)
		return
	}
	defer c.Close()
	st.conns.Add(1)
	for i := range 100 {
		var b []byte
		switch i % 3 {
		case 0:
			b = hostileRandom(r, 1+r.IntN(65000))
		case 1:
			b = append([]byte("<13>Dec  7 13:00:00 evil app: "), hostileBadUTF8(r, 1+r.IntN(1000))...)
		default:
			b = hostileBadUTF8(r, 1+r.IntN(65000))
		}
		if n, err := c.Write(b); err == nil {
			st.bytes.Add(int64(n))
		}
		if i%10 == 9 {
			a.pause(5 * time.Millisecond)
		}
	}
}

// pause sleeps d or until the attack ends.
func (a *hostileAttack) pause(d time.Duration) {
	if d <= 0 {
		return
	}
	select {
	case <-a.ctx.Done():
	case <-time.After(d):
	}
}

// big returns large message i, made once:
//
//	0: a 50 MB line without a newline
//	1: the same after a syslog header
//	2: a lumberjack window with one 60 MiB data frame of spaces
func (a *hostileAttack) big(i int) []byte {
	a.bigOnce.Do(func() {
		line := bytes.Repeat([]byte{'x'}, hostileBigLine)
		frame := append(lumberWindow(1), lumberJSONHeader(1, hostileBombInflate)...)
		a.bigs = [][]byte{line, append([]byte("<13>Dec  7 13:00:00 evil app: "), line...),
			append(frame, bytes.Repeat([]byte{' '}, hostileBombInflate)...)}
	})
	return a.bigs[i]
}

// bomb returns compressed lumberjack frame i, made once:
//
//	0: one 60 MiB event, {"bomb":"AAAA…"}
//	1: one 60 MiB data frame of spaces (no JSON)
//	2: 16 events of 1 MiB each
//	3: 60 MiB of zero bytes (no frame at all)
func (a *hostileAttack) bomb(i int) []byte {
	a.bombOnce.Do(func() {
		event := func(seq uint32, n int) []byte {
			b := lumberJSONHeader(seq, n)
			b = append(b, `{"bomb":"`...)
			b = append(b, bytes.Repeat([]byte{'A'}, n-len(`{"bomb":""}`))...)
			return append(b, `"}`...)
		}
		var many []byte
		for j := range 16 {
			many = append(many, event(uint32(j+1), 1<<20)...)
		}
		spaces := append(lumberJSONHeader(1, hostileBombInflate), bytes.Repeat([]byte{' '}, hostileBombInflate)...)
		for _, raw := range [][]byte{event(1, hostileBombInflate), spaces, many, make([]byte, hostileBombInflate)} {
			a.bombs = append(a.bombs, lumberCompressed(raw))
		}
	})
	return a.bombs[i]
}

func lumberWindow(n uint32) []byte {
	return binary.BigEndian.AppendUint32([]byte("2W"), n)
}

func lumberJSONHeader(seq uint32, n int) []byte {
	return binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32([]byte("2J"), seq), uint32(n))
}

func lumberJSONFrame(seq uint32, payload []byte) []byte {
	return append(lumberJSONHeader(seq, len(payload)), payload...)
}

func lumberCompressed(raw []byte) []byte {
	var z bytes.Buffer
	w, _ := zlib.NewWriterLevel(&z, zlib.BestCompression)
	_, _ = w.Write(raw)
	_ = w.Close()
	return append(binary.BigEndian.AppendUint32([]byte("2C"), uint32(z.Len())), z.Bytes()...)
}

// hostileWindow is a well-formed window of n small events, sometimes
// compressed: the truncated-frames attacker cuts it anywhere.
func hostileWindow(r *rand.Rand, n int) []byte {
	var frames []byte
	for i := range n {
		frames = append(frames, lumberJSONFrame(uint32(i+1), []byte(fmt.Sprintf(`{"message":"cut %d"}`, i)))...)
	}
	if r.IntN(2) == 0 {
		frames = lumberCompressed(frames)
	}
	return append(lumberWindow(uint32(n)), frames...)
}

func hostileRandom(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// hostileBadUTF8 is n bytes of text broken as UTF-8: lone continuation
// bytes, overlong forms, surrogates, truncated sequences, 0xff.
func hostileBadUTF8(r *rand.Rand, n int) []byte {
	bad := [][]byte{{0xff}, {0xfe}, {0x80}, {0xc0, 0xaf}, {0xed, 0xa0, 0x80}, {0xe2, 0x82}, {0xf4, 0x90, 0x80, 0x80}, {'"'}, {'\\'}, {0}}
	var b []byte
	for len(b) < n {
		if r.IntN(3) == 0 {
			b = append(b, "ok "...)
		} else {
			b = append(b, bad[r.IntN(len(bad))]...)
		}
	}
	return b[:n]
}
