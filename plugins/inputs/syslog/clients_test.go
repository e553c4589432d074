package syslog

// Real syslog clients sending to the input on loopback: util-linux logger,
// rsyslogd (imfile → omfwd) and syslog-ng's loggen. Each binary is found
// through an environment variable (LOGGER_BIN, RSYSLOGD_BIN, LOGGEN_BIN),
// PATH or .ci/run's cache; a missing one skips the test, except under
// CI=true, where it fails (servertest.Require).

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/plugins/internal/testkit/inputtest"
	"github.com/pipelined/pipeline/plugins/internal/testkit/servertest"
)

func runCmd(t *testing.T, timeout time.Duration, stdin string, name string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdin = strings.NewReader(stdin)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// expect checks the named fields of e; a want of nil means absent.
func expect(t *testing.T, what string, e *event.Event, want map[string]any) {
	t.Helper()
	for k, w := range want {
		got, ok := e.Get(event.MustRef(k))
		if w == nil {
			if ok {
				t.Errorf("%s: %s = %#v, want absent", what, k, got)
			}
			continue
		}
		if re, isRE := w.(*regexp.Regexp); isRE {
			if s, _ := got.(string); !re.MatchString(s) {
				t.Errorf("%s: %s = %#v, want match of %s", what, k, got, re)
			}
			continue
		}
		if fmt.Sprint(got) != fmt.Sprint(w) || got == nil {
			t.Errorf("%s: %s = %#v, want %#v", what, k, got, w)
		}
	}
}

// recent checks that @timestamp is the client's clock reading (seconds), not
// a parse failure's read time or another day.
func recent(t *testing.T, what string, e *event.Event, sent time.Time) {
	t.Helper()
	ts := e.Timestamp()
	if d := ts.Sub(sent); d < -3*time.Second || d > 10*time.Second {
		t.Errorf("%s: @timestamp %s, sent at %s", what, ts, sent)
	}
}

func byMessagePrefix(evs []*event.Event, n int) map[string]*event.Event {
	out := map[string]*event.Event{}
	for _, e := range evs {
		m, _ := e.GetString(event.MustRef("message"))
		if len(m) >= n {
			out[m[:n]] = e
		}
	}
	return out
}

func TestLogger(t *testing.T) {
	logger := servertest.Require(t, "logger", "LOGGER_BIN", "logger")
	host, _ := os.Hostname()
	host, _, _ = strings.Cut(host, ".")
	h := inputtest.Start(t, "syslog", "octet_counting = true\nrfc5424 = true", inputtest.Options{Listeners: 2})
	_, port, _ := strings.Cut(h.TCP, "127.0.0.1:")
	const n = 3
	lines := func(tag string) string {
		var b strings.Builder
		for i := 1; i <= n; i++ {
			fmt.Fprintf(&b, "%s msg %d\n", tag, i)
		}
		return b.String()
	}
	sent := time.Now()
	base := []string{"--server", "127.0.0.1", "--port", port, "-t", "myapp"}
	runCmd(t, 20*time.Second, lines("tcp3164"), logger, append(base, "--tcp", "--rfc3164", "-p", "local0.warning")...)
	runCmd(t, 20*time.Second, lines("tcp5424oc"), logger, append(base, "--tcp", "--rfc5424", "--octet-count", "--msgid", "ID47")...)
	runCmd(t, 20*time.Second, lines("udp3164"), logger, append(base, "--udp", "--rfc3164", "-p", "auth.err", "-i")...)
	runCmd(t, 20*time.Second, lines("udp5424"), logger, append(base, "--udp", "--rfc5424", "--sd-id", "exampleSDID@32473", "--sd-param", `iut="3"`)...)
	evs := h.WaitEvents(t, 4*n, 15*time.Second)
	for i := 1; i <= n; i++ {
		e := byMessagePrefix(evs, 13)[fmt.Sprintf("tcp3164 msg %d", i)]
		what := fmt.Sprintf("logger tcp rfc3164 #%d", i)
		if e == nil {
			t.Fatalf("%s: missing", what)
		}
		expect(t, what, e, map[string]any{
			"message": fmt.Sprintf("tcp3164 msg %d\n", i), "priority": 132, "severity": 4, "facility": 16,
			"facility_label": "local0", "severity_label": "Warning", "logsource": host, "program": "myapp",
			"pid": nil, "host": "127.0.0.1", "timestamp": regexp.MustCompile(`^[A-Z][a-z]{2} [ 1-3]\d \d\d:\d\d:\d\d$`), "tags": nil, "version": nil,
		})
		recent(t, what, e, sent)

		what = fmt.Sprintf("logger tcp rfc5424 octet-count #%d", i)
		e = byMessagePrefix(evs, 15)[fmt.Sprintf("tcp5424oc msg %d", i)]
		if e == nil {
			t.Fatalf("%s: missing", what)
		}
		expect(t, what, e, map[string]any{
			"message": fmt.Sprintf("tcp5424oc msg %d", i), "priority": 13, "severity": 5, "facility": 1,
			"facility_label": "user-level", "severity_label": "Notice", "logsource": host, "program": "myapp",
			"version": "1", "msgid": "ID47", "[structured_data][timeQuality][tzKnown]": "1", "pid": nil, "tags": nil,
		})
		recent(t, what, e, sent)

		what = fmt.Sprintf("logger udp rfc3164 #%d", i)
		e = byMessagePrefix(evs, 13)[fmt.Sprintf("udp3164 msg %d", i)]
		if e == nil {
			t.Fatalf("%s: missing", what)
		}
		expect(t, what, e, map[string]any{
			"message": fmt.Sprintf("udp3164 msg %d", i), "priority": 35, "severity": 3, "facility": 4,
			"facility_label": "security/authorization", "severity_label": "Error", "logsource": host, "program": "myapp",
			"pid": regexp.MustCompile(`^[1-9]\d*$`), "tags": nil,
		})
		recent(t, what, e, sent)

		what = fmt.Sprintf("logger udp rfc5424 #%d", i)
		e = byMessagePrefix(evs, 13)[fmt.Sprintf("udp5424 msg %d", i)]
		if e == nil {
			t.Fatalf("%s: missing", what)
		}
		expect(t, what, e, map[string]any{
			"message": fmt.Sprintf("udp5424 msg %d", i), "priority": 13, "version": "1", "logsource": host, "program": "myapp",
			"[structured_data][exampleSDID@32473][iut]": "3", "msgid": nil, "tags": nil,
		})
		recent(t, what, e, sent)
	}
}

// TestLoggerLogstashDefaults: with the default options (Logstash's
// behaviour) RFC 3164 parses and RFC 5424 is a parse failure with priority 13.
func TestLoggerLogstashDefaults(t *testing.T) {
	logger := servertest.Require(t, "logger", "LOGGER_BIN", "logger")
	h := inputtest.Start(t, "syslog", "", inputtest.Options{Listeners: 2})
	_, port, _ := strings.Cut(h.TCP, "127.0.0.1:")
	base := []string{"--server", "127.0.0.1", "--port", port, "-t", "myapp"}
	runCmd(t, 20*time.Second, "plain 3164\n", logger, append(base, "--tcp", "--rfc3164", "-p", "mail.info")...)
	evs := h.WaitEvents(t, 1, 15*time.Second)
	runCmd(t, 20*time.Second, "as 5424\n", logger, append(base, "--tcp", "--rfc5424")...)
	evs = h.WaitEvents(t, 2, 15*time.Second)
	expect(t, "rfc3164", evs[0], map[string]any{"message": "plain 3164\n", "priority": 22, "facility_label": "mail", "severity_label": "Informational", "program": "myapp", "tags": nil})
	expect(t, "rfc5424", evs[1], map[string]any{
		"message":  regexp.MustCompile(`^<13>1 \d{4}-\d\d-\d\dT[^ ]+ [^ ]+ myapp - - \[timeQuality [^]]*\] as 5424\n$`),
		"priority": 13, "severity": 5, "facility": 1, "tags": "[_grokparsefailure_sysloginput]", "version": nil, "program": nil,
	})
}

func TestRsyslog(t *testing.T) {
	rsyslogd := servertest.Require(t, "rsyslogd", "RSYSLOGD_BIN", "rsyslogd", "/usr/sbin/rsyslogd")
	h := inputtest.Start(t, "syslog", "octet_counting = true\nrfc5424 = true", inputtest.Options{Listeners: 2})
	_, port, _ := strings.Cut(h.TCP, "127.0.0.1:")
	dir := t.TempDir()
	const n = 3
	var lines strings.Builder
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&lines, "rsyslog line %d hello\n", i)
	}
	input := filepath.Join(dir, "input.log")
	if err := os.WriteFile(input, []byte(lines.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Mkdir(filepath.Join(dir, "work"), 0o755)
	conf := fmt.Sprintf(`global(workDirectory="%[1]s/work" localHostname="rsyshost")
module(load="imfile")
input(type="imfile" File="%[2]s" Tag="fwdtest:" Facility="local3" Severity="notice" freshStartTail="off" ruleset="fwd")
ruleset(name="fwd") {
  action(type="omfwd" target="127.0.0.1" port="%[3]s" protocol="tcp" template="RSYSLOG_TraditionalForwardFormat")
  action(type="omfwd" target="127.0.0.1" port="%[3]s" protocol="tcp" TCP_Framing="octet-counted" template="RSYSLOG_SyslogProtocol23Format")
  action(type="omfwd" target="127.0.0.1" port="%[3]s" protocol="udp" template="RSYSLOG_TraditionalForwardFormat")
  action(type="omfwd" target="127.0.0.1" port="%[3]s" protocol="udp" template="RSYSLOG_SyslogProtocol23Format")
}
`, dir, input, port)
	confPath := filepath.Join(dir, "rsyslog.conf")
	os.WriteFile(confPath, []byte(conf), 0o644)
	sent := time.Now()
	rsys := servertest.Run(t, "rsyslogd", exec.Command(rsyslogd, "-n", "-f", confPath, "-i", filepath.Join(dir, "rsyslogd.pid")))
	deadline := time.Now().Add(20 * time.Second)
	for h.Sink.Len() < 4*n && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	evs := h.Sink.Events()
	if len(evs) != 4*n {
		t.Fatalf("got %d events, want %d\nrsyslogd:\n%s", len(evs), 4*n, rsys.Log())
	}
	trad, trad5424 := map[string]int{}, map[string]int{}
	for _, e := range evs {
		msg, _ := e.GetString(event.MustRef("message"))
		what := fmt.Sprintf("rsyslog %q", msg)
		common := map[string]any{"priority": 157, "severity": 5, "facility": 19, "facility_label": "local3",
			"severity_label": "Notice", "logsource": "rsyshost", "program": "fwdtest", "host": "127.0.0.1", "tags": nil, "pid": nil}
		if _, ok := e.Get(event.MustRef("version")); ok {
			common["version"] = "1"
			common["msgid"] = nil
			common["structured_data"] = nil
			trad5424[msg]++
		} else {
			common["timestamp"] = regexp.MustCompile(`^[A-Z][a-z]{2} [ 1-3]\d \d\d:\d\d:\d\d$`)
			trad[msg]++
		}
		expect(t, what, e, common)
		recent(t, what, e, sent)
	}
	for i := 1; i <= n; i++ {
		m := fmt.Sprintf("rsyslog line %d hello", i)
		// TCP traditional keeps the "\n" framing; UDP traditional has none.
		if trad[m+"\n"] != 1 || trad[m] != 1 {
			t.Errorf("traditional %q: %v", m, trad)
		}
		// RFC 5424 over TCP (octet-counted) and UDP both carry the "\n".
		if trad5424[m+"\n"] != 2 {
			t.Errorf("rfc5424 %q: %v", m, trad5424)
		}
	}
}

func TestLoggen(t *testing.T) {
	loggen := servertest.Require(t, "loggen", "LOGGEN_BIN", "loggen", servertest.CICache("syslog-ng/root/usr/bin/loggen"))
	root := filepath.Dir(filepath.Dir(filepath.Dir(loggen))) // …/root/usr/bin/loggen → …/root
	env := append(os.Environ(),
		"LD_LIBRARY_PATH="+filepath.Join(root, "usr/lib/syslog-ng")+":"+filepath.Join(root, "usr/lib/x86_64-linux-gnu"),
		"SYSLOGNG_PREFIX="+filepath.Join(root, "usr"))
	h := inputtest.Start(t, "syslog", "octet_counting = true\nrfc5424 = true\ntimezone = \"UTC\"", inputtest.Options{Listeners: 2})
	_, port, _ := strings.Cut(h.TCP, "127.0.0.1:")
	const n = 5
	runs := []struct {
		name string
		args []string
		want map[string]any
	}{
		{"stream", []string{"--inet", "--stream", "--size", "140"}, map[string]any{"timestamp8601": regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$`), "pid": "1234", "version": nil}},
		{"stream syslog-proto", []string{"--inet", "--stream", "--syslog-proto", "--size", "150"}, map[string]any{"version": "1", "pid": "1234", "timestamp8601": nil}},
		{"dgram", []string{"--inet", "--dgram", "--size", "140"}, map[string]any{"timestamp8601": regexp.MustCompile(`^\d{4}-`), "pid": "1234", "version": nil}},
		{"dgram syslog-proto", []string{"--inet", "--dgram", "--syslog-proto", "-F", "--size", "150"}, map[string]any{"version": "1", "pid": "1234"}},
	}
	total := 0
	for _, r := range runs {
		args := append(append([]string{}, r.args...), "--number", fmt.Sprint(n), "--interval", "5", "-Q", "127.0.0.1", port)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		cmd := exec.CommandContext(ctx, loggen, args...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		cancel()
		if err != nil {
			t.Fatalf("loggen %s: %v\n%s", r.name, err, out)
		}
		total += n
		evs := h.WaitEvents(t, total, 15*time.Second)
		for i, e := range evs[total-n:] {
			what := fmt.Sprintf("loggen %s #%d", r.name, i)
			want := map[string]any{
				"priority": 38, "severity": 6, "facility": 4, "severity_label": "Informational",
				"facility_label": "security/authorization", "logsource": "localhost", "program": "prg00000",
				"message": regexp.MustCompile(fmt.Sprintf(`^seq: %010d, thread: 0000, runid: \d+, stamp: \S+ [PAD]+\n$`, i)), "tags": nil,
			}
			for k, v := range r.want {
				want[k] = v
			}
			expect(t, what, e, want)
			recent(t, what, e, time.Now())
		}
	}
}
