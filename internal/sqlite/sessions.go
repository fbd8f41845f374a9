package sqlite

import (
	"context"
	"database/sql"
	"strings"
	"time"

	"github.com/kycreview/kycreview"
)

const sessionColumns = `pk, id, application_id, session_number, workflow_id, kind, status, vendor_data,
	metadata, callback, created_at, deleted_at, activity_count, last_activity_at, chain_head`

func scanSession(row interface{ Scan(...any) error }) (kycreview.Session, error) {
	var s kycreview.Session
	var metadata sql.NullString
	var created, lastActivity int64
	var deleted sql.NullInt64
	var vendor, callback sql.NullString
	err := row.Scan(&s.PK, &s.ID, &s.ApplicationID, &s.Number, &s.WorkflowID, &s.Kind, &s.Status, &vendor,
		&metadata, &callback, &created, &deleted, &s.ActivityCount, &lastActivity, &s.ChainHead)
	if err != nil {
		return kycreview.Session{}, err
	}
	s.VendorData, s.Callback = nullString(vendor), nullString(callback)
	if metadata.Valid {
		s.Metadata = []byte(metadata.String)
	}
	s.CreatedAt, s.DeletedAt = fromMicro(created), fromNullMicro(deleted)
	if lastActivity != 0 {
		s.LastActivityAt = fromMicro(lastActivity)
	}
	return s, nil
}

const (
	nextNumberQuery = `UPDATE applications SET next_session_number = next_session_number + 1
	WHERE id = ? RETURNING next_session_number - 1`
	insertSessionQuery = `INSERT INTO sessions (id, application_id, session_number, workflow_id, kind, status,
	vendor_data, metadata, callback, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING pk`
	findSessionQuery   = `SELECT ` + sessionColumns + ` FROM sessions WHERE id = ? AND application_id = ? AND deleted_at IS NULL`
	updateSessionQuery = `UPDATE sessions SET status = ?, activity_count = ?, last_activity_at = ?, chain_head = ? WHERE pk = ?`
)

func (t *tx) CreateSession(ctx context.Context, s *kycreview.Session) error {
	err := t.queryRow(ctx, nextNumberQuery, s.ApplicationID).Scan(&s.Number)
	if err != nil {
		return notFound(err, "application")
	}
	var metadata any
	if s.Metadata != nil {
		metadata = string(s.Metadata)
	}
	err = t.queryRow(ctx, insertSessionQuery,
		s.ID, s.ApplicationID, s.Number, s.WorkflowID, string(s.Kind), string(s.Status),
		s.VendorData, metadata, s.Callback, s.CreatedAt.UnixMicro()).Scan(&s.PK)
	return translate(err)
}

func (t *tx) FindSession(ctx context.Context, appID, id string) (kycreview.Session, error) {
	s, err := scanSession(t.queryRow(ctx, findSessionQuery, id, appID))
	if err != nil {
		return kycreview.Session{}, notFound(err, "session")
	}
	return s, nil
}

const findSessionByPKQuery = `SELECT ` + sessionColumns + ` FROM sessions WHERE pk = ?`

func (t *tx) FindSessionByPK(ctx context.Context, pk int64) (kycreview.Session, error) {
	s, err := scanSession(t.queryRow(ctx, findSessionByPKQuery, pk))
	if err != nil {
		return kycreview.Session{}, notFound(err, "session")
	}
	return s, nil
}

// LockSession needs no row lock on SQLite: the write transaction began
// IMMEDIATE and holds the database's single write lock until it ends.
func (t *tx) LockSession(ctx context.Context, appID, id string) (kycreview.Session, error) {
	return t.FindSession(ctx, appID, id)
}

func (t *tx) UpdateSession(ctx context.Context, s kycreview.Session) error {
	var last int64
	if !s.LastActivityAt.IsZero() {
		last = s.LastActivityAt.UnixMicro()
	}
	_, err := t.exec(ctx, updateSessionQuery, string(s.Status), s.ActivityCount, last, blobArg(s.ChainHead), s.PK)
	return translate(err)
}

func (t *tx) DeleteSession(ctx context.Context, pk int64, at time.Time) error {
	_, err := t.exec(ctx, `UPDATE sessions SET deleted_at = ? WHERE pk = ? AND deleted_at IS NULL`, at.UnixMicro(), pk)
	return translate(err)
}

func (t *tx) ListSessions(ctx context.Context, f kycreview.SessionFilter) ([]kycreview.Session, int, error) {
	where := []string{"application_id = ?", "deleted_at IS NULL"}
	args := []any{f.ApplicationID}
	if len(f.Kinds) == 1 {
		where = append(where, "kind = ?")
		args = append(args, string(f.Kinds[0]))
	}
	if len(f.Statuses) > 0 {
		where = append(where, "status IN ("+placeholders(len(f.Statuses))+")")
		for _, st := range f.Statuses {
			args = append(args, string(st))
		}
	}
	if f.VendorData != nil {
		where = append(where, "vendor_data = ?")
		args = append(args, *f.VendorData)
	}
	countSQL, pageSQL := sessionListQueries(strings.Join(where, " AND "))
	var count int
	if err := t.queryRow(ctx, countSQL, args...).Scan(&count); err != nil {
		return nil, 0, translate(err)
	}
	if f.Offset >= count {
		return []kycreview.Session{}, count, nil
	}
	rows, err := t.query(ctx, pageSQL, append(args, f.Limit, f.Offset)...)
	if err != nil {
		return nil, 0, translate(err)
	}
	defer rows.Close()
	out := []kycreview.Session{}
	for rows.Next() {
		s, err := scanSession(rows)
		if err != nil {
			return nil, 0, translate(err)
		}
		out = append(out, s)
	}
	return out, count, translate(rows.Err())
}

// sessionListQueries returns the count and page queries of the session
// list for a WHERE condition built only from fixed column names.
func sessionListQueries(cond string) (count, page string) {
	return `SELECT count(*) FROM sessions WHERE ` + cond,
		`SELECT ` + sessionColumns + ` FROM sessions WHERE ` + cond + ` ORDER BY session_number DESC ` + limitOffset
}

func nullString(v sql.NullString) *string {
	if !v.Valid {
		return nil
	}
	s := v.String
	return &s
}
