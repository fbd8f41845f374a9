package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"github.com/kycreview/kycreview"
	"github.com/kycreview/kycreview/internal/service"
)

func testActivityRoundTrip(t *testing.T, b Backend) {
	s, ctx := b.Open(t), context.Background()
	a := newFixture(t, s, "a")
	sess := a.newSession(t, s, kycreview.KindUser)
	full := appendRow(t, s, sess, kycreview.Activity{
		Type:            kycreview.ActivityStatusUpdated,
		Actor:           kycreview.Actor{Type: kycreview.ActorConsoleUser, ID: uuid.NewString(), Display: "Ana Lead", Email: ptr("Ana@example.com")},
		PreviousStatus:  ptr(kycreview.StatusInReview),
		NewStatus:       ptr(kycreview.StatusApproved),
		Comment:         ptr("Grüße, <b>ok</b> \"quoted\" ✓"),
		MentionedEmails: []string{"Bob@example.com", "carol@example.com"},
		PreviousValue:   json.RawMessage(`{"status":"In Review"}`),
		NewValue:        json.RawMessage(`{"status":"Approved"}`),
		ChangedFields:   []string{"status"},
		Metadata:        json.RawMessage(`{"system_event":"DETAIL_VIEWED","n":1.0}`),
		CreatedAt:       epoch.Add(123 * time.Microsecond),
	})
	bare := appendRow(t, s, sess, kycreview.Activity{
		Type:            "AML_ONGOING_MATCH",
		Actor:           kycreview.Actor{Type: kycreview.ActorSystem, Display: "System"},
		MentionedEmails: []string{},
		ChangedFields:   []string{},
		CreatedAt:       epoch.Add(time.Second),
	})
	read(t, s, func(tx service.Tx) error {
		got, err := tx.ListActivities(ctx, full.SessionPK, kycreview.FeedQuery{Ordering: []kycreview.OrderTerm{{Field: "created_at"}}, Limit: 10})
		if err != nil {
			return err
		}
		if diff := cmp.Diff([]kycreview.Activity{full, bare}, got, jsonEqual); diff != "" {
			t.Errorf("activity round trip (-want +got):\n%s", diff)
		}
		// The stored entry is the row as the API renders it, byte for byte.
		page, err := tx.FeedPage(ctx, sess.ApplicationID, sess.ID, kycreview.FeedQuery{Ordering: []kycreview.OrderTerm{{Field: "created_at"}}, Limit: 10})
		if err != nil {
			return err
		}
		entries := page.Entries
		for i, a := range []kycreview.Activity{full, bare} {
			want, err := a.EntryJSON()
			if err != nil {
				return err
			}
			if i >= len(entries) || string(entries[i]) != string(want) {
				t.Errorf("entry %d: got %s\nwant %s", i, entries, want)
			}
		}
		return nil
	})
}

// jsonEqual compares JSON values by meaning: a backend may store JSON in a
// normalised form (PostgreSQL's jsonb does), while the API renders values
// from it.
var jsonEqual = cmp.Comparer(func(x, y json.RawMessage) bool {
	if x == nil || y == nil {
		return x == nil && y == nil
	}
	var a, b any
	return json.Unmarshal(x, &a) == nil && json.Unmarshal(y, &b) == nil && cmp.Equal(a, b)
})

// orderingRows writes a feed whose rows differ in every orderable field,
// with some ties and NULLs, and returns their comments in insertion order.
func orderingRows(t *testing.T, s service.Store, sess kycreview.Session) {
	rows := []struct {
		comment *string
		email   *string
		status  *kycreview.Status
		actor   kycreview.ActorType
		at      time.Duration
	}{
		{ptr("b"), ptr("z@example.com"), ptr(kycreview.StatusInReview), kycreview.ActorSystem, 0},
		{nil, nil, ptr(kycreview.StatusApproved), kycreview.ActorAPIKey, time.Second},
		{ptr("a"), ptr("y@example.com"), nil, kycreview.ActorConsoleUser, time.Second}, // same time as the row before
		{ptr("B"), nil, ptr(kycreview.StatusDeclined), kycreview.ActorAPIKey, 2 * time.Second},
	}
	for i, r := range rows {
		appendRow(t, s, sess, kycreview.Activity{
			ID:        fmt.Sprintf("0000000%d-0000-4000-8000-000000000000", 4-i), // uuid order is the reverse of insertion
			Type:      kycreview.ActivityStatusUpdated,
			Actor:     kycreview.Actor{Type: r.actor, Display: string(r.actor), Email: r.email},
			NewStatus: r.status,
			Comment:   r.comment,
			CreatedAt: epoch.Add(r.at),
		})
	}
}

func testFeedOrdering(t *testing.T, b Backend) {
	s, ctx := b.Open(t), context.Background()
	a := newFixture(t, s, "a")
	sess := a.newSession(t, s, kycreview.KindUser)
	orderingRows(t, s, sess)
	cur := func() kycreview.Session {
		var out kycreview.Session
		read(t, s, func(tx service.Tx) error {
			var err error
			out, err = tx.FindSession(ctx, a.app.ID, sess.ID)
			return err
		})
		return out
	}()
	// Results are given as seq numbers (1-based insertion order).
	tests := []struct {
		name  string
		order []kycreview.OrderTerm
		want  []int64
	}{
		{"default is newest first, ties newest first", nil, []int64{4, 3, 2, 1}},
		{"created_at ascending, ties in insertion order", []kycreview.OrderTerm{{Field: "created_at"}}, []int64{1, 2, 3, 4}},
		{"uuid", []kycreview.OrderTerm{{Field: "uuid"}}, []int64{4, 3, 2, 1}},
		{"-uuid", []kycreview.OrderTerm{{Field: "uuid", Desc: true}}, []int64{1, 2, 3, 4}},
		// Byte order: "B" < "a" < "b"; NULL sorts last ascending and first descending.
		{"comment", []kycreview.OrderTerm{{Field: "comment"}}, []int64{4, 3, 1, 2}},
		{"-comment", []kycreview.OrderTerm{{Field: "comment", Desc: true}}, []int64{2, 1, 3, 4}},
		{"actor_email with ties", []kycreview.OrderTerm{{Field: "actor_email"}}, []int64{3, 1, 2, 4}},
		{"-actor_email with ties", []kycreview.OrderTerm{{Field: "actor_email", Desc: true}}, []int64{4, 2, 1, 3}},
		{"new_status", []kycreview.OrderTerm{{Field: "new_status"}}, []int64{2, 4, 1, 3}},
		{"actor_type then -created_at", []kycreview.OrderTerm{{Field: "actor_type"}, {Field: "created_at", Desc: true}}, []int64{4, 2, 3, 1}},
		{"-actor_type", []kycreview.OrderTerm{{Field: "actor_type", Desc: true}}, []int64{1, 3, 4, 2}},
		{"previous_status all null keeps insertion order", []kycreview.OrderTerm{{Field: "previous_status"}}, []int64{1, 2, 3, 4}},
		{"activity_type all equal, descending", []kycreview.OrderTerm{{Field: "activity_type", Desc: true}}, []int64{4, 3, 2, 1}},
		{"actor_display", []kycreview.OrderTerm{{Field: "actor_display"}}, []int64{2, 4, 3, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []int64
			read(t, s, func(tx service.Tx) error {
				rows, err := tx.ListActivities(ctx, cur.PK, kycreview.FeedQuery{Ordering: tt.order, Limit: 50})
				for _, r := range rows {
					got = append(got, r.Seq)
				}
				return err
			})
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("order (-want +got):\n%s", diff)
			}
			// The API's page must come out in the same order.
			if diff := cmp.Diff(tt.want, feedPageSeqs(t, s, sess, kycreview.FeedQuery{Ordering: tt.order, Limit: 50})); diff != "" {
				t.Errorf("FeedPage order (-want +got):\n%s", diff)
			}
		})
	}
}

// feedPageSeqs reads a page with FeedPage and returns its rows' seq numbers,
// taken from the rendered entries by matching them to the stored rows.
func feedPageSeqs(t *testing.T, s service.Store, sess kycreview.Session, q kycreview.FeedQuery) []int64 {
	t.Helper()
	ctx := context.Background()
	var got []int64
	read(t, s, func(tx service.Tx) error {
		page, err := tx.FeedPage(ctx, sess.ApplicationID, sess.ID, q)
		if err != nil {
			return err
		}
		cur, err := tx.FindSession(ctx, sess.ApplicationID, sess.ID)
		if err != nil {
			return err
		}
		if page.Count != int(cur.ActivityCount) || page.Kind != cur.Kind {
			t.Errorf("FeedPage count %d kind %q, want %d %q", page.Count, page.Kind, cur.ActivityCount, cur.Kind)
		}
		all, err := tx.ListActivities(ctx, cur.PK, kycreview.FeedQuery{Limit: 1000})
		if err != nil {
			return err
		}
		bySeq := map[string]int64{}
		for _, a := range all {
			e, err := a.EntryJSON()
			if err != nil {
				return err
			}
			bySeq[string(e)] = a.Seq
		}
		for _, e := range page.Entries {
			seq, ok := bySeq[string(e)]
			if !ok {
				t.Errorf("FeedPage entry matches no stored row: %s", e)
			}
			got = append(got, seq)
		}
		return nil
	})
	return got
}

func testFeedPaging(t *testing.T, b Backend) {
	s, ctx := b.Open(t), context.Background()
	a := newFixture(t, s, "a")
	sess := a.newSession(t, s, kycreview.KindUser)
	other := a.newSession(t, s, kycreview.KindUser)
	for i := 0; i < 7; i++ {
		// All rows share one time, so only the tie-break orders them.
		appendRow(t, s, sess, kycreview.Activity{Type: kycreview.ActivityComment, Actor: kycreview.Actor{Type: kycreview.ActorSystem, Display: "System"}, CreatedAt: epoch})
	}
	appendRow(t, s, other, kycreview.Activity{Type: kycreview.ActivityComment, Actor: kycreview.Actor{Type: kycreview.ActorSystem, Display: "System"}, CreatedAt: epoch})
	var pk int64
	read(t, s, func(tx service.Tx) error {
		cur, err := tx.FindSession(ctx, a.app.ID, sess.ID)
		pk = cur.PK
		if err == nil && cur.ActivityCount != 7 {
			t.Errorf("ActivityCount = %d, want 7", cur.ActivityCount)
		}
		return err
	})
	var walked []int64
	for offset := 0; offset < 9; offset += 3 {
		read(t, s, func(tx service.Tx) error {
			rows, err := tx.ListActivities(ctx, pk, kycreview.FeedQuery{Limit: 3, Offset: offset})
			for _, r := range rows {
				walked = append(walked, r.Seq)
			}
			return err
		})
	}
	if diff := cmp.Diff([]int64{7, 6, 5, 4, 3, 2, 1}, walked); diff != "" {
		t.Errorf("pages walked (-want +got):\n%s", diff)
	}
	var fed []int64
	for offset := 0; offset < 9; offset += 3 {
		fed = append(fed, feedPageSeqs(t, s, sess, kycreview.FeedQuery{Limit: 3, Offset: offset})...)
	}
	if diff := cmp.Diff([]int64{7, 6, 5, 4, 3, 2, 1}, fed); diff != "" {
		t.Errorf("FeedPage pages walked (-want +got):\n%s", diff)
	}
}

// testFeedPage covers what FeedPage reads besides the rows: a session with
// no rows, an offset past the end, and the sessions it must not find.
func testFeedPage(t *testing.T, b Backend) {
	s, ctx := b.Open(t), context.Background()
	a, other := newFixture(t, s, "a"), newFixture(t, s, "b")
	empty := a.newSession(t, s, kycreview.KindUser)
	kyb := a.newSession(t, s, kycreview.KindBusiness)
	full := a.newSession(t, s, kycreview.KindUser)
	for i := 0; i < 3; i++ {
		appendRow(t, s, full, kycreview.Activity{Type: kycreview.ActivityComment, Actor: kycreview.Actor{Type: kycreview.ActorSystem, Display: "System"}, CreatedAt: epoch.Add(time.Duration(i) * time.Second)})
	}
	gone := a.newSession(t, s, kycreview.KindUser)
	write(t, s, func(tx service.Tx) error {
		cur, err := tx.FindSession(ctx, a.app.ID, gone.ID)
		if err != nil {
			return err
		}
		return tx.DeleteSession(ctx, cur.PK, epoch)
	})
	q := kycreview.FeedQuery{Limit: 20}
	tests := []struct {
		name      string
		app, id   string
		q         kycreview.FeedQuery
		kind      kycreview.Kind
		count, n  int
		wantFound bool
	}{
		{"no rows", a.app.ID, empty.ID, q, kycreview.KindUser, 0, 0, true},
		{"business session", a.app.ID, kyb.ID, q, kycreview.KindBusiness, 0, 0, true},
		{"three rows", a.app.ID, full.ID, q, kycreview.KindUser, 3, 3, true},
		{"offset inside", a.app.ID, full.ID, kycreview.FeedQuery{Limit: 20, Offset: 2}, kycreview.KindUser, 3, 1, true},
		{"offset past the end", a.app.ID, full.ID, kycreview.FeedQuery{Limit: 20, Offset: 3}, kycreview.KindUser, 3, 0, true},
		{"offset far past the end", a.app.ID, full.ID, kycreview.FeedQuery{Limit: 20, Offset: 1000}, kycreview.KindUser, 3, 0, true},
		{"another application's session", other.app.ID, full.ID, q, "", 0, 0, false},
		{"deleted session", a.app.ID, gone.ID, q, "", 0, 0, false},
		{"unknown session", a.app.ID, uuid.NewString(), q, "", 0, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			read(t, s, func(tx service.Tx) error {
				page, err := tx.FeedPage(ctx, tt.app, tt.id, tt.q)
				if !tt.wantFound {
					wantCode(t, err, kycreview.ENOTFOUND)
					return nil
				}
				if err != nil {
					return err
				}
				if page.Kind != tt.kind || page.Count != tt.count || len(page.Entries) != tt.n {
					t.Errorf("got kind %q count %d, %d entries; want %q %d, %d", page.Kind, page.Count, len(page.Entries), tt.kind, tt.count, tt.n)
				}
				return nil
			})
		})
	}
}

func testStatusActivities(t *testing.T, b Backend) {
	s, ctx := b.Open(t), context.Background()
	a := newFixture(t, s, "a")
	sess := a.newSession(t, s, kycreview.KindUser)
	actor := kycreview.Actor{Type: kycreview.ActorAPIKey, Display: "API Client"}
	appendRow(t, s, sess, kycreview.Activity{Type: kycreview.ActivityStatusUpdated, Actor: actor, NewStatus: ptr(kycreview.StatusInReview), CreatedAt: epoch})
	appendRow(t, s, sess, kycreview.Activity{Type: kycreview.ActivityComment, Actor: actor, Comment: ptr("note"), CreatedAt: epoch.Add(time.Second)})
	appendRow(t, s, sess, kycreview.Activity{Type: kycreview.ActivityStatusUpdated, Actor: actor, NewStatus: ptr(kycreview.StatusApproved), CreatedAt: epoch.Add(2 * time.Second)})
	read(t, s, func(tx service.Tx) error {
		cur, err := tx.FindSession(ctx, a.app.ID, sess.ID)
		if err != nil {
			return err
		}
		if cur.Status != kycreview.StatusApproved {
			t.Errorf("status = %q", cur.Status)
		}
		rows, err := tx.ListStatusActivities(ctx, cur.PK)
		var got []int64
		for _, r := range rows {
			got = append(got, r.Seq)
		}
		if diff := cmp.Diff([]int64{1, 3}, got); diff != "" {
			t.Errorf("status rows (-want +got):\n%s", diff)
		}
		return err
	})
}

func testDuplicateSeq(t *testing.T, b Backend) {
	s, ctx := b.Open(t), context.Background()
	a := newFixture(t, s, "a")
	sess := a.newSession(t, s, kycreview.KindUser)
	row := appendRow(t, s, sess, kycreview.Activity{Type: kycreview.ActivityComment, Actor: kycreview.Actor{Type: kycreview.ActorSystem, Display: "System"}, CreatedAt: epoch})
	err := s.WriteTx(ctx, func(tx service.Tx) error {
		dup := row
		dup.ID, dup.PK = uuid.NewString(), 0
		return tx.InsertActivity(ctx, &dup)
	})
	wantCode(t, err, kycreview.ECONFLICT)
}

func testAppendOnly(t *testing.T, b Backend) {
	s, ctx := b.Open(t), context.Background()
	a := newFixture(t, s, "a")
	sess := a.newSession(t, s, kycreview.KindUser)
	row := appendRow(t, s, sess, kycreview.Activity{Type: kycreview.ActivityStatusUpdated, Actor: kycreview.Actor{Type: kycreview.ActorAPIKey, Display: "API Client"},
		NewStatus: ptr(kycreview.StatusApproved), Comment: ptr("original"), CreatedAt: epoch})
	for _, q := range []string{
		"UPDATE activities SET comment = 'forged'",
		"UPDATE activities SET new_status = 'Declined' WHERE id = '" + row.ID + "'",
		"DELETE FROM activities",
	} {
		if err := b.Exec(ctx, s, q); err == nil {
			t.Errorf("%s: the database accepted it", q)
		}
	}
	read(t, s, func(tx service.Tx) error {
		rows, err := tx.ListActivities(ctx, row.SessionPK, kycreview.FeedQuery{Limit: 10})
		if err == nil && (len(rows) != 1 || *rows[0].Comment != "original" || *rows[0].NewStatus != kycreview.StatusApproved) {
			t.Errorf("feed after tampering attempts: %+v", rows)
		}
		return err
	})
}

func testRead(t *testing.T, b Backend) {
	s, ctx := b.Open(t), context.Background()
	a := newFixture(t, s, "a")
	sess := a.newSession(t, s, kycreview.KindUser)
	appendRow(t, s, sess, kycreview.Activity{Type: kycreview.ActivityComment, Actor: kycreview.Actor{Type: kycreview.ActorSystem, Display: "System"}, CreatedAt: epoch})
	// Read sees what is committed, statement by statement.
	err := s.Read(ctx, func(tx service.Tx) error {
		cur, err := tx.FindSession(ctx, a.app.ID, sess.ID)
		if err != nil {
			return err
		}
		appendRow(t, s, sess, kycreview.Activity{Type: kycreview.ActivityComment, Actor: kycreview.Actor{Type: kycreview.ActorSystem, Display: "System"}, CreatedAt: epoch.Add(time.Second)})
		rows, err := tx.ListActivities(ctx, cur.PK, kycreview.FeedQuery{Limit: 10})
		if err == nil && (cur.ActivityCount != 1 || len(rows) != 2) {
			t.Errorf("Read: count %d then %d rows; each statement should see the latest commit", cur.ActivityCount, len(rows))
		}
		_, missing := tx.FindSession(ctx, a.app.ID, uuid.NewString())
		wantCode(t, missing, kycreview.ENOTFOUND)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	// ReadTx, by contrast, reads one snapshot.
	err = s.ReadTx(ctx, func(tx service.Tx) error {
		cur, err := tx.FindSession(ctx, a.app.ID, sess.ID)
		if err != nil {
			return err
		}
		appendRow(t, s, sess, kycreview.Activity{Type: kycreview.ActivityComment, Actor: kycreview.Actor{Type: kycreview.ActorSystem, Display: "System"}, CreatedAt: epoch.Add(2 * time.Second)})
		rows, err := tx.ListActivities(ctx, cur.PK, kycreview.FeedQuery{Limit: 10})
		if err == nil && (cur.ActivityCount != 2 || len(rows) != 2) {
			t.Errorf("ReadTx: count %d then %d rows; one snapshot should show 2 and 2", cur.ActivityCount, len(rows))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func testRollback(t *testing.T, b Backend) {
	s, ctx := b.Open(t), context.Background()
	a := newFixture(t, s, "a")
	sess := a.newSession(t, s, kycreview.KindUser)
	boom := kycreview.Errorf(kycreview.EINVALID, "boom")
	err := s.WriteTx(ctx, func(tx service.Tx) error {
		cur, err := tx.LockSession(ctx, a.app.ID, sess.ID)
		if err != nil {
			return err
		}
		row := kycreview.Activity{ID: uuid.NewString(), SessionPK: cur.PK, Seq: 1, Type: kycreview.ActivityStatusUpdated,
			Actor: kycreview.Actor{Type: kycreview.ActorAPIKey, Display: "API Client"}, NewStatus: ptr(kycreview.StatusApproved), CreatedAt: epoch}
		if err := tx.InsertActivity(ctx, &row); err != nil {
			return err
		}
		cur.Status, cur.ActivityCount = kycreview.StatusApproved, 1
		if err := tx.UpdateSession(ctx, cur); err != nil {
			return err
		}
		ev := kycreview.OutboxEvent{ID: uuid.NewString(), ApplicationID: a.app.ID, SessionPK: cur.PK, Seq: 1, Type: kycreview.EventStatusUpdated, CreatedAt: epoch}
		if err := tx.InsertOutboxEvent(ctx, &ev); err != nil {
			return err
		}
		return boom
	})
	if err != boom {
		t.Fatalf("WriteTx returned %v, want the function's error", err)
	}
	read(t, s, func(tx service.Tx) error {
		cur, err := tx.FindSession(ctx, a.app.ID, sess.ID)
		if err != nil {
			return err
		}
		if cur.Status != kycreview.StatusNotStarted || cur.ActivityCount != 0 {
			t.Errorf("session after rollback: %+v", cur)
		}
		rows, err := tx.ListActivities(ctx, cur.PK, kycreview.FeedQuery{Limit: 10})
		if len(rows) != 0 {
			t.Errorf("rows after rollback: %+v", rows)
		}
		return err
	})
}

func testOutboxAndNotifications(t *testing.T, b Backend) {
	s, ctx := b.Open(t), context.Background()
	a := newFixture(t, s, "a")
	sess := a.newSession(t, s, kycreview.KindUser)
	row := appendRow(t, s, sess, kycreview.Activity{Type: kycreview.ActivityComment, Actor: kycreview.Actor{Type: kycreview.ActorSystem, Display: "System"}, CreatedAt: epoch})
	user := kycreview.ConsoleUser{ID: uuid.NewString(), Email: "ana@example.com", FullName: "Ana", CreatedAt: epoch}
	ev := kycreview.OutboxEvent{ID: uuid.NewString(), ApplicationID: a.app.ID, SessionPK: row.SessionPK, Seq: row.Seq, Type: kycreview.EventStatusUpdated, CreatedAt: epoch.Add(time.Microsecond)}
	n := kycreview.Notification{ID: uuid.NewString(), ApplicationID: a.app.ID, ActivityPK: row.PK, UserID: user.ID, CreatedAt: epoch}
	write(t, s, func(tx service.Tx) error {
		if err := tx.CreateConsoleUser(ctx, user); err != nil {
			return err
		}
		if err := tx.InsertOutboxEvent(ctx, &ev); err != nil {
			return err
		}
		return tx.InsertNotification(ctx, &n)
	})
	if ev.PK == 0 || n.PK == 0 {
		t.Errorf("PKs not assigned: event %d notification %d", ev.PK, n.PK)
	}
	read(t, s, func(tx service.Tx) error {
		got, err := tx.FindOutboxEvent(ctx, ev.ID)
		if diff := cmp.Diff(ev, got); err == nil && diff != "" {
			t.Errorf("FindOutboxEvent (-want +got):\n%s", diff)
		}
		_, missing := tx.FindOutboxEvent(ctx, uuid.NewString())
		wantCode(t, missing, kycreview.ENOTFOUND)
		return err
	})
	// An event must name a row of its session's feed.
	orphan := ev
	orphan.ID, orphan.Seq = uuid.NewString(), 99
	err := s.WriteTx(ctx, func(tx service.Tx) error { return tx.InsertOutboxEvent(ctx, &orphan) })
	if err == nil {
		t.Error("an event for a feed row that does not exist was stored")
	}
	// One notification per user per row.
	dup := n
	dup.ID = uuid.NewString()
	err = s.WriteTx(ctx, func(tx service.Tx) error { return tx.InsertNotification(ctx, &dup) })
	wantCode(t, err, kycreview.ECONFLICT)
}
