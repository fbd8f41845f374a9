// Package webhook delivers webhook events to the customers' destinations.
//
// # Delivery model
//
// Every status change writes a status.updated row to the outbox in the same
// transaction as the change, so an event exists exactly when its change
// committed. Nothing is sent inside a transaction. After commit a
// dispatcher claims due outbox rows (on PostgreSQL with FOR UPDATE SKIP
// LOCKED, so replicas share the work; on SQLite one dispatcher runs), signs
// each body (Sign), POSTs it through a client that cannot reach the
// server's own network (Guard), records the attempt, and schedules the next
// one (Schedule) until a 2xx answer or the last attempt. Claims expire, so a
// dispatcher that dies mid-send leaves nothing claimed for ever.
//
// Delivery is at least once: an attempt whose answer was lost, or a crash
// between the POST and recording it, means the event is sent again. Every
// copy carries the same event_id in the body and as webhook-id, and
// receivers deduplicate on it.
//
// Order is kept per session and destination: a session's later event is
// not sent to a destination before the earlier one has succeeded or
// finally failed. Sessions do not wait for each other, so one failing
// session does not hold up the rest.
//
// A destination that keeps failing (no successful attempt for
// DefaultDisableAfter, by default) is disabled (RecordOutcome) and shown as
// enabled=false until the customer enables it again.
//
// This package holds the pure parts (signatures, the SSRF rules, the retry
// schedule) and the guarded HTTP client; the rows and their claims belong to
// the storage packages.
package webhook
