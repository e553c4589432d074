package netserver

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"

	"github.com/pipelined/pipeline/engine"
)

// TLSVersions maps the ssl_supported_protocols names to crypto/tls.
var TLSVersions = map[string]uint16{
	"TLSv1.1": tls.VersionTLS11,
	"TLSv1.2": tls.VersionTLS12,
	"TLSv1.3": tls.VersionTLS13,
}

// ClientAuth maps an ssl_client_authentication value to crypto/tls.
func ClientAuth(mode string) (tls.ClientAuthType, error) {
	switch mode {
	case "none":
		return tls.NoClientCert, nil
	case "optional":
		return tls.VerifyClientCertIfGiven, nil
	case "required":
		return tls.RequireAndVerifyClientCert, nil
	}
	return 0, &engine.FieldError{Field: "ssl_client_authentication", Err: fmt.Errorf("unknown mode %q: use none, optional or required", mode)}
}

// TLSOptions are the ssl_* options of a server input, named as Logstash's.
type TLSOptions struct {
	Certificate            string
	Key                    string
	CertificateAuthorities []string
	ClientAuthentication   string
	SupportedProtocols     []string
}

// Validate checks the options without reading files.
func (o TLSOptions) Validate() error {
	fe := func(f, format string, args ...any) error {
		return &engine.FieldError{Field: f, Err: fmt.Errorf(format, args...)}
	}
	if o.Certificate == "" {
		return fe("ssl_certificate", "required when ssl_enabled is true")
	}
	if o.Key == "" {
		return fe("ssl_key", "required when ssl_enabled is true")
	}
	auth, err := ClientAuth(o.ClientAuthentication)
	if err != nil {
		return err
	}
	if auth != tls.NoClientCert && len(o.CertificateAuthorities) == 0 {
		return fe("ssl_certificate_authorities", "required to verify client certificates (ssl_client_authentication %q)", o.ClientAuthentication)
	}
	if len(o.SupportedProtocols) == 0 {
		return fe("ssl_supported_protocols", "list at least one protocol")
	}
	for _, p := range o.SupportedProtocols {
		if _, ok := TLSVersions[p]; !ok {
			return fe("ssl_supported_protocols", "unknown protocol %q: use TLSv1.1, TLSv1.2 or TLSv1.3", p)
		}
	}
	return nil
}

// Config loads the certificate, key and CAs.
func (o TLSOptions) Config() (*tls.Config, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	cert, err := tls.LoadX509KeyPair(o.Certificate, o.Key)
	if err != nil {
		return nil, &engine.FieldError{Field: "ssl_certificate", Err: fmt.Errorf("load certificate and key: %w", err)}
	}
	auth, _ := ClientAuth(o.ClientAuthentication)
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, ClientAuth: auth}
	for _, p := range o.SupportedProtocols {
		v := TLSVersions[p]
		if cfg.MinVersion == 0 || v < cfg.MinVersion {
			cfg.MinVersion = v
		}
		if v > cfg.MaxVersion {
			cfg.MaxVersion = v
		}
	}
	if len(o.CertificateAuthorities) > 0 {
		pool := x509.NewCertPool()
		for _, f := range o.CertificateAuthorities {
			pem, err := os.ReadFile(f)
			if err != nil {
				return nil, &engine.FieldError{Field: "ssl_certificate_authorities", Err: err}
			}
			if !pool.AppendCertsFromPEM(pem) {
				return nil, &engine.FieldError{Field: "ssl_certificate_authorities", Err: fmt.Errorf("%s: no PEM certificate", f)}
			}
		}
		cfg.ClientCAs = pool
	}
	return cfg, nil
}
