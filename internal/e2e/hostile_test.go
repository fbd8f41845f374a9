package e2e

import (
	"strings"
	"testing"

	"github.com/kycreview/kycreview"
)

// TestHostileInputs: inputs shaped to break the database layer get the
// contract's answers, never a 500, on either backend.
func TestHostileInputs(t *testing.T) {
	e := newEnv(t)
	id := e.newSession(kycreview.KindUser)
	forbidden := `{"detail":"You do not have permission to perform this action."}`
	tests := []struct {
		name, path, key string
		status          int
		body            string
	}{
		// Bytes no database text column can hold, where a key is looked up.
		{"key with non-UTF-8 bytes", "/v3/sessions/" + id + "/reviews/", "kyc_" + strings.Repeat("\xff", 16) + strings.Repeat("A", 27), 403, forbidden},
		{"key outside base64url", "/v3/sessions/" + id + "/reviews/", "kyc_" + strings.Repeat("%", 16) + strings.Repeat("A", 27), 403, forbidden},
		{"vendor_data with a NUL", "/v3/sessions/?vendor_data=a%00b", e.token, 200, `{"count":0,"next":null,"previous":null,"results":[]}`},
		{"status with a NUL", "/v3/sessions/?status=In%00Review", e.token, 200, `{"count":0,"next":null,"previous":null,"results":[]}`},
		{"forty thousand statuses", "/v3/sessions/?status=" + strings.Repeat("Approved,", 40000), e.token, 200, `{"count":0,"next":null,"previous":null,"results":[]}`},
		{"only unknown statuses", "/v3/sessions/?status=approved,Bogus", e.token, 200, `{"count":0,"next":null,"previous":null,"results":[]}`},
		{"three thousand ordering terms", "/v3/sessions/" + id + "/reviews/?ordering=" + strings.Repeat("uuid,", 3000), e.token, 200, `{"count":0,"next":null,"previous":null,"results":[]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			expect(t, e.do("GET", tt.path, "", "x-api-key: "+tt.key), tt.status, tt.body)
		})
	}
	// The status filter still works with valid values among junk.
	e.moveTo(id, kycreview.StatusInProgress)
	res := e.do("GET", "/v3/sessions/?status=Bogus,In%20Progress,In%20Progress", "", e.key())
	if res.status != 200 || !strings.Contains(res.body, `"count":1,`) {
		t.Errorf("status filter with junk: %d %s", res.status, res.body)
	}
}
