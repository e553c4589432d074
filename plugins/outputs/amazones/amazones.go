// Package amazones implements the amazon_es output, like the
// logstash-output-amazon_es plugin (awslabs): the elasticsearch output
// writing to an Amazon OpenSearch Service (formerly Amazon Elasticsearch
// Service) domain, every request signed with AWS Signature Version 4 for
// region and service_name.
//
// Credentials are aws_access_key_id and aws_secret_access_key, or else the
// environment variables AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and
// AWS_SESSION_TOKEN. The plugin's other sources (instance profile, shared
// credentials file, aws_credentials_file) are not read: without credentials
// the pipeline refuses to start (check warns). Bulk requests, retries,
// back-pressure, the dead letter queue and templates are the elasticsearch
// output's; events always go to index (default "logstash-%{+YYYY.MM.dd}"),
// never to a data stream.
package amazones

import (
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/plugins/internal/awssig"
	"github.com/pipelined/pipeline/plugins/outputs/elasticsearch"
)

func init() { engine.RegisterOutput("amazon_es", New) }

// Options configures the amazon_es output, with the plugin's names and
// defaults.
type Options struct {
	// Hosts are the domain endpoints, as host names
	// ("search-logs-abc.eu-west-1.es.amazonaws.com") reached with protocol
	// and port, or as URLs.
	Hosts []string `hcl:"hosts"`
	// Port is the port of hosts given as names.
	Port int `hcl:"port,optional"`
	// Protocol is "https" or "http", for hosts given as names.
	Protocol string `hcl:"protocol,optional"`
	// Region is the domain's AWS region, part of every signature.
	Region string `hcl:"region,optional"`
	// ServiceName is the signing name of the service: "es" for domains,
	// "aoss" for OpenSearch Serverless.
	ServiceName string `hcl:"service_name,optional"`
	// AWSAccessKeyID is the access key; unset, AWS_ACCESS_KEY_ID.
	AWSAccessKeyID string `hcl:"aws_access_key_id,optional"`
	// AWSSecretAccessKey is the access key's secret; unset,
	// AWS_SECRET_ACCESS_KEY. It is never logged.
	AWSSecretAccessKey string `hcl:"aws_secret_access_key,optional"`
	elasticsearch.DocumentOptions
	// ManageTemplate installs the index template when the output first
	// connects.
	ManageTemplate bool `hcl:"manage_template,optional"`
	// Template is the path of a JSON index template file; unset, a built-in
	// one.
	Template string `hcl:"template,optional"`
	// TemplateName is the template's name.
	TemplateName string `hcl:"template_name,optional"`
	// TemplateOverwrite replaces a template of that name.
	TemplateOverwrite bool `hcl:"template_overwrite,optional"`
	// Path is a path prefix for every request.
	Path string `hcl:"path,optional"`
	// CustomHeaders are HTTP headers added to every request.
	CustomHeaders engine.Hash `hcl:"custom_headers,optional"`
	// Parameters are query parameters added to every request.
	Parameters engine.Hash `hcl:"parameters,optional"`
	// Timeout bounds each request, in seconds.
	Timeout float64 `hcl:"timeout,optional"`
	// HTTPCompression gzips request bodies.
	HTTPCompression bool `hcl:"http_compression,optional"`
	// MaxBulkBytes is the size a bulk request grows to before the batch is
	// split into another request.
	MaxBulkBytes int `hcl:"max_bulk_bytes,optional"`
	// FailureTypeLoggingWhitelist are item error types that are not logged.
	FailureTypeLoggingWhitelist []string `hcl:"failure_type_logging_whitelist,optional"`
	// SkipTemplateInstallation leaves templates alone (manage_template =>
	// false says the same).
	SkipTemplateInstallation bool `hcl:"skip_template_installation,optional"`
	// SkipHealthcheck is accepted for compatibility.
	SkipHealthcheck bool `hcl:"skip_healthcheck,optional"`
	// PoolMax is accepted for compatibility.
	PoolMax int `hcl:"pool_max,optional"`
	// PoolMaxPerRoute is accepted for compatibility.
	PoolMaxPerRoute int `hcl:"pool_max_per_route,optional"`
}

// Defaults sets the plugin's defaults.
func (o *Options) Defaults() {
	var es elasticsearch.Options
	es.Defaults()
	o.DocumentOptions = es.DocumentOptions
	o.Index = "logstash-%{+YYYY.MM.dd}"
	o.Port = 443
	o.Protocol = "https"
	o.Region = "us-east-1"
	o.ServiceName = "es"
	o.ManageTemplate = true
	o.Timeout = 60
	o.MaxBulkBytes = 20 << 20
	o.PoolMax = 1000
	o.PoolMaxPerRoute = 100
}

// Validate checks the options without reading files.
func (o *Options) Validate() error {
	fe := func(f, format string, args ...any) error {
		return &engine.FieldError{Field: f, Err: fmt.Errorf(format, args...)}
	}
	if o.Protocol != "https" && o.Protocol != "http" {
		return fe("protocol", `want "https" or "http"; got %q`, o.Protocol)
	}
	if o.Region == "" {
		return fe("region", "must not be empty")
	}
	if o.ServiceName == "" {
		return fe("service_name", "must not be empty")
	}
	if (o.AWSAccessKeyID == "") != (o.AWSSecretAccessKey == "") {
		return fe("aws_secret_access_key", "set aws_access_key_id and aws_secret_access_key together")
	}
	es, err := o.es()
	if err != nil {
		return err
	}
	return es.Validate()
}

// es returns the elasticsearch output's options doing what o says.
func (o *Options) es() (elasticsearch.Options, error) {
	var es elasticsearch.Options
	es.Defaults()
	es.DocumentOptions = o.DocumentOptions
	es.DataStream = "false"
	es.ILMEnabled = "false"
	manage := o.ManageTemplate && !o.SkipTemplateInstallation
	es.ManageTemplate = &manage
	es.Template, es.TemplateName, es.TemplateOverwrite = o.Template, o.TemplateName, o.TemplateOverwrite
	es.Hosts = nil
	for _, h := range o.Hosts {
		h = strings.TrimSpace(h)
		if h == "" {
			return es, &engine.FieldError{Field: "hosts", Err: fmt.Errorf("an empty host")}
		}
		if !strings.Contains(h, "://") {
			if _, _, err := net.SplitHostPort(h); err != nil {
				h = net.JoinHostPort(h, strconv.Itoa(o.Port))
			}
			h = o.Protocol + "://" + h
		}
		es.Hosts = append(es.Hosts, h)
	}
	es.Path, es.CustomHeaders, es.Parameters = o.Path, o.CustomHeaders, o.Parameters
	es.Timeout = o.Timeout
	es.CompressionLevel = 0
	if o.HTTPCompression {
		es.CompressionLevel = 1
	}
	es.TargetBulkBytes = o.MaxBulkBytes
	es.SilenceErrorsInLog = o.FailureTypeLoggingWhitelist
	es.PoolMax, es.PoolMaxPerRoute = o.PoolMax, o.PoolMaxPerRoute
	return es, nil
}

// New builds an amazon_es output: the elasticsearch output with every
// request signed. It opens nothing.
func New(o Options, r engine.Resources) (*elasticsearch.Output, error) {
	es, err := o.es()
	if err != nil {
		return nil, err
	}
	creds := awssig.Credentials{AccessKeyID: o.AWSAccessKeyID, SecretAccessKey: o.AWSSecretAccessKey}
	if creds.AccessKeyID == "" {
		if creds, err = awssig.FromEnv(); err != nil {
			// The plugin finds its credentials when it starts (and may read
			// an instance profile there): logstash -t accepts the file.
			return nil, engine.AtStart(&engine.FieldError{Field: "aws_access_key_id", Err: err})
		}
	}
	out, err := elasticsearch.New(es, r)
	if err != nil {
		return nil, err
	}
	s := &awssig.Signer{Credentials: creds, Region: o.Region, Service: o.ServiceName}
	out.SignRequests(s.Sign)
	return out, nil
}
