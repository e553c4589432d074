// Package kafkaopt holds the options the kafka input and output share, named
// as in Logstash's kafka integration: the brokers, the security protocol,
// SASL and the Java-style TLS store options, and turns them into franz-go
// client options.
//
// Kerberos (GSSAPI) and OAUTHBEARER are not supported: there is no JVM, so
// SASL is PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512, with the user name and
// password read from sasl_jaas_config or the jaas_path file (the
// "username=... password=..." of PlainLoginModule or ScramLoginModule).
package kafkaopt

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"regexp"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/plugins/internal/tlsopt"
)

// Connection is how a kafka plugin reaches and authenticates to the
// brokers, with Logstash's option names.
type Connection struct {
	// BootstrapServers are the brokers first contacted, "host1:port1,host2:port2";
	// the rest of the cluster is discovered from them.
	BootstrapServers string `hcl:"bootstrap_servers,optional"`
	// SecurityProtocol is PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL. SSL and
	// SASL_SSL turn TLS on (the ssl_* options).
	SecurityProtocol string `hcl:"security_protocol,optional"`
	// SASLMechanism is the SASL mechanism of SASL_PLAINTEXT and SASL_SSL:
	// PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512. Logstash's default, GSSAPI
	// (Kerberos), is not supported, so set it whenever SASL is used.
	SASLMechanism string `hcl:"sasl_mechanism,optional"`
	// SASLJaasConfig is the JAAS login module line holding the SASL
	// credentials, e.g. `org.apache.kafka.common.security.plain.PlainLoginModule
	// required username="u" password="p";`; only username and password are read.
	// It is never logged.
	SASLJaasConfig string `hcl:"sasl_jaas_config,optional"`
	// JaasPath is a JAAS file whose KafkaClient section holds the credentials,
	// read as sasl_jaas_config when that is not set.
	JaasPath string `hcl:"jaas_path,optional"`
	// SASLKerberosServiceName is accepted for compatibility; Kerberos is not supported.
	SASLKerberosServiceName string `hcl:"sasl_kerberos_service_name,optional"`
}

// DocTitle names the group in the plugin reference.
func (Connection) DocTitle() string { return "Connection and SASL" }

// Defaults sets Logstash's defaults. sasl_mechanism stays empty: GSSAPI, its
// Logstash default, is refused when SASL is used.
func (c *Connection) Defaults() {
	c.BootstrapServers = "localhost:9092"
	c.SecurityProtocol = "PLAINTEXT"
}

func fieldErr(field, format string, args ...any) error {
	return &engine.FieldError{Field: field, Err: fmt.Errorf(format, args...)}
}

// Brokers splits bootstrap_servers.
func (c Connection) Brokers() []string {
	var out []string
	for _, s := range strings.Split(c.BootstrapServers, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// TLSOn reports whether security_protocol asks for TLS.
func (c Connection) TLSOn() bool {
	return c.SecurityProtocol == "SSL" || c.SecurityProtocol == "SASL_SSL"
}

func (c Connection) sasl() bool {
	return c.SecurityProtocol == "SASL_PLAINTEXT" || c.SecurityProtocol == "SASL_SSL"
}

var (
	jaasUser = regexp.MustCompile(`(?:^|\s)username\s*=\s*(?:"([^"]*)"|'([^']*)')`)
	jaasPass = regexp.MustCompile(`(?:^|\s)password\s*=\s*(?:"([^"]*)"|'([^']*)')`)
)

func jaasValue(re *regexp.Regexp, s string) (string, bool) {
	m := re.FindStringSubmatch(s)
	if m == nil {
		return "", false
	}
	return m[1] + m[2], true
}

// credentials reads the user name and password from a JAAS text.
func credentials(jaas string) (user, pass string, err error) {
	user, uok := jaasValue(jaasUser, jaas)
	pass, pok := jaasValue(jaasPass, jaas)
	if !uok || !pok {
		return "", "", errors.New(`holds no username="..." and password="..."`)
	}
	return user, pass, nil
}

// Validate checks the options without reading files.
func (c Connection) Validate() error {
	brokers := c.Brokers()
	if len(brokers) == 0 {
		return fieldErr("bootstrap_servers", "must not be empty")
	}
	for _, b := range brokers {
		if _, port, err := net.SplitHostPort(b); err != nil || port == "" {
			return fieldErr("bootstrap_servers", "%q is not host:port", b)
		}
	}
	switch c.SecurityProtocol {
	case "PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL":
	default:
		return fieldErr("security_protocol", "unsupported value %q: want PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL", c.SecurityProtocol)
	}
	if !c.sasl() {
		return nil
	}
	switch c.SASLMechanism {
	case "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512":
	case "", "GSSAPI":
		return fieldErr("sasl_mechanism", "GSSAPI (Kerberos, Logstash's default) is not supported: set PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512")
	default:
		return fieldErr("sasl_mechanism", "unsupported value %q: want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", c.SASLMechanism)
	}
	switch {
	case c.SASLJaasConfig != "":
		if _, _, err := credentials(c.SASLJaasConfig); err != nil {
			return fieldErr("sasl_jaas_config", "%v", err)
		}
	case c.JaasPath == "":
		return fieldErr("sasl_jaas_config", "%s needs credentials: set sasl_jaas_config or jaas_path", c.SecurityProtocol)
	}
	return nil
}

// JavaTLS are the Kafka client's own TLS store options. Only PEM stores can be
// read (Java's JKS and PKCS12 cannot); ssl_certificate_authorities,
// ssl_certificate and ssl_key are the usual way to give PEM files.
type JavaTLS struct {
	// SSLTruststoreLocation is a PEM file of CA certificates (with
	// ssl_truststore_type "PEM"), like ssl_certificate_authorities.
	SSLTruststoreLocation string `hcl:"ssl_truststore_location,optional"`
	// SSLTruststoreType must be "PEM" when ssl_truststore_location is set.
	SSLTruststoreType string `hcl:"ssl_truststore_type,optional"`
	// SSLTruststorePassword is accepted for compatibility; PEM trust stores have none.
	SSLTruststorePassword string `hcl:"ssl_truststore_password,optional"`
	// SSLKeystoreLocation is a PEM file holding the client certificate and
	// its unencrypted private key (with ssl_keystore_type "PEM").
	SSLKeystoreLocation string `hcl:"ssl_keystore_location,optional"`
	// SSLKeystoreType must be "PEM" when ssl_keystore_location is set.
	SSLKeystoreType string `hcl:"ssl_keystore_type,optional"`
	// SSLKeystorePassword is accepted for compatibility; the key must not be encrypted.
	SSLKeystorePassword string `hcl:"ssl_keystore_password,optional"`
	// SSLKeyPassword is accepted for compatibility; the key must not be encrypted.
	SSLKeyPassword string `hcl:"ssl_key_password,optional"`
	// SSLEndpointIdentificationAlgorithm is "https" (the broker's certificate
	// must name the host dialled) or "" (the chain is still verified, the
	// name is not).
	SSLEndpointIdentificationAlgorithm string `hcl:"ssl_endpoint_identification_algorithm,optional"`
}

// DocTitle names the group in the plugin reference.
func (JavaTLS) DocTitle() string { return "TLS: Kafka's store options" }

// Defaults sets Logstash's defaults.
func (j *JavaTLS) Defaults() { j.SSLEndpointIdentificationAlgorithm = "https" }

// Validate checks the store options.
func (j JavaTLS) Validate(c tlsopt.Client) error {
	if j.SSLTruststoreLocation != "" {
		if !strings.EqualFold(j.SSLTruststoreType, "PEM") {
			return fieldErr("ssl_truststore_type", "only PEM trust stores can be read: convert the store to PEM and set ssl_truststore_type => \"PEM\" (or use ssl_certificate_authorities)")
		}
		if len(c.SSLCertificateAuthorities) > 0 {
			return fieldErr("ssl_truststore_location", "set ssl_certificate_authorities or ssl_truststore_location, not both")
		}
	}
	if j.SSLKeystoreLocation != "" {
		if !strings.EqualFold(j.SSLKeystoreType, "PEM") {
			return fieldErr("ssl_keystore_type", "only PEM key stores can be read: convert the store to PEM and set ssl_keystore_type => \"PEM\" (or use ssl_certificate and ssl_key)")
		}
		if c.SSLCertificate != "" {
			return fieldErr("ssl_keystore_location", "set ssl_certificate or ssl_keystore_location, not both")
		}
	}
	switch j.SSLEndpointIdentificationAlgorithm {
	case "https", "HTTPS", "":
	default:
		return fieldErr("ssl_endpoint_identification_algorithm", "unsupported value %q: want \"https\" or \"\"", j.SSLEndpointIdentificationAlgorithm)
	}
	return nil
}

// ClientOpts turns validated options into franz-go options: the brokers,
// TLS and SASL. It reads the certificate and JAAS files.
func ClientOpts(c Connection, j JavaTLS, t tlsopt.Client) ([]kgo.Opt, error) {
	opts := []kgo.Opt{kgo.SeedBrokers(c.Brokers()...)}
	if c.TLSOn() || t.Enabled() {
		if j.SSLTruststoreLocation != "" {
			t.SSLCertificateAuthorities = []string{j.SSLTruststoreLocation}
		}
		if j.SSLKeystoreLocation != "" {
			t.SSLCertificate, t.SSLKey = j.SSLKeystoreLocation, j.SSLKeystoreLocation
		}
		cfg, err := t.Config()
		if err != nil {
			return nil, err
		}
		if j.SSLEndpointIdentificationAlgorithm == "" && !cfg.InsecureSkipVerify {
			verifyChainOnly(cfg)
		}
		opts = append(opts, kgo.DialTLSConfig(cfg))
	}
	if c.sasl() {
		jaas := c.SASLJaasConfig
		if jaas == "" {
			b, err := os.ReadFile(c.JaasPath)
			if err != nil {
				return nil, fieldErr("jaas_path", "%v", err)
			}
			jaas = string(b)
		}
		user, pass, err := credentials(jaas)
		if err != nil {
			field := "sasl_jaas_config"
			if c.SASLJaasConfig == "" {
				field = "jaas_path"
			}
			return nil, fieldErr(field, "%v", err)
		}
		switch c.SASLMechanism {
		case "PLAIN":
			opts = append(opts, kgo.SASL(plain.Auth{User: user, Pass: pass}.AsMechanism()))
		case "SCRAM-SHA-256":
			opts = append(opts, kgo.SASL(scram.Auth{User: user, Pass: pass}.AsSha256Mechanism()))
		case "SCRAM-SHA-512":
			opts = append(opts, kgo.SASL(scram.Auth{User: user, Pass: pass}.AsSha512Mechanism()))
		}
	}
	return opts, nil
}

// verifyChainOnly makes cfg check the broker's certificate chain but not its
// host name, as the Java client does with an empty
// ssl.endpoint.identification.algorithm.
func verifyChainOnly(cfg *tls.Config) {
	roots := cfg.RootCAs
	cfg.InsecureSkipVerify = true // replaced by the check below, which skips only the name
	cfg.VerifyConnection = func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return errors.New("kafka: the broker sent no certificate")
		}
		inter := x509.NewCertPool()
		for _, c := range cs.PeerCertificates[1:] {
			inter.AddCert(c)
		}
		_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter})
		return err
	}
}

// ValidateSecurity checks the connection, Java-style TLS and TLS client
// groups together, as the kafka input and output embed them: the TLS
// options are checked as used when the security protocol or ssl_enabled
// turns TLS on.
func ValidateSecurity(c Connection, j JavaTLS, cl tlsopt.Client) error {
	if err := c.Validate(); err != nil {
		return err
	}
	if err := j.Validate(cl); err != nil {
		return err
	}
	return cl.Validate(c.TLSOn() || cl.Enabled())
}
