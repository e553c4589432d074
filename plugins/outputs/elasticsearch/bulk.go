package elasticsearch

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/pipelined/pipeline/engine/event"
)

var (
	// ingestDocRef holds per-event overrides (id, index, routing, pipeline,
	// version, version_type) that Logstash's elastic_integration filter
	// sets; the options, when set, win.
	ingestDocRef = event.MustRef("[@metadata][_ingest_document]")
	// targetPipelineRef is the ingest pipeline used when pipeline is unset.
	targetPipelineRef = event.MustRef("[@metadata][target_ingest_pipeline]")
	dataStreamRef     = event.MustRef("data_stream")
)

// bulkTemplates are the per-event parts of a bulk action, parsed once.
type bulkTemplates struct {
	index, action, id, routing, pipeline  event.Template
	version, versionType, docType, upsert event.Template
	script, parent                        event.Template
}

// appendAction appends the event's action line and, except for delete, its
// source line. It returns the action, or an error for an event that cannot be
// sent.
func (o *Output) appendAction(dst []byte, e *event.Event) ([]byte, string, error) {
	action := o.fixedAction
	if action == "" {
		action = o.t.action.Render(e)
		if !actions[action] {
			return dst, action, fmt.Errorf("elasticsearch: action %q (from %q) is not index, create, update or delete", action, o.t.action.String())
		}
	}
	var ctl map[string]any
	if v, ok := e.Get(ingestDocRef); ok {
		ctl, _ = v.(map[string]any)
	}
	id := ""
	if o.opts.DocumentID != "" {
		id = o.t.id.Render(e)
	} else {
		id = ctlString(ctl, "id")
	}
	if id == "" && (action == "update" || action == "delete") {
		return dst, action, fmt.Errorf("elasticsearch: action %q needs a document id, and document_id %q is empty for this event", action, o.t.id.String())
	}
	var index string
	switch {
	case o.plan.dataStream:
		index = o.dataStreamName(e)
	case o.opts.Index == "" && !o.plan.ilm && ctlString(ctl, "index") != "":
		index = ctlString(ctl, "index")
	default:
		index = o.t.index.Render(e)
		if o.opts.DLQOnFailedIndexnameInterpolation && strings.Contains(index, "%{") {
			return dst, action, fmt.Errorf("elasticsearch: the index %q still holds a reference after rendering %q: the event lacks the field", index, o.t.index.String())
		}
	}
	dst = append(dst, `{"`...)
	dst = append(dst, action...)
	dst = append(dst, `":{"_index":`...)
	dst = event.AppendJSONValue(dst, index)
	if id != "" {
		dst = append(dst, `,"_id":`...)
		dst = event.AppendJSONValue(dst, id)
	}
	if o.opts.DocumentType != "" && o.major == 7 {
		dst = append(dst, `,"_type":`...)
		dst = event.AppendJSONValue(dst, o.t.docType.Render(e))
	}
	routing := ctlString(ctl, "routing")
	if o.opts.Routing != "" {
		routing = o.t.routing.Render(e)
	}
	parent := ""
	if o.opts.Parent != "" {
		parent = o.t.parent.Render(e)
		if o.opts.JoinField != "" {
			routing = parent // the child lives on its parent's shard
		}
	}
	if routing != "" {
		dst = append(dst, `,"routing":`...)
		dst = event.AppendJSONValue(dst, routing)
	}
	if parent != "" && o.opts.JoinField == "" {
		dst = append(dst, `,"parent":`...)
		dst = event.AppendJSONValue(dst, parent)
	}
	if action == "update" {
		dst = append(dst, `,"retry_on_conflict":`...)
		dst = strconv.AppendInt(dst, int64(o.opts.RetryOnConflict), 10)
	} else if action != "delete" {
		if p := o.pipelineFor(e, ctl); p != "" {
			dst = append(dst, `,"pipeline":`...)
			dst = event.AppendJSONValue(dst, p)
		}
	}
	// Data stream actions carry no version (Logstash's
	// data_stream_event_action_tuple), even one from _ingest_document.
	version, versionType := "", ""
	if !o.plan.dataStream {
		version, versionType = ctlString(ctl, "version"), ctlString(ctl, "version_type")
	}
	if o.opts.Version != "" {
		version = o.t.version.Render(e)
	}
	if version != "" {
		dst = append(dst, `,"version":`...)
		if n, err := strconv.ParseInt(version, 10, 64); err == nil {
			dst = strconv.AppendInt(dst, n, 10)
		} else {
			dst = event.AppendJSONValue(dst, version)
		}
	}
	if o.opts.VersionType != "" {
		versionType = o.opts.VersionType
	}
	if versionType != "" {
		dst = append(dst, `,"version_type":`...)
		dst = event.AppendJSONValue(dst, versionType)
	}
	dst = append(dst, "}}\n"...)
	switch action {
	case "delete":
		return dst, action, nil
	case "update":
		return o.appendUpdate(dst, e, action, parent)
	}
	dst = o.appendDoc(dst, e, parent)
	return append(dst, '\n'), action, nil
}

// appendDoc appends the document of an event: its fields, with the join
// field filled (parent and join_field) or the data_stream fields synced. The
// event is not changed: what differs is written from a copy of the top level.
func (o *Output) appendDoc(dst []byte, e *event.Event, parent string) []byte {
	switch {
	case o.opts.JoinField != "":
		src := e.Fields()
		fields := make(map[string]any, len(src)+1)
		for k, v := range src {
			fields[k] = v
		}
		fields[o.opts.JoinField] = map[string]any{"name": src[o.opts.JoinField], "parent": parent}
		return event.AppendJSONValue(dst, fields)
	case o.plan.dataStream && o.opts.DataStreamSyncFields:
		return o.appendSynced(dst, e)
	}
	return e.AppendJSON(dst)
}

// appendSynced appends the event's fields with [data_stream] synced (see
// syncedFields), writing the top level itself so that the usual event, with
// no data_stream object of its own, costs no copy: its data_stream is the
// stream's, encoded once in New.
func (o *Output) appendSynced(dst []byte, e *event.Event) []byte {
	src := e.Fields()
	var ds []byte
	if old, ok := src["data_stream"].(map[string]any); ok {
		ds = event.AppendJSONValue(nil, o.syncedDataStream(old))
	} else {
		ds = o.dsJSON
	}
	var buf [32]string
	keys := buf[:0]
	for k := range src {
		if k != "data_stream" {
			keys = append(keys, k)
		}
	}
	keys = append(keys, "data_stream")
	slices.Sort(keys)
	dst = append(dst, '{')
	for i, k := range keys {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendKey(dst, k)
		if k == "data_stream" {
			dst = append(dst, ds...)
		} else {
			dst = event.AppendJSONValue(dst, src[k])
		}
	}
	return append(dst, '}')
}

// appendUpdate appends the source line of an update: a partial document, or
// a script with the event as a parameter, with what to do when the document
// does not exist (Logstash's update_action_builder).
func (o *Output) appendUpdate(dst []byte, e *event.Event, action, parent string) ([]byte, string, error) {
	var upsert any
	if o.opts.Upsert != "" {
		v, err := event.ParseJSON([]byte(o.t.upsert.Render(e)))
		if err != nil {
			return dst, action, fmt.Errorf("elasticsearch: upsert %q does not render to JSON for this event: %w", o.t.upsert.String(), err)
		}
		upsert = v
	}
	if o.opts.Script == "" {
		dst = append(dst, `{"doc":`...)
		dst = o.appendDoc(dst, e, parent)
		if o.opts.DocAsUpsert {
			dst = append(dst, `,"doc_as_upsert":true`...)
		} else if upsert != nil {
			dst = append(dst, `,"upsert":`...)
			dst = event.AppendJSONValue(dst, upsert)
		}
		return append(dst, "}\n"...), action, nil
	}
	key := "inline"
	switch o.opts.ScriptType {
	case "indexed":
		key = "id"
	case "file":
		key = "file"
	}
	dst = append(dst, `{"script":{"`...)
	dst = append(dst, key...)
	dst = append(dst, `":`...)
	dst = event.AppendJSONValue(dst, o.t.script.Render(e))
	if o.opts.ScriptLang != "" {
		dst = append(dst, `,"lang":`...)
		dst = event.AppendJSONValue(dst, o.opts.ScriptLang)
	}
	dst = append(dst, `,"params":{`...)
	dst = event.AppendJSONValue(dst, o.opts.ScriptVarName)
	dst = append(dst, ':')
	dst = o.appendDoc(dst, e, parent)
	dst = append(dst, "}}"...)
	switch {
	case o.opts.ScriptedUpsert:
		dst = append(dst, `,"scripted_upsert":true,"upsert":{}`...)
	case o.opts.DocAsUpsert:
		dst = append(dst, `,"upsert":`...)
		dst = o.appendDoc(dst, e, parent)
	case upsert != nil:
		dst = append(dst, `,"upsert":`...)
		dst = event.AppendJSONValue(dst, upsert)
	}
	return append(dst, "}\n"...), action, nil
}

// pipelineFor returns the ingest pipeline of an event ("" for none).
func (o *Output) pipelineFor(e *event.Event, ctl map[string]any) string {
	if o.opts.Pipeline != "" {
		return o.t.pipeline.Render(e)
	}
	if p := ctlString(ctl, "pipeline"); p != "" {
		return p
	}
	if v, ok := e.Get(targetPipelineRef); ok {
		if s, ok := v.(string); ok && s != "" {
			if t, err := event.ParseTemplate(s); err == nil {
				return t.Render(e)
			}
			return s
		}
	}
	return ""
}

// ctlString returns a string entry of [@metadata][_ingest_document].
func ctlString(ctl map[string]any, key string) string {
	if ctl == nil {
		return ""
	}
	switch v := ctl[key].(type) {
	case string:
		return v
	case nil:
		return ""
	case int64:
		return strconv.FormatInt(v, 10)
	default:
		return fmt.Sprint(v)
	}
}

// dataStreamName is the data stream an event goes to: with auto routing, its
// own [data_stream] type, dataset and namespace where set.
func (o *Output) dataStreamName(e *event.Event) string {
	if !o.opts.DataStreamAutoRouting {
		return o.plan.index
	}
	v, _ := e.Get(dataStreamRef)
	ds, ok := v.(map[string]any)
	if !ok {
		return o.plan.index
	}
	part := func(key, def string) string {
		x, ok := ds[key]
		if !ok || x == nil || x == false {
			return def
		}
		if s, ok := x.(string); ok {
			return s
		}
		return string(event.AppendJSONValue(nil, x))
	}
	return part("type", o.opts.DataStreamType) + "-" + part("dataset", o.opts.DataStreamDataset) + "-" + part("namespace", o.opts.DataStreamNamespace)
}

// syncedDataStream returns a copy of an event's data_stream object with the
// stream's type, dataset and namespace where it has none (and, without auto
// routing, where it has others), as Logstash's data_stream_event_sync.
func (o *Output) syncedDataStream(old map[string]any) map[string]any {
	ds := make(map[string]any, len(old)+3)
	for k, v := range old {
		ds[k] = v
	}
	for _, f := range []struct{ key, def string }{
		{"type", o.opts.DataStreamType}, {"dataset", o.opts.DataStreamDataset}, {"namespace", o.opts.DataStreamNamespace},
	} {
		v, ok := ds[f.key]
		if !o.opts.DataStreamAutoRouting && ok && v != f.def {
			ok = false // out of sync with the stream written to
		}
		if !ok || v == nil || v == false {
			ds[f.key] = f.def
		}
	}
	return ds
}

// appendKey appends an object key and its colon. Plain printable ASCII keys,
// the usual ones, are written as they are; others go through the event's
// JSON encoder (which boxing the string into an any would make allocate).
func appendKey(dst []byte, k string) []byte {
	for i := 0; i < len(k); i++ {
		if c := k[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return append(event.AppendJSONValue(dst, k), ':')
		}
	}
	dst = append(dst, '"')
	dst = append(dst, k...)
	return append(dst, '"', ':')
}
