// Package email implements the email output, like Logstash's: it sends one
// mail per event through an SMTP server (a relay, or the local MTA on port
// 25). Every address, the subject and the bodies are sprintf templates
// rendered per event; the usual use is alerting, behind a conditional
// (`if "alert" in [tags] { email { … } }`).
//
// Delivery: the output speaks SMTP itself (EHLO domain, STARTTLS with
// use_tls when offered, AUTH with username and password, MAIL, RCPT for
// every to, cc and bcc address, DATA). An event is acknowledged only once
// the server accepted its mail (the 250 after DATA). A transient refusal
// (a 4xx answer such as 421 or 451) or a failure without an answer
// (connection refused or reset, timeout, TLS handshake) hands the event back
// to the engine, which retries it with its backoff (100 ms doubling to 30 s)
// while holding the batch, so the pipeline back-pressures its inputs and no
// alert is lost while the relay is down. A permanent refusal (a 5xx answer:
// unknown recipient, authentication refused, message too large) or an event
// whose addresses do not parse fails the event for good: it goes to the dead
// letter queue when the pipeline has one, with the server's answer as the
// reason, otherwise it is counted and logged as failed. Logstash logs the
// error and drops the mail in every case; retrying is this output's own.
//
// A Write opens one connection for its events and sends them one after the
// other (RSET between a refused mail and the next), then QUITs. The server
// answers within 60 s per command (5 s to connect); a mail is at most
// 10 MiB (MaxMessageBytes), a larger one fails for good.
//
// The password is never logged nor put into an error, also with debug.
package email

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
)

func init() { engine.RegisterOutput("email", New) }

// Budgets.
const (
	// MaxMessageBytes is the largest mail sent; a larger one fails for good.
	MaxMessageBytes = 10 << 20
	// maxAttachmentBytes is the largest attachment file read.
	maxAttachmentBytes = 10 << 20
	// dialTimeout bounds connecting (Ruby mail's open_timeout is 5 s).
	dialTimeout = 5 * time.Second
	// commandTimeout bounds the wait for each answer of the server.
	commandTimeout = 60 * time.Second
	// maxAnswerInError is how much of a server's answer goes into an error.
	maxAnswerInError = 512
	// MaxAnswerBytes bounds what the server may send for one exchange (the
	// greeting, EHLO, STARTTLS and AUTH; or one mail's MAIL, RCPTs and
	// DATA): SMTP reply lines are at most 512 bytes (RFC 5321 4.5.3.1.5),
	// so more is a broken or hostile server, not an answer to hold in memory.
	MaxAnswerBytes = 1 << 20
)

// errAnswerTooLong ends a session whose server sent more than MaxAnswerBytes.
var errAnswerTooLong = fmt.Errorf("the server sent more than %d bytes in one exchange", MaxAnswerBytes)

// budgetConn fails reads beyond left bytes; session.deadline renews it.
type budgetConn struct {
	net.Conn
	left int64
}

func (b *budgetConn) Read(p []byte) (int, error) {
	if b.left <= 0 {
		return 0, errAnswerTooLong
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.Conn.Read(p)
	b.left -= int64(n)
	return n, err
}

// Output is the email output.
type Output struct {
	opts                       Options
	log                        *slog.Logger
	to, from, replyTo, cc, bcc event.Template
	subject, body, html        event.Template
	tls                        *tls.Config
	addr                       string
}

var _ engine.Output = (*Output)(nil)

// New compiles the templates; it opens nothing.
func New(o Options, r engine.Resources) (*Output, error) {
	out := &Output{opts: o, log: r.Logger, addr: net.JoinHostPort(o.Address, strconv.Itoa(o.Port))}
	if out.log == nil {
		out.log = slog.Default()
	}
	for _, f := range []struct {
		dst *event.Template
		src string
	}{{&out.to, o.To}, {&out.from, o.From}, {&out.replyTo, o.ReplyTo}, {&out.cc, o.CC}, {&out.bcc, o.BCC},
		{&out.subject, o.Subject}, {&out.body, o.Body}, {&out.html, o.HTMLBody}} {
		t, err := event.ParseTemplate(f.src)
		if err != nil {
			return nil, err
		}
		*f.dst = t
	}
	return out, nil
}

// Connect loads the TLS files; the server is reached at the first Write (a
// relay that is down then is retried).
func (o *Output) Connect(context.Context) error {
	if o.tls != nil {
		return nil
	}
	cfg, err := o.opts.Client.Config()
	if err != nil {
		return engine.Permanent(err)
	}
	cfg.ServerName = o.opts.Address
	o.tls = cfg
	return nil
}

// Close has nothing to close: every Write closes its connection.
func (o *Output) Close(context.Context) error { return nil }

// envelope is one event's mail.
type envelope struct {
	from string
	rcpt []string
	data []byte
}

// Write sends one mail per event over one connection.
func (o *Output) Write(ctx context.Context, events []*event.Event) error {
	if o.tls == nil {
		return engine.ErrNotConnected
	}
	failed := map[int]error{}
	var c *session
	defer func() {
		if c != nil {
			c.close(true)
		}
	}()
	for i, e := range events {
		env, err := o.compose(e)
		if err != nil {
			o.log.Error("email output: the event's mail cannot be made, it failed", "error", err)
			failed[i] = engine.Permanent(err)
			continue
		}
		if c == nil {
			if c, err = o.dial(ctx); err != nil {
				c = nil
				if engine.IsPermanent(err) {
					o.log.Error("email output: the server refused the session", "error", err)
				} else {
					o.log.Warn("email output: cannot reach the server, will retry", "error", err)
				}
				for j := i; j < len(events); j++ {
					failed[j] = err
				}
				break
			}
		}
		err = o.send(c, env)
		if err == nil {
			continue
		}
		code := replyCode(err)
		switch {
		case code >= 500:
			o.log.Error("email output: the server refused the mail for good", "error", err)
			failed[i] = engine.Permanent(err)
			c.reset()
		case code >= 400 && code != 421:
			o.log.Warn("email output: the server refused the mail for now, will retry", "error", err)
			failed[i] = err
			c.reset()
		default:
			// The connection is gone (or the server closes it: 421): this
			// mail and the rest are retried on a new one.
			o.log.Warn("email output: sending failed, will retry", "error", err)
			c.close(false)
			c = nil
			failed[i] = err
			if ctx.Err() != nil {
				for j := i + 1; j < len(events); j++ {
					failed[j] = ctx.Err()
				}
				return &engine.BatchError{Failed: failed}
			}
		}
	}
	if len(failed) == 0 {
		return nil
	}
	return &engine.BatchError{Failed: failed}
}

// session is one SMTP connection.
type session struct {
	conn   net.Conn
	budget *budgetConn
	c      *smtp.Client
	stop   func() bool
}

// deadline gives the next exchange commandTimeout and MaxAnswerBytes.
func (s *session) deadline() {
	s.budget.left = MaxAnswerBytes
	_ = s.conn.SetDeadline(time.Now().Add(commandTimeout))
}

func (s *session) reset() {
	s.deadline()
	_ = s.c.Reset()
}

func (s *session) close(quit bool) {
	if quit {
		s.deadline()
		_ = s.c.Quit()
	}
	s.stop()
	_ = s.c.Close()
}

// replyCode is the SMTP reply code of err, 0 when it has none.
func replyCode(err error) int {
	var te *textproto.Error
	if errors.As(err, &te) {
		return te.Code
	}
	return 0
}

// dial connects, greets, upgrades to TLS and authenticates. Errors are
// retried, except a 5xx refusal of AUTH (Permanent).
func (o *Output) dial(ctx context.Context) (*session, error) {
	d := net.Dialer{Timeout: dialTimeout}
	conn, err := d.DialContext(ctx, "tcp", o.addr)
	if err != nil {
		return nil, fmt.Errorf("email: connect to %s: %w", o.addr, err)
	}
	_ = conn.SetDeadline(time.Now().Add(commandTimeout))
	if o.opts.Enabled() {
		tc := tls.Client(conn, o.tls)
		if err := tc.HandshakeContext(ctx); err != nil {
			_ = conn.Close()
			return nil, fmt.Errorf("email: TLS with %s: %w", o.addr, err)
		}
		conn = tc
	}
	budget := &budgetConn{Conn: conn, left: MaxAnswerBytes}
	var raw net.Conn = budget
	if o.opts.Debug {
		raw = &debugConn{Conn: budget, log: o.log}
	}
	c, err := smtp.NewClient(raw, o.opts.Address)
	if err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("email: %s: %w", o.addr, err)
	}
	// Aborting the pipeline closes the connection under a blocked command.
	s := &session{conn: conn, budget: budget, c: c, stop: context.AfterFunc(ctx, func() { _ = conn.Close() })}
	fail := func(err error) (*session, error) {
		s.close(false)
		err = fmt.Errorf("email: %s: %w", o.addr, o.clean(err))
		if replyCode(err) >= 500 {
			return nil, engine.Permanent(err)
		}
		return nil, err
	}
	if err := c.Hello(o.opts.Domain); err != nil {
		return fail(err)
	}
	if o.opts.UseTLS && !o.opts.Enabled() {
		if ok, _ := c.Extension("STARTTLS"); ok {
			if err := c.StartTLS(o.tls); err != nil {
				return fail(err)
			}
		} else {
			o.log.Debug("email output: the server offers no STARTTLS, going on in clear text (use_tls as Logstash's)", "address", o.addr)
		}
	}
	if o.opts.Username != "" {
		if err := c.Auth(&auth{mech: strings.ToLower(o.opts.Authentication), user: o.opts.Username, pass: o.opts.Password}); err != nil {
			return fail(err)
		}
	}
	return s, nil
}

// clean keeps the password out of an error (a server may echo what it got).
func (o *Output) clean(err error) error {
	if o.opts.Password == "" || !strings.Contains(err.Error(), o.opts.Password) {
		return err
	}
	if code := replyCode(err); code != 0 {
		return &textproto.Error{Code: code, Msg: "[answer hidden: it holds the password]"}
	}
	return errors.New("[error hidden: it holds the password]")
}

// send submits one mail; the error is the server's answer or the
// connection's failure.
func (o *Output) send(s *session, env envelope) error {
	s.deadline()
	c := s.c
	if err := c.Mail(env.from); err != nil {
		return o.explain("MAIL FROM", err)
	}
	for _, r := range env.rcpt {
		if err := c.Rcpt(r); err != nil {
			return o.explain("RCPT TO <"+r+">", err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return o.explain("DATA", err)
	}
	if _, err := w.Write(env.data); err != nil {
		_ = w.Close()
		return o.explain("DATA", err)
	}
	s.deadline()
	if err := w.Close(); err != nil {
		return o.explain("end of DATA", err)
	}
	return nil
}

func (o *Output) explain(step string, err error) error {
	err = o.clean(err)
	var te *textproto.Error
	if errors.As(err, &te) && len(te.Msg) > maxAnswerInError {
		err = &textproto.Error{Code: te.Code, Msg: te.Msg[:maxAnswerInError] + "…"}
	}
	return fmt.Errorf("email: %s: %s: %w", o.addr, step, err)
}

// addresses renders a template into a list of addresses (empty for an
// empty rendering).
func addresses(field string, t event.Template, e *event.Event) ([]*mail.Address, error) {
	s := strings.TrimSpace(t.Render(e))
	if s == "" {
		return nil, nil
	}
	l, err := mail.ParseAddressList(s)
	if err != nil {
		return nil, fmt.Errorf("email: %s %q: %w", field, s, err)
	}
	return l, nil
}

func join(l []*mail.Address) string {
	s := make([]string, len(l))
	for i, a := range l {
		s[i] = a.String()
	}
	return strings.Join(s, ", ")
}

// compose renders the event's mail.
func (o *Output) compose(e *event.Event) (envelope, error) {
	var env envelope
	lists := map[string][]*mail.Address{}
	for _, f := range []struct {
		name string
		t    event.Template
	}{{"to", o.to}, {"from", o.from}, {"replyto", o.replyTo}, {"cc", o.cc}, {"bcc", o.bcc}} {
		l, err := addresses(f.name, f.t, e)
		if err != nil {
			return env, err
		}
		lists[f.name] = l
	}
	if len(lists["to"]) == 0 {
		return env, errors.New("email: to is empty for this event")
	}
	if len(lists["from"]) != 1 {
		return env, fmt.Errorf("email: from %q is not one address", o.from.Render(e))
	}
	env.from = lists["from"][0].Address
	for _, k := range []string{"to", "cc", "bcc"} {
		for _, a := range lists[k] {
			env.rcpt = append(env.rcpt, a.Address)
		}
	}
	var b bytes.Buffer
	hdr := func(k, v string) {
		if v != "" {
			b.WriteString(k + ": " + v + "\r\n")
		}
	}
	hdr("From", join(lists["from"]))
	hdr("To", join(lists["to"]))
	hdr("Cc", join(lists["cc"]))
	hdr("Reply-To", join(lists["replyto"]))
	subject := strings.NewReplacer("\r", " ", "\n", " ").Replace(o.subject.Render(e))
	b.WriteString("Subject: " + mime.QEncoding.Encode("UTF-8", subject) + "\r\n")
	hdr("Date", time.Now().Format(time.RFC1123Z))
	hdr("Message-ID", messageID(o.opts.Domain))
	hdr("MIME-Version", "1.0")
	// Logstash turns the two characters \n of body into a line break.
	text := strings.ReplaceAll(o.body.Render(e), `\n`, "\n")
	html := ""
	if o.opts.HTMLBody != "" {
		html = o.html.Render(e)
	}
	if len(o.opts.Attachments) == 0 {
		if err := writeBody(&b, text, html, o.opts.ContentType); err != nil {
			return env, err
		}
	} else {
		mw := multipart.NewWriter(&b)
		b.WriteString("Content-Type: multipart/mixed; boundary=" + mw.Boundary() + "\r\n\r\n")
		var inner bytes.Buffer
		if err := writeBody(&inner, text, html, o.opts.ContentType); err != nil {
			return env, err
		}
		h, body, _ := bytes.Cut(inner.Bytes(), []byte("\r\n\r\n"))
		pw, _ := mw.CreatePart(parseHeader(h))
		_, _ = pw.Write(body)
		for _, path := range o.opts.Attachments {
			if err := attach(mw, path); err != nil {
				return env, err
			}
		}
		_ = mw.Close()
	}
	if b.Len() > MaxMessageBytes {
		return env, fmt.Errorf("email: the mail is %d bytes, more than %d", b.Len(), MaxMessageBytes)
	}
	env.data = b.Bytes()
	return env, nil
}

// writeBody writes the Content-Type header, a blank line and the body: one
// text part, or text and HTML as multipart/alternative.
func writeBody(b *bytes.Buffer, text, html, htmlType string) error {
	if html == "" {
		b.WriteString("Content-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n")
		return qp(b, text)
	}
	mw := multipart.NewWriter(b)
	b.WriteString("Content-Type: multipart/alternative; boundary=" + mw.Boundary() + "\r\n\r\n")
	for _, p := range []struct{ ctype, body string }{{"text/plain; charset=UTF-8", text}, {htmlType, html}} {
		h := textproto.MIMEHeader{}
		h.Set("Content-Type", p.ctype)
		h.Set("Content-Transfer-Encoding", "quoted-printable")
		w, _ := mw.CreatePart(h)
		var pb bytes.Buffer
		if err := qp(&pb, p.body); err != nil {
			return err
		}
		_, _ = w.Write(pb.Bytes())
	}
	return mw.Close()
}

func qp(b *bytes.Buffer, s string) error {
	w := quotedprintable.NewWriter(b)
	s = strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\n", "\r\n")
	if _, err := io.WriteString(w, s); err != nil {
		return err
	}
	return w.Close()
}

func parseHeader(h []byte) textproto.MIMEHeader {
	out := textproto.MIMEHeader{}
	for _, line := range strings.Split(string(h), "\r\n") {
		if k, v, ok := strings.Cut(line, ": "); ok {
			out.Set(k, v)
		}
	}
	return out
}

// attach adds a file as a base64 part.
func attach(mw *multipart.Writer, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("email: attachment: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxAttachmentBytes+1))
	if err != nil {
		return fmt.Errorf("email: attachment %s: %w", path, err)
	}
	if len(data) > maxAttachmentBytes {
		return fmt.Errorf("email: attachment %s is larger than %d bytes", path, maxAttachmentBytes)
	}
	name := filepath.Base(path)
	h := textproto.MIMEHeader{}
	ctype := mime.TypeByExtension(filepath.Ext(name))
	if ctype == "" {
		ctype = "application/octet-stream"
	}
	h.Set("Content-Type", mime.FormatMediaType(ctype, map[string]string{"name": name}))
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": name}))
	h.Set("Content-Transfer-Encoding", "base64")
	w, _ := mw.CreatePart(h)
	enc := base64.StdEncoding.EncodeToString(data)
	for len(enc) > 76 {
		_, _ = io.WriteString(w, enc[:76]+"\r\n")
		enc = enc[76:]
	}
	_, _ = io.WriteString(w, enc+"\r\n")
	return nil
}

func messageID(domain string) string {
	var r [12]byte
	_, _ = rand.Read(r[:])
	return "<" + hex.EncodeToString(r[:]) + "@" + domain + ">"
}

// auth is SMTP AUTH with plain, login or cram_md5 (net/smtp's PlainAuth
// refuses clear text to another host, which Logstash allows).
type auth struct{ mech, user, pass string }

func (a *auth) Start(*smtp.ServerInfo) (string, []byte, error) {
	switch a.mech {
	case "login":
		return "LOGIN", nil, nil
	case "cram_md5":
		return "CRAM-MD5", nil, nil
	}
	return "PLAIN", []byte("\x00" + a.user + "\x00" + a.pass), nil
}

func (a *auth) Next(challenge []byte, more bool) ([]byte, error) {
	if !more {
		return nil, nil
	}
	switch a.mech {
	case "login":
		switch strings.ToLower(strings.TrimSpace(string(challenge))) {
		case "username:", "user name", "username":
			return []byte(a.user), nil
		case "password:", "password":
			return []byte(a.pass), nil
		}
		return nil, fmt.Errorf("email: unexpected LOGIN challenge %q", challenge)
	case "cram_md5":
		m := hmac.New(md5.New, []byte(a.pass))
		m.Write(challenge)
		return []byte(a.user + " " + hex.EncodeToString(m.Sum(nil))), nil
	}
	return nil, errors.New("email: unexpected challenge to AUTH PLAIN")
}

// debugConn logs the SMTP dialogue at debug level, AUTH exchanges hidden.
type debugConn struct {
	net.Conn
	log    *slog.Logger
	inAuth bool
}

func (d *debugConn) Read(p []byte) (int, error) {
	n, err := d.Conn.Read(p)
	if n > 0 {
		d.log.Debug("email output: smtp <", "line", strings.TrimRight(string(p[:n]), "\r\n"))
	}
	return n, err
}

func (d *debugConn) Write(p []byte) (int, error) {
	line := strings.TrimRight(string(p), "\r\n")
	up := strings.ToUpper(line)
	switch {
	case strings.HasPrefix(up, "AUTH"):
		d.inAuth = true
		line = "AUTH [hidden]"
	case d.inAuth && !strings.HasPrefix(up, "MAIL") && !strings.HasPrefix(up, "QUIT"):
		line = "[hidden]"
	default:
		d.inAuth = false
	}
	if len(line) > maxAnswerInError {
		line = line[:maxAnswerInError] + "…"
	}
	d.log.Debug("email output: smtp >", "line", line)
	return d.Conn.Write(p)
}
