package sqlite_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	msqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/nsflow/nsflow/pkg/calendarevent"
	"github.com/nsflow/nsflow/pkg/sink"
	"github.com/nsflow/nsflow/pkg/sink/sinktest"
	"github.com/nsflow/nsflow/pkg/sink/sqlite"
)

// rawDB opens another connection to the sink's file, as a user or another
// program would (foreign keys off, SQLite's default).
func rawDB(t *testing.T, s *sqlite.Sink) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", s.Path()+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func changes(t *testing.T, s *sqlite.Sink) int64 {
	t.Helper()
	n, err := sqlite.TotalChanges(t.Context(), s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func write(t *testing.T, s *sqlite.Sink, events ...*calendarevent.Event) {
	t.Helper()
	if err := s.Write(t.Context(), events); err != nil {
		t.Fatalf("Write(%d events): %v", len(events), err)
	}
}

// wantAttendees checks the attendee rows of (account, id) by entity id.
func wantAttendees(t *testing.T, s *sqlite.Sink, account, id string, want ...string) {
	t.Helper()
	e, err := s.Lookup(t.Context(), account, id)
	if err != nil {
		t.Fatal(err)
	}
	if e == nil {
		t.Fatalf("%s/%s: no row", account, id)
	}
	var got []string
	for _, a := range e.Attendees {
		got = append(got, a.Entity.ID)
	}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("%s/%s attendees %v, want %v", account, id, got, want)
	}
}

func integrityOK(t *testing.T, s *sqlite.Sink) {
	t.Helper()
	var res string
	if err := rawDB(t, s).QueryRow(`PRAGMA integrity_check`).Scan(&res); err != nil {
		t.Fatal(err)
	}
	if res != "ok" {
		t.Fatalf("integrity_check: %s", res)
	}
}

// TestUnchangedAttendeesLeftAlone: a newer version with the same attendee
// set updates the event row only; a changed set replaces the attendee rows;
// an unknown list keeps them and still counts as the same set afterwards.
func TestUnchangedAttendeesLeftAlone(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "att.db"), sink.DeleteRow)
	at := func(sec int) time.Time { return sinktest.T0.Add(time.Duration(sec) * time.Second) }
	v1 := sinktest.NewEvent("A", "1", at(0), 1)
	write(t, s, v1)

	steps := []struct {
		name        string
		attendees   []calendarevent.Attendee
		wantChanges int64 // rows inserted, updated or deleted
		want        []string
	}{
		{"same set, other order", []calendarevent.Attendee{v1.Attendees[2], v1.Attendees[0], v1.Attendees[1]}, 1, []string{"-5", "2210", "3301"}},
		{"one response changed", func() []calendarevent.Attendee {
			as := slices.Clone(v1.Attendees)
			as[1].Response = "ACCEPTED"
			return as
		}(), 1 + 3 + 3, []string{"-5", "2210", "3301"}},
		{"unknown", nil, 1, []string{"-5", "2210", "3301"}},
		{"same as before unknown", func() []calendarevent.Attendee {
			as := slices.Clone(v1.Attendees)
			as[1].Response = "ACCEPTED"
			return as
		}(), 1, []string{"-5", "2210", "3301"}},
		{"one dropped", v1.Attendees[:2], 1 + 3 + 2, []string{"-5", "2210"}},
		{"none", []calendarevent.Attendee{}, 1 + 2, nil},
		{"none again", []calendarevent.Attendee{}, 1, nil},
	}
	for i, st := range steps {
		e := sinktest.NewEvent("A", "1", at(10*(i+1)), 1)
		e.Attendees = st.attendees
		before := changes(t, s)
		write(t, s, e)
		if got := changes(t, s) - before; got != st.wantChanges {
			t.Errorf("%s: %d rows changed, want %d", st.name, got, st.wantChanges)
		}
		wantAttendees(t, s, "A", "1", st.want...)
	}
	got, err := s.Lookup(t.Context(), "A", "1")
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Attendees) != 0 || !got.LastModifiedAt.Equal(at(10*len(steps))) {
		t.Fatalf("final row: version %v, %d attendees", got.LastModifiedAt, len(got.Attendees))
	}
}

// TestAttendeesChangedByOlderBuild: a build that predates attendees_digest
// updates the row and its attendee rows without the column; the digest left
// behind no longer matches the row's version, so the next write replaces the
// attendee rows even when its set equals the digest's.
func TestAttendeesChangedByOlderBuild(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "old.db"), sink.DeleteRow)
	v1 := sinktest.NewEvent("A", "1", sinktest.T0, 1)
	write(t, s, v1)

	db := rawDB(t, s)
	for _, q := range []string{
		`UPDATE calendar_events SET raw_sequence = 2 WHERE account = 'A' AND id = '1'`,
		`DELETE FROM calendar_event_attendees WHERE account = 'A' AND event_id = '1'`,
		`INSERT INTO calendar_event_attendees (account, event_id, entity_id) VALUES ('A', '1', '999')`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	v3 := sinktest.NewEvent("A", "1", sinktest.T0, 3) // v1's attendees
	write(t, s, v3)
	wantAttendees(t, s, "A", "1", "-5", "2210", "3301")
}

// TestOrphanAttendeeRows: attendee rows left behind by deleting an event row
// without the cascade (foreign keys off, as in the sqlite3 shell) are
// replaced when the event is written again.
func TestOrphanAttendeeRows(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "orphans.db"), sink.DeleteRow)
	write(t, s, sinktest.NewEvent("A", "1", sinktest.T0, 1), sinktest.NewEvent("A", "2", sinktest.T0, 2))
	if _, err := rawDB(t, s).Exec(`DELETE FROM calendar_events`); err != nil {
		t.Fatal(err)
	}
	one := sinktest.NewEvent("A", "1", sinktest.T0, 1)
	one.Attendees = one.Attendees[1:2]
	two := sinktest.NewEvent("A", "2", sinktest.T0, 2)
	two.Attendees = []calendarevent.Attendee{}
	write(t, s, one, two)
	wantAttendees(t, s, "A", "1", "2210")
	wantAttendees(t, s, "A", "2")
}

// TestIndexedColumnsUpdated: an update that changes start_at, organizer_id
// or company_id moves their index entries; one that does not leaves them.
func TestIndexedColumnsUpdated(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "idx.db"), sink.DeleteRow)
	write(t, s, sinktest.NewEvent("A", "1", sinktest.T0, 1))
	v2 := sinktest.NewEvent("A", "1", sinktest.T0, 2)
	start := v2.Start.Add(24 * time.Hour)
	v2.Start = &start
	v2.Organizer = &calendarevent.Ref{ID: "-7", Name: "Other"}
	v2.Company = nil
	write(t, s, v2)
	v3 := sinktest.NewEvent("A", "1", sinktest.T0, 3)
	v3.Start, v3.Organizer, v3.Company, v3.Title = v2.Start, v2.Organizer, v2.Company, "title only"
	write(t, s, v3)

	db := rawDB(t, s)
	for _, c := range []struct {
		q    string
		args []any
		want int
	}{
		{`SELECT count(*) FROM calendar_events INDEXED BY calendar_events_organizer_idx WHERE account = 'A' AND organizer_id = ?`, []any{"-7"}, 1},
		{`SELECT count(*) FROM calendar_events INDEXED BY calendar_events_organizer_idx WHERE account = 'A' AND organizer_id = ?`, []any{"-5"}, 0},
		{`SELECT count(*) FROM calendar_events INDEXED BY calendar_events_company_idx WHERE account = 'A' AND company_id IS NULL`, nil, 1},
		{`SELECT count(*) FROM calendar_events INDEXED BY calendar_events_start_at_idx WHERE start_at = ?`, []any{start.UTC().Format(sqlite.TimeFormat)}, 1},
		{`SELECT count(*) FROM calendar_events WHERE title = 'title only' AND raw_sequence = 3`, nil, 1},
	} {
		var n int
		if err := db.QueryRow(c.q, c.args...).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != c.want {
			t.Errorf("%s %v: %d, want %d", c.q, c.args, n, c.want)
		}
	}
	integrityOK(t, s)
}

// TestStatementsWithinVariableLimit: every multi-row statement binds at most
// SQLite's limit of parameters, which the driver has.
func TestStatementsWithinVariableLimit(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "limit.db"), sink.DeleteRow)
	conn, err := rawDB(t, s).Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	limit, err := msqlite.Limit(conn, sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, -1)
	if err != nil {
		t.Fatal(err)
	}
	if limit < sqlite.MaxVariables {
		t.Fatalf("SQLITE_LIMIT_VARIABLE_NUMBER is %d, the sink assumes %d", limit, sqlite.MaxVariables)
	}
	for q, n := range sqlite.StatementParameters() {
		if n > sqlite.MaxVariables {
			t.Errorf("%d parameters (limit %d): %.80s…", n, sqlite.MaxVariables, q)
		}
	}
}

// TestChunkBoundaries writes and then updates batches whose sizes fall on
// and around the part and statement chunk sizes, one with enough attendees
// for more than one attendee statement per part.
func TestChunkBoundaries(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "chunks.db"), sink.DeleteRow)
	p := sqlite.PartRows
	sizes := []int{1, p - 1, p, p + 1, 2*p + 3}
	total := 0
	for round := range 2 {
		total = 0
		for bi, n := range sizes {
			events := sinktest.Batch("A", fmt.Sprintf("b%d-", bi), n, sinktest.T0.Add(time.Duration(round)*time.Minute), 1)
			for i, e := range events {
				if round == 1 && i%2 == 0 {
					e.Attendees = e.Attendees[:1+i%3]
				}
			}
			write(t, s, events...)
			total += n
		}
		many := sinktest.Batch("A", "many-", p+5, sinktest.T0.Add(time.Duration(round)*time.Minute), 1)
		for _, e := range many {
			e.Attendees = nil
			for a := range sqlite.MaxAttendeeRows/p + 2 + round {
				e.Attendees = append(e.Attendees, calendarevent.Attendee{Entity: calendarevent.Ref{ID: fmt.Sprint(a)}})
			}
		}
		write(t, s, many...)
		total += len(many)
	}
	db := rawDB(t, s)
	var rows, attendees, newest int
	if err := db.QueryRow(`SELECT count(*), sum(last_modified_at = ?) FROM calendar_events`, sinktest.T0.Add(time.Minute).Format(sqlite.TimeFormat)).Scan(&rows, &newest); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow(`SELECT count(*) FROM calendar_event_attendees`).Scan(&attendees); err != nil {
		t.Fatal(err)
	}
	wantAttendees := (p + 5) * (sqlite.MaxAttendeeRows/p + 3)
	for _, n := range sizes {
		for i := range n {
			if i%2 == 0 {
				wantAttendees += 1 + i%3
			} else {
				wantAttendees += 3
			}
		}
	}
	if rows != total || newest != total || attendees != wantAttendees {
		t.Fatalf("%d rows (%d at the newest version), %d attendee rows; want %d, %d, %d", rows, newest, attendees, total, total, wantAttendees)
	}
	integrityOK(t, s)
}

// TestBadRecordInLaterPart: a batch whose unstorable event sorts into a part
// written after others fails permanently and commits nothing.
func TestBadRecordInLaterPart(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "bad.db"), sink.DeleteRow)
	events := sinktest.Batch("A", "e", 3*sqlite.PartRows, sinktest.T0, 1)
	events[0].ID = "zz" + strings.Repeat("9", 64) // sorts last
	err := s.Write(t.Context(), events)
	if err == nil || !sink.IsPermanent(err) {
		t.Fatalf("Write = %v, want a permanent error", err)
	}
	var n int
	if err := rawDB(t, s).QueryRow(`SELECT (SELECT count(*) FROM calendar_events) + (SELECT count(*) FROM calendar_event_attendees)`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("%d rows committed by a failed Write", n)
	}
}

// TestConcurrentLargeBatches: writers of multi-part batches of the same ids
// (newer and older versions, attendee sets changing) leave every id at its
// newest version with its attendees.
func TestConcurrentLargeBatches(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "conc.db"), sink.DeleteRow)
	const n, versions = 600, 6
	var wg sync.WaitGroup
	errs := make(chan error, versions)
	for v := range versions {
		wg.Go(func() {
			events := sinktest.Batch("A", "c", n, sinktest.T0.Add(time.Duration(v)*time.Second), 1)
			for _, e := range events {
				e.Attendees = e.Attendees[:1+v%3]
			}
			errs <- s.Write(t.Context(), events)
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	newest := sinktest.Batch("A", "c", n, sinktest.T0.Add((versions-1)*time.Second), 1)
	for _, i := range []int{0, n / 2, n - 1} {
		e := newest[i]
		got, err := s.Lookup(t.Context(), "A", e.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got == nil || !got.LastModifiedAt.Equal(e.LastModifiedAt) {
			t.Fatalf("%s: %v, want version %v", e.ID, got, e.LastModifiedAt)
		}
		wantAttendees(t, s, "A", e.ID, "-5", "2210", "3301"[:4*((versions-1)%3/2)])
	}
	integrityOK(t, s)
}

// TestMigratesVersion1Database: a database created by a build without
// attendees_digest gets the column at Open, and its rows (digest NULL) have
// their attendee rows replaced by the next newer version.
func TestMigratesVersion1Database(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v1.db")
	s, err := sqlite.Open(t.Context(), path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	write(t, s, sinktest.NewEvent("A", "1", sinktest.T0, 1))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`ALTER TABLE calendar_events DROP COLUMN attendees_digest`,
		`DELETE FROM schema_migrations WHERE version > 1`,
		`DELETE FROM calendar_event_attendees WHERE entity_id = '3301'`, // as v1 would not know
	} {
		if _, err := db.ExecContext(context.Background(), q); err != nil {
			t.Fatal(err)
		}
	}
	_ = db.Close()

	s = open(t, path, sink.DeleteRow)
	write(t, s, sinktest.NewEvent("A", "1", sinktest.T0, 2))
	wantAttendees(t, s, "A", "1", "-5", "2210", "3301")
}
