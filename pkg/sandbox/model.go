package sandbox

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nsflow/nsflow/pkg/sandbox/nstime"
)

// enumVal is one value of a NetSuite list field: the id the APIs exchange
// and the refName shown to users.
type enumVal struct{ id, name string }

var (
	statusEnum = []enumVal{{"TENTATIVE", "Tentative"}, {"CONFIRMED", "Confirmed"}, {"COMPLETE", "Completed"}, {"CANCELLED", "Cancelled"}}
	accessEnum = []enumVal{{"PUBLIC", "Public"}, {"PRIVATE", "Private"}, {"SHOW AS BUSY", "Show as Busy"}}
	// reminderTypeEnum index 0 means "no reminder".
	reminderTypeEnum = []enumVal{{}, {"POPUP", "Popup"}, {"EMAIL", "Email"}}
	attendanceEnum   = []enumVal{{"REQUIRED", "Required"}, {"OPTIONAL", "Optional"}}
	responseEnum     = []enumVal{{"ACCEPTED", "Accepted"}, {"DECLINED", "Declined"}, {"TENTATIVE", "Tentative"}, {"NO_RESPONSE", "No Response"}}
	reminderMinutes  = []int{0, 5, 10, 15, 30}
)

const (
	statusTentative = 0
	statusConfirmed = 1
	statusComplete  = 2
	statusCancelled = 3
)

func enumIndex(vals []enumVal, id string) (int, bool) {
	for i, v := range vals {
		if v.id != "" && strings.EqualFold(v.id, id) {
			return i, true
		}
	}
	return 0, false
}

func reminderName(m int) string {
	if m == 1 {
		return "1 minute"
	}
	return fmt.Sprintf("%d minutes", m)
}

// attendee is one row of an event's attendee sublist.
type attendee struct {
	entity     int64
	attendance uint8
	response   uint8
}

// event is a fully materialised calendar event. Once published in the store
// an *event is never modified (updates replace it), so rows may keep
// pointers to it after the lock is released.
type event struct {
	id          int64
	externalID  string
	title       string
	message     string
	location    string
	status      uint8
	accessLevel uint8
	allDay      bool
	timed       bool
	startDay    int64 // civil day number of startdate
	startSec    int32 // wall-clock seconds of the day
	endSec      int32
	hasDone     bool
	doneDay     int64 // completeddate
	timezone    string
	recurrence  string
	remMinutes  int16 // -1: none
	remType     uint8 // index into reminderTypeEnum, 0: none

	organizer, owner, company, contact, supportCase, transaction, relatedItem int64

	created  int64 // unix seconds
	modified int64 // unix seconds

	meetingType int64
	billable    bool
	hasScore    bool
	score       float64
	notes       string
	hasFollowUp bool
	followUpDay int64

	attendees []attendee // sorted by entity
	resources []int64    // sorted
}

// EventInput describes an event to create, or the fields to change. Nil
// fields are left unset (create) or unchanged (update). For references a
// value of 0, and for strings "", clears the field. Attendees and Resources,
// when non-nil, replace the whole sublist.
type EventInput struct {
	Title           *string          `json:"title,omitempty"`
	Message         *string          `json:"message,omitempty"`
	Location        *string          `json:"location,omitempty"`
	Status          *string          `json:"status,omitempty"`      // TENTATIVE, CONFIRMED, COMPLETE, CANCELLED
	AccessLevel     *string          `json:"accessLevel,omitempty"` // PUBLIC, PRIVATE, SHOW AS BUSY
	AllDayEvent     *bool            `json:"allDayEvent,omitempty"`
	TimedEvent      *bool            `json:"timedEvent,omitempty"`
	StartDate       *string          `json:"startDate,omitempty"` // YYYY-MM-DD
	StartTime       *string          `json:"startTime,omitempty"` // HH:mm or HH:mm:ss, wall clock in TimeZone
	EndTime         *string          `json:"endTime,omitempty"`
	CompletedDate   *string          `json:"completedDate,omitempty"` // YYYY-MM-DD
	TimeZone        *string          `json:"timezone,omitempty"`      // Olson ID
	Recurrence      *string          `json:"recurrence,omitempty"`
	ReminderMinutes *int             `json:"reminderMinutes,omitempty"` // 0, 5, 10, 15, 30; -1 clears
	ReminderType    *string          `json:"reminderType,omitempty"`    // POPUP, EMAIL
	Organizer       *int64           `json:"organizer,omitempty"`
	Owner           *int64           `json:"owner,omitempty"`
	Company         *int64           `json:"company,omitempty"`
	Contact         *int64           `json:"contact,omitempty"`
	SupportCase     *int64           `json:"supportCase,omitempty"`
	Transaction     *int64           `json:"transaction,omitempty"`
	RelatedItem     *int64           `json:"relatedItem,omitempty"`
	ExternalID      *string          `json:"externalId,omitempty"`
	Attendees       *[]AttendeeInput `json:"attendees,omitempty"`
	Resources       *[]int64         `json:"resources,omitempty"`
	MeetingType     *int64           `json:"custevent_meeting_type,omitempty"`
	Billable        *bool            `json:"custevent_billable,omitempty"`
	Score           *float64         `json:"custevent_score,omitempty"`
	Notes           *string          `json:"custevent_notes,omitempty"`
	FollowUpDate    *string          `json:"custevent_follow_up_date,omitempty"` // YYYY-MM-DD
}

// AttendeeInput is one attendee: an entity (employee or contact) ID, with
// attendance REQUIRED (default) or OPTIONAL and response ACCEPTED,
// DECLINED, TENTATIVE or NO_RESPONSE (default).
type AttendeeInput struct {
	Attendee   int64  `json:"attendee"`
	Attendance string `json:"attendance,omitempty"`
	Response   string `json:"response,omitempty"`
}

// FieldError reports an invalid field in an EventInput.
type FieldError struct {
	Field string
	Msg   string
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("invalid value for field %s: %s", e.Field, e.Msg)
}

// ErrNotFound is returned for an event ID that does not exist.
var ErrNotFound = errors.New("event does not exist")

func parseISODate(field, s string) (int64, error) {
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		return 0, &FieldError{Field: field, Msg: fmt.Sprintf("%q is not a date in YYYY-MM-DD format", s)}
	}
	return nstime.DaysFromCivil(t.Year(), int(t.Month()), t.Day()), nil
}

func parseClock(field, s string) (int32, error) {
	for _, layout := range []string{"15:04:05", "15:04"} {
		if t, err := time.Parse(layout, s); err == nil {
			return int32(t.Hour()*3600 + t.Minute()*60 + t.Second()), nil
		}
	}
	return 0, &FieldError{Field: field, Msg: fmt.Sprintf("%q is not a time in HH:mm or HH:mm:ss format", s)}
}

// apply copies the set fields of in onto e.
func (e *event) apply(in *EventInput, dir *directory) error {
	if in.Title != nil {
		e.title = *in.Title
	}
	if in.Message != nil {
		e.message = *in.Message
	}
	if in.Location != nil {
		e.location = *in.Location
	}
	if in.ExternalID != nil {
		e.externalID = *in.ExternalID
	}
	if in.Recurrence != nil {
		e.recurrence = *in.Recurrence
	}
	if in.Notes != nil {
		e.notes = *in.Notes
	}
	if in.Status != nil {
		i, ok := enumIndex(statusEnum, *in.Status)
		if !ok {
			return &FieldError{Field: "status", Msg: fmt.Sprintf("%q is not one of TENTATIVE, CONFIRMED, COMPLETE, CANCELLED", *in.Status)}
		}
		e.status = uint8(i)
	}
	if in.AccessLevel != nil {
		i, ok := enumIndex(accessEnum, *in.AccessLevel)
		if !ok {
			return &FieldError{Field: "accessLevel", Msg: fmt.Sprintf("%q is not one of PUBLIC, PRIVATE, SHOW AS BUSY", *in.AccessLevel)}
		}
		e.accessLevel = uint8(i)
	}
	if in.ReminderType != nil {
		if *in.ReminderType == "" {
			e.remType = 0
		} else {
			i, ok := enumIndex(reminderTypeEnum, *in.ReminderType)
			if !ok {
				return &FieldError{Field: "reminderType", Msg: fmt.Sprintf("%q is not one of POPUP, EMAIL", *in.ReminderType)}
			}
			e.remType = uint8(i)
		}
	}
	if in.ReminderMinutes != nil {
		m := *in.ReminderMinutes
		if m < 0 {
			e.remMinutes = -1
		} else {
			ok := false
			for _, v := range reminderMinutes {
				ok = ok || v == m
			}
			if !ok {
				return &FieldError{Field: "reminderMinutes", Msg: fmt.Sprintf("%d is not one of 0, 5, 10, 15, 30", m)}
			}
			e.remMinutes = int16(m)
		}
	}
	if in.TimeZone != nil {
		if tz := *in.TimeZone; tz != "" {
			if _, err := time.LoadLocation(tz); err != nil || tz == "Local" {
				return &FieldError{Field: "timezone", Msg: fmt.Sprintf("%q is not a known time zone", tz)}
			}
		}
		e.timezone = *in.TimeZone
	}
	if in.AllDayEvent != nil {
		e.allDay = *in.AllDayEvent
		if e.allDay {
			e.timed = false
		} else if in.TimedEvent == nil {
			e.timed = true
		}
	}
	if in.TimedEvent != nil {
		e.timed = *in.TimedEvent
		if e.timed {
			e.allDay = false
		}
	}
	if in.StartDate != nil {
		d, err := parseISODate("startDate", *in.StartDate)
		if err != nil {
			return err
		}
		e.startDay = d
	}
	if in.StartTime != nil {
		s, err := parseClock("startTime", *in.StartTime)
		if err != nil {
			return err
		}
		e.startSec = s
	}
	if in.EndTime != nil {
		s, err := parseClock("endTime", *in.EndTime)
		if err != nil {
			return err
		}
		e.endSec = s
	}
	if in.CompletedDate != nil {
		if *in.CompletedDate == "" {
			e.hasDone = false
		} else {
			d, err := parseISODate("completedDate", *in.CompletedDate)
			if err != nil {
				return err
			}
			e.hasDone, e.doneDay = true, d
		}
	}
	if in.FollowUpDate != nil {
		if *in.FollowUpDate == "" {
			e.hasFollowUp = false
		} else {
			d, err := parseISODate("custevent_follow_up_date", *in.FollowUpDate)
			if err != nil {
				return err
			}
			e.hasFollowUp, e.followUpDay = true, d
		}
	}
	refs := []struct {
		field string
		in    *int64
		dst   *int64
		kind  entityKind
	}{
		{"organizer", in.Organizer, &e.organizer, kindEmployee},
		{"owner", in.Owner, &e.owner, kindEmployee},
		{"company", in.Company, &e.company, kindCustomer},
		{"contact", in.Contact, &e.contact, kindContact},
		{"supportCase", in.SupportCase, &e.supportCase, kindSupportCase},
		{"transaction", in.Transaction, &e.transaction, kindTransaction},
		{"relatedItem", in.RelatedItem, &e.relatedItem, kindItem},
		{"custevent_meeting_type", in.MeetingType, &e.meetingType, kindMeetingType},
	}
	for _, r := range refs {
		if r.in == nil {
			continue
		}
		if *r.in != 0 {
			if _, ok := dir.lookup(r.kind, *r.in); !ok {
				return &FieldError{Field: r.field, Msg: fmt.Sprintf("%d is not a valid %s ID", *r.in, r.kind)}
			}
		}
		*r.dst = *r.in
	}
	if in.Billable != nil {
		e.billable = *in.Billable
	}
	if in.Score != nil {
		e.hasScore, e.score = true, *in.Score
	}
	if in.Attendees != nil {
		var list []attendee
		seen := map[int64]bool{}
		for k, a := range *in.Attendees {
			field := fmt.Sprintf("attendee.items[%d].attendee", k)
			if _, ok := dir.entity(a.Attendee); !ok {
				return &FieldError{Field: field, Msg: fmt.Sprintf("%d is not a valid entity ID", a.Attendee)}
			}
			if seen[a.Attendee] {
				return &FieldError{Field: field, Msg: fmt.Sprintf("entity %d is listed twice", a.Attendee)}
			}
			seen[a.Attendee] = true
			at := attendee{entity: a.Attendee, response: 3}
			if a.Attendance != "" {
				i, ok := enumIndex(attendanceEnum, a.Attendance)
				if !ok {
					return &FieldError{Field: fmt.Sprintf("attendee.items[%d].attendance", k), Msg: fmt.Sprintf("%q is not one of REQUIRED, OPTIONAL", a.Attendance)}
				}
				at.attendance = uint8(i)
			}
			if a.Response != "" {
				i, ok := enumIndex(responseEnum, a.Response)
				if !ok {
					return &FieldError{Field: fmt.Sprintf("attendee.items[%d].response", k), Msg: fmt.Sprintf("%q is not one of ACCEPTED, DECLINED, TENTATIVE, NO_RESPONSE", a.Response)}
				}
				at.response = uint8(i)
			}
			list = append(list, at)
		}
		sortAttendees(list)
		e.attendees = list
	}
	if in.Resources != nil {
		var list []int64
		seen := map[int64]bool{}
		for k, r := range *in.Resources {
			if _, ok := dir.lookup(kindResource, r); !ok {
				return &FieldError{Field: fmt.Sprintf("resource.items[%d].resource", k), Msg: fmt.Sprintf("%d is not a valid calendar resource ID", r)}
			}
			if !seen[r] {
				seen[r] = true
				list = append(list, r)
			}
		}
		sortInt64s(list)
		e.resources = list
	}
	if e.allDay {
		// NetSuite keeps placeholder times on all-day events.
		e.startSec, e.endSec = 8*3600, 18*3600
	}
	if e.title == "" {
		return &FieldError{Field: "title", Msg: "Please enter value(s) for: Title"}
	}
	return nil
}

func sortAttendees(a []attendee) {
	for i := 1; i < len(a); i++ {
		for j := i; j > 0 && a[j].entity < a[j-1].entity; j-- {
			a[j], a[j-1] = a[j-1], a[j]
		}
	}
}

func sortInt64s(a []int64) {
	for i := 1; i < len(a); i++ {
		for j := i; j > 0 && a[j] < a[j-1]; j-- {
			a[j], a[j-1] = a[j-1], a[j]
		}
	}
}

// clone returns a copy of e with its own sublists.
func (e *event) clone() *event {
	c := *e
	c.attendees = append([]attendee(nil), e.attendees...)
	c.resources = append([]int64(nil), e.resources...)
	return &c
}
