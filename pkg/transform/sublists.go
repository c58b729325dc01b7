package transform

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/nsflow/nsflow/pkg/calendarevent"
)

// row is one sublist row: list[idx] names it in errors, e.g. "attendees[2]"
// (envelope) or "attendee.items[2]" (record).
type row struct {
	list string
	idx  int
	val  []byte
	// mem are the row's members when decodeEnvelope split it (split true).
	mem   span
	split bool
}

// rowMemberIter walks a row's members: a split row's from m.members, others
// (rows of an expanded REST sublist, or of a Raw the caller built) with an
// object iterator.
type rowMemberIter struct {
	m  *mapper
	r  row
	j  int32
	it objIter
}

func (m *mapper) rowMembers(r row) rowMemberIter {
	it, _ := newObjIter(r.val)
	return rowMemberIter{m: m, r: r, j: r.mem.lo, it: it}
}

// next returns the next member; more is false after the last.
func (ri *rowMemberIter) next() (mb slot, more bool) {
	if ri.r.split {
		if ri.j >= ri.r.mem.hi {
			return slot{}, false
		}
		ri.j++
		return ri.m.member(ri.j - 1), true
	}
	k, v, more := ri.it.next()
	return slot{key: k, val: v}, more
}

func (r row) f() field              { return field{list: r.list, idx: r.idx} }
func (r row) at(key []byte) field   { return field{list: r.list, idx: r.idx, key: key} }
func (r row) sub(name string) field { return field{list: r.list, idx: r.idx, sub: name} }

// sublistRows finds the rows of the attendee or resource list. The record's
// expanded REST sublist ({items: [...]}) wins: it was read with the record.
// Otherwise the envelope's rows are used when the extractor fetched them.
// known is false when the list was not extracted at all; a REST sublist that
// is only a link ({links: [...]}) was not.
func (m *mapper) sublistRows(f, list int, env []json.RawMessage, envName string) (rows []row, known bool, err *Error) {
	s := m.slot(f)
	if !s.absent() {
		if kindOf(s.val) != kindObject {
			// Not a sublist (a SuiteQL column of that name?): keep it verbatim.
			m.extra = append(m.extra, m.idx[f]-1)
		} else if items, ok, err := m.expandedItems(s); err != nil {
			return nil, false, err
		} else if ok {
			if len(env) > 0 {
				m.notef("%s taken from the record's expanded %s sublist; %d rows in the envelope ignored", envName, s.name(), len(env))
			}
			return items, true, nil
		}
	}
	if !m.raw.AttendeesFetched {
		if len(env) == 0 {
			return nil, false, nil
		}
		m.notef("%s rows present although attendees_fetched is false; used them", envName)
	}
	rows = m.rowBuf[:0]
	spans := m.envRows[list]
	for i, r := range env {
		rw := row{list: envName, idx: i, val: trimValue(r)}
		if i < len(spans) {
			rw.mem, rw.split = spans[i], true
		}
		rows = append(rows, rw)
	}
	return rows, true, nil
}

// expandedItems reads the items of an expanded REST sublist; ok is false for
// a link-only sublist.
func (m *mapper) expandedItems(s slot) (rows []row, ok bool, err *Error) {
	name := s.name()
	list := name + ".items"
	rows = m.rowBuf[:0]
	it, _ := newObjIter(s.val)
	var buf [16]byte
	for {
		k, v, more := it.next()
		if !more {
			break
		}
		switch string(lowerKey(buf[:0], k)) {
		case "items":
			if kindOf(v) == kindNull {
				continue
			}
			arr, isArr := newArrIter(v)
			if !isArr {
				return nil, false, wrongType(field{sub: name + ".items"}, v, "an array")
			}
			ok = true
			for {
				e, more := arr.next()
				if !more {
					break
				}
				rows = append(rows, row{list: list, idx: len(rows), val: e})
			}
		case "hasmore":
			if more, set, _ := boolOf(field{}, v); set && more {
				m.notef("the %s sublist says hasMore; it may be incomplete", name)
			}
		}
	}
	return rows, ok, nil
}

// rowReader reads the members of one sublist row by lower-case key.
type rowReader struct {
	field    string
	unmapped []string
}

// belongs checks a row's calendarevent column against the event id.
func (m *mapper) belongs(f field, s slot) *Error {
	id, _, _, problem := m.slotRef(s)
	if problem != "" {
		return newErr(ClassWrongType, f.String(), problem)
	}
	if id != "" && id != m.raw.RecordID {
		return newErr(ClassInvalidRecord, f.String(), fmt.Sprintf("row belongs to event %s, not %s", quoteShort(id), quoteShort(m.raw.RecordID)))
	}
	return nil
}

// attendees reads the attendee list: nil when not extracted, else sorted by
// entity id (numerically when both are numbers), then attendance, response,
// name, type. Rows that are exact duplicates are kept once.
func (m *mapper) attendees() ([]calendarevent.Attendee, *Error) {
	rows, known, err := m.sublistRows(fAttendee, listAttendees, m.raw.Attendees, "attendees")
	if err != nil || !known {
		return nil, err
	}
	return mapRows(m, rows, m.blk.attendees[:], m.attendee, compareAttendees, "attendee")
}

// mapRows maps each sublist row with one (into buf while it is large
// enough), sorts the results with cmp and keeps exact duplicates once,
// noting how many were dropped and the row columns left unmapped.
func mapRows[T comparable](m *mapper, rows []row, buf []T, one func(row) (T, []string, *Error), cmp func(a, b T) int, what string) ([]T, *Error) {
	var out []T
	if len(rows) <= len(buf) {
		out = buf[:0:len(rows)]
	} else {
		out = make([]T, 0, len(rows))
	}
	var unmapped []string
	for _, r := range rows {
		v, extra, err := one(r)
		if err != nil {
			return nil, err
		}
		unmapped = append(unmapped, extra...)
		out = append(out, v)
	}
	slices.SortFunc(out, cmp)
	out = slices.Compact(out)
	if n := len(rows) - len(out); n > 0 {
		m.notef("%d duplicate %s rows dropped", n, what)
	}
	m.unmappedNote(what, unmapped)
	return out, nil
}

func (m *mapper) attendee(r row) (calendarevent.Attendee, []string, *Error) {
	var a calendarevent.Attendee
	var extra []string
	if kindOf(r.val) != kindObject {
		return a, nil, wrongType(r.f(), r.val, "an object")
	}
	var aliasName, rowName string
	rm := m.rowMembers(r)
	for mb, more := rm.next(); more; mb, more = rm.next() {
		k, v := mb.key, mb.val
		if kindOf(v) == kindNull {
			continue
		}
		switch rowColumn(k) {
		case colAttendee:
			id, name, typ, problem := m.slotRef(mb)
			if problem != "" {
				return a, nil, newErr(ClassWrongType, r.at(k).String(), problem)
			}
			a.Entity = calendarevent.Ref{ID: id, Name: name, Type: typ}
		case colAttendeeName:
			var err *Error
			if aliasName, err = m.slotText(r.at(k), mb); err != nil {
				return a, nil, err
			}
		case colRefName:
			var err *Error
			if rowName, err = m.slotText(r.at(k), mb); err != nil {
				return a, nil, err
			}
		case colAttendance:
			id, _, _, problem := m.slotRef(mb)
			if problem != "" {
				return a, nil, newErr(ClassWrongType, r.at(k).String(), problem)
			}
			a.Attendance = id
		case colResponse:
			id, _, _, problem := m.slotRef(mb)
			if problem != "" {
				return a, nil, newErr(ClassWrongType, r.at(k).String(), problem)
			}
			a.Response = id
		case colCalendarEvent:
			if err := m.belongs(r.at(k), mb); err != nil {
				return a, nil, err
			}
		case colLinks:
		default:
			extra = append(extra, decodeString(k))
		}
	}
	if rm.it.err != nil {
		return a, nil, newErr(ClassMalformedJSON, r.f().String(), "not valid JSON")
	}
	if a.Entity.ID == "" {
		return a, nil, newErr(ClassInvalidRecord, r.sub("attendee").String(), "missing (every attendee row needs an entity id)")
	}
	if a.Entity.Name == "" {
		a.Entity.Name = cmp.Or(aliasName, rowName)
	}
	return a, extra, nil
}

// resources reads the resource list like attendees, sorted by id, name, type.
func (m *mapper) resources() ([]calendarevent.Ref, *Error) {
	rows, known, err := m.sublistRows(fResource, listResources, m.raw.Resources, "resources")
	if err != nil || !known {
		return nil, err
	}
	return mapRows(m, rows, m.blk.resources[:], m.resource, compareRefs, "resource")
}

// resource reads a SuiteQL row {calendarevent, resource, ns_resource_name},
// a REST item {links, resource: {links, id, refName}}, or an item that is
// itself a reference {links, id, refName}.
func (m *mapper) resource(r row) (calendarevent.Ref, []string, *Error) {
	var ref, self calendarevent.Ref
	var extra []string
	if kindOf(r.val) != kindObject {
		return ref, nil, wrongType(r.f(), r.val, "an object")
	}
	var aliasName string
	rm := m.rowMembers(r)
	for mb, more := rm.next(); more; mb, more = rm.next() {
		k, v := mb.key, mb.val
		if kindOf(v) == kindNull {
			continue
		}
		switch rowColumn(k) {
		case colResource:
			id, name, typ, problem := m.slotRef(mb)
			if problem != "" {
				return ref, nil, newErr(ClassWrongType, r.at(k).String(), problem)
			}
			ref = calendarevent.Ref{ID: id, Name: name, Type: typ}
		case colResourceName:
			s, err := m.slotText(r.at(k), mb)
			if err != nil {
				return ref, nil, err
			}
			aliasName = s
		case colID:
			id, ok := m.slotID(mb)
			if !ok {
				return ref, nil, wrongType(r.at(k), v, "a string")
			}
			self.ID = id
		case colRefName:
			s, err := m.slotText(r.at(k), mb)
			if err != nil {
				return ref, nil, err
			}
			self.Name = s
		case colLinks:
			self.Type = m.linkRecordType(v)
		case colCalendarEvent:
			if err := m.belongs(r.at(k), mb); err != nil {
				return ref, nil, err
			}
		default:
			extra = append(extra, decodeString(k))
		}
	}
	if rm.it.err != nil {
		return ref, nil, newErr(ClassMalformedJSON, r.f().String(), "not valid JSON")
	}
	if ref.ID == "" {
		if self.ID == "" {
			return ref, nil, newErr(ClassInvalidRecord, r.sub("resource").String(), "missing (every resource row needs a resource id)")
		}
		ref = self
	} else if ref.Name == "" {
		ref.Name = self.Name
	}
	if ref.Name == "" {
		ref.Name = aliasName
	}
	return ref, extra, nil
}

// unmappedNote records, by name only, sublist columns the contract has no
// place for (their values may be personal data and are not carried).
func (m *mapper) unmappedNote(what string, cols []string) {
	if len(cols) == 0 {
		return
	}
	slices.Sort(cols)
	cols = slices.Compact(cols)
	m.notef("%s rows carried columns this version does not map: %s", what, strings.Join(cols, ", "))
}

// compareIDs orders internal ids numerically when both are decimal numbers
// (so "5" sorts before "10"), numbers before other ids, others bytewise.
func compareIDs(a, b string) int {
	na, nb := isDecimal(a), isDecimal(b)
	switch {
	case na && nb:
		a, b = strings.TrimLeft(a, "0"), strings.TrimLeft(b, "0")
		if len(a) != len(b) {
			return len(a) - len(b)
		}
		return strings.Compare(a, b)
	case na:
		return -1
	case nb:
		return 1
	}
	return strings.Compare(a, b)
}

func isDecimal(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func compareRefs(a, b calendarevent.Ref) int {
	if c := compareIDs(a.ID, b.ID); c != 0 {
		return c
	}
	if c := strings.Compare(a.ID, b.ID); c != 0 { // "05" and "5"
		return c
	}
	if c := strings.Compare(a.Name, b.Name); c != 0 {
		return c
	}
	return strings.Compare(a.Type, b.Type)
}

func compareAttendees(a, b calendarevent.Attendee) int {
	if c := compareIDs(a.Entity.ID, b.Entity.ID); c != 0 {
		return c
	}
	if c := strings.Compare(a.Attendance, b.Attendance); c != 0 {
		return c
	}
	if c := strings.Compare(a.Entity.ID, b.Entity.ID); c != 0 {
		return c
	}
	if c := strings.Compare(a.Response, b.Response); c != 0 {
		return c
	}
	if c := strings.Compare(a.Entity.Name, b.Entity.Name); c != 0 {
		return c
	}
	return strings.Compare(a.Entity.Type, b.Entity.Type)
}
