package aep

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/nsflow/nsflow/pkg/calendarevent"
)

// Event types of the ExperienceEvents this sink sends (custom values of the
// soft eventType enum).
const (
	EventTypeChanged = "netsuite.calendarEvent.changed"
	EventTypeDeleted = "netsuite.calendarEvent.deleted"
)

// Message is one streaming message: the envelope of the streaming ingestion
// API with the XDM record in body.xdmEntity.
type Message struct {
	Header Header `json:"header"`
	Body   Body   `json:"body"`
}

// Header is the message header.
type Header struct {
	SchemaRef SchemaRef `json:"schemaRef"`
	IMSOrgID  string    `json:"imsOrgId"`
	DatasetID string    `json:"datasetId"`
	FlowID    string    `json:"flowId,omitempty"`
	// CreatedAt is milliseconds since the epoch, as a string.
	CreatedAt string  `json:"createdAt"`
	Source    *Source `json:"source,omitempty"`
}

// SchemaRef names the dataset's schema.
type SchemaRef struct {
	ID          string `json:"id"`
	ContentType string `json:"contentType"`
}

// Source names the sender.
type Source struct {
	Name string `json:"name"`
}

// Body carries the record.
type Body struct {
	XDMMeta   XDMMeta `json:"xdmMeta"`
	XDMEntity *Entity `json:"xdmEntity"`
}

// XDMMeta repeats the schema reference.
type XDMMeta struct {
	SchemaRef SchemaRef `json:"schemaRef"`
}

// Entity is the XDM ExperienceEvent one version of a calendar event becomes,
// with AEP (compatibility mode) field names. Standard fields come from the
// ExperienceEvent class and the External Source System Audit field group;
// everything NetSuite-specific is under "_<tenant>".netsuite.calendarEvent.
// The dataset's schema must declare every field sent: AEP rejects extraneous
// keys. Empty values are omitted.
type Entity struct {
	// ID identifies this version of the event: the same (account, id,
	// LastModifiedAt, RawSequence) always gives the same _id, so a redelivery
	// is a duplicate AEP can drop.
	ID string `json:"_id"`
	// Timestamp is when this version came to be: the event's LastModifiedAt
	// (for a tombstone, the deletion time). Not the meeting's start, which
	// can be months ahead or absent and is in the tenant fields.
	Timestamp   time.Time                 `json:"timestamp"`
	EventType   string                    `json:"eventType"`
	ProducedBy  string                    `json:"producedBy"`
	IdentityMap map[string][]IdentityItem `json:"identityMap,omitempty"`
	// ExtSourceSystemAudit carries NetSuite's created/last-modified instants and key.
	ExtSourceSystemAudit *Audit `json:"extSourceSystemAudit,omitempty"`

	// Tenant is the tenant id; the NetSuite fields are sent under "_"+Tenant.
	Tenant   string   `json:"-"`
	NetSuite NetSuite `json:"-"`
}

// IdentityItem is one identityMap value.
type IdentityItem struct {
	ID                 string `json:"id"`
	AuthenticatedState string `json:"authenticatedState"`
	Primary            bool   `json:"primary"`
}

// Audit is extSourceSystemAudit.
type Audit struct {
	CreatedDate     *time.Time  `json:"createdDate,omitempty"`
	LastUpdatedDate time.Time   `json:"lastUpdatedDate"`
	ExternalID      string      `json:"externalID"`
	ExternalKey     ExternalKey `json:"externalKey"`
}

// ExternalKey is the b2b-source key of the record in NetSuite.
type ExternalKey struct {
	SourceType       string `json:"sourceType"`
	SourceInstanceID string `json:"sourceInstanceID"`
	SourceID         string `json:"sourceID"`
	SourceKey        string `json:"sourceKey"`
}

// NetSuite is the tenant object's "netsuite" field.
type NetSuite struct {
	CalendarEvent CalendarEvent `json:"calendarEvent"`
}

// CalendarEvent holds the event's NetSuite fields. Attendees and Resources
// are omitted when unknown and an empty array when known to be empty.
type CalendarEvent struct {
	Account          string      `json:"account"`
	EventID          string      `json:"eventID"`
	ExternalID       string      `json:"externalID,omitempty"`
	Title            string      `json:"title,omitempty"`
	Message          string      `json:"message,omitempty"`
	MessageHTML      string      `json:"messageHTML,omitempty"`
	Location         string      `json:"location,omitempty"`
	Status           string      `json:"status,omitempty"`
	StatusName       string      `json:"statusName,omitempty"`
	AccessLevel      string      `json:"accessLevel,omitempty"`
	Response         string      `json:"response,omitempty"`
	ReminderType     string      `json:"reminderType,omitempty"`
	ReminderMinutes  *int        `json:"reminderMinutes,omitempty"`
	Recurrence       string      `json:"recurrence,omitempty"`
	Organizer        *Ref        `json:"organizer,omitempty"`
	Owner            *Ref        `json:"owner,omitempty"`
	Company          *Ref        `json:"company,omitempty"`
	Contact          *Ref        `json:"contact,omitempty"`
	SupportCase      *Ref        `json:"supportCase,omitempty"`
	Transaction      *Ref        `json:"transaction,omitempty"`
	RelatedItem      *Ref        `json:"relatedItem,omitempty"`
	StartDate        *time.Time  `json:"startDate,omitempty"`
	EndDate          *time.Time  `json:"endDate,omitempty"`
	IsAllDay         bool        `json:"isAllDay"`
	IsTimed          bool        `json:"isTimed"`
	LocalDate        string      `json:"localDate,omitempty"`
	LocalStartTime   string      `json:"localStartTime,omitempty"`
	LocalEndTime     string      `json:"localEndTime,omitempty"`
	LocalEndDate     string      `json:"localEndDate,omitempty"`
	TimeZone         string      `json:"timeZone,omitempty"`
	CompletedDate    string      `json:"completedDate,omitempty"`
	Attendees        *[]Attendee `json:"attendees,omitempty"`
	Resources        *[]Ref      `json:"resources,omitempty"`
	CustomFieldsJSON string      `json:"customFieldsJSON,omitempty"` // custevent* fields as JSON text: a schema cannot declare arbitrary keys
	IsDeleted        bool        `json:"isDeleted"`
	DeletedDate      *time.Time  `json:"deletedDate,omitempty"`
	CreatedDate      *time.Time  `json:"createdDate,omitempty"`
	LastModifiedDate time.Time   `json:"lastModifiedDate"`
	RawSequence      int64       `json:"rawSequence"`
	ExtractedDate    *time.Time  `json:"extractedDate,omitempty"`
	SourceAPI        string      `json:"sourceAPI,omitempty"`
}

// Ref is a reference to another NetSuite record.
type Ref struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
	Type string `json:"type,omitempty"`
}

// Attendee is one attendee.
type Attendee struct {
	Entity     Ref    `json:"entity"`
	Attendance string `json:"attendance,omitempty"`
	Response   string `json:"response,omitempty"`
}

// EntityID returns the deterministic _id of an event version:
// "netsuite:<account token>:calendarevent:<id>:<last modified, unix ns>:<raw sequence>".
func EntityID(e *calendarevent.Event) string {
	var b strings.Builder
	b.WriteString("netsuite:")
	b.WriteString(calendarevent.AccountToken(e.Account))
	b.WriteString(":calendarevent:")
	b.WriteString(url.PathEscape(e.ID))
	b.WriteByte(':')
	b.WriteString(strconv.FormatInt(e.LastModifiedAt.UnixNano(), 10))
	b.WriteByte(':')
	b.WriteString(strconv.FormatUint(e.Provenance.RawSequence, 10))
	return b.String()
}

// SourceKey is NetSuite's key for an entity or event in the b2b-source
// style: "<id>@<account>.NetSuite".
func SourceKey(account, id string) string { return id + "@" + account + ".NetSuite" }

// MapEvent maps a canonical event to its XDM ExperienceEvent. tenant is the
// tenant id without "_"; identityNamespace, when not empty, is the identity
// namespace code the organizer (or, without one, the owner) goes under.
// Fields the canonical event gains in later v1 revisions are not sent until
// mapped here (the dataset schema would reject unknown keys anyway); Extra is
// never sent.
func MapEvent(e *calendarevent.Event, tenant, identityNamespace string) (*Entity, error) {
	if e == nil {
		return nil, errors.New("nil event")
	}
	if e.Provenance.RawSequence > math.MaxInt64 {
		return nil, fmt.Errorf("raw sequence %d overflows", e.Provenance.RawSequence)
	}
	ent := &Entity{
		ID:         EntityID(e),
		Timestamp:  e.LastModifiedAt.UTC(),
		EventType:  EventTypeChanged,
		ProducedBy: "system",
		ExtSourceSystemAudit: &Audit{
			CreatedDate:     utc(e.CreatedAt),
			LastUpdatedDate: e.LastModifiedAt.UTC(),
			ExternalID:      e.ID,
			ExternalKey: ExternalKey{
				SourceType:       "NetSuite",
				SourceInstanceID: e.Account,
				SourceID:         e.ID,
				SourceKey:        SourceKey(e.Account, e.ID),
			},
		},
		Tenant: tenant,
	}
	if e.Deleted {
		ent.EventType = EventTypeDeleted
	}
	if identityNamespace != "" {
		who := e.Organizer
		if who == nil || who.ID == "" {
			who = e.Owner
		}
		// Only one person: every identity in one record is linked into one
		// identity graph, so attendees must not go here.
		if who != nil && who.ID != "" {
			ent.IdentityMap = map[string][]IdentityItem{identityNamespace: {{
				ID: SourceKey(e.Account, who.ID), AuthenticatedState: "ambiguous", Primary: true,
			}}}
		}
	}
	c := &ent.NetSuite.CalendarEvent
	*c = CalendarEvent{
		Account:          e.Account,
		EventID:          e.ID,
		ExternalID:       e.ExternalID,
		Title:            e.Title,
		Location:         e.Location,
		Recurrence:       e.Recurrence,
		Organizer:        ref(e.Organizer),
		Owner:            ref(e.Owner),
		Company:          ref(e.Company),
		Contact:          ref(e.Contact),
		SupportCase:      ref(e.SupportCase),
		Transaction:      ref(e.Transaction),
		RelatedItem:      ref(e.RelatedItem),
		StartDate:        utc(e.Start),
		EndDate:          utc(e.End),
		IsAllDay:         e.AllDay,
		IsTimed:          e.Timed,
		CompletedDate:    e.CompletedDate,
		IsDeleted:        e.Deleted,
		DeletedDate:      utc(e.DeletedAt),
		CreatedDate:      utc(e.CreatedAt),
		LastModifiedDate: e.LastModifiedAt.UTC(),
		RawSequence:      int64(e.Provenance.RawSequence),
		SourceAPI:        e.Provenance.SourceAPI,
	}
	if !e.Provenance.ExtractedAt.IsZero() {
		t := e.Provenance.ExtractedAt.UTC()
		c.ExtractedDate = &t
	}
	if e.Message != nil {
		c.Message, c.MessageHTML = e.Message.Text, e.Message.HTML
	}
	if e.Status != nil {
		c.Status, c.StatusName = e.Status.ID, e.Status.Name
	}
	if e.AccessLevel != nil {
		c.AccessLevel = e.AccessLevel.ID
	}
	if e.Response != nil {
		c.Response = e.Response.ID
	}
	if e.Reminder != nil {
		if e.Reminder.Type != nil {
			c.ReminderType = e.Reminder.Type.ID
		}
		c.ReminderMinutes = e.Reminder.Minutes
	}
	if l := e.Local; l != nil {
		c.LocalDate, c.LocalStartTime, c.LocalEndTime, c.LocalEndDate, c.TimeZone = l.Date, l.StartTime, l.EndTime, l.EndDate, l.TimeZone
	}
	if e.Attendees != nil {
		as := make([]Attendee, 0, len(e.Attendees))
		for _, a := range e.Attendees {
			as = append(as, Attendee{Entity: Ref(a.Entity), Attendance: a.Attendance, Response: a.Response})
		}
		c.Attendees = &as
	}
	if e.Resources != nil {
		rs := make([]Ref, 0, len(e.Resources))
		for _, r := range e.Resources {
			rs = append(rs, Ref(r))
		}
		c.Resources = &rs
	}
	if len(e.CustomFields) > 0 {
		b, err := json.Marshal(e.CustomFields)
		if err != nil {
			return nil, fmt.Errorf("encode custom fields: %w", err)
		}
		c.CustomFieldsJSON = string(b)
	}
	return ent, nil
}

func ref(r *calendarevent.Ref) *Ref {
	if r == nil {
		return nil
	}
	x := Ref(*r)
	return &x
}

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// entityJSON is Entity without the tenant object, for (un)marshalling.
type entityJSON Entity

// MarshalJSON writes the standard fields and the tenant object
// "_<Tenant>": {"netsuite": …}.
func (e *Entity) MarshalJSON() ([]byte, error) {
	if e.Tenant == "" {
		return nil, errors.New("entity has no tenant")
	}
	std, err := json.Marshal((*entityJSON)(e))
	if err != nil {
		return nil, err
	}
	ns, err := json.Marshal(&e.NetSuite)
	if err != nil {
		return nil, err
	}
	tenantKey, _ := json.Marshal("_" + e.Tenant)
	out := make([]byte, 0, len(std)+len(ns)+len(tenantKey)+16)
	out = append(out, std[:len(std)-1]...)
	out = append(out, ',')
	out = append(out, tenantKey...)
	out = append(out, `:{"netsuite":`...)
	out = append(out, ns...)
	return append(out, "}}"...), nil
}

// UnmarshalJSON reads what MarshalJSON writes; the tenant is the one key
// other than "_id" that starts with "_".
func (e *Entity) UnmarshalJSON(b []byte) error {
	if err := json.Unmarshal(b, (*entityJSON)(e)); err != nil {
		return err
	}
	var all map[string]json.RawMessage
	if err := json.Unmarshal(b, &all); err != nil {
		return err
	}
	for k, v := range all {
		if k == "_id" || !strings.HasPrefix(k, "_") {
			continue
		}
		var t struct {
			NetSuite *NetSuite `json:"netsuite"`
		}
		dec := json.NewDecoder(bytes.NewReader(v))
		if err := dec.Decode(&t); err != nil {
			return fmt.Errorf("decode %s: %w", k, err)
		}
		if t.NetSuite != nil {
			e.Tenant, e.NetSuite = k[1:], *t.NetSuite
		}
	}
	return nil
}
