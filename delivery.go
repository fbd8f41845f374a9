package kycreview

import "time"

// DeliveryState is where a webhook delivery stands.
type DeliveryState string

// A delivery is pending until an attempt succeeds (2xx) or the retry
// schedule runs out.
const (
	DeliveryPending   DeliveryState = "pending"
	DeliverySucceeded DeliveryState = "succeeded"
	DeliveryFailed    DeliveryState = "failed"
)

// Delivery is one outbox event owed to one destination. It is created in
// the transaction that queues the event, one per active destination
// subscribed to the event's type, so an event can never be committed
// without its deliveries.
type Delivery struct {
	PK             int64
	ID             string
	DestinationPK  int64
	EventPK        int64
	EventID        string // the event_id the receiver sees
	EventType      string
	SessionPK      int64
	SessionID      string
	State          DeliveryState
	Attempts       int
	NextAttemptAt  time.Time
	CreatedAt      time.Time
	CompletedAt    *time.Time
	AttemptHistory []Attempt
}

// Attempt is one POST of a delivery, as the delivery log shows it. The log
// is append-only.
type Attempt struct {
	PK           int64
	ID           string
	DeliveryPK   int64
	Number       int // 1 for the first attempt of the delivery
	StartedAt    time.Time
	Latency      time.Duration
	StatusCode   *int   // nil when no response arrived
	Error        string // empty on a 2xx
	ResponseHead string // the first MaxResponseHead bytes of the body, as text
}

// MaxResponseHead is how much of a receiver's response body the log keeps.
const MaxResponseHead = 1024

// Succeeded reports whether the attempt got a 2xx answer.
func (a Attempt) Succeeded() bool {
	return a.StatusCode != nil && *a.StatusCode >= 200 && *a.StatusCode < 300
}

// ClaimedDelivery is a due delivery a dispatcher has claimed until
// ClaimedUntil, with what sending it needs.
type ClaimedDelivery struct {
	Delivery
	Claim        string // the dispatcher's claim token; results under another claim are not applied
	ClaimedUntil time.Time
	URL          string
	Secret       string
}

// WebhookBacklog counts the deliveries not made yet. Pending are owed to
// active destinations: waiting for a dispatcher or for their next retry;
// OldestPendingAt is when the oldest of them was created. Held are pending
// deliveries of destinations that are paused, disabled for failing, or
// deleted: no dispatcher takes them until the destination is active again.
type WebhookBacklog struct {
	Pending         int
	OldestPendingAt *time.Time
	Held            int
}
