package postgres

import (
	"context"
	"strings"
	"time"

	"github.com/kycreview/kycreview"
	"github.com/kycreview/kycreview/internal/service"
)

// The reviewers' console (issue 7): sign-ins and the queue.

func (t *tx) CreateConsoleSession(ctx context.Context, cs service.ConsoleSession) error {
	_, err := t.q.Exec(ctx, `INSERT INTO console_sessions (token_hash, user_id, csrf, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5)`, cs.TokenHash, strings.ToLower(cs.UserID), cs.CSRF, utc(cs.CreatedAt), utc(cs.ExpiresAt))
	return translate(err)
}

func (t *tx) FindConsoleSession(ctx context.Context, tokenHash string) (service.ConsoleSession, error) {
	var cs service.ConsoleSession
	err := t.q.QueryRow(ctx, `SELECT token_hash, user_id::text, csrf, created_at, expires_at FROM console_sessions
		WHERE token_hash = $1`, tokenHash).Scan(&cs.TokenHash, &cs.UserID, &cs.CSRF, &cs.CreatedAt, &cs.ExpiresAt)
	if err != nil {
		return service.ConsoleSession{}, notFound(err, "console session")
	}
	cs.CreatedAt, cs.ExpiresAt = cs.CreatedAt.UTC(), cs.ExpiresAt.UTC()
	return cs, nil
}

func (t *tx) DeleteConsoleSession(ctx context.Context, tokenHash string) error {
	_, err := t.q.Exec(ctx, `DELETE FROM console_sessions WHERE token_hash = $1`, tokenHash)
	return translate(err)
}

func (t *tx) DeleteExpiredConsoleSessions(ctx context.Context, now time.Time) (int, error) {
	tag, err := t.q.Exec(ctx, `DELETE FROM console_sessions WHERE expires_at < $1`, utc(now))
	if err != nil {
		return 0, translate(err)
	}
	return int(tag.RowsAffected()), nil
}

func (t *tx) ListMemberships(ctx context.Context, userID string) ([]kycreview.Application, error) {
	userID = strings.ToLower(userID)
	if !canonicalUUID(userID) {
		return []kycreview.Application{}, nil
	}
	rows, err := t.q.Query(ctx, `SELECT a.id::text, a.name, a.created_at FROM applications a
		JOIN memberships m ON m.application_id = a.id WHERE m.user_id = $1 ORDER BY a.name, a.id`, userID)
	if err != nil {
		return nil, translate(err)
	}
	defer rows.Close()
	out := []kycreview.Application{}
	for rows.Next() {
		var a kycreview.Application
		if err := rows.Scan(&a.ID, &a.Name, &a.CreatedAt); err != nil {
			return nil, translate(err)
		}
		a.CreatedAt = a.CreatedAt.UTC()
		out = append(out, a)
	}
	return out, translate(rows.Err())
}

// consoleQueueCond selects the visible sessions of the user's applications.
const consoleQueueCond = `deleted_at IS NULL AND application_id IN (SELECT application_id FROM memberships WHERE user_id = $1)`

func (t *tx) ConsoleQueue(ctx context.Context, userID string, st kycreview.Status, limit, offset int) ([]kycreview.Session, int, error) {
	userID = strings.ToLower(userID)
	if !canonicalUUID(userID) {
		return []kycreview.Session{}, 0, nil
	}
	var count int
	if err := t.q.QueryRow(ctx, `SELECT count(*) FROM sessions WHERE `+consoleQueueCond+` AND status = $2`,
		userID, string(st)).Scan(&count); err != nil {
		return nil, 0, translate(err)
	}
	if offset >= count {
		return []kycreview.Session{}, count, nil
	}
	rows, err := t.q.Query(ctx, `SELECT `+sessionColumns+` FROM sessions WHERE `+consoleQueueCond+` AND status = $2
		ORDER BY created_at DESC, pk DESC LIMIT $3 OFFSET $4`, userID, string(st), limit, offset)
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

func (t *tx) ConsoleStatusCounts(ctx context.Context, userID string) (map[kycreview.Status]int, error) {
	out := map[kycreview.Status]int{}
	userID = strings.ToLower(userID)
	if !canonicalUUID(userID) {
		return out, nil
	}
	rows, err := t.q.Query(ctx, `SELECT status, count(*) FROM sessions WHERE `+consoleQueueCond+` GROUP BY status`, userID)
	if err != nil {
		return nil, translate(err)
	}
	defer rows.Close()
	for rows.Next() {
		var st string
		var n int
		if err := rows.Scan(&st, &n); err != nil {
			return nil, translate(err)
		}
		out[kycreview.Status(st)] = n
	}
	return out, translate(rows.Err())
}
