package monitor

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/pipelined/pipeline/dsl/ir"
	"github.com/pipelined/pipeline/engine"
	"github.com/pipelined/pipeline/engine/event"
)

// Budgets of the tap client.
const (
	// maxTapLineBytes bounds one line of the tap stream (one event).
	maxTapLineBytes = 16 << 20
	// maxPasswordFileBytes bounds --password-file.
	maxPasswordFileBytes = 4096
)

// TapSynopsis and TapSummary are the usage line of `pipeline tap`.
const (
	TapSynopsis = "tap [flags]"
	TapSummary  = "stream sampled events entering or leaving plugins of a running pipeline (monitoring API)"
)

type globList []string

func (g *globList) String() string { return strings.Join(*g, ",") }
func (g *globList) Set(v string) error {
	*g = append(*g, v)
	return nil
}

// TapCommand runs `pipeline tap` with the arguments after "tap": it reads
// GET /_node/tap of a running engine's monitoring API and prints each event
// as a JSON line or in rubydebug form.
func TapCommand(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("tap", flag.ContinueOnError)
	fs.SetOutput(stderr)
	api := fs.String("api", "http://127.0.0.1:9600", "the monitoring API of the running engine (api.http.host:api.http.port)")
	var outputsOf, inputsOf globList
	fs.Var(&outputsOf, "outputs-of", "plugin id glob whose outgoing events to show (repeatable, or comma-separated)")
	fs.Var(&inputsOf, "inputs-of", "plugin id glob whose incoming events to show (repeatable, or comma-separated)")
	dropped := fs.Bool("dropped", false, "show events not delivered: dropped by a filter (drop), unrouted (no output condition matched) and failed, each with the reason")
	limit := fs.Int64("limit", 0, "stop after this many events (0: until interrupted)")
	interval := fs.Duration("interval", 0, "at most one event per plugin per interval (0: every event the stream keeps up with)")
	format := fs.String("format", "json", "json (one JSON line per event, with pipeline, plugin and kind) or rubydebug")
	user := fs.String("user", "", "API user name (api.auth.basic.username)")
	passFile := fs.String("password-file", "", "file holding the API password (or set PIPELINE_API_PASSWORD)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return engine.ExitOK
		}
		return engine.ExitUsage
	}
	if fs.NArg() > 0 || (len(outputsOf)+len(inputsOf) == 0 && !*dropped) || (*format != "json" && *format != "rubydebug") {
		fmt.Fprintln(stderr, "pipeline tap: give --outputs-of or --inputs-of plugin id globs (or --dropped), and --format json or rubydebug, e.g. pipeline tap --outputs-of 'grok*' --limit 10")
		return engine.ExitUsage
	}
	base, err := url.Parse(*api)
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		fmt.Fprintf(stderr, "pipeline tap: --api %q: give http://HOST:PORT\n", *api)
		return engine.ExitUsage
	}
	password := os.Getenv("PIPELINE_API_PASSWORD")
	if *passFile != "" {
		b, err := readSmall(*passFile, maxPasswordFileBytes)
		if err != nil {
			fmt.Fprintf(stderr, "pipeline tap: --password-file: %v\n", err)
			return engine.ExitUsage
		}
		password = strings.TrimRight(string(b), "\r\n")
	}
	q := url.Values{}
	if len(outputsOf) > 0 {
		q.Set("outputs_of", outputsOf.String())
	}
	if len(inputsOf) > 0 {
		q.Set("inputs_of", inputsOf.String())
	}
	if *dropped {
		q.Set("dropped", "true")
	}
	if *limit > 0 {
		q.Set("limit", strconv.FormatInt(*limit, 10))
	}
	if *interval > 0 {
		q.Set("interval", interval.String())
	}
	u := base.JoinPath("/_node/tap")
	u.RawQuery = q.Encode()
	req, err := http.NewRequest(http.MethodGet, u.String(), nil)
	if err != nil {
		fmt.Fprintf(stderr, "pipeline tap: %v\n", err)
		return engine.ExitUsage
	}
	if *user != "" {
		req.SetBasicAuth(*user, password)
	}
	client := &http.Client{Transport: &http.Transport{
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second}).DialContext,
		ResponseHeaderTimeout: 30 * time.Second,
	}}
	resp, err := client.Do(req)
	if err != nil {
		fmt.Fprintf(stderr, "pipeline tap: %v (is the engine running with its monitoring API enabled?)\n", err)
		return engine.ExitRuntime
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		fmt.Fprintf(stderr, "pipeline tap: %s: %s\n", resp.Status, strings.TrimSpace(string(b)))
		return engine.ExitRuntime
	}
	var enc engine.Encoder
	if *format == "rubydebug" {
		f, ok := engine.Default.Lookup(ir.Codec, "rubydebug")
		if !ok {
			fmt.Fprintln(stderr, "pipeline tap: the rubydebug codec is not registered")
			return engine.ExitRuntime
		}
		c, err := f.BuildWithDefaults(engine.Resources{ID: "tap", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			fmt.Fprintf(stderr, "pipeline tap: %v\n", err)
			return engine.ExitRuntime
		}
		enc = c.(engine.Codec).NewEncoder(stdout)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), maxTapLineBytes)
	for n := int64(0); (*limit == 0 || n < *limit) && sc.Scan(); n++ {
		if enc == nil {
			if _, err := fmt.Fprintf(stdout, "%s\n", sc.Bytes()); err != nil {
				return engine.ExitRuntime
			}
			continue
		}
		var line tapLine
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			fmt.Fprintf(stderr, "pipeline tap: %v\n", err)
			return engine.ExitRuntime
		}
		e, err := event.FromJSON(line.Event)
		if err != nil {
			fmt.Fprintf(stderr, "pipeline tap: %v\n", err)
			return engine.ExitRuntime
		}
		if line.Reason != "" {
			fmt.Fprintf(stdout, "# %s %s %s: %s\n", line.Pipeline, line.Kind, line.Plugin, line.Reason)
		} else {
			fmt.Fprintf(stdout, "# %s %s %s\n", line.Pipeline, line.Kind, line.Plugin)
		}
		if err := enc.Encode(e); err != nil {
			return engine.ExitRuntime
		}
	}
	if err := sc.Err(); err != nil {
		fmt.Fprintf(stderr, "pipeline tap: %v\n", err)
		return engine.ExitRuntime
	}
	return engine.ExitOK
}

func readSmall(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("more than %d bytes", max)
	}
	return b, nil
}
