// Package sqlrow turns canonical events into the flat rows both SQL sinks
// store: one calendar_events row per event plus its attendee rows. It also
// de-duplicates a batch per (account, id), keeping the newest version, because
// one multi-row upsert statement cannot touch the same row twice.
package sqlrow

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/nsflow/nsflow/pkg/calendarevent"
	"github.com/nsflow/nsflow/pkg/sink/internal/core"
)

// MaxKeyLen is the longest account or id, in characters, the calendar_events
// CHECK constraints accept; Prepare enforces it (and every other constraint
// a valid event could break) itself, so a sink may skip CHECK constraints. NetSuite internal ids are short integers and
// account ids look like "1234567_SB1", so anything longer is corrupt input.
const MaxKeyLen = 64

// Row is one calendar_events row. Absent values are zero — "" for text, the
// zero time for instants, nil for JSON and ReminderMinutes — and stored as
// NULL: the canonical encoding omits empty strings, so "" never means a
// present value.
type Row struct {
	Index int // position of the source event in the Write batch

	Account, ID string

	ExternalID, Title, MessageHTML, MessageText, Location string
	Status, StatusName, AccessLevel, ReminderType         string
	ReminderMinutes                                       *int64
	Recurrence                                            string
	OrganizerID, OrganizerName, OwnerID, OwnerName        string
	CompanyID, CompanyName, ContactID, ContactName        string
	SupportCaseID, TransactionID, RelatedItemID           string

	StartAt, EndAt                                    time.Time
	AllDay, Timed                                     bool
	LocalDate, LocalStartTime, LocalEndTime, TimeZone string

	CustomFields, Extra []byte // JSON, nil when absent

	Deleted        bool
	DeletedAt      time.Time
	CreatedAt      time.Time
	LastModifiedAt time.Time
	RawSequence    int64
	ExtractedAt    time.Time

	EventJSON []byte

	// Attendees is nil when the event's attendee list is unknown: the sink
	// then leaves existing attendee rows alone.
	Attendees []Attendee
}

// Attendee is one calendar_event_attendees row (without the key columns);
// "" is NULL.
type Attendee struct {
	EntityID, EntityName, EntityType, Attendance, Response string
}

// Prepare validates and flattens events; PrepareEncoded with no encodings.
func Prepare(events []*calendarevent.Event) ([]Row, error) { return PrepareEncoded(events, nil) }

// PrepareEncoded validates and flattens events. The result holds one row per
// (account, id) — the newest version by Event.Newer; equal versions keep the
// first — sorted by (account, id) so that concurrent writers lock rows in the
// same order. An error means an event can never be stored (nil, unencodable,
// out-of-range values); it is marked permanent. encoded, when not nil, holds
// each event's canonical JSON as received (nil entries are encoded here):
// it becomes EventJSON as is, which spares encoding every event again.
//
// It is Plan followed by Flatten of every planned event, spread over the
// available cores; a sink that wants to overlap flattening with its writes
// calls those two itself.
func PrepareEncoded(events []*calendarevent.Event, encoded [][]byte) ([]Row, error) {
	if encoded != nil && len(encoded) != len(events) {
		return nil, fmt.Errorf("prepare rows: %d encodings for %d events", len(encoded), len(events))
	}
	order, err := Plan(events)
	if err != nil {
		return nil, err
	}
	rows := make([]Row, len(order))
	errs := make([]error, len(order))
	flattenAll := func(lo, hi int) {
		for k := lo; k < hi; k++ {
			i := order[k]
			var enc []byte
			if encoded != nil {
				enc = encoded[i]
			}
			rows[k], errs[k] = Flatten(i, events[i], enc)
		}
	}
	// Encoding (mostly JSON) is the Go-side cost of a write: spread large
	// batches over the available cores.
	workers := min(runtime.GOMAXPROCS(0), len(order)/parallelMin)
	if workers <= 1 {
		flattenAll(0, len(order))
	} else {
		var wg sync.WaitGroup
		per := (len(order) + workers - 1) / workers
		for lo := 0; lo < len(order); lo += per {
			wg.Go(func() { flattenAll(lo, min(lo+per, len(order))) })
		}
		wg.Wait()
	}
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return rows, nil
}

// Plan picks the events PrepareEncoded keeps — per (account, id) the newest
// by Event.Newer, equal versions keeping the first — and returns their
// indexes in events, sorted by (account, id). A nil event is a permanent
// error.
func Plan(events []*calendarevent.Event) ([]int, error) {
	type key struct{ account, id string }
	best := make(map[key]int, len(events))
	order := make([]int, 0, len(events))
	for i, e := range events {
		if e == nil {
			return nil, core.Permanent(fmt.Errorf("event %d is nil", i))
		}
		k := key{e.Account, e.ID}
		j, seen := best[k]
		if !seen {
			best[k] = i
			order = append(order, i)
			continue
		}
		if old := events[j]; e.Newer(old.LastModifiedAt, old.Provenance.RawSequence) {
			best[k] = i
		}
	}
	slices.SortFunc(order, func(a, b int) int {
		return cmp.Or(cmp.Compare(events[a].Account, events[b].Account), cmp.Compare(events[a].ID, events[b].ID))
	})
	for k, first := range order {
		order[k] = best[key{events[first].Account, events[first].ID}]
	}
	return order, nil
}

// Flatten validates and flattens e, events[idx] of a Write batch, into its
// Row as PrepareEncoded does; js is its canonical JSON, or nil to encode it
// here. e must not be nil.
func Flatten(idx int, e *calendarevent.Event, js []byte) (Row, error) { return flatten(idx, e, js) }

// parallelMin is the number of events per extra goroutine in Prepare.
const parallelMin = 128

func flatten(idx int, e *calendarevent.Event, js []byte) (Row, error) {
	fail := func(format string, args ...any) (Row, error) {
		return Row{}, core.Permanent(fmt.Errorf("event %d (account %q, id %q): %s", idx, e.Account, e.ID, fmt.Sprintf(format, args...)))
	}
	for _, k := range [...]struct{ name, v string }{{"account", e.Account}, {"id", e.ID}} {
		if n := utf8.RuneCountInString(k.v); n < 1 || n > MaxKeyLen {
			return fail("%s must be 1 to %d characters, not %d", k.name, MaxKeyLen, n)
		}
	}
	if e.Provenance.RawSequence > math.MaxInt64 {
		return fail("raw_sequence %d overflows a signed 64-bit column", e.Provenance.RawSequence)
	}
	for _, t := range []*time.Time{&e.LastModifiedAt, e.Start, e.End, e.DeletedAt, e.CreatedAt, &e.Provenance.ExtractedAt} {
		if t != nil && !t.IsZero() && (t.Year() < 1 || t.Year() > 9999) {
			return fail("instant %s is outside years 0001-9999", t.UTC().Format(time.RFC3339))
		}
	}
	var err error
	if js == nil {
		if js, err = calendarevent.Marshal(e); err != nil {
			return fail("encode event JSON: %v", err)
		}
	}
	r := Row{
		Index:          idx,
		Account:        e.Account,
		ID:             e.ID,
		ExternalID:     e.ExternalID,
		Title:          e.Title,
		Location:       e.Location,
		Recurrence:     e.Recurrence,
		StartAt:        utc(e.Start),
		EndAt:          utc(e.End),
		AllDay:         e.AllDay,
		Timed:          e.Timed,
		Deleted:        e.Deleted,
		DeletedAt:      utc(e.DeletedAt),
		CreatedAt:      utc(e.CreatedAt),
		LastModifiedAt: e.LastModifiedAt.UTC(),
		RawSequence:    int64(e.Provenance.RawSequence),
		ExtractedAt:    e.Provenance.ExtractedAt.UTC(),
		EventJSON:      js,
	}
	if m := e.Message; m != nil {
		r.MessageHTML, r.MessageText = m.HTML, m.Text
	}
	if s := e.Status; s != nil {
		r.Status, r.StatusName = s.ID, s.Name
	}
	if a := e.AccessLevel; a != nil {
		r.AccessLevel = a.ID
	}
	if rem := e.Reminder; rem != nil {
		if rem.Type != nil {
			r.ReminderType = rem.Type.ID
		}
		if rem.Minutes != nil {
			m := int64(*rem.Minutes)
			r.ReminderMinutes = &m
		}
	}
	r.OrganizerID, r.OrganizerName = ref(e.Organizer)
	r.OwnerID, r.OwnerName = ref(e.Owner)
	r.CompanyID, r.CompanyName = ref(e.Company)
	r.ContactID, r.ContactName = ref(e.Contact)
	r.SupportCaseID, _ = ref(e.SupportCase)
	r.TransactionID, _ = ref(e.Transaction)
	r.RelatedItemID, _ = ref(e.RelatedItem)
	if l := e.Local; l != nil {
		r.LocalDate, r.LocalStartTime, r.LocalEndTime, r.TimeZone = l.Date, l.StartTime, l.EndTime, l.TimeZone
	}
	if len(e.CustomFields) > 0 {
		if r.CustomFields, err = json.Marshal(e.CustomFields); err != nil {
			return fail("encode custom fields: %v", err)
		}
	}
	if len(e.Extra) > 0 {
		if r.Extra, err = json.Marshal(e.Extra); err != nil {
			return fail("encode extra: %v", err)
		}
	}
	if e.Attendees != nil {
		r.Attendees = attendees(e.Attendees)
	}
	return r, nil
}

// attendees maps the attendee list to rows, one per entity: the table's key
// is (account, event_id, entity_id), so a repeated entity keeps its first row.
func attendees(in []calendarevent.Attendee) []Attendee {
	out := make([]Attendee, 0, len(in))
	seen := make(map[string]struct{}, len(in))
	for _, a := range in {
		if _, dup := seen[a.Entity.ID]; dup {
			continue
		}
		seen[a.Entity.ID] = struct{}{}
		out = append(out, Attendee{
			EntityID:   a.Entity.ID,
			EntityName: a.Entity.Name,
			EntityType: a.Entity.Type,
			Attendance: a.Attendance,
			Response:   a.Response,
		})
	}
	return out
}

func ref(r *calendarevent.Ref) (id, name string) {
	if r == nil {
		return "", ""
	}
	return r.ID, r.Name
}

// utc returns t in UTC, or the zero time (NULL) for nil.
func utc(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

// Key identifies an event row.
type Key struct{ Account, ID string }

// DecodeStored decodes a stored event_json. Numbers in custom fields stay
// json.Number, as in the canonical encoding. Callers overlay what the columns
// say (version, deletion) and the attendee rows.
func DecodeStored(eventJSON []byte) (*calendarevent.Event, error) {
	var e calendarevent.Event
	dec := json.NewDecoder(bytes.NewReader(eventJSON))
	dec.UseNumber()
	if err := dec.Decode(&e); err != nil {
		return nil, fmt.Errorf("decode stored event_json: %w", err)
	}
	return &e, nil
}
