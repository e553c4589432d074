// Package elasticsearch implements the elasticsearch filter, like Logstash's
// (query_type "dsl"): for each event it searches Elasticsearch and copies
// fields of the hits (fields, docinfo_fields) and aggregations
// (aggregation_fields) into the event.
//
// query is a Lucene query string, a sprintf template rendered per event
// ("type:start AND operation:%{[opid]}"), searched with result_size hits,
// sorted by sort ("@timestamp:desc") when enable_sort. It is sent as the
// query_string query of a search body, which is what Elasticsearch makes of
// Logstash's q= parameter. query_template is instead the path of a file
// holding a whole search body (Query DSL JSON), a sprintf template too.
//
// With one hit a field gets its value; with several, the array of the hits'
// values, as Logstash. [@metadata][total_hits] is set to the total the server
// reports. An event with no hit and no aggregation is left as it was (the
// common options such as add_tag are not applied, as Logstash's
// filter_matched is not called); a failed search (server down, an error
// answer, a bad query) tags the event with tag_on_failure and passes it on.
//
// hosts are tried in order for each search; a host that cannot be reached is
// skipped for the next. user and password (basic authentication) or api_key
// ("id:key", sent as an ApiKey header) are never logged. Every answer is read
// up to MaxResponseBytes.
package elasticsearch

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/engine/redact"
	"github.com/pipelined/pipeline/plugins/internal/httpclient"
	"github.com/pipelined/pipeline/plugins/internal/tlsopt"
)

func init() { engine.RegisterFilter("elasticsearch", New) }

// MaxResponseBytes bounds one search answer.
const MaxResponseBytes = 32 << 20

// Options configures the elasticsearch filter.
type Options struct {
	// Hosts are the Elasticsearch nodes, "host:port" or URLs (a path is kept
	// as a prefix of the requests).
	Hosts []string `hcl:"hosts,optional"`
	// Index is the index, pattern or list searched, a sprintf template;
	// empty searches all indices.
	Index string `hcl:"index,optional"`
	// QueryType is "dsl"; "esql" is not supported.
	QueryType string `hcl:"query_type,optional"`
	// Query is a Lucene query string, a sprintf template.
	Query string `hcl:"query,optional"`
	// QueryTemplate is the path of a file holding a search body (Query DSL
	// JSON), a sprintf template.
	QueryTemplate string `hcl:"query_template,optional"`
	// Sort is "field:direction" pairs, comma-separated, used with query when
	// enable_sort.
	Sort string `hcl:"sort,optional"`
	// EnableSort sorts the hits of query by sort.
	EnableSort bool `hcl:"enable_sort,optional"`
	// ResultSize is how many hits query asks for.
	ResultSize int `hcl:"result_size,optional"`
	// Fields maps fields of the hits' _source ("[a][b]" for nested) to event
	// fields.
	Fields engine.Hash `hcl:"fields,optional"`
	// DocinfoFields maps hit metadata (_id, _index, …) to event fields.
	DocinfoFields engine.Hash `hcl:"docinfo_fields,optional"`
	// AggregationFields maps aggregation names of the answer to event fields.
	AggregationFields engine.Hash `hcl:"aggregation_fields,optional"`
	// TagOnFailure are added to an event whose search failed.
	TagOnFailure []string `hcl:"tag_on_failure,optional"`
	// Target is a field under which the copied fields are set.
	Target string `hcl:"target,optional"`
	// CustomHeaders are HTTP headers added to every request.
	CustomHeaders engine.Hash `hcl:"custom_headers,optional"`
	// User is the basic authentication user name (with password).
	User string `hcl:"user,optional"`
	// Password is the basic authentication password. It is never logged.
	Password string `hcl:"password,optional"`
	// APIKey is an Elasticsearch API key, "id:api_key"; it needs TLS.
	APIKey string `hcl:"api_key,optional"`
	// Proxy is the URL of an HTTP proxy; empty, none.
	Proxy string `hcl:"proxy,optional"`
	// RetryOnFailure is how many times a failed search is sent again.
	RetryOnFailure int `hcl:"retry_on_failure,optional"`
	// RetryOnStatus are the HTTP statuses that make a search be sent again.
	RetryOnStatus []int `hcl:"retry_on_status,optional"`
	// The ssl_* options. Unset, ssl_enabled follows the hosts: on when every
	// host is https://.
	tlsopt.Client
}

// Defaults sets Logstash's defaults.
func (o *Options) Defaults() {
	o.Hosts = []string{"localhost:9200"}
	o.QueryType = "dsl"
	o.Sort = "@timestamp:desc"
	o.EnableSort = true
	o.ResultSize = 1
	o.TagOnFailure = []string{"_elasticsearch_lookup_failure"}
	o.RetryOnStatus = []int{500, 502, 503, 504}
	o.Client.Defaults()
}

func fieldErr(field, format string, args ...any) error {
	return &engine.FieldError{Field: field, Err: fmt.Errorf(format, args...)}
}

// Validate checks the options; it reads no file.
func (o *Options) Validate() error {
	switch o.QueryType {
	case "dsl":
	case "esql":
		return fieldErr("query_type", "ES|QL queries are not supported: use query or query_template")
	default:
		return fieldErr("query_type", "unsupported value %q: want \"dsl\"", o.QueryType)
	}
	if (o.Query == "") == (o.QueryTemplate == "") {
		return fieldErr("query", "set exactly one of query and query_template")
	}
	for _, t := range []struct{ name, src string }{{"index", o.Index}, {"query", o.Query}} {
		if _, err := event.ParseTemplate(t.src); err != nil {
			return fieldErr(t.name, "%v", err)
		}
	}
	if o.ResultSize < 0 {
		return fieldErr("result_size", "must not be negative")
	}
	if o.RetryOnFailure < 0 {
		return fieldErr("retry_on_failure", "must not be negative")
	}
	if _, err := parseSort(o.Sort); err != nil {
		return fieldErr("sort", "%v", err)
	}
	if len(o.Hosts) == 0 {
		return fieldErr("hosts", "list at least one host")
	}
	for _, h := range o.Hosts {
		if _, err := hostURL(h, false); err != nil {
			return fieldErr("hosts", "%v", err)
		}
	}
	if o.Target != "" {
		if _, err := event.ParseRef(o.Target); err != nil {
			return fieldErr("target", "%v", err)
		}
	}
	for _, h := range []struct {
		name string
		h    engine.Hash
	}{{"fields", o.Fields}, {"docinfo_fields", o.DocinfoFields}, {"aggregation_fields", o.AggregationFields}} {
		for _, e := range h.h {
			if _, err := event.ParseRef(o.targetPath(e.Value)); err != nil {
				return fieldErr(h.name, "%q: %v", e.Value, err)
			}
		}
	}
	if o.User != "" && o.Password == "" {
		return fieldErr("password", "user %q is set without a password", o.User)
	}
	if o.APIKey != "" && o.User != "" {
		return fieldErr("api_key", "set either user and password or api_key, not both")
	}
	on := o.tlsOn()
	if o.APIKey != "" && !on {
		return fieldErr("api_key", "requires TLS: set ssl_enabled => true or use https:// hosts")
	}
	if o.Proxy != "" {
		if u, err := url.Parse(o.Proxy); err != nil || u.Host == "" {
			return fieldErr("proxy", "%q is not a proxy URL", redact.URL(o.Proxy))
		}
	}
	return o.Client.Validate(on)
}

// tlsOn tells whether searches use TLS: ssl_enabled, or else every host
// being https://.
func (o *Options) tlsOn() bool {
	if o.Client.SSLEnabled != nil {
		return *o.Client.SSLEnabled
	}
	for _, h := range o.Hosts {
		if !strings.HasPrefix(h, "https://") {
			return false
		}
	}
	return len(o.Hosts) > 0
}

// targetPath is where a copied field goes: under target when set.
func (o *Options) targetPath(field string) string {
	if o.Target == "" {
		return field
	}
	return bracket(o.Target) + bracket(field)
}

// bracket writes a field name as a reference segment chain: "a" → "[a]",
// "[a][b]" stays.
func bracket(f string) string {
	if strings.HasPrefix(f, "[") {
		return f
	}
	return "[" + f + "]"
}

// hostURL turns a hosts entry into a base URL without trailing slash.
func hostURL(h string, tls bool) (string, error) {
	h = strings.TrimSpace(h)
	if h == "" {
		return "", errors.New("a host must not be empty")
	}
	if !strings.Contains(h, "://") {
		scheme := "http://"
		if tls {
			scheme = "https://"
		}
		h = scheme + h
	}
	u, err := url.Parse(h)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("%q is not a host or URL", redact.URL(h))
	}
	if u.Port() == "" {
		u.Host += ":9200"
	}
	return strings.TrimSuffix(u.String(), "/"), nil
}

// parseSort turns "a:desc,b" into Query DSL sort clauses.
func parseSort(s string) ([]any, error) {
	var out []any
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		field, dir, ok := strings.Cut(item, ":")
		if !ok {
			out = append(out, field)
			continue
		}
		if dir != "asc" && dir != "desc" {
			return nil, fmt.Errorf("%q: the direction must be asc or desc", item)
		}
		out = append(out, map[string]any{field: map[string]any{"order": dir}})
	}
	return out, nil
}

type mapping struct {
	path []string  // in the hit or aggregations
	dst  event.Ref // in the event
}

// Filter is the elasticsearch filter.
type Filter struct {
	hosts      []string
	client     *httpclient.Client
	header     http.Header
	index      event.Template
	query      event.Template
	body       event.Template // query_template's content
	useBody    bool
	size       int
	sort       []any
	fields     []mapping
	docinfo    []mapping
	aggs       []mapping
	tags       []string
	retries    int
	retryOn    map[int]bool
	log        *slog.Logger
	totalHits  event.Ref
	queryLabel string
}

var _ engine.Filter = (*Filter)(nil)

// New builds the filter; it reads query_template and connects nowhere.
func New(o Options, r engine.Resources) (*Filter, error) {
	f := &Filter{
		header: http.Header{"Content-Type": {"application/json"}}, size: o.ResultSize,
		tags: o.TagOnFailure, retries: o.RetryOnFailure, retryOn: map[int]bool{},
		log: r.Logger, totalHits: event.MustRef("[@metadata][total_hits]"),
	}
	if f.log == nil {
		f.log = slog.New(slog.DiscardHandler)
	}
	for _, s := range o.RetryOnStatus {
		f.retryOn[s] = true
	}
	on := o.tlsOn()
	for _, h := range o.Hosts {
		u, _ := hostURL(h, on)
		f.hosts = append(f.hosts, u)
	}
	f.index, _ = event.ParseTemplate(o.Index)
	if o.QueryTemplate != "" {
		b, err := os.ReadFile(o.QueryTemplate)
		if err != nil {
			return nil, fieldErr("query_template", "%v", err)
		}
		if f.body, err = event.ParseTemplate(string(b)); err != nil {
			return nil, fieldErr("query_template", "%v", err)
		}
		f.useBody, f.queryLabel = true, o.QueryTemplate
	} else {
		f.query, _ = event.ParseTemplate(o.Query)
		f.queryLabel = o.Query
		if o.EnableSort {
			f.sort, _ = parseSort(o.Sort)
		}
	}
	for _, h := range []struct {
		src engine.Hash
		dst *[]mapping
	}{{o.Fields, &f.fields}, {o.DocinfoFields, &f.docinfo}, {o.AggregationFields, &f.aggs}} {
		for _, e := range h.src {
			dst, err := event.ParseRef(o.targetPath(e.Value))
			if err != nil {
				return nil, err
			}
			*h.dst = append(*h.dst, mapping{path: sourcePath(e.Key), dst: dst})
		}
	}
	for _, e := range o.CustomHeaders {
		f.header.Set(e.Key, e.Value)
	}
	if o.APIKey != "" {
		key := o.APIKey
		if strings.Contains(key, ":") {
			key = base64.StdEncoding.EncodeToString([]byte(key))
		}
		f.header.Set("Authorization", "ApiKey "+key)
	}
	ho := httpclient.Options{}
	ho.Defaults()
	ho.User, ho.Password, ho.Proxy = o.User, o.Password, o.Proxy
	ho.AutomaticRetries = 0
	if on {
		cfg, err := o.Client.Config()
		if err != nil {
			return nil, err
		}
		f.client = httpclient.New(ho, cfg)
	} else {
		f.client = httpclient.New(ho, nil)
	}
	return f, nil
}

// sourcePath splits "[a][b]" into its names; any other text is one name.
func sourcePath(s string) []string {
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		return strings.Split(s[1:len(s)-1], "][")
	}
	return []string{s}
}

// Filter searches for e and copies what was found.
func (f *Filter) Filter(ctx context.Context, e *event.Event, out []*event.Event) ([]*event.Event, error) {
	matched, err := f.lookup(ctx, e)
	if err != nil {
		e.AddTag(f.tags...)
		f.log.Warn("failed to query elasticsearch for previous event", "index", f.index.String(), "error", err)
		return append(out, e), err
	}
	if !matched {
		return append(out, e), engine.ErrNotApplied
	}
	return append(out, e), nil
}

// response is the part of a search answer the filter reads.
type response struct {
	Shards struct {
		Failures json.RawMessage `json:"failures"`
	} `json:"_shards"`
	Hits struct {
		Total json.RawMessage  `json:"total"`
		Hits  []map[string]any `json:"hits"`
	} `json:"hits"`
	Aggregations map[string]any `json:"aggregations"`
}

func (f *Filter) lookup(ctx context.Context, e *event.Event) (bool, error) {
	var body []byte
	if f.useBody {
		body = []byte(f.body.Render(e))
		if !json.Valid(body) {
			return false, fmt.Errorf("query_template %s does not render to JSON for this event", f.queryLabel)
		}
	} else {
		req := map[string]any{
			"query": map[string]any{"query_string": map[string]any{"query": f.query.Render(e)}},
			"size":  f.size,
		}
		if len(f.sort) > 0 {
			req["sort"] = f.sort
		}
		body, _ = json.Marshal(req)
	}
	path := "/_search"
	if idx := f.index.Render(e); idx != "" {
		path = "/" + url.PathEscape(idx) + "/_search"
	}
	raw, err := f.search(ctx, path, body)
	if err != nil {
		return false, err
	}
	var res response
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&res); err != nil {
		return false, fmt.Errorf("elasticsearch answer is not a search result: %w", err)
	}
	if len(res.Shards.Failures) > 0 && string(res.Shards.Failures) != "null" {
		return false, fmt.Errorf("elasticsearch query error: %s", res.Shards.Failures)
	}
	if total, ok := totalOf(res.Hits.Total); ok {
		_ = e.Set(f.totalHits, total)
	}
	matched := false
	if len(res.Hits.Hits) > 0 {
		matched = true
		for _, m := range f.fields {
			f.set(e, m, res.Hits.Hits, "_source")
		}
		for _, m := range f.docinfo {
			f.set(e, m, res.Hits.Hits, "")
		}
	}
	if len(res.Aggregations) > 0 {
		matched = true
		for _, m := range f.aggs {
			if v, err := event.Normalize(res.Aggregations[m.path[0]]); err == nil && v != nil {
				_ = e.Set(m.dst, v)
			}
		}
	}
	return matched, nil
}

// set copies the value at m.path of every hit (under key, when not empty):
// one hit's value, or the array of all hits' values.
func (f *Filter) set(e *event.Event, m mapping, hits []map[string]any, key string) {
	vals := make([]any, 0, len(hits))
	for _, h := range hits {
		var cur any = map[string]any(h)
		if key != "" {
			cur = h[key]
		}
		for _, p := range m.path {
			mm, ok := cur.(map[string]any)
			if !ok {
				cur = nil
				break
			}
			cur = mm[p]
		}
		vals = append(vals, cur)
	}
	var v any = vals
	if len(vals) == 1 {
		v = vals[0]
	}
	if nv, err := event.Normalize(v); err == nil && nv != nil {
		_ = e.Set(m.dst, nv)
	}
}

func totalOf(raw json.RawMessage) (int64, bool) {
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		i, err := n.Int64()
		return i, err == nil
	}
	var obj struct {
		Value json.Number `json:"value"`
	}
	if json.Unmarshal(raw, &obj) == nil {
		i, err := obj.Value.Int64()
		return i, err == nil
	}
	return 0, false
}

// search posts body to path on the first host that answers, retrying as
// retry_on_failure and retry_on_status say.
func (f *Filter) search(ctx context.Context, path string, body []byte) ([]byte, error) {
	var last error
	for attempt := 0; attempt <= f.retries; attempt++ {
		for _, h := range f.hosts {
			res, err := f.client.Do(ctx, http.MethodPost, h+path, body, f.header)
			if err != nil {
				last = fmt.Errorf("%s: %w", redact.URL(h), err)
				continue
			}
			raw, rerr := io.ReadAll(io.LimitReader(res.Body, MaxResponseBytes+1))
			res.Body.Close()
			switch {
			case rerr != nil:
				last = fmt.Errorf("%s: %w", redact.URL(h), rerr)
				continue
			case len(raw) > MaxResponseBytes:
				return nil, fmt.Errorf("%s: answer larger than %d bytes", redact.URL(h), MaxResponseBytes)
			case res.StatusCode == http.StatusOK:
				return raw, nil
			}
			last = fmt.Errorf("%s: HTTP %d: %s", redact.URL(h), res.StatusCode, truncate(raw, 300))
			if !f.retryOn[res.StatusCode] {
				return nil, last
			}
			break
		}
		if ctx.Err() != nil {
			break
		}
	}
	return nil, last
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}
