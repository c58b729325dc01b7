package extractor

import (
	"strconv"
	"strings"
	"time"
)

// Formats the extractor uses with TO_CHAR / TO_TIMESTAMP. Explicit formats keep
// the user's date-format preference out of the picture.
const (
	sqlTimestampFormat = "YYYY-MM-DD HH24:MI:SS"
	goTimestampLayout  = "2006-01-02 15:04:05"
)

const eventColumns = "ce.*, " +
	"TO_CHAR(ce.lastmodifieddate, 'YYYY-MM-DD HH24:MI:SS') AS ns_lastmodified, " +
	"TO_CHAR(ce.createddate, 'YYYY-MM-DD HH24:MI:SS') AS ns_created, " +
	"TO_CHAR(ce.startdate, 'YYYY-MM-DD') AS ns_startdate, " +
	"TO_CHAR(ce.starttime, 'HH24:MI:SS') AS ns_starttime, " +
	"TO_CHAR(ce.endtime, 'HH24:MI:SS') AS ns_endtime, " +
	"TO_CHAR(ce.completeddate, 'YYYY-MM-DD') AS ns_completeddate, " +
	"BUILTIN.DF(ce.status) AS ns_status_name, " +
	"BUILTIN.DF(ce.accesslevel) AS ns_accesslevel_name, " +
	"BUILTIN.DF(ce.organizer) AS ns_organizer_name, " +
	"BUILTIN.DF(ce.owner) AS ns_owner_name, " +
	"BUILTIN.DF(ce.company) AS ns_company_name, " +
	"BUILTIN.DF(ce.contact) AS ns_contact_name, " +
	"BUILTIN.DF(ce.supportcase) AS ns_supportcase_name, " +
	"BUILTIN.DF(ce.transaction) AS ns_transaction_name, " +
	"BUILTIN.DF(ce.relateditem) AS ns_relateditem_name, " +
	"BUILTIN.DF(ce.remindertype) AS ns_remindertype_name"

// keysetRange is one scan: rows after (From, AfterID) — inclusive of From when
// AfterID is 0 — up to Until (inclusive, zero = unbounded).
type keysetRange struct {
	From    time.Time
	AfterID int64
	Until   time.Time
}

func timestampLiteral(t time.Time, loc *time.Location) string {
	return "TO_TIMESTAMP('" + t.In(loc).Format(goTimestampLayout) + "', '" + sqlTimestampFormat + "')"
}

// keysetWhere renders the WHERE condition of a keyset scan on (tsCol, idCol).
func keysetWhere(tsCol, idCol string, r keysetRange, loc *time.Location) string {
	var b strings.Builder
	from := timestampLiteral(r.From, loc)
	if r.AfterID == 0 {
		b.WriteString(tsCol + " >= " + from)
	} else {
		b.WriteString("(" + tsCol + " > " + from + " OR (" + tsCol + " = " + from + " AND " + idCol + " > " + strconv.FormatInt(r.AfterID, 10) + "))")
	}
	if !r.Until.IsZero() {
		b.WriteString(" AND " + tsCol + " <= " + timestampLiteral(r.Until, loc))
	}
	return b.String()
}

func eventsQuery(r keysetRange, loc *time.Location) string {
	return "SELECT " + eventColumns + " FROM calendarevent ce WHERE " +
		keysetWhere("ce.lastmodifieddate", "ce.id", r, loc) +
		" ORDER BY ce.lastmodifieddate, ce.id"
}

func deletedQuery(r keysetRange, types []string, loc *time.Location) string {
	quoted := make([]string, len(types))
	for i, t := range types {
		quoted[i] = "'" + strings.ReplaceAll(t, "'", "''") + "'"
	}
	return "SELECT dr.recordid, dr.type, dr.name, dr.deletedby, dr.context, " +
		"TO_CHAR(dr.deleteddate, 'YYYY-MM-DD HH24:MI:SS') AS ns_deleted FROM deletedrecord dr WHERE dr.type IN (" +
		strings.Join(quoted, ", ") + ") AND " + keysetWhere("dr.deleteddate", "dr.recordid", r, loc) +
		" ORDER BY dr.deleteddate, dr.recordid"
}

func inList(ids []int64) string {
	var b strings.Builder
	b.Grow(len(ids) * 8)
	for i, id := range ids {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.FormatInt(id, 10))
	}
	return b.String()
}

func attendeesQuery(ids []int64) string {
	return "SELECT att.calendarevent, att.attendee, BUILTIN.DF(att.attendee) AS ns_attendee_name, att.attendance, att.response " +
		"FROM calendareventattendee att WHERE att.calendarevent IN (" + inList(ids) + ") ORDER BY att.calendarevent, att.attendee"
}

func resourcesQuery(ids []int64) string {
	return "SELECT res.calendarevent, res.resource, BUILTIN.DF(res.resource) AS ns_resource_name " +
		"FROM calendareventresource res WHERE res.calendarevent IN (" + inList(ids) + ") ORDER BY res.calendarevent, res.resource"
}

// parseLocal parses a TO_CHAR timestamp rendered in loc and returns it in UTC.
// An ambiguous wall-clock time (DST fall-back) maps to the earlier instant,
// which re-reads rather than skips.
func parseLocal(s string, loc *time.Location) (time.Time, error) {
	t, err := time.ParseInLocation(goTimestampLayout, s, loc)
	if err != nil {
		return time.Time{}, err
	}
	return t.UTC(), nil
}
