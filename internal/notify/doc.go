// Package notify delivers mention notifications by email. The rows are
// written in the review's transaction (internal/service); a Notifier
// claims the due ones under a lease, renders each email (a text and an
// HTML part, with a link to the session in the console), sends it over
// SMTP and records the outcome: sent, retried later with backoff after a
// transient failure, failed for good after a permanent (5xx) refusal or
// when the retries run out, or skipped when its user may no longer receive
// it. A notifier killed mid-send leaves its claims to expire and the rows
// are sent again: delivery is at least once. Several notifiers may share
// one PostgreSQL database; each row is claimed by one at a time.
package notify
