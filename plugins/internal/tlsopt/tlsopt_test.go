package tlsopt

import (
	"crypto/tls"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/plugins/internal/testkit/testpki"
)

func fieldOf(err error) string {
	var fe *engine.FieldError
	if errors.As(err, &fe) {
		return fe.Field
	}
	return ""
}

func client(set func(*Client)) Client {
	var c Client
	c.Defaults()
	set(&c)
	return c
}

func TestClientValidate(t *testing.T) {
	on := true
	for _, tc := range []struct {
		c    Client
		want string // the option blamed; "" = valid
	}{
		{client(func(*Client) {}), ""},
		{client(func(c *Client) { c.SSLEnabled = &on }), ""},
		{client(func(c *Client) { c.SSLEnabled, c.SSLVerificationMode = &on, "certificate" }), "ssl_verification_mode"},
		{client(func(c *Client) { c.SSLEnabled, c.SSLSupportedProtocols = &on, []string{"TLSv1.0"} }), "ssl_supported_protocols"},
		{client(func(c *Client) { c.SSLEnabled, c.SSLCertificate = &on, "c.pem" }), "ssl_key"},
		{client(func(c *Client) { c.SSLEnabled, c.SSLKey = &on, "k.pem" }), "ssl_certificate"},
		{client(func(c *Client) { c.SSLCertificateAuthorities = []string{"ca.pem"} }), "ssl_certificate_authorities"},
	} {
		err := tc.c.Validate(tc.c.Enabled())
		if got := fieldOf(err); got != tc.want || (tc.want == "") != (err == nil) {
			t.Errorf("%+v: error %v; want one about %q", tc.c, err, tc.want)
		}
	}
	if err := client(func(c *Client) { c.SSLCertificateAuthorities = []string{"ca.pem"} }).Validate(false); !strings.Contains(errText(err), "ssl_enabled => true") {
		t.Errorf("CA without TLS: %v; want advice to set ssl_enabled", err)
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestClientAliases(t *testing.T) {
	on, off := true, false
	for _, tc := range []struct {
		a    ClientAliases
		c    Client
		tls  bool
		want string
	}{
		{ClientAliases{SSL: &on}, client(func(c *Client) { c.SSLEnabled = &on }), true, "ssl"},
		{ClientAliases{CACert: "a"}, client(func(c *Client) { c.SSLCertificateAuthorities = []string{"b"} }), true, "cacert"},
		{ClientAliases{SSLCertificateVerification: &off}, client(func(c *Client) { c.SSLVerificationMode = "none" }), true, "ssl_certificate_verification"},
		{ClientAliases{CACert: "a"}, client(func(*Client) {}), false, ""},                      // ignored with TLS off, as Logstash does
		{ClientAliases{SSLCertificateVerification: &off}, client(func(*Client) {}), false, ""}, // ignored with TLS off, as Logstash 8 does
		{ClientAliases{CACert: "a", SSL: &on}, client(func(*Client) {}), true, ""},
	} {
		if got := fieldOf(tc.a.Validate(tc.c, tc.tls)); got != tc.want {
			t.Errorf("%+v: error on %q; want %q", tc.a, got, tc.want)
		}
	}
	c := ClientAliases{SSL: &on, CACert: "/ca.pem", SSLCertificateVerification: &off}.Apply(client(func(*Client) {}))
	if !c.Enabled() || c.SSLVerificationMode != "none" || c.TrustSource() != "cacert /ca.pem" {
		t.Errorf("applied: %+v, trust %q", c, c.TrustSource())
	}
}

func TestClientConfig(t *testing.T) {
	ca := testpki.NewCA(t, "ca")
	cli := ca.Client("c")
	c := client(func(c *Client) {
		c.SSLCertificateAuthorities = []string{ca.File}
		c.SSLCertificate, c.SSLKey = cli.CertFile, cli.KeyFile
		c.SSLSupportedProtocols = []string{"TLSv1.3"}
	})
	cfg, err := c.Config()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MinVersion != tls.VersionTLS13 || cfg.MaxVersion != tls.VersionTLS13 || len(cfg.Certificates) != 1 || cfg.RootCAs == nil || cfg.InsecureSkipVerify {
		t.Errorf("config = %+v", cfg)
	}
	if h := ForHost(cfg, "127.0.0.1:6380"); h.ServerName != "127.0.0.1" || cfg.ServerName != "" {
		t.Errorf("ForHost server name %q (original %q)", h.ServerName, cfg.ServerName)
	}
	// Errors name the option and the file.
	c.SSLCertificateAuthorities = []string{cli.KeyFile}
	if _, err := c.Config(); fieldOf(err) != "ssl_certificate_authorities" || !strings.Contains(err.Error(), "no PEM certificate") || !strings.Contains(err.Error(), cli.KeyFile) {
		t.Errorf("a key file as CA: %v", err)
	}
	c.SSLCertificateAuthorities = []string{"/nonexistent/ca.pem"}
	if _, err := c.Config(); fieldOf(err) != "ssl_certificate_authorities" || !strings.Contains(err.Error(), "/nonexistent/ca.pem") {
		t.Errorf("a missing CA: %v", err)
	}
	c.SSLCertificateAuthorities, c.SSLKey = nil, "/nonexistent/key.pem"
	if _, err := c.Config(); fieldOf(err) != "ssl_certificate" || !strings.Contains(err.Error(), "/nonexistent/key.pem") {
		t.Errorf("a missing key: %v", err)
	}
}

func server(set func(*Server)) Server {
	var s Server
	s.Defaults()
	set(&s)
	return s
}

func TestServerValidate(t *testing.T) {
	for _, tc := range []struct {
		s    Server
		want string
	}{
		{server(func(*Server) {}), ""},
		{server(func(s *Server) { s.SSLEnabled = true }), "ssl_certificate"},
		{server(func(s *Server) { s.SSLEnabled, s.SSLCertificate = true, "c" }), "ssl_key"},
		{server(func(s *Server) {
			s.SSLEnabled, s.SSLCertificate, s.SSLKey, s.SSLClientAuthentication = true, "c", "k", "required"
		}), "ssl_certificate_authorities"},
		{server(func(s *Server) { s.SSLClientAuthentication = "sometimes" }), "ssl_client_authentication"},
		{server(func(s *Server) { s.SSLSupportedProtocols = []string{"SSLv3"} }), "ssl_supported_protocols"},
		{server(func(s *Server) { s.SSLSupportedProtocols = nil }), "ssl_supported_protocols"},
	} {
		if got := fieldOf(tc.s.Validate()); got != tc.want {
			t.Errorf("%+v: error on %q; want %q", tc.s, got, tc.want)
		}
	}
}

func TestServerAliases(t *testing.T) {
	on := true
	for _, tc := range []struct {
		a    ServerAliases
		s    Server
		want string
	}{
		{ServerAliases{SSL: &on}, server(func(s *Server) { s.SSLEnabled = true }), "ssl"},
		{ServerAliases{SSLVerifyMode: "peer"}, server(func(s *Server) { s.SSLClientAuthentication = "optional" }), "ssl_verify_mode"},
		{ServerAliases{SSLVerifyMode: "always"}, server(func(*Server) {}), "ssl_verify_mode"},
	} {
		if _, err := tc.a.Apply(tc.s); fieldOf(err) != tc.want {
			t.Errorf("%+v: %v; want an error on %q", tc.a, err, tc.want)
		}
	}
	s, err := ServerAliases{SSL: &on, SSLVerifyMode: "force_peer"}.Apply(server(func(s *Server) { s.SSLClientAuthentication = "none" }))
	if err != nil || !s.SSLEnabled || s.SSLClientAuthentication != "required" {
		t.Errorf("applied: %+v, %v", s, err)
	}
}

func TestServerConfig(t *testing.T) {
	ca := testpki.NewCA(t, "ca")
	srv := ca.Server("localhost")
	s := server(func(s *Server) {
		s.SSLEnabled, s.SSLCertificate, s.SSLKey = true, srv.CertFile, srv.KeyFile
		s.SSLCertificateAuthorities = []string{ca.File}
	})
	cfg, err := s.Config()
	if err != nil {
		t.Fatal(err)
	}
	// Unset ssl_client_authentication with CAs is "required", as Logstash's tcp input.
	if cfg.ClientAuth != tls.RequireAndVerifyClientCert || cfg.ClientCAs == nil || cfg.MinVersion != tls.VersionTLS12 || cfg.MaxVersion != tls.VersionTLS13 {
		t.Errorf("config = %+v", cfg)
	}
	s.SSLKey = "/nonexistent/key.pem"
	if _, err := s.Config(); fieldOf(err) != "ssl_certificate" || !strings.Contains(err.Error(), "/nonexistent/key.pem") {
		t.Errorf("a missing key: %v", err)
	}
	if cfg, err := (Server{}).Config(); cfg != nil || err != nil {
		t.Errorf("disabled: %v, %v", cfg, err)
	}
}

// TestCipherSuites: ssl_cipher_suites limits what TLS 1.2 negotiates, on a
// real handshake between the two groups; an unknown or insecure name is
// refused by Validate.
func TestCipherSuites(t *testing.T) {
	const (
		aes128 = "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"
		aes256 = "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"
	)
	ca := testpki.NewCA(t, "ca")
	pair := ca.Server("127.0.0.1")
	s := server(func(s *Server) {
		s.SSLEnabled, s.SSLCertificate, s.SSLKey = true, pair.CertFile, pair.KeyFile
		s.SSLSupportedProtocols, s.SSLCipherSuites = []string{"TLSv1.2"}, []string{aes128}
	})
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	scfg, err := s.Config()
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", scfg)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = c.(*tls.Conn).Handshake()
			_ = c.Close()
		}
	}()
	dial := func(suite string) (uint16, error) {
		c := client(func(c *Client) { c.SSLCertificateAuthorities, c.SSLCipherSuites = []string{ca.File}, []string{suite} })
		if err := c.Validate(true); err != nil {
			return 0, err
		}
		cfg, err := c.Config()
		if err != nil {
			return 0, err
		}
		conn, err := tls.Dial("tcp", ln.Addr().String(), ForHost(cfg, ln.Addr().String()))
		if err != nil {
			return 0, err
		}
		defer conn.Close()
		return conn.ConnectionState().CipherSuite, nil
	}
	if got, err := dial(aes128); err != nil || tls.CipherSuiteName(got) != aes128 {
		t.Errorf("same suite: %s, %v", tls.CipherSuiteName(got), err)
	}
	if _, err := dial(aes256); err == nil {
		t.Error("a client offering only another suite connected")
	}
	for _, bad := range []string{"TLS_RSA_WITH_RC4_128_SHA", "AES128"} {
		if err := server(func(s *Server) { s.SSLCipherSuites = []string{bad} }).Validate(); fieldOf(err) != "ssl_cipher_suites" {
			t.Errorf("server %s: %v", bad, err)
		}
		if err := client(func(c *Client) { c.SSLCipherSuites = []string{bad} }).Validate(false); fieldOf(err) != "ssl_cipher_suites" {
			t.Errorf("client %s: %v", bad, err)
		}
	}
}

func TestAppendChain(t *testing.T) {
	ca := testpki.NewCA(t, "ca")
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "not.pem")
	os.WriteFile(notPEM, []byte("no certificate here\n"), 0o600)
	var c tls.Certificate
	if err := AppendChain(&c, []string{ca.File, ca.File}); err != nil || len(c.Certificate) != 2 {
		t.Fatalf("two files: %v, %d certificates", err, len(c.Certificate))
	}
	for _, f := range []string{filepath.Join(dir, "missing.pem"), notPEM} {
		if err := AppendChain(&c, []string{f}); err == nil || !strings.Contains(err.Error(), filepath.Base(f)) {
			t.Errorf("%s: %v", f, err)
		}
	}
}
