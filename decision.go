package kycreview

// Decision is a session as GET /v3/session/{id}/decision/ returns it, and as
// the status.updated webhook carries it: the session's fields plus its
// status rows, oldest first.
type Decision struct {
	Session Session
	Reviews []Activity
}

// View returns the decision as a JSON-ready map. One representation serves
// the endpoint and the webhook, so they cannot drift apart.
func (d Decision) View() map[string]any {
	m := SessionView(d.Session)
	reviews := make([]any, 0, len(d.Reviews))
	for _, a := range d.Reviews {
		if a.NewStatus == nil {
			continue
		}
		reviews = append(reviews, map[string]any{
			"user":       ReviewUser(a.Actor),
			"new_status": string(*a.NewStatus),
			"comment":    nullableString(a.Comment),
			"created_at": FormatMicro(a.CreatedAt),
		})
	}
	m["reviews"] = reviews
	return m
}

// SessionView returns the session's public fields as a JSON-ready map.
func SessionView(s Session) map[string]any {
	var metadata any
	if s.Metadata != nil {
		metadata = s.Metadata
	}
	return map[string]any{
		"session_id":     s.ID,
		"session_number": s.Number,
		"session_kind":   string(s.Kind),
		"status":         string(s.Status),
		"workflow_id":    s.WorkflowID,
		"vendor_data":    nullableString(s.VendorData),
		"metadata":       metadata,
		"callback":       nullableString(s.Callback),
		"created_at":     FormatMicro(s.CreatedAt),
	}
}

// ReviewUser is the "user" of a review in the decision and in the review
// POST's response: "API Client" for API keys, the email for console users
// (as Didit does), "System" or "Unknown" otherwise.
func ReviewUser(a Actor) string {
	if a.Email != nil {
		return *a.Email
	}
	return a.Display
}

func nullableString(s *string) any {
	if s == nil {
		return nil
	}
	return *s
}
