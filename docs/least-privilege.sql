-- A least-privilege PostgreSQL role for the kycreview service.
--
-- Run the migrations as the owner of the schema (`kycreview migrate` with the
-- owner's URL), then run `kycreview serve` as this role. It can read and write
-- what the service needs and nothing else: on the activity feed and the
-- webhook attempt log it may only INSERT and SELECT, so history cannot be
-- changed through the service's credentials even if the application were
-- compromised (the append-only triggers stop the owner too, unless the owner
-- drops them).
--
-- Replace the password, then run this as the schema's owner in the service's
-- database. internal/postgres's TestLeastPrivilegeRole applies this very file.

CREATE ROLE kycreview_app LOGIN PASSWORD 'change-me';

GRANT USAGE ON SCHEMA public TO kycreview_app;
GRANT SELECT ON schema_migrations TO kycreview_app;
GRANT SELECT, INSERT, UPDATE ON applications, workflows, api_keys, console_users, memberships,
    sessions, webhook_outbox, notifications TO kycreview_app;
GRANT SELECT, INSERT ON activities TO kycreview_app;
-- `kycreview users remove` ends a membership by deleting its row.
GRANT DELETE ON memberships TO kycreview_app;
-- Destinations are soft-deleted and deliveries move through their states
-- (claims are UPDATEs, taken with FOR UPDATE, which UPDATE covers); neither
-- is ever deleted.
GRANT SELECT, INSERT, UPDATE ON webhook_destinations, webhook_deliveries TO kycreview_app;
GRANT SELECT, INSERT ON webhook_attempts TO kycreview_app;
-- Signed audit checkpoints are written, never changed (docs/audit-chain.md).
GRANT SELECT, INSERT ON audit_checkpoints TO kycreview_app;
-- Console sign-ins are created at sign-in and deleted at sign-out or expiry.
GRANT SELECT, INSERT, DELETE ON console_sessions TO kycreview_app;
-- Idempotency keys are recorded with their writes, replaced once expired
-- (an UPDATE) and purged (a DELETE).
GRANT SELECT, INSERT, UPDATE, DELETE ON idempotency_keys TO kycreview_app;
