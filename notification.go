package kycreview

import "time"

// NotificationState is where a notification's email stands. Whether the
// user has read it in the console (ReadAt) is separate: a notification is
// in the console from the moment it is written, whatever its email does.
type NotificationState string

// A notification's email is pending until it is sent, fails for good (a
// permanent SMTP refusal, or the retries ran out), or is skipped because
// its user may no longer receive it (disabled, or removed from the
// application, or the session was deleted).
const (
	NotificationPending NotificationState = "pending"
	NotificationSent    NotificationState = "sent"
	NotificationFailed  NotificationState = "failed"
	NotificationSkipped NotificationState = "skipped"
)

// ClaimedNotification is a due notification a notifier has claimed until
// ClaimedUntil, with everything its email needs.
type ClaimedNotification struct {
	PK            int64
	ID            string
	ApplicationID string
	Application   string // the application's name
	UserID        string
	Email         string // the recipient's stored address
	FullName      string
	SessionID     string
	SessionNumber int64
	Actor         string  // the feed row's actor_display: who wrote the comment
	Comment       *string // the feed row's comment
	NewStatus     *Status // the status the row set, if any
	At            time.Time
	Attempts      int // attempts made before this claim
	// SkipReason is set when the email must not go out any more: the user
	// was disabled or left the application, or the session was deleted
	// since the mention. The notifier records such a row as skipped.
	SkipReason   string
	Claim        string
	ClaimedUntil time.Time
}

// NotificationOutcome is what became of one claimed notification. It is
// applied only while the notification is still pending under Claim.
type NotificationOutcome struct {
	PK            int64
	Claim         string
	State         NotificationState
	Attempts      int
	AttemptedAt   *time.Time // nil when nothing was attempted (a skip)
	NextAttemptAt *time.Time // when State is pending: the retry's time
	LastError     string     // the last failure, as the SMTP server or the network put it
	SentAt        *time.Time
}

// InboxNotification is a notification as the console lists it for its
// user: who mentioned them, where, and whether they have read it.
type InboxNotification struct {
	ID            string
	ApplicationID string
	SessionID     string
	SessionNumber int64
	Actor         string
	Comment       *string
	CreatedAt     time.Time
	ReadAt        *time.Time
	State         NotificationState // the email's state
	Attempts      int               // emails tried
	LastError     string            // why the last one failed, or why it was skipped
}

// NotificationBacklog counts the notifications whose email has not gone
// out: Pending are waiting (for a notifier, an SMTP server or a retry),
// Failed have given up and need a person to look.
type NotificationBacklog struct {
	Pending         int
	Failed          int
	OldestPendingAt *time.Time
}

// ConsoleUserListing is a console user with the applications they belong
// to, as the admin commands list them.
type ConsoleUserListing struct {
	User         ConsoleUser
	Applications []string // application ids, sorted
}
