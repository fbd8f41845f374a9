package kycreview

import "time"

// EventStatusUpdated is the webhook event every status change queues.
const EventStatusUpdated = "status.updated"

// OutboxEvent is a webhook event written in the same transaction as the
// change it reports, and delivered after commit by the dispatcher.
type OutboxEvent struct {
	PK            int64
	ID            string // the event_id receivers deduplicate on
	ApplicationID string
	SessionPK     int64
	Type          string
	// Payload is the exact body that will be signed and sent.
	Payload   []byte
	CreatedAt time.Time
}

// NewStatusUpdatedEvent builds the status.updated event for decision d, whose
// session has just taken its current status at time at. The body's keys are
// sorted and non-ASCII is escaped, as Didit's Python service sends it; the
// full decision rides along for the statuses a receiver acts on.
func NewStatusUpdatedEvent(eventID string, d Decision, at time.Time) (OutboxEvent, error) {
	s := d.Session
	body := map[string]any{
		"webhook_type": EventStatusUpdated,
		"event_id":     eventID,
		"session_id":   s.ID,
		"status":       string(s.Status),
		"created_at":   at.Unix(),
		"timestamp":    at.Unix(),
		"workflow_id":  s.WorkflowID,
		"vendor_data":  nullableString(s.VendorData),
		"metadata":     nil,
	}
	if s.Metadata != nil {
		body["metadata"] = s.Metadata
	}
	if s.Status.In(decisionStatuses) {
		body["decision"] = d.View()
	}
	payload, err := MarshalEventJSON(body)
	if err != nil {
		return OutboxEvent{}, err
	}
	return OutboxEvent{
		ID:            eventID,
		ApplicationID: s.ApplicationID,
		SessionPK:     s.PK,
		Type:          EventStatusUpdated,
		Payload:       payload,
		CreatedAt:     at,
	}, nil
}

// Notification tells a console user they were @mentioned in a feed row. It
// is written in the row's transaction and delivered afterwards.
type Notification struct {
	PK            int64
	ID            string
	ApplicationID string
	ActivityPK    int64
	UserID        string
	CreatedAt     time.Time
}
