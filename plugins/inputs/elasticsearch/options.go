package elasticsearch

import (
	"encoding/base64"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/engine/redact"
	"github.com/pipelined/pipeline/plugins/internal/cloudid"
	"github.com/pipelined/pipeline/plugins/internal/cron"
	"github.com/pipelined/pipeline/plugins/internal/ecs"
	"github.com/pipelined/pipeline/plugins/internal/tlsopt"
)

// Options configures the elasticsearch input.
type Options struct {
	// Hosts are the Elasticsearch nodes, each "host", "host:port" (port 9200;
	// the scheme follows ssl_enabled) or a URL ("https://es1:9200",
	// "http://127.0.0.1:4080/es": a path is kept as a prefix of every
	// request). Unset, "localhost:9200". A request that fails to connect
	// goes to the next host.
	Hosts []string `hcl:"hosts,optional"`
	// Index is the index, alias, pattern ("logs-*") or comma-separated list
	// searched.
	Index string `hcl:"index,optional"`
	// QueryType is "dsl" (query is Query DSL JSON); "esql" is not supported.
	QueryType string `hcl:"query_type,optional"`
	// Query is the search request body, Query DSL as JSON text ('{ "query":
	// { "match": { "statuscode": 200 } }, "sort": [ "_doc" ] }'); the default
	// sorts by _doc and matches everything.
	Query string `hcl:"query,optional"`
	// ResponseType is "hits" (one event per document found) or
	// "aggregations" (one event per run, holding the aggregations of the
	// answer).
	ResponseType string `hcl:"response_type,optional"`
	// Size is how many documents each page (scroll or search_after request)
	// asks for.
	Size int `hcl:"size,optional"`
	// Retries is how many times a failed search is started again (from its
	// first page, so documents may be read twice); after that the run is
	// given up with an error in the log, as Logstash does.
	Retries int `hcl:"retries,optional"`
	// SearchAPI is "search_after" (a point in time and search_after pages,
	// Elasticsearch 7.10 and later), "scroll", or "auto": search_after when
	// the server announces version 8 or later, scroll otherwise.
	SearchAPI string `hcl:"search_api,optional"`
	// Scroll is how long the server keeps the scroll context or point in
	// time between two pages ("1m").
	Scroll string `hcl:"scroll,optional"`
	// Slices splits the search into this many slices (Elasticsearch's sliced
	// scroll / sliced point in time). Logstash reads them in parallel; here
	// they are read one after the other, each with its slice id.
	Slices *int `hcl:"slices,optional"`
	// Docinfo adds the document's _index, _type and _id (docinfo_fields) to
	// each event, under docinfo_target.
	Docinfo bool `hcl:"docinfo,optional"`
	// DocinfoTarget is where docinfo goes; unset, [@metadata] with
	// ecs_compatibility => disabled and [@metadata][input][elasticsearch]
	// otherwise.
	DocinfoTarget string `hcl:"docinfo_target,optional"`
	// DocinfoFields are the hit's metadata fields docinfo copies.
	DocinfoFields []string `hcl:"docinfo_fields,optional"`
	// CustomHeaders are HTTP headers added to every request.
	CustomHeaders engine.Hash `hcl:"custom_headers,optional"`
	// User is the user name for HTTP basic authentication (with password).
	User string `hcl:"user,optional"`
	// Password is the basic authentication password. It is never logged.
	Password string `hcl:"password,optional"`
	// APIKey authenticates with an Elasticsearch API key, "id:api_key" (or
	// already base64-encoded); it requires ssl_enabled => true.
	APIKey string `hcl:"api_key,optional"`
	// CloudID is an Elastic Cloud deployment's Cloud ID: it names the
	// https:// host to use instead of hosts.
	CloudID string `hcl:"cloud_id,optional"`
	// CloudAuth is "<user>:<password>" for an Elastic Cloud deployment, in
	// place of user and password. It is never logged.
	CloudAuth string `hcl:"cloud_auth,optional"`
	// Proxy is the URL of an HTTP proxy; unset (or empty), none.
	Proxy string `hcl:"proxy,optional"`
	// ConnectTimeoutSeconds bounds connecting to a host.
	ConnectTimeoutSeconds int `hcl:"connect_timeout_seconds,optional"`
	// RequestTimeoutSeconds bounds each request.
	RequestTimeoutSeconds int `hcl:"request_timeout_seconds,optional"`
	// SocketTimeoutSeconds bounds the wait for an answer once a request is
	// sent.
	SocketTimeoutSeconds int `hcl:"socket_timeout_seconds,optional"`
	// Schedule runs the search periodically, on a cron line as Logstash's
	// (rufus-scheduler: "*/5 * * * *", six fields with seconds first, an
	// optional time zone at the end: "0 8 * * 1-5 Europe/Paris"). Unset, the
	// search runs once and the input ends (the one-shot mode).
	Schedule string `hcl:"schedule,optional"`
	// ScheduleOverlap is accepted for compatibility: runs never overlap here;
	// a run that lasts past the next time skips the times it covered.
	ScheduleOverlap *bool `hcl:"schedule_overlap,optional"`
	// Target is a field the document's source is put under; unset, the
	// source's fields are the event's top-level fields.
	Target string `hcl:"target,optional"`
	// TrackingField is not supported (Logstash's cursor over a field): it is
	// refused.
	TrackingField string `hcl:"tracking_field,optional"`
	ecs.Compatibility
	// The ssl_* options. Unset, ssl_enabled follows the hosts: on when every
	// host is https://.
	tlsopt.Client
	tlsopt.JavaStores
	tlsopt.ESInputRemoved
}

// Defaults sets Logstash's defaults.
func (o *Options) Defaults() {
	o.Index = "logstash-*"
	o.QueryType = "dsl"
	o.Query = `{ "sort": [ "_doc" ] }`
	o.ResponseType = "hits"
	o.Size = 1000
	o.SearchAPI = "auto"
	o.Scroll = "1m"
	o.DocinfoFields = []string{"_index", "_type", "_id"}
	o.ConnectTimeoutSeconds = 10
	o.RequestTimeoutSeconds = 60
	o.SocketTimeoutSeconds = 60
	o.Compatibility.Defaults()
	o.Client.Defaults()
}

func fieldErr(field, format string, args ...any) error {
	return &engine.FieldError{Field: field, Err: fmt.Errorf(format, args...)}
}

// Validate checks the options; it reads no file and connects nowhere.
func (o *Options) Validate() error {
	switch o.QueryType {
	case "dsl":
	case "esql":
		return fieldErr("query_type", "ES|QL queries are not supported: write the query in Query DSL")
	default:
		return fieldErr("query_type", "unsupported value %q: use dsl", o.QueryType)
	}
	q, err := o.query()
	if err != nil {
		return fieldErr("query", "%v", err)
	}
	switch o.ResponseType {
	case "hits", "aggregations":
	default:
		return fieldErr("response_type", "unsupported value %q: use hits or aggregations", o.ResponseType)
	}
	switch o.SearchAPI {
	case "auto", "search_after", "scroll":
	default:
		return fieldErr("search_api", "unsupported value %q: use auto, search_after or scroll", o.SearchAPI)
	}
	if o.Size < 1 {
		return fieldErr("size", "must be at least 1")
	}
	if o.Retries < 0 {
		return fieldErr("retries", "must be equal or greater than zero, got %d", o.Retries)
	}
	if o.Slices != nil {
		if *o.Slices < 1 {
			return fieldErr("slices", "must be greater than zero, got %d", *o.Slices)
		}
		if _, ok := q["slice"]; ok {
			return fieldErr("query", "query cannot specify a slice when slices manages parallel slices")
		}
	}
	if !validKeepAlive(o.Scroll) {
		return fieldErr("scroll", "%q is not a time value such as \"1m\" or \"30s\"", o.Scroll)
	}
	if o.Index == "" {
		return fieldErr("index", "must not be empty")
	}
	for _, f := range []struct{ name, ref string }{{"docinfo_target", o.DocinfoTarget}, {"target", o.Target}} {
		if f.ref != "" {
			if _, err := event.ParseRef(f.ref); err != nil {
				return fieldErr(f.name, "%v", err)
			}
		}
	}
	if o.TrackingField != "" {
		return fieldErr("tracking_field", "is not supported; use a range query on a time field with schedule")
	}
	for _, t := range []struct {
		name string
		v    int
	}{{"connect_timeout_seconds", o.ConnectTimeoutSeconds}, {"request_timeout_seconds", o.RequestTimeoutSeconds}, {"socket_timeout_seconds", o.SocketTimeoutSeconds}} {
		if t.v < 1 {
			return fieldErr(t.name, "must be a positive whole number")
		}
	}
	if o.Schedule != "" {
		if _, err := cron.Parse(o.Schedule); err != nil {
			return fieldErr("schedule", "%v", err)
		}
	}
	if err := o.validateAuth(); err != nil {
		return err
	}
	if o.Proxy != "" {
		u, err := url.Parse(o.Proxy)
		if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "socks5") {
			return fieldErr("proxy", "%q is not a proxy URL (http://host:port)", redact.URL(o.Proxy))
		}
	}
	for _, h := range o.CustomHeaders {
		if h.Key == "" || strings.ContainsAny(h.Key, " :\r\n") || strings.ContainsAny(h.Value, "\r\n") {
			return fieldErr("custom_headers", "%q is not an HTTP header name and value", h.Key)
		}
	}
	if err := o.Compatibility.Validate(); err != nil {
		return err
	}
	if err := o.JavaStores.Validate(); err != nil {
		return err
	}
	eps, err := o.endpoints()
	if err != nil {
		return err
	}
	if err := o.Client.Validate(eps[0].Scheme == "https"); err != nil {
		return err
	}
	if o.APIKey != "" && !o.Enabled() {
		return fieldErr("api_key", "api_key authentication requires TLS: set ssl_enabled => true")
	}
	return nil
}

// validateAuth allows one of user/password, cloud_auth and api_key.
func (o *Options) validateAuth() error {
	n := 0
	for _, set := range []bool{o.CloudAuth != "", o.APIKey != "", o.User != "" || o.Password != ""} {
		if set {
			n++
		}
	}
	if n > 1 {
		return fieldErr("user", "several authentications are set: use only one of user and password, cloud_auth or api_key")
	}
	if o.Password != "" && o.User == "" {
		return fieldErr("password", "user is required with password")
	}
	if o.CloudAuth != "" {
		if u, _, ok := strings.Cut(o.CloudAuth, ":"); !ok || u == "" {
			return fieldErr("cloud_auth", "want \"<user>:<password>\"")
		}
	}
	if o.CloudID != "" {
		if len(o.Hosts) > 0 {
			return fieldErr("cloud_id", "set either cloud_id or hosts, not both")
		}
		if _, err := cloudHost(o.CloudID); err != nil {
			return fieldErr("cloud_id", "%v", err)
		}
	}
	return nil
}

// query parses query as a JSON object.
func (o *Options) query() (map[string]any, error) {
	v, err := event.ParseJSON([]byte(o.Query))
	if err != nil {
		return nil, fmt.Errorf("not JSON: %v", err)
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("must be a JSON object (the search request body)")
	}
	return m, nil
}

// validKeepAlive reports whether s is an Elasticsearch time value.
func validKeepAlive(s string) bool {
	for _, unit := range []string{"nanos", "micros", "ms", "s", "m", "h", "d"} {
		if n, ok := strings.CutSuffix(s, unit); ok && n != "" {
			if _, err := strconv.ParseUint(n, 10, 32); err == nil {
				return true
			}
		}
	}
	return false
}

// sslEnabled is ssl_enabled, or, unset, whether every host is https://.
func (o *Options) sslEnabled() bool {
	if o.SSLEnabled != nil {
		return *o.SSLEnabled
	}
	if o.CloudID != "" {
		return true
	}
	if len(o.Hosts) == 0 {
		return false
	}
	for _, h := range o.Hosts {
		if !strings.HasPrefix(strings.TrimSpace(h), "https") {
			return false
		}
	}
	return true
}

// Enabled reports whether requests use TLS.
func (o *Options) Enabled() bool { return o.sslEnabled() }

// endpoints parses the hosts into base URLs.
func (o *Options) endpoints() ([]*url.URL, error) {
	bad := func(format string, args ...any) error { return fieldErr("hosts", format, args...) }
	hosts := o.Hosts
	if o.CloudID != "" {
		h, _ := cloudHost(o.CloudID)
		hosts = []string{h}
	}
	if len(hosts) == 0 {
		hosts = []string{"localhost:9200"}
	}
	ssl := o.sslEnabled()
	var out []*url.URL
	for _, h := range hosts {
		h = strings.TrimSpace(h)
		raw := h
		if !strings.Contains(h, "://") {
			raw = "//" + h
		}
		u, err := url.Parse(raw)
		if err != nil || u.Host == "" {
			return nil, bad("%q is not a host, host:port or URL", redact.URL(h))
		}
		switch u.Scheme {
		case "":
			u.Scheme = "http"
			if ssl {
				u.Scheme = "https"
			}
		case "http", "https":
		default:
			return nil, bad("%q: unsupported scheme %q: want http or https", redact.URL(h), u.Scheme)
		}
		if u.Port() == "" {
			u.Host = net.JoinHostPort(u.Hostname(), "9200")
		}
		u.Path = strings.TrimRight(u.Path, "/")
		out = append(out, u)
	}
	return out, nil
}

// cloudHost decodes a Cloud ID into the Elasticsearch URL it names.
var cloudHost = cloudid.Host

// authorization is the Authorization header of the credentials, or "".
func (o *Options) authorization() string {
	switch {
	case o.APIKey != "":
		k := o.APIKey
		if dec, err := base64.StdEncoding.DecodeString(k); err != nil || base64.StdEncoding.EncodeToString(dec) != k {
			k = base64.StdEncoding.EncodeToString([]byte(k))
		}
		return "ApiKey " + k
	case o.CloudAuth != "":
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(o.CloudAuth))
	case o.User != "":
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(o.User+":"+o.Password))
	}
	return ""
}

// docinfoTarget is docinfo_target or its ECS default.
func (o *Options) docinfoTarget() string {
	if o.DocinfoTarget != "" {
		return o.DocinfoTarget
	}
	if o.Compatibility.ECS() {
		return "[@metadata][input][elasticsearch]"
	}
	return "[@metadata]"
}
