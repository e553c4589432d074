package e2e_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/pipelined/pipeline/plugins/internal/testkit/servertest"
)

// TestRsyslogToFilesExample runs examples/rsyslog-to-files (the .conf and
// the .hcl) on loopback: logger sends over TCP and UDP, and each event lands,
// parsed field by field, in the file named after its host and program.
func TestRsyslogToFilesExample(t *testing.T) {
	logger := servertest.Require(t, "logger", "LOGGER_BIN", "logger")
	for _, file := range []string{"pipeline.conf", "pipeline.hcl"} {
		t.Run(file, func(t *testing.T) {
			out := t.TempDir()
			port := topoFreePort(t)
			t.Setenv("SYSLOG_PORT", fmt.Sprint(port))
			t.Setenv("SYSLOG_OUT", out)
			t.Setenv("SYSLOG_HOST", "127.0.0.1")
			src, err := os.ReadFile(filepath.Join("..", "..", "examples", "rsyslog-to-files", file))
			if err != nil {
				t.Fatal(err)
			}
			stop := topoRun(t, file, string(src), 1)
			addr := fmt.Sprintf("127.0.0.1:%d", port)
			// Wait until both inputs listen.
			topoWait(t, 10*time.Second, func() string { return "tcp listener" }, func() bool {
				c, err := net.Dial("tcp", addr)
				if err == nil {
					c.Close()
				}
				return err == nil
			})
			send := func(stdin string, args ...string) {
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				cmd := exec.CommandContext(ctx, logger, append([]string{"--server", "127.0.0.1", "--port", fmt.Sprint(port)}, args...)...)
				cmd.Stdin = strings.NewReader(stdin)
				if b, err := cmd.CombinedOutput(); err != nil {
					t.Fatalf("logger %v: %v\n%s", args, err, b)
				}
			}
			time.Sleep(200 * time.Millisecond) // the udp input binds beside the tcp one
			send("tcp one\ntcp two\n", "--tcp", "--rfc3164", "-t", "sshd", "-i", "-p", "auth.info")
			send("udp one\n", "--udp", "--rfc3164", "-t", "cron", "-p", "cron.notice")
			send("5424 one\n", "--tcp", "--rfc5424", "-t", "app5424", "--msgid", "M1")
			if c, err := net.Dial("tcp", addr); err == nil {
				fmt.Fprintf(c, "not syslog at all\n")
				c.Close()
			}

			files := func() []string {
				m, _ := filepath.Glob(filepath.Join(out, "*.log"))
				sort.Strings(m)
				return m
			}
			lines := func() int {
				n := 0
				for _, f := range files() {
					n += topoCountLines(f)
				}
				return n
			}
			topoWait(t, 15*time.Second, func() string { return fmt.Sprintf("5 lines, have %d in %v", lines(), files()) }, func() bool { return lines() >= 5 })
			if err := stop(); err != nil {
				t.Fatal(err)
			}

			byProg := map[string][]map[string]any{}
			for _, f := range files() {
				fh, err := os.Open(f)
				if err != nil {
					t.Fatal(err)
				}
				sc := bufio.NewScanner(fh)
				for sc.Scan() {
					var m map[string]any
					if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
						t.Fatalf("%s: %v: %s", f, err, sc.Text())
					}
					prog, ok := m["syslog_program"].(string)
					if !ok {
						// Logstash leaves a reference to a missing field as written.
						prog = "%{syslog_program}"
					}
					host, _ := m["host"].(string)
					if want := host + "-" + prog + ".log"; filepath.Base(f) != want {
						t.Errorf("event with host %q program %q in %s, want %s", host, prog, filepath.Base(f), want)
					}
					byProg[prog] = append(byProg[prog], m)
				}
				fh.Close()
			}
			hostname, _ := os.Hostname()
			hostname, _, _ = strings.Cut(hostname, ".")
			check := func(prog string, i int, want map[string]any) {
				t.Helper()
				if len(byProg[prog]) <= i {
					t.Fatalf("no event %d for %s: %v", i, prog, byProg)
				}
				m := byProg[prog][i]
				for k, w := range want {
					if fmt.Sprint(m[k]) != fmt.Sprint(w) {
						t.Errorf("%s #%d: %s = %#v, want %#v", prog, i, k, m[k], w)
					}
				}
				if _, ok := m["@timestamp"]; !ok {
					t.Errorf("%s #%d: no @timestamp", prog, i)
				}
			}
			common := map[string]any{"type": "syslog", "tags": "[syslog]", "syslog_hostname": hostname}
			with := func(m map[string]any) map[string]any {
				out := map[string]any{}
				for k, v := range common {
					out[k] = v
				}
				for k, v := range m {
					out[k] = v
				}
				return out
			}
			tcpHost := byProg["sshd"]
			if len(tcpHost) != 2 {
				t.Fatalf("sshd events: %v", byProg)
			}
			// The tcp input names the client by a reverse lookup.
			name := tcpHost[0]["host"]
			if name != "localhost" && name != "127.0.0.1" {
				t.Errorf("tcp host %v", name)
			}
			check("sshd", 0, with(map[string]any{"syslog_pri": "38", "syslog_message": "tcp one", "received_from": name}))
			check("sshd", 1, with(map[string]any{"syslog_pri": "38", "syslog_message": "tcp two"}))
			if byProg["sshd"][0]["syslog_pid"] == nil {
				t.Error("sshd: no syslog_pid (logger -i)")
			}
			check("cron", 0, with(map[string]any{"syslog_pri": "77", "syslog_message": "udp one", "host": "127.0.0.1"}))
			check("%{syslog_program}", 0, map[string]any{"message": "not syslog at all", "tags": "[syslog _grokparsefailure]", "type": "syslog"})
			check("app5424", 0, with(map[string]any{"syslog_pri": "13", "syslog_version": "1", "syslog_msgid": "M1", "syslog_message": "5424 one"}))
		})
	}
}
