package transform

import (
	"strings"
	"time"

	"github.com/nsflow/nsflow/pkg/calendarevent"
)

// tombstone maps a deletedrecord row. The result carries identity and the
// deletion instant only: the row's other columns (name, deletedby, context)
// describe the deletion, not the event, and name repeats the title.
func (m *mapper) tombstone() (*calendarevent.Event, error) {
	var id, typ, nsDeleted, deletedDate slot
	var buf [32]byte
	for j := m.rec.lo; j < m.rec.hi; j++ {
		mb := m.member(j)
		k := mb.key
		var dst *slot
		switch string(lowerKey(buf[:0], k)) {
		case "recordid":
			dst = &id
		case "type":
			dst = &typ
		case "ns_deleted":
			dst = &nsDeleted
		case "deleteddate":
			dst = &deletedDate
		default:
			continue
		}
		if dst.key != nil {
			return nil, newErr(ClassInvalidRecord, decodeString(k), "appears more than once (keys are matched case-insensitively)")
		}
		*dst = mb
	}
	if id.absent() {
		return nil, newErr(ClassInvalidRecord, "recordid", "missing (recordid is required)")
	}
	rid, ok := m.slotID(id)
	if !ok {
		return nil, wrongType(id.field(), id.val, "a string")
	}
	if rid != m.raw.RecordID {
		return nil, newErr(ClassInvalidRecord, id.name(), quoteShort(rid)+" does not match the envelope's record_id "+quoteShort(m.raw.RecordID))
	}
	if !typ.absent() {
		t, err := m.slotText(typ.field(), typ)
		if err != nil {
			return nil, err
		}
		// NetSuite's spelling of the type is not documented; these are the candidates.
		if t != "" && !strings.EqualFold(t, "calendarevent") && !strings.EqualFold(t, "event") {
			return nil, newErr(ClassInvalidRecord, typ.name(), quoteShort(t)+" is not a calendar event type")
		}
	}
	deleted := nsDeleted
	if deleted.absent() {
		deleted = deletedDate
	}
	at, ok, err := m.instantOf(deleted, "deleted", deleted.key != nil && deleted.name() != "ns_deleted")
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, newErr(ClassInvalidRecord, "ns_deleted", "missing (the deletion time is required)")
	}
	return &calendarevent.Event{
		Schema:         calendarevent.EventSchema,
		Account:        m.raw.Account,
		ID:             rid,
		Deleted:        true,
		DeletedAt:      &at,
		LastModifiedAt: at,
		Provenance:     m.provenance(),
	}, nil
}

// instantOf reads a timestamp: ISO 8601 with an offset, else a wall clock
// in the account zone. ok is false when s is absent or empty. noteSource
// asks for a note when the value had to be read as a wall clock or in a
// format preference (it is expected of the SuiteQL TO_CHAR aliases).
func (m *mapper) instantOf(s slot, what string, noteSource bool) (time.Time, bool, *Error) {
	if s.absent() {
		return time.Time{}, false, nil
	}
	v, err := m.slotText(s.field(), s)
	if err != nil || v == "" {
		return time.Time{}, false, err
	}
	if t, ok := parseInstant(v); ok {
		if !inRange(t) {
			return time.Time{}, false, newErr(ClassInvalidDate, s.name(), quoteShort(v)+" is outside the years 0001-9999")
		}
		return t, true, nil
	}
	w, pref, ok := parseWallClock(v)
	if !ok {
		return time.Time{}, false, newErr(ClassInvalidDate, s.name(), quoteShort(v)+" is not a valid timestamp (want YYYY-MM-DD HH:MM:SS or ISO 8601 with an offset)")
	}
	loc, zone, err := m.accountZone()
	if err != nil {
		return time.Time{}, false, err
	}
	if noteSource {
		if pref {
			m.notef("%s read in the date and time format preference, in the account zone %s", s.name(), zone)
		} else {
			m.notef("%s has no UTC offset; read in the account zone %s", s.name(), zone)
		}
	}
	t, res, gap := m.toUTC(w, loc)
	if !inRange(t) {
		return time.Time{}, false, newErr(ClassInvalidDate, s.name(), quoteShort(v)+" is outside the years 0001-9999")
	}
	m.resolutionNote(what, w, zone, res, gap)
	return t, true, nil
}
