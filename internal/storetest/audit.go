package storetest

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/kycreview/kycreview"
	"github.com/kycreview/kycreview/internal/service"
)

// The audit chain's part of the suite (issue 8): storage keeps the hashes
// and checkpoints it is given, and an attacker with direct database access
// and the append-only triggers dropped cannot change history unnoticed.

// appendChained writes a row as the service does, chained to the session's
// head. It writes no webhook event, so attacks need not deal with the
// outbox's foreign key.
func appendChained(t *testing.T, s service.Store, sess kycreview.Session, a kycreview.Activity) kycreview.Activity {
	t.Helper()
	ctx := context.Background()
	write(t, s, func(tx service.Tx) error {
		cur, err := tx.LockSession(ctx, sess.ApplicationID, sess.ID)
		if err != nil {
			return err
		}
		a.SessionPK, a.Seq, a.ID = cur.PK, cur.ActivityCount+1, uuid.NewString()
		a.Hash = kycreview.ChainHash(cur.ChainHead, cur.ID, a)
		if err := tx.InsertActivity(ctx, &a); err != nil {
			return err
		}
		cur.ActivityCount, cur.LastActivityAt, cur.ChainHead = a.Seq, a.CreatedAt, a.Hash
		if a.NewStatus != nil {
			cur.Status = *a.NewStatus
		}
		return tx.UpdateSession(ctx, cur)
	})
	return a
}

// chainedSession is a KYC session with n chained rows: comments "note 1",
// "note 2", …, alternating Approved and Declined.
func chainedSession(t *testing.T, s service.Store, f fixture, n int) kycreview.Session {
	t.Helper()
	sess := f.newSession(t, s, kycreview.KindUser)
	prev := kycreview.StatusNotStarted
	for i := 1; i <= n; i++ {
		next := kycreview.StatusApproved
		if i%2 == 0 {
			next = kycreview.StatusDeclined
		}
		c := kycreview.NewActivity("", kycreview.Session{Status: prev}, kycreview.Change{
			Actor: kycreview.APIKeyActor(uuid.NewString()), NewStatus: &next, Comment: ptr(fmt.Sprintf("note %d", i)),
		}, nil, epoch.Add(time.Duration(i)*time.Second))
		appendChained(t, s, sess, c)
		prev = next
	}
	return sess
}

func testAuditChainRoundTrip(t *testing.T, b Backend) {
	s := b.Open(t)
	ctx := context.Background()
	f := newFixture(t, s, "chain")
	sess := chainedSession(t, s, f, 3)
	other := f.newSession(t, s, kycreview.KindUser)

	read(t, s, func(tx service.Tx) error {
		heads, err := tx.ListChainHeads(ctx, f.app.ID, "", 0, 10)
		if err != nil {
			return err
		}
		if len(heads) != 2 || heads[0].SessionID != sess.ID || heads[0].Seq != 3 || len(heads[0].Hash) != kycreview.HashSize ||
			heads[1].SessionID != other.ID || heads[1].Seq != 0 || heads[1].Hash != nil {
			t.Errorf("ListChainHeads = %+v", heads)
		}
		if heads, err := tx.ListChainHeads(ctx, "", sess.ID, 0, 10); err != nil || len(heads) != 1 {
			t.Errorf("ListChainHeads by session = %+v, %v", heads, err)
		}
		if heads, err := tx.ListChainHeads(ctx, "not-a-uuid", "", 0, 10); err != nil || len(heads) != 0 {
			t.Errorf("ListChainHeads of a malformed app = %+v, %v", heads, err)
		}
		rows, err := tx.ListChainRows(ctx, heads[0].SessionPK)
		if err != nil {
			return err
		}
		v := kycreview.ChainVerifier{SessionID: sess.ID, CheckEntries: true}
		for _, a := range rows {
			v.Add(a)
		}
		if brk := v.Finish(&heads[0]); brk != nil || len(rows) != 3 {
			t.Errorf("stored chain of %d rows: %+v", len(rows), brk)
		}
		if _, h := v.Last(); !bytes.Equal(h, heads[0].Hash) {
			t.Errorf("head %x, last row %x", heads[0].Hash, h)
		}
		found, err := tx.FindSession(ctx, f.app.ID, sess.ID)
		if err != nil {
			return err
		}
		if !bytes.Equal(found.ChainHead, heads[0].Hash) {
			t.Errorf("Session.ChainHead = %x, want %x", found.ChainHead, heads[0].Hash)
		}
		return nil
	})
}

func testCheckpoints(t *testing.T, b Backend) {
	s := b.Open(t)
	ctx := context.Background()
	f := newFixture(t, s, "checkpoints")
	a := chainedSession(t, s, f, 2)
	bSess := chainedSession(t, s, f, 1)
	f.newSession(t, s, kycreview.KindUser) // no rows: nothing to sign
	key := newAuditKey(t)
	svc := service.New(s, func() time.Time { return epoch.Add(time.Hour) }, service.WithAuditKey(key))

	if n, err := svc.Checkpoint(ctx); err != nil || n != 2 {
		t.Fatalf("Checkpoint = %d, %v; want 2", n, err)
	}
	if n, err := svc.Checkpoint(ctx); err != nil || n != 0 {
		t.Fatalf("Checkpoint again = %d, %v; want 0 (nothing changed)", n, err)
	}
	appendChained(t, s, a, kycreview.Activity{Type: kycreview.ActivityComment, Actor: kycreview.SystemActor(""),
		Comment: ptr("later"), CreatedAt: epoch.Add(time.Minute)})
	if n, err := svc.Checkpoint(ctx); err != nil || n != 1 {
		t.Fatalf("Checkpoint after a row = %d, %v; want 1", n, err)
	}
	var stored kycreview.Checkpoint
	read(t, s, func(tx service.Tx) error {
		heads, err := tx.ListChainHeads(ctx, "", a.ID, 0, 1)
		if err != nil {
			return err
		}
		cps, err := tx.ListCheckpoints(ctx, heads[0].SessionPK)
		if err != nil {
			return err
		}
		if len(cps) != 2 || cps[0].Seq != 2 || cps[1].Seq != 3 || !bytes.Equal(cps[1].Head, heads[0].Hash) {
			t.Fatalf("checkpoints = %+v", cps)
		}
		for _, c := range cps {
			if c.SessionID != a.ID || !c.VerifySignature(key.Public()) || !c.CreatedAt.Equal(epoch.Add(time.Hour)) {
				t.Errorf("checkpoint %+v does not verify", c)
			}
		}
		stored = cps[1]
		return nil
	})
	write(t, s, func(tx service.Tx) error {
		// The same head signed again (another replica's run) is stored once.
		again := stored
		again.CreatedAt = again.CreatedAt.Add(time.Second)
		key.Sign(&again)
		if ok, err := tx.InsertCheckpoint(ctx, &again); err != nil || ok {
			t.Errorf("InsertCheckpoint of a stored head = %v, %v; want false", ok, err)
		}
		ok, err := tx.TryLockCheckpoints(ctx)
		if err != nil || !ok {
			t.Errorf("TryLockCheckpoints = %v, %v", ok, err)
		}
		due, err := tx.DueCheckpoints(ctx, 0, 10)
		if err != nil || len(due) != 0 {
			t.Errorf("DueCheckpoints after checkpointing = %+v, %v", due, err)
		}
		return nil
	})
	rep, err := svc.VerifyChains(ctx, f.app.ID, "", nil, nil)
	if err != nil || !rep.OK || rep.Sessions != 3 || rep.Rows != 4 || rep.Checkpoints != 3 {
		t.Fatalf("VerifyChains = %+v, %v", rep, err)
	}
	// Without the key, checkpoints prove nothing and are only counted.
	rep, err = service.New(s, time.Now).VerifyChains(ctx, "", bSess.ID, nil, nil)
	if err != nil || !rep.OK || rep.Checkpoints != 0 || rep.UnverifiedCheckpoints != 1 {
		t.Fatalf("VerifyChains without a key = %+v, %v", rep, err)
	}
	// Without a key there is nothing to sign with.
	if _, err := service.New(s, time.Now).Checkpoint(ctx); kycreview.ErrorCode(err) != kycreview.EINVALID {
		t.Fatalf("Checkpoint without a key: %v", err)
	}
}

func testProof(t *testing.T, b Backend) {
	s := b.Open(t)
	ctx := context.Background()
	f := newFixture(t, s, "proof")
	sess := chainedSession(t, s, f, 2)
	empty := f.newSession(t, s, kycreview.KindUser)
	kyb := f.newSession(t, s, kycreview.KindBusiness)
	stranger := newFixture(t, s, "stranger")
	key := newAuditKey(t)
	now := epoch.Add(time.Hour + 123456789)
	svc := service.New(s, func() time.Time { return now }, service.WithAuditKey(key))
	apiKey := kycreview.APIKey{ApplicationID: f.app.ID}

	p, err := svc.Proof(ctx, apiKey, strings.ToUpper(sess.ID))
	if err != nil {
		t.Fatal(err)
	}
	if p.SessionID != sess.ID || p.Seq != 2 || !p.VerifySignature(key.Public()) || !p.CreatedAt.Equal(now.Truncate(time.Microsecond)) {
		t.Errorf("Proof = %+v", p)
	}
	back, err := p.JSON().Checkpoint()
	if err != nil || !back.VerifySignature(key.Public()) {
		t.Errorf("proof JSON round trip: %+v, %v", back, err)
	}
	if p, err := svc.Proof(ctx, apiKey, empty.ID); err != nil || p.Seq != 0 || !bytes.Equal(p.Head, kycreview.GenesisHash()) {
		t.Errorf("Proof of an empty chain = %+v, %v", p, err)
	}
	for name, id := range map[string]string{"KYB": kyb.ID, "malformed": "nope", "missing": uuid.NewString()} {
		if _, err := svc.Proof(ctx, apiKey, id); err != kycreview.ErrSessionNotFound {
			t.Errorf("Proof of a %s session: %v", name, err)
		}
	}
	if _, err := svc.Proof(ctx, kycreview.APIKey{ApplicationID: stranger.app.ID}, sess.ID); err != kycreview.ErrSessionNotFound {
		t.Errorf("Proof of another application's session: %v", err)
	}
	unsigned, err := service.New(s, time.Now).Proof(ctx, apiKey, sess.ID)
	if err != nil || unsigned.Signature != nil || unsigned.Seq != 2 || unsigned.Head == nil {
		t.Errorf("Proof without a key = %+v, %v", unsigned, err)
	}
}

// dropTriggers removes the feed's append-only triggers, as someone with the
// database owner's rights can.
func dropTriggers(t *testing.T, b Backend, s service.Store) {
	t.Helper()
	ctx := context.Background()
	sqlite := `DROP TRIGGER activities_no_update; DROP TRIGGER activities_no_delete`
	pg := `DROP TRIGGER activities_no_update_delete ON activities; DROP TRIGGER activities_no_truncate ON activities`
	if err := b.Exec(ctx, s, sqlite); err != nil {
		if err2 := b.Exec(ctx, s, pg); err2 != nil {
			t.Fatalf("drop triggers: %v; %v", err, err2)
		}
	}
}

// testAuditAttacks plays an attacker with direct database access: with the
// triggers dropped, each way of rewriting history is caught by verification
// at the first row it touched.
func testAuditAttacks(t *testing.T, b Backend) {
	type attack struct {
		name string
		sql  string // %[1]s is the session's pk subquery
		// wantSeq is the seq verification must report; receipt says the
		// attack is caught only against a receipt or checkpoint taken before.
		wantSeq int64
		receipt bool
	}
	attacks := []attack{
		{"changed comment", `UPDATE activities SET comment = 'forged',
			entry = replace(entry, '"comment":"note 2"', '"comment":"forged"') WHERE session_pk = %[1]s AND seq = 2`, 2, false},
		{"changed comment column only", `UPDATE activities SET comment = 'forged' WHERE session_pk = %[1]s AND seq = 2`, 2, false},
		{"changed feed entry only", `UPDATE activities SET entry = replace(entry, '"comment":"note 2"', '"comment":"forged"')
			WHERE session_pk = %[1]s AND seq = 2`, 2, false},
		{"changed status", `UPDATE activities SET new_status = 'Approved',
			entry = replace(entry, '"new_status":"Declined"', '"new_status":"Approved"') WHERE session_pk = %[1]s AND seq = 2`, 2, false},
		{"changed time", `UPDATE activities SET created_at = (SELECT created_at FROM activities WHERE session_pk = %[1]s AND seq = 1)
			WHERE session_pk = %[1]s AND seq = 2`, 2, false},
		{"deleted row", `DELETE FROM activities WHERE session_pk = %[1]s AND seq = 3`, 3, false},
		{"deleted row, numbering closed up", `DELETE FROM activities WHERE session_pk = %[1]s AND seq = 3;
			UPDATE activities SET seq = -seq WHERE session_pk = %[1]s AND seq > 3;
			UPDATE activities SET seq = -seq - 1 WHERE session_pk = %[1]s AND seq < 0;
			UPDATE sessions SET activity_count = activity_count - 1,
				chain_head = (SELECT hash FROM activities WHERE session_pk = %[1]s AND seq = 4) WHERE pk = %[1]s`, 3, false},
		{"two rows swapped", `UPDATE activities SET seq = -seq WHERE session_pk = %[1]s AND seq IN (2, 3);
			UPDATE activities SET seq = CASE seq WHEN -2 THEN 3 ELSE 2 END WHERE session_pk = %[1]s AND seq < 0`, 2, false},
		{"inserted row", `UPDATE activities SET seq = -seq WHERE session_pk = %[1]s AND seq >= 3;
			UPDATE activities SET seq = -seq + 1 WHERE session_pk = %[1]s AND seq < 0;
			INSERT INTO activities (id, session_pk, seq, activity_type, actor_type, actor_id, actor_display, actor_email,
				previous_status, new_status, comment, mentioned_emails, previous_value, new_value, changed_fields, metadata,
				created_at, entry, hash)
			SELECT '` + uuid.NewString() + `', session_pk, 3, activity_type, actor_type, actor_id, actor_display, actor_email,
				previous_status, new_status, 'inserted', mentioned_emails, previous_value, new_value, changed_fields, metadata,
				created_at, entry, hash FROM activities WHERE session_pk = %[1]s AND seq = 2;
			UPDATE sessions SET activity_count = activity_count + 1 WHERE pk = %[1]s`, 3, false},
		{"row appended without its hash", `INSERT INTO activities (id, session_pk, seq, activity_type, actor_type, actor_display,
				mentioned_emails, changed_fields, created_at, entry)
			SELECT '` + uuid.NewString() + `', session_pk, 6, activity_type, actor_type, actor_display,
				mentioned_emails, changed_fields, created_at, entry FROM activities WHERE session_pk = %[1]s AND seq = 5;
			UPDATE sessions SET activity_count = 6 WHERE pk = %[1]s`, 6, false},
		{"tail truncated, session row left", `DELETE FROM activities WHERE session_pk = %[1]s AND seq >= 4`, 4, false},
		{"tail truncated, session row mended", `DELETE FROM activities WHERE session_pk = %[1]s AND seq >= 4;
			UPDATE sessions SET activity_count = 3,
				chain_head = (SELECT hash FROM activities WHERE session_pk = %[1]s AND seq = 3) WHERE pk = %[1]s`, 4, true},
		{"whole session removed", `DELETE FROM activities WHERE session_pk = %[1]s;
			DELETE FROM sessions WHERE pk = %[1]s`, 1, true},
	}
	for _, at := range attacks {
		t.Run(at.name, func(t *testing.T) {
			s := b.Open(t)
			ctx := context.Background()
			f := newFixture(t, s, "attacked")
			sess := chainedSession(t, s, f, 5)
			bystander := chainedSession(t, s, f, 5)
			key := newAuditKey(t)
			svc := service.New(s, time.Now, service.WithAuditKey(key))
			apiKey := kycreview.APIKey{ApplicationID: f.app.ID}

			receipt, err := svc.Proof(ctx, apiKey, sess.ID)
			if err != nil {
				t.Fatal(err)
			}
			if rep, err := svc.VerifyChains(ctx, f.app.ID, "", []kycreview.Checkpoint{receipt}, nil); err != nil || !rep.OK {
				t.Fatalf("before the attack: %+v, %v", rep, err)
			}

			dropTriggers(t, b, s)
			pk := fmt.Sprintf(`(SELECT pk FROM sessions WHERE id = '%s')`, sess.ID)
			if err := b.Exec(ctx, s, fmt.Sprintf(at.sql, pk)); err != nil {
				t.Fatalf("attack: %v", err)
			}

			want := kycreview.ChainBreak{SessionID: sess.ID, Seq: at.wantSeq}
			check := func(what string, rep service.AuditReport, err error, caught bool) {
				t.Helper()
				if err != nil {
					t.Fatalf("%s: %v", what, err)
				}
				if !caught {
					if !rep.OK {
						t.Errorf("%s: broken %+v, want the attack to pass unnoticed here", what, rep.Broken)
					}
					return
				}
				if rep.OK || len(rep.Broken) != 1 || rep.Broken[0].SessionID != want.SessionID || rep.Broken[0].Seq != want.Seq {
					t.Fatalf("%s: %+v, want one break at seq %d", what, rep, want.Seq)
				}
				t.Logf("%s: seq %d: %s", what, rep.Broken[0].Seq, rep.Broken[0].Reason)
			}
			rep, err := svc.VerifyChains(ctx, f.app.ID, "", nil, nil)
			check("verify", rep, err, !at.receipt)
			rep, err = svc.VerifyChains(ctx, "", sess.ID, []kycreview.Checkpoint{receipt}, nil)
			check("verify against a receipt", rep, err, true)
			rep, err = svc.VerifyChains(ctx, "", bystander.ID, nil, nil)
			check("the other session", rep, err, false)
		})
	}
}

// testAuditCheckpointCatchesTruncation: a checkpoint stored by the service
// before rows are cut from a chain's tail catches the cut, even when the
// attacker mends the session row and no customer kept a receipt.
func testAuditCheckpointCatchesTruncation(t *testing.T, b Backend) {
	s := b.Open(t)
	ctx := context.Background()
	f := newFixture(t, s, "truncated")
	sess := chainedSession(t, s, f, 4)
	key := newAuditKey(t)
	svc := service.New(s, time.Now, service.WithAuditKey(key))
	if n, err := svc.Checkpoint(ctx); err != nil || n != 1 {
		t.Fatalf("Checkpoint = %d, %v", n, err)
	}
	dropTriggers(t, b, s)
	pk := fmt.Sprintf(`(SELECT pk FROM sessions WHERE id = '%s')`, sess.ID)
	if err := b.Exec(ctx, s, fmt.Sprintf(`DELETE FROM activities WHERE session_pk = %[1]s AND seq = 4;
		UPDATE sessions SET activity_count = 3, chain_head = (SELECT hash FROM activities WHERE session_pk = %[1]s AND seq = 3)
		WHERE pk = %[1]s`, pk)); err != nil {
		t.Fatal(err)
	}
	rep, err := svc.VerifyChains(ctx, "", sess.ID, nil, nil)
	if err != nil || rep.OK || len(rep.Broken) != 1 || rep.Broken[0].Seq != 4 {
		t.Fatalf("verify = %+v, %v; want a break at seq 4", rep, err)
	}
	// Without the key the checkpoint cannot be trusted, and proves nothing.
	rep, err = service.New(s, time.Now).VerifyChains(ctx, "", sess.ID, nil, nil)
	if err != nil || !rep.OK || rep.UnverifiedCheckpoints != 1 {
		t.Fatalf("verify without the key = %+v, %v", rep, err)
	}
	// And with the key given as trusted explicitly, it does again.
	rep, err = service.New(s, time.Now).VerifyChains(ctx, "", sess.ID, nil, []ed25519.PublicKey{key.Public()})
	if err != nil || rep.OK {
		t.Fatalf("verify with the key trusted = %+v, %v", rep, err)
	}
}

func newAuditKey(t *testing.T) *kycreview.AuditKey {
	t.Helper()
	pemBytes, err := kycreview.GenerateAuditKey()
	if err != nil {
		t.Fatal(err)
	}
	k, err := kycreview.ParseAuditKey(pemBytes)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// unmigrateAuditChain takes a database back to before migration 0005: the
// same SQL on both backends.
const unmigrateAuditChain = `DROP TABLE audit_checkpoints;
DROP INDEX sessions_checkpoint_due;
ALTER TABLE activities DROP COLUMN hash;
ALTER TABLE sessions DROP COLUMN chain_head;
ALTER TABLE sessions DROP COLUMN checkpoint_seq;
DELETE FROM schema_migrations WHERE version = 5`

// AuditMigration checks that migration 0005 chains the rows stored before
// it. Rows are written through the service into s, the database is taken
// back to its state before 0005 (the columns dropped), s is closed, and
// reopen opens the same database again, which applies 0005 with its Go
// step: every row must get the hash the service gave it, every session its
// head, and the append-only trigger must be back.
func AuditMigration(t *testing.T, b Backend, s service.Store, reopen func(t *testing.T) service.Store) {
	ctx := context.Background()
	svc := service.New(s, time.Now)
	app, err := svc.CreateApplication(ctx, "before the chain")
	if err != nil {
		t.Fatal(err)
	}
	key, err := svc.Authenticate(ctx, app.Token)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i := range 3 {
		sess, err := svc.CreateSession(ctx, key, service.SessionInput{WorkflowID: app.Workflows[kycreview.KindUser].ID})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, sess.ID)
		for j := range i * 2 {
			st := []kycreview.Status{kycreview.StatusInReview, kycreview.StatusApproved, kycreview.StatusDeclined}[j%3]
			if _, err := svc.Review(ctx, key, sess.ID, kycreview.Change{NewStatus: &st, Comment: ptr(fmt.Sprintf("«note» %d\n", j))}, nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	before := map[string]service.ChainData{}
	if err := svc.WalkChains(ctx, app.Application.ID, "", func(d service.ChainData) error {
		before[d.Head.SessionID] = d
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	if err := b.Exec(ctx, s, unmigrateAuditChain); err != nil {
		t.Fatalf("unmigrate: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = reopen(t)
	svc = service.New(s, time.Now)

	rep, err := svc.VerifyChains(ctx, app.Application.ID, "", nil, nil)
	if err != nil || !rep.OK || rep.Sessions != 3 || rep.Rows != 6 {
		t.Fatalf("after the migration: %+v, %v", rep, err)
	}
	err = svc.WalkChains(ctx, app.Application.ID, "", func(d service.ChainData) error {
		want := before[d.Head.SessionID]
		if !bytes.Equal(d.Head.Hash, want.Head.Hash) || len(d.Rows) != len(want.Rows) {
			t.Errorf("session %s: head %x, want %x", d.Head.SessionID, d.Head.Hash, want.Head.Hash)
			return nil
		}
		for i, a := range d.Rows {
			if !bytes.Equal(a.Hash, want.Rows[i].Hash) {
				t.Errorf("session %s seq %d: hash %x, want %x", d.Head.SessionID, a.Seq, a.Hash, want.Rows[i].Hash)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// New rows chain on from the migrated heads.
	st := kycreview.StatusApproved
	if _, err := svc.Review(ctx, key, ids[2], kycreview.Change{NewStatus: &st}, nil); err != nil {
		t.Fatal(err)
	}
	if rep, err := svc.VerifyChains(ctx, app.Application.ID, "", nil, nil); err != nil || !rep.OK || rep.Rows != 7 {
		t.Fatalf("after a new row: %+v, %v", rep, err)
	}
	if err := b.Exec(ctx, s, `UPDATE activities SET comment = 'x'`); err == nil ||
		!strings.Contains(err.Error(), "append-only") {
		t.Fatalf("UPDATE after the migration: %v, want the append-only trigger's refusal", err)
	}
}
