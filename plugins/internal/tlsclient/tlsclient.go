// Package tlsclient turns Logstash's client-side ssl_* options (those of the
// redis and elasticsearch outputs and the redis input) into a crypto/tls
// configuration, so every plugin that dials a server checks and loads them the
// same way.
//
// Plugins declare the options in their own Options struct (gohcl cannot decode
// into an embedded struct) and copy them into a Settings.
package tlsclient

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"

	"github.com/pipelined/pipeline/engine"
)

// Settings are the ssl_* options of a client plugin.
type Settings struct {
	Enabled bool
	// CertificateAuthorities are PEM files of the CAs that sign the server's
	// certificate; empty means the system roots.
	CertificateAuthorities []string
	// Certificate and Key are the client certificate and key (PEM) presented
	// to servers that ask for one; both or neither.
	Certificate, Key string
	// VerificationMode is "full" (the default: chain and host name) or "none".
	VerificationMode string
	// SupportedProtocols lists the allowed versions among "TLSv1.1",
	// "TLSv1.2" and "TLSv1.3"; empty means TLSv1.2 and TLSv1.3.
	SupportedProtocols []string
}

var versions = map[string]uint16{
	"TLSv1.1": tls.VersionTLS11,
	"TLSv1.2": tls.VersionTLS12,
	"TLSv1.3": tls.VersionTLS13,
}

// Validate checks the settings without reading files; errors name the option.
func (s Settings) Validate() error {
	fe := func(f, format string, args ...any) error {
		return &engine.FieldError{Field: f, Err: fmt.Errorf(format, args...)}
	}
	switch s.VerificationMode {
	case "", "full", "none":
	default:
		return fe("ssl_verification_mode", "unknown mode %q: use full or none", s.VerificationMode)
	}
	for _, p := range s.SupportedProtocols {
		if _, ok := versions[p]; !ok {
			return fe("ssl_supported_protocols", "unknown protocol %q: use TLSv1.1, TLSv1.2 or TLSv1.3", p)
		}
	}
	if (s.Certificate == "") != (s.Key == "") {
		if s.Certificate == "" {
			return fe("ssl_certificate", "required with ssl_key")
		}
		return fe("ssl_key", "required with ssl_certificate")
	}
	if !s.Enabled && (len(s.CertificateAuthorities) > 0 || s.Certificate != "") {
		return fe("ssl_enabled", "set ssl_enabled => true to use the ssl_* certificate options")
	}
	return nil
}

// Config loads the files and returns the client configuration for serverName
// (the host dialled), or nil when TLS is off. Errors name the file.
func (s Settings) Config(serverName string) (*tls.Config, error) {
	if !s.Enabled {
		return nil, nil
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	cfg := &tls.Config{ServerName: serverName, MinVersion: tls.VersionTLS12, MaxVersion: tls.VersionTLS13}
	if len(s.SupportedProtocols) > 0 {
		cfg.MinVersion, cfg.MaxVersion = tls.VersionTLS13, tls.VersionTLS11
		for _, p := range s.SupportedProtocols {
			v := versions[p]
			cfg.MinVersion = min(cfg.MinVersion, v)
			cfg.MaxVersion = max(cfg.MaxVersion, v)
		}
	}
	if len(s.CertificateAuthorities) > 0 {
		pool := x509.NewCertPool()
		for _, f := range s.CertificateAuthorities {
			pem, err := os.ReadFile(f)
			if err != nil {
				return nil, &engine.FieldError{Field: "ssl_certificate_authorities", Err: err}
			}
			if !pool.AppendCertsFromPEM(pem) {
				return nil, &engine.FieldError{Field: "ssl_certificate_authorities", Err: fmt.Errorf("%s: no PEM certificate found", f)}
			}
		}
		cfg.RootCAs = pool
	}
	if s.Certificate != "" {
		c, err := tls.LoadX509KeyPair(s.Certificate, s.Key)
		if err != nil {
			return nil, &engine.FieldError{Field: "ssl_certificate", Err: fmt.Errorf("load %s and %s: %w", s.Certificate, s.Key, err)}
		}
		cfg.Certificates = []tls.Certificate{c}
	}
	if s.VerificationMode == "none" {
		// Logstash's "none" trusts any certificate; it is documented as
		// unsafe and only meant for testing.
		cfg.InsecureSkipVerify = true
	}
	return cfg, nil
}

// Explain turns a handshake failure into advice naming the option to fix.
func Explain(err error) error {
	var unknown x509.UnknownAuthorityError
	var host x509.HostnameError
	switch {
	case errors.As(err, &unknown):
		return fmt.Errorf("%w (the server's certificate is not signed by a CA in ssl_certificate_authorities)", err)
	case errors.As(err, &host):
		return fmt.Errorf("%w (the host name dialled is not in the server's certificate)", err)
	}
	return err
}

// ForHost returns a copy of cfg for dialling addr ("host:port"): the host is
// the name the server's certificate must hold. A nil cfg stays nil.
func ForHost(cfg *tls.Config, addr string) *tls.Config {
	if cfg == nil {
		return nil
	}
	c := cfg.Clone()
	if c.ServerName == "" {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			host = addr
		}
		c.ServerName = host
	}
	return c
}
