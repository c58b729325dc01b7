package sqlite_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nsflow/nsflow/pkg/calendarevent"
	"github.com/nsflow/nsflow/pkg/sink"
	"github.com/nsflow/nsflow/pkg/sink/sinktest"
	"github.com/nsflow/nsflow/pkg/sink/sqlite"
)

func open(t testing.TB, path string, mode sink.DeleteMode) *sqlite.Sink {
	t.Helper()
	s, err := sqlite.Open(t.Context(), path, sqlite.Options{Deletes: mode})
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestContract(t *testing.T) {
	for _, mode := range []sink.DeleteMode{sink.DeleteRow, sink.MarkDeleted} {
		t.Run(mode.String(), func(t *testing.T) {
			sinktest.Run(t, func(t *testing.T) sink.Sink {
				return open(t, filepath.Join(t.TempDir(), "events.db")+"?busy_timeout=250ms", mode)
			}, sinktest.Capabilities{
				Read: func(t *testing.T, s sink.Sink, account, id string) *calendarevent.Event {
					e, err := s.(*sqlite.Sink).Lookup(t.Context(), account, id)
					if err != nil {
						t.Fatal(err)
					}
					return e
				},
				Lossless: true,
				Deletes:  mode,
				// The calendar_events id column is CHECKed to 1..64 characters.
				BadRecord:    func(e *calendarevent.Event) { e.ID = strings.Repeat("9", 65) },
				AllOrNothing: true,
				Outage:       lockDatabase,
				Replica: func(t *testing.T, s sink.Sink) sink.Sink {
					return open(t, s.(*sqlite.Sink).Path()+"?busy_timeout=5s", mode)
				},
			})
		})
	}
}

// lockDatabase holds the database's write lock from another connection, as
// another process stuck in a transaction would.
func lockDatabase(t *testing.T, s sink.Sink) func() {
	t.Helper()
	db, err := sql.Open("sqlite", s.(*sqlite.Sink).Path())
	if err != nil {
		t.Fatal(err)
	}
	conn, err := db.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(t.Context(), "BEGIN IMMEDIATE"); err != nil {
		t.Fatalf("lock: %v", err)
	}
	return func() {
		_, _ = conn.ExecContext(context.Background(), "ROLLBACK")
		_ = conn.Close()
		_ = db.Close()
	}
}

func TestMigrationsConcurrentOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "race.db")
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Go(func() {
			s, err := sqlite.Open(t.Context(), path, sqlite.Options{})
			if err != nil {
				errs <- err
				return
			}
			errs <- s.Close()
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent open: %v", err)
		}
	}
	s := open(t, path, sink.DeleteRow) // and once more, idempotent
	db, err := sql.Open("sqlite", s.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM schema_migrations`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob("migrations/*.sql")
	if err != nil {
		t.Fatal(err)
	}
	if n != len(files) {
		t.Fatalf("schema_migrations has %d rows, want %d (one per migration)", n, len(files))
	}
}

func TestOpenRejectsBadParameters(t *testing.T) {
	dir := t.TempDir()
	for _, p := range []string{"x.db?busy_timeout=soon", "x.db?synchronous=OFF", "x.db?cache=shared", "x.db?cache_pages=0", "x.db?cache_pages=-8", "x.db?cache_pages=16MiB", ""} {
		if s, err := sqlite.Open(t.Context(), filepath.Join(dir, p), sqlite.Options{}); err == nil {
			_ = s.Close()
			t.Errorf("Open(%q) succeeded", p)
		}
	}
}

func TestTimestampsSortAsText(t *testing.T) {
	a := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).Format(sqlite.TimeFormat)
	b := time.Date(2024, 1, 1, 0, 0, 0, 500, time.UTC).Format(sqlite.TimeFormat)
	c := time.Date(2024, 1, 1, 0, 0, 1, 0, time.UTC).Format(sqlite.TimeFormat)
	if len(a) != len(b) || len(b) != len(c) || !(a < b && b < c) {
		t.Fatalf("not fixed width or not ordered: %s %s %s", a, b, c)
	}
}

func TestStoredColumns(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "cols.db"), sink.DeleteRow)
	e := sinktest.NewEvent("ACCT", "42", sinktest.T0, 7)
	if err := s.Write(t.Context(), []*calendarevent.Event{e}); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", s.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var title, org, lm, start, custom string
	var allDay, timed, deleted, seq, attendees int
	err = db.QueryRow(`SELECT title, organizer_id, last_modified_at, start_at, all_day, timed, deleted, raw_sequence,
		json_extract(custom_fields, '$.custevent_topic'),
		(SELECT count(*) FROM calendar_event_attendees WHERE account = 'ACCT' AND event_id = '42')
		FROM calendar_events WHERE account = 'ACCT' AND id = '42'`).
		Scan(&title, &org, &lm, &start, &allDay, &timed, &deleted, &seq, &custom, &attendees)
	if err != nil {
		t.Fatal(err)
	}
	if title != e.Title || org != "-5" || lm != "2024-03-02T09:15:00.000000000Z" || start != e.Start.Format(sqlite.TimeFormat) ||
		allDay != 0 || timed != 1 || deleted != 0 || seq != 7 || custom != "Renewal" || attendees != 3 {
		t.Fatalf("unexpected columns: %q %q %q %q %d %d %d %d %q %d", title, org, lm, start, allDay, timed, deleted, seq, custom, attendees)
	}
}

// BenchmarkWrite is sinktest.Bench: batches of 1,000 typical events with
// three attendees each, one writer (insert, update) and four (insert-4w).
func BenchmarkWrite(b *testing.B) {
	sinktest.Bench(b, func(b *testing.B) sink.Sink {
		return open(b, filepath.Join(b.TempDir(), "bench.db"), sink.DeleteRow)
	})
}

func TestDatabaseFileIsPrivate(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "private.db"), sink.DeleteRow)
	if err := s.Write(t.Context(), sinktest.Batch("A", "p", 1, sinktest.T0, 1)); err != nil {
		t.Fatal(err)
	}
	for _, suffix := range []string{"", "-wal"} {
		st, err := os.Stat(s.Path() + suffix)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Fatalf("%s: mode %v, want 0600", s.Path()+suffix, st.Mode().Perm())
		}
	}
}
