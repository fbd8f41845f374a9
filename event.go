package kycreview

import (
	"fmt"
	"time"
)

// EventStatusUpdated is the webhook event every status change queues.
const EventStatusUpdated = "status.updated"

// OutboxEvent is a webhook event, written in the same transaction as the
// change it reports and delivered after commit by the dispatcher.
//
// It holds a reference, not a body: the body embeds the session's whole
// status history, so storing it in every event would make each review cost
// more than the last and the outbox grow with the square of a session's
// history. The rows it is rendered from are immutable, and the session
// fields the body shows never change after creation, so RenderStatusUpdated
// gives the same bytes whenever it is called.
type OutboxEvent struct {
	PK            int64
	ID            string // the event_id receivers deduplicate on
	ApplicationID string
	SessionPK     int64
	// Seq is the feed row (of the session) whose change the event reports.
	Seq       int64
	Type      string
	CreatedAt time.Time
}

// NewStatusUpdatedEvent is the status.updated event for feed row a of
// session s.
func NewStatusUpdatedEvent(eventID string, s Session, a Activity) OutboxEvent {
	return OutboxEvent{
		ID:            eventID,
		ApplicationID: s.ApplicationID,
		SessionPK:     s.PK,
		Seq:           a.Seq,
		Type:          EventStatusUpdated,
		CreatedAt:     a.CreatedAt,
	}
}

// RenderStatusUpdated renders event ev's body from its session and the
// session's status rows (any superset of those up to the event's row): the
// session as it was just after that row, with the reviews up to it.
func RenderStatusUpdated(ev OutboxEvent, s Session, statusRows []Activity) ([]byte, error) {
	var upTo []Activity
	var row *Activity
	for i, a := range statusRows {
		if a.Seq <= ev.Seq {
			upTo = append(upTo, a)
		}
		if a.Seq == ev.Seq {
			row = &statusRows[i]
		}
	}
	if row == nil || row.NewStatus == nil {
		return nil, fmt.Errorf("kycreview: event %s: the session has no status row %d", ev.ID, ev.Seq)
	}
	s.Status = *row.NewStatus
	return StatusUpdatedBody(ev.ID, Decision{Session: s, Reviews: upTo}, row.CreatedAt)
}

// StatusUpdatedBody is the status.updated body for decision d, whose session
// took its current status at time at. Its keys are sorted and non-ASCII is
// escaped, as Didit's Python service sends it; the full decision rides along
// for the statuses a receiver acts on.
func StatusUpdatedBody(eventID string, d Decision, at time.Time) ([]byte, error) {
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
	if carriesDecision(s.Status) {
		body["decision"] = d.View()
	}
	return MarshalEventJSON(body)
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
