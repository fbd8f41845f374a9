package main

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/kycreview/kycreview"
	"github.com/kycreview/kycreview/internal/audit"
	"github.com/kycreview/kycreview/internal/service"
)

// The audit commands (docs/audit-chain.md): keygen, checkpoint, verify and
// export, and what serve needs to sign checkpoints.

// auditFlags binds the audit key flag (every audit command and serve) and,
// for serve, the checkpoint interval.
func auditFlags(fs *flag.FlagSet, cfg *config, serve bool) {
	fs.StringVar(&cfg.AuditKeyFile, "audit-key-file", cfg.AuditKeyFile, "Ed25519 private key (PEM) that signs audit checkpoints and proofs")
	if serve {
		fs.DurationVar(&cfg.AuditCheckpointInterval, "audit-checkpoint-interval", cfg.AuditCheckpointInterval,
			"sign the heads of the audit chains that changed this often (0: never)")
	}
}

// loadAuditKey reads the configured key; nil when none is configured.
func loadAuditKey(cfg config) (*kycreview.AuditKey, error) {
	if cfg.AuditKeyFile == "" {
		return nil, nil
	}
	data, err := os.ReadFile(cfg.AuditKeyFile)
	if err != nil {
		return nil, fmt.Errorf("audit key file: %w", err)
	}
	k, err := kycreview.ParseAuditKey(data)
	if err != nil {
		return nil, fmt.Errorf("audit key file %s: %w", cfg.AuditKeyFile, err)
	}
	return k, nil
}

// auditOptions are the service options the audit settings give.
func auditOptions(cfg config) ([]service.Option, error) {
	if cfg.AuditCheckpointInterval < 0 {
		return nil, &usageError{fmt.Sprintf("audit checkpoint interval %s must not be negative", cfg.AuditCheckpointInterval)}
	}
	k, err := loadAuditKey(cfg)
	if err != nil || k == nil {
		return nil, err
	}
	return []service.Option{service.WithAuditKey(k)}, nil
}

// configureAudit applies the audit settings to svc, before it serves.
func configureAudit(cfg config, svc *service.Service) error {
	opts, err := auditOptions(cfg)
	for _, o := range opts {
		o(svc)
	}
	return err
}

// startCheckpointer runs the checkpoint worker when a key is configured and
// the interval is not 0, until ctx (serve's context of the workers) ends;
// the returned function stops it and waits. It is nil when the worker does
// not run.
func startCheckpointer(ctx context.Context, cfg config, svc *service.Service, log *slog.Logger) (stop func()) {
	if svc.AuditKey() == nil || cfg.AuditCheckpointInterval == 0 {
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	c := &audit.Checkpointer{Svc: svc, Interval: cfg.AuditCheckpointInterval, Log: log}
	go func() { defer close(done); _ = c.Run(ctx) }()
	return func() { cancel(); <-done }
}

// withAuditService is withService with the audit key configured.
func withAuditService(ctx context.Context, cfg config, fn func(*service.Service) error) error {
	opts, err := auditOptions(cfg)
	if err != nil {
		return err
	}
	store, err := openStore(ctx, cfg.DB)
	if err != nil {
		return err
	}
	defer store.Close()
	return fn(service.New(store, time.Now, opts...))
}

func auditKeygen(_ context.Context, cfg config, args []string, stdout io.Writer) error {
	fs := newFlags("audit keygen", &cfg)
	out := fs.String("out", "", "file to write the new private key to (must not exist)")
	if err := parseFlags(fs, args, "out"); err != nil {
		return err
	}
	pemBytes, err := kycreview.GenerateAuditKey()
	if err != nil {
		return err
	}
	k, err := kycreview.ParseAuditKey(pemBytes)
	if err != nil {
		return err
	}
	// O_EXCL: never overwrite a key, which would orphan every checkpoint
	// signed with it; 0600: the key signs for the service.
	f, err := os.OpenFile(*out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(pemBytes); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return printJSON(stdout, map[string]any{"key_file": *out, "key_id": k.ID(), "algorithm": "Ed25519",
		"public_key": base64.StdEncoding.EncodeToString(k.Public())})
}

func auditCheckpoint(ctx context.Context, cfg config, args []string, stdout io.Writer) error {
	fs := newFlags("audit checkpoint", &cfg)
	auditFlags(fs, &cfg, false)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if cfg.AuditKeyFile == "" {
		return &usageError{"audit checkpoint: --audit-key-file (or KYCREVIEW_AUDIT_KEY_FILE) is required"}
	}
	return withAuditService(ctx, cfg, func(svc *service.Service) error {
		n, err := svc.Checkpoint(ctx)
		if err != nil {
			return err
		}
		return printJSON(stdout, map[string]any{"checkpoints": n, "key_id": svc.AuditKey().ID()})
	})
}

// stringsFlag is a flag that may be given several times.
type stringsFlag []string

func (s *stringsFlag) String() string     { return strings.Join(*s, ",") }
func (s *stringsFlag) Set(v string) error { *s = append(*s, v); return nil }

func auditVerify(ctx context.Context, cfg config, args []string, stdout io.Writer) error {
	fs := newFlags("audit verify", &cfg)
	auditFlags(fs, &cfg, false)
	app := fs.String("app", "", "only this application's sessions")
	session := fs.String("session", "", "only this session")
	file := fs.String("file", "", "verify this export (JSONL) instead of the database")
	var receiptFiles, publicKeys stringsFlag
	fs.Var(&receiptFiles, "receipt", "a proof saved from GET …/reviews/proof/ that the trail must still contain (repeatable)")
	fs.Var(&publicKeys, "public-key", "a trusted checkpoint public key, base64 as proofs show it (repeatable)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	k, err := loadAuditKey(cfg)
	if err != nil {
		return err
	}
	var trusted []ed25519.PublicKey
	for _, s := range publicKeys {
		pub, err := kycreview.ParsePublicKey(s)
		if err != nil {
			return &usageError{fmt.Sprintf("audit verify: --public-key: %v", err)}
		}
		trusted = append(trusted, pub)
	}
	if k != nil {
		trusted = append(trusted, k.Public())
	}
	receipts, err := readReceipts(receiptFiles, trusted)
	if err != nil {
		return err
	}
	if *session == "" && *app == "" && len(receipts) > 0 && *file == "" {
		// A receipt names its session: check that one, not the database.
		*session = receipts[0].SessionID
		for _, r := range receipts[1:] {
			if r.SessionID != *session {
				*session = ""
				break
			}
		}
	}

	var report any
	var broken int
	if *file != "" {
		f, err := os.Open(*file)
		if err != nil {
			return err
		}
		defer f.Close()
		rep, err := audit.VerifyExport(f, trusted, receipts)
		if err != nil {
			return err
		}
		report, broken = rep, len(rep.Broken)
	} else {
		err := withService(ctx, cfg, func(svc *service.Service) error {
			rep, err := svc.VerifyChains(ctx, *app, *session, receipts, trusted)
			if err != nil {
				return err
			}
			if rep.Sessions == 0 && *session != "" && len(receipts) == 0 {
				return kycreview.Errorf(kycreview.ENOTFOUND, "session %s not found", *session)
			}
			report, broken = rep, len(rep.Broken)
			return nil
		})
		if err != nil {
			return err
		}
	}
	if err := printJSON(stdout, report); err != nil {
		return err
	}
	if broken > 0 {
		return fmt.Errorf("audit verify: %d broken chain(s)", broken)
	}
	return nil
}

// readReceipts reads proof files. A signed one must verify: with a trusted
// key when one is given, else with the key it names (a receipt's own key
// proves only that it was not altered since it was signed).
func readReceipts(files []string, trusted []ed25519.PublicKey) ([]kycreview.Checkpoint, error) {
	var out []kycreview.Checkpoint
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			return nil, err
		}
		var j kycreview.CheckpointJSON
		if err := json.Unmarshal(data, &j); err != nil {
			return nil, fmt.Errorf("receipt %s: %w", name, err)
		}
		c, err := j.Checkpoint()
		if err != nil {
			return nil, fmt.Errorf("receipt %s: %w", name, err)
		}
		if c.Signature != nil {
			keys := trusted
			if len(keys) == 0 {
				keys = []ed25519.PublicKey{c.PublicKey}
			}
			ok := false
			for _, k := range keys {
				ok = ok || c.VerifySignature(k)
			}
			if !ok {
				return nil, fmt.Errorf("receipt %s: the signature does not verify with a trusted key", name)
			}
		}
		if c.Head == nil {
			return nil, fmt.Errorf("receipt %s: no head_hash", name)
		}
		out = append(out, c)
	}
	return out, nil
}

func auditExport(ctx context.Context, cfg config, args []string, stdout io.Writer) error {
	fs := newFlags("audit export", &cfg)
	auditFlags(fs, &cfg, false)
	app := fs.String("app", "", "export this application's sessions")
	session := fs.String("session", "", "export this session")
	out := fs.String("out", "", "write to this file instead of standard output")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *app == "" && *session == "" {
		return &usageError{"audit export: --session or --app is required"}
	}
	w := stdout
	if *out != "" {
		f, err := os.Create(*out)
		if err != nil {
			return err
		}
		defer f.Close()
		w = f
	}
	return withAuditService(ctx, cfg, func(svc *service.Service) error {
		st, err := audit.Export(ctx, w, svc, *app, *session, time.Now())
		if err != nil {
			return err
		}
		if st.Sessions == 0 {
			return kycreview.Errorf(kycreview.ENOTFOUND, "no session matches")
		}
		if f, ok := w.(*os.File); ok && *out != "" {
			if err := f.Close(); err != nil && !errors.Is(err, os.ErrClosed) {
				return err
			}
			return printJSON(stdout, map[string]any{"file": *out, "sessions": st.Sessions, "rows": st.Rows, "checkpoints": st.Checkpoints})
		}
		return nil
	})
}
