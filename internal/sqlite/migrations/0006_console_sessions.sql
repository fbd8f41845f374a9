-- Console sign-ins (issue 7): one row per signed-in browser. The cookie holds
-- a random token; only its SHA-256 is stored, so a copy of the database does
-- not sign anyone in. csrf is the synchronizer token every console form must
-- echo. Deleting the row (sign-out, or an operator) ends the sign-in at once.
CREATE TABLE console_sessions (
    token_hash TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES console_users (id),
    csrf       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX console_sessions_user ON console_sessions (user_id);
CREATE INDEX console_sessions_expires ON console_sessions (expires_at);
