package kycreview

import (
	"bytes"
	"encoding/json"
)

// FeedEntry is one feed row as the API shows it, fields in the seed's
// order.
type FeedEntry struct {
	UUID            string          `json:"uuid"`
	ActivityType    string          `json:"activity_type"`
	ActorDisplay    string          `json:"actor_display"`
	ActorEmail      *string         `json:"actor_email"`
	ActorType       string          `json:"actor_type"`
	NewStatus       *Status         `json:"new_status"`
	PreviousStatus  *Status         `json:"previous_status"`
	Comment         *string         `json:"comment"`
	MentionedEmails []string        `json:"mentioned_emails"`
	PreviousValue   json.RawMessage `json:"previous_value"`
	NewValue        json.RawMessage `json:"new_value"`
	ChangedFields   []string        `json:"changed_fields"`
	Metadata        json.RawMessage `json:"metadata"`
	CreatedAt       string          `json:"created_at"`
}

// NewFeedEntry is the API's view of feed row a.
func NewFeedEntry(a Activity) FeedEntry {
	e := FeedEntry{
		UUID:            a.ID,
		ActivityType:    string(a.Type),
		ActorDisplay:    a.Actor.Display,
		ActorEmail:      a.Actor.Email,
		ActorType:       string(a.Actor.Type),
		NewStatus:       a.NewStatus,
		PreviousStatus:  a.PreviousStatus,
		Comment:         a.Comment,
		MentionedEmails: a.MentionedEmails,
		PreviousValue:   a.PreviousValue,
		NewValue:        a.NewValue,
		ChangedFields:   a.ChangedFields,
		Metadata:        a.Metadata,
		CreatedAt:       FormatMicro(a.CreatedAt),
	}
	if e.MentionedEmails == nil {
		e.MentionedEmails = []string{}
	}
	if e.ChangedFields == nil {
		e.ChangedFields = []string{}
	}
	return e
}

// EntryJSON renders feed row a as the API sends it: compact UTF-8 JSON, HTML
// characters unescaped, as DRF renders it.
//
// A feed row never changes, so neither does this text: storage keeps it
// beside the row's columns, and a feed page is the stored entries joined,
// with no columns to scan and nothing to encode per request.
func (a Activity) EntryJSON() ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(NewFeedEntry(a)); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
