package transform

import (
	"encoding/json"
	"strconv"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/nsflow/nsflow/pkg/calendarevent"
)

// DecodeEvent decodes a canonical event exactly as calendarevent.Unmarshal
// does — the same Event, the same errors — several times faster because it
// does not reflect. It walks the encoding AppendEvent writes (any member
// order, white space, escapes); input it does not handle itself (unknown or
// repeated members, keys in another case, values of unexpected types, invalid
// JSON) goes through calendarevent.Unmarshal. A differential fuzz test holds
// the two to the same results.
//
// One pass reads the input: splitShallow splits the top level, and each
// nested value is validated as it is read, by strict iterators. The event,
// its times and the values it points to take two allocations, its strings
// share the chunks of an arena, and sublists are allocated at their final
// size.
func DecodeEvent(b []byte) (*calendarevent.Event, error) {
	if e, ok := decodeEvent(b); ok {
		return e, nil
	}
	return calendarevent.Unmarshal(b)
}

// decodeEvent is DecodeEvent's fast path; ok is false when b needs
// encoding/json (which then also produces the error, if any).
func decodeEvent(b []byte) (e *calendarevent.Event, ok bool) {
	b = trimValue(b)
	if len(b) == 0 || b[0] != '{' {
		return nil, false
	}
	var top [36]member // an event has 34 members at most
	members, end, err := splitShallow(b, 0, 0, top[:0])
	if err != nil || end != len(b) {
		return nil, false
	}
	d := eventDecoder{blk: new(decodedEvent)}
	d.arena.next = len(b)*3/8 + 16 // strings are about a third of an event
	e = &d.blk.ev
	var seen uint64
	for i := range members {
		mb := &members[i]
		f, known := eventFieldOf(b[mb.k:mb.kEnd])
		if !known || seen&(1<<f) != 0 {
			return nil, false
		}
		seen |= 1 << f
		if !d.field(e, f, b[mb.v:mb.vEnd]) {
			return nil, false
		}
	}
	if e.Schema != calendarevent.EventSchema || e.Account == "" || e.ID == "" {
		return nil, false
	}
	return e, true
}

type eventField uint8

const (
	evSchema eventField = iota
	evAccount
	evID
	evExternalID
	evDeleted
	evDeletedAt
	evTitle
	evMessage
	evLocation
	evStatus
	evAccessLevel
	evResponse
	evReminder
	evRecurrence
	evOrganizer
	evOwner
	evCompany
	evContact
	evSupportCase
	evTransaction
	evRelatedItem
	evStart
	evEnd
	evAllDay
	evTimed
	evLocal
	evCompletedDate
	evAttendees
	evResources
	evCustomFields
	evExtra
	evCreatedAt
	evLastModifiedAt
	evProvenance
)

// eventFieldOf returns the field a member name, quotes included, names. A
// key written any other way (escaped, another case) is not known and takes
// the encoding/json path, which matches names case-insensitively.
func eventFieldOf(key []byte) (eventField, bool) {
	switch string(key) {
	case `"schema"`:
		return evSchema, true
	case `"account"`:
		return evAccount, true
	case `"id"`:
		return evID, true
	case `"external_id"`:
		return evExternalID, true
	case `"deleted"`:
		return evDeleted, true
	case `"deleted_at"`:
		return evDeletedAt, true
	case `"title"`:
		return evTitle, true
	case `"message"`:
		return evMessage, true
	case `"location"`:
		return evLocation, true
	case `"status"`:
		return evStatus, true
	case `"access_level"`:
		return evAccessLevel, true
	case `"response"`:
		return evResponse, true
	case `"reminder"`:
		return evReminder, true
	case `"recurrence"`:
		return evRecurrence, true
	case `"organizer"`:
		return evOrganizer, true
	case `"owner"`:
		return evOwner, true
	case `"company"`:
		return evCompany, true
	case `"contact"`:
		return evContact, true
	case `"support_case"`:
		return evSupportCase, true
	case `"transaction"`:
		return evTransaction, true
	case `"related_item"`:
		return evRelatedItem, true
	case `"start"`:
		return evStart, true
	case `"end"`:
		return evEnd, true
	case `"all_day"`:
		return evAllDay, true
	case `"timed"`:
		return evTimed, true
	case `"local"`:
		return evLocal, true
	case `"completed_date"`:
		return evCompletedDate, true
	case `"attendees"`:
		return evAttendees, true
	case `"resources"`:
		return evResources, true
	case `"custom_fields"`:
		return evCustomFields, true
	case `"extra"`:
		return evExtra, true
	case `"created_at"`:
		return evCreatedAt, true
	case `"last_modified_at"`:
		return evLastModifiedAt, true
	case `"provenance"`:
		return evProvenance, true
	}
	return 0, false
}

// strictObjIter and strictArrIter iterate nested values of the event,
// validating them as splitShallow does: shallowly, because every nested
// object or array is read by another such iterator (or rejected).
func strictObjIter(v []byte) (objIter, bool) {
	it, ok := newObjIter(v)
	it.strict, it.shallow = true, true
	return it, ok
}

// strictArrIter: see strictObjIter.
func strictArrIter(v []byte) (arrIter, bool) {
	it, ok := newArrIter(v)
	it.strict, it.shallow = true, true
	return it, ok
}

// decodedEvent holds a decoded event and its times, so that one allocation
// serves them; eventParts, allocated when first needed (a tombstone needs
// none), holds the other values an event points to.
type decodedEvent struct {
	ev    calendarevent.Event
	times [4]time.Time // deleted_at, start, end, created_at
}

type eventParts struct {
	msg      calendarevent.Message
	local    calendarevent.Local
	enums    [4]calendarevent.Enum // status, access_level, response, reminder.type
	refs     [7]calendarevent.Ref  // organizer ... related_item, in Event order
	reminder calendarevent.Reminder
	minutes  int
}

// eventDecoder holds the state of one decodeEvent.
type eventDecoder struct {
	arena strArena // the event's strings
	blk   *decodedEvent
	parts *eventParts
}

// part returns the event's eventParts, allocating them on first use.
func (d *eventDecoder) part() *eventParts {
	if d.parts == nil {
		d.parts = new(eventParts)
	}
	return d.parts
}

// field decodes val (a complete, valid JSON value) into field f of e.
func (d *eventDecoder) field(e *calendarevent.Event, f eventField, val []byte) bool {
	ok := true
	switch f {
	case evSchema:
		e.Schema, ok = d.str(val)
	case evAccount:
		e.Account, ok = d.str(val)
	case evID:
		e.ID, ok = d.str(val)
	case evExternalID:
		e.ExternalID, ok = d.str(val)
	case evDeleted:
		e.Deleted, ok = boolean(val)
	case evDeletedAt:
		e.DeletedAt, ok = optTime(val, &d.blk.times[0])
	case evTitle:
		e.Title, ok = d.str(val)
	case evMessage:
		e.Message, ok = d.message(val)
	case evLocation:
		e.Location, ok = d.str(val)
	case evStatus:
		e.Status, ok = d.enum(val, 0)
	case evAccessLevel:
		e.AccessLevel, ok = d.enum(val, 1)
	case evResponse:
		e.Response, ok = d.enum(val, 2)
	case evReminder:
		e.Reminder, ok = d.reminder(val)
	case evRecurrence:
		e.Recurrence, ok = d.str(val)
	case evOrganizer:
		e.Organizer, ok = d.optRef(val, 0)
	case evOwner:
		e.Owner, ok = d.optRef(val, 1)
	case evCompany:
		e.Company, ok = d.optRef(val, 2)
	case evContact:
		e.Contact, ok = d.optRef(val, 3)
	case evSupportCase:
		e.SupportCase, ok = d.optRef(val, 4)
	case evTransaction:
		e.Transaction, ok = d.optRef(val, 5)
	case evRelatedItem:
		e.RelatedItem, ok = d.optRef(val, 6)
	case evStart:
		e.Start, ok = optTime(val, &d.blk.times[1])
	case evEnd:
		e.End, ok = optTime(val, &d.blk.times[2])
	case evAllDay:
		e.AllDay, ok = boolean(val)
	case evTimed:
		e.Timed, ok = boolean(val)
	case evLocal:
		e.Local, ok = d.local(val)
	case evCompletedDate:
		e.CompletedDate, ok = d.str(val)
	case evAttendees:
		e.Attendees, ok = d.attendees(val)
	case evResources:
		e.Resources, ok = d.refs(val)
	case evCustomFields:
		e.CustomFields, ok = d.customFields(val)
	case evExtra:
		e.Extra, ok = d.extra(val)
	case evCreatedAt:
		e.CreatedAt, ok = optTime(val, &d.blk.times[3])
	case evLastModifiedAt:
		ok = decodeTime(val, &e.LastModifiedAt)
	case evProvenance:
		ok = d.provenance(val, &e.Provenance)
	default:
		ok = false
	}
	return ok
}

// str decodes a string value. null (which encoding/json treats as "leave
// the field alone") and other kinds take the slow path.
func (d *eventDecoder) str(v []byte) (string, bool) {
	if len(v) == 0 || v[0] != '"' {
		return "", false
	}
	return d.unquote(v), true
}

func boolean(v []byte) (bool, bool) {
	switch string(v) {
	case "true":
		return true, true
	case "false":
		return false, true
	}
	return false, false
}

// decodeTime decodes a JSON string into t as time.Time.UnmarshalJSON does.
func decodeTime(v []byte, t *time.Time) bool {
	if len(v) == 0 || v[0] != '"' {
		return false
	}
	return t.UnmarshalJSON(v) == nil
}

// optTime decodes an optional time into *t; the result is t, or nil for
// null.
func optTime(v []byte, t *time.Time) (*time.Time, bool) {
	if string(v) == "null" {
		return nil, true
	}
	if !decodeTime(v, t) {
		return nil, false
	}
	return t, true
}

// object walks the members of the object v, calling member for each; known
// is false for a key member does not accept, and a key repeated takes the
// slow path (encoding/json merges repeated objects).
func object(v []byte, member func(key, val []byte) (known bool, ok bool)) bool {
	it, ok := strictObjIter(v)
	if !ok {
		return false
	}
	var keys [8][]byte
	n := 0
	for {
		key, val, more := it.next()
		if !more {
			return it.err == nil
		}
		if n >= len(keys) {
			return false
		}
		for _, k := range keys[:n] {
			if string(k) == string(key) {
				return false
			}
		}
		keys[n] = key
		n++
		known, ok := member(key, val)
		if !known || !ok {
			return false
		}
	}
}

func (d *eventDecoder) message(v []byte) (*calendarevent.Message, bool) {
	if string(v) == "null" {
		return nil, true
	}
	m := &d.part().msg
	ok := object(v, func(key, val []byte) (bool, bool) {
		switch string(key) {
		case `"html"`:
			s, ok := d.str(val)
			m.HTML = s
			return true, ok
		case `"text"`:
			s, ok := d.str(val)
			m.Text = s
			return true, ok
		}
		return false, false
	})
	return m, ok
}

// enum decodes an optional enum into the event's enums[slot].
func (d *eventDecoder) enum(v []byte, slot int) (*calendarevent.Enum, bool) {
	if string(v) == "null" {
		return nil, true
	}
	e := &d.part().enums[slot]
	ok := object(v, func(key, val []byte) (bool, bool) {
		switch string(key) {
		case `"id"`:
			s, ok := d.str(val)
			e.ID = s
			return true, ok
		case `"name"`:
			s, ok := d.str(val)
			e.Name = s
			return true, ok
		}
		return false, false
	})
	return e, ok
}

func (d *eventDecoder) ref(v []byte, r *calendarevent.Ref) bool {
	return object(v, func(key, val []byte) (bool, bool) {
		var s string
		var ok bool
		switch string(key) {
		case `"id"`:
			s, ok = d.str(val)
			r.ID = s
		case `"name"`:
			s, ok = d.str(val)
			r.Name = s
		case `"type"`:
			s, ok = d.str(val)
			r.Type = s
		default:
			return false, false
		}
		return true, ok
	})
}

// optRef decodes an optional reference into the event's refs[slot].
func (d *eventDecoder) optRef(v []byte, slot int) (*calendarevent.Ref, bool) {
	if string(v) == "null" {
		return nil, true
	}
	r := &d.part().refs[slot]
	return r, d.ref(v, r)
}

func (d *eventDecoder) refs(v []byte) ([]calendarevent.Ref, bool) {
	if string(v) == "null" {
		return nil, true
	}
	it, ok := strictArrIter(v)
	if !ok {
		return nil, false
	}
	var buf [8]calendarevent.Ref
	out := buf[:0]
	for {
		val, more := it.next()
		if !more {
			break
		}
		var r calendarevent.Ref
		if !d.ref(val, &r) {
			return nil, false
		}
		out = append(out, r)
	}
	if it.err != nil {
		return nil, false
	}
	return append(make([]calendarevent.Ref, 0, len(out)), out...), true
}

func (d *eventDecoder) reminder(v []byte) (*calendarevent.Reminder, bool) {
	if string(v) == "null" {
		return nil, true
	}
	p := d.part()
	r := &p.reminder
	ok := object(v, func(key, val []byte) (bool, bool) {
		switch string(key) {
		case `"type"`:
			e, ok := d.enum(val, 3)
			r.Type = e
			return true, ok
		case `"minutes"`:
			if string(val) == "null" {
				r.Minutes = nil
				return true, true
			}
			n, ok := plainInt(val)
			if !ok {
				return true, false
			}
			p.minutes = n
			r.Minutes = &p.minutes
			return true, true
		}
		return false, false
	})
	return r, ok
}

// plainInt parses an integer literal that fits an int (what encoding/json
// accepts for an int field); anything else takes the slow path.
func plainInt(v []byte) (int, bool) {
	for i, c := range v {
		if !(c >= '0' && c <= '9' || c == '-' && i == 0) {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(string(v), 10, 0)
	return int(n), err == nil
}

func (d *eventDecoder) local(v []byte) (*calendarevent.Local, bool) {
	if string(v) == "null" {
		return nil, true
	}
	l := &d.part().local
	ok := object(v, func(key, val []byte) (bool, bool) {
		var dst *string
		switch string(key) {
		case `"date"`:
			dst = &l.Date
		case `"start_time"`:
			dst = &l.StartTime
		case `"end_time"`:
			dst = &l.EndTime
		case `"end_date"`:
			dst = &l.EndDate
		case `"time_zone"`:
			dst = &l.TimeZone
		case `"time_zone_source"`:
			dst = &l.TimeZoneSource
		default:
			return false, false
		}
		s, ok := d.str(val)
		*dst = s
		return true, ok
	})
	return l, ok
}

func (d *eventDecoder) attendees(v []byte) ([]calendarevent.Attendee, bool) {
	if string(v) == "null" {
		return nil, true
	}
	it, ok := strictArrIter(v)
	if !ok {
		return nil, false
	}
	var buf [8]calendarevent.Attendee
	out := buf[:0]
	for {
		val, more := it.next()
		if !more {
			break
		}
		var a calendarevent.Attendee
		ok := object(val, func(key, val []byte) (bool, bool) {
			switch string(key) {
			case `"entity"`:
				return true, d.ref(val, &a.Entity)
			case `"attendance"`:
				s, ok := d.str(val)
				a.Attendance = s
				return true, ok
			case `"response"`:
				s, ok := d.str(val)
				a.Response = s
				return true, ok
			}
			return false, false
		})
		if !ok {
			return nil, false
		}
		out = append(out, a)
	}
	if it.err != nil {
		return nil, false
	}
	return append(make([]calendarevent.Attendee, 0, len(out)), out...), true
}

// customFields decodes into map[string]any as encoding/json does: strings,
// float64 numbers, booleans, nil, and nested map[string]any / []any.
func (d *eventDecoder) customFields(v []byte) (map[string]any, bool) {
	if string(v) == "null" {
		return nil, true
	}
	it, ok := strictObjIter(v)
	if !ok {
		return nil, false
	}
	m := map[string]any{}
	for {
		key, val, more := it.next()
		if !more {
			return m, it.err == nil
		}
		x, ok := d.anyValue(val, 0)
		if !ok {
			return nil, false
		}
		m[d.unquote(key)] = x // a repeated key keeps the last value, as encoding/json
	}
}

// anyValue decodes a value into the interface{} encoding/json would make.
func (d *eventDecoder) anyValue(v []byte, depth int) (any, bool) {
	if depth > 32 {
		return nil, false
	}
	switch kindOf(v) {
	case kindString:
		return d.unquote(v), true
	case kindNumber:
		f, err := strconv.ParseFloat(string(v), 64)
		return f, err == nil
	case kindBool:
		return v[0] == 't', true
	case kindNull:
		return nil, true
	case kindObject:
		it, _ := strictObjIter(v)
		m := map[string]any{}
		for {
			key, val, more := it.next()
			if !more {
				return m, it.err == nil
			}
			x, ok := d.anyValue(val, depth+1)
			if !ok {
				return nil, false
			}
			m[d.unquote(key)] = x
		}
	case kindArray:
		it, _ := strictArrIter(v)
		out := []any{}
		for {
			val, more := it.next()
			if !more {
				return out, it.err == nil
			}
			x, ok := d.anyValue(val, depth+1)
			if !ok {
				return nil, false
			}
			out = append(out, x)
		}
	}
	return nil, false
}

// extra decodes map[string]json.RawMessage: each value's bytes, copied
// into one buffer they share (each capped, so that an append to one cannot
// run into the next).
func (d *eventDecoder) extra(v []byte) (map[string]json.RawMessage, bool) {
	if string(v) == "null" {
		return nil, true
	}
	it, ok := strictObjIter(v)
	if !ok {
		return nil, false
	}
	// The values are kept raw: validate them in full, as deep as they lie.
	it.shallow, it.depth = false, 1
	var buf [16]slot
	members := buf[:0]
	size := 0
	for {
		key, val, more := it.next()
		if !more {
			break
		}
		members = append(members, slot{key: key, val: val})
		size += len(val)
	}
	if it.err != nil {
		return nil, false
	}
	m := make(map[string]json.RawMessage, len(members))
	vals := make([]byte, 0, size)
	for _, s := range members {
		n := len(vals)
		vals = append(vals, s.val...)
		m[d.unquote(s.key)] = json.RawMessage(vals[n:len(vals):len(vals)]) // a repeated key keeps the last value
	}
	return m, true
}

func (d *eventDecoder) provenance(v []byte, p *calendarevent.Provenance) bool {
	return object(v, func(key, val []byte) (bool, bool) {
		switch string(key) {
		case `"extracted_at"`:
			return true, decodeTime(val, &p.ExtractedAt)
		case `"source_api"`:
			s, ok := d.str(val)
			p.SourceAPI = s
			return true, ok
		case `"raw_sequence"`:
			for _, c := range val {
				if c < '0' || c > '9' {
					return true, false
				}
			}
			n, err := strconv.ParseUint(string(val), 10, 64)
			p.RawSequence = n
			return true, err == nil
		case `"notes"`:
			if string(val) == "null" {
				p.Notes = nil
				return true, true
			}
			it, ok := strictArrIter(val)
			if !ok {
				return true, false
			}
			var buf [8]string
			notes := buf[:0]
			for {
				n, more := it.next()
				if !more {
					break
				}
				s, ok := d.str(n)
				if !ok {
					return true, false
				}
				notes = append(notes, s)
			}
			p.Notes = append(make([]string, 0, len(notes)), notes...)
			return true, it.err == nil
		}
		return false, false
	})
}

// unquote decodes the valid string literal lit as encoding/json does:
// escapes, surrogate pairs (an unpaired surrogate becomes U+FFFD), and each
// byte of invalid UTF-8 replaced by U+FFFD. The string is in the decoder's
// arena.
func (d *eventDecoder) unquote(lit []byte) string {
	inner := lit[1 : len(lit)-1]
	if plainText(lit) {
		return d.arena.copy(inner)
	}
	var buf [256]byte
	out := buf[:0]
	for i := 0; i < len(inner); {
		c := inner[i]
		switch {
		case c == '\\':
			i++
			switch inner[i] {
			case '"', '\\', '/':
				out = append(out, inner[i])
				i++
			case 'b':
				out = append(out, '\b')
				i++
			case 'f':
				out = append(out, '\f')
				i++
			case 'n':
				out = append(out, '\n')
				i++
			case 'r':
				out = append(out, '\r')
				i++
			case 't':
				out = append(out, '\t')
				i++
			case 'u':
				r := hex4(inner[i+1 : i+5])
				i += 5
				if utf16.IsSurrogate(r) {
					r2 := rune(-1)
					if i+6 <= len(inner) && inner[i] == '\\' && inner[i+1] == 'u' {
						r2 = hex4(inner[i+2 : i+6])
					}
					if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
						r = dec
						i += 6
					} else {
						r = utf8.RuneError
					}
				}
				out = utf8.AppendRune(out, r)
			}
		case c < utf8.RuneSelf:
			out = append(out, c)
			i++
		default:
			r, size := utf8.DecodeRune(inner[i:])
			i += size
			out = utf8.AppendRune(out, r) // RuneError for an invalid byte, as encoding/json
		}
	}
	return d.arena.copy(out)
}

// hex4 decodes four hex digits (already validated).
func hex4(h []byte) rune {
	var r rune
	for _, c := range h {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		default:
			c = c - 'A' + 10
		}
		r = r<<4 | rune(c)
	}
	return r
}
