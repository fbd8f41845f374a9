package kycreview_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/kycreview/kycreview"
)

// The test vectors of docs/audit-chain.md: two rows of one session, their
// canonical encodings and their chain hashes. They pin the format: a change
// here breaks every stored chain, and every auditor's re-implementation.
const vectorSession = "7f1c2d3e-4b5a-4c6d-8e9f-0a1b2c3d4e5f"

func vectorRows() []kycreview.Activity {
	inReview, approved := kycreview.StatusInReview, kycreview.StatusApproved
	comment := "Address matches. @ana@example.com — ok"
	email := "ana@example.com"
	return []kycreview.Activity{
		{
			ID: "0b6c7a52-2f7e-4c1e-9d4a-5f6e7d8c9b0a", Seq: 1, Type: kycreview.ActivityStatusUpdated,
			Actor:          kycreview.Actor{Type: kycreview.ActorSystem, ID: "c0ffee00-0000-4000-8000-000000000001", Display: "System"},
			PreviousStatus: ptr(kycreview.StatusInProgress), NewStatus: &inReview,
			MentionedEmails: []string{}, PreviousValue: json.RawMessage(`{"status":"In Progress"}`),
			NewValue: json.RawMessage(`{"status":"In Review"}`), ChangedFields: []string{"status"},
			Metadata:  json.RawMessage(`{"check":"glare"}`),
			CreatedAt: time.Date(2026, 6, 12, 0, 19, 31, 918735000, time.UTC),
		},
		{
			ID: "1c7d8b63-3a8f-4d2f-8e5b-6a7f8e9d0c1b", Seq: 2, Type: kycreview.ActivityStatusUpdated,
			Actor:          kycreview.Actor{Type: kycreview.ActorConsoleUser, ID: "c0ffee00-0000-4000-8000-000000000002", Display: "Ana Reviewer", Email: &email},
			PreviousStatus: &inReview, NewStatus: &approved, Comment: &comment,
			MentionedEmails: []string{"ana@example.com"}, PreviousValue: json.RawMessage(`{"status":"In Review"}`),
			NewValue: json.RawMessage(`{"status":"Approved"}`), ChangedFields: []string{"status"},
			CreatedAt: time.Date(2026, 6, 12, 0, 20, 2, 5000, time.UTC),
		},
	}
}

func ptr[T any](v T) *T { return &v }

var (
	vectorEncodings = []string{
		"000000156b79637265766965772e61637469766974792e76310000002437663163326433652d346235612d346336642d386539662d30613162326333643465356600000000000000010000002430623663376135322d326637652d346331652d396434612d3566366537643863396230610000000e5354415455535f555044415445440000000653595354454d010000002463306666656530302d303030302d343030302d383030302d3030303030303030303030310000000653797374656d00010000000b496e2050726f67726573730100000009496e20526576696577000000000001000000187b22737461747573223a22496e2050726f6772657373227d01000000167b22737461747573223a22496e20526576696577227d000000010000000673746174757301000000117b22636865636b223a22676c617265227d000654036e450f8f",
		"000000156b79637265766965772e61637469766974792e76310000002437663163326433652d346235612d346336642d386539662d30613162326333643465356600000000000000020000002431633764386236332d336138662d346432662d386535622d3661376638653964306331620000000e5354415455535f555044415445440000000c434f4e534f4c455f55534552010000002463306666656530302d303030302d343030302d383030302d3030303030303030303030320000000c416e61205265766965776572010000000f616e61406578616d706c652e636f6d0100000009496e205265766965770100000008417070726f766564010000002841646472657373206d6174636865732e2040616e61406578616d706c652e636f6d20e28094206f6b000000010000000f616e61406578616d706c652e636f6d01000000167b22737461747573223a22496e20526576696577227d01000000157b22737461747573223a22417070726f766564227d0000000100000006737461747573000006540370101085",
	}
	vectorHashes = []string{
		"7d26a9ac8cb8e38b3e42110cb1286ab38afac8c33aa1ff78e2c24553fc66faa9",
		"5aae27b9406e6146ae9cf6fc8ae171f517ad56db348782241bb0670edef89eb6",
	}
)

func TestActivityEncodingVectors(t *testing.T) {
	prev := kycreview.GenesisHash()
	for i, a := range vectorRows() {
		if got := hex.EncodeToString(kycreview.AppendActivityEncoding(nil, vectorSession, a)); got != vectorEncodings[i] {
			t.Errorf("row %d encoding:\n got %s\nwant %s", i+1, got, vectorEncodings[i])
		}
		prev = kycreview.ChainHash(prev, vectorSession, a)
		if got := hex.EncodeToString(prev); got != vectorHashes[i] {
			t.Errorf("row %d hash = %s, want %s", i+1, got, vectorHashes[i])
		}
	}
	// nil and the genesis value are the same "previous hash".
	a := vectorRows()[0]
	if !bytes.Equal(kycreview.ChainHash(nil, vectorSession, a), kycreview.ChainHash(kycreview.GenesisHash(), vectorSession, a)) {
		t.Error("ChainHash(nil) differs from ChainHash(genesis)")
	}
}

// TestActivityEncodingIsInjective: moving bytes from one field to the next,
// or a null to an empty value, changes the encoding.
func TestActivityEncodingIsInjective(t *testing.T) {
	base := vectorRows()[1]
	empty := ""
	variants := map[string]func(a *kycreview.Activity){
		"comment null vs empty":  func(a *kycreview.Activity) { a.Comment = &empty },
		"comment null":           func(a *kycreview.Activity) { a.Comment = nil },
		"display/email boundary": func(a *kycreview.Activity) { a.Actor.Display += "a"; e := (*a.Actor.Email)[1:]; a.Actor.Email = &e },
		"mentions split":         func(a *kycreview.Activity) { a.MentionedEmails = []string{"ana@", "example.com"} },
		"metadata {} vs null":    func(a *kycreview.Activity) { a.Metadata = json.RawMessage(`{}`) },
		"actor id empty":         func(a *kycreview.Activity) { a.Actor.ID = "" },
		"created_at +1µs":        func(a *kycreview.Activity) { a.CreatedAt = a.CreatedAt.Add(time.Microsecond) },
		"seq":                    func(a *kycreview.Activity) { a.Seq++ },
		"changed fields empty":   func(a *kycreview.Activity) { a.ChangedFields = []string{} },
		"previous value spacing": func(a *kycreview.Activity) { a.PreviousValue = json.RawMessage(`{"status": "In Review"}`) },
	}
	want := kycreview.AppendActivityEncoding(nil, vectorSession, base)
	if bytes.Equal(want, kycreview.AppendActivityEncoding(nil, strings.ToUpper(vectorSession), base)) {
		t.Error("the session id is not part of the encoding")
	}
	for name, change := range variants {
		a := vectorRows()[1]
		change(&a)
		if bytes.Equal(want, kycreview.AppendActivityEncoding(nil, vectorSession, a)) {
			t.Errorf("%s: same encoding", name)
		}
	}
}

func chainOf(rows []kycreview.Activity) []kycreview.Activity {
	var prev []byte
	for i := range rows {
		rows[i].Hash = kycreview.ChainHash(prev, vectorSession, rows[i])
		rows[i].Entry, _ = rows[i].EntryJSON()
		prev = rows[i].Hash
	}
	return rows
}

func TestChainVerifier(t *testing.T) {
	good := chainOf(vectorRows())
	head := kycreview.ChainHead{SessionID: vectorSession, Seq: 2, Hash: good[1].Hash}
	tests := []struct {
		name    string
		rows    func() []kycreview.Activity
		head    *kycreview.ChainHead
		expect  []kycreview.Checkpoint
		wantSeq int64 // 0: intact
	}{
		{"intact", func() []kycreview.Activity { return chainOf(vectorRows()) }, &head, nil, 0},
		{"no head to compare", func() []kycreview.Activity { return chainOf(vectorRows()) }, nil, nil, 0},
		{"comment changed", func() []kycreview.Activity {
			r := chainOf(vectorRows())
			r[1].Comment = ptr("forged")
			return r
		}, &head, nil, 2},
		{"entry changed", func() []kycreview.Activity {
			r := chainOf(vectorRows())
			r[0].Entry = bytes.Replace(r[0].Entry, []byte("System"), []byte("Sys"), 1)
			return r
		}, &head, nil, 1},
		{"first row removed", func() []kycreview.Activity { return chainOf(vectorRows())[1:] }, &head, nil, 1},
		{"swapped", func() []kycreview.Activity {
			r := chainOf(vectorRows())
			r[0], r[1] = r[1], r[0]
			r[0].Seq, r[1].Seq = 1, 2
			return r
		}, &head, nil, 1},
		{"tail cut, head mended", func() []kycreview.Activity { return chainOf(vectorRows())[:1] },
			&kycreview.ChainHead{Seq: 1, Hash: good[0].Hash}, nil, 0},
		{"tail cut, against a receipt", func() []kycreview.Activity { return chainOf(vectorRows())[:1] },
			&kycreview.ChainHead{Seq: 1, Hash: good[0].Hash}, []kycreview.Checkpoint{{Seq: 2, Head: good[1].Hash}}, 2},
		{"tail cut, head left", func() []kycreview.Activity { return chainOf(vectorRows())[:1] }, &head, nil, 2},
		{"rewritten, against a receipt", func() []kycreview.Activity {
			r := vectorRows()
			r[0].Comment = ptr("forged")
			return chainOf(r) // the attacker recomputed every hash
		}, nil, []kycreview.Checkpoint{{Seq: 1, Head: good[0].Hash}}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			check := kycreview.CheckChain(vectorSession, tt.head, tt.rows(), nil, tt.expect, nil, true)
			switch {
			case tt.wantSeq == 0 && check.Break != nil:
				t.Errorf("broken at %d: %s", check.Break.Seq, check.Break.Reason)
			case tt.wantSeq != 0 && (check.Break == nil || check.Break.Seq != tt.wantSeq):
				t.Errorf("break = %+v, want one at seq %d", check.Break, tt.wantSeq)
			}
		})
	}
}

func TestCheckpointSignature(t *testing.T) {
	pemBytes, err := kycreview.GenerateAuditKey()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(pemBytes, []byte("-----BEGIN PRIVATE KEY-----")) {
		t.Fatalf("key file:\n%s", pemBytes)
	}
	key, err := kycreview.ParseAuditKey(pemBytes)
	if err != nil {
		t.Fatal(err)
	}
	rows := chainOf(vectorRows())
	c := kycreview.Checkpoint{SessionID: vectorSession, Seq: 2, Head: rows[1].Hash, CreatedAt: time.Date(2026, 6, 12, 1, 0, 0, 123456789, time.UTC)}
	key.Sign(&c)
	if c.CreatedAt.Nanosecond() != 123456000 || len(c.KeyID) != 16 || !c.VerifySignature(key.Public()) {
		t.Fatalf("signed checkpoint %+v does not verify", c)
	}
	back, err := c.JSON().Checkpoint()
	if err != nil || !back.VerifySignature(key.Public()) {
		t.Fatalf("JSON round trip: %+v, %v", back, err)
	}
	otherPub, _, _ := ed25519.GenerateKey(nil)
	for name, tamper := range map[string]func(c *kycreview.Checkpoint){
		"seq":     func(c *kycreview.Checkpoint) { c.Seq-- },
		"head":    func(c *kycreview.Checkpoint) { c.Head = rows[0].Hash },
		"time":    func(c *kycreview.Checkpoint) { c.CreatedAt = c.CreatedAt.Add(time.Microsecond) },
		"session": func(c *kycreview.Checkpoint) { c.SessionID = strings.Replace(c.SessionID, "7f", "7e", 1) },
		"key":     func(c *kycreview.Checkpoint) { c.PublicKey = otherPub },
	} {
		bad := back
		tamper(&bad)
		if bad.VerifySignature(key.Public()) && name != "key" {
			t.Errorf("checkpoint with changed %s verifies", name)
		}
	}
	if back.VerifySignature(otherPub) {
		t.Error("verifies with another key")
	}
	// A checkpoint signed by a key that is not trusted proves nothing.
	check := kycreview.CheckChain(vectorSession, nil, rows, []kycreview.Checkpoint{c}, nil, nil, true)
	if check.Break != nil || check.Unverified != 1 || check.Checkpoints != 0 {
		t.Errorf("untrusted checkpoint: %+v", check)
	}
	check = kycreview.CheckChain(vectorSession, nil, rows, []kycreview.Checkpoint{c}, nil, []ed25519.PublicKey{key.Public()}, true)
	if check.Break != nil || check.Checkpoints != 1 {
		t.Errorf("trusted checkpoint: %+v", check)
	}
	forged := c
	forged.Signature = bytes.Repeat([]byte{1}, ed25519.SignatureSize)
	check = kycreview.CheckChain(vectorSession, nil, rows, []kycreview.Checkpoint{forged}, nil, []ed25519.PublicKey{key.Public()}, true)
	if check.Break == nil || check.Break.Seq != 2 {
		t.Errorf("forged checkpoint: %+v", check)
	}
	for _, bad := range []string{"", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"} {
		if _, err := kycreview.ParseAuditKey([]byte(bad)); err == nil {
			t.Errorf("ParseAuditKey(%q) succeeded", bad)
		}
	}
}

// BenchmarkChainHash is the chain's CPU cost per row.
func BenchmarkChainHash(b *testing.B) {
	a := vectorRows()[1]
	prev := kycreview.GenesisHash()
	b.ReportAllocs()
	for b.Loop() {
		kycreview.ChainHash(prev, vectorSession, a)
	}
}
