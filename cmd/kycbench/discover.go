package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
)

// Discovery of a --target's sessions, through the API like any client.
const (
	discoverPage = 1000
	// discoverMax is enough sessions that random picks rarely meet on one
	// session's lock, and keeps the list's offsets, and so the time
	// discovery takes, small.
	discoverMax = 10_000
)

// discoverSessions returns up to discoverMax ids of the target's KYC
// sessions, and how many it has in all. It builds each page's URL itself
// rather than following "next", whose host may be a public URL elsewhere.
func discoverSessions(ctx context.Context, base, key string) ([]string, int, error) {
	var ids []string
	count := 0
	for offset := 0; offset < discoverMax; offset += discoverPage {
		body, err := getJSON(ctx, fmt.Sprintf("%s/v3/sessions/?session_kind=user&limit=%d&offset=%d", base, discoverPage, offset), key)
		if err != nil {
			return nil, 0, fmt.Errorf("list the target's sessions: %w", err)
		}
		var page struct {
			Count   int `json:"count"`
			Results []struct {
				SessionID string `json:"session_id"`
			} `json:"results"`
		}
		if err := json.Unmarshal(body, &page); err != nil {
			return nil, 0, fmt.Errorf("list the target's sessions: %w", err)
		}
		count = page.Count
		for _, r := range page.Results {
			ids = append(ids, r.SessionID)
		}
		if len(page.Results) < discoverPage || len(ids) >= count {
			break
		}
	}
	if len(ids) == 0 {
		return nil, 0, errors.New("the target has no KYC sessions to load: seed some, or let kycbench seed its own database")
	}
	return ids, count, nil
}
