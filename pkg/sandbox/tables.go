package sandbox

import (
	"github.com/nsflow/nsflow/pkg/sandbox/nstime"
	"github.com/nsflow/nsflow/pkg/sandbox/suiteql"
)

// Columns of the SuiteQL calendarevent table, in SELECT * order.
const (
	ceID = iota
	ceExternalID
	ceTitle
	ceMessage
	ceLocation
	ceStatus
	ceAccessLevel
	ceAllDay
	ceTimed
	ceStartDate
	ceStartTime
	ceEndTime
	ceCompletedDate
	ceTimezone
	ceRecurrence
	ceReminderMinutes
	ceReminderType
	ceOrganizer
	ceOwner
	ceCompany
	ceContact
	ceSupportCase
	ceTransaction
	ceRelatedItem
	ceCreated
	ceModified
	ceMeetingType
	ceBillable
	ceScore
	ceNotes
	ceFollowUp
)

var calendarEventColumns = []suiteql.Column{
	{Name: "id"}, {Name: "externalid"}, {Name: "title"}, {Name: "message"}, {Name: "location"},
	{Name: "status", Display: true}, {Name: "accesslevel", Display: true}, {Name: "alldayevent"},
	{Name: "timedevent"}, {Name: "startdate"}, {Name: "starttime"}, {Name: "endtime"},
	{Name: "completeddate"}, {Name: "timezone"}, {Name: "recurrence"},
	{Name: "reminderminutes", Display: true}, {Name: "remindertype", Display: true},
	{Name: "organizer", Display: true}, {Name: "owner", Display: true}, {Name: "company", Display: true},
	{Name: "contact", Display: true}, {Name: "supportcase", Display: true}, {Name: "transaction", Display: true},
	{Name: "relateditem", Display: true}, {Name: "createddate"}, {Name: "lastmodifieddate"},
	{Name: "custevent_meeting_type", Display: true}, {Name: "custevent_billable"}, {Name: "custevent_score"},
	{Name: "custevent_notes"}, {Name: "custevent_follow_up_date"},
}

// ceRow is a calendarevent row. Key columns come from the store's compact
// keys; the rest of a generated event is derived on first access.
type ceRow struct {
	s                 *store
	id                int64
	created, modified int64
	ev                *event
	buf               event // holds a generated event, saving an allocation
}

func (r *ceRow) e() *event {
	if r.ev == nil {
		r.s.gen.eventInto(&r.buf, r.id, r.created, r.modified)
		r.ev = &r.buf
	}
	return r.ev
}

// rowSlab hands out rows allocated in blocks.
type rowSlab []ceRow

func (sl *rowSlab) row() *ceRow {
	if len(*sl) == 0 {
		*sl = make([]ceRow, 32)
	}
	r := &(*sl)[0]
	*sl = (*sl)[1:]
	return r
}

func refValue(id int64) suiteql.Value {
	if id == 0 {
		return suiteql.Null
	}
	return suiteql.Int(id)
}

func (r *ceRow) Value(col int) suiteql.Value {
	switch col {
	case ceID:
		return suiteql.Int(r.id)
	case ceCreated:
		if r.ev != nil {
			return suiteql.Timestamp(r.s.zone.ToCivil(r.ev.created))
		}
		return suiteql.Timestamp(r.s.zone.ToCivil(r.created))
	case ceModified:
		if r.ev != nil {
			return suiteql.Timestamp(r.s.zone.ToCivil(r.ev.modified))
		}
		return suiteql.Timestamp(r.s.zone.ToCivil(r.modified))
	}
	e := r.e()
	switch col {
	case ceExternalID:
		return suiteql.Str(e.externalID)
	case ceTitle:
		return suiteql.Str(e.title)
	case ceMessage:
		return suiteql.Str(e.message)
	case ceLocation:
		return suiteql.Str(e.location)
	case ceStatus:
		return suiteql.Str(statusEnum[e.status].id)
	case ceAccessLevel:
		return suiteql.Str(accessEnum[e.accessLevel].id)
	case ceAllDay:
		return suiteql.Bool(e.allDay)
	case ceTimed:
		return suiteql.Bool(e.timed)
	case ceStartDate:
		return suiteql.Date(e.startDay * nstime.SecondsPerDay)
	case ceStartTime:
		return suiteql.Timestamp(e.startDay*nstime.SecondsPerDay + int64(e.startSec))
	case ceEndTime:
		return suiteql.Timestamp(e.startDay*nstime.SecondsPerDay + int64(e.endSec))
	case ceCompletedDate:
		if !e.hasDone {
			return suiteql.Null
		}
		return suiteql.Date(e.doneDay * nstime.SecondsPerDay)
	case ceTimezone:
		return suiteql.Str(e.timezone)
	case ceRecurrence:
		return suiteql.Str(e.recurrence)
	case ceReminderMinutes:
		if e.remMinutes < 0 {
			return suiteql.Null
		}
		return suiteql.Int(int64(e.remMinutes))
	case ceReminderType:
		return suiteql.Str(reminderTypeEnum[e.remType].id)
	case ceOrganizer:
		return refValue(e.organizer)
	case ceOwner:
		return refValue(e.owner)
	case ceCompany:
		return refValue(e.company)
	case ceContact:
		return refValue(e.contact)
	case ceSupportCase:
		return refValue(e.supportCase)
	case ceTransaction:
		return refValue(e.transaction)
	case ceRelatedItem:
		return refValue(e.relatedItem)
	case ceMeetingType:
		return refValue(e.meetingType)
	case ceBillable:
		return suiteql.Bool(e.billable)
	case ceScore:
		if !e.hasScore {
			return suiteql.Null
		}
		return suiteql.Num(e.score)
	case ceNotes:
		return suiteql.Str(e.notes)
	case ceFollowUp:
		if !e.hasFollowUp {
			return suiteql.Null
		}
		return suiteql.Date(e.followUpDay * nstime.SecondsPerDay)
	}
	return suiteql.Null
}

func (r *ceRow) Display(col int) suiteql.Value {
	e := r.e()
	dir := r.s.gen.dir
	ref := func(k entityKind, id int64) suiteql.Value {
		if id == 0 {
			return suiteql.Null
		}
		return suiteql.Str(dir.name(k, id))
	}
	switch col {
	case ceStatus:
		return suiteql.Str(statusEnum[e.status].name)
	case ceAccessLevel:
		return suiteql.Str(accessEnum[e.accessLevel].name)
	case ceReminderMinutes:
		if e.remMinutes < 0 {
			return suiteql.Null
		}
		return suiteql.Str(reminderName(int(e.remMinutes)))
	case ceReminderType:
		return suiteql.Str(reminderTypeEnum[e.remType].name)
	case ceOrganizer:
		return ref(kindEmployee, e.organizer)
	case ceOwner:
		return ref(kindEmployee, e.owner)
	case ceCompany:
		return ref(kindCustomer, e.company)
	case ceContact:
		return ref(kindContact, e.contact)
	case ceSupportCase:
		return ref(kindSupportCase, e.supportCase)
	case ceTransaction:
		return ref(kindTransaction, e.transaction)
	case ceRelatedItem:
		return ref(kindItem, e.relatedItem)
	case ceMeetingType:
		return ref(kindMeetingType, e.meetingType)
	}
	return r.Value(col)
}

// orderIs reports whether the requested order is satisfied by a cursor
// producing rows ordered by keys (ascending, or all descending when desc),
// where the last key is unique.
func orderIs(req []suiteql.OrderKey, keys []int, desc bool) bool {
	for i, o := range req {
		if i >= len(keys) {
			return true
		}
		if o.Col != keys[i] || o.Desc != desc {
			return false
		}
	}
	return true
}

func wantsDesc(req []suiteql.OrderKey) bool { return len(req) > 0 && req[0].Desc }

// eventTable is the SuiteQL calendarevent table.
type eventTable struct{ s *store }

func (t eventTable) Columns() []suiteql.Column { return calendarEventColumns }

// Open picks an access path: ID lookups for id = / IN, the
// (lastmodifieddate, id) index for ranges on lastmodifieddate (and the
// keyset form on (lastmodifieddate, id)) or ORDER BY lastmodifieddate, and
// the ID order otherwise.
func (t eventTable) Open(req suiteql.AccessRequest) (suiteql.Cursor, suiteql.AccessPlan) {
	s := t.s
	plan := suiteql.AccessPlan{Absorbed: make([]bool, len(req.Preds))}
	desc := wantsDesc(req.Order)

	var points []int64
	hasPoints := false
	for i, p := range req.Preds {
		if ids, ok := idSet(p, ceID); ok {
			if hasPoints {
				points = intersect(points, ids)
			} else {
				points, hasPoints = ids, true
			}
			plan.Absorbed[i] = true
		}
	}
	if hasPoints {
		plan.Ordered = len(req.Order) == 0 || orderIs(req.Order, []int{ceID}, desc)
		return s.pointCursor(points, desc && plan.Ordered), plan
	}

	useLM := len(req.Order) > 0 && req.Order[0].Col == ceModified
	kr := fullRange()
	for i, p := range req.Preds {
		if kr.apply(p, ceModified, ceID) {
			plan.Absorbed[i] = true
			useLM = true
		}
	}
	if useLM {
		plan.Ordered = len(req.Order) == 0 || orderIs(req.Order, []int{ceModified, ceID}, desc)
		return s.lmCursor(kr, desc && plan.Ordered), plan
	}
	for i := range plan.Absorbed {
		plan.Absorbed[i] = false
	}
	ir := fullIDRange()
	for i, p := range req.Preds {
		if ir.apply(p, ceID) {
			plan.Absorbed[i] = true
		}
	}
	plan.Ordered = len(req.Order) == 0 || orderIs(req.Order, []int{ceID}, desc)
	return s.idCursor(ir, desc && plan.Ordered), plan
}

// subRow is a row of calendareventattendee or calendareventresource.
type subRow struct {
	s     *store
	event int64
	att   attendee // attendee table
	res   int64    // resource table
	isRes bool
}

func (r *subRow) Value(col int) suiteql.Value {
	if col == 0 {
		return suiteql.Int(r.event)
	}
	if r.isRes {
		return suiteql.Int(r.res)
	}
	switch col {
	case 1:
		return suiteql.Int(r.att.entity)
	case 2:
		return suiteql.Str(attendanceEnum[r.att.attendance].id)
	case 3:
		return suiteql.Str(responseEnum[r.att.response].id)
	}
	return suiteql.Null
}

func (r *subRow) Display(col int) suiteql.Value {
	dir := r.s.gen.dir
	if col == 0 {
		if e, ok := r.s.get(r.event); ok {
			return suiteql.Str(e.title)
		}
		return suiteql.Null
	}
	if r.isRes {
		return suiteql.Str(dir.name(kindResource, r.res))
	}
	switch col {
	case 1:
		ent, _ := dir.entity(r.att.entity)
		return suiteql.Str(ent.name)
	case 2:
		return suiteql.Str(attendanceEnum[r.att.attendance].name)
	case 3:
		return suiteql.Str(responseEnum[r.att.response].name)
	}
	return suiteql.Null
}

// subTable is calendareventattendee or calendareventresource.
type subTable struct {
	s     *store
	isRes bool
}

var (
	attendeeColumns = []suiteql.Column{{Name: "calendarevent", Display: true}, {Name: "attendee", Display: true},
		{Name: "attendance", Display: true}, {Name: "response", Display: true}}
	resourceColumns = []suiteql.Column{{Name: "calendarevent", Display: true}, {Name: "resource", Display: true}}
)

func (t subTable) Columns() []suiteql.Column {
	if t.isRes {
		return resourceColumns
	}
	return attendeeColumns
}

// Open uses calendarevent = / IN to visit only those events (the
// index by event); otherwise it walks all events in ID order. Rows come
// ordered by (calendarevent, attendee|resource).
func (t subTable) Open(req suiteql.AccessRequest) (suiteql.Cursor, suiteql.AccessPlan) {
	plan := suiteql.AccessPlan{Absorbed: make([]bool, len(req.Preds))}
	plan.Ordered = orderIs(req.Order, []int{0, 1}, false)
	var ids []int64
	has := false
	for i, p := range req.Preds {
		if set, ok := idSet(p, 0); ok {
			if has {
				ids = intersect(ids, set)
			} else {
				ids, has = set, true
			}
			plan.Absorbed[i] = true
		}
	}
	c := &subCursor{t: t}
	if has {
		c.points = &pointCursor{s: t.s}
		for _, id := range ids {
			if t.s.exists(id) {
				c.points.ids = append(c.points.ids, id)
			}
		}
		c.n = -1
	} else {
		c.all = t.s.idCursor(fullIDRange(), false)
		c.n = -1
	}
	return c, plan
}

type subCursor struct {
	t      subTable
	points *pointCursor
	all    *idCursor
	event  int64
	atts   []attendee
	res    []int64
	k      int
	n      int
}

func (c *subCursor) nextEvent() (int64, bool) {
	if c.points != nil {
		if c.points.i >= len(c.points.ids) {
			return 0, false
		}
		c.points.i++
		return c.points.ids[c.points.i-1], true
	}
	return c.all.nextID()
}

func (c *subCursor) load(id int64) int {
	c.event, c.k = id, 0
	if c.t.isRes {
		c.res = c.t.s.resourcesOf(id)
		return len(c.res)
	}
	c.atts = c.t.s.attendeesOf(id)
	return len(c.atts)
}

func (c *subCursor) Next() (suiteql.Row, bool) {
	for {
		size := len(c.atts)
		if c.t.isRes {
			size = len(c.res)
		}
		if c.k < size {
			r := &subRow{s: c.t.s, event: c.event, isRes: c.t.isRes}
			if c.t.isRes {
				r.res = c.res[c.k]
			} else {
				r.att = c.atts[c.k]
			}
			c.k++
			return r, true
		}
		id, ok := c.nextEvent()
		if !ok {
			return nil, false
		}
		c.load(id)
	}
}

func (c *subCursor) Skip(n int) int {
	k := 0
	for k < n {
		if _, ok := c.Next(); !ok {
			break
		}
		k++
	}
	return k
}

// Len counts the rows (without moving the cursor).
func (c *subCursor) Len() int {
	if c.n >= 0 {
		return c.n
	}
	s := c.t.s
	count := func(id int64) int {
		if c.t.isRes {
			return len(s.resourcesOf(id))
		}
		return s.attendeeCountOf(id)
	}
	n := 0
	if c.points != nil {
		for _, id := range c.points.ids {
			n += count(id)
		}
	} else {
		all := s.idCursor(fullIDRange(), false)
		for {
			id, ok := all.nextID()
			if !ok {
				break
			}
			n += count(id)
		}
	}
	c.n = n
	return n
}

// Columns of deletedrecord.
const (
	drRecordID = iota
	drType
	drName
	drDeletedBy
	drContext
	drDeletedDate
	drIsCustomRecord
	drIsCustomList
	drIsCustomTransaction
)

var deletedColumns = []suiteql.Column{{Name: "recordid"}, {Name: "type", Display: true}, {Name: "name"},
	{Name: "deletedby", Display: true}, {Name: "context", Display: true}, {Name: "deleteddate"},
	{Name: "iscustomrecord"}, {Name: "iscustomlist"}, {Name: "iscustomtransaction"}}

const deletedType = "calendarevent"

type delRowRef struct {
	s *store
	d *delRow
}

func (r delRowRef) Value(col int) suiteql.Value {
	switch col {
	case drRecordID:
		return suiteql.Int(r.d.id)
	case drType:
		return suiteql.Str(deletedType)
	case drName:
		return suiteql.Str(r.d.name)
	case drDeletedBy:
		return suiteql.Int(r.d.deletedBy)
	case drContext:
		return suiteql.Str(deleteContexts[r.d.context].id)
	case drDeletedDate:
		return suiteql.Timestamp(r.d.c)
	}
	return suiteql.Bool(false)
}

func (r delRowRef) Display(col int) suiteql.Value {
	switch col {
	case drType:
		return suiteql.Str("Event")
	case drDeletedBy:
		return suiteql.Str(r.s.gen.dir.name(kindEmployee, r.d.deletedBy))
	case drContext:
		return suiteql.Str(deleteContexts[r.d.context].name)
	}
	return r.Value(col)
}

// deletedTable is deletedrecord; it only records calendar events.
type deletedTable struct{ s *store }

func (t deletedTable) Columns() []suiteql.Column { return deletedColumns }

// Open narrows by (deleteddate, recordid) ranges on the sorted history and
// filters type and recordid conditions itself.
func (t deletedTable) Open(req suiteql.AccessRequest) (suiteql.Cursor, suiteql.AccessPlan) {
	s := t.s
	plan := suiteql.AccessPlan{Absorbed: make([]bool, len(req.Preds))}
	plan.Ordered = orderIs(req.Order, []int{drDeletedDate, drRecordID}, false)
	kr := fullRange()
	none := false
	var ids []int64
	hasIDs := false
	for i, p := range req.Preds {
		switch {
		case kr.apply(p, drDeletedDate, drRecordID):
			plan.Absorbed[i] = true
		case len(p.Cols) == 1 && p.Cols[0] == drType && (p.Op == suiteql.OpEq || p.Op == suiteql.OpIn) && allStrings(p.Vals):
			hit := false
			for _, v := range p.Vals {
				hit = hit || v.Str == deletedType
			}
			none = none || !hit
			plan.Absorbed[i] = true
		default:
			if set, ok := idSet(p, drRecordID); ok {
				if hasIDs {
					ids = intersect(ids, set)
				} else {
					ids, hasIDs = set, true
				}
				plan.Absorbed[i] = true
			}
		}
	}
	c := &delCursor{s: s}
	if none || kr.empty() {
		return c, plan
	}
	key := func(i int) lmKey { return lmKey{c: s.deleted[i].c, id: s.deleted[i].id} }
	lo := searchDel(s.deleted, func(i int) bool { return !key(i).less(kr.lo) })
	hi := searchDel(s.deleted, func(i int) bool { return kr.hi.less(key(i)) })
	for i := lo; i < hi; i++ {
		if hasIDs && !containsSorted(ids, s.deleted[i].id) {
			continue
		}
		c.rows = append(c.rows, int32(i))
	}
	return c, plan
}

func searchDel(d []delRow, f func(int) bool) int {
	lo, hi := 0, len(d)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if !f(m) {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

func containsSorted(a []int64, v int64) bool {
	lo, hi := 0, len(a)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		switch {
		case a[m] < v:
			lo = m + 1
		case a[m] > v:
			hi = m
		default:
			return true
		}
	}
	return false
}

type delCursor struct {
	s    *store
	rows []int32
	i    int
}

func (c *delCursor) Len() int { return len(c.rows) }

func (c *delCursor) Skip(n int) int {
	k := min(n, len(c.rows)-c.i)
	c.i += k
	return k
}

func (c *delCursor) Next() (suiteql.Row, bool) {
	if c.i >= len(c.rows) {
		return nil, false
	}
	c.i++
	return delRowRef{s: c.s, d: &c.s.deleted[c.rows[c.i-1]]}, true
}

// catalog is the set of SuiteQL tables of a store.
type catalog struct{ s *store }

func (c catalog) Table(name string) (suiteql.Table, bool) {
	switch name {
	case "calendarevent":
		return eventTable(c), true
	case "calendareventattendee":
		return subTable{s: c.s}, true
	case "calendareventresource":
		return subTable{s: c.s, isRes: true}, true
	case "deletedrecord":
		return deletedTable(c), true
	}
	return nil, false
}

func allStrings(vals []suiteql.Value) bool {
	for _, v := range vals {
		if v.Kind != suiteql.KindString {
			return false
		}
	}
	return true
}
