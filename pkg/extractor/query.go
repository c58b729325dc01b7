package extractor

import (
	"encoding/json"
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
// AfterID is 0 — up to Until (inclusive, zero = unbounded) and, when Before
// is set, strictly before the position Before.
type keysetRange struct {
	From    time.Time
	AfterID int64
	Until   time.Time
	Before  pos
}

// pos is a keyset position: (lastModified UTC, internal id). The zero pos
// means "none".
type pos struct {
	LM time.Time `json:"lm"`
	ID int64     `json:"id"`
}

// IsZero reports whether p is unset.
func (p pos) IsZero() bool { return p.LM.IsZero() && p.ID == 0 }

// before reports whether p is strictly before q in keyset order; the zero
// pos is before everything else.
func (p pos) before(q pos) bool {
	if !p.LM.Equal(q.LM) {
		return p.LM.Before(q.LM)
	}
	return p.ID < q.ID
}

// after returns r continued after position p (the last row read).
func (r keysetRange) after(p pos) keysetRange {
	r.From, r.AfterID = p.LM, p.ID
	return r
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
	if !r.Before.IsZero() {
		before := timestampLiteral(r.Before.LM, loc)
		b.WriteString(" AND (" + tsCol + " < " + before + " OR (" + tsCol + " = " + before + " AND " + idCol + " < " + strconv.FormatInt(r.Before.ID, 10) + "))")
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

// topStrings reads the string values of the named top-level keys of a
// SuiteQL row (a JSON object the client has already validated) into dst, in
// the order of names, without decoding the rest of the row: an event row is
// about 1.5 KB, and the extractor needs two of its fields. Missing keys and
// values that are not strings give ""; of repeated keys the last counts, as
// with encoding/json. It falls back to encoding/json for a row it does not
// expect (escapes in a wanted value or a key, a malformed row).
func topStrings(row []byte, names []string, dst []string) error {
	clear(dst)
	i := skipWS(row, 0)
	if i >= len(row) || row[i] != '{' {
		return fallbackStrings(row, names, dst)
	}
	i++
	for {
		i = skipWS(row, i)
		if i >= len(row) {
			return fallbackStrings(row, names, dst)
		}
		if row[i] == '}' {
			return nil
		}
		if row[i] == ',' {
			i = skipWS(row, i+1)
		}
		ks, ke, ok := plainString(row, i)
		if !ok {
			return fallbackStrings(row, names, dst)
		}
		i = skipWS(row, ke+1)
		if i >= len(row) || row[i] != ':' {
			return fallbackStrings(row, names, dst)
		}
		i = skipWS(row, i+1)
		want := -1
		for n, name := range names {
			if string(row[ks:ke]) == name {
				want = n
				break
			}
		}
		if want >= 0 && i < len(row) && row[i] == '"' {
			vs, ve, ok := plainString(row, i)
			if !ok {
				return fallbackStrings(row, names, dst)
			}
			dst[want] = string(row[vs:ve])
			i = ve + 1
			continue
		}
		if want >= 0 {
			dst[want] = ""
		}
		if i = skipValue(row, i); i < 0 {
			return fallbackStrings(row, names, dst)
		}
	}
}

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// plainString returns the bounds of the contents of the string at b[i] (a
// quote) when it has no escapes.
func plainString(b []byte, i int) (start, end int, ok bool) {
	if i >= len(b) || b[i] != '"' {
		return 0, 0, false
	}
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '"':
			return i + 1, j, true
		case '\\':
			return 0, 0, false
		}
	}
	return 0, 0, false
}

// skipValue returns the index after the JSON value starting at b[i] (for a
// scalar, the index of the ',' or '}' after it), or -1.
func skipValue(b []byte, i int) int {
	depth := 0
	for ; i < len(b); i++ {
		switch b[i] {
		case '"':
			for i++; i < len(b) && b[i] != '"'; i++ {
				if b[i] == '\\' {
					i++
				}
			}
			if i >= len(b) {
				return -1
			}
			if depth == 0 {
				return i + 1
			}
		case '{', '[':
			depth++
		case '}', ']':
			if depth == 0 {
				return i
			}
			if depth--; depth == 0 {
				return i + 1
			}
		case ',':
			if depth == 0 {
				return i
			}
		}
	}
	return -1
}

func fallbackStrings(row []byte, names []string, dst []string) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(row, &m); err != nil {
		return err //nolint:wrapcheck // wrapped by the caller
	}
	for n, name := range names {
		dst[n] = ""
		var s string
		if v, ok := m[name]; ok && json.Unmarshal(v, &s) == nil {
			dst[n] = s
		}
	}
	return nil
}
