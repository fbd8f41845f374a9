package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"github.com/kycreview/kycreview"
	"github.com/kycreview/kycreview/internal/service"
)

// Console users and notification delivery (issue 6).

// newUser stores a console user who belongs to the given applications.
func newUser(t *testing.T, s service.Store, email, name string, apps ...fixture) kycreview.ConsoleUser {
	t.Helper()
	ctx := context.Background()
	u := kycreview.ConsoleUser{ID: uuid.NewString(), Email: email, FullName: name, CreatedAt: epoch}
	write(t, s, func(tx service.Tx) error {
		if err := tx.CreateConsoleUser(ctx, u); err != nil {
			return err
		}
		for _, a := range apps {
			if err := tx.AddMember(ctx, a.app.ID, u.ID, epoch); err != nil {
				return err
			}
		}
		return nil
	})
	return u
}

// mention writes a feed row on sess with comment and a notification of it
// for each user, as a review does, and returns the notifications.
func mention(t *testing.T, s service.Store, sess kycreview.Session, at time.Time, comment string, users ...kycreview.ConsoleUser) []kycreview.Notification {
	t.Helper()
	status := kycreview.StatusApproved
	row := appendRow(t, s, sess, kycreview.Activity{
		Type: kycreview.ActivityStatusUpdated, Actor: kycreview.Actor{Type: kycreview.ActorAPIKey, Display: "API Client"},
		NewStatus: &status, Comment: &comment, CreatedAt: at,
	})
	var out []kycreview.Notification
	write(t, s, func(tx service.Tx) error {
		for _, u := range users {
			n := kycreview.Notification{ID: uuid.NewString(), ApplicationID: sess.ApplicationID, ActivityPK: row.PK, UserID: u.ID, CreatedAt: at}
			if err := tx.InsertNotification(context.Background(), &n); err != nil {
				return err
			}
			out = append(out, n)
		}
		return nil
	})
	return out
}

func claimNotifications(t *testing.T, s service.Store, now time.Time, token string, limit int) []kycreview.ClaimedNotification {
	t.Helper()
	var out []kycreview.ClaimedNotification
	write(t, s, func(tx service.Tx) error {
		var err error
		out, err = tx.ClaimNotifications(context.Background(), now, now.Add(lease), token, limit)
		return err
	})
	return out
}

func recordNotification(t *testing.T, s service.Store, o kycreview.NotificationOutcome) bool {
	t.Helper()
	var ok bool
	write(t, s, func(tx service.Tx) error {
		var err error
		ok, err = tx.RecordNotification(context.Background(), o)
		return err
	})
	return ok
}

func claimedIDs(cs []kycreview.ClaimedNotification) []string {
	out := []string{}
	for _, c := range cs {
		out = append(out, c.ID)
	}
	return out
}

func backlog(t *testing.T, s service.Store) kycreview.NotificationBacklog {
	t.Helper()
	var b kycreview.NotificationBacklog
	read(t, s, func(tx service.Tx) error {
		var err error
		b, err = tx.NotificationBacklog(context.Background())
		return err
	})
	return b
}

func testConsoleUserAdmin(t *testing.T, b Backend) {
	s, ctx := b.Open(t), context.Background()
	a, other := newFixture(t, s, "a"), newFixture(t, s, "b")
	ana := newUser(t, s, "Ana.Lead@Example.com", "Ana Lead", a, other)
	bob := newUser(t, s, "bob@example.com", "Bob", other)
	carol := newUser(t, s, "carol@example.com", "")

	read(t, s, func(tx service.Tx) error {
		got, err := tx.FindConsoleUser(ctx, ana.ID)
		if err != nil {
			return err
		}
		if diff := cmp.Diff(ana, got); diff != "" {
			t.Errorf("FindConsoleUser (-want +got):\n%s", diff)
		}
		got, err = tx.FindConsoleUserByEmail(ctx, "ana.lead@example.com")
		if err != nil {
			return err
		}
		if got.ID != ana.ID || got.Email != "Ana.Lead@Example.com" {
			t.Errorf("FindConsoleUserByEmail = %+v, want Ana with her stored address", got)
		}
		_, err = tx.FindConsoleUser(ctx, uuid.NewString())
		wantCode(t, err, kycreview.ENOTFOUND)
		_, err = tx.FindConsoleUser(ctx, "not-a-uuid")
		wantCode(t, err, kycreview.ENOTFOUND)
		_, err = tx.FindConsoleUserByEmail(ctx, "nobody@example.com")
		wantCode(t, err, kycreview.ENOTFOUND)
		return nil
	})

	apps := []string{a.app.ID, other.app.ID}
	if apps[0] > apps[1] {
		apps[0], apps[1] = apps[1], apps[0]
	}
	var all, ofA, ofNone []kycreview.ConsoleUserListing
	read(t, s, func(tx service.Tx) error {
		var err error
		if all, err = tx.ListConsoleUsers(ctx, ""); err != nil {
			return err
		}
		if ofA, err = tx.ListConsoleUsers(ctx, a.app.ID); err != nil {
			return err
		}
		ofNone, err = tx.ListConsoleUsers(ctx, uuid.NewString())
		return err
	})
	byID := func(ls []kycreview.ConsoleUserListing) map[string][]string {
		m := map[string][]string{}
		for _, l := range ls {
			m[l.User.ID] = l.Applications
		}
		return m
	}
	want := map[string][]string{ana.ID: apps, bob.ID: {other.app.ID}, carol.ID: {}}
	if diff := cmp.Diff(want, byID(all)); diff != "" {
		t.Errorf("ListConsoleUsers(all) applications (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string][]string{ana.ID: apps}, byID(ofA)); diff != "" {
		t.Errorf("ListConsoleUsers(a) (-want +got):\n%s", diff)
	}
	if len(ofNone) != 0 {
		t.Errorf("ListConsoleUsers(unknown application) = %+v", ofNone)
	}

	// Passwords: none until set.
	read(t, s, func(tx service.Tx) error {
		h, err := tx.PasswordHash(ctx, ana.ID)
		if h != "" {
			t.Errorf("a new user has password hash %q", h)
		}
		return err
	})
	write(t, s, func(tx service.Tx) error { return tx.SetPasswordHash(ctx, ana.ID, "$argon2id$test") })
	read(t, s, func(tx service.Tx) error {
		h, err := tx.PasswordHash(ctx, ana.ID)
		if h != "$argon2id$test" {
			t.Errorf("password hash = %q after setting it", h)
		}
		_, missing := tx.PasswordHash(ctx, uuid.NewString())
		wantCode(t, missing, kycreview.ENOTFOUND)
		return err
	})
	err := s.WriteTx(ctx, func(tx service.Tx) error { return tx.SetPasswordHash(ctx, uuid.NewString(), "x") })
	wantCode(t, err, kycreview.ENOTFOUND)

	// Disabling keeps the first time and skips the pending notifications.
	sess := a.newSession(t, s, kycreview.KindUser)
	mention(t, s, sess, epoch, "@ana.lead@example.com", ana)
	mention(t, s, sess, epoch.Add(time.Second), "@ana.lead@example.com again", ana)
	first, second := epoch.Add(time.Hour), epoch.Add(2*time.Hour)
	var skipped, again int
	write(t, s, func(tx service.Tx) error {
		var err error
		skipped, err = tx.DisableConsoleUser(ctx, ana.ID, first)
		if err != nil {
			return err
		}
		again, err = tx.DisableConsoleUser(ctx, ana.ID, second)
		return err
	})
	if skipped != 2 || again != 0 {
		t.Errorf("DisableConsoleUser skipped %d then %d notifications, want 2 then 0", skipped, again)
	}
	read(t, s, func(tx service.Tx) error {
		got, err := tx.FindConsoleUser(ctx, ana.ID)
		if got.DisabledAt == nil || !got.DisabledAt.Equal(first) {
			t.Errorf("disabled_at = %v, want %v", got.DisabledAt, first)
		}
		return err
	})
	if got := claimNotifications(t, s, epoch.Add(time.Minute), "c", 10); len(got) != 0 {
		t.Errorf("a disabled user's notifications were claimed: %v", claimedIDs(got))
	}
	_, err = func() (int, error) {
		var n int
		err := s.WriteTx(ctx, func(tx service.Tx) error {
			var err error
			n, err = tx.DisableConsoleUser(ctx, uuid.NewString(), first)
			return err
		})
		return n, err
	}()
	wantCode(t, err, kycreview.ENOTFOUND)

	// Removing a membership; twice is ENOTFOUND.
	write(t, s, func(tx service.Tx) error { return tx.RemoveMember(ctx, other.app.ID, bob.ID) })
	err = s.WriteTx(ctx, func(tx service.Tx) error { return tx.RemoveMember(ctx, other.app.ID, bob.ID) })
	wantCode(t, err, kycreview.ENOTFOUND)
	read(t, s, func(tx service.Tx) error {
		got, err := tx.FindMembersByEmail(ctx, other.app.ID, []string{"bob@example.com"})
		if len(got) != 0 {
			t.Errorf("a removed member is still found: %+v", got)
		}
		return err
	})
}

func testClaimNotifications(t *testing.T, b Backend) {
	s := b.Open(t)
	a := newFixture(t, s, "Acme Bank")
	ana := newUser(t, s, "Ana@Example.com", "Ana Lead", a)
	bob := newUser(t, s, "bob@example.com", "Bob", a)
	sess := a.newSession(t, s, kycreview.KindUser)
	n1 := mention(t, s, sess, epoch, "@ana@example.com @bob@example.com look", ana, bob)
	n2 := mention(t, s, sess, epoch.Add(time.Second), "@ana@example.com again", ana)

	// Never tried: due at once, oldest first; the limit holds.
	now := epoch.Add(time.Minute)
	first := claimNotifications(t, s, now, "one", 2)
	if diff := cmp.Diff([]string{n1[0].ID, n1[1].ID}, claimedIDs(first)); diff != "" {
		t.Fatalf("first claim (-want +got):\n%s", diff)
	}
	comment := "@ana@example.com @bob@example.com look"
	approved := kycreview.StatusApproved
	want := kycreview.ClaimedNotification{
		PK: n1[0].PK, ID: n1[0].ID, ApplicationID: a.app.ID, Application: "Acme Bank", UserID: ana.ID,
		Email: "Ana@Example.com", FullName: "Ana Lead", SessionID: sess.ID, SessionNumber: sess.Number,
		Actor: "API Client", Comment: &comment, NewStatus: &approved, At: epoch,
		Claim: "one", ClaimedUntil: now.Add(lease),
	}
	if diff := cmp.Diff(want, first[0]); diff != "" {
		t.Errorf("claimed notification (-want +got):\n%s", diff)
	}

	// A live claim is not taken again, up to its last microsecond.
	if got := claimNotifications(t, s, now.Add(lease-time.Microsecond), "two", 10); len(got) != 1 || got[0].ID != n2[0].ID {
		t.Fatalf("claim under live claims = %v, want only %s", claimedIDs(got), n2[0].ID)
	}
	// An expired one is: its notifier is presumed dead.
	later := now.Add(lease)
	again := claimNotifications(t, s, later, "three", 1)
	if diff := cmp.Diff([]string{n1[0].ID}, claimedIDs(again)); diff != "" {
		t.Fatalf("claim after expiry (-want +got):\n%s", diff)
	}
	// The dead notifier's outcome no longer applies; the live one's does.
	sent := later.Add(time.Second)
	if recordNotification(t, s, kycreview.NotificationOutcome{PK: n1[0].PK, Claim: "one", State: kycreview.NotificationSent, Attempts: 1, AttemptedAt: &later, SentAt: &sent}) {
		t.Error("an outcome under an expired, taken-over claim was applied")
	}
	if !recordNotification(t, s, kycreview.NotificationOutcome{PK: n1[0].PK, Claim: "three", State: kycreview.NotificationSent, Attempts: 1, AttemptedAt: &later, SentAt: &sent}) {
		t.Error("the outcome under the current claim was not applied")
	}
	if recordNotification(t, s, kycreview.NotificationOutcome{PK: n1[0].PK, Claim: "three", State: kycreview.NotificationFailed, Attempts: 2}) {
		t.Error("a second outcome under a released claim was applied")
	}

	// A transient failure: pending again, due at its retry time, with its
	// attempt count.
	retry := later.Add(time.Hour)
	bobs := claimNotifications(t, s, later, "four", 10)
	if diff := cmp.Diff([]string{n1[1].ID}, claimedIDs(bobs)); diff != "" {
		t.Fatalf("bob's claim after expiry (-want +got):\n%s", diff)
	}
	if !recordNotification(t, s, kycreview.NotificationOutcome{PK: n1[1].PK, Claim: "four", State: kycreview.NotificationPending,
		Attempts: 1, AttemptedAt: &later, NextAttemptAt: &retry, LastError: "421 try again later"}) {
		t.Fatal("the retry was not recorded")
	}
	// n2 is still under "two"'s live claim until now+2·lease.
	if got := claimNotifications(t, s, retry.Add(-time.Microsecond), "five", 10); len(got) != 1 || got[0].ID != n2[0].ID {
		t.Errorf("claim before the retry is due = %v, want only %s (expired claim)", claimedIDs(got), n2[0].ID)
	}
	due := claimNotifications(t, s, retry, "six", 10)
	if len(due) != 1 || due[0].ID != n1[1].ID || due[0].Attempts != 1 {
		t.Fatalf("claim at the retry time = %+v, want bob's with 1 attempt", due)
	}
	if !recordNotification(t, s, kycreview.NotificationOutcome{PK: n1[1].PK, Claim: "six", State: kycreview.NotificationFailed,
		Attempts: 2, AttemptedAt: &retry, LastError: "550 no such user"}) {
		t.Error("the permanent failure was not recorded")
	}
	if b := backlog(t, s); b.Pending != 1 || b.Failed != 1 || b.OldestPendingAt == nil || !b.OldestPendingAt.Equal(n2[0].CreatedAt) {
		t.Errorf("backlog = %+v, want 1 pending since %v and 1 failed", b, n2[0].CreatedAt)
	}
	// Sent and failed rows are never claimed again.
	if got := claimNotifications(t, s, retry.Add(24*time.Hour), "seven", 10); len(got) != 1 || got[0].ID != n2[0].ID {
		t.Errorf("final claim = %v, want only %s", claimedIDs(got), n2[0].ID)
	}
}

func testNotificationSkips(t *testing.T, b Backend) {
	s, ctx := b.Open(t), context.Background()
	a, other := newFixture(t, s, "a"), newFixture(t, s, "b")
	ana := newUser(t, s, "ana@example.com", "Ana", a, other)
	sess := a.newSession(t, s, kycreview.KindUser)
	otherSess := other.newSession(t, s, kycreview.KindUser)

	// A notification written after its user was disabled (the review read
	// the members just before the disable committed) is claimed with the
	// reason not to send it.
	var skipped int
	write(t, s, func(tx service.Tx) error {
		var err error
		skipped, err = tx.DisableConsoleUser(ctx, ana.ID, epoch)
		return err
	})
	if skipped != 0 {
		t.Errorf("skipped %d notifications of a user who had none", skipped)
	}
	late := mention(t, s, sess, epoch.Add(time.Second), "@ana@example.com", ana)
	got := claimNotifications(t, s, epoch.Add(time.Minute), "one", 10)
	if len(got) != 1 || got[0].ID != late[0].ID || got[0].SkipReason != "user disabled" {
		t.Fatalf("claim for a disabled user = %+v, want the row with reason %q", got, "user disabled")
	}
	if !recordNotification(t, s, kycreview.NotificationOutcome{PK: got[0].PK, Claim: "one", State: kycreview.NotificationSkipped, LastError: got[0].SkipReason}) {
		t.Error("the skip was not recorded")
	}

	// A deleted session's notifications are claimed with their reason too.
	bob := newUser(t, s, "bob@example.com", "Bob", a, other)
	n := mention(t, s, sess, epoch.Add(2*time.Second), "@bob@example.com", bob)
	write(t, s, func(tx service.Tx) error {
		cur, err := tx.FindSession(ctx, a.app.ID, sess.ID)
		if err != nil {
			return err
		}
		return tx.DeleteSession(ctx, cur.PK, epoch.Add(3*time.Second))
	})
	got = claimNotifications(t, s, epoch.Add(time.Minute), "two", 10)
	if len(got) != 1 || got[0].ID != n[0].ID || got[0].SkipReason != "session deleted" {
		t.Fatalf("claim on a deleted session = %+v, want the row with reason %q", got, "session deleted")
	}

	// Removing a member skips their pending notifications of that
	// application, even one claimed at this moment: the notifier's outcome
	// then no longer applies.
	kept := mention(t, s, otherSess, epoch.Add(4*time.Second), "@bob@example.com", bob)
	claimed := claimNotifications(t, s, epoch.Add(time.Minute).Add(lease), "three", 10)
	if len(claimed) != 2 {
		t.Fatalf("claimed %d notifications, want 2 (the expired one again, and the new one)", len(claimed))
	}
	write(t, s, func(tx service.Tx) error { return tx.RemoveMember(ctx, other.app.ID, bob.ID) })
	sent := epoch.Add(time.Minute).Add(lease + time.Second)
	for _, c := range claimed {
		if c.ID == kept[0].ID && recordNotification(t, s, kycreview.NotificationOutcome{PK: c.PK, Claim: "three", State: kycreview.NotificationSent, Attempts: 1, SentAt: &sent}) {
			t.Error("a notification skipped while claimed was then recorded as sent")
		}
	}
	if b := backlog(t, s); b.Pending != 1 || b.Failed != 0 {
		t.Errorf("backlog = %+v, want only the deleted session's row pending (claimed)", b)
	}
}

func testConcurrentNotificationClaims(t *testing.T, b Backend) {
	s, ctx := b.Open(t), context.Background()
	a := newFixture(t, s, "a")
	var users []kycreview.ConsoleUser
	for i := range 4 {
		users = append(users, newUser(t, s, fmt.Sprintf("u%d@example.com", i), "", a))
	}
	const rows = 10
	for i := range rows {
		mention(t, s, a.newSession(t, s, kycreview.KindUser), epoch.Add(time.Duration(i)*time.Millisecond), "hi", users...)
	}
	now := epoch.Add(time.Minute)
	var mu sync.Mutex
	seen := map[int64]string{}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Go(func() {
			token := fmt.Sprintf("notifier-%d", g)
			for {
				var got []kycreview.ClaimedNotification
				err := s.WriteTx(ctx, func(tx service.Tx) error {
					var err error
					got, err = tx.ClaimNotifications(ctx, now, now.Add(lease), token, 3)
					return err
				})
				if err != nil {
					errs <- err
					return
				}
				if len(got) == 0 {
					return
				}
				mu.Lock()
				for _, c := range got {
					if prev, ok := seen[c.PK]; ok {
						t.Errorf("notification %d claimed by %s and %s", c.PK, prev, c.Claim)
					}
					seen[c.PK] = c.Claim
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("ClaimNotifications: %v", err)
	}
	if rest := claimNotifications(t, s, now, "last", 100); len(rest) != 0 {
		t.Errorf("%d notifications left unclaimed after every notifier stopped", len(rest))
	}
	if len(seen) != 4*rows {
		t.Errorf("%d notifications claimed, want %d", len(seen), 4*rows)
	}
}

func testInbox(t *testing.T, b Backend) {
	s, ctx := b.Open(t), context.Background()
	a, other := newFixture(t, s, "a"), newFixture(t, s, "b")
	ana := newUser(t, s, "ana@example.com", "Ana", a, other)
	bob := newUser(t, s, "bob@example.com", "Bob", a)
	s1, s2 := a.newSession(t, s, kycreview.KindUser), a.newSession(t, s, kycreview.KindUser)
	s3 := other.newSession(t, s, kycreview.KindUser)
	n1 := mention(t, s, s1, epoch, "first", ana, bob)
	n2 := mention(t, s, s2, epoch.Add(time.Second), "second", ana)
	n3 := mention(t, s, s3, epoch.Add(2*time.Second), "third", ana)

	list := func(user kycreview.ConsoleUser, limit, offset int) ([]kycreview.InboxNotification, int, int) {
		t.Helper()
		var page []kycreview.InboxNotification
		var count, unread int
		read(t, s, func(tx service.Tx) error {
			var err error
			page, count, unread, err = tx.ListNotifications(ctx, user.ID, limit, offset)
			return err
		})
		return page, count, unread
	}
	ids := func(ns []kycreview.InboxNotification) []string {
		out := []string{}
		for _, n := range ns {
			out = append(out, n.ID)
		}
		return out
	}
	page, count, unread := list(ana, 10, 0)
	if diff := cmp.Diff([]string{n3[0].ID, n2[0].ID, n1[0].ID}, ids(page)); diff != "" || count != 3 || unread != 3 {
		t.Fatalf("Ana's notifications: count %d unread %d (-want +got):\n%s", count, unread, diff)
	}
	second := "second"
	want := kycreview.InboxNotification{ID: n2[0].ID, ApplicationID: a.app.ID, SessionID: s2.ID, SessionNumber: s2.Number,
		Actor: "API Client", Comment: &second, CreatedAt: epoch.Add(time.Second), State: kycreview.NotificationPending}
	if diff := cmp.Diff(want, page[1]); diff != "" {
		t.Errorf("inbox entry (-want +got):\n%s", diff)
	}
	if page, count, _ := list(ana, 1, 1); count != 3 || len(page) != 1 || page[0].ID != n2[0].ID {
		t.Errorf("page 2 of 1 = %v (count %d)", ids(page), count)
	}
	if page, count, _ := list(ana, 10, 5); count != 3 || len(page) != 0 {
		t.Errorf("past the end = %v (count %d)", ids(page), count)
	}

	// Mark one read; Bob's id in Ana's call, and a stranger's, change nothing.
	readAt := epoch.Add(time.Hour)
	var marked int
	write(t, s, func(tx service.Tx) error {
		var err error
		marked, err = tx.MarkNotificationsRead(ctx, ana.ID, []string{n2[0].ID, n1[1].ID, uuid.NewString()}, readAt)
		return err
	})
	if marked != 1 {
		t.Errorf("marked %d, want 1", marked)
	}
	page, _, unread = list(ana, 10, 0)
	if unread != 2 || page[1].ReadAt == nil || !page[1].ReadAt.Equal(readAt) || page[0].ReadAt != nil {
		t.Errorf("after marking one read: unread %d, %+v", unread, page)
	}
	if _, _, bobUnread := list(bob, 10, 0); bobUnread != 1 {
		t.Errorf("Bob's unread = %d, want 1 (Ana's call must not touch his)", bobUnread)
	}
	// Mark all: the one already read keeps its time.
	write(t, s, func(tx service.Tx) error {
		var err error
		marked, err = tx.MarkNotificationsRead(ctx, ana.ID, nil, readAt.Add(time.Hour))
		return err
	})
	page, _, unread = list(ana, 10, 0)
	if marked != 2 || unread != 0 || !page[1].ReadAt.Equal(readAt) {
		t.Errorf("after marking all read: marked %d, unread %d, %+v", marked, unread, page)
	}

	// Deleted sessions and applications the user left drop out.
	write(t, s, func(tx service.Tx) error {
		cur, err := tx.FindSession(ctx, a.app.ID, s1.ID)
		if err != nil {
			return err
		}
		if err := tx.DeleteSession(ctx, cur.PK, readAt); err != nil {
			return err
		}
		return tx.RemoveMember(ctx, other.app.ID, ana.ID)
	})
	if page, count, _ := list(ana, 10, 0); count != 1 || len(page) != 1 || page[0].ID != n2[0].ID {
		t.Errorf("after deleting a session and leaving an application: %v (count %d)", ids(page), count)
	}
	if page, count, unread := list(kycreview.ConsoleUser{ID: uuid.NewString()}, 10, 0); len(page) != 0 || count != 0 || unread != 0 {
		t.Errorf("a stranger's inbox: %v %d %d", page, count, unread)
	}
}
