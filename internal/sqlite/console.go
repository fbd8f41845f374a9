package sqlite

import (
	"context"
	"strings"
	"time"

	"github.com/kycreview/kycreview"
	"github.com/kycreview/kycreview/internal/service"
)

// The reviewers' console (issue 7): sign-ins and the queue.

func (t *tx) CreateConsoleSession(ctx context.Context, cs service.ConsoleSession) error {
	_, err := t.exec(ctx, `INSERT INTO console_sessions (token_hash, user_id, csrf, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?)`, cs.TokenHash, strings.ToLower(cs.UserID), cs.CSRF, cs.CreatedAt.UnixMicro(), cs.ExpiresAt.UnixMicro())
	return translate(err)
}

func (t *tx) FindConsoleSession(ctx context.Context, tokenHash string) (service.ConsoleSession, error) {
	var cs service.ConsoleSession
	var created, expires int64
	err := t.queryRow(ctx, `SELECT token_hash, user_id, csrf, created_at, expires_at FROM console_sessions
		WHERE token_hash = ?`, tokenHash).Scan(&cs.TokenHash, &cs.UserID, &cs.CSRF, &created, &expires)
	if err != nil {
		return service.ConsoleSession{}, notFound(err, "console session")
	}
	cs.CreatedAt, cs.ExpiresAt = fromMicro(created), fromMicro(expires)
	return cs, nil
}

func (t *tx) DeleteConsoleSession(ctx context.Context, tokenHash string) error {
	_, err := t.exec(ctx, `DELETE FROM console_sessions WHERE token_hash = ?`, tokenHash)
	return translate(err)
}

func (t *tx) DeleteExpiredConsoleSessions(ctx context.Context, now time.Time) (int, error) {
	res, err := t.exec(ctx, `DELETE FROM console_sessions WHERE expires_at < ?`, now.UnixMicro())
	if err != nil {
		return 0, translate(err)
	}
	n, err := res.RowsAffected()
	return int(n), translate(err)
}

func (t *tx) ListMemberships(ctx context.Context, userID string) ([]kycreview.Application, error) {
	rows, err := t.query(ctx, `SELECT a.id, a.name, a.created_at FROM applications a
		JOIN memberships m ON m.application_id = a.id WHERE m.user_id = ? ORDER BY a.name, a.id`, strings.ToLower(userID))
	if err != nil {
		return nil, translate(err)
	}
	defer rows.Close()
	out := []kycreview.Application{}
	for rows.Next() {
		var a kycreview.Application
		var created int64
		if err := rows.Scan(&a.ID, &a.Name, &created); err != nil {
			return nil, translate(err)
		}
		a.CreatedAt = fromMicro(created)
		out = append(out, a)
	}
	return out, translate(rows.Err())
}

// consoleQueueCond selects the visible sessions of the user's applications.
const consoleQueueCond = `deleted_at IS NULL AND application_id IN (SELECT application_id FROM memberships WHERE user_id = ?)`

func (t *tx) ConsoleQueue(ctx context.Context, userID string, st kycreview.Status, limit, offset int) ([]kycreview.Session, int, error) {
	userID = strings.ToLower(userID)
	var count int
	if err := t.queryRow(ctx, `SELECT count(*) FROM sessions WHERE `+consoleQueueCond+` AND status = ?`,
		userID, string(st)).Scan(&count); err != nil {
		return nil, 0, translate(err)
	}
	if offset >= count {
		return []kycreview.Session{}, count, nil
	}
	rows, err := t.query(ctx, `SELECT `+sessionColumns+` FROM sessions WHERE `+consoleQueueCond+` AND status = ?
		ORDER BY created_at DESC, pk DESC LIMIT ? OFFSET ?`, userID, string(st), limit, offset)
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
	rows, err := t.query(ctx, `SELECT status, count(*) FROM sessions WHERE `+consoleQueueCond+` GROUP BY status`,
		strings.ToLower(userID))
	if err != nil {
		return nil, translate(err)
	}
	defer rows.Close()
	out := map[kycreview.Status]int{}
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
