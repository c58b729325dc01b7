// Package sink is the loader's view of a destination for canonical calendar
// events (schema v1): the [Sink] interface, [Open] by URL, and the error
// vocabulary the loader uses to decide between retrying, splitting a batch and
// dead-lettering a record.
//
// # Sinks
//
//	sqlite:PATH, sqlite://PATH      embedded SQLite file (modernc.org/sqlite)     package sink/sqlite
//	postgres://…, postgresql://…    PostgreSQL through a pgx pool                  package sink/postgres
//	jsonl:PATH, jsonl:-             JSON Lines append log (file or stdout)         package sink/jsonl
//	aep:, aep:INLET_URL             Adobe Experience Platform streaming inlet      package sink/aep
//
// # Contract every sink implements
//
// Write(ctx, events) returns only after the events are committed durably
// (SQLite's default synchronous=NORMAL survives a process crash but not a
// power cut; see package sqlite). The SQL sinks commit a batch atomically:
// all or nothing. Each applies the
// version guard in the database statement itself: an event replaces what the
// sink holds for (account, id) only when it is newer by
// [calendarevent.Event.Newer] (LastModifiedAt, then Provenance.RawSequence
// strictly greater). An equal version is a no-op, so a redelivered batch
// changes nothing. A tombstone (Deleted, LastModifiedAt = DeletedAt) is a
// version like any other; [DeleteRow] removes the row and keeps a tombstone
// record so that an older version replayed later cannot resurrect it,
// [MarkDeleted] keeps the row with deleted = true. Several loader replicas may
// write to the same database at once.
//
// The JSON Lines sink is an append log: it keeps every version it is given,
// in order, and applies no guard (a reader folds the log with Event.Newer).
// The AEP sink has no upsert either: each version becomes one XDM
// ExperienceEvent whose _id is derived from (account, id, version), so a
// redelivery is idempotent downstream, and picking the newest version is
// AEP's (or its consumers') job.
//
// # Errors
//
//   - nil: every event was committed (or was a no-op by the guard).
//   - an error for which [IsPermanent] is true: the batch was rolled back and
//     sending it again cannot succeed, because of a record in it (a
//     constraint violation, an unencodable value). The loader splits the
//     batch to isolate the record and dead-letters it.
//   - a [*PartialError] (AEP only): the records it lists failed, every other
//     record was committed. A [RecordError] with Permanent set will fail
//     again (dead-letter it); one without may be retried on its own.
//   - any other error: transient (backend down, timeout, lock contention);
//     nothing was committed by the SQL sinks; retry later. [Sink.Ping] tells
//     when the backend is back.
//
// Sinks never log payloads, titles or attendee names: only ids and counts.
package sink
