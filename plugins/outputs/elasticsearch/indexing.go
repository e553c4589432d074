package elasticsearch

import (
	"fmt"
	"sort"
	"strings"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/plugins/internal/ecs"
)

// DocumentOptions say where and how each event is written: the index, the
// bulk action and its parameters. Their names, defaults and checks are those
// of Logstash's elasticsearch output.
type DocumentOptions struct {
	// Index is the index each event is written to, a sprintf template. Unset,
	// it is "ecs-logstash-%{+yyyy.MM.dd}" (daily indices named after the
	// event's @timestamp in UTC), or "logstash-%{+yyyy.MM.dd}" with
	// ecs_compatibility => disabled. But in the elasticsearch output, with
	// index unset, events go to a data stream when no other option rules that
	// out (see data_stream), and otherwise to the ILM rollover alias unless
	// ilm_enabled is false.
	Index string `hcl:"index,optional"`
	// ecs_compatibility chooses the default index, template name and
	// rollover alias ("ecs-logstash", or "logstash" when disabled) and the
	// default template's mappings, and data streams need it on.
	ecs.Compatibility
	// DocumentID is the document id, a sprintf template such as
	// "%{[@metadata][fingerprint]}"; empty lets Elasticsearch choose one.
	// Required by the update and delete actions.
	DocumentID string `hcl:"document_id,optional"`
	// DocumentType is the mapping type, sent only to Elasticsearch 7 (types
	// are gone from Elasticsearch 8). Deprecated: accepted with a warning.
	DocumentType string `hcl:"document_type,optional"`
	// Action is the bulk action: "index", "create" (a document that already
	// exists, status 409, counts as delivered), "update" or "delete"; a sprintf
	// template, such as "%{[@metadata][action]}", is rendered per event and an
	// event whose action is not one of these fails for good (dead letter
	// queue). Unset, it is "index", or "create" when writing to a data stream
	// (the only action data streams take).
	Action string `hcl:"action,optional"`
	// Pipeline is the ingest pipeline to run each document through, a sprintf
	// template; empty (or rendering empty) runs none. Unset, an event's
	// [@metadata][target_ingest_pipeline] is used, as Logstash does.
	Pipeline string `hcl:"pipeline,optional"`
	// Routing is the shard routing value, a sprintf template; empty uses the
	// document id.
	Routing string `hcl:"routing,optional"`
	// Version is the document version, a sprintf template such as
	// "%{[@metadata][version]}", sent with every action (for external
	// versioning, see version_type).
	Version string `hcl:"version,optional"`
	// VersionType is "internal", "external", "external_gt", "external_gte" or
	// "force": how Elasticsearch compares version with the stored document's.
	VersionType string `hcl:"version_type,optional"`
	// Upsert is the document (JSON, a sprintf template) an update creates
	// when the document does not exist yet.
	Upsert string `hcl:"upsert,optional"`
	// DocAsUpsert makes an update create the document from the event when it
	// does not exist.
	DocAsUpsert bool `hcl:"doc_as_upsert,optional"`
	// Script turns updates into scripted updates: the script's source, id or
	// file name (see script_type), a sprintf template. The event is passed to
	// the script as params.<script_var_name>.
	Script string `hcl:"script,optional"`
	// ScriptType says what script holds: "inline" (the source), "indexed"
	// (the id of a stored script) or "file" (a script file on the nodes, gone
	// since Elasticsearch 6).
	ScriptType string `hcl:"script_type,optional"`
	// ScriptLang is the script's language; empty sends none (the server's
	// default).
	ScriptLang string `hcl:"script_lang,optional"`
	// ScriptVarName is the name of the script parameter holding the event.
	ScriptVarName string `hcl:"script_var_name,optional"`
	// ScriptedUpsert runs the script for documents that do not exist yet
	// too (starting from an empty document).
	ScriptedUpsert bool `hcl:"scripted_upsert,optional"`
	// Parent is the parent document's id, a sprintf template: with
	// join_field it fills that join field and routes the document to the
	// parent's shard (Elasticsearch 6 and later); without, it is sent as the
	// "parent" parameter of Elasticsearch 5.
	Parent string `hcl:"parent,optional"`
	// JoinField is the top-level join field of parent-child documents: the
	// document gets {"name": <the field's value>, "parent": <parent>} there.
	JoinField string `hcl:"join_field,optional"`
	// RetryOnConflict is how many times Elasticsearch retries an update that
	// met a version conflict (the update action only).
	RetryOnConflict int `hcl:"retry_on_conflict,optional"`
}

// DocTitle names the group in the reference of a plugin embedding it (the
// opensearch output); without it, the one promoted from ecs.Compatibility
// would.
func (DocumentOptions) DocTitle() string { return "Documents" }

func (o *DocumentOptions) defaults() {
	o.Compatibility.Defaults()
	o.ScriptType = "inline"
	o.ScriptLang = "painless"
	o.ScriptVarName = "event"
	o.RetryOnConflict = 1
}

// TemplateOptions manage the index template that Logstash installs when it
// first connects.
type TemplateOptions struct {
	// ManageTemplate installs the index template (template, or the built-in
	// one) when the output first connects, unless one named template_name
	// exists already (see template_overwrite). Unset, it is true, but false
	// when writing to a data stream (their templates come with
	// Elasticsearch).
	ManageTemplate *bool `hcl:"manage_template,optional"`
	// Template is the path of a JSON file holding the index template to
	// install; unset, a built-in one for the index pattern of the default
	// index is used. It is read and checked by check.
	Template string `hcl:"template,optional"`
	// TemplateName is the template's name. Unset, it is "ecs-logstash"
	// ("logstash" with ecs_compatibility => disabled), or the rollover alias
	// when index lifecycle management is in use.
	TemplateName string `hcl:"template_name,optional"`
	// TemplateOverwrite replaces a template of that name that exists already.
	TemplateOverwrite bool `hcl:"template_overwrite,optional"`
	// TemplateAPI is "composable" (PUT _index_template, Elasticsearch 7.8 and
	// later), "legacy" (PUT _template) or "auto": composable from
	// Elasticsearch 8 on, legacy before.
	TemplateAPI string `hcl:"template_api,optional"`
}

func (o *TemplateOptions) defaults() { o.TemplateAPI = "auto" }

// ILMOptions configure index lifecycle management: writes go to a rollover
// alias whose indices follow a lifecycle policy.
type ILMOptions struct {
	// ILMEnabled is true, false or "auto" (the default). Either true or auto
	// uses index lifecycle management when index is left unset or
	// ilm_rollover_alias is set, and not with data streams: events then go to
	// the rollover alias, which is created with a first index named after
	// ilm_pattern, and the installed template carries the policy.
	ILMEnabled string `hcl:"ilm_enabled,optional"`
	// ILMRolloverAlias is the alias events are written to. Unset, it is
	// "ecs-logstash" ("logstash" with ecs_compatibility => disabled). It cannot
	// be a sprintf template.
	ILMRolloverAlias string `hcl:"ilm_rollover_alias,optional"`
	// ILMPattern is appended to the alias (with a "-") to name the first
	// index; "{now/d}" is Elasticsearch date math. Rolled over indices count
	// up the number.
	ILMPattern string `hcl:"ilm_pattern,optional"`
	// ILMPolicy is the lifecycle policy. The default one, "logstash-policy"
	// (roll over at 50 GB or 30 days), is created when missing; another one
	// must exist in Elasticsearch already.
	ILMPolicy string `hcl:"ilm_policy,optional"`
}

func (o *ILMOptions) defaults() {
	o.ILMEnabled = "auto"
	o.ILMPattern = "{now/d}-000001"
	o.ILMPolicy = defaultPolicy
}

// defaultPolicy is the policy that is created when missing.
const defaultPolicy = "logstash-policy"

// DataStreamOptions configure writing to Elasticsearch data streams.
type DataStreamOptions struct {
	// DataStream is true, false or "auto" (unset). Auto writes to a data
	// stream when ecs_compatibility is on and no option data streams cannot
	// take is set: only connection options, routing, pipeline, action =>
	// "create", manage_template => false and the data_stream_* options go
	// with a data stream. true refuses any other option. A data stream is
	// named "<type>-<dataset>-<namespace>" and written with create actions.
	DataStream string `hcl:"data_stream,optional"`
	// DataStreamType is the stream type: "logs", "metrics", "synthetics" or
	// "traces".
	DataStreamType string `hcl:"data_stream_type,optional"`
	// DataStreamDataset is the dataset part of the stream name (at most 100
	// bytes, none of \ / * ? " < > | , # : or space).
	DataStreamDataset string `hcl:"data_stream_dataset,optional"`
	// DataStreamNamespace is the namespace part of the stream name (same
	// rules as data_stream_dataset).
	DataStreamNamespace string `hcl:"data_stream_namespace,optional"`
	// DataStreamAutoRouting routes each event by its own [data_stream][type],
	// [data_stream][dataset] and [data_stream][namespace] fields where set.
	DataStreamAutoRouting bool `hcl:"data_stream_auto_routing,optional"`
	// DataStreamSyncFields fills the document's data_stream.type, .dataset
	// and .namespace with the stream's (the event is not changed).
	DataStreamSyncFields bool `hcl:"data_stream_sync_fields,optional"`
}

func (o *DataStreamOptions) defaults() {
	o.DataStreamType = "logs"
	o.DataStreamDataset = "generic"
	o.DataStreamNamespace = "default"
	o.DataStreamAutoRouting = true
	o.DataStreamSyncFields = true
}

// plan is what the options resolve to, before connecting: Logstash's
// defaults that depend on other options.
type plan struct {
	dataStream     bool
	index          string // the index template (or the data stream name)
	action         string // the action template
	ilm            bool
	alias          string
	templateName   string
	manageTemplate bool
}

// versionTypes are the values of version_type.
var versionTypes = map[string]bool{"internal": true, "external": true, "external_gt": true, "external_gte": true, "force": true}

// dsTypes are the values of data_stream_type.
var dsTypes = map[string]bool{"logs": true, "metrics": true, "synthetics": true, "traces": true}

// plan checks the indexing options (templates, ILM, data streams, actions)
// and resolves their defaults. It reads no file.
func (o *Options) plan() (*plan, error) {
	fe := func(f, format string, args ...any) error {
		return &engine.FieldError{Field: f, Err: fmt.Errorf(format, args...)}
	}
	if err := ecs.Validate(o.ECSCompatibility); err != nil {
		return nil, err
	}
	ecsOn := ecs.Enabled(o.ECSCompatibility)
	defIndex, defAlias := "logstash-%{+yyyy.MM.dd}", "logstash"
	if ecsOn {
		defIndex, defAlias = "ecs-"+defIndex, "ecs-"+defAlias
	}
	for _, f := range []struct{ name, v string }{
		{"ilm_enabled", o.ILMEnabled}, {"data_stream", o.DataStream},
	} {
		switch f.v {
		case "true", "false", "auto":
		case "":
			if f.name == "ilm_enabled" {
				return nil, fe(f.name, "must not be empty: want true, false or \"auto\"")
			}
		default:
			return nil, fe(f.name, "unsupported value %q: want true, false or \"auto\"", f.v)
		}
	}
	switch o.TemplateAPI {
	case "auto", "legacy", "composable":
	default:
		return nil, fe("template_api", "unsupported value %q: want \"auto\", \"legacy\" or \"composable\"", o.TemplateAPI)
	}
	if o.VersionType != "" && !versionTypes[o.VersionType] {
		return nil, fe("version_type", "unsupported value %q: want internal, external, external_gt, external_gte or force", o.VersionType)
	}
	switch o.ScriptType {
	case "inline", "indexed", "file":
	default:
		return nil, fe("script_type", "unsupported value %q: want \"inline\", \"indexed\" or \"file\"", o.ScriptType)
	}
	if o.ScriptVarName == "" {
		return nil, fe("script_var_name", "must not be empty")
	}
	if o.RetryOnConflict < 0 {
		return nil, fe("retry_on_conflict", "must not be negative")
	}
	if !dsTypes[o.DataStreamType] {
		return nil, fe("data_stream_type", "unsupported value %q: want logs, metrics, synthetics or traces", o.DataStreamType)
	}
	for _, f := range []struct{ name, v string }{
		{"data_stream_dataset", o.DataStreamDataset}, {"data_stream_namespace", o.DataStreamNamespace},
	} {
		if err := checkIdentifier(f.v); err != nil {
			return nil, fe(f.name, "%v", err)
		}
	}
	for _, t := range []struct{ name, v string }{
		{"index", o.Index}, {"document_id", o.DocumentID}, {"action", o.Action},
		{"pipeline", o.Pipeline}, {"routing", o.Routing}, {"version", o.Version},
		{"document_type", o.DocumentType}, {"upsert", o.Upsert}, {"script", o.Script},
		{"parent", o.Parent},
	} {
		if _, err := event.ParseTemplate(t.v); err != nil {
			return nil, fe(t.name, "%v", err)
		}
	}
	if o.Index != "" && strings.TrimSpace(o.Index) == "" {
		return nil, fe("index", "must not be empty")
	}
	if strings.Contains(o.ILMRolloverAlias, "%{") {
		return nil, fe("ilm_rollover_alias", "cannot be a sprintf template (%q): the alias is created once, when the output connects", o.ILMRolloverAlias)
	}
	if tmpl, _ := event.ParseTemplate(o.Upsert); o.Upsert != "" && tmpl.IsConstant() {
		if _, err := event.ParseJSON([]byte(o.Upsert)); err != nil {
			return nil, fe("upsert", "is not JSON: %v", err)
		}
	}

	p := &plan{}
	// Data streams: Logstash's data_stream_support.rb. The options data
	// streams cannot take are those set to something other than their
	// default, apart from the connection options.
	invalid := o.notForDataStreams()
	dsSet := o.dataStreamParams()
	switch o.DataStream {
	case "true":
		if len(invalid) > 0 {
			return nil, fe(invalid[0], "data_stream => true does not go with %s: a data stream is named by the data_stream_* options and written with create actions (remove them or set data_stream => false)", strings.Join(invalid, ", "))
		}
		if !ecsOn {
			return nil, fe("ecs_compatibility", "data_stream => true needs ECS compatibility: data streams take events that follow the Elastic Common Schema (set ecs_compatibility to v1 or v8)")
		}
		p.dataStream = true
	default: // false, auto or unset
		p.dataStream = o.DataStream != "false" && ecsOn && len(invalid) == 0
		if !p.dataStream && len(dsSet) > 0 {
			why := "data_stream => false"
			switch {
			case o.DataStream == "false":
			case !ecsOn:
				why = "data streams are off with ecs_compatibility => disabled"
			default:
				why = "data streams are off because of " + strings.Join(invalid, ", ")
			}
			return nil, fe(dsSet[0], "ambiguous configuration: %s, but %s is set; set data_stream => true or remove %s", why, strings.Join(dsSet, ", "), strings.Join(dsSet, ", "))
		}
	}

	p.action = o.Action
	if p.action == "" {
		p.action = "index"
		if p.dataStream {
			p.action = "create"
		}
	}
	if tmpl, _ := event.ParseTemplate(p.action); tmpl.IsConstant() {
		if !actions[p.action] {
			return nil, fe("action", "unsupported action %q: want index, create, update or delete (or a %%{...} reference)", p.action)
		}
		if (p.action == "update" || p.action == "delete") && o.DocumentID == "" {
			return nil, fe("document_id", "required with action => %q", p.action)
		}
	}
	if p.action != "update" {
		for _, f := range []struct {
			name string
			set  bool
		}{
			{"script", o.Script != ""}, {"upsert", o.Upsert != ""}, {"doc_as_upsert", o.DocAsUpsert},
			{"scripted_upsert", o.ScriptedUpsert},
		} {
			if f.set && tmplConstant(p.action) {
				return nil, fe(f.name, "is only used by the update action, and action is %q", p.action)
			}
		}
	}
	if o.JoinField != "" {
		if o.Parent == "" {
			return nil, fe("join_field", "needs parent")
		}
		if strings.ContainsAny(o.JoinField, "[]") {
			return nil, fe("join_field", "must be a top-level field name, not a reference (%q)", o.JoinField)
		}
	}
	if o.ScriptedUpsert && o.Script == "" {
		return nil, fe("scripted_upsert", "needs script")
	}

	p.index = o.Index
	if p.index == "" {
		p.index = defIndex
	}
	if p.dataStream {
		p.index = o.DataStreamType + "-" + o.DataStreamDataset + "-" + o.DataStreamNamespace
	}
	p.alias = o.ILMRolloverAlias
	if p.alias == "" {
		p.alias = defAlias
	}
	// ILM: ilm.rb. In use (with true or auto) when the index is the default
	// one or the rollover alias was changed; never with data streams.
	p.ilm = !p.dataStream && o.ILMEnabled != "false" && (p.index == defIndex || p.alias != defAlias)
	if p.ilm {
		p.index = p.alias
		if o.ILMPattern == "" {
			return nil, fe("ilm_pattern", "must not be empty")
		}
		if o.ILMPolicy == "" {
			return nil, fe("ilm_policy", "must not be empty")
		}
	}
	p.templateName = o.TemplateName
	if p.templateName == "" {
		p.templateName = defAlias // the default template name is the default alias
		if p.ilm {
			p.templateName = p.alias
		}
	}
	p.manageTemplate = !p.dataStream
	if o.ManageTemplate != nil {
		p.manageTemplate = *o.ManageTemplate
	}
	return p, nil
}

// tmplConstant reports whether s is a constant (not a sprintf template).
func tmplConstant(s string) bool {
	t, err := event.ParseTemplate(s)
	return err == nil && t.IsConstant()
}

// notForDataStreams lists the options set (to other than their defaults)
// that data streams do not take, in Logstash's sense: any option of this
// output but the connection options, routing, pipeline, action => "create",
// manage_template => false and the data_stream_* options.
func (o *Options) notForDataStreams() []string {
	var d Options
	d.Defaults()
	var out []string
	add := func(name string, set bool) {
		if set {
			out = append(out, name)
		}
	}
	add("index", o.Index != "")
	add("action", o.Action != "" && o.Action != "create")
	add("document_id", o.DocumentID != "")
	add("document_type", o.DocumentType != "")
	add("version", o.Version != "")
	add("version_type", o.VersionType != "")
	add("upsert", o.Upsert != "")
	add("doc_as_upsert", o.DocAsUpsert)
	add("script", o.Script != "")
	add("script_type", o.ScriptType != d.ScriptType)
	add("script_lang", o.ScriptLang != d.ScriptLang)
	add("script_var_name", o.ScriptVarName != d.ScriptVarName)
	add("scripted_upsert", o.ScriptedUpsert)
	add("parent", o.Parent != "")
	add("join_field", o.JoinField != "")
	add("retry_on_conflict", o.RetryOnConflict != d.RetryOnConflict)
	add("manage_template", o.ManageTemplate != nil && *o.ManageTemplate)
	add("template", o.Template != "")
	add("template_name", o.TemplateName != "")
	add("template_overwrite", o.TemplateOverwrite)
	add("template_api", o.TemplateAPI != d.TemplateAPI)
	add("ilm_enabled", o.ILMEnabled != d.ILMEnabled)
	add("ilm_rollover_alias", o.ILMRolloverAlias != "")
	add("ilm_pattern", o.ILMPattern != d.ILMPattern)
	add("ilm_policy", o.ILMPolicy != d.ILMPolicy)
	return out
}

// dataStreamParams lists the data_stream_* options set to other than their
// defaults.
func (o *Options) dataStreamParams() []string {
	var d DataStreamOptions
	d.defaults()
	var out []string
	for _, f := range []struct {
		name string
		set  bool
	}{
		{"data_stream_type", o.DataStreamType != d.DataStreamType},
		{"data_stream_dataset", o.DataStreamDataset != d.DataStreamDataset},
		{"data_stream_namespace", o.DataStreamNamespace != d.DataStreamNamespace},
		{"data_stream_auto_routing", o.DataStreamAutoRouting != d.DataStreamAutoRouting},
		{"data_stream_sync_fields", o.DataStreamSyncFields != d.DataStreamSyncFields},
	} {
		if f.set {
			out = append(out, f.name)
		}
	}
	sort.Strings(out)
	return out
}

// checkIdentifier checks a data stream dataset or namespace as Logstash does.
func checkIdentifier(v string) error {
	if v == "" {
		return fmt.Errorf("must not be empty")
	}
	if len(v) > 100 {
		return fmt.Errorf("too long (%d bytes; at most 100)", len(v))
	}
	if i := strings.IndexAny(v, "\\/*?\"<>| ,#:"); i >= 0 {
		return fmt.Errorf("%q holds %q: none of \\ / * ? \" < > | , # : or space may appear", v, v[i:i+1])
	}
	return nil
}
