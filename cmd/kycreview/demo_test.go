package main

import (
	"bytes"
	"context"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/kycreview/kycreview/internal/service"
	"github.com/kycreview/kycreview/internal/sqlite"
)

// TestDemoConsolePassword checks that --demo prints a console password that
// signs the demo reviewer in, and a fresh one on every start.
func TestDemoConsolePassword(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "demo.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	svc := service.New(db, time.Now)
	re := regexp.MustCompile(`/console/ +as (\S+), password (\S+)`)
	var passwords []string
	for i := 0; i < 2; i++ {
		var out bytes.Buffer
		if err := seedDemo(ctx, svc, "http://127.0.0.1:8080", &out); err != nil {
			t.Fatal(err)
		}
		m := re.FindStringSubmatch(out.String())
		if m == nil {
			t.Fatalf("start %d printed no console sign-in:\n%s", i+1, out.String())
		}
		if _, err := svc.SignIn(ctx, m[1], m[2]); err != nil {
			t.Errorf("start %d: the printed password does not sign %s in: %v", i+1, m[1], err)
		}
		passwords = append(passwords, m[2])
	}
	if passwords[0] == passwords[1] {
		t.Error("the second start printed the same password")
	}
	if _, err := svc.SignIn(ctx, demoReviewer, passwords[0]); err == nil {
		t.Error("the first start's password still signs in after the second start")
	}
}
