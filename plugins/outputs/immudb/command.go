package immudb

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/pipelined/pipeline/dsl/ir"
	"github.com/pipelined/pipeline/engine"
)

const verifyUsage = `Usage: pipeline verify [flags]

Checks an immudb table written by the immudb output: immudb's consistency
proof from the locally trusted state (trusted on first use) to the current
one, the inclusion proof of every row, and that every row's key is the
SHA-256 of its value. Exit 0 when everything checks, 1 on any mismatch
(each is printed, naming the row or transaction), 2 on a usage error, 3 when
the store cannot be read.

Flags:
  -f PATH [--id ID]        read the connection settings (secrets included) from
                           the immudb output in this pipeline file or directory,
                           the one with this id when there are several; flags
                           given as well override them
  --mode embedded|server   like the output's mode (default embedded)
  --path DIR               embedded store directory (default data/immudb); stop the pipeline first
  --host HOST --port N     immudb server (default 127.0.0.1:3322)
  --username U             server user (default immudb); the password is read
                           from the environment variable IMMUDB_PASSWORD (default immudb)
  --database DB            server database (default logs_immudb)
  --table T                table (default logs)
  --state DIR              trusted state directory (default PATH.verify-state, or
                           .immudb-verify in server mode)
  --from-tx N --to-tx N    check only these transactions and the rows they wrote
  --ssl --ssl-ca FILE --ssl-cert FILE --ssl-key FILE   TLS to the server
`

// exitMismatch is verify's exit code when it found a mismatch.
const exitMismatch = 1

// The verify command belongs to this output: it reads what the output wrote.
func init() {
	engine.RegisterCommand(engine.Command{Name: "verify", Synopsis: "verify [flags]",
		Summary: "check the proofs and keys of an immudb table written by the immudb output", Run: verifyCommand})
}

// verifyCommand is `pipeline verify`.
func verifyCommand(args []string, env engine.CommandEnv) int {
	stdout, stderr := env.Stdout, env.Stderr
	var vo VerifyOptions
	vo.Defaults()
	fs := flag.NewFlagSet("pipeline verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, verifyUsage) }
	var ca, config, id string
	var sslOn bool
	// Flags are parsed into a copy and applied after the configuration's
	// settings, so that a flag given overrides the file.
	f := vo
	fs.StringVar(&config, "f", "", "")
	fs.StringVar(&id, "id", "", "")
	fs.StringVar(&f.Mode, "mode", f.Mode, "")
	fs.StringVar(&f.Path, "path", f.Path, "")
	fs.StringVar(&f.Host, "host", f.Host, "")
	fs.IntVar(&f.Port, "port", f.Port, "")
	fs.StringVar(&f.Username, "username", f.Username, "")
	fs.StringVar(&f.Database, "database", f.Database, "")
	fs.StringVar(&f.Table, "table", f.Table, "")
	fs.StringVar(&vo.State, "state", "", "")
	fs.Uint64Var(&vo.FromTx, "from-tx", 0, "")
	fs.Uint64Var(&vo.ToTx, "to-tx", 0, "")
	fs.BoolVar(&sslOn, "ssl", false, "")
	fs.StringVar(&ca, "ssl-ca", "", "")
	fs.StringVar(&f.SSLCertificate, "ssl-cert", "", "")
	fs.StringVar(&f.SSLKey, "ssl-key", "", "")
	if err := fs.Parse(args); err != nil {
		return engine.ExitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "pipeline verify: unexpected argument %q\n\n%s", fs.Arg(0), verifyUsage)
		return engine.ExitUsage
	}
	if id != "" && config == "" {
		fmt.Fprintln(stderr, "pipeline verify: --id names an output of the configuration given with -f")
		return engine.ExitUsage
	}
	if config != "" {
		o, code := optionsFromConfig(env, config, id)
		if code != engine.ExitOK {
			return code
		}
		vo.Options = o
	}
	fs.Visit(func(fl *flag.Flag) {
		switch fl.Name {
		case "mode":
			vo.Mode = f.Mode
		case "path":
			vo.Path = f.Path
		case "host":
			vo.Host = f.Host
		case "port":
			vo.Port = f.Port
		case "username":
			vo.Username = f.Username
		case "database":
			vo.Database = f.Database
		case "table":
			vo.Table = f.Table
		case "ssl-cert":
			vo.SSLCertificate = f.SSLCertificate
		case "ssl-key":
			vo.SSLKey = f.SSLKey
		}
	})
	if sslOn {
		vo.SSLEnabled = &sslOn
	}
	if ca != "" {
		vo.SSLCertificateAuthorities = []string{ca}
	}
	if p, ok := os.LookupEnv("IMMUDB_PASSWORD"); ok {
		vo.Password = p
	}
	if vo.FromTx > 0 && vo.ToTx > 0 && vo.FromTx > vo.ToTx {
		fmt.Fprintln(stderr, "pipeline verify: --from-tx is after --to-tx")
		return engine.ExitUsage
	}
	if err := vo.Validate(); err != nil {
		fmt.Fprintf(stderr, "pipeline verify: %v\n", err)
		return engine.ExitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := Verify(ctx, vo, stdout)
	if err != nil {
		fmt.Fprintf(stderr, "pipeline verify: %v\n", err)
		return engine.ExitRuntime
	}
	where := "embedded store " + vo.Path
	if vo.Mode == "server" {
		where = fmt.Sprintf("immudb %s:%d database %s", vo.Host, vo.Port, vo.Database)
	}
	fmt.Fprintf(stdout, "%s, table %s\n", where, vo.Table)
	fmt.Fprintf(stdout, "rows checked: %d\n", rep.Rows)
	fmt.Fprintf(stdout, "transactions: first %d, last %d\n", rep.FirstTx, rep.LastTx)
	switch {
	case vo.Mode == "server":
		fmt.Fprintf(stdout, "trusted state: %s\n", vo.StateDir())
	case rep.TrustedTx == 0:
		fmt.Fprintf(stdout, "trusted state: none before this run (first use), %s\n", vo.StateDir())
	default:
		fmt.Fprintf(stdout, "trusted state: tx %d, proved consistent with tx %d\n", rep.TrustedTx, rep.LastTx)
	}
	fmt.Fprintf(stdout, "mismatches: %d\n", len(rep.Mismatches))
	if len(rep.Mismatches) > 0 {
		for _, m := range rep.Mismatches {
			fmt.Fprintf(stdout, "  %s\n", strings.TrimSpace(m))
		}
		fmt.Fprintln(stdout, "verify FAILED")
		return exitMismatch
	}
	fmt.Fprintln(stdout, "verify OK")
	return engine.ExitOK
}

// optionsFromConfig decodes the options of the immudb output of the
// configuration at path: the one with id, or the only one.
func optionsFromConfig(env engine.CommandEnv, path, id string) (Options, int) {
	var o Options
	o.Defaults()
	if env.LoadConfig == nil {
		fmt.Fprintln(env.Stderr, "pipeline verify: -f is not available here")
		return o, engine.ExitUsage
	}
	cfg, diags := env.LoadConfig(path)
	if diags.HasErrors() {
		for _, d := range diags.Errs() {
			fmt.Fprintf(env.Stderr, "pipeline verify: %s: %v\n", path, d)
		}
		return o, engine.ExitConfig
	}
	var found []*ir.Plugin
	var ids []string
	for _, p := range cfg.Pipelines {
		for _, pl := range p.Plugins() {
			if pl.Kind == ir.Output && pl.Type == "immudb" {
				ids = append(ids, pl.ID)
				if id == "" || pl.ID == id {
					found = append(found, pl)
				}
			}
		}
	}
	switch {
	case len(ids) == 0:
		fmt.Fprintf(env.Stderr, "pipeline verify: %s has no immudb output\n", path)
		return o, engine.ExitConfig
	case len(found) == 0:
		fmt.Fprintf(env.Stderr, "pipeline verify: %s has no immudb output with id %q; its immudb outputs: %s\n", path, id, strings.Join(ids, ", "))
		return o, engine.ExitConfig
	case len(found) > 1:
		fmt.Fprintf(env.Stderr, "pipeline verify: %s has %d immudb outputs; choose one with --id: %s\n", path, len(found), strings.Join(ids, ", "))
		return o, engine.ExitUsage
	}
	if diags := engine.DecodeOptions(engine.OutputBody(found[0].Body), &o); diags.HasErrors() {
		for _, d := range diags.Errs() {
			fmt.Fprintf(env.Stderr, "pipeline verify: %s: %v\n", path, d)
		}
		return o, engine.ExitConfig
	}
	return o, engine.ExitOK
}
