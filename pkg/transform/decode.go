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
	if !validJSON(b) {
		return nil, false
	}
	it, isObj := newObjIter(b)
	if !isObj {
		return nil, false
	}
	d := eventDecoder{dec: newDecoder(b)}
	e = &calendarevent.Event{}
	var seen uint64
	for {
		key, val, more := it.next()
		if !more {
			break
		}
		f, known := eventFields[string(key)]
		if !known || seen&(1<<f) != 0 {
			return nil, false
		}
		seen |= 1 << f
		if !d.field(e, f, val) {
			return nil, false
		}
	}
	if it.err != nil || e.Schema != calendarevent.EventSchema || e.Account == "" || e.ID == "" {
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

// eventFields maps member names, quotes included, to fields. A key written
// any other way (escaped, another case) is not found and takes the
// encoding/json path, which matches names case-insensitively.
var eventFields = map[string]eventField{
	`"schema"`: evSchema, `"account"`: evAccount, `"id"`: evID, `"external_id"`: evExternalID,
	`"deleted"`: evDeleted, `"deleted_at"`: evDeletedAt, `"title"`: evTitle, `"message"`: evMessage,
	`"location"`: evLocation, `"status"`: evStatus, `"access_level"`: evAccessLevel, `"response"`: evResponse,
	`"reminder"`: evReminder, `"recurrence"`: evRecurrence, `"organizer"`: evOrganizer, `"owner"`: evOwner,
	`"company"`: evCompany, `"contact"`: evContact, `"support_case"`: evSupportCase, `"transaction"`: evTransaction,
	`"related_item"`: evRelatedItem, `"start"`: evStart, `"end"`: evEnd, `"all_day"`: evAllDay, `"timed"`: evTimed,
	`"local"`: evLocal, `"completed_date"`: evCompletedDate, `"attendees"`: evAttendees, `"resources"`: evResources,
	`"custom_fields"`: evCustomFields, `"extra"`: evExtra, `"created_at"`: evCreatedAt,
	`"last_modified_at"`: evLastModifiedAt, `"provenance"`: evProvenance,
}

type eventDecoder struct {
	dec decoder
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
		e.DeletedAt, ok = d.optTime(val)
	case evTitle:
		e.Title, ok = d.str(val)
	case evMessage:
		e.Message, ok = d.message(val)
	case evLocation:
		e.Location, ok = d.str(val)
	case evStatus:
		e.Status, ok = d.enum(val)
	case evAccessLevel:
		e.AccessLevel, ok = d.enum(val)
	case evResponse:
		e.Response, ok = d.enum(val)
	case evReminder:
		e.Reminder, ok = d.reminder(val)
	case evRecurrence:
		e.Recurrence, ok = d.str(val)
	case evOrganizer:
		e.Organizer, ok = d.optRef(val)
	case evOwner:
		e.Owner, ok = d.optRef(val)
	case evCompany:
		e.Company, ok = d.optRef(val)
	case evContact:
		e.Contact, ok = d.optRef(val)
	case evSupportCase:
		e.SupportCase, ok = d.optRef(val)
	case evTransaction:
		e.Transaction, ok = d.optRef(val)
	case evRelatedItem:
		e.RelatedItem, ok = d.optRef(val)
	case evStart:
		e.Start, ok = d.optTime(val)
	case evEnd:
		e.End, ok = d.optTime(val)
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
		e.Extra, ok = extra(val)
	case evCreatedAt:
		e.CreatedAt, ok = d.optTime(val)
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
	return d.dec.unquote(v), true
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

func (d *eventDecoder) optTime(v []byte) (*time.Time, bool) {
	if string(v) == "null" {
		return nil, true
	}
	t := new(time.Time)
	if !decodeTime(v, t) {
		return nil, false
	}
	return t, true
}

// object walks the members of the object v, calling member for each; known
// is false for a key member does not accept, and a key repeated takes the
// slow path (encoding/json merges repeated objects).
func object(v []byte, member func(key, val []byte) (known bool, ok bool)) bool {
	it, ok := newObjIter(v)
	if !ok {
		return false
	}
	var keys [8]string
	n := 0
	for {
		key, val, more := it.next()
		if !more {
			return it.err == nil
		}
		for _, k := range keys[:min(n, len(keys))] {
			if k == string(key) {
				return false
			}
		}
		if n >= len(keys) {
			return false
		}
		keys[n] = string(key)
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
	m := &calendarevent.Message{}
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

func (d *eventDecoder) enum(v []byte) (*calendarevent.Enum, bool) {
	if string(v) == "null" {
		return nil, true
	}
	e := &calendarevent.Enum{}
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

func (d *eventDecoder) optRef(v []byte) (*calendarevent.Ref, bool) {
	if string(v) == "null" {
		return nil, true
	}
	r := &calendarevent.Ref{}
	return r, d.ref(v, r)
}

func (d *eventDecoder) refs(v []byte) ([]calendarevent.Ref, bool) {
	if string(v) == "null" {
		return nil, true
	}
	it, ok := newArrIter(v)
	if !ok {
		return nil, false
	}
	out := []calendarevent.Ref{}
	for {
		val, more := it.next()
		if !more {
			return out, it.err == nil
		}
		var r calendarevent.Ref
		if !d.ref(val, &r) {
			return nil, false
		}
		out = append(out, r)
	}
}

func (d *eventDecoder) reminder(v []byte) (*calendarevent.Reminder, bool) {
	if string(v) == "null" {
		return nil, true
	}
	r := &calendarevent.Reminder{}
	ok := object(v, func(key, val []byte) (bool, bool) {
		switch string(key) {
		case `"type"`:
			e, ok := d.enum(val)
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
			r.Minutes = &n
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
	l := &calendarevent.Local{}
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
	it, ok := newArrIter(v)
	if !ok {
		return nil, false
	}
	out := []calendarevent.Attendee{}
	for {
		val, more := it.next()
		if !more {
			return out, it.err == nil
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
}

// customFields decodes into map[string]any as encoding/json does: strings,
// float64 numbers, booleans, nil, and nested map[string]any / []any.
func (d *eventDecoder) customFields(v []byte) (map[string]any, bool) {
	if string(v) == "null" {
		return nil, true
	}
	it, ok := newObjIter(v)
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
		m[d.dec.unquote(key)] = x // a repeated key keeps the last value, as encoding/json
	}
}

// anyValue decodes a value into the interface{} encoding/json would make.
func (d *eventDecoder) anyValue(v []byte, depth int) (any, bool) {
	if depth > 32 {
		return nil, false
	}
	switch kindOf(v) {
	case kindString:
		return d.dec.unquote(v), true
	case kindNumber:
		f, err := strconv.ParseFloat(string(v), 64)
		return f, err == nil
	case kindBool:
		return v[0] == 't', true
	case kindNull:
		return nil, true
	case kindObject:
		it, _ := newObjIter(v)
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
			m[d.dec.unquote(key)] = x
		}
	case kindArray:
		it, _ := newArrIter(v)
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

// extra decodes map[string]json.RawMessage: each value's bytes, copied.
func extra(v []byte) (map[string]json.RawMessage, bool) {
	if string(v) == "null" {
		return nil, true
	}
	it, ok := newObjIter(v)
	if !ok {
		return nil, false
	}
	m := map[string]json.RawMessage{}
	var dec decoder
	for {
		key, val, more := it.next()
		if !more {
			return m, it.err == nil
		}
		m[dec.unquote(key)] = append(json.RawMessage(nil), val...)
	}
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
			it, ok := newArrIter(val)
			if !ok {
				return true, false
			}
			notes := []string{}
			for {
				n, more := it.next()
				if !more {
					p.Notes = notes
					return true, it.err == nil
				}
				s, ok := d.str(n)
				if !ok {
					return true, false
				}
				notes = append(notes, s)
			}
		}
		return false, false
	})
}

// unquote decodes the valid string literal lit as encoding/json does:
// escapes, surrogate pairs (an unpaired surrogate becomes U+FFFD), and each
// byte of invalid UTF-8 replaced by U+FFFD. A literal needing no work is a
// substring of the decoder's source.
func (d *decoder) unquote(lit []byte) string {
	inner := lit[1 : len(lit)-1]
	simple := true
	for _, c := range inner {
		if c == '\\' || c >= utf8.RuneSelf {
			simple = false
			break
		}
	}
	if simple {
		return d.str(lit)
	}
	out := make([]byte, 0, len(inner))
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
	return string(out)
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
