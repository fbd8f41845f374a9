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

// Statuses lists every status in Didit's documented order.
var Statuses = []Status{
	StatusNotStarted, StatusInProgress, StatusApproved, StatusDeclined, StatusInReview,
	StatusResubmitted, StatusExpired, StatusAbandoned, StatusKycExpired, StatusAwaitingUser,
}

// ReviewStatuses are the only statuses a review (POST …/reviews/) may set: the
// three manual-review outcomes.
var ReviewStatuses = []Status{StatusApproved, StatusDeclined, StatusInReview}

// ManualDecisionStatuses are the statuses a client key may set with
// PATCH …/update-status/.
var ManualDecisionStatuses = []Status{StatusApproved, StatusDeclined, StatusResubmitted}

// UpdatableStatuses are the statuses a session must have before a client key
// may change it with PATCH …/update-status/.
var UpdatableStatuses = []Status{
	StatusApproved, StatusDeclined, StatusInReview, StatusKycExpired, StatusAbandoned, StatusResubmitted,
}

// decisionStatuses are the statuses whose status.updated event carries the
// full decision.
var decisionStatuses = []Status{StatusApproved, StatusDeclined, StatusInReview, StatusAbandoned}

// Valid reports whether s is one of the ten statuses.
func (s Status) Valid() bool { return s.In(Statuses) }

// In reports whether s is one of set.
func (s Status) In(set []Status) bool {
	for _, v := range set {
		if s == v {
			return true
		}
	}
	return false
}
