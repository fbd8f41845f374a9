package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/kycreview/kycreview/internal/postgres"
	"github.com/kycreview/kycreview/internal/service"
	"github.com/kycreview/kycreview/internal/sqlite"
)

// openStore opens the database a --db URL names and applies its migrations.
func openStore(ctx context.Context, dbURL string) (service.Store, error) {
	switch {
	case strings.HasPrefix(dbURL, "sqlite:"):
		path := strings.TrimPrefix(strings.TrimPrefix(dbURL, "sqlite:"), "//")
		if path == "" {
			return nil, &usageError{"--db sqlite: needs a file path, e.g. sqlite:kycreview.db"}
		}
		return sqlite.Open(ctx, path)
	case strings.HasPrefix(dbURL, "postgres://"), strings.HasPrefix(dbURL, "postgresql://"):
		return postgres.Open(ctx, dbURL)
	default:
		return nil, &usageError{fmt.Sprintf("--db %q: expected sqlite:PATH or a postgres:// URL", redact(dbURL))}
	}
}

// redact hides a password in a database URL before it is printed.
func redact(dbURL string) string {
	scheme, rest, ok := strings.Cut(dbURL, "://")
	if !ok {
		return dbURL
	}
	creds, host, ok := strings.Cut(rest, "@")
	if !ok {
		return dbURL
	}
	if user, _, hasPass := strings.Cut(creds, ":"); hasPass {
		return scheme + "://" + user + ":xxxxx@" + host
	}
	return dbURL
}
