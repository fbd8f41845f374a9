package e2e

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/kycreview/kycreview"
	"github.com/kycreview/kycreview/internal/service"
)

// The proof endpoint (issue 8): GET /v3/sessions/{id}/reviews/proof/, an
// extension with the feed's auth and visibility rules.

func TestProofSigned(t *testing.T) {
	pemBytes, err := kycreview.GenerateAuditKey()
	if err != nil {
		t.Fatal(err)
	}
	key, err := kycreview.ParseAuditKey(pemBytes)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, withServiceOptions(service.WithAuditKey(key)))
	id := e.newSession(kycreview.KindUser)
	feedBefore := e.do("GET", "/v3/sessions/"+id+"/reviews/?ordering=created_at", "", e.key())

	empty := proof(t, e, id)
	if empty.Seq != 0 || *empty.HeadHash != strings.Repeat("0", 64) || !empty.VerifySignature(key.Public()) {
		t.Errorf("proof of an empty feed = %+v", empty)
	}
	for i := range 3 {
		st := []string{"In Review", "Approved", "Declined"}[i]
		res := e.do("POST", "/v3/sessions/"+id+"/reviews/", `{"new_status":"`+st+`","comment":"c"}`, e.key(), jsonType)
		if res.status != 201 {
			t.Fatalf("review: %d %s", res.status, res.body)
		}
	}
	p := proof(t, e, id)
	if p.Seq != 3 || !p.VerifySignature(key.Public()) || *p.KeyID != key.ID() || *p.Algorithm != "Ed25519" {
		t.Fatalf("proof = %+v", p)
	}
	// The proof is the chain's head: the last row's hash.
	var head []byte
	err = e.svc.WalkChains(context.Background(), "", id, func(d service.ChainData) error {
		head = d.Rows[len(d.Rows)-1].Hash
		return nil
	})
	if err != nil || *p.HeadHash != hex.EncodeToString(head) {
		t.Errorf("head_hash %s, last row %x (%v)", *p.HeadHash, head, err)
	}
	// Hashes never show in the feed.
	feed := e.do("GET", "/v3/sessions/"+id+"/reviews/?ordering=created_at", "", e.key())
	if strings.Contains(feed.body, "hash") || strings.Contains(feedBefore.body, "hash") {
		t.Errorf("the feed shows hashes: %s", feed.body)
	}
	var page struct{ Results []map[string]any }
	if err := json.Unmarshal([]byte(feed.body), &page); err != nil || len(page.Results) != 3 || len(page.Results[0]) != 14 {
		t.Errorf("feed entries changed shape: %s", feed.body)
	}
}

// signedProof is a proof as the API sends it, with a check of its signature.
type signedProof struct {
	kycreview.CheckpointJSON
	raw string
}

func (p signedProof) VerifySignature(pub []byte) bool {
	c, err := p.Checkpoint()
	return err == nil && c.VerifySignature(pub)
}

func proof(t *testing.T, e *env, id string) signedProof {
	t.Helper()
	res := e.do("GET", "/v3/sessions/"+id+"/reviews/proof/", "", e.key())
	if res.status != 200 || res.header.Get("Content-Type") != "application/json" {
		t.Fatalf("proof: %d %s", res.status, res.body)
	}
	var p signedProof
	dec := json.NewDecoder(strings.NewReader(res.body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p.CheckpointJSON); err != nil {
		t.Fatalf("proof %s: %v", res.body, err)
	}
	p.raw = res.body
	return p
}

func TestProofUnsigned(t *testing.T) {
	e := newEnv(t)
	id := e.newSession(kycreview.KindUser)
	res := e.do("POST", "/v3/sessions/"+id+"/reviews/", `{"new_status":"Approved"}`, e.key(), jsonType)
	if res.status != 201 {
		t.Fatalf("review: %d %s", res.status, res.body)
	}
	for _, path := range []string{"/v3/sessions/" + id + "/reviews/proof/", "/v3/sessions/" + id + "/reviews/proof"} {
		res := e.do("GET", path, "", e.key())
		var p map[string]any
		if err := json.Unmarshal([]byte(res.body), &p); err != nil || res.status != 200 {
			t.Fatalf("%s: %d %s", path, res.status, res.body)
		}
		if p["seq"] != 1.0 || len(p["head_hash"].(string)) != 64 || p["signature"] != nil || p["public_key"] != nil ||
			p["key_id"] != nil || p["algorithm"] != nil || p["session_id"] != id {
			t.Errorf("unsigned proof = %s", res.body)
		}
	}
}

func TestProofAuthAndVisibility(t *testing.T) {
	e := newEnv(t)
	id := e.newSession(kycreview.KindUser)
	kyb := e.newSession(kycreview.KindBusiness)
	other, err := e.svc.CreateApplication(context.Background(), "Other")
	if err != nil {
		t.Fatal(err)
	}
	notFound := `{"detail":"Session not found."}`
	forbidden := `{"detail":"You do not have permission to perform this action."}`
	path := func(id string) string { return "/v3/sessions/" + id + "/reviews/proof/" }

	expect(t, e.do("GET", path(id), ""), http.StatusForbidden, forbidden)
	expect(t, e.do("GET", path(uuid.NewString()), "", "x-api-key: kyc_wrong"), http.StatusForbidden, forbidden)
	expect(t, e.do("GET", path(id), "", "x-api-key: "+other.Token), http.StatusNotFound, notFound)
	expect(t, e.do("GET", path(kyb), "", e.key()), http.StatusNotFound, notFound)
	expect(t, e.do("GET", path(uuid.NewString()), "", e.key()), http.StatusNotFound, notFound)
	expect(t, e.do("GET", path("not-a-uuid"), "", e.key()), http.StatusNotFound, notFound)
	res := e.do("POST", path(id), `{}`, e.key(), jsonType)
	if res.status != http.StatusMethodNotAllowed || res.header.Get("Allow") != "GET, HEAD, OPTIONS" {
		t.Errorf("POST: %d %s (Allow %q)", res.status, res.body, res.header.Get("Allow"))
	}
	if res := e.do("DELETE", "/v3/session/"+id+"/delete/", "", e.key()); res.status != http.StatusNoContent {
		t.Fatalf("delete: %d %s", res.status, res.body)
	}
	expect(t, e.do("GET", path(id), "", e.key()), http.StatusNotFound, notFound)
}
