-- nsflow SQLite sink schema v1. Instants are RFC 3339 UTC text of fixed width
-- (2006-01-02T15:04:05.000000000Z) so that text order is time order.
-- Booleans are 0/1. JSON columns are text checked with json_valid.

CREATE TABLE calendar_events (
    account          TEXT    NOT NULL CONSTRAINT calendar_events_account_check CHECK (length(account) BETWEEN 1 AND 64),
    id               TEXT    NOT NULL CONSTRAINT calendar_events_id_check CHECK (length(id) BETWEEN 1 AND 64),
    external_id      TEXT,
    title            TEXT,
    message_html     TEXT,
    message_text     TEXT,
    location         TEXT,
    status           TEXT,
    status_name      TEXT,
    access_level     TEXT,
    reminder_type    TEXT,
    reminder_minutes INTEGER,
    recurrence       TEXT,
    organizer_id     TEXT,
    organizer_name   TEXT,
    owner_id         TEXT,
    owner_name       TEXT,
    company_id       TEXT,
    company_name     TEXT,
    contact_id       TEXT,
    contact_name     TEXT,
    support_case_id  TEXT,
    transaction_id   TEXT,
    related_item_id  TEXT,
    start_at         TEXT,
    end_at           TEXT,
    all_day          INTEGER NOT NULL CHECK (all_day IN (0, 1)),
    timed            INTEGER NOT NULL CHECK (timed IN (0, 1)),
    local_date       TEXT,
    local_start_time TEXT,
    local_end_time   TEXT,
    time_zone        TEXT,
    custom_fields    TEXT    CHECK (custom_fields IS NULL OR json_valid(custom_fields)),
    extra            TEXT    CHECK (extra IS NULL OR json_valid(extra)),
    deleted          INTEGER NOT NULL DEFAULT 0 CHECK (deleted IN (0, 1)),
    deleted_at       TEXT,
    created_at       TEXT,
    last_modified_at TEXT    NOT NULL,
    raw_sequence     INTEGER NOT NULL CHECK (raw_sequence >= 0),
    extracted_at     TEXT,
    loaded_at        TEXT    NOT NULL,
    event_json       TEXT    NOT NULL,
    PRIMARY KEY (account, id)
) STRICT;

CREATE INDEX calendar_events_last_modified_at_idx ON calendar_events (last_modified_at);
CREATE INDEX calendar_events_start_at_idx ON calendar_events (start_at);
CREATE INDEX calendar_events_organizer_idx ON calendar_events (account, organizer_id);
CREATE INDEX calendar_events_company_idx ON calendar_events (account, company_id);

CREATE TABLE calendar_event_attendees (
    account     TEXT NOT NULL,
    event_id    TEXT NOT NULL,
    entity_id   TEXT NOT NULL,
    entity_name TEXT,
    entity_type TEXT,
    attendance  TEXT,
    response    TEXT,
    PRIMARY KEY (account, event_id, entity_id),
    FOREIGN KEY (account, event_id) REFERENCES calendar_events (account, id) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;

CREATE INDEX calendar_event_attendees_entity_idx ON calendar_event_attendees (account, entity_id);

-- Deletions seen in DeleteRow mode: the version (deleted_at = the tombstone's
-- last_modified_at, raw_sequence) that an upsert must beat to recreate a row.
CREATE TABLE calendar_event_tombstones (
    account      TEXT    NOT NULL,
    id           TEXT    NOT NULL,
    deleted_at   TEXT    NOT NULL,
    raw_sequence INTEGER NOT NULL,
    loaded_at    TEXT    NOT NULL,
    PRIMARY KEY (account, id)
) STRICT;
