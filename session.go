package kycreview

import (
	"encoding/json"
	"time"
)

// Session is one identity-verification session under review.
type Session struct {
	// PK is the storage row id, never shown outside; ID is the public UUID.
	PK            int64
	ID            string
	ApplicationID string
	Number        int64
	WorkflowID    string
	Kind          Kind
	Status        Status
	VendorData    *string
	// Metadata is the JSON the customer sent, compacted, or nil for null.
	Metadata  json.RawMessage
	Callback  *string
	CreatedAt time.Time
	DeletedAt *time.Time
	// ActivityCount is the number of feed rows; the next row's Seq is one
	// more. LastActivityAt is the newest row's time: new rows are stamped no
	// earlier, so the feed's time order is its commit order even if a clock
	// steps back.
	ActivityCount  int64
	LastActivityAt time.Time
}

// SessionFilter selects sessions for the session list.
type SessionFilter struct {
	ApplicationID string
	// Kinds is the set of kinds to list; empty means both.
	Kinds []Kind
	// Statuses is an OR filter; empty means any.
	Statuses   []Status
	VendorData *string
	Limit      int
	Offset     int
}
