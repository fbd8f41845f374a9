package postgres

import (
	"context"
	"strings"
	"time"

	"github.com/kycreview/kycreview"
)

func (t *tx) CreateApplication(ctx context.Context, a kycreview.Application) error {
	_, err := t.q.Exec(ctx, `INSERT INTO applications (id, name, created_at) VALUES ($1, $2, $3)`,
		a.ID, a.Name, utc(a.CreatedAt))
	return translate(err)
}

func (t *tx) FindApplication(ctx context.Context, id string) (kycreview.Application, error) {
	if !canonicalUUID(id) {
		return kycreview.Application{}, kycreview.Errorf(kycreview.ENOTFOUND, "application not found")
	}
	return t.findApplication(ctx, `SELECT id::text, name, created_at FROM applications WHERE id = $1`, id)
}

func (t *tx) FindApplicationByName(ctx context.Context, name string) (kycreview.Application, error) {
	return t.findApplication(ctx, `SELECT id::text, name, created_at FROM applications WHERE name = $1
		ORDER BY created_at, id LIMIT 1`, name)
}

func (t *tx) findApplication(ctx context.Context, query string, arg any) (kycreview.Application, error) {
	var a kycreview.Application
	err := t.q.QueryRow(ctx, query, arg).Scan(&a.ID, &a.Name, &a.CreatedAt)
	if err != nil {
		return kycreview.Application{}, notFound(err, "application")
	}
	a.CreatedAt = a.CreatedAt.UTC()
	return a, nil
}

func (t *tx) CountApplications(ctx context.Context) (int, error) {
	var n int
	err := t.q.QueryRow(ctx, `SELECT count(*) FROM applications`).Scan(&n)
	return n, translate(err)
}

func (t *tx) CreateWorkflow(ctx context.Context, w kycreview.Workflow) error {
	_, err := t.q.Exec(ctx, `INSERT INTO workflows (id, application_id, kind, name, created_at) VALUES ($1, $2, $3, $4, $5)`,
		w.ID, w.ApplicationID, string(w.Kind), w.Name, utc(w.CreatedAt))
	return translate(err)
}

func (t *tx) FindWorkflow(ctx context.Context, appID, id string) (kycreview.Workflow, error) {
	// The id comes from a request body: anything but a stored id's spelling
	// is an unknown workflow.
	if !canonicalUUID(appID) || !canonicalUUID(id) {
		return kycreview.Workflow{}, kycreview.Errorf(kycreview.ENOTFOUND, "workflow not found")
	}
	var w kycreview.Workflow
	err := t.q.QueryRow(ctx, `SELECT id::text, application_id::text, kind, name, created_at FROM workflows
		WHERE application_id = $1 AND id = $2`, appID, id).Scan(&w.ID, &w.ApplicationID, &w.Kind, &w.Name, &w.CreatedAt)
	if err != nil {
		return kycreview.Workflow{}, notFound(err, "workflow")
	}
	w.CreatedAt = w.CreatedAt.UTC()
	return w, nil
}

func (t *tx) CreateAPIKey(ctx context.Context, k kycreview.APIKey) error {
	_, err := t.q.Exec(ctx, `INSERT INTO api_keys (id, application_id, role, lookup, hash, created_at)
		VALUES ($1, $2, $3, $4, $5, $6)`, k.ID, k.ApplicationID, string(k.Role), k.Lookup, k.Hash, utc(k.CreatedAt))
	return translate(err)
}

func (t *tx) FindAPIKeyByLookup(ctx context.Context, lookup string) (kycreview.APIKey, error) {
	var k kycreview.APIKey
	err := t.q.QueryRow(ctx, `SELECT id::text, application_id::text, role, lookup, hash, created_at, revoked_at
		FROM api_keys WHERE lookup = $1`, lookup).Scan(&k.ID, &k.ApplicationID, &k.Role, &k.Lookup, &k.Hash, &k.CreatedAt, &k.RevokedAt)
	if err != nil {
		return kycreview.APIKey{}, notFound(err, "API key")
	}
	k.CreatedAt, k.RevokedAt = k.CreatedAt.UTC(), utcPtr(k.RevokedAt)
	return k, nil
}

func (t *tx) RevokeAPIKey(ctx context.Context, id string, at time.Time) error {
	if !canonicalUUID(id) {
		return kycreview.Errorf(kycreview.ENOTFOUND, "API key %s not found", id)
	}
	tag, err := t.q.Exec(ctx, `UPDATE api_keys SET revoked_at = coalesce(revoked_at, $1) WHERE id = $2`, utc(at), id)
	if err != nil {
		return translate(err)
	}
	if tag.RowsAffected() == 0 {
		return kycreview.Errorf(kycreview.ENOTFOUND, "API key %s not found", id)
	}
	return nil
}

func (t *tx) CreateConsoleUser(ctx context.Context, u kycreview.ConsoleUser) error {
	// The email's unique index is the only one a new user can collide with
	// (its id is fresh), so a conflict means the address is taken. The
	// statement's failure aborts the transaction, as every error here does.
	_, err := t.q.Exec(ctx, `INSERT INTO console_users (id, email, email_lower, full_name, created_at)
		VALUES ($1, $2, $3, $4, $5)`, u.ID, u.Email, strings.ToLower(u.Email), u.FullName, utc(u.CreatedAt))
	if kycreview.ErrorCode(translate(err)) == kycreview.ECONFLICT {
		return kycreview.Errorf(kycreview.ECONFLICT, "a console user with email %s already exists", u.Email)
	}
	return translate(err)
}

func (t *tx) AddMember(ctx context.Context, appID, userID string, at time.Time) error {
	_, err := t.q.Exec(ctx, `INSERT INTO memberships (application_id, user_id, created_at) VALUES ($1, $2, $3)
		ON CONFLICT DO NOTHING`, appID, userID, utc(at))
	return translate(err)
}

func (t *tx) FindMembersByEmail(ctx context.Context, appID string, emails []string) ([]kycreview.ConsoleUser, error) {
	if len(emails) == 0 || !canonicalUUID(appID) {
		return nil, nil
	}
	rows, err := t.q.Query(ctx, `SELECT u.id::text, u.email, u.full_name, u.created_at, u.disabled_at
		FROM console_users u JOIN memberships m ON m.user_id = u.id
		WHERE m.application_id = $1 AND u.email_lower = ANY ($2)`, appID, emails)
	if err != nil {
		return nil, translate(err)
	}
	defer rows.Close()
	var out []kycreview.ConsoleUser
	for rows.Next() {
		var u kycreview.ConsoleUser
		if err := rows.Scan(&u.ID, &u.Email, &u.FullName, &u.CreatedAt, &u.DisabledAt); err != nil {
			return nil, translate(err)
		}
		u.CreatedAt, u.DisabledAt = u.CreatedAt.UTC(), utcPtr(u.DisabledAt)
		out = append(out, u)
	}
	return out, translate(rows.Err())
}

// utc is the time as the database stores it: UTC, whole microseconds.
// PostgreSQL would round the nanoseconds; truncating matches SQLite's
// UnixMicro, so both backends keep the same instant.
func utc(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// utcPtr returns a read nullable time in UTC; pgx reads timestamptz in the
// local time zone.
func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}
