// Package solrhttp implements the solr_http output, like Logstash's
// logstash-output-solr_http: each batch is added to an Apache Solr core or
// collection as documents, one per event (the event's fields, @timestamp in
// ISO 8601, and id: document_id rendered per event, or a random UUID).
//
// The documents go as one JSON array to <solr_url>/update (Solr's JSON
// update handler; Logstash's RSolr client posts the same documents as XML)
// and the batch is acknowledged only when Solr answered 2xx: a failure is
// retried by the engine with backoff, holding the pipeline, where Logstash
// logs it and drops the batch. A 4xx answer other than 408 and 429 fails
// the batch for good (the dead letter queue takes it when there is one).
// Committing is left to Solr's autoCommit / autoSoftCommit settings, as
// with Logstash.
package solrhttp

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/engine/redact"
	"github.com/pipelined/pipeline/plugins/internal/httpclient"
)

func init() { engine.RegisterOutput("solr_http", New) }

// idRef is where each document's id goes.
var idRef = event.MustRef("id")

// Options configures the solr_http output, with the plugin's names and
// defaults.
type Options struct {
	// SolrURL is the core or collection, e.g.
	// "http://localhost:8983/solr/logs".
	SolrURL string `hcl:"solr_url,optional"`
	// FlushSize is accepted for compatibility: a batch of the pipeline is
	// one update request (pipeline.batch.size sets its size).
	FlushSize int `hcl:"flush_size,optional"`
	// IdleFlushTime is accepted for compatibility: the pipeline's
	// batch_delay plays its part.
	IdleFlushTime float64 `hcl:"idle_flush_time,optional"`
	// DocumentID is the id of each document, a sprintf template; unset, a
	// random UUID per event.
	DocumentID string `hcl:"document_id,optional"`
	// Timeout bounds each request, in seconds (not a Logstash option).
	Timeout float64 `hcl:"timeout,optional"`
}

// Defaults sets the plugin's defaults.
func (o *Options) Defaults() {
	o.SolrURL = "http://localhost:8983/solr"
	o.FlushSize = 100
	o.IdleFlushTime = 1
	o.Timeout = 60
}

// Validate checks the options.
func (o *Options) Validate() error {
	u, err := url.Parse(o.SolrURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return &engine.FieldError{Field: "solr_url", Err: fmt.Errorf("%q is not an http:// or https:// URL", redact.URL(o.SolrURL))}
	}
	if o.DocumentID != "" {
		if _, err := event.ParseTemplate(o.DocumentID); err != nil {
			return &engine.FieldError{Field: "document_id", Err: err}
		}
	}
	if o.Timeout <= 0 {
		return &engine.FieldError{Field: "timeout", Err: fmt.Errorf("must be positive")}
	}
	return nil
}

// Output is a solr_http output.
type Output struct {
	update string
	id     *event.Template
	client *http.Client
	log    *slog.Logger
}

// New builds a solr_http output; it connects to nothing.
func New(o Options, r engine.Resources) (*Output, error) {
	out := &Output{update: strings.TrimRight(o.SolrURL, "/") + "/update", log: r.Logger,
		client: &http.Client{Timeout: time.Duration(o.Timeout * float64(time.Second))}}
	if out.log == nil {
		out.log = slog.New(slog.DiscardHandler)
	}
	if o.DocumentID != "" {
		t, _ := event.ParseTemplate(o.DocumentID)
		out.id = &t
	}
	return out, nil
}

// Connect does nothing: each batch is one request.
func (o *Output) Connect(context.Context) error { return nil }

// Close does nothing.
func (o *Output) Close(context.Context) error { return nil }

// Write adds the batch's documents in one update request.
func (o *Output) Write(ctx context.Context, events []*event.Event) error {
	body := []byte{'['}
	for i, e := range events {
		if i > 0 {
			body = append(body, ',')
		}
		doc := e.Copy()
		id := uuid()
		if o.id != nil {
			id = o.id.Render(e)
		}
		doc.Set(idRef, id)
		body = doc.AppendJSON(body)
	}
	body = append(body, ']')
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, o.update, bytes.NewReader(body))
	if err != nil {
		return engine.Permanent(err)
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := o.client.Do(req)
	if err != nil {
		return fmt.Errorf("solr_http: %s: %w", redact.URL(o.update), err)
	}
	defer res.Body.Close()
	answer := httpclient.ReadHead(res) // httpclient.MaxAnswerHead of it, the rest drained
	switch {
	case res.StatusCode/100 == 2:
		return nil
	case res.StatusCode/100 == 4 && res.StatusCode != http.StatusRequestTimeout && res.StatusCode != http.StatusTooManyRequests:
		return engine.Permanent(fmt.Errorf("solr_http: %s refused the documents: %s: %s", redact.URL(o.update), res.Status, bytes.TrimSpace(answer)))
	}
	return fmt.Errorf("solr_http: %s: %s: %s", redact.URL(o.update), res.Status, bytes.TrimSpace(answer))
}

// uuid is a random (version 4) UUID, as UUIDTools::UUID.random_create.
func uuid() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
