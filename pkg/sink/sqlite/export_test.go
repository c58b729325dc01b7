package sqlite

import (
	"context"
	"strings"
)

// Test hooks.
const (
	PartRows        = partRows
	MaxKeyRows      = maxKeyRows
	MaxAttendeeRows = maxAttendeeRows
	MaxVariables    = maxVariables
)

// StatementParameters returns, per statement the sink prepares, its SQL and
// how many parameters it binds.
func StatementParameters() map[string]int {
	out := map[string]int{}
	for _, st := range statements() {
		out[st.sql] = strings.Count(st.sql, "?")
	}
	return out
}

// TotalChanges is SQLite's total_changes() on the sink's connection: rows
// inserted, updated or deleted since Open.
func TotalChanges(ctx context.Context, s *Sink) (n int64, err error) {
	err = s.db.QueryRowContext(ctx, `SELECT total_changes()`).Scan(&n)
	return n, err
}
