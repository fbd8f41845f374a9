package main

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/jackc/pgx/v5"
	_ "modernc.org/sqlite" // the driver internal/sqlite uses, to read the schema
)

// The feed's secondary indexes are dropped before the bulk insert and built
// again after it, from the definitions the migrations left in the schema:
// inserting 20M rows round by round puts every index entry at a random
// place in a multi-gigabyte index (a 1M × 20 SQLite seed had reached 12.75M
// rows after an hour), while building the index afterwards is one sort.
// The rebuilt index is the migrations' own, so the server runs on the schema
// it would have anyway; indexes that back a constraint stay, since dropping
// them would mean dropping the constraint.

// indexDef is one index: its name and the statement that creates it.
type indexDef struct{ name, create string }

// sqliteFeedIndexes lists the indexes on activities that were created by a
// CREATE INDEX statement (UNIQUE constraints' autoindexes have no SQL).
func sqliteFeedIndexes(ctx context.Context, path string) ([]indexDef, error) {
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		return nil, err
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, `SELECT name, sql FROM sqlite_master
		WHERE type = 'index' AND tbl_name = 'activities' AND sql IS NOT NULL ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list the feed's indexes: %w", err)
	}
	defer rows.Close()
	var defs []indexDef
	for rows.Next() {
		var d indexDef
		if err := rows.Scan(&d.name, &d.create); err != nil {
			return nil, err
		}
		defs = append(defs, d)
	}
	return defs, rows.Err()
}

// postgresFeedIndexes lists the indexes on activities that back no
// constraint.
func postgresFeedIndexes(ctx context.Context, dbURL string) ([]indexDef, error) {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return nil, err
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT i.indexname, i.indexdef FROM pg_indexes i
		WHERE i.schemaname = current_schema() AND i.tablename = 'activities'
		AND NOT EXISTS (SELECT 1 FROM pg_constraint c
			WHERE c.conindid = (quote_ident(i.schemaname) || '.' || quote_ident(i.indexname))::regclass)
		ORDER BY i.indexname`)
	if err != nil {
		return nil, fmt.Errorf("postgres: list the feed's indexes: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (indexDef, error) {
		var d indexDef
		err := r.Scan(&d.name, &d.create)
		return d, err
	})
}

// dropIndexes returns the statements that drop defs.
func dropIndexes(defs []indexDef) []string {
	stmts := make([]string, len(defs))
	for i, d := range defs {
		stmts[i] = `DROP INDEX "` + d.name + `"`
	}
	return stmts
}

// createIndexes returns the statements that create defs again.
func createIndexes(defs []indexDef) []string {
	stmts := make([]string, len(defs))
	for i, d := range defs {
		stmts[i] = d.create
	}
	return stmts
}
