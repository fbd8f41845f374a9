package main

import (
	"context"
	"io"
	"time"

	"github.com/kycreview/kycreview"
	"github.com/kycreview/kycreview/internal/service"
)

// withService opens the database, runs fn with a service over it, and
// closes it again.
func withService(ctx context.Context, cfg config, fn func(*service.Service) error) error {
	store, err := openStore(ctx, cfg.DB)
	if err != nil {
		return err
	}
	defer store.Close()
	return fn(service.New(store, time.Now))
}

func migrate(ctx context.Context, cfg config, args []string, stdout io.Writer) error {
	fs := newFlags("migrate", &cfg)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	return withService(ctx, cfg, func(*service.Service) error {
		return printJSON(stdout, map[string]any{"migrated": true, "db": redact(cfg.DB)})
	})
}

func appsCreate(ctx context.Context, cfg config, args []string, stdout io.Writer) error {
	fs := newFlags("apps create", &cfg)
	name := fs.String("name", "", "application name")
	if err := parseFlags(fs, args, "name"); err != nil {
		return err
	}
	return withService(ctx, cfg, func(svc *service.Service) error {
		app, err := svc.CreateApplication(ctx, *name)
		if err != nil {
			return err
		}
		return printJSON(stdout, map[string]any{
			"application_id": app.Application.ID,
			"api_key":        app.Token,
			"workflows": map[string]string{
				"user":     app.Workflows[kycreview.KindUser].ID,
				"business": app.Workflows[kycreview.KindBusiness].ID,
			},
		})
	})
}

func keysCreate(ctx context.Context, cfg config, args []string, stdout io.Writer) error {
	fs := newFlags("keys create", &cfg)
	app := fs.String("app", "", "application id")
	role := fs.String("role", string(kycreview.RoleClient), "client or system")
	if err := parseFlags(fs, args, "app"); err != nil {
		return err
	}
	return withService(ctx, cfg, func(svc *service.Service) error {
		id, token, err := svc.CreateAPIKey(ctx, *app, kycreview.Role(*role))
		if err != nil {
			return err
		}
		return printJSON(stdout, map[string]any{"key_id": id, "api_key": token, "role": *role})
	})
}

func keysRevoke(ctx context.Context, cfg config, args []string, stdout io.Writer) error {
	fs := newFlags("keys revoke", &cfg)
	key := fs.String("key", "", "key id")
	if err := parseFlags(fs, args, "key"); err != nil {
		return err
	}
	return withService(ctx, cfg, func(svc *service.Service) error {
		if err := svc.RevokeAPIKey(ctx, *key); err != nil {
			return err
		}
		return printJSON(stdout, map[string]any{"key_id": *key, "revoked": true})
	})
}
