package amazones

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pipelined/pipeline/dsl/ir"
	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
	"github.com/pipelined/pipeline/plugins/internal/awssig"
	"github.com/pipelined/pipeline/plugins/internal/testkit/plugintest"
	"github.com/pipelined/pipeline/plugins/internal/testkit/zinctest"
)

// signingProxy stands for an Amazon OpenSearch Service domain in front of a
// real ES-compatible server: it recomputes each request's Signature Version
// 4 over what arrived (method, path, query, headers, body) with the
// expected credentials, refuses a mismatch with 403 as AWS does, and passes
// good requests on with the server's own basic authentication.
func signingProxy(t *testing.T, z *zinctest.Server, creds awssig.Credentials, region string) (string, *atomic.Int64, *atomic.Int64) {
	target, _ := url.Parse("http://" + z.Addr())
	rp := httputil.NewSingleHostReverseProxy(target)
	var good, bad atomic.Int64
	p := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := r.Header.Get("Authorization")
		amz, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
		check := r.Clone(r.Context())
		check.URL.Scheme, check.URL.Host = "http", r.Host
		s := awssig.Signer{Credentials: creds, Region: region, Service: "es", Now: func() time.Time { return amz }}
		if err == nil {
			err = s.Sign(check) // reads r's body and puts it back on check
		}
		if err != nil || got == "" || check.Header.Get("Authorization") != got {
			bad.Add(1)
			http.Error(w, `{"message":"The request signature we calculated does not match the signature you provided."}`, http.StatusForbidden)
			return
		}
		good.Add(1)
		r.Body = check.Body
		r.Header.Del("Authorization")
		r.SetBasicAuth(zinctest.User, zinctest.Password)
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(p.Close)
	return p.URL, &good, &bad
}

// Events reach the server through a proxy that checks every request's
// signature; with a wrong secret every request is refused and nothing is
// written.
func TestSignedBulk(t *testing.T) {
	z := zinctest.Start(t)
	creds := awssig.Credentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"}
	proxy, good, bad := signingProxy(t, z, creds, "eu-west-1")
	host := strings.TrimPrefix(proxy, "http://")
	opts := fmt.Sprintf("hosts = [%q]\nprotocol = \"http\"\npath = \"/es\"\nregion = \"eu-west-1\"\naws_access_key_id = %q\naws_secret_access_key = %q\nindex = \"signed-%%%%{+YYYY.MM.dd}\"\nmanage_template = false",
		host, creds.AccessKeyID, creds.SecretAccessKey)
	out := plugintest.MustNew(t, New, opts, engine.Resources{})
	ctx := context.Background()
	if err := out.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	defer out.Close(ctx)
	var evs []*event.Event
	for i := range 50 {
		e := event.NewMessage(fmt.Sprintf("signed %d", i))
		e.SetTimestamp(time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC))
		evs = append(evs, e)
	}
	if err := out.Write(ctx, evs); err != nil {
		t.Fatal(err)
	}
	if n, err := z.WaitCount("signed-2026.11.21", 50, 30*time.Second); n != 50 {
		t.Fatalf("%d documents (%v); want 50", n, err)
	}
	if good.Load() == 0 || bad.Load() != 0 {
		t.Fatalf("signatures: %d good, %d bad", good.Load(), bad.Load())
	}

	wrong := strings.Replace(opts, creds.SecretAccessKey, "not-the-secret", 1)
	out2 := plugintest.MustNew(t, New, wrong, engine.Resources{})
	if err := out2.Connect(ctx); err == nil {
		err = out2.Write(ctx, []*event.Event{event.NewMessage("forged")})
		if err == nil {
			t.Fatal("a wrongly signed batch was accepted")
		}
	}
	if bad.Load() == 0 {
		t.Fatal("the proxy saw no wrongly signed request")
	}
}

// Without credentials in the options or the environment the pipeline
// refuses to start; check only warns (the plugin finds them at start).
func TestCredentialsAtStart(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	diags := plugintest.CheckDiags(t, ir.Output, "amazon_es", `hosts = ["search-x.eu-west-1.es.amazonaws.com"]`)
	if diags.HasErrors() || !strings.Contains(diags.Error(), "no AWS credentials") {
		t.Fatalf("check: %v", diags)
	}
	t.Setenv("AWS_ACCESS_KEY_ID", "AKID")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "SECRET")
	if diags := plugintest.CheckDiags(t, ir.Output, "amazon_es", `hosts = ["search-x.eu-west-1.es.amazonaws.com"]`); len(diags) != 0 {
		t.Fatalf("check with credentials in the environment: %v", diags)
	}
	if diags := plugintest.CheckDiags(t, ir.Output, "amazon_es", "hosts = [\"h\"]\naws_access_key_id = \"AKID\""); !diags.HasErrors() {
		t.Fatal("an access key without its secret was accepted")
	}
}
