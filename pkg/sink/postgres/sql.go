package postgres

import (
	"strconv"
	"strings"
	"time"

	"github.com/nsflow/nsflow/pkg/sink/internal/sqlrow"
)

// columns holds a set of rows column by column, the shape unnest takes.
// Absent values travel as "" and the zero time, turned into NULL by the
// statement (NULLIF), so that pgx can use its fast paths for []string and
// []time.Time instead of reflecting over slices of pointers.
type columns struct {
	text      [][]string // textColumns order
	times     [][]time.Time
	bools     [][]bool
	reminder  []*int64
	lastMod   []time.Time
	rawSeq    []int64
	eventJSON []string
}

// Column groups, in the order args passes them.
var (
	textColumns = []string{
		"account", "id", "external_id", "title", "message_html", "message_text", "location",
		"status", "status_name", "access_level", "reminder_type", "recurrence",
		"organizer_id", "organizer_name", "owner_id", "owner_name", "company_id", "company_name",
		"contact_id", "contact_name", "support_case_id", "transaction_id", "related_item_id",
		"local_date", "local_start_time", "local_end_time", "time_zone", "custom_fields", "extra",
	}
	timeColumns = []string{"start_at", "end_at", "deleted_at", "created_at", "extracted_at"}
	boolColumns = []string{"all_day", "timed", "deleted"}
)

// casts turn text parameters into their column types.
var casts = map[string]string{
	"local_date": "::date", "local_start_time": "::time", "local_end_time": "::time",
	"custom_fields": "::jsonb", "extra": "::jsonb",
}

func newColumns(n int) columns {
	c := columns{
		text:  make([][]string, len(textColumns)),
		times: make([][]time.Time, len(timeColumns)),
		bools: make([][]bool, len(boolColumns)),
	}
	for i := range c.text {
		c.text[i] = make([]string, 0, n)
	}
	for i := range c.times {
		c.times[i] = make([]time.Time, 0, n)
	}
	for i := range c.bools {
		c.bools[i] = make([]bool, 0, n)
	}
	return c
}

func (c *columns) len() int { return len(c.rawSeq) }

func (c *columns) append(r *sqlrow.Row) {
	for i, v := range [...]string{
		r.Account, r.ID, r.ExternalID, r.Title, r.MessageHTML, r.MessageText, r.Location,
		r.Status, r.StatusName, r.AccessLevel, r.ReminderType, r.Recurrence,
		r.OrganizerID, r.OrganizerName, r.OwnerID, r.OwnerName, r.CompanyID, r.CompanyName,
		r.ContactID, r.ContactName, r.SupportCaseID, r.TransactionID, r.RelatedItemID,
		r.LocalDate, r.LocalStartTime, r.LocalEndTime, r.TimeZone, string(r.CustomFields), string(r.Extra),
	} {
		c.text[i] = append(c.text[i], v)
	}
	for i, v := range [...]time.Time{r.StartAt, r.EndAt, r.DeletedAt, r.CreatedAt, r.ExtractedAt} {
		c.times[i] = append(c.times[i], v)
	}
	for i, v := range [...]bool{r.AllDay, r.Timed, r.Deleted} {
		c.bools[i] = append(c.bools[i], v)
	}
	c.reminder = append(c.reminder, r.ReminderMinutes)
	c.lastMod = append(c.lastMod, r.LastModifiedAt)
	c.rawSeq = append(c.rawSeq, r.RawSequence)
	c.eventJSON = append(c.eventJSON, string(r.EventJSON))
}

// args returns the parameters in the order unnestSQL declares them.
func (c *columns) args() []any {
	out := make([]any, 0, len(textColumns)+len(timeColumns)+len(boolColumns)+4)
	for _, a := range c.text {
		out = append(out, a)
	}
	for _, a := range c.times {
		out = append(out, a)
	}
	for _, a := range c.bools {
		out = append(out, a)
	}
	return append(out, c.reminder, c.lastMod, c.rawSeq, c.eventJSON)
}

type keyColumns struct{ account, id []string }

type attendeeColumns struct {
	account, eventID, entityID, entityName, entityType, attendance, response []string
}

func (a *attendeeColumns) append(r *sqlrow.Row, at sqlrow.Attendee) {
	a.account = append(a.account, r.Account)
	a.eventID = append(a.eventID, r.ID)
	a.entityID = append(a.entityID, at.EntityID)
	a.entityName = append(a.entityName, at.EntityName)
	a.entityType = append(a.entityType, at.EntityType)
	a.attendance = append(a.attendance, at.Attendance)
	a.response = append(a.response, at.Response)
}

// batch is a prepared Write: live rows and tombstones as columns, every key,
// and the live rows whose attendee lists may need replacing.
type batch struct {
	live, tombs  columns
	keys         keyColumns
	attendeeRows []*sqlrow.Row
}

func newBatch(rows []sqlrow.Row) *batch {
	b := &batch{live: newColumns(len(rows)), tombs: newColumns(0)}
	for i := range rows {
		r := &rows[i]
		b.keys.account = append(b.keys.account, r.Account)
		b.keys.id = append(b.keys.id, r.ID)
		if r.Deleted {
			b.tombs.append(r)
			continue
		}
		b.live.append(r)
		if r.Attendees != nil {
			b.attendeeRows = append(b.attendeeRows, r)
		}
	}
	return b
}

// unnestSQL is the FROM item that turns the args arrays into rows u(…), and
// selectList the expressions giving each calendar_events column its value.
var unnestSQL, selectList, columnList = func() (string, string, string) {
	var params, names, exprs []string
	add := func(name, array, expr string) {
		params = append(params, "$"+strconv.Itoa(len(params)+1)+"::"+array)
		names = append(names, name)
		exprs = append(exprs, expr)
	}
	for _, c := range textColumns {
		e := "u." + c
		if c != "account" && c != "id" {
			e = "NULLIF(u." + c + ", '')" + casts[c]
		}
		add(c, "text[]", e)
	}
	for _, c := range timeColumns {
		add(c, "timestamptz[]", "NULLIF(u."+c+", '0001-01-01 00:00:00+00'::timestamptz)")
	}
	for _, c := range boolColumns {
		add(c, "bool[]", "u."+c)
	}
	add("reminder_minutes", "int8[]", "u.reminder_minutes")
	add("last_modified_at", "timestamptz[]", "u.last_modified_at")
	add("raw_sequence", "int8[]", "u.raw_sequence")
	add("event_json", "text[]", "u.event_json::json")
	return "unnest(" + strings.Join(params, ", ") + ") AS u(" + strings.Join(names, ", ") + ")",
		strings.Join(exprs, ", "), strings.Join(names, ", ")
}()

// markColumns are the columns a tombstone updates on an existing row: the
// rest keeps the last live version.
var markColumns = []string{"deleted", "deleted_at", "last_modified_at", "raw_sequence", "extracted_at", "loaded_at"}

var (
	// liveSQL inserts rows no tombstone at least as new covers, and updates
	// existing rows only with a strictly newer version.
	liveSQL = upsertSQL(nil, ">=")
	// markSQL writes tombstones into calendar_events: the full row when there
	// is none, otherwise only the deletion and version columns. Its
	// tombstone check is strict so that the tombstone just recorded does not
	// block its own marker.
	markSQL = upsertSQL(markColumns, ">")
)

func upsertSQL(set []string, blockOp string) string {
	if set == nil {
		for _, c := range strings.Split(columnList, ", ") {
			if c != "account" && c != "id" {
				set = append(set, c)
			}
		}
		set = append(set, "loaded_at")
	}
	var b strings.Builder
	b.WriteString("INSERT INTO calendar_events (" + columnList + ", loaded_at)\n")
	b.WriteString("SELECT " + selectList + ", now()\n")
	b.WriteString("FROM " + unnestSQL + "\n")
	b.WriteString("WHERE NOT EXISTS (SELECT 1 FROM calendar_event_tombstones t WHERE t.account = u.account AND t.id = u.id\n")
	b.WriteString("  AND (t.deleted_at, t.raw_sequence) " + blockOp + " (u.last_modified_at, u.raw_sequence))\n")
	b.WriteString("ON CONFLICT (account, id) DO UPDATE SET ")
	for i, c := range set {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(c + " = EXCLUDED." + c)
	}
	b.WriteString("\nWHERE (EXCLUDED.last_modified_at, EXCLUDED.raw_sequence) > (calendar_events.last_modified_at, calendar_events.raw_sequence)\n")
	b.WriteString("RETURNING account, id")
	return b.String()
}

const tombstoneSQL = `INSERT INTO calendar_event_tombstones (account, id, deleted_at, raw_sequence, loaded_at)
SELECT u.account, u.id, u.deleted_at, u.raw_sequence, now()
FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::int8[]) AS u(account, id, deleted_at, raw_sequence)
ON CONFLICT (account, id) DO UPDATE SET deleted_at = EXCLUDED.deleted_at, raw_sequence = EXCLUDED.raw_sequence, loaded_at = EXCLUDED.loaded_at
WHERE (EXCLUDED.deleted_at, EXCLUDED.raw_sequence) > (calendar_event_tombstones.deleted_at, calendar_event_tombstones.raw_sequence)`

// cleanupSQL removes, for the batch's keys, every row a committed tombstone at
// least as new covers — the markers this batch wrote, and any older version a
// concurrent writer (or this batch) inserted after checking the tombstone
// table too early — and their attendee rows.
const cleanupSQL = `WITH gone AS (
    DELETE FROM calendar_events e
    USING calendar_event_tombstones t, unnest($1::text[], $2::text[]) AS k(account, id)
    WHERE t.account = k.account AND t.id = k.id AND e.account = t.account AND e.id = t.id
      AND (t.deleted_at, t.raw_sequence) >= (e.last_modified_at, e.raw_sequence)
    RETURNING e.account, e.id
), attendees AS (
    DELETE FROM calendar_event_attendees a USING gone g WHERE a.account = g.account AND a.event_id = g.id
)
SELECT account, id FROM gone`

const deleteAttendeesSQL = `DELETE FROM calendar_event_attendees a
USING unnest($1::text[], $2::text[]) AS k(account, id)
WHERE a.account = k.account AND a.event_id = k.id`

const insertAttendeesSQL = `INSERT INTO calendar_event_attendees (account, event_id, entity_id, entity_name, entity_type, attendance, response)
SELECT u.account, u.event_id, u.entity_id, NULLIF(u.entity_name, ''), NULLIF(u.entity_type, ''), NULLIF(u.attendance, ''), NULLIF(u.response, '')
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[]) AS u(account, event_id, entity_id, entity_name, entity_type, attendance, response)`
