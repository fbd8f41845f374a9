-- Delivering mention notifications by email (issue 6). The same columns as
-- internal/sqlite/migrations/0004_notifications.sql, in PostgreSQL's types
-- (see 0001_init.sql). The notification rows themselves, and the console
-- users' password_hash and disabled_at, exist since 0001; this adds each
-- notification's delivery state, claimed under a lease by a notifier as
-- webhook deliveries are (0003): replicas claim with FOR UPDATE SKIP LOCKED,
-- so two never take the same row.
--
-- pending until the email is sent, fails for good (a permanent SMTP
-- refusal, or the retries ran out) or is skipped (its user was disabled or
-- left the application, or the session was deleted). Rows written before
-- this migration start pending: they are owed, nothing is dropped.
-- next_attempt_at is NULL until the first attempt (due at once), so the
-- insert in the review's transaction needs no change. Every default is a
-- constant: adding the columns rewrites no rows.
ALTER TABLE notifications
    ADD COLUMN state text NOT NULL DEFAULT 'pending'
        CHECK (state IN ('pending', 'sent', 'failed', 'skipped')),
    ADD COLUMN attempts integer NOT NULL DEFAULT 0,
    ADD COLUMN next_attempt_at timestamptz,
    ADD COLUMN claim text,
    ADD COLUMN claimed_until timestamptz,
    ADD COLUMN last_attempt_at timestamptz,
    ADD COLUMN last_error text,
    ADD COLUMN sent_at timestamptz;

-- Due work (and the backlog count): partial, so the sent rows, nearly all
-- of them, cost the claim nothing.
CREATE INDEX notifications_pending ON notifications (pk) WHERE state = 'pending';
CREATE INDEX notifications_failed ON notifications (pk) WHERE state = 'failed';
