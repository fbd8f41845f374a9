-- Delivering mention notifications by email (issue 6). The notification
-- rows themselves, and the console users' password_hash and disabled_at,
-- exist since 0001_init.sql; this adds each notification's delivery state,
-- claimed under a lease by a notifier as webhook deliveries are (0003).

-- pending until the email is sent, fails for good (a permanent SMTP
-- refusal, or the retries ran out) or is skipped (its user was disabled or
-- left the application, or the session was deleted). Rows written before
-- this migration start pending: they are owed, nothing is dropped.
ALTER TABLE notifications ADD COLUMN state TEXT NOT NULL DEFAULT 'pending'
    CHECK (state IN ('pending', 'sent', 'failed', 'skipped'));
ALTER TABLE notifications ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
-- NULL until the first attempt: due at once. The insert in the review's
-- transaction then needs no change.
ALTER TABLE notifications ADD COLUMN next_attempt_at INTEGER;
-- A notifier's claim: until claimed_until no other one takes the row; after
-- it (the notifier died mid-send) the row is due again.
ALTER TABLE notifications ADD COLUMN claim TEXT;
ALTER TABLE notifications ADD COLUMN claimed_until INTEGER;
ALTER TABLE notifications ADD COLUMN last_attempt_at INTEGER;
ALTER TABLE notifications ADD COLUMN last_error TEXT;
ALTER TABLE notifications ADD COLUMN sent_at INTEGER;

-- Due work (and the backlog count): partial, so the sent rows, nearly all
-- of them, cost the claim nothing.
CREATE INDEX notifications_pending ON notifications (pk) WHERE state = 'pending';
CREATE INDEX notifications_failed ON notifications (pk) WHERE state = 'failed';
