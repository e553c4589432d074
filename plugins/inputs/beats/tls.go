package beats

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"

	"github.com/pipelined/pipeline/engine"
)

// tlsConfig loads the certificate, key and CAs named by the options.
func (o *Options) tlsConfig() (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(o.SSLCertificate, o.SSLKey)
	if err != nil {
		return nil, &engine.FieldError{Field: "ssl_certificate", Err: fmt.Errorf("load certificate and key: %w", err)}
	}
	auth, err := o.clientAuth()
	if err != nil {
		return nil, err
	}
	cfg := &tls.Config{
		Certificates: []tls.Certificate{cert},
		ClientAuth:   auth,
	}
	for _, p := range o.SSLSupportedProtocols {
		v := tlsVersions[p]
		if cfg.MinVersion == 0 || v < cfg.MinVersion {
			cfg.MinVersion = v
		}
		if v > cfg.MaxVersion {
			cfg.MaxVersion = v
		}
	}
	if len(o.SSLCertificateAuthorities) > 0 {
		pool := x509.NewCertPool()
		for _, f := range o.SSLCertificateAuthorities {
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
