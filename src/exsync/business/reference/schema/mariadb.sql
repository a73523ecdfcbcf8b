-- exsync reference business database: MariaDB.
-- Statements are separated by lines reading exactly "-- statement" (see create_schema).
-- Timestamps are DATETIME(6) in UTC (the session time zone must be UTC for the defaults);
-- event times (starts_at, ends_at, due_at, original_start) are local wall time text.
-- The schema keeps the change feed complete when the business application writes with plain SQL:
-- * updated_at moves to now on an update that does not set it (ON UPDATE CURRENT_TIMESTAMP(6));
-- * a change to a child row (activity_attendees, activity_exceptions, company_domains) moves its
--   parent's updated_at forward (triggers), so an incremental listing by updated_at sees the parent changed;
-- * a hard delete of a companies, people or activities row leaves a row in exsync_tombstones (triggers),
--   from which the SQL connector reports the delete in an incremental listing (TRUNCATE leaves none).
-- The child triggers only ever move updated_at forward (never back from a later value). A MariaDB trigger
-- has one event, hence one per INSERT, UPDATE and DELETE (several per event are allowed since 10.2.3;
-- FOLLOWS/PRECEDES only orders them). CURRENT_TIMESTAMP(6) is the start of the triggering statement, so
-- a multi-row statement touches a parent once. MariaDB limits: foreign-key cascades fire no triggers
-- (harmless: a cascade only removes the children of a parent being deleted), and a statement on a child
-- table may not read its parent (INSERT INTO activity_attendees ... SELECT ... FROM activities fails
-- with error 1442): read the parent first, then write the children.
-- statement
CREATE TABLE staff (
    id INTEGER NOT NULL AUTO_INCREMENT PRIMARY KEY,
    code VARCHAR(255) NOT NULL UNIQUE,
    name VARCHAR(255) NOT NULL,
    email VARCHAR(255) NOT NULL UNIQUE,
    active TINYINT NOT NULL DEFAULT 1,
    time_zone VARCHAR(255) NOT NULL DEFAULT 'UTC'
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4
-- statement
CREATE TABLE companies (
    id INTEGER NOT NULL AUTO_INCREMENT PRIMARY KEY,
    name VARCHAR(255) NOT NULL,
    kind VARCHAR(255) NOT NULL DEFAULT 'client',
    phone VARCHAR(255),
    website VARCHAR(255),
    street VARCHAR(255),
    city VARCHAR(255),
    region VARCHAR(255),
    postal_code VARCHAR(255),
    country VARCHAR(255),
    owner_id INTEGER REFERENCES staff (id),
    notes TEXT,
    updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
    deleted TINYINT NOT NULL DEFAULT 0
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4
-- statement
CREATE INDEX ix_companies_updated_at ON companies (updated_at)
-- statement
CREATE INDEX ix_companies_owner_id ON companies (owner_id)
-- statement
CREATE TABLE company_domains (
    company_id INTEGER NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    domain VARCHAR(255) NOT NULL,
    PRIMARY KEY (company_id, domain)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4
-- statement
CREATE INDEX ix_company_domains_domain ON company_domains (domain)
-- statement
CREATE TABLE people (
    id INTEGER NOT NULL AUTO_INCREMENT PRIMARY KEY,
    company_id INTEGER REFERENCES companies (id) ON DELETE SET NULL,
    first_name VARCHAR(255),
    last_name VARCHAR(255),
    title VARCHAR(255),
    job_title VARCHAR(255),
    department VARCHAR(255),
    email VARCHAR(255),
    email2 VARCHAR(255),
    email3 VARCHAR(255),
    email4 VARCHAR(255),
    phone_work VARCHAR(255),
    phone_work2 VARCHAR(255),
    phone_mobile VARCHAR(255),
    phone_home VARCHAR(255),
    street VARCHAR(255),
    city VARCHAR(255),
    region VARCHAR(255),
    postal_code VARCHAR(255),
    country VARCHAR(255),
    birthday DATE,
    notes TEXT,
    categories VARCHAR(255),
    private TINYINT NOT NULL DEFAULT 0,
    owner_id INTEGER REFERENCES staff (id),
    updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
    deleted TINYINT NOT NULL DEFAULT 0
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4
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
    id INTEGER NOT NULL AUTO_INCREMENT PRIMARY KEY,
    kind VARCHAR(255) NOT NULL DEFAULT 'event',
    type VARCHAR(255),
    series VARCHAR(255),
    subject VARCHAR(255),
    details TEXT,
    location VARCHAR(255),
    starts_at VARCHAR(255),
    ends_at VARCHAR(255),
    all_day TINYINT NOT NULL DEFAULT 0,
    time_zone VARCHAR(255),
    recurrence VARCHAR(255),
    due_at VARCHAR(255),
    reminder_minutes INTEGER,
    priority VARCHAR(255) NOT NULL DEFAULT 'normal',
    status VARCHAR(255) NOT NULL DEFAULT 'confirmed',
    done TINYINT NOT NULL DEFAULT 0,
    done_at DATETIME(6),
    private TINYINT NOT NULL DEFAULT 0,
    staff_id INTEGER REFERENCES staff (id),
    person_id INTEGER REFERENCES people (id) ON DELETE SET NULL,
    company_id INTEGER REFERENCES companies (id) ON DELETE SET NULL,
    matter VARCHAR(255),
    ical_uid VARCHAR(255),
    organizer_email VARCHAR(255),
    updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
    deleted TINYINT NOT NULL DEFAULT 0
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4
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
    email VARCHAR(255) NOT NULL,
    name VARCHAR(255),
    role VARCHAR(255) NOT NULL DEFAULT 'required',
    response VARCHAR(255) NOT NULL DEFAULT 'none',
    PRIMARY KEY (activity_id, email)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4
-- statement
CREATE TABLE activity_exceptions (
    activity_id INTEGER NOT NULL REFERENCES activities (id) ON DELETE CASCADE,
    original_start VARCHAR(255) NOT NULL,
    cancelled TINYINT NOT NULL DEFAULT 0,
    starts_at VARCHAR(255),
    ends_at VARCHAR(255),
    subject VARCHAR(255),
    location VARCHAR(255),
    PRIMARY KEY (activity_id, original_start)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4
-- statement
CREATE TABLE emails (
    id INTEGER NOT NULL AUTO_INCREMENT PRIMARY KEY,
    internet_message_id VARCHAR(255),
    fingerprint VARCHAR(255),
    subject VARCHAR(255),
    sender_email VARCHAR(255),
    sender_name VARCHAR(255),
    sent_at DATETIME(6),
    received_at DATETIME(6),
    body_text TEXT,
    body_html LONGTEXT,
    has_attachments TINYINT NOT NULL DEFAULT 0,
    size_bytes INTEGER,
    conversation_id VARCHAR(255),
    in_reply_to VARCHAR(255),
    raw_mime LONGBLOB
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4
-- statement
CREATE INDEX ix_emails_internet_message_id ON emails (internet_message_id)
-- statement
CREATE INDEX ix_emails_fingerprint ON emails (fingerprint)
-- statement
CREATE INDEX ix_emails_conversation_id ON emails (conversation_id)
-- statement
CREATE TABLE email_recipients (
    email_id INTEGER NOT NULL REFERENCES emails (id) ON DELETE CASCADE,
    kind VARCHAR(255) NOT NULL DEFAULT 'to',
    address VARCHAR(255) NOT NULL,
    name VARCHAR(255)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4
-- statement
CREATE INDEX ix_email_recipients_email_id ON email_recipients (email_id)
-- statement
CREATE INDEX ix_email_recipients_address ON email_recipients (address)
-- statement
CREATE TABLE email_mailboxes (
    email_id INTEGER NOT NULL REFERENCES emails (id) ON DELETE CASCADE,
    staff_id INTEGER NOT NULL REFERENCES staff (id),
    folder VARCHAR(255),
    direction VARCHAR(255) NOT NULL DEFAULT 'received',
    mailbox_item_id VARCHAR(255),
    archived_at DATETIME(6)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4
-- statement
CREATE INDEX ix_email_mailboxes_email_id ON email_mailboxes (email_id)
-- statement
CREATE INDEX ix_email_mailboxes_staff_id ON email_mailboxes (staff_id)
-- statement
CREATE TABLE email_links (
    email_id INTEGER NOT NULL REFERENCES emails (id) ON DELETE CASCADE,
    person_id INTEGER REFERENCES people (id) ON DELETE CASCADE,
    company_id INTEGER REFERENCES companies (id) ON DELETE CASCADE,
    rule VARCHAR(255) NOT NULL DEFAULT 'manual',
    detail VARCHAR(255)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4
-- statement
CREATE INDEX ix_email_links_email_id ON email_links (email_id)
-- statement
CREATE INDEX ix_email_links_person_id ON email_links (person_id)
-- statement
CREATE INDEX ix_email_links_company_id ON email_links (company_id)
-- statement
CREATE TABLE email_attachments (
    email_id INTEGER NOT NULL REFERENCES emails (id) ON DELETE CASCADE,
    name VARCHAR(255),
    content_type VARCHAR(255),
    size_bytes INTEGER,
    content LONGBLOB
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4
-- statement
CREATE INDEX ix_email_attachments_email_id ON email_attachments (email_id)
-- statement
CREATE TABLE exsync_tombstones (
    table_name VARCHAR(64) NOT NULL,
    row_key VARCHAR(64) NOT NULL,
    deleted_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4
-- statement
CREATE INDEX ix_exsync_tombstones_table_name_deleted_at ON exsync_tombstones (table_name, deleted_at)
-- statement
CREATE TRIGGER tr_companies_tombstone AFTER DELETE ON companies
FOR EACH ROW INSERT INTO exsync_tombstones (table_name, row_key, deleted_at)
VALUES ('companies', CAST(OLD.id AS CHAR), CURRENT_TIMESTAMP(6))
-- statement
CREATE TRIGGER tr_people_tombstone AFTER DELETE ON people
FOR EACH ROW INSERT INTO exsync_tombstones (table_name, row_key, deleted_at)
VALUES ('people', CAST(OLD.id AS CHAR), CURRENT_TIMESTAMP(6))
-- statement
CREATE TRIGGER tr_activities_tombstone AFTER DELETE ON activities
FOR EACH ROW INSERT INTO exsync_tombstones (table_name, row_key, deleted_at)
VALUES ('activities', CAST(OLD.id AS CHAR), CURRENT_TIMESTAMP(6))
-- statement
CREATE TRIGGER tr_activity_attendees_touch_insert AFTER INSERT ON activity_attendees
FOR EACH ROW UPDATE activities SET updated_at = CURRENT_TIMESTAMP(6)
WHERE id = NEW.activity_id AND updated_at < CURRENT_TIMESTAMP(6)
-- statement
CREATE TRIGGER tr_activity_attendees_touch_update AFTER UPDATE ON activity_attendees
FOR EACH ROW UPDATE activities SET updated_at = CURRENT_TIMESTAMP(6)
WHERE id IN (OLD.activity_id, NEW.activity_id) AND updated_at < CURRENT_TIMESTAMP(6)
-- statement
CREATE TRIGGER tr_activity_attendees_touch_delete AFTER DELETE ON activity_attendees
FOR EACH ROW UPDATE activities SET updated_at = CURRENT_TIMESTAMP(6)
WHERE id = OLD.activity_id AND updated_at < CURRENT_TIMESTAMP(6)
-- statement
CREATE TRIGGER tr_activity_exceptions_touch_insert AFTER INSERT ON activity_exceptions
FOR EACH ROW UPDATE activities SET updated_at = CURRENT_TIMESTAMP(6)
WHERE id = NEW.activity_id AND updated_at < CURRENT_TIMESTAMP(6)
-- statement
CREATE TRIGGER tr_activity_exceptions_touch_update AFTER UPDATE ON activity_exceptions
FOR EACH ROW UPDATE activities SET updated_at = CURRENT_TIMESTAMP(6)
WHERE id IN (OLD.activity_id, NEW.activity_id) AND updated_at < CURRENT_TIMESTAMP(6)
-- statement
CREATE TRIGGER tr_activity_exceptions_touch_delete AFTER DELETE ON activity_exceptions
FOR EACH ROW UPDATE activities SET updated_at = CURRENT_TIMESTAMP(6)
WHERE id = OLD.activity_id AND updated_at < CURRENT_TIMESTAMP(6)
-- statement
CREATE TRIGGER tr_company_domains_touch_insert AFTER INSERT ON company_domains
FOR EACH ROW UPDATE companies SET updated_at = CURRENT_TIMESTAMP(6)
WHERE id = NEW.company_id AND updated_at < CURRENT_TIMESTAMP(6)
-- statement
CREATE TRIGGER tr_company_domains_touch_update AFTER UPDATE ON company_domains
FOR EACH ROW UPDATE companies SET updated_at = CURRENT_TIMESTAMP(6)
WHERE id IN (OLD.company_id, NEW.company_id) AND updated_at < CURRENT_TIMESTAMP(6)
-- statement
CREATE TRIGGER tr_company_domains_touch_delete AFTER DELETE ON company_domains
FOR EACH ROW UPDATE companies SET updated_at = CURRENT_TIMESTAMP(6)
WHERE id = OLD.company_id AND updated_at < CURRENT_TIMESTAMP(6)
