-- nsflow SQLite sink schema v2: calendar_events.attendees_digest records which
-- attendee set the row's attendee rows hold, so that a newer version with the
-- same attendees leaves them alone. It is the sink's own bookkeeping (a hash
-- of the set plus the version it was written with; NULL when unknown), not a
-- column to query.
ALTER TABLE calendar_events ADD COLUMN attendees_digest BLOB;
