package e2e_test

import (
	"context"
	"fmt"
	"log/slog"
	"mime"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/pipelined/pipeline/dsl"
	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/plugins/internal/testkit/smtptest"
	"github.com/pipelined/pipeline/plugins/internal/testkit/zinctest"
)

// TestAlertingESExample runs examples/alerting/es-threshold-email (.conf and .hcl) in
// its one-shot mode against the real ES-compatible server (ZincSearch):
// documents indexed with known timestamps in and out of business hours
// (Europe/Berlin) make exactly the expected mails at a real SMTP server on
// loopback: 3 SSH failures on a Monday morning stay under the business-hours
// threshold (20), the same 3 on a Saturday pass the off-hours one (3); one
// unauthorized sudo on a Sunday evening mails, one on a Tuesday morning
// does not.
func TestAlertingESExample(t *testing.T) {
	z := zinctest.Start(t)
	var b strings.Builder
	n := 0
	doc := func(at, kind, user string) {
		fmt.Fprintf(&b, `{"index":{"_index":"auth-2026.12","_id":"d%d"}}`+"\n", n)
		fmt.Fprintf(&b, `{"kind":%q,"user":%q,"src_ip":"10.0.0.5","host":"web1","@timestamp":%q}`+"\n", kind, user, at)
		n++
	}
	for i := range 3 {
		doc(fmt.Sprintf("2026-11-30T09:0%d:00Z", i), "ssh_failure", "root") // Monday 10:0i CET: inside
		doc(fmt.Sprintf("2026-12-05T09:0%d:00Z", i), "ssh_failure", "root") // Saturday: outside
	}
	doc("2026-12-06T20:00:00Z", "sudo_unauthorized", "mallory") // Sunday 21:00 CET
	doc("2026-12-01T10:00:00Z", "sudo_unauthorized", "bob")     // Tuesday 11:00 CET
	doc("2026-12-05T09:30:00Z", "http_request", "")             // one request: no flood
	code, body, err := z.Do("POST", "/_bulk", []byte(b.String()))
	if err != nil || code != 200 {
		t.Fatalf("bulk: %d %s %v", code, body, err)
	}
	if got, err := z.WaitCount("auth-2026.12", n, 30*time.Second); got != n {
		t.Fatalf("indexed %d of %d: %v", got, n, err)
	}
	for _, file := range []string{"es-threshold-email.conf", "es-threshold-email.hcl"} {
		t.Run(file, func(t *testing.T) {
			smtp := smtptest.Start(t, nil)
			t.Setenv("SMTP_PORT", fmt.Sprint(smtp.Port))
			t.Setenv("ES_HOSTS", z.URL())
			t.Setenv("ES_USER", zinctest.User)
			t.Setenv("ES_PASSWORD", zinctest.Password)
			t.Setenv("ES_INDEX", "auth-*")
			t.Setenv("SCAN_FROM", "2026-11-01T00:00:00Z") // ZincSearch has no date math (now-10m)
			t.Setenv("SMTP_HOST", "127.0.0.1")
			t.Setenv("ALERT_MAIL_TO", "secops@example.com")
			src, err := os.ReadFile(filepath.Join("..", "..", "examples", "alerting", file))
			if err != nil {
				t.Fatal(err)
			}
			cfg, diags := dsl.LoadSource(file, src)
			if diags.HasErrors() {
				t.Fatal(diags.Error())
			}
			p, diags := engine.Build(cfg.Pipelines[0], engine.Default, engine.Settings{Workers: 1, Logger: slog.New(slog.DiscardHandler)})
			if diags.HasErrors() {
				t.Fatal(diags.Error())
			}
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			stop := context.AfterFunc(ctx, p.Abort)
			defer stop()
			// One-shot: the input ends after its search and the pipeline drains.
			if err := p.Run(ctx); err != nil {
				t.Fatal(err)
			}
			if ctx.Err() != nil {
				t.Fatal("the one-shot run did not end")
			}
			var subjects []string
			for _, m := range smtp.Mails() {
				s, _ := new(mime.WordDecoder).DecodeHeader(m.Msg.Header.Get("Subject"))
				subjects = append(subjects, s)
			}
			sort.Strings(subjects)
			want := []string{
				"SSH login failures: 3 since 2026-12-05T09:00:00Z",
				"Unauthorized sudo: 1 since 2026-12-06T20:00:00Z",
			}
			if strings.Join(subjects, "\n") != strings.Join(want, "\n") {
				t.Errorf("mails:\n%s\nwant:\n%s", strings.Join(subjects, "\n"), strings.Join(want, "\n"))
			}
			if st := p.Stats(); st.In.Load() != int64(n) {
				t.Errorf("%d events read, want %d", st.In.Load(), n)
			}
		})
	}
}
