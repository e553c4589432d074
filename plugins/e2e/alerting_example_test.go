package e2e_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pipelined/pipeline/plugins/internal/testkit/servertest"
	"github.com/pipelined/pipeline/plugins/internal/testkit/smtptest"
)

// alertaRecorder is a real HTTP server on loopback standing in for Alerta
// (a Python application not installed here): it checks the API key header
// and the JSON shape of /alert and /heartbeat as Alerta's API does, and
// records what it accepted.
type alertaRecorder struct {
	mu  sync.Mutex
	key string
	// unavailable makes it answer 503 to every request (an outage),
	// counted in refused503.
	unavailable bool
	refused503  int
	alerts      []map[string]any
	beats       []map[string]any
	bad         []string
}

func (a *alertaRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.unavailable {
		a.refused503++
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	var m map[string]any
	err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&m)
	problem := ""
	switch {
	case r.Header.Get("Authorization") != "Key "+a.key:
		problem = "authorization " + r.Header.Get("Authorization")
		w.WriteHeader(401)
	case err != nil || r.Method != "POST":
		problem = fmt.Sprintf("%s %v", r.Method, err)
		w.WriteHeader(400)
	case r.URL.Path == "/api/alert":
		for _, k := range []string{"resource", "event", "environment", "severity", "text", "origin"} {
			if s, _ := m[k].(string); s == "" {
				problem += " no " + k
			}
		}
		for _, k := range []string{"service", "correlate", "tags"} {
			if _, ok := m[k].([]any); !ok {
				problem += " " + k + " not a list"
			}
		}
		if _, ok := m["timeout"].(float64); !ok {
			problem += " timeout not a number"
		}
		if problem == "" {
			a.alerts = append(a.alerts, m)
			w.WriteHeader(201)
		} else {
			w.WriteHeader(400)
		}
	case r.URL.Path == "/api/heartbeat":
		if s, _ := m["origin"].(string); s == "" {
			problem = "heartbeat without origin"
			w.WriteHeader(400)
		} else {
			a.beats = append(a.beats, m)
			w.WriteHeader(201)
		}
	default:
		problem = "path " + r.URL.Path
		w.WriteHeader(404)
	}
	if problem != "" {
		a.bad = append(a.bad, problem)
	}
}

func (a *alertaRecorder) counts() (int, int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.alerts), len(a.beats)
}

// TestAlertingExample runs examples/alerting/sec-alerta (.conf and .hcl):
// sshd, sudo, sshguard, pfSense and rsnapshot lines sent by logger over
// syslog TCP produce exactly the expected Alerta alerts and heartbeat
// (checked by an HTTP server for the JSON shape and the API key) and the
// expected mails (received by a real SMTP server on loopback).
func TestAlertingExample(t *testing.T) {
	for _, file := range []string{"sec-alerta.conf", "sec-alerta.hcl"} {
		t.Run(file, func(t *testing.T) { runSecAlerta(t, file, 0) })
	}
}

// TestAlertingExampleOutage: the SMTP relay down and Alerta answering 503
// for the first 10 s after the lines arrive: once both are back every
// alert, heartbeat and mail is delivered, exactly once (the pipeline held
// and retried them; a 503 or a refused connection is no delivery).
func TestAlertingExampleOutage(t *testing.T) {
	runSecAlerta(t, "sec-alerta.conf", 10*time.Second)
}

// runSecAlerta runs the example, with the outputs' servers unavailable for
// outage after the lines were sent.
func runSecAlerta(t *testing.T, file string, outage time.Duration) {
	logger := servertest.Require(t, "logger", "LOGGER_BIN", "logger")
	smtp := smtptest.Start(t, nil)
	al := &alertaRecorder{key: "example-key-42"}
	if outage > 0 {
		smtp.Stop()
		al.unavailable = true
	}
	hs := httptest.NewServer(al)
	defer hs.Close()
	port := topoFreePort(t)
	t.Setenv("SYSLOG_PORT", fmt.Sprint(port))
	t.Setenv("SYSLOG_HOST", "127.0.0.1")
	t.Setenv("ALERTA_URL", hs.URL+"/api")
	t.Setenv("ALERTA_API_KEY", "example-key-42")
	t.Setenv("SMTP_HOST", "127.0.0.1")
	t.Setenv("SMTP_PORT", fmt.Sprint(smtp.Port))
	t.Setenv("ALERT_MAIL_TO", "secops@example.com")
	src, err := os.ReadFile(filepath.Join("..", "..", "examples", "alerting", file))
	if err != nil {
		t.Fatal(err)
	}
	stop := topoRun(t, file, string(src), 1)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	topoWait(t, 10*time.Second, func() string { return "tcp listener" }, func() bool {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	send := func(tag, stdin string) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, logger, "--server", "127.0.0.1", "--port", fmt.Sprint(port), "--tcp", "--rfc3164", "-t", tag, "-p", "auth.info")
		cmd.Stdin = strings.NewReader(stdin)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("logger: %v\n%s", err, b)
		}
	}
	// 3 failures for root from 10.0.0.5: one alert (and mail); 2 for
	// bob: none; one accepted login: nothing.
	send("sshd", "Failed password for root from 10.0.0.5 port 4242 ssh2\nFailed password for invalid user bob from 10.0.0.6 port 4243 ssh2\n"+
		"Failed password for root from 10.0.0.5 port 4244 ssh2\nAccepted publickey for alice from 10.0.0.7 port 4245 ssh2\n"+
		"Failed password for invalid user bob from 10.0.0.6 port 4246 ssh2\nFailed password for root from 10.0.0.5 port 4247 ssh2\n")
	send("sudo", "pam_unix(sudo:auth): authentication failure; logname=carol uid=1000 euid=0 tty=/dev/pts/1 ruser=carol rhost=  user=carol\n")
	send("sshguard", "Attack from \"10.0.0.9\" on service 100 with danger 10.\n")
	send("php-fpm", "/index.php: webConfigurator authentication error for user 'admin' from: 10.0.0.8\n/index.php: webConfigurator authentication error for user 'admin' from: 10.0.0.8\n")
	send("rsnapshot", "rsnapshot hourly: completed successfully\n")
	if outage > 0 {
		down := time.Now()
		topoWait(t, outage+20*time.Second, func() string { return "refused requests to Alerta during the outage" }, func() bool {
			al.mu.Lock()
			defer al.mu.Unlock()
			return al.refused503 > 0 && time.Since(down) >= outage
		})
		if a, b := al.counts(); a+b+len(smtp.Mails()) != 0 {
			t.Fatalf("delivered during the outage: alerts %d heartbeats %d mails %d", a, b, len(smtp.Mails()))
		}
		smtp.Restart()
		al.mu.Lock()
		al.unavailable = false
		al.mu.Unlock()
	}
	topoWait(t, 20*time.Second+2*outage, func() string {
		a, b := al.counts()
		return fmt.Sprintf("alerts %d (want 4), heartbeats %d (want 1), mails %d (want 2), refused %v", a, b, len(smtp.Mails()), al.bad)
	}, func() bool {
		a, b := al.counts()
		return a >= 4 && b >= 1 && len(smtp.Mails()) >= 2
	})
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	al.mu.Lock()
	defer al.mu.Unlock()
	if len(al.bad) > 0 {
		t.Errorf("refused requests: %v", al.bad)
	}
	var events []string
	for _, a := range al.alerts {
		events = append(events, fmt.Sprint(a["event"], "/", a["severity"], "/", a["value"]))
		if a["environment"] != "Production" || a["group"] != "Security" {
			t.Errorf("alert %v", a)
		}
	}
	sort.Strings(events)
	if got := strings.Join(events, " "); got != "SshBruteForce/major/3 SshguardAttack/critical/1 SudoAuthFailure/minor/1 WebUiLoginFailure/major/2" {
		t.Errorf("alerts %s", got)
	}
	for _, a := range al.alerts {
		text, _ := a["text"].(string)
		switch a["event"] {
		case "SudoAuthFailure":
			if !strings.Contains(text, "sudo: pam_unix(sudo:auth): authentication failure; logname=carol") {
				t.Errorf("sudo text %q (want the whole line)", text)
			}
		case "SshBruteForce":
			if !strings.Contains(text, "3 failed ssh logins for root from 10.0.0.5") {
				t.Errorf("ssh text %q", text)
			}
		}
	}
	if len(al.beats) != 1 || !strings.HasSuffix(fmt.Sprint(al.beats[0]["origin"]), "_backup") || al.beats[0]["timeout"] != 86400.0 {
		t.Errorf("heartbeats %v", al.beats)
	}
	var subjects []string
	for _, m := range smtp.Mails() {
		s, _ := new(mime.WordDecoder).DecodeHeader(m.Msg.Header.Get("Subject"))
		subjects = append(subjects, s)
		if strings.Join(m.Rcpt, ",") != "secops@example.com" {
			t.Errorf("rcpt %v", m.Rcpt)
		}
	}
	sort.Strings(subjects)
	if len(subjects) != 2 || !strings.HasPrefix(subjects[0], "[critical] SshguardAttack on ") || !strings.HasPrefix(subjects[1], "[major] SshBruteForce on ") {
		t.Errorf("mails %q", subjects)
	}
}
