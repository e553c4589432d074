package email

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/hashicorp/hcl/v2"
	"github.com/pipelined/pipeline/dsl"
	"github.com/pipelined/pipeline/dsl/ir"
	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/enginetest"
	"github.com/pipelined/pipeline/engine/event"
	_ "github.com/pipelined/pipeline/plugins/codecs/plain"
	_ "github.com/pipelined/pipeline/plugins/filters/mutate"
	_ "github.com/pipelined/pipeline/plugins/inputs/generator"
	"github.com/pipelined/pipeline/plugins/internal/testkit/smtptest"
	"github.com/pipelined/pipeline/plugins/internal/testkit/testpki"
)

// memDLQ is a dead letter queue in memory.
type memDLQ struct {
	mu      sync.Mutex
	reasons []string
}

func (d *memDLQ) Put(e *event.Event, from engine.DeadLetterSource, reason string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.reasons = append(d.reasons, reason)
	return nil
}

func (d *memDLQ) all() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.reasons...)
}

// syncBuf is a log sink.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// start builds a .conf pipeline and runs it in the background; wait
// returns once it ended (its inputs ended and it drained) or timeout.
func start(t *testing.T, conf string, s engine.Settings, timeout time.Duration) (p *engine.Pipeline, wait func()) {
	t.Helper()
	cfg, diags := dsl.LoadSource("test.conf", []byte(conf))
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	if s.Logger == nil {
		s.Logger = slog.New(slog.DiscardHandler)
	}
	p, diags = engine.Build(cfg.Pipelines[0], engine.Default, s)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	stop := context.AfterFunc(ctx, p.Abort)
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	return p, func() {
		t.Helper()
		err := <-done
		stop()
		late := ctx.Err() != nil
		cancel()
		if err != nil && !errors.Is(err, engine.ErrAborted) {
			t.Fatal(err)
		}
		if late {
			t.Fatalf("the pipeline did not end within %s", timeout)
		}
	}
}

func run(t *testing.T, conf string, s engine.Settings) *engine.Pipeline {
	p, wait := start(t, conf, s, 60*time.Second)
	wait()
	return p
}

// parts returns the text parts of a mail by content type (one level of
// multipart).
func parts(t *testing.T, m smtptest.Mail) map[string]string {
	t.Helper()
	out := map[string]string{}
	ct, params, err := mime.ParseMediaType(m.Msg.Header.Get("Content-Type"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(ct, "multipart/") {
		b, _ := io.ReadAll(m.Msg.Body)
		out[ct] = decodeQP(t, m.Msg.Header.Get("Content-Transfer-Encoding"), b)
		return out
	}
	mr := multipart.NewReader(m.Msg.Body, params["boundary"])
	for range 10 {
		p, err := mr.NextRawPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(p)
		pct, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		out[pct] = decodeQP(t, p.Header.Get("Content-Transfer-Encoding"), b)
	}
	return out
}

func decodeQP(t *testing.T, enc string, b []byte) string {
	if enc != "quoted-printable" {
		return string(b)
	}
	mr := multipart.NewReader(strings.NewReader("--x\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"+string(b)+"\r\n--x--\r\n"), "x")
	p, err := mr.NextPart()
	if err != nil {
		t.Fatal(err)
	}
	out, _ := io.ReadAll(p)
	return string(out)
}

// TestSendsMail: a real SMTP server on loopback receives one mail per event
// with Logstash's options: sprintf'd addresses and subject, cc in the
// header, bcc only in the envelope, body's \n as line breaks, htmlbody as
// multipart/alternative, AUTH after STARTTLS verified against a CA.
func TestSendsMail(t *testing.T) {
	ca := testpki.NewCA(t, "smtp-ca")
	pair := ca.Server("smtp")
	srv := smtptest.Start(t, &tls.Config{Certificates: []tls.Certificate{pair.TLS}})
	srv.Users = map[string]string{"alerts": "s3cr3t-pw"}
	p := run(t, fmt.Sprintf(`
input { generator { count => 1 lines => ["sudo failed", "ssh failed"] } }
filter { mutate { add_field => { "srv" => "web1" "who" => "ops" } } }
output { email {
  address => "127.0.0.1" port => %d
  to => "%%{who}@example.com, boss@example.com"
  cc => "audit@example.com"
  bcc => "archive@example.com"
  from => "alerts@%%{srv}.example.com"
  replyto => "noreply@example.com"
  subject => "Alert on %%{srv}: %%{message} — ünïcode"
  body => "Host: %%{srv}\nLine: %%{message}"
  htmlbody => "<b>%%{message}</b>"
  username => "alerts" password => "s3cr3t-pw" authentication => "login"
  use_tls => true ssl_certificate_authorities => [%q]
} }`, srv.Port, ca.File), engine.Settings{Workers: 1, BatchSize: 10})
	mails := srv.Mails()
	if len(mails) != 2 {
		t.Fatalf("%d mails, want 2", len(mails))
	}
	if st := p.Stats(); st.Out.Load() != 2 || st.Failed.Load() != 0 {
		t.Errorf("out %d failed %d", st.Out.Load(), st.Failed.Load())
	}
	seen := map[string]bool{}
	for _, m := range mails {
		h := m.Msg.Header
		if !m.TLS || m.User != "alerts" {
			t.Errorf("tls %v user %q", m.TLS, m.User)
		}
		if m.From != "alerts@web1.example.com" || strings.Join(m.Rcpt, ",") != "ops@example.com,boss@example.com,audit@example.com,archive@example.com" {
			t.Errorf("envelope %s -> %v", m.From, m.Rcpt)
		}
		if h.Get("To") != "<ops@example.com>, <boss@example.com>" || h.Get("Cc") != "<audit@example.com>" || h.Get("Bcc") != "" || h.Get("Reply-To") != "<noreply@example.com>" {
			t.Errorf("headers %v", h)
		}
		subj, err := new(mime.WordDecoder).DecodeHeader(h.Get("Subject"))
		if err != nil || !strings.HasPrefix(subj, "Alert on web1: ") || !strings.HasSuffix(subj, " — ünïcode") {
			t.Errorf("subject %q %v", subj, err)
		}
		msg := strings.TrimPrefix(subj, "Alert on web1: ")
		msg = strings.TrimSuffix(msg, " — ünïcode")
		seen[msg] = true
		ps := parts(t, m)
		if ps["text/plain"] != "Host: web1\r\nLine: "+msg || ps["text/html"] != "<b>"+msg+"</b>" {
			t.Errorf("parts %q", ps)
		}
		if h.Get("Message-Id") == "" || h.Get("Date") == "" {
			t.Errorf("no Message-Id or Date: %v", h)
		}
	}
	if !seen["sudo failed"] || !seen["ssh failed"] {
		t.Errorf("mails for %v", seen)
	}
}

// TestRelayDownThenRefusals: with the relay down the events wait (retried,
// nothing acknowledged); once it is up a transient 451 is retried, a
// permanent 550 for one recipient goes to the dead letter queue with the
// server's answer, and every other mail arrives exactly once.
func TestRelayDownThenRefusals(t *testing.T) {
	srv := smtptest.Start(t, nil)
	srv.Stop()
	var mu sync.Mutex
	transient := 3
	srv.Refuse = func(from, rcpt string) error {
		mu.Lock()
		defer mu.Unlock()
		if rcpt == "" && transient > 0 {
			transient--
			return &smtp.SMTPError{Code: 451, Message: "try again later"}
		}
		if rcpt == "nobody@example.com" {
			return &smtp.SMTPError{Code: 550, Message: "no such user"}
		}
		return nil
	}
	dlq := &memDLQ{}
	p, wait := start(t, fmt.Sprintf(`
input { generator { count => 5 lines => ["ops", "nobody"] } }
output { email { address => "127.0.0.1" port => %d to => "%%{message}@example.com" subject => "%%{[event][sequence]} %%{message}" } }`, srv.Port),
		engine.Settings{Workers: 1, BatchSize: 4, DeadLetter: dlq}, 120*time.Second)
	for i := 0; i < 600 && p.Stats().Retries.Load() < 2; i++ {
		time.Sleep(50 * time.Millisecond)
	}
	if p.Stats().Retries.Load() < 2 || p.Stats().Out.Load() != 0 || len(srv.Mails()) != 0 {
		t.Fatalf("while down: retries %d out %d", p.Stats().Retries.Load(), p.Stats().Out.Load())
	}
	srv.Restart()
	wait()
	got := map[string]int{}
	for _, m := range srv.Mails() {
		got[m.Msg.Header.Get("Subject")]++
	}
	if len(got) != 5 {
		t.Errorf("distinct mails %v, want the 5 to ops", got)
	}
	for s, n := range got {
		if n != 1 || !strings.HasSuffix(s, " ops") {
			t.Errorf("%q arrived %d times", s, n)
		}
	}
	reasons := dlq.all()
	if len(reasons) != 5 {
		t.Fatalf("dead-lettered %d, want the 5 to nobody: %v", len(reasons), reasons)
	}
	for _, r := range reasons {
		if !strings.Contains(r, "550") || !strings.Contains(r, "no such user") || !strings.Contains(r, "RCPT TO <nobody@example.com>") {
			t.Errorf("reason %q", r)
		}
	}
	if transient != 0 {
		t.Errorf("the 451 answers were not all given: %d left", transient)
	}
}

// TestPasswordNeverPrinted: a refused login dead-letters the events (a 535
// is permanent) and neither the reasons nor the debug log (debug => true
// logs the SMTP dialogue) hold the password.
func TestPasswordNeverPrinted(t *testing.T) {
	srv := smtptest.Start(t, nil)
	srv.Users = map[string]string{"alerts": "right-one"}
	for _, mech := range []string{"plain", "login"} {
		t.Run(mech, func(t *testing.T) {
			var logs syncBuf
			dlq := &memDLQ{}
			run(t, fmt.Sprintf(`
input { generator { count => 2 message => "x" } }
output { email { address => "127.0.0.1" port => %d to => "a@example.com" username => "alerts" password => "Wr0ng-Pa55" authentication => %q debug => true } }`, srv.Port, mech),
				engine.Settings{Workers: 1, BatchSize: 10, DeadLetter: dlq, Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
			reasons := dlq.all()
			if len(reasons) != 2 || !strings.Contains(reasons[0], "535") {
				t.Fatalf("reasons %v", reasons)
			}
			all := logs.String() + strings.Join(reasons, "\n")
			if !strings.Contains(logs.String(), "AUTH [hidden]") {
				t.Errorf("the debug log shows no SMTP dialogue:\n%s", logs.String())
			}
			for _, leak := range []string{"Wr0ng-Pa55", "V3IwbmctUGE1NQ"} { // the password, its base64
				if strings.Contains(all, leak) {
					t.Errorf("the password leaked:\n%s", all)
				}
			}
		})
	}
	if len(srv.Mails()) != 0 {
		t.Errorf("mails were accepted without login")
	}
}

// TestDiagnostics: check reports option mistakes on the option.
func TestDiagnostics(t *testing.T) {
	for _, tc := range []struct{ opts, want string }{
		{`from = "a@b"`, `"to" is required`},
		{`to = "not an address"`, `is not an address list`},
		{`to = "a@b"
via = "sendmail"`, `only "smtp" is supported`},
		{`to = "a@b"
port = 0`, `is not a TCP port`},
		{`to = "a@b"
authentication = "ntlm"`, `unsupported value "ntlm"`},
		{`to = "a@b"
password = "x"`, `is set without a username`},
		{`to = "a@b"
template_file = "t.mustache"`, `mustache templates are not supported`},
		{`to = "a@b"
ssl_certificate_authorities = ["ca.pem"]`, `only used over TLS`},
	} {
		diags := enginetest.BuildDiags(t, ir.Output, "email", tc.opts)
		found := false
		for _, d := range diags {
			found = found || d.Severity == hcl.DiagError && strings.Contains(d.Summary+"; "+d.Detail, tc.want)
		}
		if !found {
			t.Errorf("%s:\n  diags %v\n  want %q", tc.opts, diags, tc.want)
		}
	}
}

// A server whose greeting never ends (a real TCP server on loopback
// sending one endless line) fails the session after MaxAnswerBytes instead
// of being read into memory until the command timeout.
func TestAnswerBudget(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		chunk := bytes.Repeat([]byte("x"), 64<<10)
		if _, err := c.Write([]byte("220-")); err != nil {
			return
		}
		for range 4 * MaxAnswerBytes / len(chunk) { // bounded: 4 budgets
			if _, err := c.Write(chunk); err != nil {
				return
			}
		}
	}()
	o := Options{}
	o.Defaults()
	o.Address = "127.0.0.1"
	o.Port = ln.Addr().(*net.TCPAddr).Port
	out, err := New(o, engine.Resources{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	s, err := out.dial(context.Background())
	if err == nil {
		s.close(false)
		t.Fatal("an endless greeting was accepted")
	}
	if !errors.Is(err, errAnswerTooLong) {
		t.Errorf("error %v; want the answer budget's", err)
	}
}
