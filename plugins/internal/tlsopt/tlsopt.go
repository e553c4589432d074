// Package tlsopt declares the ssl_* options once, as option groups that
// plugins embed in their Options struct: Server for inputs that accept
// connections (beats, tcp, syslog, http), Client for plugins that dial a
// server (redis, elasticsearch, immudb), Handshake for inputs with Logstash's
// ssl_handshake_timeout, and ServerAliases and ClientAliases for the
// deprecated Logstash 7 names some plugins still accept. The engine decodes an
// embedded group's fields as options of the plugin, and docgen documents them
// from the comments here, so every plugin names, checks and documents them the
// same way.
//
// Each group has one Validate, pure and without I/O (`pipeline check` runs
// it), and one loader (Config) that reads the files when the plugin is built
// or connects; its errors are *engine.FieldError values naming the option and
// the file.
package tlsopt

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/pipelined/pipeline/engine"
)

// versions maps the ssl_supported_protocols names to crypto/tls.
var versions = map[string]uint16{
	"TLSv1.1": tls.VersionTLS11,
	"TLSv1.2": tls.VersionTLS12,
	"TLSv1.3": tls.VersionTLS13,
}

// defaultProtocols is Logstash's default ssl_supported_protocols.
var defaultProtocols = []string{"TLSv1.2", "TLSv1.3"}

func fieldErr(field, format string, args ...any) error {
	return &engine.FieldError{Field: field, Err: fmt.Errorf(format, args...)}
}

func checkProtocols(list []string) error {
	for _, p := range list {
		if _, ok := versions[p]; !ok {
			return fieldErr("ssl_supported_protocols", "unknown protocol %q: use TLSv1.1, TLSv1.2 or TLSv1.3", p)
		}
	}
	return nil
}

// versionRange sets cfg's MinVersion and MaxVersion to the range of the
// listed protocols (validated).
func versionRange(cfg *tls.Config, list []string) {
	if len(list) == 0 {
		list = defaultProtocols
	}
	cfg.MinVersion, cfg.MaxVersion = tls.VersionTLS13, tls.VersionTLS11
	for _, p := range list {
		v := versions[p]
		cfg.MinVersion = min(cfg.MinVersion, v)
		cfg.MaxVersion = max(cfg.MaxVersion, v)
	}
}

// cipherSuites maps IANA cipher suite names, as Logstash's
// ssl_cipher_suites takes them ("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"), to
// crypto/tls; suites Go considers insecure are not offered.
var cipherSuites = func() map[string]uint16 {
	m := map[string]uint16{}
	for _, c := range tls.CipherSuites() {
		m[c.Name] = c.ID
	}
	return m
}()

// checkCiphers refuses a cipher suite name crypto/tls does not offer.
func checkCiphers(list []string) error {
	for _, c := range list {
		if _, ok := cipherSuites[c]; !ok {
			return fieldErr("ssl_cipher_suites", "unknown or insecure cipher suite %q: use IANA names such as \"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256\"", c)
		}
	}
	return nil
}

// ciphers is the crypto/tls form of validated names; nil (Go's defaults)
// when none are listed. TLS 1.3 suites are not configurable and stay on.
func ciphers(list []string) []uint16 {
	var out []uint16
	for _, c := range list {
		out = append(out, cipherSuites[c])
	}
	return out
}

// loadCAs reads PEM CA files into a pool; errors name option and file.
func loadCAs(option string, files []string) (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	for _, f := range files {
		pem, err := os.ReadFile(f)
		if err != nil {
			return nil, &engine.FieldError{Field: option, Err: err}
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fieldErr(option, "%s: no PEM certificate found", f)
		}
	}
	return pool, nil
}

// loadKeyPair reads a certificate and its key; errors name both files.
func loadKeyPair(cert, key string) (tls.Certificate, error) {
	c, err := tls.LoadX509KeyPair(cert, key)
	if err != nil {
		return c, fieldErr("ssl_certificate", "load %s and %s: %w", cert, key, err)
	}
	return c, nil
}

// ExtraChain is the tcp input's ssl_extra_chain_certs (no other Logstash
// input has it).
type ExtraChain struct {
	// SSLExtraChainCerts are PEM files of intermediate certificates sent
	// after ssl_certificate in the handshake, for clients that lack them.
	SSLExtraChainCerts []string `hcl:"ssl_extra_chain_certs,optional"`
}

// DocTitle names the group in the plugin reference.
func (ExtraChain) DocTitle() string { return "TLS: certificate chain" }

// Apply appends the files' certificates to the first certificate of cfg
// (a server configuration from Server.Config; nil when TLS is off). As
// Logstash, the files are read when the input starts (the option is not
// path-validated), so a missing one is a start-time error.
func (x ExtraChain) Apply(cfg *tls.Config) error {
	if cfg == nil || len(x.SSLExtraChainCerts) == 0 || len(cfg.Certificates) == 0 {
		return nil
	}
	if err := AppendChain(&cfg.Certificates[0], x.SSLExtraChainCerts); err != nil {
		return engine.AtStart(fieldErr("ssl_extra_chain_certs", "%w", err))
	}
	return nil
}

// AppendChain adds the certificates of the PEM files to cert's chain, after
// those it has; a file without a certificate is refused.
func AppendChain(cert *tls.Certificate, files []string) error {
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		n := 0
		for {
			var blk *pem.Block
			blk, b = pem.Decode(b)
			if blk == nil {
				break
			}
			if blk.Type == "CERTIFICATE" {
				if _, err := x509.ParseCertificate(blk.Bytes); err != nil {
					return fmt.Errorf("%s: %w", f, err)
				}
				cert.Certificate = append(cert.Certificate, blk.Bytes)
				n++
			}
		}
		if n == 0 {
			return fmt.Errorf("%s holds no PEM certificate", f)
		}
	}
	return nil
}

// checkPair refuses a certificate without its key and the reverse.
func checkPair(cert, key string) error {
	switch {
	case cert != "" && key == "":
		return fieldErr("ssl_key", "ssl_key is required with ssl_certificate")
	case cert == "" && key != "":
		return fieldErr("ssl_certificate", "ssl_certificate is required with ssl_key")
	}
	return nil
}

// Server is the ssl_* options of an input that accepts connections, named
// as Logstash's.
type Server struct {
	// SSLEnabled turns TLS on; ssl_certificate and ssl_key are then required.
	SSLEnabled bool `hcl:"ssl_enabled,optional"`
	// SSLCertificate is the path of the server certificate (PEM). The file may
	// hold the chain after the certificate.
	SSLCertificate string `hcl:"ssl_certificate,optional"`
	// SSLKey is the path of the server certificate's private key (PEM,
	// PKCS #1, PKCS #8 or EC).
	SSLKey string `hcl:"ssl_key,optional"`
	// SSLCertificateAuthorities are paths of PEM files holding the CA
	// certificates that client certificates are verified against. Required
	// when ssl_client_authentication is "optional" or "required".
	SSLCertificateAuthorities []string `hcl:"ssl_certificate_authorities,optional"`
	// SSLClientAuthentication is "none" (clients are not asked for a
	// certificate), "optional" (a certificate, if given, must be valid) or
	// "required" (a client without a valid certificate is refused). Unset, it
	// is "required" when ssl_certificate_authorities are given and "none"
	// otherwise.
	SSLClientAuthentication string `hcl:"ssl_client_authentication,optional"`
	// SSLSupportedProtocols are the TLS versions allowed: any of "TLSv1.1",
	// "TLSv1.2" and "TLSv1.3" (the range from the lowest to the highest listed
	// is allowed).
	SSLSupportedProtocols []string `hcl:"ssl_supported_protocols,optional"`
	// SSLCipherSuites are the cipher suites offered for TLS 1.2 and below,
	// by IANA name ("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"); unset, Go's
	// secure defaults. TLS 1.3 suites are always the standard ones.
	SSLCipherSuites []string `hcl:"ssl_cipher_suites,optional"`
}

// DocTitle names the group in the plugin reference.
func (Server) DocTitle() string { return "TLS" }

// Defaults sets Logstash's default protocols; the client authentication
// stays unset (see SSLClientAuthentication) unless the plugin sets it.
func (s *Server) Defaults() {
	s.SSLSupportedProtocols = append([]string(nil), defaultProtocols...)
}

// clientAuth is ssl_client_authentication in crypto/tls terms.
func (s Server) clientAuth() (tls.ClientAuthType, error) {
	switch s.SSLClientAuthentication {
	case "":
		if len(s.SSLCertificateAuthorities) > 0 {
			return tls.RequireAndVerifyClientCert, nil
		}
		return tls.NoClientCert, nil
	case "none":
		return tls.NoClientCert, nil
	case "optional":
		return tls.VerifyClientCertIfGiven, nil
	case "required":
		return tls.RequireAndVerifyClientCert, nil
	}
	return 0, fieldErr("ssl_client_authentication", "unknown mode %q: use none, optional or required", s.SSLClientAuthentication)
}

// Validate checks the options without reading files: the values always, the
// files required only when ssl_enabled is true.
func (s Server) Validate() error {
	auth, err := s.clientAuth()
	if err != nil {
		return err
	}
	if len(s.SSLSupportedProtocols) == 0 {
		return fieldErr("ssl_supported_protocols", "list at least one protocol")
	}
	if err := checkProtocols(s.SSLSupportedProtocols); err != nil {
		return err
	}
	if err := checkCiphers(s.SSLCipherSuites); err != nil {
		return err
	}
	if !s.SSLEnabled {
		return nil
	}
	if s.SSLCertificate == "" {
		return fieldErr("ssl_certificate", "required when ssl_enabled is true")
	}
	if s.SSLKey == "" {
		return fieldErr("ssl_key", "required when ssl_enabled is true")
	}
	if auth != tls.NoClientCert && len(s.SSLCertificateAuthorities) == 0 {
		return fieldErr("ssl_certificate_authorities", "required to verify client certificates (ssl_client_authentication %q)", s.SSLClientAuthentication)
	}
	return nil
}

// Config loads the certificate, key and CAs of validated options, or returns
// nil when ssl_enabled is false.
func (s Server) Config() (*tls.Config, error) {
	if !s.SSLEnabled {
		return nil, nil
	}
	cert, err := loadKeyPair(s.SSLCertificate, s.SSLKey)
	if err != nil {
		return nil, err
	}
	auth, _ := s.clientAuth()
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, ClientAuth: auth, CipherSuites: ciphers(s.SSLCipherSuites)}
	versionRange(cfg, s.SSLSupportedProtocols)
	if len(s.SSLCertificateAuthorities) > 0 {
		if cfg.ClientCAs, err = loadCAs("ssl_certificate_authorities", s.SSLCertificateAuthorities); err != nil {
			return nil, err
		}
	}
	return cfg, nil
}

// ServerAliases are the Logstash 7 names of the TLS options above, accepted
// with a warning.
type ServerAliases struct {
	// SSL is the Logstash 7 name of ssl_enabled.
	SSL *bool `hcl:"ssl,optional" deprecated:"ssl_enabled"`
	// SSLVerifyMode is the Logstash 7 name of ssl_client_authentication, with
	// the values "none", "peer" (optional) and "force_peer" (required).
	SSLVerifyMode string `hcl:"ssl_verify_mode,optional" deprecated:"ssl_client_authentication"`
}

// DocTitle names the group in the plugin reference.
func (ServerAliases) DocTitle() string { return "TLS: deprecated names" }

// Apply returns s with the aliases that are set in place of the options they
// name. It refuses an alias set together with its option (set to other than
// its default, "none" for ssl_client_authentication) and an unknown
// ssl_verify_mode.
func (a ServerAliases) Apply(s Server) (Server, error) {
	if a.SSL != nil {
		if s.SSLEnabled {
			return s, fieldErr("ssl", "set ssl_enabled only (ssl is its deprecated name)")
		}
		s.SSLEnabled = *a.SSL
	}
	if a.SSLVerifyMode != "" {
		if s.SSLClientAuthentication != "" && s.SSLClientAuthentication != "none" {
			return s, fieldErr("ssl_verify_mode", "set ssl_client_authentication only (ssl_verify_mode is its deprecated name)")
		}
		switch a.SSLVerifyMode {
		case "none":
			s.SSLClientAuthentication = "none"
		case "peer":
			s.SSLClientAuthentication = "optional"
		case "force_peer":
			s.SSLClientAuthentication = "required"
		default:
			return s, fieldErr("ssl_verify_mode", "unknown mode %q: use none, peer or force_peer", a.SSLVerifyMode)
		}
	}
	return s, nil
}

// BeatsRemoved are the TLS options the beats input lost in Logstash 9
// (plugin version 7): setting one is an error that names the replacement.
type BeatsRemoved struct {
	// SSLPeerMetadata put the client certificate's fields in [@metadata].
	SSLPeerMetadata engine.Removed `hcl:"ssl_peer_metadata,optional" removed:"9.0"`
	// CipherSuites listed the allowed cipher suites.
	CipherSuites engine.Removed `hcl:"cipher_suites,optional" removed:"9.0"`
	// TLSMinVersion was the lowest TLS version accepted.
	TLSMinVersion engine.Removed `hcl:"tls_min_version,optional" removed:"9.0" use:"ssl_supported_protocols"`
	// TLSMaxVersion was the highest TLS version accepted.
	TLSMaxVersion engine.Removed `hcl:"tls_max_version,optional" removed:"9.0" use:"ssl_supported_protocols"`
}

// DocTitle names the group in the plugin reference.
func (BeatsRemoved) DocTitle() string { return "TLS: removed names" }

// TCPRemoved are the TLS options the tcp input lost in Logstash 9 (plugin
// version 7): setting one is an error that names the replacement.
type TCPRemoved struct {
	// SSLEnable was the name of ssl_enabled.
	SSLEnable engine.Removed `hcl:"ssl_enable,optional" removed:"9.0" use:"ssl_enabled"`
	// SSLVerify asked for and checked client certificates.
	SSLVerify engine.Removed `hcl:"ssl_verify,optional" removed:"9.0" use:"use ssl_client_authentication (server mode) or ssl_verification_mode (client mode)"`
	// SSLCert was the name of ssl_certificate.
	SSLCert engine.Removed `hcl:"ssl_cert,optional" removed:"9.0" use:"ssl_certificate"`
}

// DocTitle names the group in the plugin reference.
func (TCPRemoved) DocTitle() string { return "TLS: removed names" }

// TCPOutputRemoved is the TLS option the tcp output lost in Logstash 9
// beside those of TCPRemoved.
type TCPOutputRemoved struct {
	// SSLCACert was the name of ssl_certificate_authorities.
	SSLCACert engine.Removed `hcl:"ssl_cacert,optional" removed:"9.0" use:"ssl_certificate_authorities"`
}

// DocTitle names the group in the plugin reference.
func (TCPOutputRemoved) DocTitle() string { return "TLS: removed names of the output" }

// Client is the ssl_* options of a plugin that connects to a server, named
// as Logstash's.
type Client struct {
	// SSLEnabled turns TLS on (true) or off (false). Unset, TLS is off, except
	// for a plugin that takes URLs, where https:// turns it on.
	SSLEnabled *bool `hcl:"ssl_enabled,optional"`
	// SSLCertificateAuthorities are paths of PEM files holding the CA
	// certificates that the server's certificate is verified against; unset,
	// the system's roots are used.
	SSLCertificateAuthorities []string `hcl:"ssl_certificate_authorities,optional"`
	// SSLCertificate is the path of a client certificate (PEM) presented to
	// servers that ask for one; ssl_key is then required.
	SSLCertificate string `hcl:"ssl_certificate,optional"`
	// SSLKey is the path of the client certificate's private key (PEM).
	SSLKey string `hcl:"ssl_key,optional"`
	// SSLVerificationMode is "full" (the server's certificate must be trusted
	// and name the host dialled) or "none" (any certificate is accepted: for
	// tests only).
	SSLVerificationMode string `hcl:"ssl_verification_mode,optional"`
	// SSLSupportedProtocols are the TLS versions allowed: any of "TLSv1.1",
	// "TLSv1.2" and "TLSv1.3" (the range from the lowest to the highest listed
	// is allowed).
	SSLSupportedProtocols []string `hcl:"ssl_supported_protocols,optional"`
	// SSLCipherSuites are the cipher suites offered for TLS 1.2 and below,
	// by IANA name ("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"); unset, Go's
	// secure defaults. TLS 1.3 suites are always the standard ones.
	SSLCipherSuites []string `hcl:"ssl_cipher_suites,optional"`

	// caOption names the option the CA files came from, for messages: the
	// deprecated cacert when ClientAliases.Apply took them from it.
	caOption string
}

// DocTitle names the group in the plugin reference.
func (Client) DocTitle() string { return "TLS" }

// Defaults sets Logstash's defaults.
func (c *Client) Defaults() {
	c.SSLVerificationMode = "full"
	c.SSLSupportedProtocols = append([]string(nil), defaultProtocols...)
}

// Enabled reports whether ssl_enabled is true.
func (c Client) Enabled() bool { return c.SSLEnabled != nil && *c.SSLEnabled }

// Validate checks the options without reading files. on tells whether the
// plugin connects with TLS (ssl_enabled, or a URL's scheme): when it does not,
// setting an option that only matters over TLS is a mistake worth reporting.
func (c Client) Validate(on bool) error {
	switch c.SSLVerificationMode {
	case "", "full", "none":
	default:
		return fieldErr("ssl_verification_mode", "unsupported value %q: want \"full\" or \"none\"", c.SSLVerificationMode)
	}
	if err := checkProtocols(c.SSLSupportedProtocols); err != nil {
		return err
	}
	if err := checkCiphers(c.SSLCipherSuites); err != nil {
		return err
	}
	if err := checkPair(c.SSLCertificate, c.SSLKey); err != nil {
		return err
	}
	if !on {
		for _, f := range []struct {
			name string
			set  bool
		}{
			{"ssl_certificate_authorities", len(c.SSLCertificateAuthorities) > 0},
			{"ssl_certificate", c.SSLCertificate != ""},
			{"ssl_verification_mode", c.SSLVerificationMode == "none"},
		} {
			if f.set {
				return fieldErr(f.name, "is only used over TLS, and TLS is off: set ssl_enabled => true")
			}
		}
	}
	return nil
}

// Config loads the CA and client certificate files of validated options
// into a client configuration. The caller sets ServerName if the host dialled
// is not the name to check (ForHost does).
func (c Client) Config() (*tls.Config, error) {
	cfg := &tls.Config{CipherSuites: ciphers(c.SSLCipherSuites)}
	versionRange(cfg, c.SSLSupportedProtocols)
	if len(c.SSLCertificateAuthorities) > 0 {
		var err error
		if cfg.RootCAs, err = loadCAs(c.CAOption(), c.SSLCertificateAuthorities); err != nil {
			return nil, err
		}
	}
	if c.SSLCertificate != "" {
		cert, err := loadKeyPair(c.SSLCertificate, c.SSLKey)
		if err != nil {
			return nil, err
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	if c.SSLVerificationMode == "none" {
		// Logstash's "none" trusts any certificate; it is documented as
		// unsafe and only meant for testing.
		cfg.InsecureSkipVerify = true
	}
	return cfg, nil
}

// CAOption is the option the CA files were given with, for messages.
func (c Client) CAOption() string {
	if c.caOption != "" {
		return c.caOption
	}
	return "ssl_certificate_authorities"
}

// TrustSource describes where the server's certificate was looked up, for
// messages: the CA option and files, or the system's CAs.
func (c Client) TrustSource() string {
	if len(c.SSLCertificateAuthorities) == 0 {
		return "the system's CAs"
	}
	return c.CAOption() + " " + strings.Join(c.SSLCertificateAuthorities, ", ")
}

// ClientAliases are the Logstash 7 names of the TLS options above, still
// accepted.
type ClientAliases struct {
	// SSL is the Logstash 7 name of ssl_enabled.
	SSL *bool `hcl:"ssl,optional"`
	// CACert is the Logstash 7 name of ssl_certificate_authorities (one file).
	CACert string `hcl:"cacert,optional"`
	// SSLCertificateVerification is the Logstash 7 form of
	// ssl_verification_mode: false means "none".
	SSLCertificateVerification *bool `hcl:"ssl_certificate_verification,optional"`
}

// DocTitle names the group in the plugin reference.
func (ClientAliases) DocTitle() string { return "TLS: deprecated names" }

// Validate refuses an alias set together with the option it names.
func (a ClientAliases) Validate(c Client, on bool) error {
	if a.SSL != nil && c.SSLEnabled != nil {
		return fieldErr("ssl", "set ssl_enabled only (ssl is its deprecated name)")
	}
	if a.CACert != "" && len(c.SSLCertificateAuthorities) > 0 {
		return fieldErr("cacert", "set ssl_certificate_authorities only (cacert is its deprecated name)")
	}
	if a.SSLCertificateVerification != nil && c.SSLVerificationMode != "" && c.SSLVerificationMode != "full" {
		return fieldErr("ssl_certificate_verification", "set ssl_verification_mode only (ssl_certificate_verification is its deprecated form)")
	}
	// cacert and ssl_certificate_verification with TLS off are accepted:
	// Logstash 8's elasticsearch output ignores them then (setup_ssl
	// returns before reading either), and configurations keep them beside
	// http:// hosts (robcowart/elastiflow and others in the corpus).
	return nil
}

// Enabled returns ssl_enabled, or its alias ssl, and the name of the option
// set; nil and "" when neither is.
func (a ClientAliases) Enabled(c Client) (*bool, string) {
	if c.SSLEnabled != nil {
		return c.SSLEnabled, "ssl_enabled"
	}
	if a.SSL != nil {
		return a.SSL, "ssl"
	}
	return nil, ""
}

// Apply returns c with the aliases that are set in place of the options they
// name (after Validate).
func (a ClientAliases) Apply(c Client) Client {
	if a.SSL != nil && c.SSLEnabled == nil {
		c.SSLEnabled = a.SSL
	}
	if a.CACert != "" {
		c.SSLCertificateAuthorities, c.caOption = []string{a.CACert}, "cacert"
	}
	if a.SSLCertificateVerification != nil && !*a.SSLCertificateVerification {
		c.SSLVerificationMode = "none"
	}
	return c
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

// Handshake is the ssl_handshake_timeout option of an input that accepts
// TLS connections (Logstash's http and beats inputs).
type Handshake struct {
	// SSLHandshakeTimeout is how long, in milliseconds, a client has to
	// complete the TLS handshake before the connection is closed.
	SSLHandshakeTimeout float64 `hcl:"ssl_handshake_timeout,optional"`
}

// DocTitle names the group in the plugin reference.
func (Handshake) DocTitle() string { return "TLS handshake" }

// Defaults sets Logstash's default, 10 seconds.
func (h *Handshake) Defaults() { h.SSLHandshakeTimeout = 10000 }

// Validate checks the timeout.
func (h Handshake) Validate() error {
	if h.SSLHandshakeTimeout < 1 {
		return fieldErr("ssl_handshake_timeout", "must be at least 1 (milliseconds)")
	}
	return nil
}

// Timeout is the timeout as a duration.
func (h Handshake) Timeout() time.Duration {
	return time.Duration(h.SSLHandshakeTimeout * float64(time.Millisecond))
}

// MixinAliases are the names Logstash 8's HTTP client mixin (the http
// output, http_poller) gave the TLS options before ssl_*: accepted with a
// warning, as there (Logstash 9 removed them).
type MixinAliases struct {
	// CACert is the old name of ssl_certificate_authorities (one file).
	CACert string `hcl:"cacert,optional" deprecated:"ssl_certificate_authorities"`
	// ClientCert is the old name of ssl_certificate.
	ClientCert string `hcl:"client_cert,optional" deprecated:"ssl_certificate"`
	// ClientKey is the old name of ssl_key.
	ClientKey string `hcl:"client_key,optional" deprecated:"ssl_key"`
}

// DocTitle names the group in the plugin reference.
func (MixinAliases) DocTitle() string { return "TLS: deprecated names" }

// Validate refuses an old name set together with its new one.
func (a MixinAliases) Validate(c Client) error {
	switch {
	case a.CACert != "" && len(c.SSLCertificateAuthorities) > 0:
		return fieldErr("cacert", "set ssl_certificate_authorities only (cacert is its deprecated name)")
	case a.ClientCert != "" && c.SSLCertificate != "":
		return fieldErr("client_cert", "set ssl_certificate only (client_cert is its deprecated name)")
	case a.ClientKey != "" && c.SSLKey != "":
		return fieldErr("client_key", "set ssl_key only (client_key is its deprecated name)")
	}
	return nil
}

// Apply returns c with the old names that are set in place of the new ones
// (after Validate).
func (a MixinAliases) Apply(c Client) Client {
	if a.CACert != "" {
		c.SSLCertificateAuthorities, c.caOption = []string{a.CACert}, "cacert"
	}
	if a.ClientCert != "" {
		c.SSLCertificate = a.ClientCert
	}
	if a.ClientKey != "" {
		c.SSLKey = a.ClientKey
	}
	return c
}

// JavaStores are the Java key and trust store options of Logstash's HTTP
// clients (JKS or PKCS12 files). They are recognised so that a
// configuration using them gets a clear error: convert the stores to PEM
// and use ssl_certificate and ssl_key (the key store) and
// ssl_certificate_authorities (the trust store).
type JavaStores struct {
	// SSLKeystorePath is a Java key store: refused, see the group.
	SSLKeystorePath string `hcl:"ssl_keystore_path,optional"`
	// SSLKeystorePassword is the key store's password (never logged).
	SSLKeystorePassword string `hcl:"ssl_keystore_password,optional"`
	// SSLKeystoreType is the key store's type, "jks" or "pkcs12".
	SSLKeystoreType string `hcl:"ssl_keystore_type,optional"`
	// SSLTruststorePath is a Java trust store: refused, see the group.
	SSLTruststorePath string `hcl:"ssl_truststore_path,optional"`
	// SSLTruststorePassword is the trust store's password (never logged).
	SSLTruststorePassword string `hcl:"ssl_truststore_password,optional"`
	// SSLTruststoreType is the trust store's type, "jks" or "pkcs12".
	SSLTruststoreType string `hcl:"ssl_truststore_type,optional"`
}

// DocTitle names the group in the plugin reference.
func (JavaStores) DocTitle() string { return "TLS: Java stores" }

// Validate refuses a store path; a password or type alone is harmless.
func (j JavaStores) Validate() error {
	if j.SSLKeystorePath != "" {
		return fieldErr("ssl_keystore_path", "Java key stores cannot be read: convert it to PEM files and set ssl_certificate and ssl_key")
	}
	if j.SSLTruststorePath != "" {
		return fieldErr("ssl_truststore_path", "Java trust stores cannot be read: convert it to a PEM file and set ssl_certificate_authorities")
	}
	return nil
}

// ESInputRemoved are the TLS options the elasticsearch input lost in
// Logstash 9 (plugin version 5): setting one is an error that names the
// replacement.
type ESInputRemoved struct {
	// SSL was the name of ssl_enabled.
	SSL engine.Removed `hcl:"ssl,optional" removed:"9.0" use:"ssl_enabled"`
	// CAFile was the name of ssl_certificate_authorities.
	CAFile engine.Removed `hcl:"ca_file,optional" removed:"9.0" use:"ssl_certificate_authorities"`
	// SSLCertificateVerification was the boolean form of
	// ssl_verification_mode.
	SSLCertificateVerification engine.Removed `hcl:"ssl_certificate_verification,optional" removed:"9.0" use:"ssl_verification_mode"`
}

// DocTitle names the group in the plugin reference.
func (ESInputRemoved) DocTitle() string { return "TLS: removed names" }

// Lumberjack is the TLS of the lumberjack output: always on, as in
// Logstash, where ssl_certificate is the certificate to trust (the
// receiver's own or its CA), not a client certificate.
type Lumberjack struct {
	// SSLCertificate is the receiver's certificate, or the CA that signed
	// it (PEM): the connection trusts it (Logstash's meaning).
	SSLCertificate string `hcl:"ssl_certificate,optional"`
	// SSLCertificateAuthorities are more CA files to trust (not a Logstash
	// option). Without either, the system's roots are trusted.
	SSLCertificateAuthorities []string `hcl:"ssl_certificate_authorities,optional"`
	// SSLClientCertificate is the client certificate (PEM) for a receiver
	// that requires one (not a Logstash option; Filebeat's
	// ssl.certificate).
	SSLClientCertificate string `hcl:"ssl_client_certificate,optional"`
	// SSLClientKey is the key of ssl_client_certificate (PEM).
	SSLClientKey string `hcl:"ssl_client_key,optional"`
	// SSLVerificationMode is "full" (the receiver's certificate must chain
	// to a trusted one and name the host) or "none" (anything is accepted:
	// encryption without authentication).
	SSLVerificationMode string `hcl:"ssl_verification_mode,optional"`
}

// DocTitle names the group in the plugin reference.
func (Lumberjack) DocTitle() string { return "TLS" }

// Validate checks the options without reading files.
func (l Lumberjack) Validate() error {
	switch l.SSLVerificationMode {
	case "", "full", "none":
	default:
		return fieldErr("ssl_verification_mode", `want "full" or "none"; got %q`, l.SSLVerificationMode)
	}
	switch {
	case l.SSLClientCertificate != "" && l.SSLClientKey == "":
		return fieldErr("ssl_client_key", "ssl_client_key is required with ssl_client_certificate")
	case l.SSLClientCertificate == "" && l.SSLClientKey != "":
		return fieldErr("ssl_client_certificate", "ssl_client_certificate is required with ssl_client_key")
	}
	return nil
}

// Config loads the files into a client configuration.
func (l Lumberjack) Config() (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: l.SSLVerificationMode == "none"}
	var trust []string
	if l.SSLCertificate != "" {
		trust = append(trust, l.SSLCertificate)
	}
	trust = append(trust, l.SSLCertificateAuthorities...)
	if len(trust) > 0 {
		pool, err := loadCAs("ssl_certificate", trust)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil, err
			}
			// Logstash validates the option as a :path (the file must
			// exist) and reads it when the output starts.
			return nil, engine.AtStart(err)
		}
		cfg.RootCAs = pool
	}
	if l.SSLClientCertificate != "" {
		c, err := tls.LoadX509KeyPair(l.SSLClientCertificate, l.SSLClientKey)
		if err != nil {
			return nil, fieldErr("ssl_client_certificate", "load %s and %s: %w", l.SSLClientCertificate, l.SSLClientKey, err)
		}
		cfg.Certificates = []tls.Certificate{c}
	}
	return cfg, nil
}

// LumberjackServer is the ssl_* options of the lumberjack input (logstash-
// forwarder's protocol), named as Logstash's: TLS is always on, so the
// certificate and key are required.
type LumberjackServer struct {
	// SSLCertificate is the path of the server certificate (PEM).
	SSLCertificate string `hcl:"ssl_certificate"`
	// SSLKey is the path of the certificate's private key (PEM).
	SSLKey string `hcl:"ssl_key"`
	// SSLKeyPassphrase decrypts ssl_key when it is encrypted (OpenSSL's
	// legacy "Proc-Type: 4,ENCRYPTED" PEM).
	SSLKeyPassphrase string `hcl:"ssl_key_passphrase,optional"`
}

// DocTitle names the group in the plugin reference.
func (LumberjackServer) DocTitle() string { return "TLS" }
