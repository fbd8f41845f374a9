package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/kycreview/kycreview"
)

// Parsing SQL was a fifth of the CPU of a feed request: modernc.org/sqlite
// prepares every statement it is given afresh. The statements on the hot
// paths are therefore prepared once per pool at Open; database/sql then
// prepares each on a connection the first time a transaction on that
// connection uses it, and reuses it after. They must be prepared before any
// transaction runs: preparing later needs a free connection, and the writer
// pool has only the one the waiting transaction holds.

// hotQueries are the statements every review, feed request or webhook
// delivery runs.
func hotQueries() []string {
	defaultOrder, _ := orderBy(kycreview.DefaultFeedOrdering(), "a.")             // cannot fail: known fields
	oldestFirst, _ := orderBy([]kycreview.OrderTerm{{Field: "created_at"}}, "a.") // likewise
	return []string{
		findKeyQuery, findSessionQuery, updateSessionQuery, insertActivityQuery, insertOutboxQuery,
		insertNotificationQuery, fanOutQuery, statusRowsQuery, feedPageQuery(defaultOrder), feedPageQuery(oldestFirst),
		nextNumberQuery, insertSessionQuery, findWorkflowQuery,
		// The webhook dispatcher's: claim, render, record.
		claimQuery, findOutboxQuery, findSessionByPKQuery, insertAttemptQuery, moveDeliveryQuery,
		destinationHealthyQuery, destinationFailingQuery,
	}
}

// statements maps query text to its prepared statement on one pool.
type statements map[string]*sql.Stmt

func prepare(ctx context.Context, pool *sql.DB, queries []string) (statements, error) {
	out := make(statements, len(queries))
	for _, q := range queries {
		st, err := pool.PrepareContext(ctx, q)
		if err != nil {
			return nil, fmt.Errorf("sqlite: prepare %.40q…: %w", q, err)
		}
		out[q] = st
	}
	return out, nil
}

func (s statements) close() {
	for _, st := range s {
		st.Close()
	}
}

// queryRow, query and exec run a statement in the transaction, through its
// prepared form when it has one.
func (t *tx) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	ctx = t.context(ctx)
	if st := t.stmt(ctx, q); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return t.q.QueryRowContext(ctx, q, args...)
}

func (t *tx) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	ctx = t.context(ctx)
	if st := t.stmt(ctx, q); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return t.q.QueryContext(ctx, q, args...)
}

func (t *tx) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	ctx = t.context(ctx)
	if st := t.stmt(ctx, q); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return t.q.ExecContext(ctx, q, args...)
}

// stmt returns q's prepared statement, bound to the transaction if there is
// one, or nil if q is not prepared.
func (t *tx) stmt(ctx context.Context, q string) *sql.Stmt {
	st := t.stmts[q]
	if st == nil || t.tx == nil {
		return st
	}
	return t.tx.StmtContext(ctx, st)
}

// context is the context a statement runs under: the batch's, in a shared
// write transaction, else the caller's.
func (t *tx) context(ctx context.Context) context.Context {
	if t.ctx != nil {
		return t.ctx
	}
	return ctx
}
