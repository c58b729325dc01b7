package sqlite

import (
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
)

// TestMigration3KeepsAttendees builds a file at schema v2 (attendees in a
// WITHOUT ROWID table) and opens it: migration 3 must move every attendee
// row into the rowid table with the same columns, key and indexes.
func TestMigration3KeepsAttendees(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v2.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"migrations/0001_init.sql", "migrations/0002_attendees_digest.sql"} {
		b, err := migrationsFS.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		mustExec(t, db, string(b))
	}
	mustExec(t, db, `CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL) STRICT;
		INSERT INTO schema_migrations VALUES (1, 'init', '2026-01-01T00:00:00Z'), (2, 'attendees_digest', '2026-01-01T00:00:00Z');
		INSERT INTO calendar_events (account, id, all_day, timed, last_modified_at, raw_sequence, loaded_at, event_json)
		VALUES ('A', '7', 0, 1, '2026-01-01T00:00:00Z', 1, '2026-01-01T00:00:00Z', '{}');
		INSERT INTO calendar_event_attendees (account, event_id, entity_id, entity_name, response)
		VALUES ('A', '7', '31', 'x', 'accepted'), ('A', '7', '5', 'y', NULL)`)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	s, err := Open(t.Context(), path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var ddl string
	if err := s.db.QueryRowContext(t.Context(), `SELECT sql FROM sqlite_master WHERE name = 'calendar_event_attendees'`).Scan(&ddl); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(ddl, "WITHOUT ROWID") || !strings.Contains(ddl, "PRIMARY KEY (account, event_id, entity_id)") {
		t.Errorf("attendee table after migration:\n%s", ddl)
	}
	var got []string
	rows, err := s.db.QueryContext(t.Context(), `SELECT entity_id || ':' || coalesce(entity_name, '') || ':' || coalesce(response, '') FROM calendar_event_attendees WHERE account = 'A' AND event_id = '7' ORDER BY entity_id`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		got = append(got, v)
	}
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, ",") != "31:x:accepted,5:y:" {
		t.Errorf("attendees after migration = %v", got)
	}
	var idx, version int
	if err := s.db.QueryRowContext(t.Context(), `SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = 'calendar_event_attendees_entity_idx'`).Scan(&idx); err != nil || idx != 1 {
		t.Errorf("entity index after migration: %d (%v)", idx, err)
	}
	if err := s.db.QueryRowContext(t.Context(), `SELECT max(version) FROM schema_migrations`).Scan(&version); err != nil || version < 3 {
		t.Errorf("schema version %d (%v), want at least 3", version, err)
	}
	// The key still refuses a second row for the same attendee.
	if _, err := s.db.ExecContext(t.Context(), `INSERT INTO calendar_event_attendees (account, event_id, entity_id) VALUES ('A', '7', '5')`); err == nil {
		t.Error("duplicate attendee row accepted: the primary key was lost")
	}
}

func mustExec(t *testing.T, db *sql.DB, q string) {
	t.Helper()
	if _, err := db.ExecContext(t.Context(), q); err != nil {
		t.Fatalf("%v\n%s", err, q)
	}
}
