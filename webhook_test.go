package kycreview

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func ptr[T any](v T) *T { return &v }

func TestValidateDestinationURL(t *testing.T) {
	const (
		invalid = "Enter a valid URL."
		https   = "Enter a URL that uses https."
		creds   = "Enter a URL without a username or password."
	)
	tests := []struct {
		url       string
		allowHTTP bool
		want      string
	}{
		{"https://example.com", false, ""},
		{"https://example.com/", false, ""},
		{"https://hooks.example.com/didit?x=1&y=%20#frag", false, ""},
		{"HTTPS://EXAMPLE.COM/Path", false, ""},
		{"https://example.com.", false, ""},
		{"https://example.com:8443/hook", false, ""},
		{"https://example.com:1/", false, ""},
		{"https://example.com:65535/", false, ""},
		{"https://xn--bcher-kva.example/", false, ""},
		{"https://a-b.c-d.example.co.uk/", false, ""},
		{"https://93.184.216.34/", false, ""},
		{"https://0.0.0.0/", false, ""}, // valid syntax; the SSRF guard refuses it
		{"https://255.255.255.255/", false, ""},
		{"https://[2001:db8::1]/", false, ""},
		{"https://[2001:DB8::1]:443/", false, ""},
		{"https://[::ffff:127.0.0.1]/", false, ""},
		{"https://localhost/", false, ""},
		{"https://LOCALHOST:8080/", false, ""},
		{"https://example.com/päth/😀", false, ""},

		{"http://example.com/", false, https},
		{"http://example.com/", true, ""},
		{"http://127.0.0.1:8080/hook", true, ""},
		{"HTTP://example.com/", false, https},

		{"https://user:pass@example.com/", false, creds},
		{"https://user@example.com/", false, creds},
		{"https://@example.com/", false, creds},
		{"http://user:pass@example.com/", false, creds}, // credentials reported before the scheme

		{"", false, invalid},
		{"example.com", false, invalid},
		{"//example.com/", false, invalid},
		{"ftp://example.com/", false, invalid},
		{"javascript:alert(1)", false, invalid},
		{"https:example.com", false, invalid},
		{"https:///path", false, invalid},
		{"https://", false, invalid},
		{"https://exa mple.com/", false, invalid},
		{"https://example.com/a b", false, invalid},
		{"https://example.com/\u3000", false, invalid},
		{"https://example.com/%zz", false, invalid},
		{"https://example.com/\x7f", false, invalid},
		{"https://example.com/\x00", false, invalid},
		{"https://%65xample.com/", false, invalid},
		{"https://exa_mple.com/", false, invalid},
		{"https://receiver/", false, invalid}, // single label: Django wants a TLD
		{"https://example.c0m/", false, invalid},
		{"https://example.c/", false, invalid},
		{"https://-example.com/", false, invalid},
		{"https://example-.com/", false, invalid},
		{"https://example..com/", false, invalid},
		{"https://.example.com/", false, invalid},
		{"https://example.com../", false, invalid},
		{"https://" + strings.Repeat("a", 64) + ".com/", false, invalid},
		{"https://" + strings.Repeat("a.", 126) + "com/", false, invalid}, // 255 > 253
		{"https://bücher.example/", false, invalid},                       // punycode it
		{"https://localhost./", false, invalid},
		{"https://2130706433/", false, invalid},
		{"https://0x7f.1/", false, invalid},
		{"https://0177.0.0.1/", false, invalid},
		{"https://127.1/", false, invalid},
		{"https://256.1.1.1/", false, invalid},
		{"https://1.2.3.4.5/", false, invalid},
		{"https://[::1/", false, invalid},
		{"https://[fe80::1%25eth0]/", false, invalid},
		{"https://[127.0.0.1]/", false, invalid},
		{"https://[example.com]/", false, invalid},
		{"https://example.com:/", false, invalid},
		{"https://example.com:0/", false, invalid},
		{"https://example.com:65536/", false, invalid},
		{"https://example.com:008080/", false, invalid},
		{"https://example.com:+80/", false, invalid},
		{"https://example.com:80:90/", false, invalid},
		{"https://example.com:http/", false, invalid},
		{"https://user:pa ss@example.com/", false, invalid},
	}
	for _, tt := range tests {
		if got := ValidateDestinationURL(tt.url, tt.allowHTTP); got != tt.want {
			t.Errorf("ValidateDestinationURL(%q, %v) = %q, want %q", tt.url, tt.allowHTTP, got, tt.want)
		}
	}
}

func TestDestinationInputValidate(t *testing.T) {
	long := "https://example.com/" + strings.Repeat("a", 181) // 201 characters
	tests := []struct {
		name      string
		in        DestinationInput
		create    bool
		allowHTTP bool
		want      DestinationInput
		wantErr   map[string][]string
	}{
		{
			name:   "minimal create",
			in:     DestinationInput{Label: ptr("Prod"), URL: ptr("https://example.com/hook")},
			create: true,
			want:   DestinationInput{Label: ptr("Prod"), URL: ptr("https://example.com/hook")},
		},
		{
			name: "full create, trimmed and deduplicated",
			in: DestinationInput{
				Label: ptr(" \u3000Prod\x1f "), URL: ptr("\t https://example.com/hook \n"),
				Enabled: ptr(false), WebhookVersion: ptr("v3"),
				SubscribedEvents: ptr([]string{"status.updated", "data.updated", "status.updated"}),
			},
			create: true,
			want: DestinationInput{
				Label: ptr("Prod"), URL: ptr("https://example.com/hook"),
				Enabled: ptr(false), WebhookVersion: ptr("v3"),
				SubscribedEvents: ptr([]string{"status.updated", "data.updated"}),
			},
		},
		{
			name:    "create without label or url",
			in:      DestinationInput{},
			create:  true,
			wantErr: map[string][]string{"label": {"This field is required."}, "url": {"This field is required."}},
		},
		{
			name:   "empty patch",
			in:     DestinationInput{},
			create: false,
			want:   DestinationInput{},
		},
		{
			name:    "blank label and url",
			in:      DestinationInput{Label: ptr(" \t"), URL: ptr("")},
			wantErr: map[string][]string{"label": {"This field may not be blank."}, "url": {"This field may not be blank."}},
		},
		{
			name:    "label too long",
			in:      DestinationInput{Label: ptr(strings.Repeat("é", 256))},
			wantErr: map[string][]string{"label": {"Ensure this field has no more than 255 characters."}},
		},
		{
			name: "label at the limit, counted in code points",
			in:   DestinationInput{Label: ptr(strings.Repeat("😀", 255))},
			want: DestinationInput{Label: ptr(strings.Repeat("😀", 255))},
		},
		{
			name:    "label with NUL",
			in:      DestinationInput{Label: ptr("a\x00b")},
			wantErr: map[string][]string{"label": {"Null characters are not allowed."}},
		},
		{
			name: "url at the limit",
			in:   DestinationInput{URL: ptr(long[:200])},
			want: DestinationInput{URL: ptr(long[:200])},
		},
		{
			name:    "url too long",
			in:      DestinationInput{URL: ptr(long)},
			wantErr: map[string][]string{"url": {"Ensure this field has no more than 200 characters."}},
		},
		{
			name: "url too long and not https: every validator speaks",
			in:   DestinationInput{URL: ptr("http://example.com/" + strings.Repeat("a", 182))},
			wantErr: map[string][]string{"url": {
				"Ensure this field has no more than 200 characters.", "Enter a URL that uses https."}},
		},
		{
			name: "url with NUL",
			in:   DestinationInput{URL: ptr("https://example.com/\x00")},
			wantErr: map[string][]string{"url": {
				"Null characters are not allowed.", "Enter a valid URL."}},
		},
		{
			name:    "invalid url",
			in:      DestinationInput{URL: ptr("not a url")},
			wantErr: map[string][]string{"url": {"Enter a valid URL."}},
		},
		{
			name:    "http refused",
			in:      DestinationInput{URL: ptr("http://example.com/")},
			wantErr: map[string][]string{"url": {"Enter a URL that uses https."}},
		},
		{
			name:      "http allowed",
			in:        DestinationInput{URL: ptr("http://example.com/")},
			allowHTTP: true,
			want:      DestinationInput{URL: ptr("http://example.com/")},
		},
		{
			name:    "credentials",
			in:      DestinationInput{URL: ptr("https://u:p@example.com/")},
			wantErr: map[string][]string{"url": {"Enter a URL without a username or password."}},
		},
		{
			name:    "explicit empty event list",
			in:      DestinationInput{SubscribedEvents: ptr([]string{})},
			wantErr: map[string][]string{"subscribed_events": {"At least one subscribed event is required."}},
		},
		{
			name:    "unknown events, each named once, in order",
			in:      DestinationInput{SubscribedEvents: ptr([]string{"foo.bar", "status.updated", "*", "foo.bar", "Status.Updated"})},
			wantErr: map[string][]string{"subscribed_events": {"Unsupported webhook events: foo.bar, *, Status.Updated"}},
		},
		{
			name:    "no wildcard",
			in:      DestinationInput{SubscribedEvents: ptr([]string{"status.*"})},
			wantErr: map[string][]string{"subscribed_events": {"Unsupported webhook events: status.*"}},
		},
		{
			name:    "names are exact, not trimmed",
			in:      DestinationInput{SubscribedEvents: ptr([]string{" status.updated"})},
			wantErr: map[string][]string{"subscribed_events": {"Unsupported webhook events:  status.updated"}},
		},
		{
			name: "every Didit event accepted",
			in:   DestinationInput{SubscribedEvents: ptr(WebhookEvents())},
			want: DestinationInput{SubscribedEvents: ptr(WebhookEvents())},
		},
		{
			name:    "webhook version other than v3",
			in:      DestinationInput{WebhookVersion: ptr("v2")},
			wantErr: map[string][]string{"webhook_version": {`"v2" is not a valid choice.`}},
		},
		{
			name:    "choice messages quote the input unescaped",
			in:      DestinationInput{WebhookVersion: ptr(`v"3 é`)},
			wantErr: map[string][]string{"webhook_version": {`"v"3 é" is not a valid choice.`}},
		},
		{
			name: "every field wrong at once",
			in: DestinationInput{Label: ptr(""), URL: ptr("ftp://x"), WebhookVersion: ptr(""),
				SubscribedEvents: ptr([]string{})},
			create: true,
			wantErr: map[string][]string{
				"label":             {"This field may not be blank."},
				"url":               {"Enter a valid URL."},
				"webhook_version":   {`"" is not a valid choice.`},
				"subscribed_events": {"At least one subscribed event is required."},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.in.Validate(tt.create, tt.allowHTTP)
			if tt.wantErr != nil {
				if ErrorCode(err) != EINVALID {
					t.Fatalf("Validate() error = %v, want EINVALID", err)
				}
				if diff := cmp.Diff(tt.wantErr, err.(*Error).Fields); diff != "" {
					t.Errorf("fields (-want +got):\n%s", diff)
				}
				return
			}
			if err != nil {
				t.Fatalf("Validate() error = %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Validate() (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNewDestinationAndUpdate(t *testing.T) {
	t0 := time.Date(2026, 5, 17, 10, 0, 0, 0, time.UTC)
	t1 := t0.Add(time.Hour)
	d := NewDestination("dest-1", "app-1", "secret", DestinationInput{
		Label: ptr("Prod"), URL: ptr("https://example.com/a"),
	}, t0)
	want := Destination{
		ID: "dest-1", ApplicationID: "app-1", Label: "Prod", URL: "https://example.com/a",
		WebhookVersion: "v3", Enabled: true, SubscribedEvents: []string{}, Secret: "secret",
		CreatedAt: t0, UpdatedAt: t0,
	}
	if diff := cmp.Diff(want, d); diff != "" {
		t.Fatalf("NewDestination (-want +got):\n%s", diff)
	}
	if !d.Active() || d.Subscribes(EventStatusUpdated) {
		t.Errorf("new destination: Active=%v Subscribes=%v, want true false", d.Active(), d.Subscribes(EventStatusUpdated))
	}

	events := []string{"status.updated"}
	d2 := d.Update(DestinationInput{SubscribedEvents: &events}, t1)
	events[0] = "changed by the caller"
	if !d2.Subscribes(EventStatusUpdated) || d2.UpdatedAt != t1 || d2.CreatedAt != t0 || d2.Secret != "secret" {
		t.Errorf("Update: %+v", d2)
	}

	// Failing, then disabled by the dispatcher.
	failing := d2
	failing.FailingSince = ptr(t0)
	disabled := failing
	disabled.DisabledAt = ptr(t1)
	if disabled.Active() {
		t.Error("a disabled destination is active")
	}

	tests := []struct {
		name             string
		from             Destination
		in               DestinationInput
		wantFailingSince bool
		wantDisabled     bool
		wantEnabled      bool
	}{
		{"relabel keeps the streak", failing, DestinationInput{Label: ptr("x")}, true, false, true},
		{"same url keeps the streak", failing, DestinationInput{URL: ptr(failing.URL)}, true, false, true},
		{"new url forgets the streak", failing, DestinationInput{URL: ptr("https://example.com/b")}, false, false, true},
		{"new url does not re-enable", disabled, DestinationInput{URL: ptr("https://example.com/b")}, false, true, true},
		{"enabled:true re-enables", disabled, DestinationInput{Enabled: ptr(true)}, false, false, true},
		{"enabled:true on a healthy-enough destination keeps the streak", failing, DestinationInput{Enabled: ptr(true)}, true, false, true},
		{"enabled:false", failing, DestinationInput{Enabled: ptr(false)}, true, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.from.Update(tt.in, t1)
			if (got.FailingSince != nil) != tt.wantFailingSince || (got.DisabledAt != nil) != tt.wantDisabled || got.Enabled != tt.wantEnabled {
				t.Errorf("FailingSince=%v DisabledAt=%v Enabled=%v, want failing %v disabled %v enabled %v",
					got.FailingSince, got.DisabledAt, got.Enabled, tt.wantFailingSince, tt.wantDisabled, tt.wantEnabled)
			}
		})
	}

	off := d2.Update(DestinationInput{Enabled: ptr(false)}, t1)
	if off.Active() {
		t.Error("a destination switched off is active")
	}
	deleted := d2
	deleted.DeletedAt = ptr(t1)
	if deleted.Active() {
		t.Error("a deleted destination is active")
	}
}

func TestNewDestinationSecret(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		s := NewDestinationSecret()
		if len(s) != DestinationSecretLength {
			t.Fatalf("len(%q) = %d, want %d", s, len(s), DestinationSecretLength)
		}
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil || len(b) != 32 {
			t.Fatalf("%q is not 32 bytes of unpadded URL-safe base64: %v", s, err)
		}
		if seen[s] {
			t.Fatalf("secret %q repeated", s)
		}
		seen[s] = true
	}
}

func TestWebhookEvents(t *testing.T) {
	events := WebhookEvents()
	if events[0] != EventStatusUpdated {
		t.Errorf("WebhookEvents()[0] = %q", events[0])
	}
	events[0] = "mutated"
	if !ValidWebhookEvent(EventStatusUpdated) || ValidWebhookEvent("mutated") {
		t.Error("WebhookEvents returned shared state")
	}
	for _, bad := range []string{"", "status", "status.updated ", "STATUS.UPDATED", "*"} {
		if ValidWebhookEvent(bad) {
			t.Errorf("ValidWebhookEvent(%q) = true", bad)
		}
	}
}

func TestErrDestinationURLTaken(t *testing.T) {
	a, b := ErrDestinationURLTaken(), ErrDestinationURLTaken()
	a.Fields["url"][0] = "mutated"
	want := map[string][]string{"url": {"This webhook destination already exists for the application."}}
	if diff := cmp.Diff(want, b.Fields); diff != "" || b.Code != EINVALID {
		t.Errorf("ErrDestinationURLTaken() = %v (-want +got):\n%s", b, diff)
	}
}
