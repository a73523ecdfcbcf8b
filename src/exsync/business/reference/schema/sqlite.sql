-- exsync reference business database: SQLite.
-- Statements are separated by lines reading exactly "-- statement" (see create_schema).
-- Timestamps (updated_at, done_at, sent_at, ...) are UTC ISO-8601 text: 2026-11-21T14:03:00Z.
-- Event times (starts_at, ends_at, due_at, original_start) are local wall time text.
-- Triggers keep the change feed complete when the business application writes with plain SQL:
-- * updated_at moves to now on an update that does not set it (companies, people, activities);
-- * a change to a child row (activity_attendees, activity_exceptions, company_domains) moves its
--   parent's updated_at forward, so an incremental listing by updated_at sees the parent changed;
-- * a hard delete of a companies, people or activities row leaves a row in exsync_tombstones, from
--   which the SQL connector reports the delete in an incremental listing.
-- The child triggers only ever move updated_at forward (never back from a later value), and the
-- update they make sets updated_at, so the parent's own updated_at trigger leaves it alone.
-- statement
CREATE TABLE staff (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    code TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    email TEXT NOT NULL UNIQUE,
    active INTEGER NOT NULL DEFAULT 1,
    time_zone TEXT NOT NULL DEFAULT 'UTC'
)
-- statement
CREATE TABLE companies (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    kind TEXT NOT NULL DEFAULT 'client',
    phone TEXT,
    website TEXT,
    street TEXT,
    city TEXT,
    region TEXT,
    postal_code TEXT,
    country TEXT,
    owner_id INTEGER REFERENCES staff (id),
    notes TEXT,
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    deleted INTEGER NOT NULL DEFAULT 0
)
-- statement
CREATE INDEX ix_companies_updated_at ON companies (updated_at)
-- statement
CREATE INDEX ix_companies_owner_id ON companies (owner_id)
-- statement
CREATE TABLE company_domains (
    company_id INTEGER NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    domain TEXT NOT NULL,
    PRIMARY KEY (company_id, domain)
)
-- statement
CREATE INDEX ix_company_domains_domain ON company_domains (domain)
-- statement
CREATE TABLE people (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    company_id INTEGER REFERENCES companies (id) ON DELETE SET NULL,
    first_name TEXT,
    last_name TEXT,
    title TEXT,
    job_title TEXT,
    department TEXT,
    email TEXT,
    email2 TEXT,
    email3 TEXT,
    email4 TEXT,
    phone_work TEXT,
    phone_work2 TEXT,
    phone_mobile TEXT,
    phone_home TEXT,
    street TEXT,
    city TEXT,
    region TEXT,
    postal_code TEXT,
    country TEXT,
    birthday TEXT,
    notes TEXT,
    categories TEXT,
    private INTEGER NOT NULL DEFAULT 0,
    owner_id INTEGER REFERENCES staff (id),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    deleted INTEGER NOT NULL DEFAULT 0
)
-- statement
CREATE INDEX ix_people_updated_at ON people (updated_at)
-- statement
CREATE INDEX ix_people_company_id ON people (company_id)
-- statement
CREATE INDEX ix_people_owner_id ON people (owner_id)
-- statement
CREATE INDEX ix_people_email ON people (email)
-- statement
CREATE TABLE activities (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL DEFAULT 'event',
    type TEXT,
    series TEXT,
    subject TEXT,
    details TEXT,
    location TEXT,
    starts_at TEXT,
    ends_at TEXT,
    all_day INTEGER NOT NULL DEFAULT 0,
    time_zone TEXT,
    recurrence TEXT,
    due_at TEXT,
    reminder_minutes INTEGER,
    priority TEXT NOT NULL DEFAULT 'normal',
    status TEXT NOT NULL DEFAULT 'confirmed',
    done INTEGER NOT NULL DEFAULT 0,
    done_at TEXT,
    private INTEGER NOT NULL DEFAULT 0,
    staff_id INTEGER REFERENCES staff (id),
    person_id INTEGER REFERENCES people (id) ON DELETE SET NULL,
    company_id INTEGER REFERENCES companies (id) ON DELETE SET NULL,
    matter TEXT,
    ical_uid TEXT,
    organizer_email TEXT,
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    deleted INTEGER NOT NULL DEFAULT 0
)
-- statement
CREATE INDEX ix_activities_staff_id_kind ON activities (staff_id, kind)
-- statement
CREATE INDEX ix_activities_updated_at ON activities (updated_at)
-- statement
CREATE INDEX ix_activities_ical_uid ON activities (ical_uid)
-- statement
CREATE INDEX ix_activities_person_id ON activities (person_id)
-- statement
CREATE INDEX ix_activities_company_id ON activities (company_id)
-- statement
CREATE TABLE activity_attendees (
    activity_id INTEGER NOT NULL REFERENCES activities (id) ON DELETE CASCADE,
    email TEXT NOT NULL,
    name TEXT,
    role TEXT NOT NULL DEFAULT 'required',
    response TEXT NOT NULL DEFAULT 'none',
    PRIMARY KEY (activity_id, email)
)
-- statement
CREATE TABLE activity_exceptions (
    activity_id INTEGER NOT NULL REFERENCES activities (id) ON DELETE CASCADE,
    original_start TEXT NOT NULL,
    cancelled INTEGER NOT NULL DEFAULT 0,
    starts_at TEXT,
    ends_at TEXT,
    subject TEXT,
    location TEXT,
    PRIMARY KEY (activity_id, original_start)
)
-- statement
CREATE TABLE emails (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    internet_message_id TEXT,
    fingerprint TEXT,
    subject TEXT,
    sender_email TEXT,
    sender_name TEXT,
    sent_at TEXT,
    received_at TEXT,
    body_text TEXT,
    body_html TEXT,
    has_attachments INTEGER NOT NULL DEFAULT 0,
    size_bytes INTEGER,
    conversation_id TEXT,
    in_reply_to TEXT,
    raw_mime BLOB
)
-- statement
CREATE INDEX ix_emails_internet_message_id ON emails (internet_message_id)
-- statement
CREATE INDEX ix_emails_fingerprint ON emails (fingerprint)
-- statement
CREATE INDEX ix_emails_conversation_id ON emails (conversation_id)
-- statement
CREATE TABLE email_recipients (
    email_id INTEGER NOT NULL REFERENCES emails (id) ON DELETE CASCADE,
    kind TEXT NOT NULL DEFAULT 'to',
    address TEXT NOT NULL,
    name TEXT
)
-- statement
CREATE INDEX ix_email_recipients_email_id ON email_recipients (email_id)
-- statement
CREATE INDEX ix_email_recipients_address ON email_recipients (address)
-- statement
CREATE TABLE email_mailboxes (
    email_id INTEGER NOT NULL REFERENCES emails (id) ON DELETE CASCADE,
    staff_id INTEGER NOT NULL REFERENCES staff (id),
    folder TEXT,
    direction TEXT NOT NULL DEFAULT 'received',
    mailbox_item_id TEXT,
    archived_at TEXT
)
-- statement
CREATE INDEX ix_email_mailboxes_email_id ON email_mailboxes (email_id)
-- statement
CREATE INDEX ix_email_mailboxes_staff_id ON email_mailboxes (staff_id)
-- statement
CREATE TABLE email_links (
    email_id INTEGER NOT NULL REFERENCES emails (id) ON DELETE CASCADE,
    person_id INTEGER REFERENCES people (id) ON DELETE CASCADE,
    company_id INTEGER REFERENCES companies (id) ON DELETE CASCADE,
    rule TEXT NOT NULL DEFAULT 'manual',
    detail TEXT
)
-- statement
CREATE INDEX ix_email_links_email_id ON email_links (email_id)
-- statement
CREATE INDEX ix_email_links_person_id ON email_links (person_id)
-- statement
CREATE INDEX ix_email_links_company_id ON email_links (company_id)
-- statement
CREATE TABLE email_attachments (
    email_id INTEGER NOT NULL REFERENCES emails (id) ON DELETE CASCADE,
    name TEXT,
    content_type TEXT,
    size_bytes INTEGER,
    content BLOB
)
-- statement
CREATE INDEX ix_email_attachments_email_id ON email_attachments (email_id)
-- statement
CREATE TRIGGER tr_companies_updated_at AFTER UPDATE ON companies
FOR EACH ROW WHEN NEW.updated_at IS OLD.updated_at
    AND NEW.updated_at IS NOT strftime('%Y-%m-%dT%H:%M:%SZ', 'now')
BEGIN
    UPDATE companies SET updated_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now') WHERE id = NEW.id;
END
-- statement
CREATE TRIGGER tr_people_updated_at AFTER UPDATE ON people
FOR EACH ROW WHEN NEW.updated_at IS OLD.updated_at
    AND NEW.updated_at IS NOT strftime('%Y-%m-%dT%H:%M:%SZ', 'now')
BEGIN
    UPDATE people SET updated_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now') WHERE id = NEW.id;
END
-- statement
CREATE TRIGGER tr_activities_updated_at AFTER UPDATE ON activities
FOR EACH ROW WHEN NEW.updated_at IS OLD.updated_at
    AND NEW.updated_at IS NOT strftime('%Y-%m-%dT%H:%M:%SZ', 'now')
BEGIN
    UPDATE activities SET updated_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now') WHERE id = NEW.id;
END
-- statement
CREATE TABLE exsync_tombstones (
    table_name TEXT NOT NULL,
    row_key TEXT NOT NULL,
    deleted_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
)
-- statement
CREATE INDEX ix_exsync_tombstones_table_name_deleted_at ON exsync_tombstones (table_name, deleted_at)
-- statement
CREATE TRIGGER tr_companies_tombstone AFTER DELETE ON companies
FOR EACH ROW BEGIN
    INSERT INTO exsync_tombstones (table_name, row_key, deleted_at)
    VALUES ('companies', CAST(OLD.id AS TEXT), strftime('%Y-%m-%dT%H:%M:%SZ', 'now'));
END
-- statement
CREATE TRIGGER tr_people_tombstone AFTER DELETE ON people
FOR EACH ROW BEGIN
    INSERT INTO exsync_tombstones (table_name, row_key, deleted_at)
    VALUES ('people', CAST(OLD.id AS TEXT), strftime('%Y-%m-%dT%H:%M:%SZ', 'now'));
END
-- statement
CREATE TRIGGER tr_activities_tombstone AFTER DELETE ON activities
FOR EACH ROW BEGIN
    INSERT INTO exsync_tombstones (table_name, row_key, deleted_at)
    VALUES ('activities', CAST(OLD.id AS TEXT), strftime('%Y-%m-%dT%H:%M:%SZ', 'now'));
END
-- statement
CREATE TRIGGER tr_activity_attendees_touch_insert AFTER INSERT ON activity_attendees
FOR EACH ROW BEGIN
    UPDATE activities SET updated_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now')
    WHERE id = NEW.activity_id AND updated_at < strftime('%Y-%m-%dT%H:%M:%SZ', 'now');
END
-- statement
CREATE TRIGGER tr_activity_attendees_touch_update AFTER UPDATE ON activity_attendees
FOR EACH ROW BEGIN
    UPDATE activities SET updated_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now')
    WHERE id IN (OLD.activity_id, NEW.activity_id) AND updated_at < strftime('%Y-%m-%dT%H:%M:%SZ', 'now');
END
-- statement
CREATE TRIGGER tr_activity_attendees_touch_delete AFTER DELETE ON activity_attendees
FOR EACH ROW BEGIN
    UPDATE activities SET updated_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now')
    WHERE id = OLD.activity_id AND updated_at < strftime('%Y-%m-%dT%H:%M:%SZ', 'now');
END
-- statement
CREATE TRIGGER tr_activity_exceptions_touch_insert AFTER INSERT ON activity_exceptions
FOR EACH ROW BEGIN
    UPDATE activities SET updated_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now')
    WHERE id = NEW.activity_id AND updated_at < strftime('%Y-%m-%dT%H:%M:%SZ', 'now');
END
-- statement
CREATE TRIGGER tr_activity_exceptions_touch_update AFTER UPDATE ON activity_exceptions
FOR EACH ROW BEGIN
    UPDATE activities SET updated_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now')
    WHERE id IN (OLD.activity_id, NEW.activity_id) AND updated_at < strftime('%Y-%m-%dT%H:%M:%SZ', 'now');
END
-- statement
CREATE TRIGGER tr_activity_exceptions_touch_delete AFTER DELETE ON activity_exceptions
FOR EACH ROW BEGIN
    UPDATE activities SET updated_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now')
    WHERE id = OLD.activity_id AND updated_at < strftime('%Y-%m-%dT%H:%M:%SZ', 'now');
END
-- statement
CREATE TRIGGER tr_company_domains_touch_insert AFTER INSERT ON company_domains
FOR EACH ROW BEGIN
    UPDATE companies SET updated_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now')
    WHERE id = NEW.company_id AND updated_at < strftime('%Y-%m-%dT%H:%M:%SZ', 'now');
END
-- statement
CREATE TRIGGER tr_company_domains_touch_update AFTER UPDATE ON company_domains
FOR EACH ROW BEGIN
    UPDATE companies SET updated_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now')
    WHERE id IN (OLD.company_id, NEW.company_id) AND updated_at < strftime('%Y-%m-%dT%H:%M:%SZ', 'now');
END
-- statement
CREATE TRIGGER tr_company_domains_touch_delete AFTER DELETE ON company_domains
FOR EACH ROW BEGIN
    UPDATE companies SET updated_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now')
    WHERE id = OLD.company_id AND updated_at < strftime('%Y-%m-%dT%H:%M:%SZ', 'now');
END
