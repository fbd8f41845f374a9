package kycreview

import "time"

// DestinationView is a webhook destination as the API and the command line
// show it: Didit's fields, in Didit's order, then kycreview's read-only
// health fields.
//
// Didit's detail and create bodies carry secret_shared_key; its list rows do
// not (they carry subscribed_events_count instead), so SecretSharedKey and
// SubscribedEventsCount are each set for one of the two.
//
// The health fields are kycreview's own, because Didit has no automatic
// disabling to explain:
//   - enabled is false both when the customer paused the destination and when
//     the dispatcher disabled it for failing too long;
//   - disabled_reason says which: null while enabled, "paused" for the
//     customer's enabled=false, "failing" for the dispatcher's;
//   - disabled_at is when the dispatcher disabled it (null otherwise);
//   - failing_since is when its current run of failed attempts began (null
//     while deliveries succeed), so a customer sees trouble coming before
//     the destination is disabled.
//
// PATCH {"enabled": true} clears all three.
type DestinationView struct {
	UUID                  string   `json:"uuid"`
	Label                 string   `json:"label"`
	URL                   string   `json:"url"`
	Enabled               bool     `json:"enabled"`
	WebhookVersion        string   `json:"webhook_version"`
	SecretSharedKey       *string  `json:"secret_shared_key,omitempty"`
	SubscribedEvents      []string `json:"subscribed_events"`
	SubscribedEventsCount *int     `json:"subscribed_events_count,omitempty"`
	CreatedAt             string   `json:"created_at"`
	UpdatedAt             string   `json:"updated_at"`
	DisabledReason        *string  `json:"disabled_reason"`
	DisabledAt            *string  `json:"disabled_at"`
	FailingSince          *string  `json:"failing_since"`
}

// Reasons a destination is not receiving events, as disabled_reason shows
// them.
const (
	DisabledPaused  = "paused"
	DisabledFailing = "failing"
)

// NewDestinationView returns d's detail view, with its secret (Didit's
// create, get and update bodies), or with secret false its list row.
func NewDestinationView(d Destination, secret bool) DestinationView {
	v := DestinationView{
		UUID:             d.ID,
		Label:            d.Label,
		URL:              d.URL,
		Enabled:          d.Enabled && d.DisabledAt == nil,
		WebhookVersion:   d.WebhookVersion,
		SubscribedEvents: d.SubscribedEvents,
		CreatedAt:        FormatMicro(d.CreatedAt),
		UpdatedAt:        FormatMicro(d.UpdatedAt),
		DisabledAt:       formatMicroOrNil(d.DisabledAt),
		FailingSince:     formatMicroOrNil(d.FailingSince),
	}
	if v.SubscribedEvents == nil {
		v.SubscribedEvents = []string{}
	}
	if secret {
		v.SecretSharedKey = &d.Secret
	} else {
		n := len(v.SubscribedEvents)
		v.SubscribedEventsCount = &n
	}
	// A destination the dispatcher disabled stays "failing" even if the
	// customer also paused it afterwards: enabling it clears both.
	switch {
	case d.DisabledAt != nil:
		v.DisabledReason = ptrTo(DisabledFailing)
	case !d.Enabled:
		v.DisabledReason = ptrTo(DisabledPaused)
	}
	return v
}

// DeliveryView is one delivery of the delivery log: one event owed to one
// destination, with every attempt made so far, oldest first.
// next_attempt_at is null once the delivery has succeeded or failed.
type DeliveryView struct {
	UUID          string        `json:"uuid"`
	EventID       string        `json:"event_id"`
	EventType     string        `json:"event_type"`
	SessionID     string        `json:"session_id"`
	State         DeliveryState `json:"state"`
	Attempts      int           `json:"attempts"`
	NextAttemptAt *string       `json:"next_attempt_at"`
	CreatedAt     string        `json:"created_at"`
	CompletedAt   *string       `json:"completed_at"`
	AttemptsLog   []AttemptView `json:"attempts_log"`
}

// AttemptView is one POST of a delivery. status_code is null when no
// response arrived (a timeout or a connection error, described by error);
// error is null on a 2xx; latency_ms has microsecond precision;
// response_head is the first MaxResponseHead bytes of the response body.
type AttemptView struct {
	UUID         string  `json:"uuid"`
	Number       int     `json:"number"`
	StartedAt    string  `json:"started_at"`
	StatusCode   *int    `json:"status_code"`
	LatencyMS    float64 `json:"latency_ms"`
	Error        *string `json:"error"`
	ResponseHead string  `json:"response_head"`
}

// NewDeliveryView returns d as the delivery log shows it.
func NewDeliveryView(d Delivery) DeliveryView {
	v := DeliveryView{
		UUID:        d.ID,
		EventID:     d.EventID,
		EventType:   d.EventType,
		SessionID:   d.SessionID,
		State:       d.State,
		Attempts:    d.Attempts,
		CreatedAt:   FormatMicro(d.CreatedAt),
		CompletedAt: formatMicroOrNil(d.CompletedAt),
		AttemptsLog: make([]AttemptView, len(d.AttemptHistory)),
	}
	if d.State == DeliveryPending {
		v.NextAttemptAt = formatMicroOrNil(&d.NextAttemptAt)
	}
	for i, a := range d.AttemptHistory {
		v.AttemptsLog[i] = AttemptView{
			UUID:         a.ID,
			Number:       a.Number,
			StartedAt:    FormatMicro(a.StartedAt),
			StatusCode:   a.StatusCode,
			LatencyMS:    float64(a.Latency.Microseconds()) / 1000,
			ResponseHead: a.ResponseHead,
		}
		if a.Error != "" {
			v.AttemptsLog[i].Error = ptrTo(a.Error)
		}
	}
	return v
}

func formatMicroOrNil(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := FormatMicro(*t)
	return &s
}

func ptrTo[T any](v T) *T { return &v }
