// Package transform is the transformer's pure mapping: one raw NetSuite
// calendar event (calendarevent.Raw) in, one canonical event
// (calendarevent.Event, schema v1) out.
//
// # Contract
//
//   - Pure and deterministic. The output depends only on the raw message,
//     Meta and Options: no clock, no randomness, no map order. The same input
//     always encodes (calendarevent.Marshal) to the same bytes, so replays
//     and redeliveries are safe. Time zone data comes from the host's zone
//     database, or from the copy embedded through time/tzdata where the host
//     has none (FROM scratch images); hosts whose tzdata disagree about a
//     zone's rules are the one way the same input can map differently.
//   - Total. Transform never panics (a fuzz test holds it to that). It
//     returns an event or an *Error.
//   - Every error is permanent. The same input fails the same way on every
//     attempt, so the caller dead-letters it at once, with Class(err) as the
//     error class header. Messages name the source field and what is wrong;
//     they never quote titles, messages, locations, names or custom fields.
//   - Concurrency. A Transformer is safe for concurrent use; its only state
//     is a cache of loaded time zones.
//
// # Inputs
//
// Raw.API says which shape Raw.Record has:
//
//   - "suiteql": one row of the extractor's SuiteQL query. Keys are lower
//     case, every value is a string, NULL columns are absent. Wall-clock
//     timestamps come from the TO_CHAR aliases (ns_lastmodified, ns_created:
//     YYYY-MM-DD HH:MM:SS in Raw.TimeZone; ns_startdate, ns_starttime,
//     ns_endtime, ns_completeddate); display names from the BUILTIN.DF
//     aliases (ns_<field>_name). Without an alias the plain column is parsed
//     in a date-format preference (M/D/YYYY, M/D/YY, D.M.YYYY, D-Mon-YYYY,
//     YYYY/M/D; times "9:30 am") and a note says so.
//   - "rest": a REST record body. Keys are camelCase, values typed,
//     references {links, id, refName}; enums {links?, id, refName} or bare
//     strings; booleans JSON booleans or "T"/"F"; createdDate and
//     lastModifiedDate ISO 8601 with Z or an offset; startTime/endTime
//     "HH:mm" or "HH:mm:ss"; attendee and resource sublists expanded
//     ({items: [...]}) or link-only ({links: [...]}, not fetched).
//   - "deletedrecord" (kind "tombstone"): a deletedrecord row; the result is
//     a tombstone: id, Deleted, DeletedAt = LastModifiedAt = ns_deleted (in
//     Raw.TimeZone), provenance, nothing else.
//
// Keys are matched case-insensitively (NetSuite matches property names that
// way), so one field table serves both shapes, and every value reader
// accepts both forms of a fact: a bool as true or "T", an enum as an object
// or a string, a reference as an object or an id.
//
// # Mapping rules
//
//   - id is required and must equal Raw.RecordID; lastModified is required.
//   - Absent, null and empty-string fields are omitted, never invented.
//   - Enums: Enum{ID, Name}; Name is refName or the BUILTIN.DF alias. A bare
//     enum string gets no Name: there is no built-in table of display
//     names, because NetSuite's are localised and undocumented.
//   - References: Ref{ID, Name, Type}; Type is the record type segment of
//     the REST self link (".../record/v1/employee/5" is "employee"); SuiteQL
//     gives no type.
//   - Schedule: wall-clock values are in the record's timezone, else the
//     account zone (Local.TimeZoneSource "account", noted). An event is
//     all-day when allDayEvent is true or timedEvent is false, or when it
//     has a date but no start time (noted); Start is then the local midnight
//     of startDate and End the next local midnight, and the placeholder times
//     are not carried. Otherwise End is on startDate, or on the next day when
//     endTime is not after startTime (noted). A local time that does not
//     exist (DST gap) is moved forward by the gap; one that exists twice (DST
//     overlap) takes the earlier instant; both are noted.
//   - Message: the HTML as stored, and a plain-text rendering (see
//     htmlToText).
//   - Custom fields (custevent*): SuiteQL strings become booleans for exactly
//     "T"/"F", json.Number when exactly a JSON number that fits a float64
//     ("00123" and "9e999" stay strings), strings otherwise. REST values
//     keep their JSON type (a number too large for a float64 becomes a
//     string); a reference object becomes a Ref, an array of them a []Ref;
//     other objects and arrays are kept as raw JSON.
//   - Extra: every other field the mapping does not model is kept verbatim
//     (compacted) in Extra, except links and refName (the record's own link
//     and display name) and nulls and empty strings.
//   - Attendees and resources: nil when not extracted (Raw.AttendeesFetched
//     false and no expanded REST sublist), otherwise sorted by entity id
//     (numeric ids numerically), then attendance, with exact duplicates
//     dropped (noted). An expanded REST sublist in the record wins over rows
//     in the envelope (noted). Row columns with no place in v1 are not
//     carried; their names are noted.
//   - Provenance: ExtractedAt, SourceAPI, Meta.RawSequence, and Notes: every
//     decision the mapping had to make, in a fixed order; none for a clean
//     record.
//   - Schema: Meta.RawSchema empty or netsuite.calendarevent.raw/vN with
//     N <= 1 is read; a newer major version or another schema is
//     unsupported_schema.
//
// # Encoding and speed
//
// AppendEvent writes exactly the bytes calendarevent.Marshal writes, without
// reflection (tests and a fuzz target compare the two on every golden event
// and on a reflectively filled event, so a field added to the contract fails
// until AppendEvent writes it). DecodeEvent is its inverse, held to
// calendarevent.Unmarshal the same way.
//
// TransformBytes reads the envelope that calendarevent.Raw.AppendJSON writes
// with an in-place JSON reader (jsonscan.go) instead of encoding/json: one
// validating pass over the payload that also splits the record and the
// sublist rows into members (offsets, found once and read from then on),
// eight bytes at a time where it can. Any other shape, and any input the
// mapping rejects, goes through calendarevent.DecodeRaw, so both paths give
// the same result (fuzzed). The values that need no decoding are copied, in
// one go, into one string block the event's strings are substrings of, with
// room for the strings the mapping makes; the event and what it points to
// are one allocation more. Nothing in the event aliases the caller's buffer
// or keeps the payload alive. The working state of a transform is a pooled
// mapper, cleared before the call returns; time zones are loaded once per
// Transformer, and each pooled mapper remembers the last zones and offset
// periods it used. Allocated bytes cost more than they seem (each one is
// fresh memory, and the garbage collector runs as often as they add up), so
// the fast path is written to allocate little rather than to save every
// instruction. BenchmarkTransform reports events/s and events per
// CPU-second; BenchmarkPhases splits the work into its parts.
//
// docs/calendar-event.v1.md documents every output field and
// schema/calendar-event.v1.schema.json validates it.
package transform
