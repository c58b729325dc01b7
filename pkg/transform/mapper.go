package transform

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/nsflow/nsflow/pkg/calendarevent"
)

// mapper holds the state of one transform. Its arrays give a typical
// message room without allocating; mappers are recycled through a pool
// (newMapper, free), and nothing in the event a mapper builds points into
// it.
type mapper struct {
	mapState
	// What follows is kept when the mapper is recycled: it holds no
	// pointer into a payload or an event (scratch holds bytes of the last
	// one, overwritten by the next).
	memBuf    [96]member // backs members
	spanBuf   [2][4]span
	customBuf [16]int32
	extraBuf  [16]int32
	// scratch is where fillStrings and the message text are put together.
	scratch []byte
	// zc caches zone lookups.
	zc zoneMemo
}

// mapState is the part of a mapper that is cleared for every transform.
type mapState struct {
	decoder
	t    *Transformer
	raw  *calendarevent.Raw
	meta Meta

	// members are the members of the record (rec) and, on the fast path, of
	// the envelope's sublist rows (envRows), split by one validating pass;
	// their offsets are into buf.
	buf     []byte
	members []member
	// strs holds the plain string and number values of members (see
	// fillStrings).
	strs    string
	rec     span
	envRows [2][]span
	// idx locates the mapped fields: index+1 into members, 0 when absent.
	idx [numFields]int32
	// custom and extra are indexes into members.
	custom, extra []int32
	notes         []string

	acctLoc  *time.Location
	acctZone string
	blk      *eventBlock

	rawBuf  calendarevent.Raw
	listBuf [2][4]json.RawMessage
	rowBuf  [8]row
}

// mappers recycles mappers: each is taken for one call and put back,
// cleared, before the call returns.
var mappers = sync.Pool{New: func() any { return new(mapper) }}

// newMapper returns a cleared mapper from the pool; the caller frees it.
func newMapper(t *Transformer, d decoder) *mapper {
	m := mappers.Get().(*mapper)
	m.init(t, d)
	return m
}

// init readies a cleared mapper for one transform.
func (m *mapper) init(t *Transformer, d decoder) {
	m.t, m.decoder = t, d
	m.members = m.memBuf[:0]
	m.custom, m.extra = m.customBuf[:0], m.extraBuf[:0]
}

// free clears m's state, so that the pool keeps no payload or event alive,
// and puts it back; a scratch buffer grown for an outsized message is
// dropped.
func (m *mapper) free() {
	m.mapState = mapState{}
	if cap(m.scratch) > maxKeptScratch {
		m.scratch = nil
	}
	mappers.Put(m)
}

// maxKeptScratch bounds the scratch buffer a pooled mapper keeps.
const maxKeptScratch = 64 << 10

// slot returns the member field f was read from; the zero slot when absent.
func (m *mapper) slot(f int) slot {
	if j := m.idx[f]; j > 0 {
		return m.member(j - 1)
	}
	return slot{}
}

// member returns members[j] as a slot.
func (m *mapper) member(j int32) slot {
	mb := &m.members[j]
	return slot{m.buf[mb.k:mb.kEnd], m.buf[mb.v:mb.vEnd], j + 1}
}

// fillStrings copies the plain values of all members (strings with nothing
// to decode, and numbers) one after another into one string block, so that
// the mapping takes each as a substring (lit) instead of copying it on its
// own; nearly every such value of a record ends up in the event. The block
// is the first chunk of the decoder's arena, with room left after it for
// the strings the mapping makes (message text, dates, custom field names),
// so that an event's strings usually cost one allocation of about their
// size.
func (m *mapper) fillStrings() {
	src := m.buf
	if len(src) > math.MaxInt32 {
		return // beyond what the offsets hold: values are copied one by one
	}
	// The scratch buffer has room to copy eight bytes at a time past the
	// end of the last value.
	if cap(m.scratch) < len(src)+8 {
		m.scratch = make([]byte, 0, len(src)+8)
	}
	buf := m.scratch[:len(src)+8]
	n := 0
	longest := 0
	for j := range m.members {
		mb := &m.members[j]
		if !mb.plain {
			continue
		}
		lo, hi := mb.v, mb.vEnd
		if src[lo] == '"' {
			lo, hi = lo+1, hi-1
		}
		// Most values are short: copy words, not calls to memmove; the bytes
		// written past the value are overwritten by the next.
		for k := lo; k < hi; k += 8 {
			if k+8 > len(src) {
				copy(buf[n+k-lo:], src[k:hi])
				break
			}
			binary.LittleEndian.PutUint64(buf[n+k-lo:], le64(src, k))
		}
		mb.s = int32(n)
		n += hi - lo
		mb.sEnd = int32(n)
		longest = max(longest, hi-lo)
	}
	// Room for dates and times, the message text (about as long as the
	// longest string, its HTML) and custom field names.
	m.strs = m.arena.block(buf[:n], 64+longest+n/8)
}

// lit returns the value of the member s, a string or number literal, as a
// string: from the string block when fillStrings put it there, else
// decoded (or, for a number, copied) now.
func (m *mapper) lit(s slot) string {
	if s.j > 0 {
		if mb := &m.members[s.j-1]; mb.s >= 0 {
			return m.strs[mb.s:mb.sEnd]
		}
	}
	return m.litNow(s)
}

// litNow is lit for a value that is not in the string block.
func (m *mapper) litNow(s slot) string {
	if kindOf(s.val) == kindString {
		return m.str(s.val)
	}
	return m.arena.copy(s.val)
}

// eventBlock holds an event and the values it points to, so that one
// allocation serves them all; the sublist arrays hold a typical event's
// attendees and resources.
type eventBlock struct {
	ev                  calendarevent.Event
	local               calendarevent.Local
	msg                 calendarevent.Message
	start, end, created time.Time
	enums               [4]calendarevent.Enum
	refs                [7]calendarevent.Ref
	reminder            calendarevent.Reminder
	attendees           [4]calendarevent.Attendee
	resources           [1]calendarevent.Ref
	// At most 1528 bytes (TestEventBlockSize), so that with its 8-byte malloc
	// header the block takes a 1536-byte size class, not 1792.
}

func (m *mapper) note(s string) { m.notes = append(m.notes, s) }

func (m *mapper) notef(format string, args ...any) { m.note(fmt.Sprintf(format, args...)) }

// prepare checks the record is an object and splits it into members, unless
// decodeEnvelope did (v is split). For a Raw built by the caller it also
// checks that the record and the sublist rows are valid JSON.
func (m *mapper) prepare(v validation) *Error {
	if v == split {
		return nil
	}
	rec := trimValue(m.raw.Record)
	if kindOf(rec) == kindObject {
		lo := len(m.members)
		var err error
		if m.members, _, err = splitObject(rec, 0, 0, m.members); err != nil {
			return newErr(ClassMalformedJSON, "record", "not valid JSON")
		}
		m.buf, m.rec = rec, span{int32(lo), int32(len(m.members))}
		m.fillStrings()
	} else if !validJSON(rec) {
		return newErr(ClassMalformedJSON, "record", "not valid JSON")
	}
	if v == validateAll {
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
	if kindOf(rec) != kindObject {
		return wrongType(field{sub: "record"}, rec, "an object")
	}
	return nil
}

// collect sorts the record's members into mapped fields (idx), custom
// fields and extra fields.
func (m *mapper) collect() *Error {
	for i := m.rec.lo; i < m.rec.hi; i++ {
		mb := &m.members[i]
		key := m.buf[mb.k:mb.kEnd]
		switch f, custom := keyField(key); f {
		case fNoise:
		case fNone:
			if custom {
				m.custom = append(m.custom, i)
			} else {
				m.extra = append(m.extra, i)
			}
		default:
			if m.idx[f] != 0 {
				return newErr(ClassInvalidRecord, decodeString(key), "appears more than once (keys are matched case-insensitively)")
			}
			m.idx[f] = i + 1
		}
	}
	return nil
}

// pick returns the alias slot when it has a value, else the plain one.
func (m *mapper) pick(alias, plain int) slot { return m.slot(m.pickField(alias, plain)) }

// pickField is pick for the field rather than its slot.
func (m *mapper) pickField(alias, plain int) int {
	if j := m.idx[alias]; j > 0 {
		mb := &m.members[j-1]
		if v := m.buf[mb.v:mb.vEnd]; kindOf(v) != kindNull && string(v) != `""` {
			return alias
		}
	}
	return plain
}

// text reads field f as a string; absent and null are "".
func (m *mapper) text(f int) (string, *Error) {
	if m.idx[f] == 0 {
		return "", nil
	}
	if v, ok := m.blockValue(f, false); ok {
		return v, nil
	}
	s := m.slot(f)
	return m.slotText(s.field(), s)
}

// blockValue returns the value of field f when it is a string (or, with
// numbers, a number) that fillStrings put in the string block: the common
// case, read without building a slot. ok is false otherwise.
func (m *mapper) blockValue(f int, numbers bool) (string, bool) {
	j := m.idx[f]
	if j == 0 {
		return "", false
	}
	mb := &m.members[j-1]
	if mb.s < 0 || !numbers && m.buf[mb.v] != '"' {
		return "", false
	}
	return m.strs[mb.s:mb.sEnd], true
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
		m.scratch = appendText(m.scratch[:0], msg)
		m.blk.msg = calendarevent.Message{HTML: msg, Text: m.arena.copy(m.scratch)}
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
		ev.CompletedDate = m.dateString(cd)
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
	if id, ok := m.blockValue(fID, true); ok && id != "" && id == m.raw.RecordID {
		return id, nil
	}
	s := m.slot(fID)
	if s.absent() {
		return "", newErr(ClassInvalidRecord, "id", "missing (id is required)")
	}
	id, ok := m.slotID(s)
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
	if id, ok := m.blockValue(fExternalID, true); ok {
		return id, nil
	}
	s := m.slot(fExternalID)
	if s.absent() {
		return "", nil
	}
	id, ok := m.slotID(s)
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
	id, name, ok := "", "", false
	if id, ok = m.blockValue(f, true); !ok {
		s := m.slot(f)
		if s.absent() {
			return nil, nil
		}
		var problem string
		if id, name, _, problem = m.slotRef(s); problem != "" {
			return nil, newErr(ClassWrongType, s.name(), problem)
		}
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
	id, name, typ, ok := "", "", "", false
	if id, ok = m.blockValue(f, true); !ok {
		s := m.slot(f)
		if s.absent() {
			return nil, nil
		}
		var problem string
		if id, name, typ, problem = m.slotRef(s); problem != "" {
			return nil, newErr(ClassWrongType, s.name(), problem)
		}
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
	s := m.slot(fReminderMinutes)
	minutes, err := m.minutesOf(s.field(), s)
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
	for _, j := range m.custom {
		s := m.member(j)
		name := m.str(s.key)
		v, ok := m.customValue(s, suiteql)
		if !ok {
			if _, dup := out[name]; dup {
				return nil, newErr(ClassInvalidRecord, name, "appears more than once")
			}
			continue
		}
		// A repeated name does not grow the map: one lookup instead of two.
		n := len(out)
		out[name] = v
		if len(out) == n {
			return nil, newErr(ClassInvalidRecord, name, "appears more than once")
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
	for _, j := range m.extra {
		s := m.member(j)
		if s.absent() || string(s.val) == `""` {
			continue
		}
		name := m.str(s.key)
		if out == nil {
			out = make(map[string]json.RawMessage, len(m.extra))
		}
		n := len(out)
		out[name] = compactCopy(s.val)
		if len(out) == n {
			return nil, newErr(ClassInvalidRecord, name, "appears more than once")
		}
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
