// Package calendarevent is the message contract shared by every stage of the
// pipeline: subject and stream names, NATS header names, the raw message the
// extractor publishes, and the canonical calendar event (schema v1) the
// transformer publishes and the loader writes.
//
// # Raw messages (stream NETSUITE_RAW, subject netsuite.<account>.calendarevent.raw)
//
// The payload is a [Raw] envelope: NetSuite's JSON exactly as received (a
// SuiteQL row, a REST record or a deletedrecord row) plus what the extractor
// knew when it read it (the account time zone SuiteQL values are rendered in,
// attendee and resource rows fetched separately). Headers carry the account,
// the record id, lastModified, the extraction time, the correlation id and the
// raw schema version, with CloudEvents attribute names where they fit.
//
// # Canonical events (stream EVENTS, subject netsuite.<account>.calendarevent.v1)
//
// The payload is an [Event] encoded with [Marshal]. Within v1 only additive
// changes are allowed: new optional fields. Removing or changing the meaning of
// a field is a new schema version (v2) on a new subject. The JSON Schema is
// schema/calendar-event.v1.schema.json at the repository root.
//
// # Identity
//
// Every message carries a deterministic Nats-Msg-Id ([RawMsgID], [EventMsgID])
// so that a re-extraction or a redelivery inside the stream's duplicate window
// is dropped by the server; the loader's version guard (LastModified, then raw
// stream sequence) makes the rest idempotent.
package calendarevent
