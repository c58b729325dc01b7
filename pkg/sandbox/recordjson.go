package sandbox

import (
	"strconv"
	"strings"
	"time"

	"github.com/nsflow/nsflow/pkg/sandbox/nstime"
	"github.com/nsflow/nsflow/pkg/sandbox/suiteql"
)

// restFields are the body fields of a calendarEvent record, in the order
// they are rendered (alphabetical, custom fields last, as NetSuite does).
var restFields = []string{"accessLevel", "allDayEvent", "attendee", "company", "completedDate", "contact",
	"createdDate", "customForm", "endTime", "externalId", "lastModifiedDate", "location", "message",
	"organizer", "owner", "recurrence", "relatedItem", "reminderMinutes", "reminderType", "resource",
	"startDate", "startTime", "status", "supportCase", "timedEvent", "timezone", "title", "transaction",
	"custevent_billable", "custevent_follow_up_date", "custevent_meeting_type", "custevent_notes",
	"custevent_score"}

var restFieldIndex = func() map[string]string {
	m := map[string]string{}
	for _, f := range restFields {
		m[strings.ToLower(f)] = f
	}
	m["id"] = "id"
	return m
}()

// jsonw appends JSON for REST responses.
type jsonw struct {
	b     []byte
	base  string // scheme://host
	first bool
}

func (w *jsonw) key(k string) {
	if !w.first {
		w.b = append(w.b, ',')
	}
	w.first = false
	w.b = suiteql.AppendJSONString(w.b, k)
	w.b = append(w.b, ':')
}

func (w *jsonw) str(k, v string) {
	w.key(k)
	w.b = suiteql.AppendJSONString(w.b, v)
}

func (w *jsonw) boolean(k string, v bool) {
	w.key(k)
	w.b = strconv.AppendBool(w.b, v)
}

func (w *jsonw) selfLinks(path string) {
	w.b = append(w.b, `[{"rel":"self","href":`...)
	w.b = suiteql.AppendJSONString(w.b, w.base+path)
	w.b = append(w.b, "}]"...)
}

// enum renders {"links":[],"id":...,"refName":...}.
func (w *jsonw) enum(k, id, name string) {
	w.key(k)
	w.enumValue(id, name)
}

func (w *jsonw) enumValue(id, name string) {
	w.b = append(w.b, `{"links":[],"id":`...)
	w.b = suiteql.AppendJSONString(w.b, id)
	w.b = append(w.b, `,"refName":`...)
	w.b = suiteql.AppendJSONString(w.b, name)
	w.b = append(w.b, '}')
}

// ref renders a reference to another record with its self link.
func (w *jsonw) ref(k string, kind entityKind, id int64, name string) {
	w.key(k)
	w.refValue(kind, id, name)
}

func (w *jsonw) refValue(kind entityKind, id int64, name string) {
	ids := strconv.FormatInt(id, 10)
	w.b = append(w.b, `{"links":`...)
	w.selfLinks(pathRecord + kind.recordType() + "/" + ids)
	w.b = append(w.b, `,"id":`...)
	w.b = suiteql.AppendJSONString(w.b, ids)
	w.b = append(w.b, `,"refName":`...)
	w.b = suiteql.AppendJSONString(w.b, name)
	w.b = append(w.b, '}')
}

func isoDate(days int64) string {
	y, m, d := nstime.CivilFromDays(days)
	return time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC).Format("2006-01-02")
}

func clock(sec int32) string {
	return time.Unix(int64(sec), 0).UTC().Format("15:04:05")
}

func isoUTC(unix int64) string { return time.Unix(unix, 0).UTC().Format("2006-01-02T15:04:05Z") }

// appendEvent renders a calendarEvent record as the REST API returns it.
// fields, when non-nil, restricts the body fields (links and id are always
// present).
func (s *Sandbox) appendEvent(w *jsonw, e *event, expand bool, fields map[string]bool) {
	dir := s.store.gen.dir
	ids := strconv.FormatInt(e.id, 10)
	self := pathRecord + "calendarevent/" + ids
	w.b = append(w.b, '{')
	w.first = true
	w.key("links")
	w.selfLinks(self)
	want := func(f string) bool { return fields == nil || fields[f] }
	for _, f := range restFields {
		if !want(f) {
			continue
		}
		switch f {
		case "accessLevel":
			w.enum(f, accessEnum[e.accessLevel].id, accessEnum[e.accessLevel].name)
		case "allDayEvent":
			w.boolean(f, e.allDay)
		case "attendee":
			w.key(f)
			s.appendAttendees(w, self, e, expand)
		case "company":
			if e.company != 0 {
				w.ref(f, kindCustomer, e.company, dir.name(kindCustomer, e.company))
			}
		case "completedDate":
			if e.hasDone {
				w.str(f, isoDate(e.doneDay))
			}
		case "contact":
			if e.contact != 0 {
				w.ref(f, kindContact, e.contact, dir.name(kindContact, e.contact))
			}
		case "createdDate":
			w.str(f, isoUTC(e.created))
		case "customForm":
			w.enum(f, "-110", "Standard Event Form")
		case "endTime":
			w.str(f, clock(e.endSec))
		case "externalId":
			if e.externalID != "" {
				w.str(f, e.externalID)
			}
		case "lastModifiedDate":
			w.str(f, isoUTC(e.modified))
		case "location":
			if e.location != "" {
				w.str(f, e.location)
			}
		case "message":
			if e.message != "" {
				w.str(f, e.message)
			}
		case "organizer":
			if e.organizer != 0 {
				w.ref(f, kindEmployee, e.organizer, dir.name(kindEmployee, e.organizer))
			}
		case "owner":
			if e.owner != 0 {
				w.ref(f, kindEmployee, e.owner, dir.name(kindEmployee, e.owner))
			}
		case "recurrence":
			if e.recurrence != "" {
				w.str(f, e.recurrence)
			}
		case "relatedItem":
			if e.relatedItem != 0 {
				w.ref(f, kindItem, e.relatedItem, dir.name(kindItem, e.relatedItem))
			}
		case "reminderMinutes":
			if e.remMinutes >= 0 {
				w.enum(f, strconv.Itoa(int(e.remMinutes)), reminderName(int(e.remMinutes)))
			}
		case "reminderType":
			if e.remType != 0 {
				w.enum(f, reminderTypeEnum[e.remType].id, reminderTypeEnum[e.remType].name)
			}
		case "resource":
			w.key(f)
			s.appendResources(w, self, e, expand)
		case "startDate":
			w.str(f, isoDate(e.startDay))
		case "startTime":
			w.str(f, clock(e.startSec))
		case "status":
			w.enum(f, statusEnum[e.status].id, statusEnum[e.status].name)
		case "supportCase":
			if e.supportCase != 0 {
				w.ref(f, kindSupportCase, e.supportCase, dir.name(kindSupportCase, e.supportCase))
			}
		case "timedEvent":
			w.boolean(f, e.timed)
		case "timezone":
			if e.timezone != "" {
				w.str(f, e.timezone)
			}
		case "title":
			w.str(f, e.title)
		case "transaction":
			if e.transaction != 0 {
				w.ref(f, kindTransaction, e.transaction, dir.name(kindTransaction, e.transaction))
			}
		case "custevent_billable":
			w.boolean(f, e.billable)
		case "custevent_follow_up_date":
			if e.hasFollowUp {
				w.str(f, isoDate(e.followUpDay))
			}
		case "custevent_meeting_type":
			if e.meetingType != 0 {
				w.enum(f, strconv.FormatInt(e.meetingType, 10), dir.name(kindMeetingType, e.meetingType))
			}
		case "custevent_notes":
			if e.notes != "" {
				w.str(f, e.notes)
			}
		case "custevent_score":
			if e.hasScore {
				w.key(f)
				w.b = strconv.AppendFloat(w.b, e.score, 'f', -1, 64)
			}
		}
		if f == "externalId" {
			// id sits between externalId and lastModifiedDate alphabetically.
			w.str("id", ids)
		}
	}
	if fields != nil && !fields["externalId"] {
		w.str("id", ids)
	}
	w.b = append(w.b, '}')
}

// appendCollectionTail closes a sublist collection.
func (w *jsonw) collectionTail(n int) {
	w.b = append(w.b, `],"totalResults":`...)
	w.b = strconv.AppendInt(w.b, int64(n), 10)
	w.b = append(w.b, `,"count":`...)
	w.b = strconv.AppendInt(w.b, int64(n), 10)
	w.b = append(w.b, `,"hasMore":false,"offset":0}`...)
}

func (s *Sandbox) appendAttendees(w *jsonw, self string, e *event, expand bool) {
	w.b = append(w.b, `{"links":`...)
	w.selfLinks(self + "/attendee")
	if !expand {
		w.b = append(w.b, '}')
		return
	}
	w.b = append(w.b, `,"items":[`...)
	dir := s.store.gen.dir
	for i, a := range e.attendees {
		if i > 0 {
			w.b = append(w.b, ',')
		}
		w.b = append(w.b, `{"links":[],"attendance":`...)
		w.enumValue(attendanceEnum[a.attendance].id, attendanceEnum[a.attendance].name)
		w.b = append(w.b, `,"attendee":`...)
		ent, _ := dir.entity(a.entity)
		w.refValue(ent.kind, a.entity, ent.name)
		w.b = append(w.b, `,"response":`...)
		w.enumValue(responseEnum[a.response].id, responseEnum[a.response].name)
		w.b = append(w.b, '}')
	}
	w.collectionTail(len(e.attendees))
}

func (s *Sandbox) appendResources(w *jsonw, self string, e *event, expand bool) {
	w.b = append(w.b, `{"links":`...)
	w.selfLinks(self + "/resource")
	if !expand {
		w.b = append(w.b, '}')
		return
	}
	w.b = append(w.b, `,"items":[`...)
	dir := s.store.gen.dir
	for i, r := range e.resources {
		if i > 0 {
			w.b = append(w.b, ',')
		}
		w.b = append(w.b, `{"links":[],"resource":`...)
		w.refValue(kindResource, r, dir.name(kindResource, r))
		w.b = append(w.b, '}')
	}
	w.collectionTail(len(e.resources))
}

// pageLinks renders the links of a collection page: first and prev when
// not on the first page, next and last when more follow, and self.
func (w *jsonw) pageLinks(path string, params [][2]string, offset, limit, count, total int, hasMore bool) {
	link := func(rel string, off int) {
		w.b = append(w.b, `{"rel":"`...)
		w.b = append(w.b, rel...)
		w.b = append(w.b, `","href":`...)
		var sb strings.Builder
		sb.WriteString(w.base)
		sb.WriteString(path)
		sep := byte('?')
		add := func(k, v string) {
			sb.WriteByte(sep)
			sep = '&'
			sb.WriteString(k)
			sb.WriteByte('=')
			sb.WriteString(v)
		}
		for _, p := range params {
			add(p[0], p[1])
		}
		add("limit", strconv.Itoa(limit))
		add("offset", strconv.Itoa(off))
		w.b = suiteql.AppendJSONString(w.b, sb.String())
		w.b = append(w.b, '}')
	}
	w.b = append(w.b, '[')
	if offset > 0 {
		link("first", 0)
		w.b = append(w.b, ',')
		link("prev", max(0, offset-limit))
		w.b = append(w.b, ',')
	}
	if hasMore {
		link("next", offset+count)
		w.b = append(w.b, ',')
		last := 0
		if total > 0 {
			last = (total - 1) / limit * limit
		}
		link("last", last)
		w.b = append(w.b, ',')
	}
	link("self", offset)
	w.b = append(w.b, ']')
}
