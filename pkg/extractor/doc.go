// Package extractor is the only stage that talks to NetSuite. For one account
// it reads every calendar event created, changed or deleted since its cursor
// and publishes each as one raw message (see package calendarevent).
//
// # Contract
//
// Reads. Events come from SuiteQL in pages of up to 1,000 rows, ordered by
// (lastmodifieddate, id) with keyset pagination (never OFFSET over the event
// table), so NetSuite's 100,000-row cap cannot truncate a sync. Timestamps are
// read and compared with explicit TO_CHAR/TO_TIMESTAMP formats in the account
// time zone (Config.TimeZone) and converted to UTC; the user's date-format
// preference is never involved. Deletions come from the deletedrecord table
// the same way and become tombstones. Attendees and resources come, per
// Config.Attendees, from the SuiteQL attendee/resource tables (one extra query
// per page), from the REST record API (one GET per event, bounded by the
// account's concurrency limiter), or not at all.
//
// Cursor. Per account, two cursors (events, deletions) live in the KV bucket
// netsuite_state under cursor.<account token>.<events|deleted>. A cursor is
// (lastModified UTC, id) of the last row whose raw message the server has
// stored: it is saved only after the page's publishes are acknowledged, so a
// crash re-reads at most one page. Every pass starts Config.Overlap before the
// cursor, so an edit committed late or within the same second is never lost;
// the duplicates this re-reads are dropped by Nats-Msg-Id and by the loader's
// version guard.
//
// Concurrency. Extractor replicas of one account elect a leader through a
// lease in the netsuite_leases bucket; only the leader polls. Every NetSuite
// request goes through the account's limiter (see package governor).
//
// Failure. An account whose refresh token has expired (invalid_grant) stops
// polling and reports ErrReauthorizationRequired through its status and
// metrics; other accounts and stages go on. Other errors are retried by the
// NetSuite client; a pass that still fails is logged and retried at the next
// poll, from the saved cursor.
package extractor
