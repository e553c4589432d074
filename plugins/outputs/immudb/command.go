package immudb

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

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
func verifyCommand(args []string, stdout, stderr io.Writer) int {
	var vo VerifyOptions
	vo.Defaults()
	fs := flag.NewFlagSet("pipeline verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, verifyUsage) }
	var ca string
	var sslOn bool
	fs.StringVar(&vo.Mode, "mode", vo.Mode, "")
	fs.StringVar(&vo.Path, "path", vo.Path, "")
	fs.StringVar(&vo.Host, "host", vo.Host, "")
	fs.IntVar(&vo.Port, "port", vo.Port, "")
	fs.StringVar(&vo.Username, "username", vo.Username, "")
	fs.StringVar(&vo.Database, "database", vo.Database, "")
	fs.StringVar(&vo.Table, "table", vo.Table, "")
	fs.StringVar(&vo.State, "state", "", "")
	fs.Uint64Var(&vo.FromTx, "from-tx", 0, "")
	fs.Uint64Var(&vo.ToTx, "to-tx", 0, "")
	fs.BoolVar(&sslOn, "ssl", false, "")
	fs.StringVar(&ca, "ssl-ca", "", "")
	fs.StringVar(&vo.SSLCertificate, "ssl-cert", "", "")
	fs.StringVar(&vo.SSLKey, "ssl-key", "", "")
	if err := fs.Parse(args); err != nil {
		return engine.ExitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "pipeline verify: unexpected argument %q\n\n%s", fs.Arg(0), verifyUsage)
		return engine.ExitUsage
	}
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
