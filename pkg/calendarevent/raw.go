package calendarevent

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// RawSchema identifies the raw envelope format (header HeaderSchema).
const RawSchema = "netsuite.calendarevent.raw/v1"

// Kinds of raw and canonical messages.
const (
	KindEvent     = "event"
	KindTombstone = "tombstone"
)

// Source APIs a raw record can come from.
const (
	// APISuiteQL: Record is one SuiteQL row (lowercase keys, every value a string,
	// NULL columns absent); Attendees and Resources are rows of the attendee and
	// resource tables for that event.
	APISuiteQL = "suiteql"
	// APIREST: Record is a REST record API body (camelCase keys, typed values,
	// references as {links,id,refName}); sublists may be expanded inside it.
	APIREST = "rest"
	// APIDeletedRecord: Record is a deletedrecord SuiteQL row (a tombstone).
	APIDeletedRecord = "deletedrecord"
)

// Raw is the payload of a raw message: a NetSuite record exactly as received
// plus what the extractor knew when it read it. Record, Attendees and Resources
// hold the bytes NetSuite sent, untouched.
type Raw struct {
	Kind     string `json:"kind"`
	Account  string `json:"account"`
	API      string `json:"api"`
	RecordID string `json:"record_id"`
	// TimeZone is the zone SuiteQL rendered wall-clock values in (the account or
	// integration user's preference, from configuration). REST values carry
	// their own zone (ISO instants are UTC; times are in the event's timezone).
	TimeZone string `json:"time_zone,omitempty"`
	// LastModified is the record's lastModified (deletion instant for a
	// tombstone) as the extractor parsed it, UTC, second precision.
	LastModified time.Time `json:"last_modified"`
	// ExtractedAt is when the extractor read the record.
	ExtractedAt time.Time         `json:"extracted_at"`
	Record      json.RawMessage   `json:"record"`
	Attendees   []json.RawMessage `json:"attendees,omitempty"`
	Resources   []json.RawMessage `json:"resources,omitempty"`
	// AttendeesFetched says whether the attendee and resource lists were
	// fetched at all (false when attendee extraction is off), so an empty list
	// can be told apart from an unknown one.
	AttendeesFetched bool `json:"attendees_fetched"`
}

// AppendJSON appends the JSON encoding of r to dst. It is the hot-path encoder
// used by the extractor: Record, Attendees and Resources are copied verbatim
// (they are already valid JSON received from NetSuite), strings are quoted.
func (r *Raw) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"kind":`...)
	dst = strconv.AppendQuote(dst, r.Kind)
	dst = append(dst, `,"account":`...)
	dst = strconv.AppendQuote(dst, r.Account)
	dst = append(dst, `,"api":`...)
	dst = strconv.AppendQuote(dst, r.API)
	dst = append(dst, `,"record_id":`...)
	dst = strconv.AppendQuote(dst, r.RecordID)
	if r.TimeZone != "" {
		dst = append(dst, `,"time_zone":`...)
		dst = strconv.AppendQuote(dst, r.TimeZone)
	}
	dst = append(dst, `,"last_modified":"`...)
	dst = r.LastModified.UTC().AppendFormat(dst, time.RFC3339Nano)
	dst = append(dst, `","extracted_at":"`...)
	dst = r.ExtractedAt.UTC().AppendFormat(dst, time.RFC3339Nano)
	dst = append(dst, `","record":`...)
	if len(r.Record) == 0 {
		dst = append(dst, "null"...)
	} else {
		dst = append(dst, r.Record...)
	}
	dst = appendRawList(dst, "attendees", r.Attendees)
	dst = appendRawList(dst, "resources", r.Resources)
	dst = append(dst, `,"attendees_fetched":`...)
	dst = strconv.AppendBool(dst, r.AttendeesFetched)
	return append(dst, '}')
}

func appendRawList(dst []byte, key string, items []json.RawMessage) []byte {
	if len(items) == 0 {
		return dst
	}
	dst = append(dst, `,"`...)
	dst = append(dst, key...)
	dst = append(dst, `":[`...)
	for i, it := range items {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, it...)
	}
	return append(dst, ']')
}

// DecodeRaw decodes a raw payload and checks the fields every consumer relies on.
func DecodeRaw(b []byte) (*Raw, error) {
	var r Raw
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("decode raw message: %w: %w", ErrMalformed, err)
	}
	if err := r.Validate(); err != nil {
		return nil, err
	}
	return &r, nil
}

// Validate reports what is missing or wrong in r.
func (r *Raw) Validate() error {
	switch {
	case r.Kind != KindEvent && r.Kind != KindTombstone:
		return fmt.Errorf("%w: kind %q is neither %q nor %q", ErrInvalid, r.Kind, KindEvent, KindTombstone)
	case r.Account == "":
		return fmt.Errorf("%w: account is empty", ErrInvalid)
	case r.RecordID == "":
		return fmt.Errorf("%w: record_id is empty", ErrInvalid)
	case len(r.Record) == 0 || string(r.Record) == "null":
		return fmt.Errorf("%w: record is missing", ErrInvalid)
	}
	return nil
}

// RawMsgID is the Nats-Msg-Id of a raw message: the same record version always
// gets the same id, so a re-extraction inside the duplicate window is dropped.
func RawMsgID(account, kind, recordID string, lastModified time.Time) string {
	b := make([]byte, 0, 64)
	b = append(b, AccountToken(account)...)
	b = append(b, ':')
	b = append(b, recordID...)
	b = append(b, ':')
	if kind == KindTombstone {
		b = append(b, "deleted:"...)
	}
	b = strconv.AppendInt(b, lastModified.Unix(), 10)
	return string(b)
}

// EventMsgID is the Nats-Msg-Id of the canonical event made from the raw
// message with id rawMsgID.
func EventMsgID(rawMsgID string) string {
	return rawMsgID + ":v1"
}
