package beats

import (
	"crypto/tls"
	"fmt"
	"net"
	"slices"
	"strings"

	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
)

// enrichNames are the values of enrich, as Logstash's beats input takes them.
var enrichNames = []string{"source_metadata", "codec_metadata", "ssl_peer_metadata", "all", "none"}

type enrichments struct{ source, codec, peer bool }

// enrichments resolves enrich and include_codec_tag as Logstash's
// resolve_enriches does.
func (o *Options) enrichments() (enrichments, error) {
	fe := func(format string, args ...any) error {
		return &engine.FieldError{Field: "enrich", Err: fmt.Errorf(format, args...)}
	}
	if o.Enrich == nil {
		en := enrichments{source: true, codec: true}
		if o.IncludeCodecTag != nil {
			en.codec = *o.IncludeCodecTag
		}
		return en, nil
	}
	if o.IncludeCodecTag != nil {
		return enrichments{}, fe("set enrich only (include_codec_tag is its deprecated form)")
	}
	var en enrichments
	for _, v := range o.Enrich {
		if !slices.Contains(enrichNames, v) {
			return en, fe("unknown value %q: want %s", v, strings.Join(enrichNames, ", "))
		}
		if (v == "all" || v == "none") && len(o.Enrich) > 1 {
			return en, fe("%q stands alone", v)
		}
		switch v {
		case "all":
			en = enrichments{true, true, true}
		case "source_metadata":
			en.source = true
		case "codec_metadata":
			en.codec = true
		case "ssl_peer_metadata":
			en.peer = true
		}
	}
	return en, nil
}

// enrichRefs are the fields enrich sets, by ECS compatibility (Logstash's
// names for each).
type enrichRefs struct {
	ip, status, protocol, subject, cipher event.Ref
}

func newEnrichRefs(ecsOn bool) enrichRefs {
	if !ecsOn {
		return enrichRefs{
			ip:       event.MustRef("[@metadata][ip_address]"),
			status:   event.MustRef("[@metadata][tls_peer][status]"),
			protocol: event.MustRef("[@metadata][tls_peer][protocol]"),
			subject:  event.MustRef("[@metadata][tls_peer][subject]"),
			cipher:   event.MustRef("[@metadata][tls_peer][cipher_suite]"),
		}
	}
	return enrichRefs{
		ip:       event.MustRef("[@metadata][input][beats][host][ip]"),
		status:   event.MustRef("[@metadata][tls_peer][status]"),
		protocol: event.MustRef("[@metadata][input][beats][tls][version_protocol]"),
		subject:  event.MustRef("[@metadata][input][beats][tls][client][subject]"),
		cipher:   event.MustRef("[@metadata][input][beats][tls][cipher]"),
	}
}

// peer is what the TLS handshake of a connection says of its client.
type peer struct {
	verified                  bool
	protocol, subject, cipher string
}

// peerConfig returns the TLS configuration that records each connection's
// client in its connState (enrich ssl_peer_metadata).
func (in *Input) peerConfig(base *tls.Config) *tls.Config {
	cfg := base.Clone()
	cfg.GetConfigForClient = func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
		rc, ok := hello.Conn.(*rawConn)
		if !ok {
			return nil, nil
		}
		c := base.Clone()
		c.VerifyConnection = func(cs tls.ConnectionState) error {
			p := &peer{protocol: strings.Replace(tls.VersionName(cs.Version), "TLS 1.", "TLSv1.", 1), cipher: tls.CipherSuiteName(cs.CipherSuite)}
			if len(cs.PeerCertificates) > 0 && (len(cs.VerifiedChains) > 0 || c.ClientAuth == tls.RequireAndVerifyClientCert) {
				p.verified = true
				p.subject = cs.PeerCertificates[0].Subject.String()
			}
			rc.st.peer.Store(p)
			return nil
		}
		return c, nil
	}
	return cfg
}

// enrich sets the enrich fields of e, which came over st.
func (in *Input) enrich(e *event.Event, remote string, st *connState) {
	if in.srcMeta {
		if host, _, err := net.SplitHostPort(remote); err == nil {
			e.Set(in.enrichRefs.ip, host)
		}
	}
	if in.peerMeta && st != nil {
		p := st.peer.Load()
		if p == nil || !p.verified {
			e.Set(in.enrichRefs.status, "unverified")
			return
		}
		e.Set(in.enrichRefs.status, "verified")
		e.Set(in.enrichRefs.protocol, p.protocol)
		e.Set(in.enrichRefs.subject, p.subject)
		e.Set(in.enrichRefs.cipher, p.cipher)
	}
}
