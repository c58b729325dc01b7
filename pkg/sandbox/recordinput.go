package sandbox

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// bodyError is a problem with a REST request body.
type bodyError struct {
	code   string
	detail string
	path   string
}

func (e *bodyError) Error() string { return e.detail }

func invalidContent(path, format string, args ...any) *bodyError {
	return &bodyError{code: codeInvalidContent, path: path,
		detail: "Error while accessing a resource. " + fmt.Sprintf(format, args...)}
}

// ignoredFields are read-only fields clients may send back unchanged.
var ignoredFields = map[string]bool{"id": true, "links": true, "refname": true, "createddate": true,
	"lastmodifieddate": true, "customform": true}

// sublistInput is a parsed attendee or resource sublist from a REST body.
type sublistInput struct {
	attendees []restAttendee
	resources []int64
	set       bool
}

type restAttendee struct {
	entity     int64
	attendance string
	response   string
}

// parseRecordBody reads a calendarEvent REST body: property names are
// case-insensitive, enums are bare strings or {"id":...}, references are
// {"id":...} or a bare ID, null clears a field. strictNames rejects unknown
// properties (X-NetSuite-PropertyNameValidation: Error, the default).
func parseRecordBody(body []byte, strictNames bool) (*EventInput, sublistInput, sublistInput, error) {
	var raw map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&raw); err != nil || raw == nil {
		return nil, sublistInput{}, sublistInput{}, invalidContent("", "The request body is not a valid JSON object.")
	}
	in := &EventInput{}
	var atts, ress sublistInput
	for k, v := range raw {
		name := strings.ToLower(k)
		isNull := bytes.Equal(bytes.TrimSpace(v), []byte("null"))
		var err error
		switch name {
		case "title":
			in.Title, err = strField(k, v, isNull)
		case "message":
			in.Message, err = strField(k, v, isNull)
		case "location":
			in.Location, err = strField(k, v, isNull)
		case "externalid":
			in.ExternalID, err = strField(k, v, isNull)
		case "recurrence":
			in.Recurrence, err = strField(k, v, isNull)
		case "timezone":
			in.TimeZone, err = enumField(k, v, isNull)
		case "custevent_notes":
			in.Notes, err = strField(k, v, isNull)
		case "startdate":
			in.StartDate, err = strField(k, v, isNull)
		case "completeddate":
			in.CompletedDate, err = strField(k, v, isNull)
		case "custevent_follow_up_date":
			in.FollowUpDate, err = strField(k, v, isNull)
		case "starttime":
			in.StartTime, err = strField(k, v, isNull)
		case "endtime":
			in.EndTime, err = strField(k, v, isNull)
		case "status":
			in.Status, err = enumField(k, v, isNull)
		case "accesslevel":
			in.AccessLevel, err = enumField(k, v, isNull)
		case "remindertype":
			in.ReminderType, err = enumField(k, v, isNull)
		case "reminderminutes":
			var s *string
			s, err = enumField(k, v, isNull)
			if err == nil {
				m := -1
				if s != nil && *s != "" {
					m, err = strconv.Atoi(*s)
					if err != nil {
						err = invalidContent(k, "Invalid value for field %s.", k)
					}
				}
				in.ReminderMinutes = &m
			}
		case "alldayevent":
			in.AllDayEvent, err = boolField(k, v, isNull)
		case "timedevent":
			in.TimedEvent, err = boolField(k, v, isNull)
		case "custevent_billable":
			in.Billable, err = boolField(k, v, isNull)
		case "custevent_score":
			if !isNull {
				var n json.Number
				if json.Unmarshal(v, &n) != nil {
					err = invalidContent(k, "Invalid value for field %s: a number is expected.", k)
					break
				}
				f, perr := n.Float64()
				if perr != nil {
					err = invalidContent(k, "Invalid value for field %s: a number is expected.", k)
					break
				}
				in.Score = &f
			}
		case "organizer":
			in.Organizer, err = refField(k, v, isNull)
		case "owner":
			in.Owner, err = refField(k, v, isNull)
		case "company":
			in.Company, err = refField(k, v, isNull)
		case "contact":
			in.Contact, err = refField(k, v, isNull)
		case "supportcase":
			in.SupportCase, err = refField(k, v, isNull)
		case "transaction":
			in.Transaction, err = refField(k, v, isNull)
		case "relateditem":
			in.RelatedItem, err = refField(k, v, isNull)
		case "custevent_meeting_type":
			in.MeetingType, err = refField(k, v, isNull)
		case "attendee":
			atts, err = sublist(k, v, isNull, false)
		case "resource":
			ress, err = sublist(k, v, isNull, true)
		default:
			if ignoredFields[name] || !strictNames {
				continue
			}
			err = &bodyError{code: codeNonexistentField, path: k,
				detail: fmt.Sprintf("Error while accessing a resource. You have entered an invalid field name: %s", k)}
		}
		if err != nil {
			return nil, sublistInput{}, sublistInput{}, err
		}
	}
	return in, atts, ress, nil
}

func strField(k string, v json.RawMessage, isNull bool) (*string, error) {
	s := ""
	if isNull {
		return &s, nil
	}
	if err := json.Unmarshal(v, &s); err != nil {
		return nil, invalidContent(k, "Invalid value for field %s: a string is expected.", k)
	}
	return &s, nil
}

func boolField(k string, v json.RawMessage, isNull bool) (*bool, error) {
	b := false
	if isNull {
		return &b, nil
	}
	if err := json.Unmarshal(v, &b); err != nil {
		return nil, invalidContent(k, "Invalid value for field %s: a boolean is expected.", k)
	}
	return &b, nil
}

// idOf reads "X", 5 or {"id": ...}.
func idOf(v json.RawMessage) (string, bool) {
	var s string
	if json.Unmarshal(v, &s) == nil {
		return s, true
	}
	var n json.Number
	if json.Unmarshal(v, &n) == nil {
		return n.String(), true
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(v, &obj) == nil {
		for key, val := range obj {
			if strings.EqualFold(key, "id") {
				return idOf(val)
			}
		}
	}
	return "", false
}

func enumField(k string, v json.RawMessage, isNull bool) (*string, error) {
	s := ""
	if isNull {
		return &s, nil
	}
	s, ok := idOf(v)
	if !ok {
		return nil, invalidContent(k, "Invalid value for field %s.", k)
	}
	return &s, nil
}

func refField(k string, v json.RawMessage, isNull bool) (*int64, error) {
	var id int64
	if isNull {
		return &id, nil
	}
	s, ok := idOf(v)
	if ok {
		n, err := strconv.ParseInt(s, 10, 64)
		if err == nil && n > 0 {
			return &n, nil
		}
	}
	return nil, invalidContent(k, "Invalid value for field %s: a record reference is expected.", k)
}

func sublist(k string, v json.RawMessage, isNull, isRes bool) (sublistInput, error) {
	out := sublistInput{set: true}
	if isNull {
		return out, nil
	}
	var obj struct {
		Items []map[string]json.RawMessage `json:"items"`
	}
	if err := json.Unmarshal(v, &obj); err != nil {
		return out, invalidContent(k, "Invalid value for sublist %s: {\"items\":[...]} is expected.", k)
	}
	for i, it := range obj.Items {
		var a restAttendee
		var res int64
		for key, val := range it {
			path := fmt.Sprintf("%s.items[%d].%s", k, i, key)
			switch lk := strings.ToLower(key); {
			case !isRes && lk == "attendee", isRes && lk == "resource":
				id, err := refField(path, val, false)
				if err != nil {
					return out, err
				}
				a.entity, res = *id, *id
			case !isRes && lk == "attendance":
				s, err := enumField(path, val, false)
				if err != nil {
					return out, err
				}
				a.attendance = *s
			case !isRes && lk == "response":
				s, err := enumField(path, val, false)
				if err != nil {
					return out, err
				}
				a.response = *s
			}
		}
		if isRes {
			if res == 0 {
				return out, invalidContent(fmt.Sprintf("%s.items[%d].resource", k, i), "Please enter value(s) for: Resource")
			}
			out.resources = append(out.resources, res)
			continue
		}
		if a.entity == 0 {
			return out, invalidContent(fmt.Sprintf("%s.items[%d].attendee", k, i), "Please enter value(s) for: Attendee")
		}
		out.attendees = append(out.attendees, a)
	}
	return out, nil
}

// mergeSublists turns REST sublist input into EventInput sublists, merging
// with the event's current lines unless the sublist is being replaced.
func mergeSublists(in *EventInput, cur *event, atts, ress sublistInput, replace map[string]bool) {
	if atts.set {
		var list []AttendeeInput
		if cur != nil && !replace["attendee"] {
			for _, a := range cur.attendees {
				list = append(list, AttendeeInput{Attendee: a.entity, Attendance: attendanceEnum[a.attendance].id,
					Response: responseEnum[a.response].id})
			}
		}
		for _, a := range atts.attendees {
			found := false
			for i := range list {
				if list[i].Attendee == a.entity {
					found = true
					if a.attendance != "" {
						list[i].Attendance = a.attendance
					}
					if a.response != "" {
						list[i].Response = a.response
					}
				}
			}
			if !found {
				list = append(list, AttendeeInput{Attendee: a.entity, Attendance: a.attendance, Response: a.response})
			}
		}
		if list == nil {
			list = []AttendeeInput{}
		}
		in.Attendees = &list
	}
	if ress.set {
		var list []int64
		if cur != nil && !replace["resource"] {
			list = append(list, cur.resources...)
		}
		list = append(list, ress.resources...)
		if list == nil {
			list = []int64{}
		}
		in.Resources = &list
	}
}
