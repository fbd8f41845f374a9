package postgres

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/kycreview/kycreview"
)

const sessionColumns = `pk, id::text, application_id::text, session_number, workflow_id::text, kind, status, vendor_data,
	metadata, callback, created_at, deleted_at, activity_count, last_activity_at, chain_head`

func scanSession(row pgx.Row) (kycreview.Session, error) {
	var s kycreview.Session
	var metadata []byte
	var lastActivity *time.Time
	err := row.Scan(&s.PK, &s.ID, &s.ApplicationID, &s.Number, &s.WorkflowID, &s.Kind, &s.Status, &s.VendorData,
		&metadata, &s.Callback, &s.CreatedAt, &s.DeletedAt, &s.ActivityCount, &lastActivity, &s.ChainHead)
	if err != nil {
		return kycreview.Session{}, err
	}
	// A json column reads back as the exact text written, so the metadata
	// the client sent is echoed unchanged; NULL reads as nil.
	s.Metadata = metadata
	s.CreatedAt, s.DeletedAt = s.CreatedAt.UTC(), utcPtr(s.DeletedAt)
	// NULL means the feed is empty: the zero time, as SQLite's 0.
	if lastActivity != nil {
		s.LastActivityAt = lastActivity.UTC()
	}
	return s, nil
}

func (t *tx) CreateSession(ctx context.Context, s *kycreview.Session) error {
	// The UPDATE holds the application's row lock until the transaction
	// ends, so concurrent creations, on any replica, take numbers one after
	// the other, and a rollback returns its number.
	err := t.q.QueryRow(ctx, `UPDATE applications SET next_session_number = next_session_number + 1
		WHERE id = $1 RETURNING next_session_number - 1`, s.ApplicationID).Scan(&s.Number)
	if err != nil {
		return notFound(err, "application")
	}
	err = t.q.QueryRow(ctx, `INSERT INTO sessions (id, application_id, session_number, workflow_id, kind, status,
		vendor_data, metadata, callback, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING pk`,
		s.ID, s.ApplicationID, s.Number, s.WorkflowID, string(s.Kind), string(s.Status),
		s.VendorData, jsonArg(s.Metadata), s.Callback, utc(s.CreatedAt)).Scan(&s.PK)
	return translate(err)
}

func (t *tx) FindSession(ctx context.Context, appID, id string) (kycreview.Session, error) {
	return t.findSession(ctx, appID, id, "")
}

func (t *tx) FindSessionByPK(ctx context.Context, pk int64) (kycreview.Session, error) {
	s, err := scanSession(t.q.QueryRow(ctx, `SELECT `+sessionColumns+` FROM sessions WHERE pk = $1`, pk))
	if err != nil {
		return kycreview.Session{}, notFound(err, "session")
	}
	return s, nil
}

// LockSession reads the session with SELECT … FOR UPDATE: a second
// transaction locking the same session waits here until the first commits
// or rolls back, then reads the row as it was left (READ COMMITTED re-reads
// a locked row that changed).
func (t *tx) LockSession(ctx context.Context, appID, id string) (kycreview.Session, error) {
	return t.findSession(ctx, appID, id, " FOR UPDATE")
}

func (t *tx) findSession(ctx context.Context, appID, id, lock string) (kycreview.Session, error) {
	if !canonicalUUID(appID) || !canonicalUUID(id) {
		return kycreview.Session{}, kycreview.Errorf(kycreview.ENOTFOUND, "session not found")
	}
	s, err := scanSession(t.q.QueryRow(ctx, `SELECT `+sessionColumns+` FROM sessions
		WHERE id = $1 AND application_id = $2 AND deleted_at IS NULL`+lock, id, appID))
	if err != nil {
		return kycreview.Session{}, notFound(err, "session")
	}
	return s, nil
}

func (t *tx) UpdateSession(ctx context.Context, s kycreview.Session) error {
	var last *time.Time
	if !s.LastActivityAt.IsZero() {
		at := utc(s.LastActivityAt)
		last = &at
	}
	_, err := t.q.Exec(ctx, `UPDATE sessions SET status = $1, activity_count = $2, last_activity_at = $3, chain_head = $4 WHERE pk = $5`,
		string(s.Status), s.ActivityCount, last, s.ChainHead, s.PK)
	return translate(err)
}

func (t *tx) DeleteSession(ctx context.Context, pk int64, at time.Time) error {
	_, err := t.q.Exec(ctx, `UPDATE sessions SET deleted_at = $1 WHERE pk = $2 AND deleted_at IS NULL`, utc(at), pk)
	return translate(err)
}

func (t *tx) ListSessions(ctx context.Context, f kycreview.SessionFilter) ([]kycreview.Session, int, error) {
	if !canonicalUUID(f.ApplicationID) {
		return []kycreview.Session{}, 0, nil
	}
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	where := []string{"application_id = " + arg(f.ApplicationID), "deleted_at IS NULL"}
	if len(f.Kinds) == 1 {
		where = append(where, "kind = "+arg(string(f.Kinds[0])))
	}
	if len(f.Statuses) > 0 {
		statuses := make([]string, len(f.Statuses))
		for i, st := range f.Statuses {
			statuses[i] = string(st)
		}
		where = append(where, "status = ANY ("+arg(statuses)+")")
	}
	if f.VendorData != nil {
		where = append(where, "vendor_data = "+arg(*f.VendorData))
	}
	cond := strings.Join(where, " AND ")
	var count int
	if err := t.q.QueryRow(ctx, `SELECT count(*) FROM sessions WHERE `+cond, args...).Scan(&count); err != nil {
		return nil, 0, translate(err)
	}
	if f.Offset >= count {
		return []kycreview.Session{}, count, nil
	}
	// Built before the call: Go does not order arg's appends against the
	// evaluation of args in the same call.
	query := `SELECT ` + sessionColumns + ` FROM sessions WHERE ` + cond + `
		ORDER BY session_number DESC LIMIT ` + arg(f.Limit) + ` OFFSET ` + arg(f.Offset)
	rows, err := t.q.Query(ctx, query, args...)
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

// jsonArg is the argument for a nullable json column: SQL NULL for nil, else
// the text as is (pgx sends []byte to a json parameter unchanged).
func jsonArg(r []byte) any {
	if r == nil {
		return nil
	}
	return []byte(r)
}
