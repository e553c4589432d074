package email

import (
	"fmt"
	"net/mail"
	"slices"
	"strings"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/plugins/internal/tlsopt"
)

// Options configures the email output; the names and defaults are those of
// Logstash's logstash-output-email.
type Options struct {
	// To is who the mail goes to: one address or a comma-separated list
	// ("me@example.com, you@example.com"), a sprintf template. Required.
	To string `hcl:"to"`
	// From is the From: address, a sprintf template.
	From string `hcl:"from,optional"`
	// ReplyTo is the Reply-To: address, a sprintf template; unset, none.
	ReplyTo string `hcl:"replyto,optional"`
	// CC are the Cc: addresses, as to.
	CC string `hcl:"cc,optional"`
	// BCC are blind copies: recipients of the mail that are not written in
	// its header.
	BCC string `hcl:"bcc,optional"`
	// Via is how the mail is sent: "smtp" (the only one: a local
	// sendmail is reached the same way through its SMTP port).
	Via string `hcl:"via,optional"`
	// Address is the host name or IP address of the SMTP server (the relay).
	Address string `hcl:"address,optional"`
	// Port is the SMTP server's port.
	Port int `hcl:"port,optional"`
	// Domain is the name the output gives itself in EHLO (HELO).
	Domain string `hcl:"domain,optional"`
	// Username authenticates to the server (SMTP AUTH) when set.
	Username string `hcl:"username,optional"`
	// Password is username's password. It is never logged nor put into an
	// error.
	Password string `hcl:"password,optional"`
	// Authentication is the SMTP AUTH mechanism: "plain", "login" or
	// "cram_md5"; unset, "plain" when username is set.
	Authentication string `hcl:"authentication,optional"`
	// UseTLS upgrades the connection with STARTTLS when the server offers
	// it, as Logstash's (Ruby mail's enable_starttls_auto); the server's
	// certificate is verified with the ssl_* options. A server that offers
	// no STARTTLS is then spoken to in clear text, as in Logstash: set
	// ssl_enabled => true to require TLS from the first byte (SMTPS, port
	// 465) instead.
	UseTLS bool `hcl:"use_tls,optional"`
	// Debug logs every SMTP command and answer at debug level (the
	// password excepted).
	Debug bool `hcl:"debug,optional"`
	// Subject is the Subject:, a sprintf template.
	Subject string `hcl:"subject,optional"`
	// Body is the plain-text body, a sprintf template; the two characters
	// \n in it are turned into a line break, as Logstash does.
	Body string `hcl:"body,optional"`
	// HTMLBody is an HTML body, a sprintf template: when set, the mail is
	// multipart/alternative with body as its text part and this as its HTML
	// part.
	HTMLBody string `hcl:"htmlbody,optional"`
	// TemplateFile (a mustache template for the HTML body) is not
	// supported: use htmlbody with %{field} references.
	TemplateFile string `hcl:"template_file,optional"`
	// Attachments are paths of files attached to every mail, read when a
	// mail is sent (at most 10 MiB each).
	Attachments []string `hcl:"attachments,optional"`
	// ContentType is the Content-Type of the HTML part.
	ContentType string `hcl:"contenttype,optional"`
	// ssl_enabled => true speaks TLS from the connection's first byte
	// (SMTPS); the other ssl_* options verify the server's certificate for
	// it and for use_tls (STARTTLS).
	tlsopt.Client
}

// Defaults sets Logstash's defaults.
func (o *Options) Defaults() {
	o.From = "logstash.alert@example.com"
	o.Via = "smtp"
	o.Address = "localhost"
	o.Port = 25
	o.Domain = "localhost"
	o.ContentType = "text/html; charset=UTF-8"
	o.Client.Defaults()
}

func fieldErr(field, format string, args ...any) error {
	return &engine.FieldError{Field: field, Err: fmt.Errorf(format, args...)}
}

// mechanisms are the authentication values (Ruby mail's names).
var mechanisms = []string{"plain", "login", "cram_md5"}

// Validate checks the options; it reads no file.
func (o *Options) Validate() error {
	for _, f := range []struct{ name, v string }{
		{"to", o.To}, {"from", o.From}, {"replyto", o.ReplyTo}, {"cc", o.CC}, {"bcc", o.BCC},
		{"subject", o.Subject}, {"body", o.Body}, {"htmlbody", o.HTMLBody},
	} {
		t, err := event.ParseTemplate(f.v)
		if err != nil {
			return fieldErr(f.name, "%v", err)
		}
		if t.IsConstant() && f.v != "" && f.name != "subject" && f.name != "body" && f.name != "htmlbody" {
			if _, err := mail.ParseAddressList(f.v); err != nil {
				return fieldErr(f.name, "%q is not an address list: %v", f.v, err)
			}
		}
	}
	if strings.TrimSpace(o.To) == "" {
		return fieldErr("to", "required")
	}
	if o.Via != "smtp" {
		return fieldErr("via", "unsupported value %q: only \"smtp\" is supported (point address and port at the local MTA to use sendmail)", o.Via)
	}
	if o.Address == "" || strings.ContainsAny(o.Address, " /\r\n") {
		return fieldErr("address", "%q is not a host name or IP address", o.Address)
	}
	if o.Port < 1 || o.Port > 65535 {
		return fieldErr("port", "%d is not a TCP port", o.Port)
	}
	if o.Domain == "" || strings.ContainsAny(o.Domain, " \r\n") {
		return fieldErr("domain", "%q is not a host name", o.Domain)
	}
	if o.Authentication != "" && !slices.Contains(mechanisms, strings.ToLower(o.Authentication)) {
		return fieldErr("authentication", "unsupported value %q: use plain, login or cram_md5", o.Authentication)
	}
	if o.Authentication != "" && o.Username == "" {
		return fieldErr("authentication", "is set without a username")
	}
	if o.Password != "" && o.Username == "" {
		return fieldErr("password", "is set without a username")
	}
	if o.TemplateFile != "" {
		return fieldErr("template_file", "mustache templates are not supported: use htmlbody with %%{field} references")
	}
	if strings.ContainsAny(o.ContentType, "\r\n") {
		return fieldErr("contenttype", "must be one line")
	}
	return o.Client.Validate(o.UseTLS || o.Enabled())
}
