package main

import (
	"context"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/kycreview/kycreview"
	"github.com/kycreview/kycreview/internal/service"
	"github.com/kycreview/kycreview/internal/sqlite"
)

// Ids are version 7 UUIDs (service.newID).
var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestAdminCommands(t *testing.T) {
	path := filepath.Join(t.TempDir(), "admin.db")
	// The database comes from the environment here, from --db below.
	env := map[string]string{"KYCREVIEW_DB": "sqlite:" + path}

	if out := mustJSON(t, env, "migrate"); out["migrated"] != true {
		t.Errorf("migrate printed %v", out)
	}
	app := mustJSON(t, env, "apps", "create", "--name", "Acme Bank")
	appID, _ := app["application_id"].(string)
	token, _ := app["api_key"].(string)
	wf, _ := app["workflows"].(map[string]any)
	if !uuidRE.MatchString(appID) || !strings.HasPrefix(token, "kyc_") || wf == nil ||
		!uuidRE.MatchString(wf["user"].(string)) || !uuidRE.MatchString(wf["business"].(string)) || wf["user"] == wf["business"] {
		t.Fatalf("apps create printed %v", app)
	}

	sys := mustJSON(t, env, "keys", "create", "--app", appID, "--role", "system")
	if !uuidRE.MatchString(sys["key_id"].(string)) || !strings.HasPrefix(sys["api_key"].(string), "kyc_") || sys["api_key"] == token {
		t.Errorf("keys create printed %v", sys)
	}
	user := mustJSON(t, env, "users", "create", "--app", appID, "--email", "Ana@Example.com", "--name", "Ana Lead")
	if !uuidRE.MatchString(user["user_id"].(string)) || user["email"] != "Ana@Example.com" {
		t.Errorf("users create printed %v", user)
	}
	if out := mustJSON(t, env, "keys", "revoke", "--key", sys["key_id"].(string)); out["revoked"] != true {
		t.Errorf("keys revoke printed %v", out)
	}

	// What the commands wrote is what the service sees.
	ctx := context.Background()
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	svc := service.New(db, nil)
	if k, err := svc.Authenticate(ctx, token); err != nil || k.ApplicationID != appID || k.Role != kycreview.RoleClient {
		t.Errorf("the application's key: %+v, %v", k, err)
	}
	if _, err := svc.Authenticate(ctx, sys["api_key"].(string)); kycreview.ErrorCode(err) != kycreview.EFORBIDDEN {
		t.Errorf("the revoked key still authenticates: %v", err)
	}
}

func TestCommandErrors(t *testing.T) {
	dir := t.TempDir()
	db := "sqlite:" + filepath.Join(dir, "errors.db")
	app := mustJSON(t, nil, "apps", "create", "--name", "Acme", "--db", db)
	appID := app["application_id"].(string)
	mustJSON(t, nil, "users", "create", "--app", appID, "--email", "ana@example.com", "--name", "Ana", "--db", db)

	tests := []struct {
		name     string
		args     []string
		wantText string
		wantExit int
	}{
		{"no command", nil, "no command", 2},
		{"unknown command", []string{"frobnicate"}, `unknown command "frobnicate"`, 2},
		{"command and subcommand in one argument", []string{"apps create", "--name", "x", "--db", db}, `unknown command "apps create"`, 2},
		{"group without subcommand", []string{"apps"}, "apps needs a subcommand", 2},
		{"missing name", []string{"apps", "create", "--db", db}, "--name is required", 2},
		{"blank name", []string{"apps", "create", "--name", "  ", "--db", db}, "--name is required", 2},
		{"unknown flag", []string{"apps", "create", "--name", "x", "--colour", "red", "--db", db}, "flag provided but not defined: -colour", 2},
		{"positional argument", []string{"migrate", "extra", "--db", db}, `unexpected argument "extra"`, 2},
		{"bad role", []string{"keys", "create", "--app", appID, "--role", "admin", "--db", db}, `role must be client or system, not "admin"`, 1},
		{"unknown application", []string{"keys", "create", "--app", "00000000-0000-4000-8000-000000000000", "--db", db}, "application not found", 1},
		{"unknown key", []string{"keys", "revoke", "--key", "00000000-0000-4000-8000-000000000000", "--db", db}, "not found", 1},
		{"duplicate user in another case", []string{"users", "create", "--app", appID, "--email", "ANA@example.com", "--name", "Ana", "--db", db}, "already exists", 1},
		{"invalid email", []string{"users", "create", "--app", appID, "--email", "ana at example", "--name", "Ana", "--db", db}, "not a valid email address", 1},
		{"email without a dot", []string{"users", "create", "--app", appID, "--email", "ana@localhost", "--name", "Ana", "--db", db}, "not a valid email address", 1},
		{"NUL in a name", []string{"apps", "create", "--name", "Ac\x00me", "--db", db}, "Null characters are not allowed.", 1},
		{"name too long", []string{"users", "create", "--app", appID, "--email", "zed@example.com", "--name", strings.Repeat("z", 201), "--db", db}, "no more than 200 characters", 1},
		{"unsupported database URL", []string{"migrate", "--db", "mysql://u:secret@host/db"}, "mysql://u:xxxxx@host/db", 2},
		{"empty sqlite path", []string{"migrate", "--db", "sqlite:"}, "needs a file path", 2},
		{"bad public URL", []string{"serve", "--public-url", "ftp://x", "--db", db}, "must be an absolute http(s) URL", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := cli(t, nil, tt.args...)
			if err == nil {
				t.Fatalf("kycreview %v succeeded: %q", tt.args, out)
			}
			if !strings.Contains(errorText(err), tt.wantText) {
				t.Errorf("error %q does not mention %q", errorText(err), tt.wantText)
			}
			if strings.Contains(errorText(err), "secret") {
				t.Errorf("error shows a password: %q", errorText(err))
			}
			if got := exitCode(err); got != tt.wantExit {
				t.Errorf("exit code %d, want %d", got, tt.wantExit)
			}
			if tt.wantExit == 1 && out != "" {
				t.Errorf("a failed command printed %q on stdout", out)
			}
		})
	}
}
