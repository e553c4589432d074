// Package smtptest runs a real SMTP server (github.com/emersion/go-smtp)
// inside the test process on a loopback port: it speaks SMTP over a socket
// (EHLO, STARTTLS, AUTH PLAIN and LOGIN, MAIL, RCPT, DATA), records and
// parses every mail it accepted, can refuse with chosen answers, and can be
// stopped and started again on the same port.
package smtptest

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/mail"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// MaxMessageBytes is the largest mail the server accepts.
const MaxMessageBytes = 16 << 20

// Mail is one accepted mail.
type Mail struct {
	From string
	Rcpt []string
	// Raw is the mail as received (after the dot-unstuffing of DATA).
	Raw []byte
	// Msg is Raw parsed; its Body is Raw's body.
	Msg *mail.Message
	// User is the authenticated user name ("" without AUTH).
	User string
	// TLS tells whether the session was encrypted (STARTTLS).
	TLS bool
}

// Server is the SMTP server.
type Server struct {
	t    testing.TB
	Addr string
	// Port is Addr's port.
	Port int
	// Users, when not empty, are the accepted user names and passwords:
	// AUTH is then required before MAIL.
	Users map[string]string
	// Refuse, when set, is asked for every RCPT (and for DATA with rcpt ""):
	// a non-nil *smtp.SMTPError is the answer.
	Refuse func(from, rcpt string) error

	tlsCfg *tls.Config
	mu     sync.Mutex
	mails  []Mail
	srv    *smtp.Server
	l      net.Listener
}

// Start serves on a new loopback port; tlsCfg, when set, offers STARTTLS.
// The server stops at the end of the test.
func Start(t testing.TB, tlsCfg *tls.Config) *Server {
	t.Helper()
	s := &Server{t: t, tlsCfg: tlsCfg}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.Addr = l.Addr().String()
	s.Port = l.Addr().(*net.TCPAddr).Port
	s.serve(l)
	t.Cleanup(s.Stop)
	return s
}

func (s *Server) serve(l net.Listener) {
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &session{s: s, conn: c}, nil
	}))
	srv.Domain = "smtptest.localhost"
	srv.MaxMessageBytes = MaxMessageBytes
	srv.MaxRecipients = 100
	srv.AllowInsecureAuth = true
	srv.ReadTimeout = 30 * time.Second
	srv.WriteTimeout = 30 * time.Second
	srv.TLSConfig = s.tlsCfg
	s.mu.Lock()
	s.srv, s.l = srv, l
	s.mu.Unlock()
	go func() { _ = srv.Serve(l) }()
}

// Stop closes the listener and every session: the port refuses connections.
func (s *Server) Stop() {
	s.mu.Lock()
	srv, l := s.srv, s.l
	s.srv, s.l = nil, nil
	s.mu.Unlock()
	if l != nil {
		// Closed here too: Serve may not have taken it yet.
		_ = l.Close()
	}
	if srv != nil {
		_ = srv.Close()
	}
}

// Restart serves again on the same port.
func (s *Server) Restart() {
	s.t.Helper()
	var l net.Listener
	var err error
	for range 50 {
		if l, err = net.Listen("tcp", s.Addr); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		s.t.Fatalf("smtptest: listen again on %s: %v", s.Addr, err)
	}
	s.serve(l)
}

// Mails returns the mails accepted so far.
func (s *Server) Mails() []Mail {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Mail(nil), s.mails...)
}

// Wait waits up to timeout for n mails and returns those accepted.
func (s *Server) Wait(n int, timeout time.Duration) []Mail {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if m := s.Mails(); len(m) >= n {
			return m
		}
		time.Sleep(20 * time.Millisecond)
	}
	return s.Mails()
}

type session struct {
	s    *Server
	conn *smtp.Conn
	user string
	from string
	rcpt []string
}

var errAuthRequired = smtp.ErrAuthRequired

func (ss *session) AuthMechanisms() []string { return []string{sasl.Plain, sasl.Login} }

func (ss *session) Auth(mech string) (sasl.Server, error) {
	check := func(user, pass string) error {
		if want, ok := ss.s.Users[user]; !ok || want != pass {
			return smtp.ErrAuthFailed
		}
		ss.user = user
		return nil
	}
	switch mech {
	case sasl.Plain:
		return sasl.NewPlainServer(func(_, user, pass string) error { return check(user, pass) }), nil
	case sasl.Login:
		return &loginServer{check: check}, nil
	}
	return nil, smtp.ErrAuthUnknownMechanism
}

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	if len(ss.s.Users) > 0 && ss.user == "" {
		return errAuthRequired
	}
	ss.from = from
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if f := ss.s.Refuse; f != nil {
		if err := f(ss.from, to); err != nil {
			return err
		}
	}
	ss.rcpt = append(ss.rcpt, to)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if f := ss.s.Refuse; f != nil {
		if err := f(ss.from, ""); err != nil {
			return err
		}
	}
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return &smtp.SMTPError{Code: 554, Message: "cannot parse the mail: " + err.Error()}
	}
	_, isTLS := ss.conn.TLSConnectionState()
	ss.s.mu.Lock()
	ss.s.mails = append(ss.s.mails, Mail{From: ss.from, Rcpt: append([]string(nil), ss.rcpt...), Raw: raw, Msg: msg, User: ss.user, TLS: isTLS})
	ss.s.mu.Unlock()
	return nil
}

func (ss *session) Reset() { ss.from, ss.rcpt = "", nil }

func (ss *session) Logout() error { return nil }

// loginServer is the server side of AUTH LOGIN.
type loginServer struct {
	check func(user, pass string) error
	user  string
	step  int
}

func (l *loginServer) Next(resp []byte) ([]byte, bool, error) {
	switch l.step {
	case 0:
		l.step++
		if resp != nil {
			l.user = string(resp)
			l.step++
			return []byte("Password:"), false, nil
		}
		return []byte("Username:"), false, nil
	case 1:
		l.user = string(resp)
		l.step++
		return []byte("Password:"), false, nil
	case 2:
		return nil, true, l.check(l.user, string(resp))
	}
	return nil, true, errors.New("smtptest: unexpected LOGIN step")
}
