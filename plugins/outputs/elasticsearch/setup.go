package elasticsearch

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
)

// What the output sets up once, on its first successful connection, before
// any event is written (Logstash's finish_register): the data stream version
// check, the index template, and for index lifecycle management the rollover
// alias and the policy. A failure fails Connect, which the engine retries
// with backoff while the pipeline waits: a missing policy or a template the
// server refuses holds events back with the reason in the log instead of
// writing them to an index set up differently (Logstash stops the pipeline
// instead).

// dataStreamsSince is the first Elasticsearch version with data streams.
const dataStreamsSince = "7.9.0"

// setup does the one-time setup after the first successful ping.
func (o *Output) setup(ctx context.Context) error {
	if o.plan.dataStream && versionLess(o.version, dataStreamsSince) {
		return fmt.Errorf("elasticsearch %s: data streams need Elasticsearch %s or later, and the server announces version %q: upgrade it, or set data_stream => false (with an index)",
			o.hostList(), dataStreamsSince, o.version)
	}
	if o.plan.manageTemplate {
		if err := o.installTemplate(ctx); err != nil {
			return err
		}
	}
	if o.plan.ilm {
		if err := o.setupILM(ctx); err != nil {
			return err
		}
	}
	return nil
}

// installTemplate installs the index template unless one of that name exists
// and template_overwrite is off.
func (o *Output) installTemplate(ctx context.Context) error {
	composable := o.composable()
	if o.opts.TemplateAPI == "auto" && o.major < 8 {
		o.log.Warn("elasticsearch: template_api => auto resolved to legacy for Elasticsearch "+strconv.Itoa(o.major)+
			"; it resolves to composable on Elasticsearch 8 and later: set template_api => legacy to keep legacy templates, or move to composable ones",
			"version", o.version)
	}
	tmpl := o.template
	if tmpl == nil {
		tmpl = defaultTemplate(o.opts.ECSCompatibility != "disabled", composable)
	} else {
		tmpl = deepCopyJSON(tmpl).(map[string]any)
	}
	if o.plan.ilm {
		addILMSettings(tmpl, o.plan.alias, o.opts.ILMPolicy, composable)
	}
	body, err := json.Marshal(tmpl)
	if err != nil {
		return fmt.Errorf("elasticsearch: template: %w", err)
	}
	endpoint := "_template"
	if composable {
		endpoint = "_index_template"
	}
	path := "/" + endpoint + "/" + url.PathEscape(o.plan.templateName)
	if !o.opts.TemplateOverwrite {
		status, rb, err := o.request(ctx, http.MethodHead, path, "", nil)
		if err != nil {
			return err
		}
		switch {
		case status >= 200 && status < 300:
			o.log.Debug("elasticsearch: the index template exists; leaving it (template_overwrite => false)", "name", o.plan.templateName)
			return nil
		case status != http.StatusNotFound:
			return o.statusError("HEAD "+path, status, rb)
		}
	}
	status, rb, err := o.request(ctx, http.MethodPut, path, "", body)
	if err != nil {
		return err
	}
	switch {
	case status >= 200 && status < 300:
		o.log.Info("elasticsearch: installed the index template", "name", o.plan.templateName, "api", endpoint)
	case status == http.StatusNotFound:
		// Logstash ignores it too: a server without this template API.
		o.log.Warn("elasticsearch: the server has no "+endpoint+" API (404); the index template is not installed", "name", o.plan.templateName)
	default:
		return o.statusError("PUT "+path+" (the index template)", status, rb)
	}
	return nil
}

// composable reports whether templates go to the composable API.
func (o *Output) composable() bool {
	switch o.opts.TemplateAPI {
	case "composable":
		return true
	case "legacy":
		return false
	}
	return o.major >= 8
}

// setupILM makes sure of the policy (the default one is created when
// missing; another one must exist), then creates the rollover alias with its
// first index unless it exists. The policy comes first (Logstash does the
// alias first; on Elasticsearch the result is the same): on a server without
// ILM nothing is created before the setup fails.
func (o *Output) setupILM(ctx context.Context) error {
	policy := o.opts.ILMPolicy
	path := "/_ilm/policy/" + url.PathEscape(policy)
	status, rb, err := o.request(ctx, http.MethodGet, path, "", nil)
	if err != nil {
		return err
	}
	switch {
	case status >= 200 && status < 300:
	case status != http.StatusNotFound:
		return o.statusError("GET "+path, status, rb)
	case policy != defaultPolicy:
		return fmt.Errorf("elasticsearch %s: the ILM policy %q (ilm_policy) does not exist: create it in Elasticsearch, or leave ilm_policy unset for the default one", o.hostList(), policy)
	default:
		status, rb, err = o.request(ctx, http.MethodPut, path, "", defaultPolicyJSON)
		if err != nil {
			return err
		}
		switch {
		case status >= 200 && status < 300:
			o.log.Info("elasticsearch: created the ILM policy", "policy", policy)
		case status == http.StatusNotFound || status == http.StatusMethodNotAllowed:
			return fmt.Errorf("elasticsearch %s: the server has no index lifecycle management API (PUT %s answered %d): set ilm_enabled => false, and an index",
				o.hostList(), path, status)
		default:
			return o.statusError("PUT "+path+" (the default ILM policy)", status, rb)
		}
	}

	alias := o.plan.alias
	status, rb, err = o.request(ctx, http.MethodHead, "/"+url.PathEscape(alias), "", nil)
	if err != nil {
		return err
	}
	switch {
	case status >= 200 && status < 300:
		return nil
	case status != http.StatusNotFound:
		return o.statusError("HEAD /"+alias+" (the rollover alias)", status, rb)
	}
	// "<alias-{now/d}-000001>": date math in an index name, escaped whole
	// (its "/" too), as Elasticsearch wants it in a path.
	target := "<" + alias + "-" + o.opts.ILMPattern + ">"
	body, _ := json.Marshal(map[string]any{"aliases": map[string]any{alias: map[string]any{"is_write_index": true}}})
	status, rb, err = o.request(ctx, http.MethodPut, "/"+target, "/"+url.QueryEscape(target), body)
	if err != nil {
		return err
	}
	switch {
	case status >= 200 && status < 300:
		o.log.Info("elasticsearch: created the rollover alias", "alias", alias, "index", target)
	case status == http.StatusBadRequest:
		// Another writer created it in between (Logstash does the same).
		o.log.Info("elasticsearch: the rollover alias exists already", "alias", alias, "answer", errorText(rb))
	default:
		return o.statusError("PUT "+target+" (the rollover alias)", status, rb)
	}
	return nil
}

// defaultPolicyJSON is the default policy: roll over at 50 GB or 30 days,
// Logstash's logstash-policy.
var defaultPolicyJSON = []byte(`{"policy":{"phases":{"hot":{"actions":{"rollover":{"max_age":"30d","max_size":"50gb"}}}}}}`)

// request sends one request (other than a bulk) and returns the status and
// the body of the answer. rawPath, when set, is path as written in the URL
// (escaped). A transport failure is explained by describe.
func (o *Output) request(ctx context.Context, method, path, rawPath string, body []byte) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, path, rd)
	if err != nil {
		return 0, nil, fmt.Errorf("elasticsearch: %s %s: %w", method, path, err)
	}
	req.URL.RawPath = rawPath
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	res, err := o.client.Perform(req)
	if err != nil {
		return 0, nil, o.describe(err)
	}
	defer res.Body.Close()
	rb, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return 0, nil, fmt.Errorf("elasticsearch %s: %s %s: reading the answer: %w", o.hostList(), method, path, err)
	}
	return res.StatusCode, rb, nil
}

// readTemplate reads a template file: a JSON object.
func readTemplate(path string) (map[string]any, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber() // numbers go back to the server as written
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		return nil, fmt.Errorf("%s is not a JSON object: %w", path, err)
	}
	if m == nil {
		return nil, fmt.Errorf("%s is not a JSON object", path)
	}
	return m, nil
}

// addILMSettings points the template at the rollover alias's indices and
// sets the lifecycle policy and alias in its settings (Logstash's
// add_ilm_settings_to_template).
func addILMSettings(t map[string]any, alias, policy string, composable bool) {
	if s, ok := t["template"].(string); ok && s != "" {
		delete(t, "template") // the Elasticsearch 5 form of index_patterns
	}
	t["index_patterns"] = []any{alias + "-*"}
	var holder map[string]any
	switch {
	case t["template"] != nil:
		holder = sub(t, "template")
	case t["settings"] != nil || !composable:
		holder = t
	default:
		holder = sub(t, "template")
	}
	settings := sub(holder, "settings")
	settings["index.lifecycle.name"] = policy
	settings["index.lifecycle.rollover_alias"] = alias
}

// sub returns m[key] as an object, creating it when missing.
func sub(m map[string]any, key string) map[string]any {
	if v, ok := m[key].(map[string]any); ok {
		return v
	}
	v := map[string]any{}
	m[key] = v
	return v
}

// defaultTemplate is the built-in index template: for Logstash's indices
// (logstash-* or, with ECS, ecs-logstash-*), strings as text with a keyword
// sub-field (or, with ECS, as keywords, ECS's convention), message as text,
// @timestamp as a date.
func defaultTemplate(ecsOn, composable bool) map[string]any {
	pattern := "logstash-*"
	strs := map[string]any{
		"type": "text", "norms": false,
		"fields": map[string]any{"keyword": map[string]any{"type": "keyword", "ignore_above": 256}},
	}
	if ecsOn {
		pattern = "ecs-logstash-*"
		strs = map[string]any{"type": "keyword", "ignore_above": 1024}
	}
	mappings := map[string]any{
		"dynamic_templates": []any{
			map[string]any{"message_field": map[string]any{
				"path_match": "message", "match_mapping_type": "string",
				"mapping": map[string]any{"type": "text", "norms": false},
			}},
			map[string]any{"string_fields": map[string]any{
				"match": "*", "match_mapping_type": "string", "mapping": strs,
			}},
		},
		"properties": map[string]any{
			"@timestamp": map[string]any{"type": "date"},
			"@version":   map[string]any{"type": "keyword"},
			"geoip": map[string]any{"dynamic": true, "properties": map[string]any{
				"ip":        map[string]any{"type": "ip"},
				"location":  map[string]any{"type": "geo_point"},
				"latitude":  map[string]any{"type": "float"},
				"longitude": map[string]any{"type": "float"},
			}},
		},
	}
	settings := map[string]any{"index.refresh_interval": "5s", "number_of_shards": 1}
	if composable {
		return map[string]any{
			"index_patterns": []any{pattern},
			"priority":       200,
			"template":       map[string]any{"settings": settings, "mappings": mappings},
		}
	}
	return map[string]any{"index_patterns": []any{pattern}, "settings": settings, "mappings": mappings}
}

// deepCopyJSON copies a decoded JSON value.
func deepCopyJSON(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, v := range x {
			m[k] = deepCopyJSON(v)
		}
		return m
	case []any:
		s := make([]any, len(x))
		for i, v := range x {
			s[i] = deepCopyJSON(v)
		}
		return s
	}
	return v
}

// majorVersion returns the major number of a version ("8.15.0" → 8), 0 when
// there is none.
func majorVersion(v string) int {
	n, _ := strconv.Atoi(strings.SplitN(v, ".", 2)[0])
	return n
}

// versionLess reports whether version a is before b (both "x.y.z"; an
// unreadable a counts as before).
func versionLess(a, b string) bool {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := range 3 {
		var x, y int
		var err error
		if i < len(pa) {
			if x, err = strconv.Atoi(strings.SplitN(pa[i], "-", 2)[0]); err != nil {
				return true
			}
		}
		if i < len(pb) {
			y, _ = strconv.Atoi(pb[i])
		}
		if x != y {
			return x < y
		}
	}
	return false
}
