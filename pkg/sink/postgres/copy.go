package postgres

import (
	"encoding/binary"
	"errors"
	"io"
	"math"
	"strings"
	"time"

	"github.com/nsflow/nsflow/pkg/sink/internal/sqlrow"
)

// This file writes rows in PostgreSQL's binary COPY format: a header, then
// per row a 16-bit field count and per field a 32-bit length (-1 for NULL)
// and the value in the type's binary send format, then a -1 trailer. The
// rows are encoded straight from sqlrow.Row into a reused buffer while
// pgconn streams it, so the server parses and inserts rows as the client
// encodes the next ones.

// errCopyAborted ends a copy whose rows could not be encoded.
var errCopyAborted = errors.New("copy aborted by the client")

// copyHeader is the binary COPY signature, flags and header extension length.
const copyHeader = "PGCOPY\n\377\r\n\000\x00\x00\x00\x00\x00\x00\x00\x00"

// microsecondsToY2K is the offset between the Unix epoch and PostgreSQL's
// (2000-01-01 UTC), in microseconds; unixDaysToY2K the same in days.
const (
	microsecondsToY2K = 946_684_800 * 1_000_000
	unixDaysToY2K     = 10_957
)

// eventCopyColumns are the calendar_events columns the fast path copies, in
// the order appendEvent writes them.
var eventCopyColumns = []string{
	"account", "id", "external_id", "title", "message_html", "message_text", "location",
	"status", "status_name", "access_level", "reminder_type", "reminder_minutes", "recurrence",
	"organizer_id", "organizer_name", "owner_id", "owner_name", "company_id", "company_name",
	"contact_id", "contact_name", "support_case_id", "transaction_id", "related_item_id",
	"start_at", "end_at", "all_day", "timed", "local_date", "local_start_time", "local_end_time", "time_zone",
	"custom_fields", "extra", "deleted", "deleted_at", "created_at", "last_modified_at", "raw_sequence",
	"extracted_at", "event_json", "loaded_at",
}

var (
	copyEventsSQL    = "COPY calendar_events (" + strings.Join(eventCopyColumns, ", ") + ") FROM STDIN (FORMAT binary)"
	copyAttendeesSQL = "COPY calendar_event_attendees (account, event_id, entity_id, entity_name, entity_type, attendance, response) FROM STDIN (FORMAT binary)"
)

// encoder appends binary COPY fields to buf.
type encoder struct{ buf []byte }

func (e *encoder) null() { e.buf = append(e.buf, 0xff, 0xff, 0xff, 0xff) }

func (e *encoder) fieldLen(n int) { e.buf = binary.BigEndian.AppendUint32(e.buf, uint32(n)) }

// text writes s, or NULL when s is "" (absent values are "", see sqlrow.Row).
func (e *encoder) text(s string) {
	if s == "" {
		e.null()
		return
	}
	e.textAlways(s)
}

func (e *encoder) textAlways(s string) {
	e.fieldLen(len(s))
	e.buf = append(e.buf, s...)
}

// json writes a json value (its text) or NULL for nil.
func (e *encoder) json(b []byte) {
	if b == nil {
		e.null()
		return
	}
	e.fieldLen(len(b))
	e.buf = append(e.buf, b...)
}

// jsonb writes a jsonb value (format version 1, then the text) or NULL for nil.
func (e *encoder) jsonb(b []byte) {
	if b == nil {
		e.null()
		return
	}
	e.fieldLen(len(b) + 1)
	e.buf = append(e.buf, 1)
	e.buf = append(e.buf, b...)
}

// timestamptz writes t to the microsecond (truncated, as pgx does), or NULL
// for the zero time when nullZero is set.
func (e *encoder) timestamptz(t time.Time, nullZero bool) {
	if nullZero && t.IsZero() {
		e.null()
		return
	}
	us := t.Unix()*1_000_000 + int64(t.Nanosecond())/1000 - microsecondsToY2K
	e.fieldLen(8)
	e.buf = binary.BigEndian.AppendUint64(e.buf, uint64(us))
}

func (e *encoder) boolean(v bool) {
	b := byte(0)
	if v {
		b = 1
	}
	e.buf = append(e.buf, 0, 0, 0, 1, b)
}

func (e *encoder) int4(v int32) {
	e.fieldLen(4)
	e.buf = binary.BigEndian.AppendUint32(e.buf, uint32(v))
}

func (e *encoder) int8(v int64) {
	e.fieldLen(8)
	e.buf = binary.BigEndian.AppendUint64(e.buf, uint64(v))
}

// local holds a row's local date and times in binary form.
type local struct {
	date       int32 // days since 2000-01-01
	start, end int64 // microseconds since midnight
	hasDate    bool
	hasStart   bool
	hasEnd     bool
}

// copyable reports whether the fast path can encode r itself: its local date
// and times are in the canonical forms (YYYY-MM-DD, HH:MM:SS) and its
// reminder fits the integer column. Anything else goes through the upsert
// statements, which leave parsing (and rejecting) to the server.
func copyable(r *sqlrow.Row) (local, bool) {
	var l local
	var ok bool
	if r.LocalDate != "" {
		if l.date, ok = parseDate(r.LocalDate); !ok {
			return l, false
		}
		l.hasDate = true
	}
	if r.LocalStartTime != "" {
		if l.start, ok = parseTime(r.LocalStartTime); !ok {
			return l, false
		}
		l.hasStart = true
	}
	if r.LocalEndTime != "" {
		if l.end, ok = parseTime(r.LocalEndTime); !ok {
			return l, false
		}
		l.hasEnd = true
	}
	if m := r.ReminderMinutes; m != nil && (*m < math.MinInt32 || *m > math.MaxInt32) {
		return l, false
	}
	return l, true
}

// parseDate parses exactly YYYY-MM-DD (years 0001-9999, a real day).
func parseDate(s string) (int32, bool) {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return 0, false
	}
	y, ok1 := digits(s[0:4])
	m, ok2 := digits(s[5:7])
	d, ok3 := digits(s[8:10])
	if !ok1 || !ok2 || !ok3 || y < 1 || m < 1 || m > 12 || d < 1 {
		return 0, false
	}
	t := time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC)
	if t.Day() != d { // normalized: no such day
		return 0, false
	}
	return int32(t.Unix()/86400 - unixDaysToY2K), true
}

// parseTime parses exactly HH:MM:SS (00:00:00 to 23:59:59).
func parseTime(s string) (int64, bool) {
	if len(s) != 8 || s[2] != ':' || s[5] != ':' {
		return 0, false
	}
	h, ok1 := digits(s[0:2])
	m, ok2 := digits(s[3:5])
	sec, ok3 := digits(s[6:8])
	if !ok1 || !ok2 || !ok3 || h > 23 || m > 59 || sec > 59 {
		return 0, false
	}
	return (int64(h)*3600 + int64(m)*60 + int64(sec)) * 1_000_000, true
}

func digits(s string) (int, bool) {
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// appendEvent writes r as one calendar_events row (eventCopyColumns),
// loaded at loadedAt.
func (e *encoder) appendEvent(r *sqlrow.Row, eventJSON []byte, l *local, loadedAt time.Time) {
	e.buf = binary.BigEndian.AppendUint16(e.buf, uint16(len(eventCopyColumns)))
	e.textAlways(r.Account)
	e.textAlways(r.ID)
	e.text(r.ExternalID)
	e.text(r.Title)
	e.text(r.MessageHTML)
	e.text(r.MessageText)
	e.text(r.Location)
	e.text(r.Status)
	e.text(r.StatusName)
	e.text(r.AccessLevel)
	e.text(r.ReminderType)
	if r.ReminderMinutes == nil {
		e.null()
	} else {
		e.int4(int32(*r.ReminderMinutes)) // range checked by copyable
	}
	e.text(r.Recurrence)
	e.text(r.OrganizerID)
	e.text(r.OrganizerName)
	e.text(r.OwnerID)
	e.text(r.OwnerName)
	e.text(r.CompanyID)
	e.text(r.CompanyName)
	e.text(r.ContactID)
	e.text(r.ContactName)
	e.text(r.SupportCaseID)
	e.text(r.TransactionID)
	e.text(r.RelatedItemID)
	e.timestamptz(r.StartAt, true)
	e.timestamptz(r.EndAt, true)
	e.boolean(r.AllDay)
	e.boolean(r.Timed)
	if l.hasDate {
		e.int4(l.date)
	} else {
		e.null()
	}
	for _, t := range [...]struct {
		ok bool
		us int64
	}{{l.hasStart, l.start}, {l.hasEnd, l.end}} {
		if t.ok {
			e.int8(t.us)
		} else {
			e.null()
		}
	}
	e.text(r.TimeZone)
	e.jsonb(r.CustomFields)
	e.jsonb(r.Extra)
	e.boolean(r.Deleted)
	e.timestamptz(r.DeletedAt, true)
	e.timestamptz(r.CreatedAt, true)
	e.timestamptz(r.LastModifiedAt, false)
	e.int8(r.RawSequence)
	e.timestamptz(r.ExtractedAt, true)
	e.json(eventJSON)
	e.timestamptz(loadedAt, false)
}

// appendAttendee writes one calendar_event_attendees row.
func (e *encoder) appendAttendee(r *sqlrow.Row, a *sqlrow.Attendee) {
	e.buf = append(e.buf, 0, 7)
	e.textAlways(r.Account)
	e.textAlways(r.ID)
	e.textAlways(a.EntityID)
	e.text(a.EntityName)
	e.text(a.EntityType)
	e.text(a.Attendance)
	e.text(a.Response)
}

// copySource is an io.Reader over binary COPY data that encodes rows on
// demand: next appends row i to the encoder, n rows in all, or returns false
// to abort the copy (its caller keeps the reason).
type copySource struct {
	enc  *encoder
	next func(e *encoder, i int) bool
	n, i int
	off  int // read position in enc.buf
	done bool
}

func newCopySource(enc *encoder, n int, next func(e *encoder, i int) bool) *copySource {
	enc.buf = append(enc.buf[:0], copyHeader...)
	return &copySource{enc: enc, n: n, next: next}
}

// Read fills p with encoded rows, encoding as many as fit (at least one).
func (c *copySource) Read(p []byte) (int, error) {
	if c.off > 0 {
		c.enc.buf = c.enc.buf[:copy(c.enc.buf, c.enc.buf[c.off:])]
		c.off = 0
	}
	for !c.done && len(c.enc.buf)-c.off < len(p) {
		if c.i < c.n {
			if !c.next(c.enc, c.i) {
				return 0, errCopyAborted
			}
			c.i++
			continue
		}
		c.enc.buf = append(c.enc.buf, 0xff, 0xff) // trailer
		c.done = true
	}
	if len(c.enc.buf) == 0 {
		return 0, io.EOF
	}
	n := copy(p, c.enc.buf[c.off:])
	c.off += n
	return n, nil
}
