package calendarevent

import (
	"encoding/json"
	"fmt"
	"time"
)

// EventSchema identifies canonical events of this version (header HeaderSchema
// and the "schema" field).
const EventSchema = "netsuite.calendarevent/v1"

// Event is the canonical calendar event, schema v1. Instants are UTC. Optional
// values are pointers or omitted when empty, so the encoding says "unknown"
// rather than inventing a zero value. Field documentation lives in
// docs/calendar-event.v1.md and schema/calendar-event.v1.schema.json.
type Event struct {
	Schema     string `json:"schema"`
	Account    string `json:"account"`
	ID         string `json:"id"`
	ExternalID string `json:"external_id,omitempty"`
	// Deleted marks a tombstone: the event was deleted in NetSuite at DeletedAt.
	Deleted   bool       `json:"deleted"`
	DeletedAt *time.Time `json:"deleted_at,omitempty"`

	Title       string   `json:"title,omitempty"`
	Message     *Message `json:"message,omitempty"`
	Location    string   `json:"location,omitempty"`
	Status      *Enum    `json:"status,omitempty"`
	AccessLevel *Enum    `json:"access_level,omitempty"`
	// Response is the integration user's own response to the event, when NetSuite sends it.
	Response   *Enum     `json:"response,omitempty"`
	Reminder   *Reminder `json:"reminder,omitempty"`
	Recurrence string    `json:"recurrence,omitempty"`

	Organizer   *Ref `json:"organizer,omitempty"`
	Owner       *Ref `json:"owner,omitempty"`
	Company     *Ref `json:"company,omitempty"`
	Contact     *Ref `json:"contact,omitempty"`
	SupportCase *Ref `json:"support_case,omitempty"`
	Transaction *Ref `json:"transaction,omitempty"`
	RelatedItem *Ref `json:"related_item,omitempty"`

	// Start and End are UTC instants. For all-day events they are the start of
	// the day and the start of the next day in the event's zone.
	Start  *time.Time `json:"start,omitempty"`
	End    *time.Time `json:"end,omitempty"`
	AllDay bool       `json:"all_day"`
	Timed  bool       `json:"timed"`
	// Local is the source wall-clock date, times and zone as NetSuite keeps them.
	Local         *Local `json:"local,omitempty"`
	CompletedDate string `json:"completed_date,omitempty"`

	// Attendees and Resources are nil when they were not extracted (unknown) and
	// empty when the event has none.
	Attendees []Attendee `json:"attendees"`
	Resources []Ref      `json:"resources"`

	// CustomFields holds custevent* fields by their NetSuite id, typed: string,
	// number (json.Number), boolean, or a Ref for select fields.
	CustomFields map[string]any `json:"custom_fields,omitempty"`
	// Extra keeps source fields this version does not model, verbatim, so
	// nothing is dropped silently.
	Extra map[string]json.RawMessage `json:"extra,omitempty"`

	CreatedAt      *time.Time `json:"created_at,omitempty"`
	LastModifiedAt time.Time  `json:"last_modified_at"`

	Provenance Provenance `json:"provenance"`
}

// Message is the event's message body: NetSuite's HTML as stored, and a plain-text rendering.
type Message struct {
	HTML string `json:"html"`
	Text string `json:"text"`
}

// Enum is a NetSuite enumerated value: the symbolic id ("CONFIRMED") and its display name.
type Enum struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
}

// Ref is a reference to another NetSuite record.
type Ref struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
	// Type is the referenced record type when NetSuite says it (from a REST link), e.g. "employee".
	Type string `json:"type,omitempty"`
}

// Reminder is the event's reminder setting.
type Reminder struct {
	Type    *Enum `json:"type,omitempty"`
	Minutes *int  `json:"minutes,omitempty"`
}

// Local is the event's time as NetSuite stores it: a wall-clock date and times
// in a zone.
type Local struct {
	Date      string `json:"date"`                 // YYYY-MM-DD
	StartTime string `json:"start_time,omitempty"` // HH:MM:SS
	EndTime   string `json:"end_time,omitempty"`   // HH:MM:SS
	// EndDate is the wall-clock date of End: Date, or the next day when the end
	// time is not after the start time.
	EndDate  string `json:"end_date,omitempty"`
	TimeZone string `json:"time_zone,omitempty"` // IANA zone id
	// TimeZoneSource says where TimeZone came from: "event" (the record's own
	// timezone field) or "account" (the configured account zone, because the
	// record had none).
	TimeZoneSource string `json:"time_zone_source,omitempty"`
}

// Attendee is one row of the event's attendee sublist.
type Attendee struct {
	Entity     Ref    `json:"entity"`
	Attendance string `json:"attendance,omitempty"` // REQUIRED, OPTIONAL
	Response   string `json:"response,omitempty"`   // ACCEPTED, DECLINED, TENTATIVE, NO_RESPONSE
}

// Provenance says where and when the event was read.
type Provenance struct {
	ExtractedAt time.Time `json:"extracted_at"`
	SourceAPI   string    `json:"source_api"`
	// RawSequence is the NETSUITE_RAW stream sequence of the raw message; with
	// LastModifiedAt it orders versions of the same event.
	RawSequence uint64 `json:"raw_sequence"`
	// Notes records decisions the transformer had to make (e.g. a missing time
	// zone); empty for a clean record.
	Notes []string `json:"notes,omitempty"`
}

// Newer reports whether e is a later version of the same event than the one
// with lastModified and rawSequence: the version guard every sink applies.
func (e *Event) Newer(lastModified time.Time, rawSequence uint64) bool {
	if !e.LastModifiedAt.Equal(lastModified) {
		return e.LastModifiedAt.After(lastModified)
	}
	return e.Provenance.RawSequence > rawSequence
}

// Marshal encodes e deterministically: the same event always gives the same bytes.
func Marshal(e *Event) ([]byte, error) {
	b, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("encode canonical event %s/%s: %w", e.Account, e.ID, err)
	}
	return b, nil
}

// Unmarshal decodes a canonical event and checks its schema version.
func Unmarshal(b []byte) (*Event, error) {
	var e Event
	if err := json.Unmarshal(b, &e); err != nil {
		return nil, fmt.Errorf("decode canonical event: %w: %w", ErrMalformed, err)
	}
	if e.Schema != EventSchema {
		return nil, fmt.Errorf("decode canonical event: %w: %q (this build reads %q)", ErrUnsupportedSchema, e.Schema, EventSchema)
	}
	if e.Account == "" || e.ID == "" {
		return nil, fmt.Errorf("decode canonical event: %w: account and id are required", ErrInvalid)
	}
	return &e, nil
}
