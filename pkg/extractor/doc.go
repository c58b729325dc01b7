// Package extractor is the only stage that talks to NetSuite. For one account
// it reads every calendar event created, changed or deleted since its cursor
// and publishes each as one raw message (see package calendarevent). Several
// accounts run as several Extractors side by side (package pipeline), each
// with its own client, credentials, limiter, cursors, subject and lease.
//
// # Contract
//
// Reads. Events come from SuiteQL in pages of up to 1,000 rows, ordered by
// (lastmodifieddate, id) with keyset pagination (never OFFSET over the event
// table for a scan), so NetSuite's 100,000-row cap cannot truncate a sync.
// Timestamps are read and compared with explicit TO_CHAR/TO_TIMESTAMP
// formats in the account time zone (Config.TimeZone) and converted to UTC;
// the user's date-format preference is never involved. Deletions come from
// the deletedrecord table the same way and become tombstones; events and
// deletions are scanned side by side. Attendees and resources come, per
// Config.Attendees, from the SuiteQL attendee/resource tables (two queries
// per page, run in parallel, their later pages fetched in parallel once the
// first page's totalResults is known), from the REST record API (one GET
// per event, at most RESTConcurrency at once), or not at all. While one page
// is completed and published, the next page is already being fetched (its
// keyset range starts after the current page's last row). Custom fields
// (custevent_*) travel in the raw row (ce.*).
//
// Requests. Every request goes through the account's limiter (see package
// governor) and the client's retries (see package netsuite). A scan makes
// one request per page and none after a page whose hasMore is false (a full
// page without hasMore asks once more only when totalResults does not
// settle it). Measured against the sandbox with 200 ms latency and a budget
// of 4 (BenchmarkExtract): 1.01 requests per 1,000 events with attendees
// off, about 5 with attendees from SuiteQL.
//
// Cursor. Per account, two cursors (events, deletions) live in the KV bucket
// netsuite_state under cursor.<account token>.<events|deleted>. A cursor is
// (lastModified UTC, id) of the last row whose raw message the server has
// stored: it is saved only after the page's publishes are acknowledged (with
// a context detached from the pass, so a stored page is recorded even while
// the pass is cancelled), so a crash re-reads at most one page. Saves are
// compare-and-set and never move a cursor back. Every incremental pass starts
// Config.Overlap before the cursor, inclusive of that second, so an edit
// committed late or within the same second is never lost; the duplicates
// this re-reads are dropped by Nats-Msg-Id and by the loader's version guard.
//
// Backfill. The first pass of an account (no events cursor yet), and the
// first pass after Config.Since is set (until a backfill of the same
// [Since, Until] has finished), read the range in windows in parallel, up to
// Config.Concurrency windows at once, within the account limiter. The plan
// lives under backfill.<account token>: the configured bounds, End (Until,
// or the time the backfill started, kept across restarts) and the window
// size. Windows are planned by row count, not by time, so they are equal
// whatever the distribution of lastModified: the first page (offset 0)
// gives the range's totalResults, which sets the window size (Config.
// WindowRows, or the rest split Concurrency ways; whole pages, at most
// 100,000 because of SuiteQL's offset cap); each window's last page is then
// read directly at offset size-PageSize after the previous window, stored,
// and bounds the window (the window is the events strictly before that
// page's first row). So planning costs no request beyond the pages a
// sequential read makes, and only the last window can end with a partial
// page. Each window is read with keyset pages and checkpointed under
// cursor.<account token>.backfill.<from>-<before> (a record with a cursor's
// fields plus its bounds and a done flag). After a crash, the next pass
// resumes the plan: finished windows are skipped, unfinished ones continue
// after their cursor, and planning continues where it stopped. When every
// window is read, the plan is marked done, the window records are removed,
// and the events cursor is moved to End, where incremental passes continue
// (starting Overlap before it). The pass's own catch-up read from End (what
// the next incremental pass would read) runs beside the windows, in the
// request slots their planning leaves free, and moves the cursor only after
// the backfill has. Readers beyond the account's request budget
// (Config.RequestSlots) keep its slots busy while pages are published; at
// most RequestSlots pages are published at once, so memory follows the
// budget, not the number of readers. Until, when set, also bounds every later
// pass; with Until unset, incremental polling goes on past End.
//
// Concurrency. Extractor replicas of one account elect a leader through a
// lease in the netsuite_leases bucket; only the leader polls (RunAsLeader),
// and a one-shot pass waits for the lease too (Lease.Do), so it never runs
// beside a leader. Every NetSuite request goes through the account's
// limiter, shared by all replicas through KV.
//
// Failure. An account whose refresh token has expired (invalid_grant) stops
// polling: Pass and Run return an error wrapping
// netsuite.ErrReauthorizationRequired, Stats().Reauthorize is set, and the
// token source makes no further request until the credentials change;
// package pipeline reports it (readiness, metric, an Error log with the
// command to run) and resumes the account when new credentials appear.
// Other accounts and stages go on. Other errors are retried by the NetSuite
// client; a pass that still fails is logged and retried at the next poll,
// from the saved cursors.
package extractor
