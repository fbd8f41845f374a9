package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/kycreview/kycreview"
)

const usage = `kycreview — manual review and audit trail for identity-verification sessions

Usage:
  kycreview serve   [--addr 127.0.0.1:8080] [--public-url URL] [--demo] [--db URL]
  kycreview migrate [--db URL]
  kycreview apps create --name NAME [--db URL]
  kycreview keys create --app APP_ID [--role client|system] [--db URL]
  kycreview keys revoke --key KEY_ID [--db URL]
  kycreview users create --email EMAIL --name "FULL NAME" [--app APP_ID] [--password-stdin] [--db URL]
  kycreview users list [--app APP_ID] [--db URL]
  kycreview users disable --user ID_OR_EMAIL [--db URL]
  kycreview users password --user ID_OR_EMAIL [--db URL]     (the password on standard input)
  kycreview users add --app APP_ID --user ID_OR_EMAIL [--db URL]
  kycreview users remove --app APP_ID --user ID_OR_EMAIL [--db URL]
  kycreview webhooks destinations --app APP_ID [--db URL]
  kycreview webhooks deliveries --app APP_ID --destination DEST_ID [--limit N] [--offset N] [--db URL]
  kycreview webhooks resend --app APP_ID --destination DEST_ID --delivery DELIVERY_ID [--db URL]
  kycreview audit keygen --out FILE
  kycreview audit checkpoint [--audit-key-file FILE] [--db URL]
  kycreview audit verify [--app ID] [--session ID] [--receipt FILE]... [--file EXPORT.jsonl] [--public-key B64]... [--db URL]
  kycreview audit export (--session ID | --app ID) [--out FILE] [--db URL]

--db takes sqlite:PATH (the default is sqlite:kycreview.db) or a postgres:// URL,
and defaults to $KYCREVIEW_DB. Admin commands print one JSON object on stdout.
`

// usageError is a mistake in the command line; it exits with status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

// run is the whole program, with its inputs passed in so tests can call it.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, usage)
		if len(args) == 0 {
			return &usageError{"no command given"}
		}
		return nil
	}
	cfg := defaultConfig()
	if err := cfg.fromEnv(getenv); err != nil {
		return err
	}
	cmd, rest := args[0], args[1:]
	if strings.ContainsAny(cmd, " \t") {
		return &usageError{fmt.Sprintf("unknown command %q (see kycreview --help)", cmd)}
	}
	if cmd == "apps" || cmd == "keys" || cmd == "users" || cmd == "webhooks" || cmd == "audit" {
		if len(rest) == 0 {
			return &usageError{fmt.Sprintf("%s needs a subcommand (see kycreview --help)", cmd)}
		}
		cmd, rest = cmd+" "+rest[0], rest[1:]
	}
	switch cmd {
	case "serve":
		return serve(ctx, cfg, rest, stdout, stderr)
	case "migrate":
		return migrate(ctx, cfg, rest, stdout)
	case "apps create":
		return appsCreate(ctx, cfg, rest, stdout)
	case "keys create":
		return keysCreate(ctx, cfg, rest, stdout)
	case "keys revoke":
		return keysRevoke(ctx, cfg, rest, stdout)
	case "users create":
		return usersCreate(ctx, cfg, rest, stdout)
	case "users list":
		return usersList(ctx, cfg, rest, stdout)
	case "users disable":
		return usersDisable(ctx, cfg, rest, stdout)
	case "users password":
		return usersPassword(ctx, cfg, rest, stdout)
	case "users add":
		return usersMembership(ctx, cfg, rest, stdout, true)
	case "users remove":
		return usersMembership(ctx, cfg, rest, stdout, false)
	case "webhooks destinations":
		return webhooksDestinations(ctx, cfg, rest, stdout)
	case "webhooks deliveries":
		return webhooksDeliveries(ctx, cfg, rest, stdout)
	case "webhooks resend":
		return webhooksResend(ctx, cfg, rest, stdout)
	case "audit keygen":
		return auditKeygen(ctx, cfg, rest, stdout)
	case "audit checkpoint":
		return auditCheckpoint(ctx, cfg, rest, stdout)
	case "audit verify":
		return auditVerify(ctx, cfg, rest, stdout)
	case "audit export":
		return auditExport(ctx, cfg, rest, stdout)
	}
	return &usageError{fmt.Sprintf("unknown command %q (see kycreview --help)", cmd)}
}

// newFlags returns a flag set for cmd that reports errors instead of
// exiting, with --db bound to cfg.
func newFlags(cmd string, cfg *config) *flag.FlagSet {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&cfg.DB, "db", cfg.DB, "database URL: sqlite:PATH or postgres://…")
	return fs
}

// parseFlags parses args, refusing positional arguments and naming the
// flags that are required but missing.
func parseFlags(fs *flag.FlagSet, args []string, required ...string) error {
	if err := fs.Parse(args); err != nil {
		return &usageError{fmt.Sprintf("%s: %v", fs.Name(), err)}
	}
	if fs.NArg() > 0 {
		return &usageError{fmt.Sprintf("%s: unexpected argument %q", fs.Name(), fs.Arg(0))}
	}
	for _, name := range required {
		if strings.TrimSpace(fs.Lookup(name).Value.String()) == "" {
			return &usageError{fmt.Sprintf("%s: --%s is required", fs.Name(), name)}
		}
	}
	return nil
}

// printJSON writes v as one JSON object on its own line.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// errorText is what the user sees for err: a kycreview error's message, or
// the error itself.
func errorText(err error) string {
	var e *kycreview.Error
	if errors.As(err, &e) && e.Message != "" && e.Code != kycreview.EINTERNAL {
		return "error: " + e.Message
	}
	return "error: " + err.Error()
}

func exitCode(err error) int {
	var u *usageError
	if errors.As(err, &u) {
		return 2
	}
	return 1
}
