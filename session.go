package kycreview

import (
	"encoding/json"
	"strings"
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
	// ChainHead is the hash of the newest row (nil before the first): the
	// next row is chained to it under the session's lock without reading
	// that row.
	ChainHead []byte
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

// CanonicalUUID accepts the hyphenated 36-character form of an id, in
// either case, and returns it lower-cased: the one spelling storage uses. Other spellings uuid.Parse would take (braces,
// urn:) are not session ids in a path.
func CanonicalUUID(s string) (string, bool) {
	if len(s) != 36 {
		return "", false
	}
	for i := 0; i < 36; i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return "", false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return "", false
			}
		}
	}
	return strings.ToLower(s), true
}
