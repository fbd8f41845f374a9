package kycreview

// Status is a session's lifecycle status. The values are Didit's, exact and
// case-sensitive ("Kyc Expired" has one capital K).
type Status string

// The ten session statuses.
const (
	StatusNotStarted   Status = "Not Started"
	StatusInProgress   Status = "In Progress"
	StatusApproved     Status = "Approved"
	StatusDeclined     Status = "Declined"
	StatusInReview     Status = "In Review"
	StatusResubmitted  Status = "Resubmitted"
	StatusExpired      Status = "Expired"
	StatusAbandoned    Status = "Abandoned"
	StatusKycExpired   Status = "Kyc Expired"
	StatusAwaitingUser Status = "Awaiting User"
)

// The sets below are functions that return a fresh slice each time, so no
// caller can change what another sees.

// Statuses lists every status in Didit's documented order.
func Statuses() []Status {
	return []Status{
		StatusNotStarted, StatusInProgress, StatusApproved, StatusDeclined, StatusInReview,
		StatusResubmitted, StatusExpired, StatusAbandoned, StatusKycExpired, StatusAwaitingUser,
	}
}

// ReviewStatuses are the only statuses a review (POST …/reviews/) may set: the
// three manual-review outcomes.
func ReviewStatuses() []Status { return []Status{StatusApproved, StatusDeclined, StatusInReview} }

// ManualDecisionStatuses are the statuses a client key may set with
// PATCH …/update-status/.
func ManualDecisionStatuses() []Status {
	return []Status{StatusApproved, StatusDeclined, StatusResubmitted}
}

// UpdatableStatuses are the statuses a session must have before a client key
// may change it with PATCH …/update-status/.
func UpdatableStatuses() []Status {
	return []Status{StatusApproved, StatusDeclined, StatusInReview, StatusKycExpired, StatusAbandoned, StatusResubmitted}
}

// carriesDecision reports whether a status.updated event for status s
// carries the full decision: for the statuses a receiver acts on.
func carriesDecision(s Status) bool {
	switch s {
	case StatusApproved, StatusDeclined, StatusInReview, StatusAbandoned:
		return true
	}
	return false
}

// Valid reports whether s is one of the ten statuses.
func (s Status) Valid() bool {
	switch s {
	case StatusNotStarted, StatusInProgress, StatusApproved, StatusDeclined, StatusInReview,
		StatusResubmitted, StatusExpired, StatusAbandoned, StatusKycExpired, StatusAwaitingUser:
		return true
	}
	return false
}

// In reports whether s is one of set.
func (s Status) In(set []Status) bool {
	for _, v := range set {
		if s == v {
			return true
		}
	}
	return false
}
