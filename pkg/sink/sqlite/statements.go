package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/nsflow/nsflow/pkg/sink/internal/sqlrow"
)

// eventColumns are the calendar_events columns in the order appendEventArgs
// binds them.
var eventColumns = []string{
	"account", "id", "external_id", "title", "message_html", "message_text", "location",
	"status", "status_name", "access_level", "reminder_type", "reminder_minutes", "recurrence",
	"organizer_id", "organizer_name", "owner_id", "owner_name", "company_id", "company_name",
	"contact_id", "contact_name", "support_case_id", "transaction_id", "related_item_id",
	"start_at", "end_at", "all_day", "timed", "local_date", "local_start_time", "local_end_time", "time_zone",
	"custom_fields", "extra", "deleted", "deleted_at", "created_at", "last_modified_at", "raw_sequence",
	"extracted_at", "loaded_at", "event_json",
}

// markColumns are the columns a tombstone updates in MarkDeleted mode: the
// rest of the row keeps the last live version.
var markColumns = []string{"deleted", "deleted_at", "last_modified_at", "raw_sequence", "extracted_at", "loaded_at"}

const attendeeColumns = 7

// Rows per multi-row statement. Statements exist for every power of two up to
// these, so any batch is a few prepared statements. maxStageRows keeps a
// staging insert under SQLite's 32,766 bound parameters.
const (
	maxEventRows    = 128
	maxStageRows    = 512
	maxTombRows     = 64
	maxKeyRows      = 256
	maxAttendeeRows = 512
)

// stageTable is the connection's temporary table a batch of live events is
// staged in before it is applied to calendar_events in two set statements.
const stageTable = "temp.nsflow_stage"

// stageTableSQL creates it (columns as eventColumns, no types or
// constraints: values keep the types they are bound with).
var stageTableSQL = "CREATE TEMP TABLE IF NOT EXISTS nsflow_stage (" + strings.Join(eventColumns, ", ") + ")"

type stmtKind int

const (
	kindLive stmtKind = iota
	kindMark
	kindTomb
	kindDeleteOlder
	kindAttendee
	kindAttendeeDelete
	kindAttendeeDeleteOne
	kindStage
	kindStageClear
	kindStageUpdate
	kindInsertNew
	kindExisting
	kindTombstoned
)

type stmtKey struct {
	kind stmtKind
	rows int
}

// chunk returns the largest power of two not above min(n, limit).
func chunk(n, limit int) int {
	n = min(n, limit)
	c := 1
	for c*2 <= n {
		c *= 2
	}
	return c
}

func prepareAll(ctx context.Context, db *sql.DB) (map[stmtKey]*sql.Stmt, error) {
	if _, err := db.ExecContext(ctx, stageTableSQL); err != nil {
		return nil, fmt.Errorf("create staging table: %w", err)
	}
	out := map[stmtKey]*sql.Stmt{}
	add := func(k stmtKey, q string) error {
		st, err := db.PrepareContext(ctx, q)
		if err != nil {
			return fmt.Errorf("prepare %v: %w", k, err)
		}
		out[k] = st
		return nil
	}
	for n := 1; n <= maxEventRows; n *= 2 {
		if err := add(stmtKey{kindLive, n}, upsertSQL(n, eventColumns[2:], ">=")); err != nil {
			return nil, err
		}
		if err := add(stmtKey{kindMark, n}, upsertSQL(n, markColumns, ">")); err != nil {
			return nil, err
		}
	}
	for n := 1; n <= maxTombRows; n *= 2 {
		if err := add(stmtKey{kindTomb, n}, tombSQL(n)); err != nil {
			return nil, err
		}
	}
	for n := 1; n <= maxStageRows; n *= 2 {
		if err := add(stmtKey{kindStage, n}, "INSERT INTO "+stageTable+" ("+strings.Join(eventColumns, ", ")+") VALUES "+
			placeholders(n, len(eventColumns))); err != nil {
			return nil, err
		}
	}
	if err := add(stmtKey{kindStageClear, 1}, "DELETE FROM "+stageTable); err != nil {
		return nil, err
	}
	if err := add(stmtKey{kindStageUpdate, 1}, stageUpdateSQL()); err != nil {
		return nil, err
	}
	for n := 1; n <= maxStageRows; n *= 2 {
		if err := add(stmtKey{kindInsertNew, n}, "INSERT OR FAIL INTO calendar_events ("+strings.Join(eventColumns, ", ")+") VALUES "+
			placeholders(n, len(eventColumns))); err != nil {
			return nil, err
		}
	}
	for n := 1; n <= maxKeyRows; n *= 2 {
		if err := add(stmtKey{kindExisting, n}, `SELECT e.account, e.id, e.last_modified_at, e.raw_sequence
			FROM (VALUES `+placeholders(n, 2)+`) AS v JOIN calendar_events e ON e.account = v.column1 AND e.id = v.column2`); err != nil {
			return nil, err
		}
		if err := add(stmtKey{kindTombstoned, n}, `SELECT t.account, t.id, t.deleted_at, t.raw_sequence
			FROM (VALUES `+placeholders(n, 2)+`) AS v JOIN calendar_event_tombstones t ON t.account = v.column1 AND t.id = v.column2`); err != nil {
			return nil, err
		}
	}
	for n := 1; n <= maxAttendeeRows; n *= 2 {
		if err := add(stmtKey{kindAttendee, n}, `INSERT OR FAIL INTO calendar_event_attendees
			(account, event_id, entity_id, entity_name, entity_type, attendance, response) VALUES `+
			placeholders(n, attendeeColumns)); err != nil {
			return nil, err
		}
	}
	if err := add(stmtKey{kindAttendeeDeleteOne, 1}, `DELETE FROM calendar_event_attendees WHERE account = ? AND event_id = ?`); err != nil {
		return nil, err
	}
	if err := add(stmtKey{kindDeleteOlder, 1}, `DELETE FROM calendar_events
		WHERE account = ? AND id = ? AND (last_modified_at, raw_sequence) <= (?, ?)`); err != nil {
		return nil, err
	}
	for n := 1; n <= maxKeyRows; n *= 2 {
		if err := add(stmtKey{kindAttendeeDelete, n}, `DELETE FROM calendar_event_attendees
			WHERE (account, event_id) IN (VALUES `+placeholders(n, 2)+`)`); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (s *Sink) stmt(ctx context.Context, tx *sql.Tx, kind stmtKind, rows int) (*sql.Stmt, error) {
	st, ok := s.stmts[stmtKey{kind, rows}]
	if !ok {
		return nil, fmt.Errorf("no prepared statement for kind %d with %d rows", kind, rows)
	}
	return tx.StmtContext(ctx, st), nil
}

// upsertSQL is the guarded multi-row upsert: a row is inserted unless a
// tombstone at least as new (blockOp ">=") or strictly newer (">") exists,
// and an existing row is updated (set columns) only by a strictly newer
// version. RETURNING lists the rows actually written.
func upsertSQL(rows int, set []string, blockOp string) string {
	cols := strings.Join(eventColumns, ", ")
	var b strings.Builder
	b.WriteString("WITH v(" + cols + ") AS (VALUES ")
	b.WriteString(placeholders(rows, len(eventColumns)))
	b.WriteString(")\nINSERT INTO calendar_events (" + cols + ")\nSELECT " + cols + " FROM v\n")
	b.WriteString("WHERE NOT EXISTS (SELECT 1 FROM calendar_event_tombstones t WHERE t.account = v.account AND t.id = v.id\n")
	b.WriteString("  AND (t.deleted_at, t.raw_sequence) " + blockOp + " (v.last_modified_at, v.raw_sequence))\n")
	b.WriteString("ON CONFLICT (account, id) DO UPDATE SET ")
	for i, c := range set {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(c + " = excluded." + c)
	}
	b.WriteString("\nWHERE (excluded.last_modified_at, excluded.raw_sequence) > (calendar_events.last_modified_at, calendar_events.raw_sequence)\n")
	b.WriteString("RETURNING account, id")
	return b.String()
}

// tombGuard is true for a staged row (v) no tombstone blocks: one at least
// as new as the row.
const tombGuard = `NOT EXISTS (SELECT 1 FROM calendar_event_tombstones t WHERE t.account = v.account AND t.id = v.id
  AND (t.deleted_at, t.raw_sequence) >= (v.last_modified_at, v.raw_sequence))`

// stageUpdateSQL applies the staged rows to the rows they are newer than
// (unless a tombstone at least as new exists); RETURNING lists the rows
// written. It is UPDATE OR FAIL, not part of an upsert: an upsert's DO
// UPDATE checks constraints with ABORT, which makes SQLite keep a statement
// journal — a copy of every page the statement changes — and that copy was
// the largest cost of a write (see Open for the other conditions).
func stageUpdateSQL() string {
	var b strings.Builder
	b.WriteString("UPDATE OR FAIL calendar_events SET ")
	for i, c := range eventColumns[2:] {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(c + " = v." + c)
	}
	b.WriteString("\nFROM " + stageTable + " AS v\nWHERE calendar_events.account = v.account AND calendar_events.id = v.id\n")
	b.WriteString("  AND (v.last_modified_at, v.raw_sequence) > (calendar_events.last_modified_at, calendar_events.raw_sequence)\n")
	b.WriteString("  AND " + tombGuard + "\nRETURNING account, id")
	return b.String()
}

func tombSQL(rows int) string {
	return `INSERT INTO calendar_event_tombstones (account, id, deleted_at, raw_sequence, loaded_at) VALUES ` +
		placeholders(rows, 5) + `
ON CONFLICT (account, id) DO UPDATE SET deleted_at = excluded.deleted_at, raw_sequence = excluded.raw_sequence, loaded_at = excluded.loaded_at
WHERE (excluded.deleted_at, excluded.raw_sequence) > (calendar_event_tombstones.deleted_at, calendar_event_tombstones.raw_sequence)`
}

func placeholders(rows, cols int) string {
	one := "(" + strings.Repeat("?, ", cols-1) + "?)"
	return strings.Repeat(one+", ", rows-1) + one
}

func appendEventArgs(args []any, r *sqlrow.Row, loadedAt string) []any {
	return append(args,
		r.Account, r.ID, text(r.ExternalID), text(r.Title), text(r.MessageHTML), text(r.MessageText), text(r.Location),
		text(r.Status), text(r.StatusName), text(r.AccessLevel), text(r.ReminderType), integer(r.ReminderMinutes), text(r.Recurrence),
		text(r.OrganizerID), text(r.OrganizerName), text(r.OwnerID), text(r.OwnerName), text(r.CompanyID), text(r.CompanyName),
		text(r.ContactID), text(r.ContactName), text(r.SupportCaseID), text(r.TransactionID), text(r.RelatedItemID),
		instant(r.StartAt), instant(r.EndAt), boolean(r.AllDay), boolean(r.Timed),
		text(r.LocalDate), text(r.LocalStartTime), text(r.LocalEndTime), text(r.TimeZone),
		jsonText(r.CustomFields), jsonText(r.Extra), boolean(r.Deleted), instant(r.DeletedAt), instant(r.CreatedAt),
		r.LastModifiedAt.Format(TimeFormat), r.RawSequence, instant(r.ExtractedAt), loadedAt, string(r.EventJSON),
	)
}

// text binds "" as NULL.
func text(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func integer(p *int64) any {
	if p == nil {
		return nil
	}
	return *p
}

// instant binds the zero time as NULL.
func instant(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format(TimeFormat)
}

func boolean(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

func jsonText(b []byte) any {
	if b == nil {
		return nil
	}
	return string(b)
}
