package sinktest

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/nsflow/nsflow/pkg/calendarevent"
)

// T0 is the base instant test events are versioned from.
var T0 = time.Date(2024, 3, 2, 9, 15, 0, 0, time.UTC)

var pacific = func() *time.Location {
	if loc, err := time.LoadLocation("America/Los_Angeles"); err == nil {
		return loc
	}
	return time.FixedZone("PST", -8*3600)
}()

// NewEvent returns a typical canonical event, every common field set: a
// timed one-hour meeting three days after lastModified, with a message,
// references, three attendees, resources and custom fields (about 1.5 KB of
// JSON). Its Title is "Quarterly review <id>".
func NewEvent(account, id string, lastModified time.Time, rawSeq uint64) *calendarevent.Event {
	lastModified = lastModified.UTC()
	start := lastModified.Add(72 * time.Hour).Truncate(time.Hour)
	end := start.Add(time.Hour)
	created := lastModified.Add(-48 * time.Hour)
	mins := 15
	ls, le := start.In(pacific), end.In(pacific)
	alex := calendarevent.Ref{ID: "-5", Name: "Alex Admin", Type: "employee"}
	return &calendarevent.Event{
		Schema:      calendarevent.EventSchema,
		Account:     account,
		ID:          id,
		ExternalID:  "EXT-" + id,
		Title:       "Quarterly review " + id,
		Message:     &calendarevent.Message{HTML: "<p>Agenda: pipeline, renewals &amp; <b>forecast</b>. Dial-in details follow.</p>", Text: "Agenda: pipeline, renewals & forecast. Dial-in details follow."},
		Location:    "Conference room 4B",
		Status:      &calendarevent.Enum{ID: "CONFIRMED", Name: "Confirmed"},
		AccessLevel: &calendarevent.Enum{ID: "BUSY", Name: "Show as Busy"},
		Response:    &calendarevent.Enum{ID: "ACCEPTED", Name: "Accepted"},
		Reminder:    &calendarevent.Reminder{Type: &calendarevent.Enum{ID: "EMAIL", Name: "Email"}, Minutes: &mins},
		Organizer:   &alex,
		Owner:       &alex,
		Company:     &calendarevent.Ref{ID: "1042", Name: "Acme Corp", Type: "customer"},
		Contact:     &calendarevent.Ref{ID: "2210", Name: "Jordan Lee", Type: "contact"},
		Transaction: &calendarevent.Ref{ID: "88123", Name: "Opportunity #88123", Type: "opportunity"},
		Start:       &start,
		End:         &end,
		Timed:       true,
		Local: &calendarevent.Local{
			Date: ls.Format("2006-01-02"), StartTime: ls.Format("15:04:05"), EndTime: le.Format("15:04:05"),
			EndDate: le.Format("2006-01-02"), TimeZone: "America/Los_Angeles", TimeZoneSource: "event",
		},
		Attendees: []calendarevent.Attendee{
			{Entity: alex, Attendance: "REQUIRED", Response: "ACCEPTED"},
			{Entity: calendarevent.Ref{ID: "2210", Name: "Jordan Lee", Type: "contact"}, Attendance: "OPTIONAL", Response: "TENTATIVE"},
			{Entity: calendarevent.Ref{ID: "3301", Name: "Sam Sales", Type: "employee"}, Attendance: "REQUIRED", Response: "NO_RESPONSE"},
		},
		Resources: []calendarevent.Ref{{ID: "7", Name: "Projector"}},
		CustomFields: map[string]any{
			"custevent_priority": json.Number("2"),
			"custevent_billable": true,
			"custevent_topic":    "Renewal",
			"custevent_region":   calendarevent.Ref{ID: "3", Name: "EMEA"},
		},
		Extra:          map[string]json.RawMessage{"sendemail": json.RawMessage(`"F"`)},
		CreatedAt:      &created,
		LastModifiedAt: lastModified,
		Provenance: calendarevent.Provenance{
			ExtractedAt: lastModified.Add(90 * time.Second),
			SourceAPI:   calendarevent.APISuiteQL,
			RawSequence: rawSeq,
		},
	}
}

// Tombstone returns the tombstone of (account, id): deleted at deletedAt,
// which is also its version's LastModifiedAt. Attendees are unknown (nil).
func Tombstone(account, id string, deletedAt time.Time, rawSeq uint64) *calendarevent.Event {
	deletedAt = deletedAt.UTC()
	return &calendarevent.Event{
		Schema:         calendarevent.EventSchema,
		Account:        account,
		ID:             id,
		Deleted:        true,
		DeletedAt:      &deletedAt,
		LastModifiedAt: deletedAt,
		Provenance: calendarevent.Provenance{
			ExtractedAt: deletedAt.Add(time.Minute),
			SourceAPI:   calendarevent.APIDeletedRecord,
			RawSequence: rawSeq,
		},
	}
}

// Batch returns n typical events of account with ids prefix0 … prefix(n-1),
// all at version (lastModified, rawSeq+i).
func Batch(account, prefix string, n int, lastModified time.Time, rawSeq uint64) []*calendarevent.Event {
	out := make([]*calendarevent.Event, n)
	for i := range out {
		out[i] = NewEvent(account, fmt.Sprintf("%s%d", prefix, i), lastModified, rawSeq+uint64(i))
	}
	return out
}
