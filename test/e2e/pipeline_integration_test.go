//go:build integration

package e2e

import (
	"database/sql"
	"fmt"
	"net/http"
	"testing"
	"time"
)

// TestComposeTopology runs the docker-compose topology: one NATS node with
// per-service users, the sandbox, one container per stage. Every sandbox
// event reaches the SQLite sink, the loader's metrics agree, and a create, an
// update and a delete made in NetSuite while it runs arrive too.
func TestComposeTopology(t *testing.T) {
	s := newStack(t, stackConfig{Events: 2000})
	loader := s.startService("loader", "loader")
	s.startService("transformer", "transformer")
	extractor := s.startService("extractor", "extractor")
	db := s.db()

	c, b := s.waitDrained(db, 3*time.Minute)
	info := s.info()
	if c.live != info.Events {
		t.Fatalf("sink holds %d live events, the sandbox %d", c.live, info.Events)
	}
	loaded, err := metric(t, loader, "nsflow_loader_events_total")
	if err != nil {
		t.Fatal(err)
	}
	// Tombstones of events deleted before the first pass are loaded too.
	if int(loaded) < info.Events || int(loaded) != c.live+c.tombstones {
		t.Errorf("nsflow_loader_events_total = %v, want sink live %d + tombstones %d (sandbox live %d)", loaded, c.live, c.tombstones, info.Events)
	}
	if extracted, _ := metric(t, extractor, "nsflow_extractor_events_total"); int(extracted) < info.Events {
		t.Errorf("nsflow_extractor_events_total = %v, want >= %d", extracted, info.Events)
	}
	if b.dlq != 0 {
		t.Errorf("DLQ holds %d messages", b.dlq)
	}
	t.Logf("initial load: %d events, %d tombstones, raw=%d events=%d", c.live, c.tombstones, b.raw, b.events)

	// Changes in "NetSuite" while the pipeline runs.
	changes := changeEvents(t, s, db, "compose")
	changes.wait(t, db, time.Minute)
	s.waitDrained(db, time.Minute)
	s.assertNoPermissionViolations()
}

// changes are events created, updated and deleted through the sandbox's
// control API while the pipeline runs, to be checked in the sink.
type changes struct {
	created, updated, deleted string
	title                     string
}

// changeEvents creates an event, retitles one the sink already holds and
// deletes another.
func changeEvents(t *testing.T, s *stack, db *sql.DB, tag string) changes {
	t.Helper()
	ch := changes{title: fmt.Sprintf("e2e %s %d", tag, time.Now().UnixNano())}
	rows, err := db.QueryContext(t.Context(), `SELECT id FROM calendar_events WHERE deleted = 0 ORDER BY id LIMIT 2`)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}
	if len(ids) < 2 {
		t.Fatalf("the sink holds %d events; need 2 to change", len(ids))
	}
	ch.updated, ch.deleted = ids[0], ids[1]
	var created struct {
		ID string `json:"id"`
	}
	title := ch.title + " created"
	s.control(http.MethodPost, "/sandbox/v1/events", map[string]any{"title": title}, http.StatusCreated, &created)
	ch.created = created.ID
	updated := ch.title + " updated"
	s.control(http.MethodPatch, "/sandbox/v1/events/"+ch.updated, map[string]any{"title": updated}, http.StatusNoContent, nil)
	s.control(http.MethodDelete, "/sandbox/v1/events/"+ch.deleted, nil, http.StatusNoContent, nil)
	return ch
}

// wait polls until the sink shows every change.
func (ch changes) wait(t *testing.T, db *sql.DB, timeout time.Duration) {
	t.Helper()
	eventually(t, "changes made in the sandbox reach the sink", timeout, func() (bool, string) {
		if err := ch.check(t, db); err != nil {
			return false, err.Error()
		}
		return true, ""
	})
}

// check reports the first change the sink does not show yet.
func (ch changes) check(t *testing.T, db *sql.DB) error {
	for id, want := range map[string]string{ch.created: ch.title + " created", ch.updated: ch.title + " updated"} {
		var title sql.NullString
		err := db.QueryRowContext(t.Context(), `SELECT title FROM calendar_events WHERE account = ? AND id = ? AND deleted = 0`, account, id).Scan(&title)
		if err != nil {
			return fmt.Errorf("event %s: %w", id, err)
		}
		if title.String != want {
			return fmt.Errorf("event %s: title %q, want %q", id, title.String, want)
		}
	}
	var live, tombstones int
	if err := db.QueryRowContext(t.Context(), `SELECT count(*) FROM calendar_events WHERE account = ? AND id = ? AND deleted = 0`, account, ch.deleted).Scan(&live); err != nil {
		return err
	}
	if err := db.QueryRowContext(t.Context(), `SELECT count(*) FROM calendar_event_tombstones WHERE account = ? AND id = ?`, account, ch.deleted).Scan(&tombstones); err != nil {
		return err
	}
	if live != 0 || tombstones != 1 {
		return fmt.Errorf("deleted event %s: %d live rows, %d tombstones; want 0 and 1", ch.deleted, live, tombstones)
	}
	return nil
}
