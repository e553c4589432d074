package tlsopt

import "crypto/tls"

// Syslog is the ssl_* options of the syslog output (protocol "ssl-tcp"),
// named as Logstash's, which differ from Client's: ssl_verify is a boolean
// and false by default, as in Logstash (the server's certificate is then not
// checked at all).
type Syslog struct {
	// SSLVerify checks the server's certificate against
	// ssl_certificate_authorities (or the system's roots) and the host name.
	SSLVerify bool `hcl:"ssl_verify,optional"`
	// SSLCertificateAuthorities are paths of PEM files holding the CA
	// certificates the server's certificate is verified against.
	SSLCertificateAuthorities []string `hcl:"ssl_certificate_authorities,optional"`
	// SSLCACert is the deprecated name of ssl_certificate_authorities (one
	// file).
	SSLCACert string `hcl:"ssl_cacert,optional" deprecated:"ssl_certificate_authorities"`
	// SSLCertificate is the path of the client certificate (PEM) presented
	// to the server; ssl_key is then required.
	SSLCertificate string `hcl:"ssl_certificate,optional"`
	// SSLCert is the deprecated name of ssl_certificate.
	SSLCert string `hcl:"ssl_cert,optional" deprecated:"ssl_certificate"`
	// SSLKey is the path of the client certificate's private key (PEM).
	SSLKey string `hcl:"ssl_key,optional"`
	// SSLKeyPassphrase would decrypt an encrypted ssl_key: encrypted keys are
	// not supported, so setting it is refused.
	SSLKeyPassphrase string `hcl:"ssl_key_passphrase,optional"`
	// SSLCRLPath would name certificate revocation lists: not supported, so
	// setting it is refused.
	SSLCRLPath string `hcl:"ssl_crl_path,optional"`
	// SSLCRLCheck is "leaf" or "chain"; it only matters with ssl_crl_path.
	SSLCRLCheck []string `hcl:"ssl_crl_check,optional"`
	// SSLCipherSuites are the cipher suites offered for TLS 1.2 and below, by
	// IANA name; unset, Go's secure defaults.
	SSLCipherSuites []string `hcl:"ssl_cipher_suites,optional"`
	// SSLSupportedProtocols are the TLS versions allowed, any of "TLSv1.1",
	// "TLSv1.2" and "TLSv1.3"; unset, TLS 1.2 and 1.3.
	SSLSupportedProtocols []string `hcl:"ssl_supported_protocols,optional"`
}

// DocTitle names the group in the plugin reference.
func (Syslog) DocTitle() string { return "TLS (protocol ssl-tcp)" }

// Defaults sets Logstash's defaults.
func (s *Syslog) Defaults() { s.SSLCRLCheck = []string{"leaf"} }

// Validate checks the options without reading files.
func (s Syslog) Validate() error {
	if s.SSLCACert != "" && len(s.SSLCertificateAuthorities) > 0 {
		return fieldErr("ssl_cacert", "set ssl_certificate_authorities only (ssl_cacert is its deprecated name)")
	}
	if s.SSLCert != "" && s.SSLCertificate != "" {
		return fieldErr("ssl_cert", "set ssl_certificate only (ssl_cert is its deprecated name)")
	}
	if s.SSLKeyPassphrase != "" {
		return fieldErr("ssl_key_passphrase", "encrypted keys are not supported: give ssl_key an unencrypted PEM key")
	}
	if s.SSLCRLPath != "" {
		return fieldErr("ssl_crl_path", "certificate revocation lists are not supported")
	}
	for _, c := range s.SSLCRLCheck {
		if c != "leaf" && c != "chain" {
			return fieldErr("ssl_crl_check", "unsupported value %q: want \"leaf\" or \"chain\"", c)
		}
	}
	if err := checkProtocols(s.SSLSupportedProtocols); err != nil {
		return err
	}
	if err := checkCiphers(s.SSLCipherSuites); err != nil {
		return err
	}
	return checkPair(s.certificate(), s.SSLKey)
}

func (s Syslog) certificate() string {
	if s.SSLCert != "" {
		return s.SSLCert
	}
	return s.SSLCertificate
}

func (s Syslog) authorities() []string {
	if s.SSLCACert != "" {
		return []string{s.SSLCACert}
	}
	return s.SSLCertificateAuthorities
}

// Config loads the files of validated options into a client configuration.
func (s Syslog) Config() (*tls.Config, error) {
	cfg := &tls.Config{CipherSuites: ciphers(s.SSLCipherSuites)}
	protocols := s.SSLSupportedProtocols
	if len(protocols) == 0 {
		protocols = defaultProtocols
	}
	versionRange(cfg, protocols)
	if cas := s.authorities(); len(cas) > 0 {
		var err error
		if cfg.RootCAs, err = loadCAs("ssl_certificate_authorities", cas); err != nil {
			return nil, err
		}
	}
	if c := s.certificate(); c != "" {
		cert, err := loadKeyPair(c, s.SSLKey)
		if err != nil {
			return nil, err
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	if !s.SSLVerify {
		// Logstash's default: the server's certificate is not checked.
		cfg.InsecureSkipVerify = true
	}
	return cfg, nil
}
