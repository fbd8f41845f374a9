package sqlite

import (
	"context"
	"database/sql"
	"strings"
	"time"

	"github.com/kycreview/kycreview"
)

func (t *tx) CreateApplication(ctx context.Context, a kycreview.Application) error {
	_, err := t.exec(ctx, `INSERT INTO applications (id, name, created_at) VALUES (?, ?, ?)`,
		a.ID, a.Name, a.CreatedAt.UnixMicro())
	return translate(err)
}

func (t *tx) FindApplication(ctx context.Context, id string) (kycreview.Application, error) {
	return t.findApplication(ctx, `SELECT id, name, created_at FROM applications WHERE id = ?`, id)
}

func (t *tx) FindApplicationByName(ctx context.Context, name string) (kycreview.Application, error) {
	return t.findApplication(ctx, `SELECT id, name, created_at FROM applications WHERE name = ? ORDER BY created_at, id LIMIT 1`, name)
}

func (t *tx) findApplication(ctx context.Context, query string, arg any) (kycreview.Application, error) {
	var a kycreview.Application
	var created int64
	err := t.queryRow(ctx, query, arg).Scan(&a.ID, &a.Name, &created)
	if err != nil {
		return kycreview.Application{}, notFound(err, "application")
	}
	a.CreatedAt = fromMicro(created)
	return a, nil
}

func (t *tx) CountApplications(ctx context.Context) (int, error) {
	var n int
	err := t.queryRow(ctx, `SELECT count(*) FROM applications`).Scan(&n)
	return n, translate(err)
}

func (t *tx) CreateWorkflow(ctx context.Context, w kycreview.Workflow) error {
	_, err := t.exec(ctx, `INSERT INTO workflows (id, application_id, kind, name, created_at) VALUES (?, ?, ?, ?, ?)`,
		w.ID, w.ApplicationID, string(w.Kind), w.Name, w.CreatedAt.UnixMicro())
	return translate(err)
}

const findWorkflowQuery = `SELECT id, application_id, kind, name, created_at FROM workflows WHERE application_id = ? AND id = ?`

func (t *tx) FindWorkflow(ctx context.Context, appID, id string) (kycreview.Workflow, error) {
	var w kycreview.Workflow
	var created int64
	err := t.queryRow(ctx, findWorkflowQuery, appID, id).Scan(&w.ID, &w.ApplicationID, &w.Kind, &w.Name, &created)
	if err != nil {
		return kycreview.Workflow{}, notFound(err, "workflow")
	}
	w.CreatedAt = fromMicro(created)
	return w, nil
}

func (t *tx) CreateAPIKey(ctx context.Context, k kycreview.APIKey) error {
	_, err := t.exec(ctx, `INSERT INTO api_keys (id, application_id, role, lookup, hash, created_at)
		VALUES (?, ?, ?, ?, ?, ?)`, k.ID, k.ApplicationID, string(k.Role), k.Lookup, k.Hash, k.CreatedAt.UnixMicro())
	return translate(err)
}

const findKeyQuery = `SELECT id, application_id, role, lookup, hash, created_at, revoked_at FROM api_keys WHERE lookup = ?`

func (t *tx) FindAPIKeyByLookup(ctx context.Context, lookup string) (kycreview.APIKey, error) {
	var k kycreview.APIKey
	var created int64
	var revoked sql.NullInt64
	err := t.queryRow(ctx, findKeyQuery, lookup).Scan(&k.ID, &k.ApplicationID, &k.Role, &k.Lookup, &k.Hash, &created, &revoked)
	if err != nil {
		return kycreview.APIKey{}, notFound(err, "API key")
	}
	k.CreatedAt, k.RevokedAt = fromMicro(created), fromNullMicro(revoked)
	return k, nil
}

func (t *tx) RevokeAPIKey(ctx context.Context, id string, at time.Time) error {
	res, err := t.exec(ctx, `UPDATE api_keys SET revoked_at = coalesce(revoked_at, ?) WHERE id = ?`, at.UnixMicro(), id)
	if err != nil {
		return translate(err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return translate(err)
	} else if n == 0 {
		return kycreview.Errorf(kycreview.ENOTFOUND, "API key %s not found", id)
	}
	return nil
}

func (t *tx) CreateConsoleUser(ctx context.Context, u kycreview.ConsoleUser) error {
	_, err := t.exec(ctx, `INSERT INTO console_users (id, email, email_lower, full_name, created_at)
		VALUES (?, ?, ?, ?, ?)`, u.ID, u.Email, strings.ToLower(u.Email), u.FullName, u.CreatedAt.UnixMicro())
	if kycreview.ErrorCode(translate(err)) == kycreview.ECONFLICT {
		return kycreview.Errorf(kycreview.ECONFLICT, "a console user with email %s already exists", u.Email)
	}
	return translate(err)
}

func (t *tx) AddMember(ctx context.Context, appID, userID string, at time.Time) error {
	_, err := t.exec(ctx, `INSERT INTO memberships (application_id, user_id, created_at) VALUES (?, ?, ?)
		ON CONFLICT DO NOTHING`, appID, userID, at.UnixMicro())
	return translate(err)
}

func (t *tx) FindMembersByEmail(ctx context.Context, appID string, emails []string) ([]kycreview.ConsoleUser, error) {
	if len(emails) == 0 {
		return nil, nil
	}
	args := make([]any, 0, len(emails)+1)
	args = append(args, appID)
	for _, e := range emails {
		args = append(args, e)
	}
	rows, err := t.query(ctx, `SELECT u.id, u.email, u.full_name, u.created_at, u.disabled_at
		FROM console_users u JOIN memberships m ON m.user_id = u.id
		WHERE m.application_id = ? AND u.email_lower IN (`+placeholders(len(emails))+`)`, args...)
	if err != nil {
		return nil, translate(err)
	}
	defer rows.Close()
	var out []kycreview.ConsoleUser
	for rows.Next() {
		var u kycreview.ConsoleUser
		var created int64
		var disabled sql.NullInt64
		if err := rows.Scan(&u.ID, &u.Email, &u.FullName, &created, &disabled); err != nil {
			return nil, translate(err)
		}
		u.CreatedAt, u.DisabledAt = fromMicro(created), fromNullMicro(disabled)
		out = append(out, u)
	}
	return out, translate(rows.Err())
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?,", n), ",")
}

func fromMicro(v int64) time.Time { return time.UnixMicro(v).UTC() }

func fromNullMicro(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := fromMicro(v.Int64)
	return &t
}
