"""The SQL connector on the reference schema: scope, change detection, deletes, dates, series,
bad rows, concurrent edits and company data — on SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlfirm import TODAY, Firm

from exsync.business.mapping import load_mapping
from exsync.business.sql import SqlBusiness, SqlConnector
from exsync.connector import Create, Delete, Deleted, Record, Scope, Update, Written
from exsync.connector.errors import Rejected, VersionConflict
from exsync.model import Contact, Event, Occurrence
from exsync.testing.conformance import written


def ids(connector: SqlConnector) -> set[str]:
    return {e.id for e in connector.changes(None).entries}


def one(connector: SqlConnector, id: str) -> Record:
    found = connector.fetch([id])
    assert id in found, f"{id} should exist"
    return found[id]


def insert(firm: Firm, table: str, **values: Any) -> int:
    """Insert a row as the business application does; its id."""
    columns = ", ".join(values)
    marks = ", ".join(f":{k}" for k in values)
    with firm.engine.begin() as conn:
        conn.execute(text(f"INSERT INTO {table} ({columns}) VALUES ({marks})"), values)
        return int(conn.scalar(text(f"SELECT MAX(id) FROM {table}")) or 0)


def person(firm: Firm, **values: Any) -> int:
    return insert(firm, "people", **{"first_name": "Ada", "last_name": "Lovelace", **values})


def event(firm: Firm, **values: Any) -> int:
    base = {
        "kind": "event", "type": "Meeting", "subject": "Review", "staff_id": 1,
        "time_zone": "Europe/London", "starts_at": "2026-03-20 10:00", "ends_at": "2026-03-20 11:00",
    }  # fmt: skip
    return insert(firm, "activities", **{**base, **values})


# -- scope ---------------------------------------------------------------------------------------


def test_contacts_scope_private_and_soft_deleted(firm: Firm) -> None:
    client = insert(firm, "companies", name="Acme Ltd", kind="client", owner_id=1)
    supplier = insert(firm, "companies", name="Bolts Inc", kind="supplier", owner_id=1)
    theirs = insert(firm, "companies", name="Crane AG", kind="client", owner_id=2)
    p_client = person(firm, company_id=client)
    p_supplier = person(firm, company_id=supplier)
    p_theirs = person(firm, company_id=theirs)
    private_other = person(firm, private=1, owner_id=2)
    private_mine = person(firm, private=1, owner_id=1)
    deleted = person(firm, deleted=1)

    contacts = firm.connector("contacts")
    pid = "people:{}".format
    assert ids(contacts) == {pid(p_client), pid(p_supplier), pid(p_theirs), pid(private_mine)}
    # the other staff member sees their private record, not this one's
    assert pid(private_other) in ids(firm.connector("contacts", code="CD"))
    assert pid(private_mine) not in ids(firm.connector("contacts", code="CD"))

    other = one(contacts, pid(private_other))
    assert (other.scope, other.scope_reason) == (Scope.FILTER, "a private record of another staff member")
    assert one(contacts, pid(deleted)).scope is Scope.DELETED

    # a sales rep: only the companies they own, never suppliers
    rep = firm.connector("contacts", filter='company.owner_id == me and company.kind != "supplier"')
    assert ids(rep) == {pid(p_client)}
    outside = one(rep, pid(p_supplier))
    assert outside.scope is Scope.FILTER and "contacts.filter" in outside.scope_reason
    assert ids(firm.connector("contacts", code="CD", filter="company.owner_id == me")) == {pid(p_theirs)}


def test_calendar_and_tasks_scope_kind_owner_type_series(firm: Firm) -> None:
    meeting = event(firm, series="LIT")
    sales = event(firm, type="Hearing", series="SALES")
    call = event(firm, type="Call")
    theirs = event(firm, staff_id=2)
    task = insert(
        firm, "activities", kind="task", type="To-do", subject="File it", staff_id=1, due_at="2026-03-21"
    )
    aid = "activities:{}".format

    calendar = firm.connector("calendar")
    assert ids(calendar) == {aid(meeting), aid(sales)}
    assert "calendar.types" in one(calendar, aid(call)).scope_reason
    assert one(calendar, aid(theirs)).scope_reason == "belongs to another staff member"
    assert one(calendar, aid(task)).scope is Scope.FILTER  # a task is not an event
    assert ids(firm.connector("calendar", series=("LIT",))) == {aid(meeting)}
    assert ids(firm.connector("calendar", types=("Call",))) == {aid(call)}
    assert ids(firm.connector("tasks")) == {aid(task)}
    assert ids(firm.connector("calendar", code="CD")) == {aid(theirs)}


def test_calendar_window(sqlite_firm: Firm) -> None:
    firm = sqlite_firm
    inside = event(firm)
    long_ago = event(firm, starts_at="2020-01-06 10:00", ends_at="2020-01-06 11:00")
    weekly = event(firm, starts_at="2020-01-06 10:00", ends_at="2020-01-06 11:00", recurrence="FREQ=WEEKLY")
    calendar = firm.connector("calendar")
    assert ids(calendar) == {f"activities:{inside}", f"activities:{weekly}"}  # a series runs into the window
    assert one(calendar, f"activities:{long_ago}").scope is Scope.WINDOW


# -- change detection ------------------------------------------------------------------------------


def test_watermark_overlap_picks_up_a_late_commit(firm: Firm) -> None:
    contacts = firm.connector("contacts")
    token = contacts.changes(None).token
    assert token is not None
    # A transaction that began a minute ago commits now: its updated_at is older than the token.
    late = person(firm, updated_at=firm.change_time(timedelta(seconds=-60)))
    # A row last changed an hour ago was there before the token: it is not listed again.
    person(firm, updated_at=firm.change_time(timedelta(hours=-1)))
    delta = contacts.changes(token)
    assert not delta.full
    assert [e.id for e in delta.entries] == [f"people:{late}"]
    assert delta.token is not None
    quiet = contacts.changes(delta.token)  # re-read from the overlap, same version: not reported again
    assert list(quiet.entries) == [] and list(quiet.removed) == []


def test_soft_delete_is_reported_removed(firm: Firm) -> None:
    contacts = firm.connector("contacts")
    kept, gone = person(firm), person(firm)
    token = contacts.changes(None).token
    assert token is not None
    firm.sql("UPDATE people SET deleted = 1 WHERE id = :id", id=gone)
    delta = contacts.changes(token)
    assert f"people:{gone}" in delta.removed and f"people:{kept}" not in delta.removed
    assert [e.id for e in delta.entries] == []
    assert one(contacts, f"people:{gone}").scope is Scope.DELETED


def test_hard_delete_without_a_tombstone_table_lists_everything(sqlite_firm: Firm) -> None:
    """Without tombstones, a drop in the row count turns the delta into a full listing: the engine
    then compares key sets and sees the row gone."""
    firm = sqlite_firm
    mapping = load_mapping("reference").model_copy(update={"tombstones": None})
    business = SqlBusiness.open(firm.url, mapping, today=TODAY)
    try:
        contacts = business.connector(firm.profile(), "contacts", firm.connector("contacts").settings)
        kept, gone = person(firm), person(firm)
        token = contacts.changes(None).token
        assert token is not None
        added = person(firm)  # new rows alone keep the delta a delta
        delta = contacts.changes(token)
        assert not delta.full and [e.id for e in delta.entries] == [f"people:{added}"]
        assert delta.token is not None
        firm.sql("DELETE FROM people WHERE id = :id", id=gone)
        after = contacts.changes(delta.token)
        assert after.full
        assert {e.id for e in after.entries} == {f"people:{kept}", f"people:{added}"}
    finally:
        business.close()


def test_company_rename_is_a_change_of_its_people(firm: Firm) -> None:
    acme = insert(firm, "companies", name="Acme Ltd", kind="client")
    member, other = person(firm, company_id=acme), person(firm)
    contacts = firm.connector("contacts")
    before = {e.id: e.version for e in contacts.changes(None).entries}
    token = contacts.changes(None).token
    assert token is not None
    time.sleep(1.1)  # SQLite's updated_at counts whole seconds
    firm.sql("UPDATE companies SET name = 'Acme Group' WHERE id = :id", id=acme)
    delta = contacts.changes(token)
    changed = {e.id: e.version for e in delta.entries}
    assert f"people:{member}" in changed and f"people:{other}" not in changed
    assert changed[f"people:{member}"] != before[f"people:{member}"]
    item = one(contacts, f"people:{member}").item
    assert isinstance(item, Contact) and item.company == "Acme Group"


# -- company data -----------------------------------------------------------------------------------


def test_company_address_travels_when_the_person_has_none(sqlite_firm: Firm) -> None:
    firm = sqlite_firm
    acme = insert(firm, "companies", name="Acme Ltd", street="1 Main St", city="Leeds", country="GB")
    bare = person(firm, company_id=acme)
    own = person(firm, company_id=acme, city="York")
    contacts = firm.connector("contacts")
    bare_item, own_item = one(contacts, f"people:{bare}").item, one(contacts, f"people:{own}").item
    assert isinstance(bare_item, Contact) and isinstance(own_item, Contact)
    assert (bare_item.street, bare_item.city, bare_item.company) == ("1 Main St", "Leeds", "Acme Ltd")
    assert (own_item.street, own_item.city) == ("", "York")
    # editing the shown address gives the person an address of their own, complete
    record = one(contacts, f"people:{bare}")
    written(contacts.apply([Update(record.id, {"city": "Bradford"}, record.version)]))
    row = firm.sql("SELECT street, city, country FROM people WHERE id = :id", id=bare)[0]
    assert tuple(row) == ("1 Main St", "Bradford", "GB")
    assert firm.sql("SELECT city FROM companies WHERE id = :id", id=acme)[0][0] == "Leeds"


def test_a_mailbox_company_name_links_by_normalised_name(firm: Firm) -> None:
    acme = insert(firm, "companies", name="Acme Ltd", kind="client")
    contacts = firm.connector("contacts")
    outcomes = contacts.apply([
        Create(Contact(last_name="One", company="ACME ltd."), "m1"),
        Create(Contact(last_name="Two", company="Zenith GmbH"), "m2"),
        Create(Contact(last_name="Three", company="zenith"), "m3"),
    ])  # fmt: skip
    assert all(isinstance(o, Written) for o in outcomes)
    rows = firm.sql("SELECT last_name, company_id FROM people ORDER BY id")
    companies = dict(firm.sql("SELECT id, name FROM companies"))
    assert rows[0][1] == acme
    assert rows[1][1] == rows[2][1] != acme
    assert companies[rows[1][1]] == "Zenith GmbH" and len(companies) == 2
    kind, owner = firm.sql("SELECT kind, owner_id FROM companies WHERE id = :id", id=rows[1][1])[0]
    assert (kind, owner) == ("prospect", 1)


# -- writing ----------------------------------------------------------------------------------------


def test_mailbox_items_become_rows_of_the_staff_member(firm: Firm) -> None:
    calendar = firm.connector("calendar")
    lunch = Event(subject="Lunch", start="2026-03-22 12:00", end="2026-03-22 13:00", time_zone="Europe/Paris")
    w = written(calendar.apply([Create(lunch, "AAMk1")]))
    key = int(w.id.split(":")[1])
    row = firm.sql("SELECT kind, type, staff_id, time_zone, deleted FROM activities WHERE id = :id", id=key)[
        0
    ]
    assert tuple(row) == ("event", "Appointment", 1, "Europe/Paris", 0)
    assert [r.id for r in calendar.find(["AAMk1"])["AAMk1"]] == [w.id]
    task = written(firm.connector("tasks").apply([Create(firm_task(), "AAMk2")]))
    row = firm.sql("SELECT kind, type FROM activities WHERE id = :id", id=int(task.id.split(":")[1]))[0]
    assert tuple(row) == ("task", "To-do")


def firm_task() -> Any:
    from exsync.model import Task

    return Task(subject="Call back", due="2026-03-25", priority="high")


def test_an_update_writes_only_the_patched_columns(firm: Firm) -> None:
    aid = event(firm, matter="M-7", location="Room 1", details="Agenda")
    calendar = firm.connector("calendar")
    record = one(calendar, f"activities:{aid}")
    written(calendar.apply([Update(record.id, {"location": "Room 2"}, record.version)]))
    row = firm.sql("SELECT location, details, matter, subject FROM activities WHERE id = :id", id=aid)[0]
    assert tuple(row) == ("Room 2", "Agenda", "M-7", "Review")


def test_all_day_events_hold_inclusive_last_days(firm: Firm) -> None:
    one_day = event(firm, all_day=1, starts_at="2026-03-20", ends_at="2026-03-20")
    three = event(firm, all_day=1, starts_at="2026-03-20", ends_at="2026-03-22")
    no_end = event(firm, all_day=1, starts_at="2026-03-24 00:00", ends_at=None)
    calendar = firm.connector("calendar")
    items = {k: one(calendar, f"activities:{k}").item for k in (one_day, three, no_end)}
    assert [(i.start, i.end, i.all_day) for i in items.values() if isinstance(i, Event)] == [
        ("2026-03-20", "2026-03-20", True),
        ("2026-03-20", "2026-03-22", True),
        ("2026-03-24", "2026-03-24", True),
    ]
    w = written(
        calendar.apply(
            [Create(Event(subject="Away", all_day=True, start="2026-03-27", end="2026-03-28"), "x")]
        )
    )
    row = firm.sql(
        "SELECT starts_at, ends_at, all_day FROM activities WHERE id = :id", id=int(w.id.split(":")[1])
    )
    assert tuple(row[0]) == ("2026-03-27", "2026-03-28", 1)


def test_recurrence_and_exceptions_round_trip(firm: Firm) -> None:
    calendar = firm.connector("calendar")
    series = Event(
        subject="Stand-up", start="2026-03-02 09:00", end="2026-03-02 09:15", time_zone="Europe/London",
        recurrence="FREQ=WEEKLY;BYDAY=MO;COUNT=10",
        exceptions=[
            Occurrence(original_start="2026-03-09 09:00", cancelled=True),
            Occurrence(original_start="2026-03-16 09:00", start="2026-03-17 10:00", end="2026-03-17 10:15",
                       location="Room 4"),
        ],
    )  # fmt: skip
    w = written(calendar.apply([Create(series, "AAMkS")]))
    key = int(w.id.split(":")[1])
    rows = firm.sql(
        "SELECT original_start, cancelled, starts_at, location FROM activity_exceptions"
        " WHERE activity_id = :id ORDER BY original_start",
        id=key,
    )
    assert [tuple(r) for r in rows] == [
        ("2026-03-09 09:00", 1, None, None),
        ("2026-03-16 09:00", 0, "2026-03-17 10:00", "Room 4"),
    ]
    record = one(calendar, w.id)
    assert record.version == w.version
    assert record.item.projection() == series.projection()
    # an exception added by the business application is a new version, read back whole
    time.sleep(1.1)
    firm.sql(
        "INSERT INTO activity_exceptions (activity_id, original_start, cancelled, subject)"
        " VALUES (:id, '2026-03-23 09:00', 0, 'Stand-up (long)')",
        id=key,
    )
    again = one(calendar, w.id)
    assert again.version != record.version
    assert isinstance(again.item, Event)
    assert [o.original_start for o in again.item.exceptions] == [
        "2026-03-09 09:00",
        "2026-03-16 09:00",
        "2026-03-23 09:00",
    ]
    # a patch of the exceptions replaces them
    patch = {
        "exceptions": [Occurrence(original_start="2026-03-30 09:00", cancelled=True).model_dump(mode="json")]
    }
    written(calendar.apply([Update(w.id, patch, again.version)]))
    rows = firm.sql(
        "SELECT original_start, cancelled FROM activity_exceptions WHERE activity_id = :id", id=key
    )
    assert [tuple(r) for r in rows] == [("2026-03-30 09:00", 1)]


def test_bad_rows_fail_alone_with_a_clear_error(firm: Firm) -> None:
    good = event(firm)
    no_start = event(firm, starts_at=None)
    bad_rule = event(firm, recurrence="FREQ=SOMETIMES")
    bad_date = event(firm, starts_at="2026-02-31 10:00")
    calendar = firm.connector("calendar")
    found = calendar.fetch([f"activities:{k}" for k in (good, no_start, bad_rule, bad_date)])
    assert found[f"activities:{good}"].scope is Scope.IN
    reasons = {k: found[f"activities:{k}"] for k in (no_start, bad_rule, bad_date)}
    assert all(r.scope is Scope.UNREADABLE for r in reasons.values())
    assert "starts_at is empty" in reasons[no_start].scope_reason
    assert "FREQ=SOMETIMES" in reasons[bad_rule].scope_reason and "RRULE" in reasons[bad_rule].scope_reason
    assert "starts_at" in reasons[bad_date].scope_reason and "2026-02-31" in reasons[bad_date].scope_reason
    assert all("Fix:" in r.scope_reason for r in reasons.values())
    # an update of an unreadable row is refused alone; the others in the batch go through
    ok, refused = calendar.apply([
        Update(f"activities:{good}", {"location": "Room 9"}, found[f"activities:{good}"].version),
        Update(f"activities:{bad_rule}", {"location": "Room 9"}, reasons[bad_rule].version),
    ])  # fmt: skip
    assert isinstance(ok, Written) and isinstance(refused, Rejected)
    assert "FREQ=SOMETIMES" in str(refused)


# -- concurrency ------------------------------------------------------------------------------------


def test_an_edit_by_another_connection_during_a_run_is_a_conflict(firm: Firm) -> None:
    contacts = firm.connector("contacts")
    pid = person(firm, job_title="Clerk")
    record = one(contacts, f"people:{pid}")
    # The business application holds the row in an open transaction while sync tries to write it.
    conn = firm.engine.connect()
    conn.begin()
    conn.execute(text("UPDATE people SET job_title = 'Partner' WHERE id = :id"), {"id": pid})
    committer = threading.Timer(0.5, lambda: (conn.commit(), conn.close()))
    committer.start()
    started = time.monotonic()
    [outcome] = contacts.apply([Update(record.id, {"job_title": "Analyst"}, record.version)])
    committer.join()
    assert time.monotonic() - started >= 0.4  # it waited for the other writer instead of failing
    assert isinstance(outcome, VersionConflict)
    assert firm.sql("SELECT job_title FROM people WHERE id = :id", id=pid)[0][0] == "Partner"
    # re-read, the write goes through on the new version
    fresh = one(contacts, record.id)
    assert isinstance(
        written(contacts.apply([Update(fresh.id, {"job_title": "Analyst"}, fresh.version)])), Written
    )


def test_delete_checks_the_version_and_removes_children(firm: Firm) -> None:
    calendar = firm.connector("calendar")
    aid = event(firm)
    firm.sql(
        "INSERT INTO activity_attendees (activity_id, email, name) VALUES (:id, 'a@x.example', 'A')", id=aid
    )
    record = one(calendar, f"activities:{aid}")
    assert calendar.apply([Delete(record.id, record.version)]) == [Deleted(record.id)]
    assert firm.sql("SELECT COUNT(*) FROM activity_attendees WHERE activity_id = :id", id=aid)[0][0] == 0
    assert firm.sql("SELECT row_key FROM exsync_tombstones WHERE table_name = 'activities'")[0][0] == str(aid)


def test_staff_with_a_mailbox_are_listed_for_provisioning(firm: Firm) -> None:
    firm.sql("INSERT INTO staff (id, code, name, email, active) VALUES (9, 'NM', 'No Mailbox', '', 1)")
    staff = {s.code: s for s in firm.business.staff()}
    assert set(staff) == {"AB", "CD", "EF"}
    assert (staff["AB"].id, staff["AB"].email, staff["AB"].time_zone, staff["AB"].active) == (
        1, "ann.baker@firm.example", "Europe/London", True,
    )  # fmt: skip
    assert staff["EF"].active is False


@pytest.mark.parametrize("part", ["contacts", "calendar", "tasks"])
def test_a_bad_profile_filter_is_a_config_error(sqlite_firm: Firm, part: str) -> None:
    from exsync.settings import ConfigError

    with pytest.raises(ConfigError) as err:
        sqlite_firm.connector(part, filter="subject = 'x'")
    assert err.value.key == f"{part}.filter"
    assert "==" in err.value.message


def test_done_at_follows_the_done_flag(firm: Firm) -> None:
    tasks = firm.connector("tasks")
    key = insert(
        firm, "activities", kind="task", type="To-do", subject="File it", staff_id=1, due_at="2026-03-21"
    )
    tid = f"activities:{key}"

    def done_at() -> Any:
        return firm.sql("SELECT done_at FROM activities WHERE id = :id", id=key)[0][0]

    record = one(tasks, tid)
    written(tasks.apply([Update(tid, {"done": True}, record.version)]))
    stamped = done_at()
    assert stamped is not None
    record = one(tasks, tid)
    written(tasks.apply([Update(tid, {"subject": "File it (done)"}, record.version)]))
    assert done_at() == stamped  # another edit keeps when it was done
    record = one(tasks, tid)
    written(tasks.apply([Update(tid, {"done": False}, record.version)]))
    assert done_at() is None


def test_a_failed_create_does_not_leave_a_phantom_company(sqlite_firm: Firm) -> None:
    firm = sqlite_firm
    firm.sql(
        "CREATE TRIGGER refuse_fail BEFORE INSERT ON people WHEN NEW.last_name = 'Fail'"
        " BEGIN SELECT RAISE(ABORT, 'refused by the firm'); END"
    )
    refused, created = firm.connector("contacts").apply([
        Create(Contact(last_name="Fail", company="Newco"), "m1"),
        Create(Contact(last_name="Ok", company="Newco"), "m2"),
    ])  # fmt: skip
    assert isinstance(refused, Rejected) and "refused by the firm" in str(refused)
    assert isinstance(created, Written)
    [(company_id,)] = firm.sql("SELECT company_id FROM people")
    assert firm.sql("SELECT name FROM companies WHERE id = :id", id=company_id)[0][0] == "Newco"


def test_an_event_without_an_end_stays_in_the_window(firm: Firm) -> None:
    aid = event(firm, all_day=1, starts_at="2026-03-25", ends_at=None)
    assert f"activities:{aid}" in ids(firm.connector("calendar"))


def test_a_patch_of_attendees_alone_without_change_tracking(sqlite_firm: Firm) -> None:
    firm = sqlite_firm
    mapping = load_mapping("reference")
    assert mapping.calendar is not None
    untracked = mapping.model_copy(update={"calendar": mapping.calendar.model_copy(update={"updated": None})})
    business = SqlBusiness.open(firm.url, untracked, today=TODAY)
    try:
        calendar = business.connector(firm.profile(), "calendar", firm.connector("calendar").settings)
        aid = event(firm)
        record = one(calendar, f"activities:{aid}")
        patch = {"attendees": [{"email": "ada@x.example", "name": "Ada"}]}
        assert isinstance(written(calendar.apply([Update(record.id, patch, record.version)])), Written)
        assert (
            firm.sql("SELECT email FROM activity_attendees WHERE activity_id = :id", id=aid)[0][0]
            == "ada@x.example"
        )
    finally:
        business.close()
