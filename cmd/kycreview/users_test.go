package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kycreview/kycreview/internal/service"
	"github.com/kycreview/kycreview/internal/sqlite"
)

// TestUserCommands: create (with a password from standard input, and
// without an application), list, disable, add and remove.
func TestUserCommands(t *testing.T) {
	path := filepath.Join(t.TempDir(), "users.db")
	db := "sqlite:" + path
	app := mustJSON(t, nil, "apps", "create", "--name", "Acme", "--db", db)
	appID := app["application_id"].(string)

	// --password-stdin: the test binary runs as the command, with a pipe.
	cmd := exec.Command(os.Args[0], "users", "create", "--email", "Ana@Example.com", "--name", "Ana Lead", "--app", appID,
		"--password-stdin", "--db", db)
	cmd.Env = append(os.Environ(), "KYCREVIEW_TEST_AS_MAIN=1")
	cmd.Stdin = strings.NewReader("correct horse battery\n")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("users create --password-stdin: %v", err)
	}
	if !strings.Contains(string(out), `"password_set":true`) || strings.Contains(string(out), "correct horse") {
		t.Errorf("users create printed %s", out)
	}
	bob := mustJSON(t, nil, "users", "create", "--email", "bob@example.com", "--name", "Bob", "--db", db)
	if bob["application_id"] != nil || bob["password_set"] != false || bob["disabled_at"] != nil {
		t.Errorf("users create without --app printed %v", bob)
	}
	bobID := bob["user_id"].(string)

	list := mustJSON(t, nil, "users", "list", "--db", db)
	if list["count"] != float64(2) {
		t.Errorf("users list printed %v", list)
	}
	if got := mustJSON(t, nil, "users", "list", "--app", appID, "--db", db); got["count"] != float64(1) {
		t.Errorf("users list --app printed %v", got)
	}

	if out := mustJSON(t, nil, "users", "add", "--app", appID, "--user", "BOB@example.com", "--db", db); out["member"] != true || out["user_id"] != bobID {
		t.Errorf("users add printed %v", out)
	}
	members := mustJSON(t, nil, "users", "list", "--app", appID, "--db", db)["users"].([]any)
	if len(members) != 2 || members[1].(map[string]any)["applications"].([]any)[0] != appID {
		t.Errorf("members after users add: %v", members)
	}
	if out := mustJSON(t, nil, "users", "remove", "--app", appID, "--user", bobID, "--db", db); out["member"] != false {
		t.Errorf("users remove printed %v", out)
	}
	dis := mustJSON(t, nil, "users", "disable", "--email", "ana@example.com", "--db", db)
	if dis["disabled_at"] == nil || dis["notifications_skipped"] != float64(0) {
		t.Errorf("users disable printed %v", dis)
	}

	// What the commands wrote is what the service sees: Ana's password
	// works until she is disabled.
	ctx := context.Background()
	store, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if _, err := service.New(store, nil).SignIn(ctx, "ana@example.com", "correct horse battery"); err != service.ErrBadCredentials {
		t.Errorf("a disabled user signed in: %v", err)
	}
	hash := ""
	_ = store.ReadTx(ctx, func(tx service.Tx) error {
		u, err := tx.FindConsoleUserByEmail(ctx, "ana@example.com")
		if err == nil {
			hash, err = tx.PasswordHash(ctx, u.ID)
		}
		return err
	})
	if ok, err := service.VerifyPassword(hash, "correct horse battery"); !ok || err != nil {
		t.Errorf("stored hash %q does not verify: %v", hash, err)
	}
}

func TestUserCommandErrors(t *testing.T) {
	db := "sqlite:" + filepath.Join(t.TempDir(), "errors.db")
	app := mustJSON(t, nil, "apps", "create", "--name", "Acme", "--db", db)
	appID := app["application_id"].(string)
	mustJSON(t, nil, "users", "create", "--app", appID, "--email", "ana@example.com", "--name", "Ana", "--db", db)
	tests := []struct {
		name     string
		args     []string
		wantText string
		wantExit int
	}{
		{"disable without a user", []string{"users", "disable", "--db", db}, "one of --user, --id or --email", 2},
		{"disable with two names", []string{"users", "disable", "--id", "x", "--email", "ana@example.com", "--db", db}, "one of --user, --id or --email", 2},
		{"disable an unknown user", []string{"users", "disable", "--email", "nobody@example.com", "--db", db}, "console user not found", 1},
		{"add without --app", []string{"users", "add", "--user", "ana@example.com", "--db", db}, "--app is required", 2},
		{"add to an unknown application", []string{"users", "add", "--app", "00000000-0000-4000-8000-000000000000", "--user", "ana@example.com", "--db", db}, "not found", 1},
		{"remove a non-member", []string{"users", "remove", "--app", mustJSON(t, nil, "apps", "create", "--name", "Other", "--db", db)["application_id"].(string), "--user", "ana@example.com", "--db", db}, "membership not found", 1},
		{"list an unknown application", []string{"users", "list", "--app", "00000000-0000-4000-8000-000000000000", "--db", db}, "not found", 1},
		{"bad SMTP TLS mode", []string{"serve", "--smtp-tls", "ssl", "--db", db}, "must be none, starttls or tls", 2},
		{"SMTP host without a sender", []string{"serve", "--smtp-host", "127.0.0.1", "--db", db}, "KYCREVIEW_SMTP_FROM", 2},
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
			if got := exitCode(err); got != tt.wantExit {
				t.Errorf("exit code %d, want %d", got, tt.wantExit)
			}
		})
	}
	if _, err := cli(t, map[string]string{"KYCREVIEW_SMTP_PORT": "smtp"}, "migrate", "--db", db); err == nil || !strings.Contains(err.Error(), "KYCREVIEW_SMTP_PORT") {
		t.Errorf("a bad KYCREVIEW_SMTP_PORT: %v", err)
	}
}
