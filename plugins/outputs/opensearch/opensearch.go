// Package opensearch implements the opensearch output, like the
// logstash-output-opensearch plugin: it writes events to OpenSearch (or
// OpenDistro, or any server speaking the bulk API) with the _bulk API.
//
// It is the elasticsearch output under OpenSearch's option names and
// defaults: the same bulk requests, per-item results, retries,
// back-pressure, dead letter queue and TLS client (see the elasticsearch
// output's page for how each item status is handled). What differs follows
// the OpenSearch plugin:
//   - events always go to index ("logstash-%{+yyyy.MM.dd}", or
//     "ecs-logstash-%{+yyyy.MM.dd}" with ECS compatibility on, the default):
//     there is no index lifecycle management and no data stream default
//     (write to an existing data stream with index => "<its name>" and
//     action => "create");
//   - the index template is installed with the legacy _template API unless
//     legacy_template => false (then _index_template);
//   - requests are not compressed unless http_compression => true, and a
//     bulk request grows to 9 MiB before the batch is split (target_bulk_bytes);
//   - TLS is ssl, cacert, ssl_certificate_verification, tls_certificate
//     and tls_key; Java keystores (truststore, keystore) are refused: convert
//     them to PEM files;
//   - auth_type => {type => "basic" user => … password => …} is another way
//     to write user and password; "aws_iam" (request signing for Amazon
//     OpenSearch Service) is not supported and refused by check.
package opensearch

import (
	"errors"
	"fmt"
	"strings"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/plugins/internal/tlsopt"
	"github.com/pipelined/pipeline/plugins/outputs/elasticsearch"
)

func init() { engine.RegisterOutput("opensearch", New) }

// Options configures the opensearch output. Their names and defaults are the
// logstash-output-opensearch plugin's.
type Options struct {
	// Hosts are the OpenSearch nodes, each a URL ("https://os1:9200",
	// "http://127.0.0.1:9200/prefix": a path is kept as a prefix of every
	// request) or "host[:port]" (port 9200; the scheme follows ssl). Requests
	// go round robin to the nodes that answer.
	Hosts []string `hcl:"hosts,optional"`
	elasticsearch.DocumentOptions
	// ManageTemplate installs the index template (template, or the built-in
	// one for the default index) when the output first connects, unless one
	// named template_name exists already (see template_overwrite).
	ManageTemplate bool `hcl:"manage_template,optional"`
	// Template is the path of a JSON file holding the index template to
	// install; unset, a built-in one is used. It is read and checked by
	// check.
	Template string `hcl:"template,optional"`
	// TemplateName is the template's name. Unset, it is "ecs-logstash"
	// ("logstash" with ecs_compatibility => disabled).
	TemplateName string `hcl:"template_name,optional"`
	// TemplateOverwrite replaces a template of that name that exists already.
	TemplateOverwrite bool `hcl:"template_overwrite,optional"`
	// LegacyTemplate installs the template with the legacy _template API;
	// false uses the composable _index_template API (OpenSearch 1.0 and
	// later).
	LegacyTemplate bool `hcl:"legacy_template,optional"`
	// DefaultServerMajorVersion is accepted for compatibility (the version
	// to assume when the server does not say it): the output reads the
	// version from GET / and needs none.
	DefaultServerMajorVersion int `hcl:"default_server_major_version,optional"`

	// User is the user name for HTTP basic authentication (with password).
	User string `hcl:"user,optional"`
	// Password is the basic authentication password. It is never logged.
	Password string `hcl:"password,optional"`
	// AuthType is the other form of the credentials: {type => "basic", user
	// => …, password => …}. The type "aws_iam" (AWS SigV4 request signing)
	// is not supported.
	AuthType engine.Hash `hcl:"auth_type,optional"`

	// ssl, cacert and ssl_certificate_verification: the names of the
	// OpenSearch plugin (Logstash 7's), shared with the elasticsearch output.
	tlsopt.ClientAliases
	TLSOptions

	// Path is a path prefix for every request, for hosts written without
	// one; a host with a path of its own and path together are refused.
	Path string `hcl:"path,optional"`
	// BulkPath is the path of bulk requests under each host's URL; unset,
	// "/_bulk".
	BulkPath string `hcl:"bulk_path,optional"`
	// Proxy is the URL of an HTTP proxy to send requests through; empty (the
	// default) uses none.
	Proxy string `hcl:"proxy,optional"`
	// CustomHeaders are HTTP headers added to every request.
	CustomHeaders engine.Hash `hcl:"custom_headers,optional"`
	// Parameters are query parameters added to every request.
	Parameters engine.Hash `hcl:"parameters,optional"`
	// Timeout bounds each request (connecting, sending the bulk and reading
	// the answer), in seconds. A request that times out is retried.
	Timeout float64 `hcl:"timeout,optional"`
	// HTTPCompression gzips request bodies (level 1).
	HTTPCompression bool `hcl:"http_compression,optional"`
	// TargetBulkBytes is the size a bulk request grows to before the batch
	// is split into another request (Amazon OpenSearch Service refuses
	// bodies over 10 MiB). An event larger than this goes alone.
	TargetBulkBytes int `hcl:"target_bulk_bytes,optional"`
	// FailureTypeLoggingWhitelist are item error types (such as
	// "version_conflict_engine_exception") that are not logged.
	FailureTypeLoggingWhitelist []string `hcl:"failure_type_logging_whitelist,optional"`
	// RetryInitialInterval is accepted for compatibility: retries follow the
	// pipeline's backoff (100 ms doubling up to 30 s by default).
	RetryInitialInterval float64 `hcl:"retry_initial_interval,optional"`
	// RetryMaxInterval is accepted for compatibility: see
	// retry_initial_interval.
	RetryMaxInterval float64 `hcl:"retry_max_interval,optional"`
	// Sniffing asks the cluster for its nodes in Logstash. Accepted for
	// compatibility: requests go to hosts as written (a warning says so).
	Sniffing bool `hcl:"sniffing,optional"`
	// SniffingDelay is accepted for compatibility: see sniffing.
	SniffingDelay float64 `hcl:"sniffing_delay,optional"`
	// SniffingPath is accepted for compatibility: see sniffing.
	SniffingPath string `hcl:"sniffing_path,optional"`
	// PoolMax is accepted for compatibility (Logstash's connection pool size).
	PoolMax int `hcl:"pool_max,optional"`
	// PoolMaxPerRoute is accepted for compatibility (connections per node).
	PoolMaxPerRoute int `hcl:"pool_max_per_route,optional"`
	// ResurrectDelay is accepted for compatibility: a node that failed is
	// tried again at the next retry.
	ResurrectDelay float64 `hcl:"resurrect_delay,optional"`
	// ValidateAfterInactivity is accepted for compatibility (milliseconds).
	ValidateAfterInactivity int `hcl:"validate_after_inactivity,optional"`
	// HealthcheckPath is accepted for compatibility: nodes are checked with
	// GET / under their path.
	HealthcheckPath string `hcl:"healthcheck_path,optional"`
}

// TLSOptions are the OpenSearch plugin's client certificate options and the
// Java keystores it takes.
type TLSOptions struct {
	// TLSCertificate is the path of a client certificate (PEM) presented to
	// a server that asks for one; tls_key is then required.
	TLSCertificate string `hcl:"tls_certificate,optional"`
	// TLSKey is the path of the client certificate's private key (PEM).
	TLSKey string `hcl:"tls_key,optional"`
	// Truststore is a Java keystore of CAs: not supported (refused by
	// check); convert it to a PEM file for cacert.
	Truststore string `hcl:"truststore,optional"`
	// TruststorePassword goes with truststore: not supported.
	TruststorePassword string `hcl:"truststore_password,optional"`
	// Keystore is a Java keystore holding the client certificate: not
	// supported (refused by check); convert it to PEM files for
	// tls_certificate and tls_key.
	Keystore string `hcl:"keystore,optional"`
	// KeystorePassword goes with keystore: not supported.
	KeystorePassword string `hcl:"keystore_password,optional"`
}

// Defaults sets the OpenSearch plugin's defaults.
func (o *Options) Defaults() {
	var es elasticsearch.Options
	es.Defaults()
	o.Hosts = es.Hosts
	o.DocumentOptions = es.DocumentOptions
	o.ManageTemplate = true
	o.LegacyTemplate = true
	o.Timeout = 60
	o.TargetBulkBytes = 9 << 20
	o.RetryInitialInterval = 2
	o.RetryMaxInterval = 64
	o.SniffingDelay = 5
	o.PoolMax = 1000
	o.PoolMaxPerRoute = 100
	o.ResurrectDelay = 5
	o.ValidateAfterInactivity = 10000
}

// esNames maps the elasticsearch output's option names, in its errors, to
// the ones written here.
var esNames = map[string]string{
	"ssl_enabled":                 "ssl",
	"ssl_certificate_authorities": "cacert",
	"ssl_verification_mode":       "ssl_certificate_verification",
	"ssl_certificate":             "tls_certificate",
	"ssl_key":                     "tls_key",
	"template_api":                "legacy_template",
	"compression_level":           "http_compression",
	"silence_errors_in_log":       "failure_type_logging_whitelist",
}

// Validate checks the options: the OpenSearch-only ones here, the rest as
// the elasticsearch output does. It reads no file.
func (o *Options) Validate() error {
	fe := func(f, format string, args ...any) error {
		return &engine.FieldError{Field: f, Err: fmt.Errorf(format, args...)}
	}
	if o.Truststore != "" || o.TruststorePassword != "" {
		return fe("truststore", "Java keystores are not supported: export the CA certificates to a PEM file (keytool -exportcert -rfc) and set cacert")
	}
	if o.Keystore != "" || o.KeystorePassword != "" {
		return fe("keystore", "Java keystores are not supported: export the client certificate and key to PEM files and set tls_certificate and tls_key")
	}
	if _, _, err := o.credentials(); err != nil {
		return err
	}
	es, err := o.es()
	if err != nil {
		return err
	}
	if err := es.Validate(); err != nil {
		var f *engine.FieldError
		if errors.As(err, &f) {
			if name, ok := esNames[f.Field]; ok {
				return &engine.FieldError{Field: name, Err: f.Err}
			}
		}
		return err
	}
	return nil
}

// credentials returns user and password, from user and password or from
// auth_type.
func (o *Options) credentials() (user, password string, err error) {
	if len(o.AuthType) == 0 {
		return o.User, o.Password, nil
	}
	fe := func(format string, args ...any) error {
		return &engine.FieldError{Field: "auth_type", Err: fmt.Errorf(format, args...)}
	}
	typ, _ := o.AuthType.Get("type")
	switch typ {
	case "basic":
	case "aws_iam":
		return "", "", fe("type \"aws_iam\" (AWS SigV4 request signing) is not supported: use basic authentication (an internal user of the OpenSearch security plugin)")
	case "":
		return "", "", fe("needs a type: \"basic\"")
	default:
		return "", "", fe("unsupported type %q: want \"basic\"", typ)
	}
	for _, e := range o.AuthType {
		switch e.Key {
		case "type", "user", "password":
		default:
			return "", "", fe("unknown key %q for type \"basic\": want user and password", e.Key)
		}
	}
	if o.User != "" || o.Password != "" {
		return "", "", fe("set the credentials either in auth_type or with user and password, not both")
	}
	user, _ = o.AuthType.Get("user")
	password, _ = o.AuthType.Get("password")
	if user == "" || password == "" {
		return "", "", fe("type \"basic\" needs user and password")
	}
	return user, password, nil
}

// tlsOn reports whether TLS is asked for: ssl => true, or an https:// host.
func (o *Options) tlsOn() bool {
	if o.SSL != nil {
		return *o.SSL
	}
	for _, h := range o.Hosts {
		if strings.HasPrefix(strings.ToLower(strings.TrimSpace(h)), "https://") {
			return true
		}
	}
	return false
}

// es returns the elasticsearch output's options doing what o says.
func (o *Options) es() (elasticsearch.Options, error) {
	var es elasticsearch.Options
	es.Defaults()
	es.Hosts = o.Hosts
	es.DocumentOptions = o.DocumentOptions
	// Always an index: no data stream, no rollover alias.
	es.DataStream = "false"
	es.ILMEnabled = "false"
	es.ManageTemplate = &o.ManageTemplate
	es.Template = o.Template
	es.TemplateName = o.TemplateName
	es.TemplateOverwrite = o.TemplateOverwrite
	es.TemplateAPI = "composable"
	if o.LegacyTemplate {
		es.TemplateAPI = "legacy"
	}
	user, password, err := o.credentials()
	if err != nil {
		return es, err
	}
	es.User, es.Password = user, password
	es.SSLEnabled = o.SSL
	if o.CACert != "" {
		es.SSLCertificateAuthorities = []string{o.CACert}
	}
	// Verification matters only over TLS; Logstash ignores a false one
	// beside http:// hosts, and so do we.
	if v := o.SSLCertificateVerification; v != nil && !*v && o.tlsOn() {
		es.SSLVerificationMode = "none"
	}
	es.SSLCertificate, es.SSLKey = o.TLSCertificate, o.TLSKey
	es.Path, es.BulkPath, es.Proxy = o.Path, o.BulkPath, o.Proxy
	es.CustomHeaders, es.Parameters = o.CustomHeaders, o.Parameters
	es.Timeout = o.Timeout
	es.CompressionLevel = 0
	if o.HTTPCompression {
		es.CompressionLevel = 1
	}
	es.TargetBulkBytes = o.TargetBulkBytes
	es.SilenceErrorsInLog = o.FailureTypeLoggingWhitelist
	es.RetryInitialInterval, es.RetryMaxInterval = o.RetryInitialInterval, o.RetryMaxInterval
	es.Sniffing, es.SniffingDelay, es.SniffingPath = o.Sniffing, o.SniffingDelay, o.SniffingPath
	es.PoolMax, es.PoolMaxPerRoute = o.PoolMax, o.PoolMaxPerRoute
	es.ResurrectDelay, es.ValidateAfterInactivity = o.ResurrectDelay, o.ValidateAfterInactivity
	es.HealthcheckPath = o.HealthcheckPath
	return es, nil
}

// New builds an opensearch output: the elasticsearch output with the
// options o stands for. It opens and reads nothing but the template file.
func New(o Options, r engine.Resources) (*elasticsearch.Output, error) {
	es, err := o.es()
	if err != nil {
		return nil, err
	}
	return elasticsearch.New(es, r)
}
