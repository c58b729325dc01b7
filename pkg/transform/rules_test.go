package transform_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/nsflow/nsflow/pkg/calendarevent"
	"github.com/nsflow/nsflow/pkg/transform"
)

// rawOf builds a raw message around a record given as JSON text.
func rawOf(api, record string, mods ...func(*calendarevent.Raw)) *calendarevent.Raw {
	r := &calendarevent.Raw{
		Kind: calendarevent.KindEvent, Account: "TSTDRV1", API: api, RecordID: "1",
		TimeZone:    "America/Los_Angeles",
		ExtractedAt: time.Date(2024, 3, 2, 17, 16, 0, 0, time.UTC),
		Record:      json.RawMessage(record),
	}
	for _, m := range mods {
		m(r)
	}
	return r
}

// suiteql and rest wrap record members (JSON text without braces) in a
// minimal valid record of that shape.
func suiteql(members string) string {
	return `{"links":[],"id":"1","ns_lastmodified":"2024-03-02 09:15:00"` + sep(members) + `}`
}

func rest(members string) string {
	return `{"links":[],"id":"1","lastModifiedDate":"2024-03-02T17:15:00Z"` + sep(members) + `}`
}

func sep(members string) string {
	if members == "" {
		return ""
	}
	return "," + members
}

func mustTransform(t *testing.T, raw *calendarevent.Raw) *calendarevent.Event {
	t.Helper()
	tr := newTransformer(t)
	ev, err := tr.Transform(raw, transform.Meta{RawSequence: 7})
	if err != nil {
		t.Fatalf("Transform: %v", err)
	}
	// Every event the rules produce must also fit the schema.
	if err := validate(t, marshal(t, ev)); err != nil {
		t.Fatalf("schema: %v\n%s", err, marshal(t, ev))
	}
	return ev
}

func hasNote(ev *calendarevent.Event, sub string) bool {
	for _, n := range ev.Provenance.Notes {
		if strings.Contains(n, sub) {
			return true
		}
	}
	return false
}

func TestBooleans(t *testing.T) {
	t.Parallel()
	tests := []struct {
		api, members string
		allDay       bool
		timed        bool
	}{
		{"suiteql", `"alldayevent":"F","timedevent":"T","ns_startdate":"2024-03-04","ns_starttime":"09:00:00"`, false, true},
		{"suiteql", `"alldayevent":"T","timedevent":"F","ns_startdate":"2024-03-04"`, true, false},
		{"rest", `"allDayEvent":false,"timedEvent":true,"startDate":"2024-03-04","startTime":"09:00"`, false, true},
		{"rest", `"allDayEvent":true,"timedEvent":false,"startDate":"2024-03-04"`, true, false},
		{"rest", `"allDayEvent":"T","timedEvent":"F","startDate":"2024-03-04"`, true, false},
		{"rest", `"allDayEvent":"false","timedEvent":"true","startDate":"2024-03-04","startTime":"09:00"`, false, true},
		{"rest", `"allDayEvent":"","startDate":"2024-03-04","startTime":"09:00"`, false, true}, // empty = absent
	}
	for _, tt := range tests {
		rec := suiteql(tt.members)
		if tt.api == "rest" {
			rec = rest(tt.members)
		}
		ev := mustTransform(t, rawOf(tt.api, rec))
		if ev.AllDay != tt.allDay || ev.Timed != tt.timed {
			t.Errorf("%s: all_day=%v timed=%v, want %v %v", tt.members, ev.AllDay, ev.Timed, tt.allDay, tt.timed)
		}
	}
}

func TestEnums(t *testing.T) {
	t.Parallel()
	tests := []struct {
		api, members string
		want         *calendarevent.Enum
	}{
		{"rest", `"status":{"links":[],"id":"CONFIRMED","refName":"Confirmed"}`, &calendarevent.Enum{ID: "CONFIRMED", Name: "Confirmed"}},
		{"rest", `"status":{"id":"CONFIRMED","refName":"Confirmed"}`, &calendarevent.Enum{ID: "CONFIRMED", Name: "Confirmed"}},
		{"rest", `"status":{"id":"CONFIRMED"}`, &calendarevent.Enum{ID: "CONFIRMED"}},
		// A bare value gets no display name: there is no built-in name table.
		{"rest", `"status":"CONFIRMED"`, &calendarevent.Enum{ID: "CONFIRMED"}},
		{"suiteql", `"status":"CONFIRMED","ns_status_name":"Confirmed"`, &calendarevent.Enum{ID: "CONFIRMED", Name: "Confirmed"}},
		{"suiteql", `"status":"CONFIRMED"`, &calendarevent.Enum{ID: "CONFIRMED"}},
		{"suiteql", `"ns_status_name":"Confirmed"`, nil}, // a name without a value is no value
		{"rest", `"status":""`, nil},
		{"rest", `"status":null`, nil},
		{"rest", `"status":{"links":[]}`, nil},
	}
	for _, tt := range tests {
		rec := suiteql(tt.members)
		if tt.api == "rest" {
			rec = rest(tt.members)
		}
		ev := mustTransform(t, rawOf(tt.api, rec))
		if !reflect.DeepEqual(ev.Status, tt.want) {
			t.Errorf("%s: status = %+v, want %+v", tt.members, ev.Status, tt.want)
		}
	}
}

func TestRefs(t *testing.T) {
	t.Parallel()
	const link = `"links":[{"rel":"self","href":"https://1.suitetalk.api.netsuite.com/services/rest/record/v1/employee/5"}]`
	tests := []struct {
		api, members string
		want         *calendarevent.Ref
	}{
		{"rest", `"organizer":{` + link + `,"id":"5","refName":"Jane"}`, &calendarevent.Ref{ID: "5", Name: "Jane", Type: "employee"}},
		{"rest", `"organizer":{"links":[{"rel":"alternate","href":"https://x/services/rest/record/v1/Customer/5?expand=1"}],"id":"5"}`, &calendarevent.Ref{ID: "5", Type: "customer"}},
		{"rest", `"organizer":{"links":[{"rel":"self","href":"https://x/elsewhere/5"}],"id":"5"}`, &calendarevent.Ref{ID: "5"}},
		{"rest", `"organizer":{"id":5}`, &calendarevent.Ref{ID: "5"}},
		{"rest", `"organizer":"5"`, &calendarevent.Ref{ID: "5"}},
		{"suiteql", `"organizer":"5","ns_organizer_name":"Jane"`, &calendarevent.Ref{ID: "5", Name: "Jane"}},
		{"suiteql", `"organizer":"5"`, &calendarevent.Ref{ID: "5"}},
		{"suiteql", ``, nil},
	}
	for _, tt := range tests {
		rec := suiteql(tt.members)
		if tt.api == "rest" {
			rec = rest(tt.members)
		}
		ev := mustTransform(t, rawOf(tt.api, rec))
		if !reflect.DeepEqual(ev.Organizer, tt.want) {
			t.Errorf("%s: organizer = %+v, want %+v", tt.members, ev.Organizer, tt.want)
		}
	}
}

func TestEmptyFieldsOmitted(t *testing.T) {
	t.Parallel()
	ev := mustTransform(t, rawOf("rest", rest(`"title":"","location":null,"message":"","externalId":null,"recurrence":"","custevent_x":"","custevent_y":null,"usernotes":null,"foo":""`)))
	b := string(marshal(t, ev))
	for _, key := range []string{`"title"`, `"location"`, `"message"`, `"external_id"`, `"recurrence"`, `"custom_fields"`, `"extra"`, `"start"`, `"local"`, `"reminder"`} {
		if strings.Contains(b, key) {
			t.Errorf("%s present in %s", key, b)
		}
	}
}

func TestTimesOfDay(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ start, end, wantStart, wantEnd string }{
		{"09:30", "10:45", "09:30:00", "10:45:00"},
		{"09:30:15", "10:45:59", "09:30:15", "10:45:59"},
		{"9:05", "23:59", "09:05:00", "23:59:00"},
	} {
		ev := mustTransform(t, rawOf("rest", rest(fmt.Sprintf(`"timezone":"UTC","startDate":"2024-03-04","startTime":%q,"endTime":%q`, tt.start, tt.end))))
		if ev.Local.StartTime != tt.wantStart || ev.Local.EndTime != tt.wantEnd {
			t.Errorf("%s-%s: local %+v", tt.start, tt.end, ev.Local)
		}
		if got := ev.Start.Format("15:04:05"); got != tt.wantStart {
			t.Errorf("%s: start %s", tt.start, got)
		}
	}
}

func TestWallClockToUTC(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, zone, date, start, end string
		wantStart, wantEnd           string
		note                         string
	}{
		{"winter", "Europe/Berlin", "2024-01-15", "09:00", "10:00", "2024-01-15T08:00:00Z", "2024-01-15T09:00:00Z", ""},
		{"summer", "Europe/Berlin", "2024-07-15", "09:00", "10:00", "2024-07-15T07:00:00Z", "2024-07-15T08:00:00Z", ""},
		{"gap", "Europe/Berlin", "2024-03-31", "02:30", "04:00", "2024-03-31T01:30:00Z", "2024-03-31T02:00:00Z", "DST gap"},
		{"overlap", "Europe/Berlin", "2024-10-27", "02:30", "04:00", "2024-10-27T00:30:00Z", "2024-10-27T03:00:00Z", "DST overlap"},
		{"end inside shifted start", "America/Los_Angeles", "2024-03-10", "02:30", "03:00", "2024-03-10T10:30:00Z", "2024-03-10T10:30:00Z", "end set to the start"},
		{"half-hour DST", "Australia/Lord_Howe", "2024-10-06", "02:15", "03:00", "2024-10-05T15:45:00Z", "2024-10-05T16:00:00Z", "DST gap"},
		{"southern overlap", "Australia/Sydney", "2024-04-07", "02:30", "03:30", "2024-04-06T15:30:00Z", "2024-04-06T17:30:00Z", "DST overlap"},
		{"ends next day", "UTC", "2024-03-04", "22:00", "01:00", "2024-03-04T22:00:00Z", "2024-03-05T01:00:00Z", "ends the next day"},
		{"end equals start", "UTC", "2024-03-04", "09:00", "09:00", "2024-03-04T09:00:00Z", "2024-03-05T09:00:00Z", "ends the next day"},
		{"year end", "Pacific/Auckland", "2024-12-31", "23:00", "00:30", "2024-12-31T10:00:00Z", "2024-12-31T11:30:00Z", "ends the next day"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ev := mustTransform(t, rawOf("rest", rest(fmt.Sprintf(`"timezone":%q,"startDate":%q,"startTime":%q,"endTime":%q`, tt.zone, tt.date, tt.start, tt.end))))
			if got := ev.Start.Format(time.RFC3339); got != tt.wantStart {
				t.Errorf("start = %s, want %s", got, tt.wantStart)
			}
			if got := ev.End.Format(time.RFC3339); got != tt.wantEnd {
				t.Errorf("end = %s, want %s", got, tt.wantEnd)
			}
			if tt.note != "" && !hasNote(ev, tt.note) {
				t.Errorf("no note %q in %q", tt.note, ev.Provenance.Notes)
			}
			if tt.note == "" && len(ev.Provenance.Notes) > 0 {
				t.Errorf("unexpected notes %q", ev.Provenance.Notes)
			}
			if ev.Local.TimeZoneSource != "event" {
				t.Errorf("time_zone_source = %q", ev.Local.TimeZoneSource)
			}
		})
	}
}

func TestAllDay(t *testing.T) {
	t.Parallel()
	ev := mustTransform(t, rawOf("rest", rest(`"allDayEvent":true,"startDate":"2024-07-15","startTime":"08:00:00","endTime":"18:00:00","timezone":"Europe/Berlin"`)))
	if !ev.AllDay || ev.Timed {
		t.Fatalf("all_day=%v timed=%v", ev.AllDay, ev.Timed)
	}
	if got := ev.Start.Format(time.RFC3339); got != "2024-07-14T22:00:00Z" {
		t.Errorf("start = %s", got)
	}
	if got := ev.End.Format(time.RFC3339); got != "2024-07-15T22:00:00Z" {
		t.Errorf("end = %s", got)
	}
	if ev.Local.StartTime != "" || ev.Local.EndTime != "" || ev.Local.EndDate != "" || ev.Local.Date != "2024-07-15" {
		t.Errorf("local = %+v (placeholder times must not be carried)", ev.Local)
	}
	if len(ev.Provenance.Notes) != 0 {
		t.Errorf("a plain all-day event needs no notes: %q", ev.Provenance.Notes)
	}
}

func TestAccountZoneFallback(t *testing.T) {
	t.Parallel()
	ev := mustTransform(t, rawOf("suiteql", suiteql(`"ns_startdate":"2024-03-04","ns_starttime":"09:00:00","ns_endtime":"10:00:00"`)))
	if ev.Local.TimeZone != "America/Los_Angeles" || ev.Local.TimeZoneSource != "account" {
		t.Errorf("local = %+v", ev.Local)
	}
	if !hasNote(ev, "no timezone") {
		t.Errorf("no note: %q", ev.Provenance.Notes)
	}
	if got := ev.Start.Format(time.RFC3339); got != "2024-03-04T17:00:00Z" {
		t.Errorf("start = %s", got)
	}
	// Neither zone: the transformer default.
	tr, err := transform.New(transform.Options{DefaultTimeZone: "Europe/Berlin"})
	if err != nil {
		t.Fatal(err)
	}
	raw := rawOf("suiteql", suiteql(`"ns_startdate":"2024-03-04","ns_starttime":"09:00:00"`), func(r *calendarevent.Raw) { r.TimeZone = "" })
	ev, err = tr.Transform(raw, transform.Meta{})
	if err != nil {
		t.Fatal(err)
	}
	if ev.Local.TimeZone != "Europe/Berlin" || ev.LastModifiedAt.Format(time.RFC3339) != "2024-03-02T08:15:00Z" {
		t.Errorf("local %+v, last modified %s", ev.Local, ev.LastModifiedAt)
	}
}

func TestMessage(t *testing.T) {
	t.Parallel()
	ev := mustTransform(t, rawOf("rest", rest(`"message":"<div>Hi&nbsp;<b>all</b></div><div>Agenda:<br>1. x &lt; y<br/>2. done</div>"`)))
	want := calendarevent.Message{HTML: "<div>Hi&nbsp;<b>all</b></div><div>Agenda:<br>1. x &lt; y<br/>2. done</div>", Text: "Hi all\nAgenda:\n1. x < y\n2. done"}
	if ev.Message == nil || *ev.Message != want {
		t.Errorf("message = %+v, want %+v", ev.Message, want)
	}
}

func TestReminder(t *testing.T) {
	t.Parallel()
	fifteen := 15
	tests := []struct {
		api, members string
		want         *calendarevent.Reminder
	}{
		{"suiteql", `"reminderminutes":"15","remindertype":"POPUP","ns_remindertype_name":"Popup"`, &calendarevent.Reminder{Minutes: &fifteen, Type: &calendarevent.Enum{ID: "POPUP", Name: "Popup"}}},
		{"rest", `"reminderMinutes":15`, &calendarevent.Reminder{Minutes: &fifteen}},
		{"rest", `"reminderMinutes":{"id":"15","refName":"15 minutes"}`, &calendarevent.Reminder{Minutes: &fifteen}},
		{"rest", `"reminderType":"EMAIL"`, &calendarevent.Reminder{Type: &calendarevent.Enum{ID: "EMAIL"}}},
		{"rest", ``, nil},
	}
	for _, tt := range tests {
		rec := suiteql(tt.members)
		if tt.api == "rest" {
			rec = rest(tt.members)
		}
		ev := mustTransform(t, rawOf(tt.api, rec))
		if !reflect.DeepEqual(ev.Reminder, tt.want) {
			t.Errorf("%s: reminder = %+v, want %+v", tt.members, ev.Reminder, tt.want)
		}
	}
}

func TestRecurrence(t *testing.T) {
	t.Parallel()
	ev := mustTransform(t, rawOf("suiteql", suiteql(`"recurrence":"Every 2 weeks on Tuesday"`)))
	if ev.Recurrence != "Every 2 weeks on Tuesday" {
		t.Errorf("recurrence = %q", ev.Recurrence)
	}
}

func TestCustomFields(t *testing.T) {
	t.Parallel()
	ev := mustTransform(t, rawOf("suiteql", suiteql(`"custevent_t":"T","custevent_f":"F","custevent_int":"12","custevent_neg":"-0.5","custevent_exp":"1e3",`+
		`"custevent_zip":"00123","custevent_text":"Tea","custevent_true":"true","custevent_empty":"","CUSTEVENT_UPPER":"x","custevent_huge":"9e999"`)))
	want := map[string]any{
		"custevent_t": true, "custevent_f": false, "custevent_int": json.Number("12"), "custevent_neg": json.Number("-0.5"),
		"custevent_exp": json.Number("1e3"), "custevent_zip": "00123", "custevent_text": "Tea", "custevent_true": "true", "CUSTEVENT_UPPER": "x",
		"custevent_huge": "9e999",
	}
	if !reflect.DeepEqual(ev.CustomFields, want) {
		t.Errorf("suiteql custom fields = %#v", ev.CustomFields)
	}

	ev = mustTransform(t, rawOf("rest", rest(`"custevent_n":12.50,"custevent_b":false,"custevent_s":"T","custevent_ref":{"links":[{"rel":"self","href":"https://x/services/rest/record/v1/customrecord_x/3"}],"id":"3","refName":"Three"},`+
		`"custevent_refs":[{"id":"2"},{"id":"1","refName":"One"}],"custevent_obj":{"a": 1},"custevent_arr":[1, "two"],"custevent_null":null,"custevent_huge":-1e999`)))
	want = map[string]any{
		"custevent_n": json.Number("12.50"), "custevent_b": false, "custevent_s": "T",
		"custevent_ref":  calendarevent.Ref{ID: "3", Name: "Three", Type: "customrecord_x"},
		"custevent_refs": []calendarevent.Ref{{ID: "2"}, {ID: "1", Name: "One"}},
		"custevent_obj":  json.RawMessage(`{"a":1}`), "custevent_arr": json.RawMessage(`[1,"two"]`),
		"custevent_huge": "-1e999",
	}
	if !reflect.DeepEqual(ev.CustomFields, want) {
		t.Errorf("rest custom fields = %#v", ev.CustomFields)
	}
}

func TestExtra(t *testing.T) {
	t.Parallel()
	ev := mustTransform(t, rawOf("rest", rest(`"refName":"Title again","customForm":{"links":[],"id":"-110","refName":"Standard"},"bom":null,"sendEmail":false,"zz":[ 1 , 2 ]`)))
	want := map[string]json.RawMessage{
		"customForm": json.RawMessage(`{"links":[],"id":"-110","refName":"Standard"}`),
		"sendEmail":  json.RawMessage(`false`),
		"zz":         json.RawMessage(`[1,2]`),
	}
	if !reflect.DeepEqual(ev.Extra, want) {
		t.Errorf("extra = %s", marshal(t, ev))
	}
	ev = mustTransform(t, rawOf("suiteql", suiteql(`"enddate":"3/4/2024","ns_unknown_alias":"x"`)))
	if string(ev.Extra["enddate"]) != `"3/4/2024"` || string(ev.Extra["ns_unknown_alias"]) != `"x"` || len(ev.Extra) != 2 {
		t.Errorf("suiteql extra = %v", ev.Extra)
	}
}

func TestProvenance(t *testing.T) {
	t.Parallel()
	ev := mustTransform(t, rawOf("suiteql", suiteql("")))
	want := calendarevent.Provenance{ExtractedAt: time.Date(2024, 3, 2, 17, 16, 0, 0, time.UTC), SourceAPI: "suiteql", RawSequence: 7}
	if !reflect.DeepEqual(ev.Provenance, want) {
		t.Errorf("provenance = %+v", ev.Provenance)
	}
	if ev.Schema != calendarevent.EventSchema || ev.Account != "TSTDRV1" || ev.ID != "1" {
		t.Errorf("identity = %q %q %q", ev.Schema, ev.Account, ev.ID)
	}
}

func TestLastModified(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ members, want string }{
		{`"lastModifiedDate":"2024-03-02T10:15:00+01:00"`, "2024-03-02T09:15:00Z"},
		{`"lastModifiedDate":"2024-03-02T09:15:00.5Z"`, "2024-03-02T09:15:00.5Z"},
		{`"lastModifiedDate":"2024-03-02T10:15:00+0100"`, "2024-03-02T09:15:00Z"},
	} {
		ev := mustTransform(t, rawOf("rest", `{"id":"1",`+tt.members+`}`))
		if got := ev.LastModifiedAt.Format(time.RFC3339Nano); got != tt.want {
			t.Errorf("%s: %s, want %s", tt.members, got, tt.want)
		}
	}
}

func TestSublists(t *testing.T) {
	t.Parallel()
	rows := func(r *calendarevent.Raw) {
		r.AttendeesFetched = true
		r.Attendees = []json.RawMessage{
			json.RawMessage(`{"attendee":"10","attendance":"REQUIRED"}`),
			json.RawMessage(`{"attendee":"9","attendance":"OPTIONAL"}`),
			json.RawMessage(`{"attendee":"10","attendance":"OPTIONAL"}`),
			json.RawMessage(`{"attendee":"abc"}`),
		}
	}
	ev := mustTransform(t, rawOf("suiteql", suiteql(""), rows))
	var got []string
	for _, a := range ev.Attendees {
		got = append(got, a.Entity.ID+"/"+a.Attendance)
	}
	if want := "9/OPTIONAL 10/OPTIONAL 10/REQUIRED abc/"; strings.Join(got, " ") != want {
		t.Errorf("order = %q, want %q", strings.Join(got, " "), want)
	}
	if ev.Resources == nil || len(ev.Resources) != 0 {
		t.Errorf("fetched resources must be empty, not nil: %#v", ev.Resources)
	}
	ev = mustTransform(t, rawOf("suiteql", suiteql("")))
	if ev.Attendees != nil || ev.Resources != nil {
		t.Errorf("not fetched must be nil: %#v %#v", ev.Attendees, ev.Resources)
	}
	if b := marshal(t, ev); !strings.Contains(string(b), `"attendees":null,"resources":null`) {
		t.Errorf("encoding: %s", b)
	}
}

// TestOutOfRange: instants that RFC 3339 (and so calendarevent.Marshal)
// cannot write are rejected, not passed on to fail at encoding.
func TestOutOfRange(t *testing.T) {
	t.Parallel()
	tr := newTransformer(t)
	tests := []*calendarevent.Raw{
		rawOf("rest", `{"id":"1","lastModifiedDate":"9999-12-31T23:00:00-05:00"}`),
		rawOf("rest", `{"id":"1","lastModifiedDate":"0001-01-01T00:30:00+01:00"}`),
		rawOf("suiteql", `{"id":"1","ns_lastmodified":"9999-12-31 23:00:00"}`),
		rawOf("rest", rest(`"startDate":"9999-12-31","allDayEvent":true`)),
		rawOf("rest", rest(`"startDate":"9999-12-31","startTime":"23:00","timezone":"America/New_York"`)),
		rawOf("rest", rest(""), func(r *calendarevent.Raw) { r.ExtractedAt = time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC) }),
	}
	for i, raw := range tests {
		if _, err := tr.Transform(raw, transform.Meta{}); transform.Class(err) != transform.ClassInvalidDate {
			t.Errorf("case %d: %v, want invalid_date", i, err)
		}
	}
	ev := mustTransform(t, rawOf("rest", rest(`"startDate":"9999-12-30","startTime":"10:00","endTime":"09:00","timezone":"UTC"`)))
	if ev.Local.EndDate != "9999-12-31" {
		t.Errorf("end date %q", ev.Local.EndDate)
	}
}
