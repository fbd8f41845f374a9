package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kycreview/kycreview"
	"github.com/kycreview/kycreview/internal/service"
	"github.com/kycreview/kycreview/internal/sqlite"
)

// webhookFixture is an application with two destinations, one of them
// owed two deliveries, written through the service as the API would.
type webhookFixture struct {
	db, appID, otherAppID string
	dest, quiet, theirs   string // destination ids: subscribed, not subscribed, the other application's
	deliveries            []string
}

func newWebhookFixture(t *testing.T) webhookFixture {
	t.Helper()
	path := filepath.Join(t.TempDir(), "webhooks.db")
	fx := webhookFixture{db: "sqlite:" + path}
	app := mustJSON(t, nil, "apps", "create", "--name", "Acme", "--db", fx.db)
	other := mustJSON(t, nil, "apps", "create", "--name", "Other", "--db", fx.db)
	fx.appID, fx.otherAppID = app["application_id"].(string), other["application_id"].(string)

	ctx := context.Background()
	store, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	svc := service.New(store, nil)
	key, err := svc.Authenticate(ctx, app["api_key"].(string))
	if err != nil {
		t.Fatal(err)
	}
	otherKey, err := svc.Authenticate(ctx, other["api_key"].(string))
	if err != nil {
		t.Fatal(err)
	}
	create := func(key kycreview.APIKey, url string, events ...string) string {
		t.Helper()
		d, err := svc.CreateDestination(ctx, key, kycreview.DestinationInput{Label: ptr("D"), URL: ptr(url), SubscribedEvents: &events})
		if err != nil {
			t.Fatalf("create destination: %v", err)
		}
		return d.ID
	}
	fx.dest = create(key, "https://hooks.example.com/a", kycreview.EventStatusUpdated)
	fx.quiet = create(key, "https://hooks.example.com/b", "data.updated")
	fx.theirs = create(otherKey, "https://hooks.example.com/a", kycreview.EventStatusUpdated)

	sess, err := svc.CreateSession(ctx, key, service.SessionInput{WorkflowID: app["workflows"].(map[string]any)["user"].(string)})
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range []kycreview.Status{kycreview.StatusInReview, kycreview.StatusApproved} {
		if _, err := svc.Review(ctx, key, sess.ID, kycreview.Change{NewStatus: ptr(st)}, nil); err != nil {
			t.Fatalf("review: %v", err)
		}
	}
	rows, _, err := svc.Deliveries(ctx, key, fx.dest, 10, 0)
	if err != nil || len(rows) != 2 {
		t.Fatalf("deliveries: %v, %v", rows, err)
	}
	for _, d := range rows {
		fx.deliveries = append(fx.deliveries, d.ID)
	}
	return fx
}

func ptr[T any](v T) *T { return &v }

// decodeInto re-decodes a command's output into a typed value.
func decodeInto(t *testing.T, v map[string]any, out any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
}

func TestWebhookCommands(t *testing.T) {
	fx := newWebhookFixture(t)

	var list struct {
		ApplicationID string                      `json:"application_id"`
		Count         int                         `json:"count"`
		Destinations  []kycreview.DestinationView `json:"destinations"`
	}
	out := mustJSON(t, nil, "webhooks", "destinations", "--app", strings.ToUpper(fx.appID), "--db", fx.db)
	decodeInto(t, out, &list)
	if list.ApplicationID != fx.appID || list.Count != 2 || len(list.Destinations) != 2 ||
		list.Destinations[0].UUID != fx.dest || list.Destinations[1].UUID != fx.quiet {
		t.Errorf("webhooks destinations printed %v", out)
	}
	for _, d := range list.Destinations {
		if d.SecretSharedKey != nil || !d.Enabled || d.SubscribedEventsCount == nil || *d.SubscribedEventsCount != 1 {
			t.Errorf("destination row %+v", d)
		}
	}

	type logOut struct {
		DestinationID string                   `json:"destination_id"`
		Count         int                      `json:"count"`
		Limit         int                      `json:"limit"`
		Offset        int                      `json:"offset"`
		Deliveries    []kycreview.DeliveryView `json:"deliveries"`
	}
	var log logOut
	out = mustJSON(t, nil, "webhooks", "deliveries", "--app", fx.appID, "--destination", fx.dest, "--db", fx.db)
	decodeInto(t, out, &log)
	if log.Count != 2 || log.Limit != 50 || len(log.Deliveries) != 2 || log.Deliveries[0].UUID != fx.deliveries[0] {
		t.Errorf("webhooks deliveries printed %v", out)
	}
	for _, d := range log.Deliveries {
		if d.State != kycreview.DeliveryPending || d.Attempts != 0 || d.AttemptsLog == nil || d.EventType != kycreview.EventStatusUpdated {
			t.Errorf("delivery %+v", d)
		}
	}
	log = logOut{}
	out = mustJSON(t, nil, "webhooks", "deliveries", "--app", fx.appID, "--destination", fx.dest, "--limit", "1", "--offset", "1", "--db", fx.db)
	decodeInto(t, out, &log)
	if log.Count != 2 || log.Limit != 1 || log.Offset != 1 || len(log.Deliveries) != 1 || log.Deliveries[0].UUID != fx.deliveries[1] {
		t.Errorf("webhooks deliveries --limit 1 --offset 1 printed %v", out)
	}
	log = logOut{}
	decodeInto(t, mustJSON(t, nil, "webhooks", "deliveries", "--app", fx.appID, "--destination", fx.quiet, "--db", fx.db), &log)
	if log.Count != 0 || log.Deliveries == nil || len(log.Deliveries) != 0 {
		t.Errorf("an unsubscribed destination's log: %+v", log)
	}

	var resent struct {
		Resent   bool                   `json:"resent"`
		Delivery kycreview.DeliveryView `json:"delivery"`
	}
	out = mustJSON(t, nil, "webhooks", "resend", "--app", fx.appID, "--destination", fx.dest, "--delivery", fx.deliveries[1], "--db", fx.db)
	decodeInto(t, out, &resent)
	if !resent.Resent || resent.Delivery.UUID != fx.deliveries[1] || resent.Delivery.State != kycreview.DeliveryPending || resent.Delivery.NextAttemptAt == nil {
		t.Errorf("webhooks resend printed %v", out)
	}
}

func TestWebhookCommandErrors(t *testing.T) {
	fx := newWebhookFixture(t)
	const unknown = "00000000-0000-4000-8000-000000000000"
	db := []string{"--db", fx.db}
	tests := []struct {
		name     string
		args     []string
		wantText string
		wantExit int
	}{
		{"group without subcommand", []string{"webhooks"}, "webhooks needs a subcommand", 2},
		{"unknown subcommand", []string{"webhooks", "list"}, `unknown command "webhooks list"`, 2},
		{"missing app", []string{"webhooks", "destinations"}, "--app is required", 2},
		{"missing destination", []string{"webhooks", "deliveries", "--app", fx.appID}, "--destination is required", 2},
		{"missing delivery", []string{"webhooks", "resend", "--app", fx.appID, "--destination", fx.dest}, "--delivery is required", 2},
		{"limit zero", []string{"webhooks", "deliveries", "--app", fx.appID, "--destination", fx.dest, "--limit", "0"}, "--limit must be between 1 and 1000", 2},
		{"limit too large", []string{"webhooks", "deliveries", "--app", fx.appID, "--destination", fx.dest, "--limit", "1001"}, "--limit must be between 1 and 1000", 2},
		{"limit not a number", []string{"webhooks", "deliveries", "--app", fx.appID, "--destination", fx.dest, "--limit", "ten"}, "invalid value", 2},
		{"negative offset", []string{"webhooks", "deliveries", "--app", fx.appID, "--destination", fx.dest, "--offset", "-1"}, "--offset must not be negative", 2},
		{"unknown application", []string{"webhooks", "destinations", "--app", unknown}, "application not found", 1},
		{"malformed application", []string{"webhooks", "destinations", "--app", "acme"}, "application not found", 1},
		{"unknown destination", []string{"webhooks", "deliveries", "--app", fx.appID, "--destination", unknown}, "Webhook destination not found.", 1},
		{"malformed destination", []string{"webhooks", "deliveries", "--app", fx.appID, "--destination", "x"}, "Webhook destination not found.", 1},
		{"another application's destination", []string{"webhooks", "deliveries", "--app", fx.appID, "--destination", fx.theirs}, "Webhook destination not found.", 1},
		{"delivery through the wrong application", []string{"webhooks", "resend", "--app", fx.otherAppID, "--destination", fx.dest, "--delivery", fx.deliveries[0]},
			"Webhook destination not found.", 1},
		{"delivery of another destination", []string{"webhooks", "resend", "--app", fx.appID, "--destination", fx.quiet, "--delivery", fx.deliveries[0]},
			"Webhook delivery not found.", 1},
		{"unknown delivery", []string{"webhooks", "resend", "--app", fx.appID, "--destination", fx.dest, "--delivery", unknown}, "Webhook delivery not found.", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := tt.args
			if len(args) > 1 {
				args = append(append([]string{}, args...), db...)
			}
			out, err := cli(t, nil, args...)
			if err == nil {
				t.Fatalf("kycreview %v succeeded: %q", args, out)
			}
			if !strings.Contains(errorText(err), tt.wantText) {
				t.Errorf("error %q does not mention %q", errorText(err), tt.wantText)
			}
			if got := exitCode(err); got != tt.wantExit {
				t.Errorf("exit code %d, want %d", got, tt.wantExit)
			}
			if out != "" {
				t.Errorf("a failed command printed %q on stdout", out)
			}
		})
	}
}
