package postgres_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/nsflow/nsflow/pkg/calendarevent"
	"github.com/nsflow/nsflow/pkg/sink"
	"github.com/nsflow/nsflow/pkg/sink/postgres"
	"github.com/nsflow/nsflow/pkg/sink/sinktest"
)

// syncBuffer is a bytes.Buffer safe for a logger and a test to share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitForLockWait waits until a session with application_name app waits for
// a lock.
func waitForLockWait(t *testing.T, pool *pgxpool.Pool, app string) {
	t.Helper()
	sinktest.Eventually(t, 20*time.Second, func() error {
		var n int
		if err := pool.QueryRow(t.Context(), `SELECT count(*) FROM pg_stat_activity
			WHERE application_name = $1 AND wait_event_type = 'Lock'`, app).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("no session of %s waits for a lock yet", app)
		}
		return nil
	})
}

// TestCopyPathFallsBack makes another transaction commit a version of a key
// while a Write is waiting for it — an insert of an absent key (the copy
// then hits a unique violation) and an update of an older row (the settle
// delete then finds a new tuple) — and checks that the Write falls back to
// the upsert statements and ends at its own, newer version.
func TestCopyPathFallsBack(t *testing.T) {
	base := baseURL(t)
	for _, tc := range []struct {
		name  string
		setup string // run before the Write; commits
		race  string // run in a transaction the Write must wait for
	}{
		{
			name: "concurrent insert",
			race: `INSERT INTO calendar_events (account, id, all_day, timed, last_modified_at, raw_sequence, loaded_at, event_json)
				VALUES ('ACCT', 'race', false, true, $1, 1, now(), '{}')`,
		},
		{
			name: "concurrent update",
			setup: `INSERT INTO calendar_events (account, id, all_day, timed, last_modified_at, raw_sequence, loaded_at, event_json)
				VALUES ('ACCT', 'race', false, true, $1, 1, now(), '{}')`,
			race: `UPDATE calendar_events SET raw_sequence = 2, title = 'other writer' WHERE account = 'ACCT' AND id = 'race'`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			app := fmt.Sprintf("nsflow_fallback_%d", time.Now().UnixNano())
			raw := withParams(t, newSchema(t, base), "", map[string]string{"application_name": app})
			var logs syncBuffer
			s, err := postgres.Open(t.Context(), raw, postgres.Options{
				Deletes: sink.DeleteRow,
				Logger:  slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
			})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = s.Close() })
			admin, err := pgxpool.New(t.Context(), withParams(t, raw, "", map[string]string{"application_name": app + "_admin"}))
			if err != nil {
				t.Fatal(err)
			}
			defer admin.Close()
			if tc.setup != "" {
				if _, err := admin.Exec(t.Context(), tc.setup, sinktest.T0); err != nil {
					t.Fatal(err)
				}
			}
			other, err := admin.Begin(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = other.Rollback(context.Background()) }()
			if _, err := other.Exec(t.Context(), tc.race, pgxArgs(tc.race)...); err != nil {
				t.Fatal(err)
			}

			e := sinktest.NewEvent("ACCT", "race", sinktest.T0.Add(time.Minute), 5)
			done := make(chan error, 1)
			go func() { done <- s.Write(t.Context(), []*calendarevent.Event{e}) }()
			waitForLockWait(t, admin, app)
			if err := other.Commit(t.Context()); err != nil {
				t.Fatal(err)
			}
			if err := <-done; err != nil {
				t.Fatalf("Write: %v", err)
			}
			if !strings.Contains(logs.String(), "using upserts") {
				t.Errorf("the Write did not fall back to the upsert statements; log:\n%s", logs.String())
			}
			got, err := s.Lookup(t.Context(), "ACCT", "race")
			if err != nil {
				t.Fatal(err)
			}
			if got == nil || got.Title != e.Title || got.Provenance.RawSequence != 5 || len(got.Attendees) != len(e.Attendees) {
				t.Fatalf("after the race: %+v, want the Write's version with %d attendees", got, len(e.Attendees))
			}
		})
	}
}

// pgxArgs returns the arguments a race statement takes ($1 is the base instant).
func pgxArgs(sql string) []any {
	if strings.Contains(sql, "$1") {
		return []any{sinktest.T0}
	}
	return nil
}

// TestAttendeeRowsRewrittenOnlyWhenChanged checks that a newer version
// replaces exactly the attendee rows that differ: unchanged rows keep their
// tuple (xmin), changed ones are rewritten, removed ones go, new ones come.
func TestAttendeeRowsRewrittenOnlyWhenChanged(t *testing.T) {
	raw := newSchema(t, baseURL(t))
	s := open(t, raw, sink.DeleteRow)
	pool, err := pgxpool.New(t.Context(), raw)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	xmins := func() map[string]string {
		rows, err := pool.Query(t.Context(), `SELECT entity_id, xmin::text FROM calendar_event_attendees
			WHERE account = 'ACCT' AND event_id = 'att'`)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		var id, xmin string
		if _, err := pgx.ForEachRow(rows, []any{&id, &xmin}, func() error { out[id] = xmin; return nil }); err != nil {
			t.Fatal(err)
		}
		return out
	}

	v1 := sinktest.NewEvent("ACCT", "att", sinktest.T0, 1) // -5, 2210, 3301
	if err := s.Write(t.Context(), []*calendarevent.Event{v1}); err != nil {
		t.Fatal(err)
	}
	before := xmins()

	v2 := sinktest.NewEvent("ACCT", "att", sinktest.T0.Add(time.Minute), 2)
	v2.Attendees = []calendarevent.Attendee{
		v1.Attendees[0], // unchanged
		{Entity: v1.Attendees[1].Entity, Attendance: "REQUIRED", Response: "DECLINED"}, // changed
		{Entity: calendarevent.Ref{ID: "4400", Name: "Pat Partner", Type: "partner"}},  // new; 3301 removed
	}
	if err := s.Write(t.Context(), []*calendarevent.Event{v2}); err != nil {
		t.Fatal(err)
	}
	after := xmins()
	if len(after) != 3 || after["-5"] != before["-5"] || after["2210"] == before["2210"] || after["4400"] == "" || after["3301"] != "" {
		t.Fatalf("attendee rows (entity → xmin) before %v, after %v: want -5 untouched, 2210 rewritten, 3301 gone, 4400 new", before, after)
	}
	got, err := s.Lookup(t.Context(), "ACCT", "att")
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Attendees) != 3 || got.Attendees[1].Entity.ID != "2210" || got.Attendees[1].Response != "DECLINED" {
		t.Fatalf("attendees %+v, want v2's", got.Attendees)
	}

	v3 := sinktest.NewEvent("ACCT", "att", sinktest.T0.Add(2*time.Minute), 3)
	v3.Attendees = v2.Attendees
	if err := s.Write(t.Context(), []*calendarevent.Event{v3}); err != nil {
		t.Fatal(err)
	}
	if again := xmins(); fmt.Sprint(again) != fmt.Sprint(after) {
		t.Fatalf("an unchanged attendee list rewrote rows: %v, then %v", after, again)
	}
}

// TestValuesOnlyTheServerParses writes local dates and times outside the
// canonical forms and out-of-range reminders: the sink leaves them to the
// server, which stores what it accepts and rejects the rest permanently.
func TestValuesOnlyTheServerParses(t *testing.T) {
	raw := newSchema(t, baseURL(t))
	s := open(t, raw, sink.DeleteRow)
	pool, err := pgxpool.New(t.Context(), raw)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()

	odd := sinktest.NewEvent("ACCT", "odd", sinktest.T0, 1)
	odd.Local.Date, odd.Local.StartTime, odd.Local.EndTime = "2024-3-5", "24:00:00", "9:30"
	plain := sinktest.NewEvent("ACCT", "plain", sinktest.T0, 2)
	if err := s.Write(t.Context(), []*calendarevent.Event{odd, plain}); err != nil {
		t.Fatalf("Write: %v", err)
	}
	var date, start, end string
	if err := pool.QueryRow(t.Context(), `SELECT local_date::text, local_start_time::text, local_end_time::text
		FROM calendar_events WHERE account = 'ACCT' AND id = 'odd'`).Scan(&date, &start, &end); err != nil {
		t.Fatal(err)
	}
	if date != "2024-03-05" || start != "24:00:00" || end != "09:30:00" {
		t.Fatalf("stored %s %s %s, want 2024-03-05 24:00:00 09:30:00", date, start, end)
	}

	for name, mutate := range map[string]func(*calendarevent.Event){
		"no such day":      func(e *calendarevent.Event) { e.Local.Date = "2024-02-30" },
		"reminder too big": func(e *calendarevent.Event) { m := math.MaxInt32 + 1; e.Reminder.Minutes = &m },
	} {
		e := sinktest.NewEvent("ACCT", "bad", sinktest.T0, 3)
		mutate(e)
		err := s.Write(t.Context(), []*calendarevent.Event{sinktest.NewEvent("ACCT", "good", sinktest.T0, 4), e})
		if err == nil || !sink.IsPermanent(err) {
			t.Errorf("%s: Write = %v, want a permanent error", name, err)
		}
	}
	if e, err := s.Lookup(t.Context(), "ACCT", "good"); err != nil || e != nil {
		t.Fatalf("a failed batch committed a row (%v, %v)", e != nil, err)
	}
}

// TestLoadedAtIsTheTransactionTime checks that the copy path stores
// now() — the transaction start, the same for the whole batch — as loaded_at.
func TestLoadedAtIsTheTransactionTime(t *testing.T) {
	raw := newSchema(t, baseURL(t))
	s := open(t, raw, sink.MarkDeleted)
	pool, err := pgxpool.New(t.Context(), raw)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	var before time.Time
	if err := pool.QueryRow(t.Context(), `SELECT now()`).Scan(&before); err != nil {
		t.Fatal(err)
	}
	if err := s.Write(t.Context(), sinktest.Batch("ACCT", "l", 5, sinktest.T0, 1)); err != nil {
		t.Fatal(err)
	}
	var n int
	var first, last time.Time
	if err := pool.QueryRow(t.Context(), `SELECT count(DISTINCT loaded_at), min(loaded_at), max(loaded_at)
		FROM calendar_events`).Scan(&n, &first, &last); err != nil {
		t.Fatal(err)
	}
	if n != 1 || first.Before(before) || time.Since(last) > time.Minute {
		t.Fatalf("loaded_at: %d distinct values from %v to %v, want one, after %v", n, first, last, before)
	}
}
