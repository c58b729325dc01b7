package transform

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/nsflow/nsflow/pkg/calendarevent"
)

// mapper holds the state of one transform.
type mapper struct {
	decoder
	t    *Transformer
	raw  *calendarevent.Raw
	meta Meta
	rec  []byte

	slots  [numFields]slot
	custom []slot
	extra  []slot
	notes  []string

	acctLoc  *time.Location
	acctZone string
	blk      *eventBlock
	// strictRecord: the record is not validated yet; read it with a
	// validating iterator.
	strictRecord bool
}

// recordIter iterates the record's members, validating when needed.
func (m *mapper) recordIter() objIter {
	it, _ := newObjIter(m.rec)
	it.strict = m.strictRecord
	return it
}

// eventBlock holds an event and the values it points to, so that one
// allocation serves them all.
type eventBlock struct {
	ev                  calendarevent.Event
	local               calendarevent.Local
	msg                 calendarevent.Message
	start, end, created time.Time
	enums               [4]calendarevent.Enum
	refs                [7]calendarevent.Ref
	reminder            calendarevent.Reminder
}

func (m *mapper) note(s string) { m.notes = append(m.notes, s) }

func (m *mapper) notef(format string, args ...any) { m.note(fmt.Sprintf(format, args...)) }

// prepare checks the record is an object and, for a Raw built by the
// caller, that the record and sublist rows are valid JSON.
func (m *mapper) prepare(v validation) *Error {
	m.rec = trimValue(m.raw.Record)
	m.strictRecord = v == validateRecord
	if v == validateAll {
		if !validJSON(m.rec) {
			return newErr(ClassMalformedJSON, "record", "not valid JSON")
		}
		for i, r := range m.raw.Attendees {
			if !validJSON(r) {
				return newErr(ClassMalformedJSON, fmt.Sprintf("attendees[%d]", i), "not valid JSON")
			}
		}
		for i, r := range m.raw.Resources {
			if !validJSON(r) {
				return newErr(ClassMalformedJSON, fmt.Sprintf("resources[%d]", i), "not valid JSON")
			}
		}
	}
	if kindOf(m.rec) != kindObject {
		return wrongType(field{sub: "record"}, m.rec, "an object")
	}
	return nil
}

// collect sorts the record's members into slots (mapped fields), custom
// fields and extra fields.
func (m *mapper) collect() *Error {
	it := m.recordIter()
	var buf [64]byte
	for {
		key, val, ok := it.next()
		if !ok {
			break
		}
		lk := lowerKey(buf[:0], key)
		switch f := fieldOf(lk); f {
		case fNoise:
		case fNone:
			if bytes.HasPrefix(lk, []byte("custevent")) {
				m.custom = appendSlot(m.custom, slot{key, val})
			} else {
				m.extra = appendSlot(m.extra, slot{key, val})
			}
		default:
			if m.slots[f].val != nil {
				return newErr(ClassInvalidRecord, decodeString(key), "appears more than once (keys are matched case-insensitively)")
			}
			m.slots[f] = slot{key, val}
		}
	}
	if it.err != nil {
		return newErr(ClassMalformedJSON, "record", "not valid JSON")
	}
	return nil
}

// appendSlot appends, starting with room for a few, so that a record's
// handful of custom fields costs one allocation rather than four.
func appendSlot(s []slot, x slot) []slot {
	if s == nil {
		s = make([]slot, 0, 8)
	}
	return append(s, x)
}

// pick returns the alias slot when it has a value, else the plain one.
func (m *mapper) pick(alias, plain int) slot {
	if s := m.slots[alias]; !s.absent() && string(s.val) != `""` {
		return m.slots[alias]
	}
	return m.slots[plain]
}

func (m *mapper) text(f int) (string, *Error) {
	s := m.slots[f]
	return m.textOf(s.field(), s.val)
}

// event maps an event record.
func (m *mapper) event() (*calendarevent.Event, error) {
	if err := m.collect(); err != nil {
		return nil, err
	}
	m.blk = &eventBlock{}
	ev := &m.blk.ev
	ev.Schema, ev.Account = calendarevent.EventSchema, m.raw.Account
	var err *Error

	// Identity and version.
	if ev.ID, err = m.id(); err != nil {
		return nil, err
	}
	lm, ok, err := m.timestamp(fNsLastModified, fLastModified, "lastModified")
	if err != nil {
		return nil, err
	}
	if !ok {
		name := "ns_lastmodified"
		if m.raw.API == calendarevent.APIREST {
			name = "lastModifiedDate"
		}
		return nil, newErr(ClassInvalidRecord, name, "missing (lastModified is required)")
	}
	ev.LastModifiedAt = lm
	if !m.raw.LastModified.IsZero() && !lm.Truncate(time.Second).Equal(m.raw.LastModified.Truncate(time.Second)) {
		m.notef("record lastModified %s differs from the envelope's last_modified %s", lm.Format(time.RFC3339), m.raw.LastModified.UTC().Format(time.RFC3339))
	}

	// Text.
	if ev.ExternalID, err = m.externalID(); err != nil {
		return nil, err
	}
	if ev.Title, err = m.text(fTitle); err != nil {
		return nil, err
	}
	if ev.Location, err = m.text(fLocation); err != nil {
		return nil, err
	}
	if ev.Recurrence, err = m.text(fRecurrence); err != nil {
		return nil, err
	}
	msg, err := m.text(fMessage)
	if err != nil {
		return nil, err
	}
	if msg != "" {
		m.blk.msg = calendarevent.Message{HTML: msg, Text: htmlToText(msg)}
		ev.Message = &m.blk.msg
	}

	// Enums.
	if ev.Status, err = m.enum(fStatus, fNsStatusName, &m.blk.enums[0]); err != nil {
		return nil, err
	}
	if ev.AccessLevel, err = m.enum(fAccessLevel, fNsAccessLevelName, &m.blk.enums[1]); err != nil {
		return nil, err
	}
	if ev.Response, err = m.enum(fResponse, fNsResponseName, &m.blk.enums[2]); err != nil {
		return nil, err
	}
	if ev.Reminder, err = m.reminder(); err != nil {
		return nil, err
	}

	// References.
	for i, r := range [...]struct {
		dst        **calendarevent.Ref
		f, nameAls int
	}{
		{&ev.Organizer, fOrganizer, fNsOrganizerName},
		{&ev.Owner, fOwner, fNsOwnerName},
		{&ev.Company, fCompany, fNsCompanyName},
		{&ev.Contact, fContact, fNsContactName},
		{&ev.SupportCase, fSupportCase, fNsSupportCaseName},
		{&ev.Transaction, fTransaction, fNsTransactionName},
		{&ev.RelatedItem, fRelatedItem, fNsRelatedItemName},
	} {
		if *r.dst, err = m.ref(r.f, r.nameAls, &m.blk.refs[i]); err != nil {
			return nil, err
		}
	}

	// Schedule.
	if err = m.schedule(ev); err != nil {
		return nil, err
	}
	cd, ok, err := m.date(fNsCompletedDate, fCompletedDate)
	if err != nil {
		return nil, err
	}
	if ok {
		ev.CompletedDate = cd.String()
	}
	created, ok, err := m.timestamp(fNsCreated, fCreated, "created")
	if err != nil {
		return nil, err
	}
	if ok {
		m.blk.created = created
		ev.CreatedAt = &m.blk.created
	}

	// Sublists.
	if ev.Attendees, err = m.attendees(); err != nil {
		return nil, err
	}
	if ev.Resources, err = m.resources(); err != nil {
		return nil, err
	}

	// Everything else.
	if ev.CustomFields, err = m.customFields(); err != nil {
		return nil, err
	}
	if ev.Extra, err = m.extraFields(); err != nil {
		return nil, err
	}
	ev.Provenance = m.provenance()
	return ev, nil
}

func (m *mapper) provenance() calendarevent.Provenance {
	return calendarevent.Provenance{
		ExtractedAt: m.raw.ExtractedAt.UTC(),
		SourceAPI:   m.raw.API,
		RawSequence: m.meta.RawSequence,
		Notes:       m.notes,
	}
}

// id reads the required id and checks it against the envelope.
func (m *mapper) id() (string, *Error) {
	s := m.slots[fID]
	if s.absent() {
		return "", newErr(ClassInvalidRecord, "id", "missing (id is required)")
	}
	id, ok := m.idOf(s.val)
	if !ok {
		return "", wrongType(s.field(), s.val, "a string")
	}
	if id == "" {
		return "", newErr(ClassInvalidRecord, s.name(), "empty (id is required)")
	}
	if id != m.raw.RecordID {
		return "", newErr(ClassInvalidRecord, s.name(), fmt.Sprintf("%s does not match the envelope's record_id %s", quoteShort(id), quoteShort(m.raw.RecordID)))
	}
	return id, nil
}

func (m *mapper) externalID() (string, *Error) {
	s := m.slots[fExternalID]
	if s.absent() {
		return "", nil
	}
	id, ok := m.idOf(s.val)
	if !ok {
		return "", wrongType(s.field(), s.val, "a string")
	}
	return id, nil
}

// enum reads an enum field; its display name comes from refName or from the
// SuiteQL BUILTIN.DF alias. A bare value gets no name: this package has no
// table of display names, because NetSuite's are localised and not
// documented, and an invented one would be worse than none.
func (m *mapper) enum(f, nameAlias int, dst *calendarevent.Enum) (*calendarevent.Enum, *Error) {
	s := m.slots[f]
	if s.absent() {
		return nil, nil
	}
	id, name, _, problem := m.refParts(s.val)
	if problem != "" {
		return nil, newErr(ClassWrongType, s.name(), problem)
	}
	if id == "" {
		return nil, nil
	}
	if name == "" {
		var err *Error
		if name, err = m.text(nameAlias); err != nil {
			return nil, err
		}
	}
	*dst = calendarevent.Enum{ID: id, Name: name}
	return dst, nil
}

// ref reads a reference field: a REST {links, id, refName} object (Type from
// the self link) or a SuiteQL id with its BUILTIN.DF alias as the name.
func (m *mapper) ref(f, nameAlias int, dst *calendarevent.Ref) (*calendarevent.Ref, *Error) {
	s := m.slots[f]
	if s.absent() {
		return nil, nil
	}
	id, name, typ, problem := m.refParts(s.val)
	if problem != "" {
		return nil, newErr(ClassWrongType, s.name(), problem)
	}
	if id == "" {
		return nil, nil
	}
	if name == "" {
		var err *Error
		if name, err = m.text(nameAlias); err != nil {
			return nil, err
		}
	}
	*dst = calendarevent.Ref{ID: id, Name: name, Type: typ}
	return dst, nil
}

func (m *mapper) reminder() (*calendarevent.Reminder, *Error) {
	typ, err := m.enum(fReminderType, fNsReminderTypeName, &m.blk.enums[3])
	if err != nil {
		return nil, err
	}
	s := m.slots[fReminderMinutes]
	minutes, err := m.minutesOf(s.field(), s.val)
	if err != nil {
		return nil, err
	}
	if typ == nil && minutes == nil {
		return nil, nil
	}
	m.blk.reminder = calendarevent.Reminder{Type: typ, Minutes: minutes}
	return &m.blk.reminder, nil
}

// customFields types the custevent* fields (see customValue).
func (m *mapper) customFields() (map[string]any, *Error) {
	if len(m.custom) == 0 {
		return nil, nil
	}
	suiteql := m.raw.API == calendarevent.APISuiteQL
	out := make(map[string]any, len(m.custom))
	for _, s := range m.custom {
		name := m.str(s.key)
		if _, dup := out[name]; dup {
			return nil, newErr(ClassInvalidRecord, name, "appears more than once")
		}
		if v, ok := m.customValue(s.val, suiteql); ok {
			out[name] = v
		}
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

// extraFields keeps every member the mapping does not model, verbatim
// (compacted), except nulls and empty strings, which NetSuite itself treats
// as absent.
func (m *mapper) extraFields() (map[string]json.RawMessage, *Error) {
	var out map[string]json.RawMessage
	for _, s := range m.extra {
		if s.absent() || string(s.val) == `""` {
			continue
		}
		name := m.str(s.key)
		if out == nil {
			out = make(map[string]json.RawMessage, len(m.extra))
		}
		if _, dup := out[name]; dup {
			return nil, newErr(ClassInvalidRecord, name, "appears more than once")
		}
		out[name] = compactCopy(s.val)
	}
	return out, nil
}

// compactCopy returns a compacted copy of a valid JSON value, never aliasing
// the input.
func compactCopy(val []byte) json.RawMessage {
	if k := kindOf(val); k != kindObject && k != kindArray {
		return json.RawMessage(append(make([]byte, 0, len(val)), val...))
	}
	var b bytes.Buffer
	b.Grow(len(val))
	if err := json.Compact(&b, val); err != nil {
		return json.RawMessage(append([]byte(nil), val...))
	}
	return json.RawMessage(b.Bytes())
}

func jsonNumber(s string) json.Number { return json.Number(s) }
