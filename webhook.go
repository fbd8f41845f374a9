package kycreview

import (
	"crypto/rand"
	"encoding/base64"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Limits and defaults of a webhook destination, as Didit's API has them.
const (
	// MaxDestinationLabelLength is the longest label, in code points.
	MaxDestinationLabelLength = 255
	// MaxDestinationURLLength is Django's URLField default, in code points.
	MaxDestinationURLLength = 200
	// DefaultWebhookVersion is the payload version every destination gets.
	// kycreview renders one payload format, Didit's current one, so it is
	// also the only version accepted: a client asking for v1 or v2 learns at
	// once that it will not get them, instead of receiving v3 bodies.
	DefaultWebhookVersion = "v3"
)

// Messages of the destination API that are Didit's own rather than DRF's.
const (
	msgEventsEmpty       = "At least one subscribed event is required."
	msgEventsUnsupported = "Unsupported webhook events: "
	msgURLInvalid        = "Enter a valid URL."
	msgURLHTTPS          = "Enter a URL that uses https."
	msgURLCredentials    = "Enter a URL without a username or password."
	msgDestinationExists = "This webhook destination already exists for the application."
)

// WebhookEvents lists the event names a destination may subscribe to, in
// Didit's documented order. kycreview emits only EventStatusUpdated; the
// others are accepted so that a subscription copied from Didit's examples
// (["status.updated", "data.updated"]) is not refused, and simply never
// matches. A name outside the list is refused: there is no wildcard.
func WebhookEvents() []string {
	return []string{
		EventStatusUpdated,
		"data.updated",
		"user.status.updated",
		"user.data.updated",
		"business.status.updated",
		"business.data.updated",
		"activity.created",
		"transaction.created",
		"transaction.status.updated",
		"travel_rule.status.updated",
	}
}

// ValidWebhookEvent reports whether name is one of WebhookEvents.
func ValidWebhookEvent(name string) bool {
	for _, e := range WebhookEvents() {
		if name == e {
			return true
		}
	}
	return false
}

// Destination is an endpoint of an application's that receives its webhook
// events.
type Destination struct {
	// PK is the storage row id, never shown outside; ID is the public UUID.
	PK             int64
	ID             string
	ApplicationID  string
	Label          string
	URL            string
	WebhookVersion string
	// Enabled is the customer's switch.
	Enabled bool
	// SubscribedEvents are exact event names; an empty list (the field
	// omitted at creation, as Didit allows) receives nothing.
	SubscribedEvents []string
	// Secret is the secret_shared_key: its UTF-8 bytes are the HMAC key of
	// every signature.
	Secret    string
	CreatedAt time.Time
	UpdatedAt time.Time
	// DeletedAt marks a soft-deleted destination: it receives nothing, is
	// not found by the API, and its delivery log is kept for audit.
	DeletedAt *time.Time
	// FailingSince is the time of the first failed attempt since the last
	// successful one (or since the destination was created, enabled again or
	// moved to another URL); nil while deliveries succeed.
	FailingSince *time.Time
	// DisabledAt is set when the dispatcher turned the destination off for
	// failing too long. The API shows such a destination as enabled=false;
	// enabling it again clears this and FailingSince.
	DisabledAt *time.Time
}

// Active reports whether events are delivered to d.
func (d Destination) Active() bool {
	return d.Enabled && d.DisabledAt == nil && d.DeletedAt == nil
}

// Subscribes reports whether d wants events named event.
func (d Destination) Subscribes(event string) bool {
	for _, e := range d.SubscribedEvents {
		if e == event {
			return true
		}
	}
	return false
}

// DestinationInput is a create or update request for a destination, after
// JSON decoding: a nil field was not sent. Type errors ("Not a valid
// string.") and nulls are the HTTP layer's to report; the values' rules are
// Validate's.
type DestinationInput struct {
	Label          *string
	URL            *string
	Enabled        *bool
	WebhookVersion *string
	// SubscribedEvents is nil when the field was omitted, which is not the
	// same as an explicit empty list (refused).
	SubscribedEvents *[]string
}

// Validate checks in as a create (label and url required) or a partial
// update, and returns it normalised: strings trimmed as DRF trims them, and
// repeated event names dropped. The error is an EINVALID *Error with DRF
// field messages. allowHTTP lets http:// URLs through; without it only
// https is accepted. Whether the URL's host may be reached (the SSRF guard)
// is not checked here: that needs the network.
func (in DestinationInput) Validate(create, allowHTTP bool) (DestinationInput, error) {
	errs := map[string][]string{}
	out := in
	out.Label, _ = validateChar(errs, "label", in.Label, create, MaxDestinationLabelLength)
	u, ok := validateChar(errs, "url", in.URL, create, MaxDestinationURLLength)
	out.URL = nil
	if u != nil {
		// DRF runs every validator of a field, so an over-long URL that is
		// also malformed gets both messages.
		if msg := ValidateDestinationURL(*u, allowHTTP); msg != "" {
			errs["url"] = append(errs["url"], msg)
		} else if ok {
			out.URL = u
		}
	}
	if in.WebhookVersion != nil && *in.WebhookVersion != DefaultWebhookVersion {
		// DRF puts the input between quotes as it is, unescaped.
		errs["webhook_version"] = []string{`"` + *in.WebhookVersion + `" is not a valid choice.`}
	}
	if in.SubscribedEvents != nil {
		events, msg := validateEvents(*in.SubscribedEvents)
		if msg != "" {
			errs["subscribed_events"] = []string{msg}
		}
		out.SubscribedEvents = &events
	}
	if len(errs) > 0 {
		return DestinationInput{}, FieldErrors(errs)
	}
	return out, nil
}

// validateChar applies a DRF CharField's rules (required, trimmed, not
// blank, at most maxLen code points, no NUL) to *v, recording messages
// under name. It returns the trimmed value (nil if absent or blank) and
// whether it passed.
func validateChar(errs map[string][]string, name string, v *string, required bool, maxLen int) (*string, bool) {
	if v == nil {
		if required {
			errs[name] = []string{"This field is required."}
		}
		return nil, false
	}
	s := TrimSpace(*v)
	if s == "" {
		errs[name] = []string{"This field may not be blank."}
		return nil, false
	}
	if msgs := CharFieldErrors(s, maxLen); msgs != nil {
		errs[name] = msgs
		return &s, false
	}
	return &s, true
}

// validateEvents returns events without repeats and the message for a list
// that is empty or names unsupported events, or "".
func validateEvents(events []string) ([]string, string) {
	if len(events) == 0 {
		return []string{}, msgEventsEmpty
	}
	out := make([]string, 0, len(events))
	var bad []string
	for _, e := range events {
		if contains(out, e) || contains(bad, e) {
			continue
		}
		if ValidWebhookEvent(e) {
			out = append(out, e)
		} else {
			bad = append(bad, e)
		}
	}
	if bad != nil {
		return out, msgEventsUnsupported + strings.Join(bad, ", ")
	}
	return out, ""
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// ValidateDestinationURL returns the message for a trimmed destination URL
// that may not be used, or "". It follows Django's URLValidator, which is
// what Didit's URLField applies, narrowed to what a webhook can be sent to:
//
//   - the scheme is http or https (any case), and http only if allowHTTP;
//   - the host is an IPv4 address in dotted-decimal without leading zeros,
//     a bracketed IPv6 address without a zone, "localhost", or a DNS name of
//     two or more labels whose last is alphabetic (or punycode), so the
//     numeric tricks resolvers accept ("2130706433", "0x7f.1", "0177.0.0.1")
//     are not URLs at all;
//   - no username or password (Django allows them; they would be sent to the
//     receiver in the clear and logged with the URL);
//   - a port, if any, is 1–65535;
//   - no whitespace anywhere, and a path that Go can send (no bad % escapes).
//
// Unlike Django it refuses non-ASCII host names: give them in punycode.
func ValidateDestinationURL(s string, allowHTTP bool) string {
	if strings.IndexFunc(s, unicode.IsSpace) >= 0 {
		return msgURLInvalid
	}
	u, err := url.Parse(s)
	if err != nil || u.Opaque != "" || u.Host == "" {
		return msgURLInvalid
	}
	// url.Parse lower-cases the scheme, as Django's check does.
	if u.Scheme != "https" && u.Scheme != "http" {
		return msgURLInvalid
	}
	// url.Parse decodes %-escapes in the host; Django's pattern has none,
	// and the raw authority is what a reader of the URL sees.
	authority := s[strings.Index(s, "://")+3:]
	if i := strings.IndexAny(authority, "/?#"); i >= 0 {
		authority = authority[:i]
	}
	if strings.ContainsRune(authority, '%') {
		return msgURLInvalid
	}
	host, port := u.Host, ""
	if i := strings.LastIndexByte(host, ':'); i >= 0 && !strings.HasSuffix(host, "]") {
		host, port = host[:i], host[i+1:]
		if n, err := strconv.Atoi(port); err != nil || !allDigits(port) || len(port) > 5 || n < 1 || n > 65535 {
			return msgURLInvalid
		}
	}
	if !validURLHost(host) {
		return msgURLInvalid
	}
	if u.User != nil {
		return msgURLCredentials
	}
	if u.Scheme == "http" && !allowHTTP {
		return msgURLHTTPS
	}
	return ""
}

// validURLHost reports whether host (as it appears in a URL, brackets and
// all) is one Django's URLValidator accepts, less non-ASCII names.
func validURLHost(host string) bool {
	if strings.HasPrefix(host, "[") {
		if !strings.HasSuffix(host, "]") {
			return false
		}
		inner := host[1 : len(host)-1]
		// Django's pattern admits only hex digits, colons and dots inside
		// the brackets, so zones ("%25eth0") are out.
		if strings.Trim(inner, "0123456789abcdefABCDEF:.") != "" {
			return false
		}
		a, err := netip.ParseAddr(inner)
		return err == nil && a.Is6()
	}
	if isDottedQuad(host) {
		return true
	}
	name := strings.ToLower(host)
	if name == "localhost" {
		return true
	}
	name = strings.TrimSuffix(name, ".")
	if name == "" || len(name) > 253 {
		return false
	}
	labels := strings.Split(name, ".")
	if len(labels) < 2 {
		return false
	}
	for _, l := range labels {
		if len(l) == 0 || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
				return false
			}
		}
	}
	tld := labels[len(labels)-1]
	if strings.HasPrefix(tld, "xn--") {
		return len(tld) > 4
	}
	return len(tld) >= 2 && strings.Trim(tld, "abcdefghijklmnopqrstuvwxyz-") == ""
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// isDottedQuad reports whether s is four decimal octets of 0–255, with no
// leading zeros, as Django's ipv4_re has it.
func isDottedQuad(s string) bool {
	parts := strings.Split(s, ".")
	if len(parts) != 4 {
		return false
	}
	for _, p := range parts {
		if p == "" || len(p) > 3 || (len(p) > 1 && p[0] == '0') {
			return false
		}
		n := 0
		for i := 0; i < len(p); i++ {
			if p[i] < '0' || p[i] > '9' {
				return false
			}
			n = n*10 + int(p[i]-'0')
		}
		if n > 255 {
			return false
		}
	}
	return true
}

// NewDestination is the destination created from validated input in, with
// the given ids and secret, at time now: enabled unless in says otherwise,
// and subscribed to nothing if in names no events.
func NewDestination(id, applicationID, secret string, in DestinationInput, now time.Time) Destination {
	d := Destination{
		ID:               id,
		ApplicationID:    applicationID,
		WebhookVersion:   DefaultWebhookVersion,
		Enabled:          true,
		SubscribedEvents: []string{},
		Secret:           secret,
		CreatedAt:        now,
		UpdatedAt:        now,
	}
	return d.apply(in)
}

// Update returns d changed by validated partial input in at time now. The
// event list is replaced, never merged; the secret is never rotated. Moving
// the destination to another URL forgets its failure streak; enabling a
// destination that was off (by the customer or for failing) clears its
// disabled state and its streak, so it gets a fresh start.
func (d Destination) Update(in DestinationInput, now time.Time) Destination {
	if in.URL != nil && *in.URL != d.URL {
		d.FailingSince = nil
	}
	if in.Enabled != nil && *in.Enabled && (!d.Enabled || d.DisabledAt != nil) {
		d.DisabledAt = nil
		d.FailingSince = nil
	}
	d = d.apply(in)
	d.UpdatedAt = now
	return d
}

func (d Destination) apply(in DestinationInput) Destination {
	if in.Label != nil {
		d.Label = *in.Label
	}
	if in.URL != nil {
		d.URL = *in.URL
	}
	if in.Enabled != nil {
		d.Enabled = *in.Enabled
	}
	if in.WebhookVersion != nil {
		d.WebhookVersion = *in.WebhookVersion
	}
	if in.SubscribedEvents != nil {
		d.SubscribedEvents = append([]string{}, *in.SubscribedEvents...)
	}
	return d
}

// DestinationSecretLength is the length of a secret_shared_key.
const DestinationSecretLength = 43

// NewDestinationSecret returns a fresh secret_shared_key: 32 random bytes in
// unpadded URL-safe base64, 43 characters, like Didit's and like our API
// keys' secret part.
func NewDestinationSecret() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// ErrDestinationNotFound is returned for a destination that does not exist,
// belongs to another application or was deleted.
var ErrDestinationNotFound = &Error{Code: ENOTFOUND, Message: "Webhook destination not found."}

// ErrDestinationURLTaken is the validation error for a second live
// destination with the same URL in one application.
func ErrDestinationURLTaken() *Error {
	return FieldErrors(map[string][]string{"url": {msgDestinationExists}})
}
