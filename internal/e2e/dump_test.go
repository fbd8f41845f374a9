package e2e

import (
	"fmt"
	"sort"
	"strings"
	"testing"
)

// dbDump is every row of every table, as text, by table: what a test
// compares to show that requests wrote nothing (or only what they may).
// The tables are read from the catalog, so a table added later is covered.
type dbDump map[string][]string

// tables lists the database's tables.
func (e *env) tables() []string {
	e.t.Helper()
	q := `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`
	if e.backend == "postgres" {
		q = `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'`
	}
	rows, err := e.raw().Query(q)
	if err != nil {
		e.t.Fatalf("list tables: %v", err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			e.t.Fatalf("list tables: %v", err)
		}
		names = append(names, n)
	}
	if err := rows.Err(); err != nil {
		e.t.Fatalf("list tables: %v", err)
	}
	sort.Strings(names)
	return names
}

// dump reads every table in full. Only for the small databases of tests.
func (e *env) dump() dbDump {
	e.t.Helper()
	d := dbDump{}
	for _, table := range e.tables() {
		rows, err := e.raw().Query(`SELECT * FROM ` + table)
		if err != nil {
			e.t.Fatalf("dump %s: %v", table, err)
		}
		cols, _ := rows.Columns()
		out := []string{}
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				e.t.Fatalf("dump %s: %v", table, err)
			}
			var b strings.Builder
			for i, v := range vals {
				if b2, ok := v.([]byte); ok {
					v = string(b2)
				}
				fmt.Fprintf(&b, "%s=%v|", cols[i], v)
			}
			out = append(out, b.String())
		}
		if err := rows.Err(); err != nil {
			e.t.Fatalf("dump %s: %v", table, err)
		}
		rows.Close()
		sort.Strings(out)
		d[table] = out
	}
	return d
}

// diff returns the rows of after that before lacks (added) and the rows of
// before that after lacks (removed or changed), by table.
func (before dbDump) diff(after dbDump) (added, removed map[string][]string) {
	added, removed = map[string][]string{}, map[string][]string{}
	for _, table := range unionKeys(before, after) {
		b, a := counted(before[table]), counted(after[table])
		for row, n := range a {
			for i := b[row]; i < n; i++ {
				added[table] = append(added[table], row)
			}
		}
		for row, n := range b {
			for i := a[row]; i < n; i++ {
				removed[table] = append(removed[table], row)
			}
		}
		if _, ok := after[table]; !ok {
			removed[table] = append(removed[table], "(the table is gone)")
		}
	}
	return added, removed
}

func counted(rows []string) map[string]int {
	m := map[string]int{}
	for _, r := range rows {
		m[r]++
	}
	return m
}

func unionKeys(a, b dbDump) []string {
	seen := map[string]bool{}
	var out []string
	for _, m := range []dbDump{a, b} {
		for k := range m {
			if !seen[k] {
				seen[k] = true
				out = append(out, k)
			}
		}
	}
	sort.Strings(out)
	return out
}

// sameDB fails t, naming the rows, if the database changed since before.
func (e *env) sameDB(t *testing.T, what string, before dbDump) {
	t.Helper()
	added, removed := before.diff(e.dump())
	for table, rows := range added {
		t.Errorf("%s: added to %s: %q", what, table, rows)
	}
	for table, rows := range removed {
		t.Errorf("%s: changed or removed in %s: %q", what, table, rows)
	}
}
