package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"
	"unsafe"

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

// eventLastModified is the position of last_modified_at in eventColumns.
var eventLastModified = slices.Index(eventColumns, "last_modified_at")

// markColumns are the columns a tombstone updates in MarkDeleted mode: the
// rest of the row keeps the last live version.
var markColumns = []string{"deleted", "deleted_at", "last_modified_at", "raw_sequence", "extracted_at", "loaded_at"}

// skippableColumns are the indexed columns besides the key and
// last_modified_at. Versions of an event rarely change them, and SQLite
// rewrites the index entry of every column an UPDATE sets, changed or not,
// so an update leaves them out when they are unchanged.
var skippableColumns = []string{"start_at", "organizer_id", "company_id"}

// liveColumns are the calendar_events columns a live row binds, in bind
// order: skippableColumns, the other non-key columns, attendees_digest, and
// the key last, so that an UPDATE ... SET ... WHERE account = ? AND id = ?
// binds a suffix of the row's values.
var liveColumns, liveFromEvent = func() ([]string, []int) {
	cols := slices.Clone(skippableColumns)
	for _, c := range eventColumns[2:] {
		if !slices.Contains(skippableColumns, c) {
			cols = append(cols, c)
		}
	}
	cols = append(cols, "attendees_digest", "account", "id")
	from := make([]int, len(cols))
	for i, c := range cols {
		from[i] = slices.Index(eventColumns, c) // -1 for attendees_digest
	}
	return cols, from
}()

// Positions in liveColumns, and its length.
const (
	liveStartAt   = 0
	liveOrganizer = 1
	liveCompany   = 2
)

var (
	liveWidth  = len(liveColumns)
	liveDigest = liveWidth - 3
)

const attendeeColumns = 7

// maxVariables is SQLite's limit on bound parameters per statement
// (SQLITE_MAX_VARIABLE_NUMBER, 32,766 since 3.32).
const maxVariables = 32766

// Rows per multi-row statement. Statements exist for every power of two up to
// these, so any batch is a few prepared statements; each stays within
// maxVariables (TestStatementsWithinVariableLimit).
const (
	maxInsertRows   = partRows // × 43 live columns = 11,008 parameters
	maxEventRows    = 128      // MarkDeleted tombstones
	maxTombRows     = 64
	maxKeyRows      = 256 // × 3 (position, account, id)
	maxAttendeeRows = 4096
)

type stmtKind int

const (
	kindMark stmtKind = iota
	kindTomb
	kindDeleteOlder
	kindAttendee
	kindAttendeeDelete
	kindAttendeeDeleteOne
	kindInsertNew
	kindUpdate
	kindUpdateLight
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

// statement is one statement prepareAll prepares.
type statement struct {
	key stmtKey
	sql string
}

// statements lists every statement the sink prepares.
func statements() []statement {
	var out []statement
	add := func(kind stmtKind, rows int, q string) { out = append(out, statement{stmtKey{kind, rows}, q}) }
	for n := 1; n <= maxEventRows; n *= 2 {
		add(kindMark, n, upsertSQL(n, markColumns, ">"))
	}
	for n := 1; n <= maxTombRows; n *= 2 {
		add(kindTomb, n, tombSQL(n))
	}
	for n := 1; n <= maxInsertRows; n *= 2 {
		add(kindInsertNew, n, "INSERT OR FAIL INTO calendar_events ("+strings.Join(liveColumns, ", ")+") VALUES "+placeholders(n, liveWidth))
	}
	add(kindUpdate, 1, updateSQL(liveColumns[:liveWidth-2]))
	add(kindUpdateLight, 1, updateSQL(liveColumns[len(skippableColumns):liveWidth-2]))
	for n := 1; n <= maxKeyRows; n *= 2 {
		add(kindExisting, n, existingSQL(n))
		add(kindTombstoned, n, `SELECT v.column1, t.deleted_at, t.raw_sequence
FROM (VALUES `+placeholders(n, 3)+`) AS v JOIN calendar_event_tombstones t ON t.account = v.column2 AND t.id = v.column3`)
		add(kindAttendeeDelete, n, `DELETE FROM calendar_event_attendees WHERE (account, event_id) IN (VALUES `+placeholders(n, 2)+`)`)
	}
	for n := 1; n <= maxAttendeeRows; n *= 2 {
		add(kindAttendee, n, `INSERT OR FAIL INTO calendar_event_attendees
(account, event_id, entity_id, entity_name, entity_type, attendance, response) VALUES `+placeholders(n, attendeeColumns))
	}
	add(kindAttendeeDeleteOne, 1, `DELETE FROM calendar_event_attendees WHERE account = ? AND event_id = ?`)
	add(kindDeleteOlder, 1, `DELETE FROM calendar_events WHERE account = ? AND id = ? AND (last_modified_at, raw_sequence) <= (?, ?)`)
	return out
}

func prepareAll(ctx context.Context, db *sql.DB) (map[stmtKey]*sql.Stmt, error) {
	out := map[stmtKey]*sql.Stmt{}
	for _, st := range statements() {
		p, err := db.PrepareContext(ctx, st.sql)
		if err != nil {
			for _, p := range out {
				_ = p.Close()
			}
			return nil, fmt.Errorf("prepare %v: %w", st.key, err)
		}
		out[st.key] = p
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

// existingSQL looks up rows keys (position in the batch, account, id): the
// row's version, attendees digest and skippableColumns, or, for a key with
// no row but attendee rows, a row of NULLs.
func existingSQL(rows int) string {
	return `SELECT v.column1, e.last_modified_at, e.raw_sequence, e.attendees_digest, e.start_at, e.organizer_id, e.company_id
FROM (VALUES ` + placeholders(rows, 3) + `) AS v
LEFT JOIN calendar_events e ON e.account = v.column2 AND e.id = v.column3
WHERE e.account IS NOT NULL
   OR EXISTS (SELECT 1 FROM calendar_event_attendees a WHERE a.account = v.column2 AND a.event_id = v.column3)`
}

// updateSQL updates set (then binds account and id) of one row. It has no
// version guard: applyLive has read the version under the write lock.
func updateSQL(set []string) string {
	return "UPDATE OR FAIL calendar_events SET " + strings.Join(set, " = ?, ") + " = ? WHERE account = ? AND id = ?"
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
		r.LastModifiedAt.Format(TimeFormat), r.RawSequence, instant(r.ExtractedAt), loadedAt, borrowText(r.EventJSON),
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
	return borrowText(b)
}

// borrowText returns b as a string without copying it: the bound value only
// lives for the statement, the driver copies it into SQLite's memory when it
// binds it, and neither the Row's encodings nor the caller's (see
// sink.EncodedWriter) change during a Write.
func borrowText(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }
