"""SCENARIOS.md end to end: whole syncs between a reference business database and sandbox mailboxes over
HTTPS, configured and run as ``exsync sync`` runs them (``e2e.Office``). Each scenario makes its change
outside sync — raw Graph requests as Outlook makes them, or SQL as the firm's application runs it —, syncs,
checks both sides, and syncs again: that run writes nothing on either side (by the run's counts, the
sandbox's request counters and the business tables), by delta and by a full listing.

The connector-level tests of the same scenarios (in test_graph_*.py) stay: they pin the Graph mapping;
these pin what a firm sees."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from e2e import (
    KEY_PROPERTY,
    NO_WRITES,
    TODAY,
    Office,
    Outlook,
    Proxy,
    day,
    graph_time,
    key_of,
    office,
    seed_striking,
    weekday_code,
)
from mailbox_fixtures import new_upn

from exsync.sandbox.server import SandboxServer

BOTH = """\
[defaults.contacts]
direction = "both"
"""
# A mailbox delete deletes the business row too: a wrong "gone" would show in the business tables.
DELETES_REACH_THE_BUSINESS = """\
[defaults.contacts]
direction = "both"
delete_in_business = true

[defaults.calendar]
delete_in_business = true

[defaults.tasks]
delete_in_business = true
"""
GRAPH_DAYS = {"MO": "monday", "TU": "tuesday", "WE": "wednesday", "TH": "thursday", "FR": "friday",
              "SA": "saturday", "SU": "sunday"}  # fmt: skip
W_EUROPE = "W. Europe Standard Time"


# -- fixtures and helpers ------------------------------------------------------------------------------------
@pytest.fixture
def make(sandbox_server: SandboxServer, tmp_path: Path) -> Iterator[Callable[..., Office]]:
    """``make("AB", "CD", config=…, AB="Europe/Berlin")``: an Office for this test (one per test)."""
    with ExitStack() as stack:
        made = itertools.count(1)

        def build(*codes: str, config: str = BOTH, **zones: str) -> Office:
            folder = tmp_path / f"firm{next(made)}"
            return stack.enter_context(office(sandbox_server, folder, *codes, config=config, **zones))

        yield build


@pytest.fixture
def firm(make: Callable[..., Office]) -> Office:
    """One staff member (AB, UTC), contacts both ways (calendar and tasks are both ways by default)."""
    return make("AB")


def add_person(firm: Office, first: str = "Ada", last: str = "Lovelace", **values: Any) -> int:
    email = values.pop("email", f"{first.lower()}.{last.lower()}@client.example")
    return firm.insert("people", first_name=first, last_name=last, email=email, **values)


def add_event(firm: Office, subject: str = "Hearing", offset: int = 10, **values: Any) -> int:
    fields: dict[str, Any] = {
        "kind": "event",
        "type": "Meeting",
        "subject": subject,
        "starts_at": f"{day(offset)} 10:00",
        "ends_at": f"{day(offset)} 11:00",
        "time_zone": "UTC",
        "staff_id": 1,
    }
    return firm.insert("activities", **(fields | values))


def add_task(firm: Office, subject: str = "File the brief", **values: Any) -> int:
    fields: dict[str, Any] = {"kind": "task", "type": "To-do", "subject": subject, "staff_id": 1}
    return firm.insert("activities", **(fields | values))


def weekly(start: str, **range_: Any) -> dict[str, Any]:
    """A Graph weekly recurrence on ``start``'s weekday (no end unless ``range_`` says)."""
    pattern = {"type": "weekly", "interval": 1, "daysOfWeek": [GRAPH_DAYS[weekday_code(start)]]}
    return {"pattern": pattern, "range": {"type": "noEnd", "startDate": start[:10], **range_}}


def one(rows: list[dict[str, Any]]) -> dict[str, Any]:
    assert len(rows) == 1, rows
    return rows[0]


def by_key(items: list[dict[str, Any]]) -> dict[str | None, dict[str, Any]]:
    return {key_of(item): item for item in items}


def emails(contact: dict[str, Any]) -> list[str]:
    return [e["address"] for e in contact.get("emailAddresses") or ()]


def move(server: SandboxServer, item_id: str, folder_id: str) -> None:
    """Outlook moves a contact to another folder. Graph v1.0 has no move for contacts (Outlook does it over
    MAPI), so the sandbox's store moves it, as Exchange would: the immutable id stays."""
    store = server.sandbox.store
    with store.lock:
        item = store.get(item_id)
        assert item is not None
        store.move(item, folder_id)
        store.flush()


# -- filters, windows, folders ------------------------------------------------------------------------------
def test_scenario_12_yearly_series_begun_years_ago_stay_one_series_each(firm: Office) -> None:
    outlook = firm.outlook()
    yearly = {"type": "absoluteYearly", "interval": 1, "month": 6, "dayOfMonth": 1}
    outlook.post(
        "/calendar/events",
        {"subject": "Ada's birthday", "isAllDay": True, "start": graph_time("2019-06-01", "00:00"),
         "end": graph_time("2019-06-02", "00:00"),
         "recurrence": {"pattern": yearly, "range": {"type": "noEnd", "startDate": "2019-06-01"}}},
    )  # fmt: skip
    born = date(TODAY.year - 8, TODAY.month, min(TODAY.day, 28)) + timedelta(
        days=20
    )  # next one: in the window
    add_event(firm, "Grace's birthday", starts_at=born.isoformat(), ends_at=born.isoformat(), all_day=1,
              recurrence=f"FREQ=YEARLY;BYMONTH={born.month};BYMONTHDAY={born.day}")  # fmt: skip

    runs = firm.sync("calendar")

    assert runs.writes("business", "calendar") == {**NO_WRITES, "created": 1}
    assert runs.writes("mailbox", "calendar") == {**NO_WRITES, "created": 1}
    rows = {r["subject"]: r for r in firm.rows("activities")}
    ada = rows["Ada's birthday"]
    assert (ada["starts_at"], ada["ends_at"], ada["all_day"], ada["recurrence"]) == (
        "2019-06-01", "2019-06-01", 1, "FREQ=YEARLY;BYMONTH=6;BYMONTHDAY=1"
    )  # fmt: skip
    events = outlook.events()
    assert sorted((e["subject"], e["type"]) for e in events) == [
        ("Ada's birthday", "seriesMaster"), ("Grace's birthday", "seriesMaster")
    ]  # fmt: skip
    firm.settle("calendar")
    assert len(firm.rows("activities")) == 2 and len(outlook.events()) == 2  # nothing doubled or deleted


def test_scenario_14_a_contact_moved_between_folders_keeps_its_one_row(
    firm: Office, sandbox_server: SandboxServer
) -> None:
    person = add_person(firm)
    firm.sync("contacts")
    outlook = firm.outlook()
    [contact] = outlook.contacts()
    synced = outlook.folder_id("Firm Contacts")
    private = outlook.post("/contactFolders", {"displayName": "Private"})["id"]

    move(sandbox_server, contact["id"], private)
    runs = firm.sync("contacts")

    assert runs.writes("mailbox", "contacts") == runs.writes("business", "contacts") == NO_WRITES
    assert one(firm.rows("people"))["deleted"] == 0  # no delete cascade (scenario 9)
    assert outlook.contacts() == [] and [c["id"] for c in outlook.contacts("Private")] == [contact["id"]]
    firm.settle("contacts")

    move(sandbox_server, contact["id"], synced)  # back: the same immutable id, relinked
    runs = firm.sync("contacts")

    assert runs.writes("mailbox", "contacts") == runs.writes("business", "contacts") == NO_WRITES
    assert firm.links("contacts")[f"contacts:people:{person}"].mailbox_id == contact["id"]
    outlook.patch(f"/contacts/{contact['id']}", {"jobTitle": "Countess"})
    firm.sync("contacts")
    assert one(firm.rows("people"))["job_title"] == "Countess"  # the same row, updated
    assert [c["id"] for c in outlook.contacts()] == [contact["id"]]
    firm.settle("contacts")


CONTACT_PROPERTIES = ("givenName", "surname", "emailAddresses", "businessPhones", "jobTitle", "categories")
EVENT_PROPERTIES = (
    "subject", "body", "start", "end", "location", "isAllDay", "isReminderOn", "reminderMinutesBeforeStart",
    "showAs", "sensitivity", "importance", "categories",
)  # fmt: skip


def reimport(
    outlook: Outlook, collection: str, item: dict[str, Any], keep: tuple[str, ...]
) -> dict[str, Any]:
    """Outlook exports an item and imports it again (or it comes back from an archive): a new immutable id,
    the same content and the same named properties (our correlation key among them)."""
    body = {k: item[k] for k in keep if item.get(k) is not None}
    stamp = key_of(item)
    if stamp is not None:
        body["singleValueExtendedProperties"] = [{"id": KEY_PROPERTY, "value": stamp}]
    outlook.delete(f"/{'contacts' if 'contact' in collection.lower() else 'events'}/{item['id']}")
    made: dict[str, Any] = outlook.post(collection, body)
    return made


@pytest.mark.parametrize(
    "settled",
    [
        True,
        pytest.param(False, marks=pytest.mark.xfail(
            strict=True,
            reason="a stamped item whose key names a link is taken for a copy (rule 6) without reading the "
            "linked item: planner.plan relinks only when the linked item is listed as removed, and Graph's "
            "delta never reports the removal of an item created after the round's snapshot (here: created by "
            "the first sync, deleted before the next round). The link keeps naming the deleted item and the "
            "re-imported one becomes a new business row (planner.stamp_needs should also fetch the item the "
            "named link holds)",
        )),
    ],
    ids=["after-later-runs", "right-after-the-first-run"],
)  # fmt: skip
def test_scenario_15_reimported_items_are_paired_again_by_their_correlation_key(
    firm: Office, settled: bool
) -> None:
    person = add_person(firm)
    event = add_event(firm, "Hearing")
    firm.sync("contacts", "calendar")
    if settled:
        firm.settle("contacts", "calendar")
    outlook = firm.outlook()
    [contact] = outlook.contacts()
    [meeting] = outlook.events()
    folder = f"/contactFolders/{outlook.folder_id('Firm Contacts')}/contacts"

    new_contact = reimport(outlook, folder, contact, CONTACT_PROPERTIES)
    new_event = reimport(outlook, "/calendar/events", meeting, EVENT_PROPERTIES)
    runs = firm.sync("contacts", "calendar")

    for part in ("contacts", "calendar"):
        assert runs.writes("business", part) == NO_WRITES, runs.describe()
        assert runs.writes("mailbox", part)["created"] == runs.writes("mailbox", part)["deleted"] == 0
    assert firm.links("contacts")[f"contacts:people:{person}"].mailbox_id == new_contact["id"]
    assert firm.links("calendar")[f"calendar:activities:{event}"].mailbox_id == new_event["id"]
    assert [c["id"] for c in outlook.contacts()] == [new_contact["id"]]
    assert [e["id"] for e in outlook.events()] == [new_event["id"]]
    assert len(firm.rows("people")) == len(firm.rows("activities")) == 1
    firm.settle("contacts", "calendar")


@pytest.mark.xfail(
    strict=True,
    reason="an item made in Outlook is never stamped with its correlation key (planner.create gives the "
    "business Create only a creation token, the mailbox id; nothing writes the key back to the mailbox "
    "item), so its re-imported copy (a new immutable id) cannot be paired again: a second people row",
)
def test_scenario_15_a_reimported_item_made_in_outlook_is_paired_again(firm: Office) -> None:
    outlook = firm.outlook()
    folder = (
        f"/contactFolders/{outlook.post('/contactFolders', {'displayName': 'Firm Contacts'})['id']}/contacts"
    )
    made = outlook.post(folder, {"givenName": "Grace", "surname": "Hopper",
                                 "emailAddresses": [{"address": "grace@navy.example"}]})  # fmt: skip
    firm.sync("contacts")
    [contact] = outlook.contacts()

    reimport(outlook, folder, contact, CONTACT_PROPERTIES)
    firm.sync("contacts")

    assert made["id"] != outlook.contacts()[0]["id"]
    assert len(firm.rows("people", "deleted = 0")) == 1
    firm.settle("contacts")


# -- matching and duplicates ---------------------------------------------------------------------------------
def test_scenario_17_with_the_default_direction_the_users_own_card_is_left_alone(
    make: Callable[..., Office],
) -> None:
    """What DESIGN.md promises for contacts made on both sides before the first sync: the part is to-mailbox
    ("merge": items made on the receiving side are left alone) and nothing pairs contacts but the
    correlation key, so the user's own card stays as it is and the business contact arrives beside it."""
    firm = make("AB", config="")
    add_person(firm, "Ada", "Lovelace", email="ada@analytical.example")
    outlook = firm.outlook()
    folder = outlook.post("/contactFolders", {"displayName": "Firm Contacts"})["id"]
    mine = outlook.post(f"/contactFolders/{folder}/contacts",
                        {"givenName": "Ada", "surname": "Lovelace-Byron",
                         "emailAddresses": [{"address": "ADA@Analytical.example"}]})  # fmt: skip

    runs = firm.sync("contacts")

    assert runs.writes("mailbox", "contacts") == {**NO_WRITES, "created": 1}
    assert runs.writes("business", "contacts") == NO_WRITES
    cards = by_key(outlook.contacts())
    assert cards[None]["changeKey"] == mine["changeKey"]  # untouched
    assert cards["contacts:people:1"]["surname"] == "Lovelace"
    firm.settle("contacts")


@pytest.mark.xfail(
    strict=True,
    reason="contacts are never matched by e-mail: planner._unlinked pairs unlinked items only by creation "
    "token, correlation key or Canonical.identity(), and Contact.identity() is None (model/items.py); "
    "DESIGN.md promises identity matching for meetings (ical_uid) only. Both ways, each side gets a copy",
)
def test_scenario_17_the_same_contact_made_on_both_sides_becomes_one_pair(firm: Office) -> None:
    add_person(firm, "Ada", "Lovelace", email="ada@analytical.example")
    outlook = firm.outlook()
    folder = outlook.post("/contactFolders", {"displayName": "Firm Contacts"})["id"]
    outlook.post(f"/contactFolders/{folder}/contacts",
                 {"givenName": "Ada", "surname": "Lovelace-Byron",
                  "emailAddresses": [{"address": "ADA@Analytical.example"}]})  # fmt: skip

    firm.sync("contacts")

    assert len(firm.rows("people")) == 1 and len(outlook.contacts()) == 1
    assert len(firm.links("contacts")) == 1
    firm.settle("contacts")


def test_scenario_17_an_event_on_both_sides_is_paired_by_its_ical_uid(firm: Office) -> None:
    """What DESIGN.md does promise: events (meetings) are found by ``ical_uid``. The same appointment, made
    on both sides before the first sync, becomes one pair; the field that differs goes through the conflict
    policy (the business wins by default, the mailbox's value is logged)."""
    outlook = firm.outlook()
    made = outlook.post("/calendar/events", {"subject": "Hearing, Smith v Jones", "start": graph_time(day(6)),
                                             "end": graph_time(day(6), "11:00")})  # fmt: skip
    row = add_event(firm, "Hearing Smith/Jones", offset=6, ical_uid=made["iCalUId"], reminder_minutes=15)

    runs = firm.sync("calendar")

    assert runs.writes("business", "calendar") == NO_WRITES
    assert runs.writes("mailbox", "calendar") == {**NO_WRITES, "updated": 1}
    assert [e["id"] for e in outlook.events()] == [made["id"]] and len(firm.rows("activities")) == 1
    assert firm.links("calendar")[f"calendar:activities:{row}"].mailbox_id == made["id"]
    assert outlook.get(f"/events/{made['id']}")["subject"] == "Hearing Smith/Jones"
    [conflict] = firm.store.conflicts("AB", "calendar")
    assert (conflict.field, conflict.mailbox_value) == ("subject", "Hearing, Smith v Jones")
    firm.settle("calendar")


def test_scenario_18_namesakes_with_different_addresses_are_never_paired(firm: Office) -> None:
    add_person(firm, "John", "Smith", email="john.smith@acme.example")
    outlook = firm.outlook()
    folder = outlook.post("/contactFolders", {"displayName": "Firm Contacts"})["id"]
    theirs = outlook.post(f"/contactFolders/{folder}/contacts",
                          {"givenName": "John", "surname": "Smith",
                           "emailAddresses": [{"address": "jsmith@other.example"}]})  # fmt: skip

    runs = firm.sync("contacts")

    assert (
        runs.writes("mailbox", "contacts")
        == runs.writes("business", "contacts")
        == {**NO_WRITES, "created": 1}
    )
    rows = {r["email"]: r["id"] for r in firm.rows("people")}
    assert set(rows) == {"john.smith@acme.example", "jsmith@other.example"}
    cards = {emails(c)[0]: c for c in outlook.contacts()}
    assert set(cards) == set(rows)
    links = firm.links("contacts")
    assert {(link.business_id, link.mailbox_id) for link in links.values()} == {
        (f"people:{rows[address]}", card["id"]) for address, card in cards.items()
    }  # each pair joins the same address, and the user's card is one of them
    assert cards["jsmith@other.example"]["id"] == theirs["id"]
    firm.settle("contacts")


def test_scenario_19_a_card_two_rows_could_claim_is_not_paired_with_either(firm: Office) -> None:
    add_person(firm, "Ann", "Lee", email="office@lee.example")
    add_person(firm, "Bob", "Lee", email="office@lee.example")
    outlook = firm.outlook()
    folder = outlook.post("/contactFolders", {"displayName": "Firm Contacts"})["id"]
    card = outlook.post(f"/contactFolders/{folder}/contacts",
                        {"givenName": "Lee", "surname": "Office",
                         "emailAddresses": [{"address": "office@lee.example"}]})  # fmt: skip

    firm.sync("contacts")

    rows = firm.rows("people")
    assert sorted((r["first_name"], r["last_name"]) for r in rows) == [
        ("Ann", "Lee"),
        ("Bob", "Lee"),
        ("Lee", "Office"),
    ]
    card_link = [link for link in firm.links("contacts").values() if link.mailbox_id == card["id"]]
    assert [link.business_id for link in card_link] == [
        f"people:{rows[2]['id']}"
    ]  # its own row, not Ann's or Bob's
    assert outlook.get(f"/contacts/{card['id']}")["givenName"] == "Lee"  # overwritten by neither
    firm.settle("contacts")


@pytest.mark.xfail(
    strict=True,
    reason="no review queue or flag exists for ambiguous matches: nothing is matched by e-mail at all "
    "(Contact.identity() is None), so the engine never notices the ambiguity and logs no conflict",
)
def test_scenario_19_an_ambiguous_match_is_flagged(firm: Office) -> None:
    add_person(firm, "Ann", "Lee", email="office@lee.example")
    add_person(firm, "Bob", "Lee", email="office@lee.example")
    outlook = firm.outlook()
    folder = outlook.post("/contactFolders", {"displayName": "Firm Contacts"})["id"]
    outlook.post(
        f"/contactFolders/{folder}/contacts",
        {"givenName": "Lee", "surname": "Office", "emailAddresses": [{"address": "office@lee.example"}]},
    )

    runs = firm.sync("contacts")

    assert runs.one("contacts").tally.conflicts >= 1 or firm.store.conflicts("AB", "contacts")


@pytest.mark.xfail(
    strict=True,
    reason="the correlation key is never written back to an item made in Outlook (planner.create: the "
    "business Create carries the mailbox id as a creation token only; no mailbox Update adds the "
    "exsync-key property)",
)
def test_scenario_23_an_item_made_in_outlook_gets_its_key_written_back(firm: Office) -> None:
    outlook = firm.outlook()
    made = outlook.post("/calendar/events", {"subject": "Dentist", "start": graph_time(day(3), "08:00"),
                                             "end": graph_time(day(3), "09:00")})  # fmt: skip
    firm.sync("calendar")
    [row] = firm.rows("activities")
    assert key_of(outlook.events()[0]) == f"calendar:activities:{row['id']}"
    assert made["id"] == outlook.events()[0]["id"]


def test_scenario_23_an_item_made_in_outlook_keeps_its_identity_through_edits(firm: Office) -> None:
    """Identity is the immutable id (and the business row's creation token), never a content hash: an edit
    is an update of the same row, and a lost state store pairs the two again."""
    outlook = firm.outlook()
    made = outlook.post("/calendar/events", {"subject": "Dentist", "start": graph_time(day(3), "08:00"),
                                             "end": graph_time(day(3), "09:00")})  # fmt: skip
    firm.sync("calendar")
    row = one(firm.rows("activities"))
    assert (row["subject"], row["type"], row["staff_id"]) == ("Dentist", "Appointment", 1)
    firm.settle("calendar")

    moved = {
        "subject": "Dentist (moved)",
        "start": graph_time(day(4), "08:00"),
        "end": graph_time(day(4), "09:00"),
    }
    outlook.patch(f"/events/{made['id']}", moved)
    runs = firm.sync("calendar")

    assert runs.writes("business", "calendar") == {**NO_WRITES, "updated": 1}
    assert runs.writes("mailbox", "calendar") == NO_WRITES
    again = one(firm.rows("activities"))
    assert (again["id"], again["subject"], again["starts_at"]) == (
        row["id"],
        "Dentist (moved)",
        f"{day(4)} 08:00",
    )
    firm.lose_state_store()
    runs = firm.sync("calendar")
    assert runs.writes("business", "calendar")["created"] == 0
    assert runs.writes("mailbox", "calendar")["created"] == 0
    assert firm.links("calendar")[f"calendar:activities:{row['id']}"].mailbox_id == made["id"]
    firm.settle("calendar")


# -- Graph delta, paging, throttling, errors -----------------------------------------------------------------
def test_scenario_32_expired_delta_tokens_reconcile_in_full_without_deletes_or_duplicates(
    firm: Office,
) -> None:
    people = [add_person(firm, f"P{n}", "Person") for n in range(3)]
    events = [add_event(firm, f"Hearing {n}", offset=n + 1) for n in range(3)]
    tasks = [add_task(firm, f"Task {n}") for n in range(3)]
    firm.sync("contacts", "calendar", "tasks")
    firm.settle("contacts", "calendar", "tasks")
    outlook = firm.outlook()

    firm.control.post("/_sandbox/expire-delta-tokens").raise_for_status()
    contact = by_key(outlook.contacts())[f"contacts:people:{people[0]}"]
    outlook.patch(f"/contacts/{contact['id']}", {"jobTitle": "Engineer"})
    event = by_key(outlook.events())[f"calendar:activities:{events[0]}"]
    outlook.patch(f"/events/{event['id']}", {"subject": "Hearing 0 (moved)"})
    firm.update("activities", tasks[0], subject="Task 0 (renamed)")
    before = firm.requests()
    runs = firm.sync("contacts", "calendar", "tasks")

    assert (
        runs.writes("business", "contacts")
        == runs.writes("business", "calendar")
        == {**NO_WRITES, "updated": 1}
    )
    assert runs.writes("mailbox", "tasks") == {**NO_WRITES, "updated": 1}
    for part in ("contacts", "calendar"):
        assert runs.writes("mailbox", part) == NO_WRITES
    assert runs.writes("business", "tasks") == NO_WRITES
    listed = firm.requests_since(before)  # the mailbox side listed everything again, with the stamps
    assert listed[f"{firm.upn()} GET /users/{{user-id}}/contactFolders/{{contactFolder-id}}/contacts"] == 1
    assert listed[f"{firm.upn()} GET /users/{{user-id}}/calendarView"] == 1
    writes = firm.mailbox_writes(before)  # one PATCH of the task, and nothing else
    assert sum(writes.values()) == 1 and all(" PATCH " in k and "/todo/" in k for k in writes), writes
    assert firm.rows("people", "id = :i", i=people[0])[0]["job_title"] == "Engineer"
    assert firm.rows("activities", "id = :i", i=events[0])[0]["subject"] == "Hearing 0 (moved)"
    assert len(outlook.contacts()) == len(outlook.events()) == len(outlook.tasks()) == 3
    assert len(firm.rows("people")) == 3 and len(firm.rows("activities", "deleted = 0")) == 6
    firm.settle("contacts", "calendar", "tasks")


def test_scenario_33_an_interrupted_delta_round_is_replayed_from_the_old_link(firm: Office) -> None:
    tasks = [add_task(firm, f"Task {n:02}") for n in range(25)]  # To Do answers 10 a page: 3 pages
    firm.sync("tasks")
    firm.settle("tasks")
    outlook = firm.outlook()
    tasks_path = f"/todo/lists/{outlook.list_id()}/tasks"
    for task in outlook.tasks():
        outlook.patch(f"{tasks_path}/{task['id']}", {"title": task["title"] + " (edited)"})
    tokens = firm.store.tokens("AB", "tasks")

    # page 3 of the next round fails (the first two came in): the run fails, nothing is written
    firm.fault(
        status=500, path=r"/tasks/delta$", method="GET", count=1, probability=0.5, seed=seed_striking(3)
    )
    before = firm.requests()
    runs = firm.sync("tasks", expect="failed")
    assert "delta" in runs.one("tasks").message
    rounds = firm.requests_since(before)
    assert rounds[f"{firm.upn()} GET /users/{{user-id}}/todo/lists/{{todoTaskList-id}}/tasks/delta"] == 3
    assert firm.store.tokens("AB", "tasks") == tokens  # the old deltaLink is kept
    assert not any(r["subject"].endswith("(edited)") for r in firm.rows("activities"))

    runs = firm.sync("tasks")  # the round again from the old link: every page, applied once

    assert runs.writes("business", "tasks") == {**NO_WRITES, "updated": 25}
    assert runs.writes("mailbox", "tasks") == NO_WRITES
    assert sorted(r["subject"] for r in firm.rows("activities")) == [
        f"Task {n:02} (edited)" for n in range(25)
    ]
    assert len(tasks) == len(outlook.tasks())
    firm.settle("tasks")


def test_scenario_34_an_event_that_left_the_window_is_not_deleted(make: Callable[..., Office]) -> None:
    firm = make("AB", config=DELETES_REACH_THE_BUSINESS)
    event = add_event(firm, "Hearing", offset=5)
    firm.sync("calendar")
    outlook = firm.outlook()
    [copy] = outlook.events()
    far = day(1000)  # beyond the window (730 days ahead): calendarView delta answers @removed

    outlook.patch(f"/events/{copy['id']}", {"start": graph_time(far), "end": graph_time(far, "11:00")})
    runs = firm.sync("calendar")

    assert runs.writes("business", "calendar") == runs.writes("mailbox", "calendar") == NO_WRITES
    row = one(firm.rows("activities"))
    assert (row["deleted"], row["starts_at"]) == (0, f"{day(5)} 10:00")  # left alone on the business side
    assert [e["id"] for e in outlook.events()] == [copy["id"]]  # neither deleted nor made again
    link = firm.links("calendar")[f"calendar:activities:{event}"]
    assert link.mailbox_id == copy["id"] and not link.removed_in_mailbox
    firm.settle("calendar")


def test_scenario_35_an_item_missing_from_a_listing_is_read_before_anything_is_decided(
    make: Callable[..., Office], sandbox_server: SandboxServer
) -> None:
    firm = make("AB", config=DELETES_REACH_THE_BUSINESS)
    add_person(firm)
    add_event(firm)
    add_task(firm)
    firm.sync("contacts", "calendar", "tasks")
    outlook = firm.outlook()
    fresh = [outlook.contacts()[0]["id"], outlook.events()[0]["id"], outlook.tasks()[0]["id"]]
    links = {part: firm.links(part) for part in ("contacts", "calendar", "tasks")}

    with Proxy(sandbox_server) as proxy:  # listings that do not show the fresh items yet
        proxy.hidden.update(fresh)
        firm.through(proxy)
        runs = firm.sync("contacts", "calendar", "tasks", full=True)
        for part in ("contacts", "calendar", "tasks"):
            assert runs.writes("business", part) == runs.writes("mailbox", part) == NO_WRITES, runs.describe()
        firm.through(None)
    assert set(proxy.hits) == set(fresh)  # each listing left its fresh item out
    assert {part: firm.links(part) for part in links} == links  # read by id: nothing is taken for gone

    assert [outlook.contacts()[0]["id"], outlook.events()[0]["id"], outlook.tasks()[0]["id"]] == fresh
    assert all(r["deleted"] == 0 for r in firm.rows("people") + firm.rows("activities"))
    assert len(firm.rows("people")) == 1 and len(firm.rows("activities")) == 2
    firm.settle("contacts", "calendar", "tasks")


def test_scenario_36_a_throttled_request_in_a_batch_waits_its_retry_after(firm: Office) -> None:
    people = [add_person(firm, f"P{n:02}", "Person") for n in range(20)]
    firm.sync("contacts")
    firm.settle("contacts")
    for person in people:
        firm.update("people", person, job_title="Partner")
    throttled = firm.control.get("/_sandbox/stats").json()["throttled"]
    before = firm.requests()
    # the 7th of the 20 updates is answered 429 with Retry-After (2 s here; 30 s in Graph's example)
    firm.fault(status=429, retryAfter=2, path=r"/contacts/[^/]+$", method="PATCH", count=1, probability=0.5,
               seed=seed_striking(7))  # fmt: skip

    started = time.monotonic()
    runs = firm.sync("contacts")
    elapsed = time.monotonic() - started

    assert runs.writes("mailbox", "contacts") == {**NO_WRITES, "updated": 20}
    assert elapsed >= 2.0  # the wait was honoured
    patches = [n for key, n in firm.mailbox_writes(before).items() if "PATCH" in key]
    assert sum(patches) == 21  # each update sent once, the throttled one once more; nothing else
    assert set(firm.mailbox_writes(before)) == {k for k in firm.mailbox_writes(before) if "PATCH" in k}
    # no other 429: never more than 4 requests at once on the mailbox
    assert firm.control.get("/_sandbox/stats").json()["throttled"] - throttled == 1
    assert {c["jobTitle"] for c in firm.outlook().contacts()} == {"Partner"}
    firm.settle("contacts")


def test_scenario_37_each_answer_of_a_batch_is_handled_on_its_own(firm: Office) -> None:
    firm.sync("contacts")  # makes the folder
    people = [add_person(firm, f"P{n:02}", "Person") for n in range(20)]
    rows = firm.business()
    before = firm.requests()
    # 20 creates in one $batch: 3 × 429, then 1 × 400, then 1 × 503, then 15 × 201
    for status, count in ((429, 3), (400, 1), (503, 1)):
        firm.fault(
            status=status, retryAfter=0.2, path=r"/contactFolders/[^/]+/contacts$", method="POST", count=count
        )

    runs = firm.sync("contacts", expect="failed")

    report = runs.one("contacts")
    assert report.as_json()["mailbox"] == {**NO_WRITES, "created": 19}
    [error] = report.tally.errors  # the refused one alone, as a per-item error
    assert error["item"] == f"people:{people[3]}" and "400" in error["message"]
    posts = sum(n for key, n in firm.mailbox_writes(before).items() if "POST" in key)
    assert posts == 24  # 20, and the 3 throttled and the 1 unavailable once more
    cards = by_key(firm.outlook().contacts())
    assert len(cards) == 19 and f"contacts:people:{people[3]}" not in cards
    assert f"contacts:people:{people[3]}" not in firm.links("contacts")
    assert firm.business() == rows  # its row (like every other) left as it was

    runs = firm.sync("contacts")  # the refused one is tried again

    assert runs.writes("mailbox", "contacts") == {**NO_WRITES, "created": 1}
    assert set(by_key(firm.outlook().contacts())) == {f"contacts:people:{p}" for p in people}
    firm.settle("contacts")


def test_scenario_38_a_concurrent_outlook_edit_is_merged_not_overwritten(firm: Office) -> None:
    ada, bob = add_person(firm, "Ada", "Lovelace"), add_person(firm, "Bob", "Byron")
    firm.sync("contacts")
    firm.settle("contacts")
    outlook = firm.outlook()
    cards = by_key(outlook.contacts())
    firm.update("people", ada, job_title="Countess")
    firm.update("people", bob, job_title="Poet")
    edits = iter([1])

    def meanwhile(step: str) -> None:
        # between the run's reading and its writing, the user edits both cards in Outlook
        if step == "before-journal" and next(edits, None):
            outlook.patch(
                f"/contacts/{cards[f'contacts:people:{ada}']['id']}", {"mobilePhone": "+44 20 7946 0018"}
            )
            outlook.patch(f"/contacts/{cards[f'contacts:people:{bob}']['id']}", {"jobTitle": "Lord"})

    runs = firm.sync("contacts", on_step=meanwhile)

    assert runs.one("contacts").tally.errors == []
    rows = {r["id"]: r for r in firm.rows("people")}
    held = by_key(outlook.contacts())
    # other fields: both edits survive on both sides
    assert (rows[ada]["job_title"], rows[ada]["phone_mobile"]) == ("Countess", "+44 20 7946 0018")
    card = held[f"contacts:people:{ada}"]
    assert (card["jobTitle"], card["mobilePhone"]) == ("Countess", "+44 20 7946 0018")
    # the same field: the business wins (the default policy), the user's value is in the conflict log
    assert rows[bob]["job_title"] == held[f"contacts:people:{bob}"]["jobTitle"] == "Poet"
    [conflict] = firm.store.conflicts("AB", "contacts")
    assert (conflict.field, conflict.business_value, conflict.mailbox_value) == ("job_title", "Poet", "Lord")
    firm.settle("contacts")


def test_scenario_38_a_412_from_graph_is_read_again_and_decided_again(firm: Office) -> None:
    person = add_person(firm)
    firm.sync("contacts")
    firm.settle("contacts")
    firm.update("people", person, job_title="Countess")
    firm.fault(status=412, path=r"/contacts/[^/]+$", method="PATCH", count=1)
    before = firm.requests()

    runs = firm.sync("contacts")

    assert runs.writes("mailbox", "contacts") == {**NO_WRITES, "updated": 1}
    writes = firm.mailbox_writes(before)
    assert list(writes.values()) == [2] and " PATCH " in next(iter(writes))  # refused, read, decided, sent
    assert firm.outlook().contacts()[0]["jobTitle"] == "Countess"
    assert firm.store.conflicts("AB", "contacts") == []  # nothing changed meanwhile: no conflict
    firm.settle("contacts")


def test_scenario_39_an_item_deleted_while_it_is_written_is_decided_again(firm: Office) -> None:
    ada, bob = add_person(firm, "Ada", "Lovelace"), add_person(firm, "Bob", "Byron")
    firm.sync("contacts")
    firm.settle("contacts")
    outlook = firm.outlook()
    cards = by_key(outlook.contacts())
    firm.update("people", ada, job_title="Countess")  # an update ...
    firm.update("people", bob, deleted=1)  # ... and a delete, each meeting a card deleted meanwhile
    edits = iter([1])

    def meanwhile(step: str) -> None:
        if step == "before-journal" and next(edits, None):
            for person in (ada, bob):
                outlook.delete(f"/contacts/{cards[f'contacts:people:{person}']['id']}")

    runs = firm.sync("contacts", on_step=meanwhile)

    assert runs.one("contacts").tally.errors == []
    held = by_key(outlook.contacts())
    # the business edit makes the card again (scenario 4's default), with a new id
    assert (
        list(held) == [f"contacts:people:{ada}"] and held[f"contacts:people:{ada}"]["jobTitle"] == "Countess"
    )
    assert held[f"contacts:people:{ada}"]["id"] != cards[f"contacts:people:{ada}"]["id"]
    links = firm.links("contacts")
    assert links[f"contacts:people:{ada}"].mailbox_id == held[f"contacts:people:{ada}"]["id"]
    assert f"contacts:people:{bob}" not in links  # gone on both sides: done
    assert [r["deleted"] for r in firm.rows("people")] == [0, 1]
    firm.settle("contacts")


def test_scenario_40_an_expired_token_is_renewed_and_the_run_goes_on(firm: Office) -> None:
    firm.sync("contacts")
    people = [add_person(firm, f"P{n}", "Person") for n in range(3)]
    firm.fault(status=401, path=r"^/\$batch$", count=1)  # the token ran out just before this request

    runs = firm.sync("contacts")

    assert runs.writes("mailbox", "contacts") == {**NO_WRITES, "created": 3}
    assert set(by_key(firm.outlook().contacts())) == {f"contacts:people:{p}" for p in people}
    firm.settle("contacts")


def test_scenario_40_credentials_lost_mid_run_stop_it_cleanly_and_the_next_run_goes_on(firm: Office) -> None:
    firm.sync("contacts")
    people = [add_person(firm, f"P{n:02}", "Person") for n in range(30)]
    revoked = iter([1])

    def revoke(step: str) -> None:
        if step == "after-record" and next(revoked, None):  # after the first chunk of 20 is recorded
            firm.fault(status=401, path=r"^/\$batch$", count=-1)
            firm.fault(status=401, count=-1)

    runs = firm.sync("contacts", on_step=revoke, expect="failed")

    assert "401" in runs.one("contacts").message
    firm.clear_faults()
    assert len(firm.links("contacts")) == 20  # what was written is recorded; nothing else
    assert len(firm.outlook().contacts()) == 20

    runs = firm.sync("contacts")

    assert runs.writes("mailbox", "contacts") == {**NO_WRITES, "created": 10}
    assert set(by_key(firm.outlook().contacts())) == {f"contacts:people:{p}" for p in people}
    firm.settle("contacts")


@pytest.mark.parametrize("how", ["access-removed", "read-only"])
def test_scenario_41_a_mailbox_that_refuses_access_is_never_taken_for_empty(
    make: Callable[..., Office], how: str
) -> None:
    firm = make("AB", config=DELETES_REACH_THE_BUSINESS)
    people = [add_person(firm, f"P{n}", "Person") for n in range(12)]
    add_event(firm)
    firm.sync("contacts", "calendar")
    firm.settle("contacts", "calendar")
    firm.update("people", people[0], job_title="Partner")
    kept = firm.business()

    if how == "access-removed":
        firm.deny("contacts")  # the app lost its permission on this mailbox's contacts
    else:
        firm.fault(status=403, path=r"/contacts/[^/]+$", method="PATCH", count=-1)  # readable, not writable
    runs = firm.sync("contacts", "calendar", expect=None)

    contacts = runs.one("contacts")
    assert contacts.outcome == "failed" and "403" in contacts.message
    assert contacts.as_json()["business"] == contacts.as_json()["mailbox"] == NO_WRITES
    assert runs.one("calendar").outcome == "ok"  # the other parts go on
    assert firm.business() == kept and len(firm.links("contacts")) == 12

    firm.deny()  # given back
    firm.clear_faults()
    runs = firm.sync("contacts")
    assert runs.writes("mailbox", "contacts") == {**NO_WRITES, "updated": 1}
    assert len(firm.outlook().contacts()) == 12
    firm.settle("contacts", "calendar")


# -- recurrence, time zones, meetings ------------------------------------------------------------------------
def weekly_rule(offset: int, count: int | None = 6) -> str:
    return f"FREQ=WEEKLY;BYDAY={weekday_code(day(offset))}" + (f";COUNT={count}" if count else "")


def add_exception(firm: Office, series: int, original_start: str, **values: Any) -> None:
    """The occurrence of ``series`` at ``original_start`` changed (or cancelled) in the business."""
    firm.insert(
        "activity_exceptions",
        activity_id=series,
        original_start=original_start,
        **({"cancelled": 0} | values),
    )


def exception_rows(firm: Office, series: int) -> dict[str, dict[str, Any]]:
    rows = firm.rows("activity_exceptions", "activity_id = :a", a=series)
    return {r["original_start"]: r for r in rows}


def test_scenario_50_modified_occurrences_survive_both_ways(firm: Office) -> None:
    series = add_event(firm, "Weekly hearing", offset=7, recurrence=weekly_rule(7))
    moved = {"starts_at": f"{day(15)} 11:00", "ends_at": f"{day(15)} 12:00", "subject": "Moved hearing"}
    add_exception(firm, series, f"{day(14)} 10:00", **moved)
    add_exception(firm, series, f"{day(21)} 10:00", starts_at=f"{day(21)} 10:00", ends_at=f"{day(21)} 11:00",
                  location="Room 9")  # fmt: skip
    firm.sync("calendar")
    outlook = firm.outlook()
    [master] = outlook.events()
    shown = outlook.instances(master["id"])
    assert [(i["type"], i["start"]["dateTime"][:16]) for i in shown] == [
        ("occurrence", f"{day(7)}T10:00"),
        ("exception", f"{day(15)}T11:00"),
        ("exception", f"{day(21)}T10:00"),
        *(("occurrence", f"{day(d)}T10:00") for d in (28, 35, 42)),
    ]
    assert (shown[1]["subject"], shown[2]["location"]["displayName"]) == ("Moved hearing", "Room 9")
    firm.settle("calendar")

    # the series is renamed in the business, one occurrence in Outlook
    firm.update("activities", series, subject="Weekly hearing (renamed)")
    outlook.patch(f"/events/{shown[3]['id']}", {"subject": "Changed in Outlook"})
    firm.sync("calendar")

    again = outlook.instances(master["id"])
    assert [i["subject"] for i in again] == [
        "Weekly hearing (renamed)",
        "Moved hearing",
        "Weekly hearing (renamed)",
        "Changed in Outlook",
        "Weekly hearing (renamed)",
        "Weekly hearing (renamed)",
    ]  # the series' new subject does not overwrite an exception's (OCDS #32)
    rows = exception_rows(firm, series)
    assert set(rows) == {f"{day(14)} 10:00", f"{day(21)} 10:00", f"{day(28)} 10:00"}
    assert (rows[f"{day(14)} 10:00"]["subject"], rows[f"{day(14)} 10:00"]["starts_at"]) == (
        "Moved hearing", f"{day(15)} 11:00"
    )  # fmt: skip
    assert rows[f"{day(28)} 10:00"]["subject"] == "Changed in Outlook"
    assert one(firm.rows("activities"))["subject"] == "Weekly hearing (renamed)"
    firm.settle("calendar")


def test_scenario_51_a_deleted_occurrence_removes_only_that_occurrence(firm: Office) -> None:
    series = add_event(firm, "Weekly hearing", offset=7, recurrence=weekly_rule(7))
    firm.sync("calendar")
    outlook = firm.outlook()
    [master] = outlook.events()
    shown = outlook.instances(master["id"])

    outlook.delete(f"/events/{shown[1]['id']}")  # the user deletes the second occurrence
    runs = firm.sync("calendar")

    assert runs.writes("business", "calendar") == {**NO_WRITES, "updated": 1}
    row = one(firm.rows("activities"))
    assert (row["deleted"], row["recurrence"]) == (0, weekly_rule(7))  # the series survives
    assert {k: r["cancelled"] for k, r in exception_rows(firm, series).items()} == {f"{day(14)} 10:00": 1}
    firm.settle("calendar")

    add_exception(firm, series, f"{day(21)} 10:00", cancelled=1)
    firm.update("activities", series)  # the application touches the series when it edits its exceptions
    runs = firm.sync("calendar")

    assert runs.writes("mailbox", "calendar") == {**NO_WRITES, "updated": 1}
    starts = [i["start"]["dateTime"][:10] for i in outlook.instances(master["id"])]
    assert starts == [day(7), day(28), day(35), day(42)]
    assert [e["id"] for e in outlook.events()] == [master["id"]]
    firm.settle("calendar")


def test_scenario_52_an_invitation_to_one_occurrence_is_imported_as_an_event(
    firm: Office, sandbox_server: SandboxServer
) -> None:
    """The sandbox has no invitations to one occurrence: a single invitation from another mailbox is shown
    through a relay with what Exchange adds to such an item (an exception whose series is not in this
    mailbox); every read, the master's 404 included, is still answered by the sandbox."""
    chair = Outlook(firm.http, new_upn(sandbox_server, "chair"))
    when = day(12)
    chair.post("/calendar/events", {
        "subject": "Board meeting (one occurrence)", "start": graph_time(when, "14:00"),
        "end": graph_time(when, "15:00"),
        "attendees": [{"type": "required", "emailAddress": {"address": firm.upn(), "name": "AB"}}],
    })  # fmt: skip
    outlook = firm.outlook()
    [copy] = outlook.events()
    with Proxy(sandbox_server) as proxy:
        proxy.mark[copy["id"]] = {
            "type": "exception", "seriesMasterId": "AAMkADeletedSeriesMaster0000000000=",
            "originalStart": f"{when}T13:00:00Z",
        }  # fmt: skip
        firm.through(proxy)
        runs = firm.sync("calendar")
        assert runs.writes("business", "calendar") == {**NO_WRITES, "created": 1}
        row = one(firm.rows("activities"))
        assert (row["subject"], row["starts_at"], row["ends_at"], row["recurrence"]) == (
            "Board meeting (one occurrence)", f"{when} 14:00", f"{when} 15:00", None
        )  # fmt: skip
        assert row["organizer_email"] == chair.upn
        firm.settle("calendar")
        firm.through(None)
    assert proxy.hits[copy["id"]] > 0


def test_scenario_53_this_and_following_gives_two_series_and_no_double_occurrence(firm: Office) -> None:
    start = day(7)
    series = add_event(firm, "Weekly status", offset=7, recurrence=weekly_rule(7, count=None))
    firm.sync("calendar")
    outlook = firm.outlook()
    [old] = outlook.events()
    split = day(28)

    # Outlook's "this and following": the old series ends before the split date, a new one starts on it
    outlook.patch(f"/events/{old['id']}", {"recurrence": weekly(start, type="endDate", endDate=day(21))})
    new = outlook.post("/calendar/events", {
        "subject": "Weekly status (new room)", "start": graph_time(split), "end": graph_time(split, "11:00"),
        "recurrence": weekly(split),
    })  # fmt: skip
    runs = firm.sync("calendar")

    assert runs.writes("business", "calendar") == {**NO_WRITES, "created": 1, "updated": 1}
    rows = {r["id"]: r for r in firm.rows("activities")}
    assert len(rows) == 2 and rows[series]["recurrence"].startswith(f"{weekly_rule(7, None)};UNTIL=")
    [made] = [r for r in rows.values() if r["id"] != series]
    assert (made["subject"], made["starts_at"]) == ("Weekly status (new room)", f"{split} 10:00")
    assert made["ical_uid"] and made["ical_uid"] != rows[series]["ical_uid"]
    starts = [i["start"]["dateTime"][:10] for s in (old, new) for i in outlook.instances(s["id"], last=60)]
    assert starts.count(split) == 1 and len(starts) == len(set(starts))
    firm.settle("calendar")


def test_scenario_55_multi_day_all_day_events_keep_their_last_day(make: Callable[..., Office]) -> None:
    firm = make("AB", AB="Europe/Berlin")
    add_event(firm, "Trial", starts_at=day(20), ends_at=day(22), all_day=1, time_zone="Europe/Berlin")
    outlook = firm.outlook()
    outlook.post("/calendar/events", {
        "subject": "Holiday", "isAllDay": True, "start": graph_time(day(30), "00:00", W_EUROPE),
        "end": graph_time(day(32), "00:00", W_EUROPE),
    })  # fmt: skip

    firm.sync("calendar")

    berlin = {"Prefer": f'outlook.timezone="{W_EUROPE}"'}
    shown = {e["subject"]: e for e in outlook.all("/calendar/events", headers=berlin)}
    trial = shown["Trial"]
    assert trial["isAllDay"]
    assert (trial["start"]["dateTime"][:10], trial["end"]["dateTime"][:10]) == (day(20), day(23))  # exclusive
    holiday = {r["subject"]: r for r in firm.rows("activities")}["Holiday"]
    assert (holiday["starts_at"], holiday["ends_at"], holiday["all_day"]) == (
        day(30),
        day(31),
        1,
    )  # the last day
    firm.settle("calendar")


def next_dst_change(tz: ZoneInfo) -> date:
    """The Monday before the next change of ``tz``'s offset, at least a week from today."""
    monday = TODAY + timedelta(days=7 + (7 - TODAY.weekday()) % 7)
    while True:
        at_nine = [datetime.combine(monday + timedelta(days=7 * w), datetime.min.time().replace(hour=9), tz)
                   for w in (0, 1)]  # fmt: skip
        if at_nine[0].utcoffset() != at_nine[1].utcoffset():
            return monday
        monday += timedelta(days=7)


def test_scenario_56_a_weekly_berlin_meeting_stays_at_nine_across_dst(make: Callable[..., Office]) -> None:
    firm = make("AB", AB="Europe/Berlin")
    berlin = ZoneInfo("Europe/Berlin")
    monday = next_dst_change(berlin)
    add_event(firm, "Jour fixe", starts_at=f"{monday} 09:00", ends_at=f"{monday} 09:30",
              time_zone="Europe/Berlin", recurrence="FREQ=WEEKLY;BYDAY=MO;COUNT=3")  # fmt: skip
    outlook = firm.outlook()
    tuesday = (monday + timedelta(days=1)).isoformat()
    outlook.post("/calendar/events", {
        "subject": "Team call", "start": graph_time(tuesday, "09:00", W_EUROPE),
        "end": graph_time(tuesday, "09:30", W_EUROPE),
        "recurrence": weekly(tuesday, type="numbered", numberOfOccurrences=3),
    })  # fmt: skip

    firm.sync("calendar")

    shown = {e["subject"]: e for e in outlook.events()}
    utc_hours = []
    for subject in ("Jour fixe", "Team call"):
        local = outlook.instances(shown[subject]["id"], W_EUROPE, last=800)
        assert [i["start"]["dateTime"][11:16] for i in local] == ["09:00"] * 3, subject
        utc_hours.append(
            [i["start"]["dateTime"][11:13] for i in outlook.instances(shown[subject]["id"], last=800)]
        )
    assert all(len(set(hours)) == 2 for hours in utc_hours)  # the instants move with DST
    row = {r["subject"]: r for r in firm.rows("activities")}["Team call"]
    assert (row["starts_at"], row["ends_at"], row["time_zone"]) == (
        f"{tuesday} 09:00", f"{tuesday} 09:30", "Europe/Berlin"
    )  # fmt: skip
    assert row["recurrence"].startswith("FREQ=WEEKLY;BYDAY=TU") and "COUNT=3" in row["recurrence"]
    firm.settle("calendar")


def test_scenario_57_windows_and_iana_zones_follow_cldr_and_round_trip(firm: Office) -> None:
    outlook = firm.outlook()
    paris = outlook.post("/calendar/events", {
        "subject": "Paris call", "start": graph_time(day(5), "09:00", "Romance Standard Time"),
        "end": graph_time(day(5), "09:30", "Romance Standard Time"),
    })  # fmt: skip
    flight = outlook.post("/calendar/events", {
        "subject": "SFO to JFK", "start": graph_time(day(9), "08:00", "Pacific Standard Time"),
        "end": graph_time(day(9), "16:30", "Eastern Standard Time"),
    })  # fmt: skip
    berlin = add_event(firm, "Berlin hearing", starts_at=f"{day(6)} 09:00", ends_at=f"{day(6)} 10:00",
                       time_zone="Europe/Berlin")  # fmt: skip

    firm.sync("calendar")

    rows = {r["subject"]: r for r in firm.rows("activities")}
    assert (rows["Paris call"]["time_zone"], rows["Paris call"]["starts_at"]) == (
        "Europe/Paris",
        f"{day(5)} 09:00",
    )
    trip = rows["SFO to JFK"]  # one zone in the business: 16:30 in New York is 13:30 in Los Angeles
    assert (trip["time_zone"], trip["starts_at"], trip["ends_at"]) == (
        "America/Los_Angeles", f"{day(9)} 08:00", f"{day(9)} 13:30"
    )  # fmt: skip
    made = by_key(outlook.events())[f"calendar:activities:{berlin}"]
    assert made["originalStartTimeZone"] == W_EUROPE
    firm.settle("calendar")

    firm.update("activities", trip["id"], subject="SFO to JFK (UA 1)")
    firm.update("activities", rows["Paris call"]["id"], location="Rue de Rivoli")
    firm.sync("calendar")

    landed = outlook.get(f"/events/{flight['id']}")  # the arrival zone is kept
    assert (landed["subject"], landed["originalStartTimeZone"], landed["originalEndTimeZone"]) == (
        "SFO to JFK (UA 1)", "Pacific Standard Time", "Eastern Standard Time"
    )  # fmt: skip
    assert outlook.get(f"/events/{paris['id']}")["originalStartTimeZone"] == "Romance Standard Time"
    firm.settle("calendar")


def test_scenario_57_a_custom_zone_falls_back_to_utc_with_a_warning(
    firm: Office, sandbox_server: SandboxServer, caplog: pytest.LogCaptureFixture
) -> None:
    """The sandbox accepts only zones it knows: an event imported with a zone of its own ("Customized Time
    Zone", as Exchange names it) is made in UTC and shown through a relay with that zone name."""
    outlook = firm.outlook()
    made = outlook.post("/calendar/events", {"subject": "Imported", "start": graph_time(day(3), "09:00"),
                                             "end": graph_time(day(3), "10:00")})  # fmt: skip
    with Proxy(sandbox_server) as proxy:
        proxy.mark[made["id"]] = {"originalStartTimeZone": "Customized Time Zone",
                                  "originalEndTimeZone": "Customized Time Zone"}  # fmt: skip
        firm.through(proxy)
        with caplog.at_level("WARNING"):
            firm.sync("calendar")
        row = one(firm.rows("activities"))
        assert (row["time_zone"], row["starts_at"], row["ends_at"]) == (
            "UTC",
            f"{day(3)} 09:00",
            f"{day(3)} 10:00",
        )
        assert "Customized Time Zone" in caplog.text
        firm.settle("calendar")
        firm.through(None)
    assert proxy.hits[made["id"]] > 0


def test_scenario_58_floating_dates_do_not_shift_between_zones(make: Callable[..., Office]) -> None:
    firm = make("AB", AB="Pacific/Auckland")  # 11 to 13 hours ahead of UTC
    task = add_task(firm, "File the appeal", due_at=day(5))
    person = add_person(firm, birthday="1990-02-03")
    firm.sync("contacts", "tasks")
    outlook = firm.outlook()
    [todo] = outlook.tasks()
    assert at_midnight_in(todo["dueDateTime"], "Pacific/Auckland") == day(5)
    [card] = outlook.contacts()
    assert card["birthday"][:10] == "1990-02-03"
    firm.settle("contacts", "tasks")

    # the user sets new dates in apps running in Sydney (two hours behind) and at Exchange's own time of day
    outlook.patch(
        f"/todo/lists/{outlook.list_id()}/tasks/{todo['id']}",
        {"dueDateTime": {"dateTime": f"{day(8)}T00:00:00", "timeZone": "AUS Eastern Standard Time"}},
    )
    outlook.patch(f"/contacts/{card['id']}", {"birthday": "1990-02-04T11:59:00Z"})
    firm.sync("contacts", "tasks")

    assert firm.rows("activities", "id = :i", i=task)[0]["due_at"] == day(8)
    assert firm.rows("people", "id = :i", i=person)[0]["birthday"] == "1990-02-04"
    firm.settle("contacts", "tasks")


def at_midnight_in(value: dict[str, str], zone_name: str) -> str:
    """The date of a dateTimeTimeZone that is midnight in ``zone_name``."""
    moment = datetime.fromisoformat(value["dateTime"][:19]).replace(tzinfo=ZoneInfo(value["timeZone"]))
    local = moment.astimezone(ZoneInfo(zone_name))
    assert local.time() == datetime.min.time(), value
    return local.date().isoformat()


@pytest.mark.parametrize(
    "case",
    [
        pytest.param("due-set-in-california", marks=pytest.mark.xfail(strict=True, reason=(
            "task_map.due_from_graph reads dueDateTime as the nearest midnight in the profile's zone: a date "
            "written at midnight of a zone more than 12 h away (California for an Auckland profile: 21 h) "
            "reads as the next day. Fix: of the dates whose midnight falls on that instant at a real UTC "
            "offset (-12 h to +14 h) — at most two —, take the one nearest the profile's zone"))),
        pytest.param("birthday-at-auckland-midnight", marks=pytest.mark.xfail(strict=True, reason=(
            "contact_map.birthday_from_graph takes the nearest midnight in UTC: Outlook in Auckland writes "
            "a birthday at local midnight (UTC+13 in summer: 11:00 UTC the day before), which reads a day "
            "early. Fix: read it as the nearest midnight in the profile's zone, as tasks do"))),
    ],
)  # fmt: skip
def test_scenario_58_dates_written_far_from_utc_do_not_shift(make: Callable[..., Office], case: str) -> None:
    firm = make("AB", AB="Pacific/Auckland")
    task = add_task(firm, "File the appeal", due_at=day(5))
    person = add_person(firm, birthday="1990-02-03")
    firm.sync("contacts", "tasks")
    outlook = firm.outlook()

    if case == "due-set-in-california":
        [todo] = outlook.tasks()
        outlook.patch(
            f"/todo/lists/{outlook.list_id()}/tasks/{todo['id']}",
            {"dueDateTime": {"dateTime": f"{day(8)}T00:00:00", "timeZone": "Pacific Standard Time"}},
        )
        firm.sync("tasks")
        assert firm.rows("activities", "id = :i", i=task)[0]["due_at"] == day(8)
    else:
        [card] = outlook.contacts()
        outlook.patch(f"/contacts/{card['id']}", {"birthday": "1990-02-03T11:00:00Z"})  # 4 Feb, 00:00 NZDT
        firm.sync("contacts")
        assert firm.rows("people", "id = :i", i=person)[0]["birthday"] == "1990-02-04"
    firm.settle("contacts", "tasks")


def meeting(attendees: list[str], offset: int = 12, subject: str = "Settlement talks") -> dict[str, Any]:
    """A meeting as Outlook sends it (its organizer's mailbox invites the attendees)."""
    return {
        "subject": subject,
        "start": graph_time(day(offset), "14:00"),
        "end": graph_time(day(offset), "15:00"),
        "attendees": [{"type": "required", "emailAddress": {"address": a, "name": a}} for a in attendees],
    }


def inbox(outlook: Outlook) -> list[dict[str, Any]]:
    return outlook.all("/mailFolders/inbox/messages")


def attendee_rows(firm: Office, activity: int) -> dict[str, str]:
    return {
        r["email"]: r["response"] for r in firm.rows("activity_attendees", "activity_id = :a", a=activity)
    }


def test_scenario_59_a_meeting_the_user_does_not_organise_is_never_pushed_to(
    firm: Office, sandbox_server: SandboxServer
) -> None:
    chair = Outlook(firm.http, new_upn(sandbox_server, "chair"))
    original = chair.post("/calendar/events", meeting([firm.upn()]))
    outlook = firm.outlook()
    [copy] = outlook.events()
    firm.sync("calendar")
    row = one(firm.rows("activities"))
    assert (row["organizer_email"], row["subject"], row["staff_id"]) == (chair.upn, "Settlement talks", 1)
    firm.settle("calendar")
    messages = len(inbox(chair))

    firm.update("activities", row["id"], subject="Our version", starts_at=f"{day(13)} 09:00",
                ends_at=f"{day(13)} 10:00")  # fmt: skip
    runs = firm.sync("calendar")

    assert runs.writes("mailbox", "calendar") == runs.writes("business", "calendar") == NO_WRITES
    held = outlook.get(f"/events/{copy['id']}")
    assert (held["subject"], held["start"]["dateTime"][:16]) == ("Settlement talks", f"{day(12)}T14:00")
    assert chair.get(f"/events/{original['id']}")["subject"] == "Settlement talks"
    firm.settle("calendar")

    firm.update("activities", row["id"], deleted=1)  # deleted in the business: only the link goes
    runs = firm.sync("calendar")

    assert runs.writes("mailbox", "calendar") == NO_WRITES
    assert [e["id"] for e in outlook.events()] == [copy["id"]]
    assert (
        outlook.get(f"/events/{copy['id']}")["responseStatus"]["response"]
        == copy["responseStatus"]["response"]
    )
    assert len(inbox(chair)) == messages  # no decline, no cancellation
    link = firm.links("calendar")[f"calendar:activities:{row['id']}"]  # unlinked
    assert (link.business_id, link.removed_in_business, link.mailbox_id) == (None, True, copy["id"])
    firm.settle("calendar")


@pytest.mark.xfail(
    strict=True,
    reason="the user's own answer to a meeting never reaches the business row: event_map.to_event takes "
    "responses from attendees[].status only, and an attendee's copy carries the user's own answer in "
    "responseStatus (its attendee list stays as the organizer sent it), so the user's activity_attendees "
    "row stays 'none'",
)
def test_scenario_59_the_users_own_response_reaches_the_business_row(
    firm: Office, sandbox_server: SandboxServer
) -> None:
    chair = Outlook(firm.http, new_upn(sandbox_server, "chair"))
    chair.post("/calendar/events", meeting([firm.upn()]))
    outlook = firm.outlook()
    [copy] = outlook.events()
    firm.sync("calendar")
    row = one(firm.rows("activities"))

    outlook.post(f"/events/{copy['id']}/accept", {"sendResponse": True})
    firm.sync("calendar")

    assert outlook.get(f"/events/{copy['id']}")["responseStatus"]["response"] == "accepted"
    assert attendee_rows(firm, row["id"]) == {firm.upn(): "accepted"}
    firm.settle("calendar")


@pytest.mark.xfail(
    strict=True,
    reason="a meeting seen in two staff mailboxes becomes two activities rows: the business connector's "
    "scope is the profile's own rows (staff_id), so the attendee's copy never meets the organizer's row, "
    "and planner._unlinked matches by ical_uid only among those (DESIGN rule 5: one row, found by ical_uid, "
    "attendee copies are further links to it)",
)
def test_scenario_59_a_meeting_between_staff_is_one_row(make: Callable[..., Office]) -> None:
    firm = make("AB", "CD")
    firm.outlook("AB").post("/calendar/events", meeting([firm.upn("CD")]))

    firm.sync("calendar")

    row = one(firm.rows("activities"))
    assert (row["staff_id"], row["organizer_email"]) == (1, firm.upn("AB"))
    assert firm.links("calendar", "CD")[f"calendar:activities:{row['id']}"].mailbox_id
    firm.settle("calendar")


def test_scenario_60_attendee_responses_reach_the_row_beside_a_business_edit(
    firm: Office, sandbox_server: SandboxServer
) -> None:
    colleague = Outlook(firm.http, new_upn(sandbox_server, "colleague"))
    outlook = firm.outlook()
    made = outlook.post("/calendar/events", meeting([colleague.upn]))
    firm.sync("calendar")
    row = one(firm.rows("activities"))
    assert attendee_rows(firm, row["id"]) == {colleague.upn: "none"}
    firm.settle("calendar")

    [invitation] = colleague.events()
    colleague.post(f"/events/{invitation['id']}/accept", {"sendResponse": True})
    firm.update("activities", row["id"], reminder_minutes=30)  # meanwhile, in the business
    runs = firm.sync("calendar")

    assert attendee_rows(firm, row["id"]) == {colleague.upn: "accepted"}
    assert one(firm.rows("activities"))["reminder_minutes"] == 30  # the business edit survives ...
    assert outlook.get(f"/events/{made['id']}")["reminderMinutesBeforeStart"] == 30  # ... and reaches Outlook
    assert runs.one("calendar").tally.conflicts == 0 and firm.store.conflicts("AB", "calendar") == []
    assert outlook.get(f"/events/{made['id']}")["attendees"][0]["status"]["response"] == "accepted"
    firm.settle("calendar")


def test_scenario_61_business_activities_with_attendees_send_no_invitations(
    make: Callable[..., Office], sandbox_server: SandboxServer
) -> None:
    firm = make("AB")
    colleague = Outlook(firm.http, new_upn(sandbox_server, "colleague"))
    activities = [add_event(firm, "Past hearing", offset=-5), add_event(firm, "Next hearing", offset=5)]
    for activity in activities:
        firm.insert("activity_attendees", activity_id=activity, email=colleague.upn, name="Colleague",
                    role="required", response="accepted")  # fmt: skip
        firm.insert("activity_attendees", activity_id=activity, email="client@example.com", name="Client",
                    role="optional", response="none")  # fmt: skip
    outlook = firm.outlook()

    firm.sync("calendar")

    assert sorted(e["subject"] for e in outlook.events()) == ["Next hearing", "Past hearing"]
    assert all(e["attendees"] == [] for e in outlook.events())  # kept aside, never invited
    assert inbox(colleague) == [] and colleague.events() == []
    firm.settle("calendar")
    assert all(attendee_rows(firm, a) == {colleague.upn: "accepted", "client@example.com": "none"}
               for a in activities)  # fmt: skip

    for activity in activities:  # an unimportant change sends nothing either
        firm.update("activities", activity, reminder_minutes=45)
    runs = firm.sync("calendar")

    assert runs.writes("mailbox", "calendar") == {**NO_WRITES, "updated": 2}
    assert inbox(colleague) == [] and colleague.events() == []
    firm.settle("calendar")


@pytest.mark.xfail(
    strict=True,
    reason="calendar.copy_to_staff_attendees (DESIGN rule 5: staff attendees of a business activity get a "
    "plain copy in their own calendar) is a setting only (settings/parts.py): neither the business "
    "connector nor the engine reads it, so the staff attendee's calendar stays empty",
)
def test_scenario_61_staff_attendees_get_a_plain_copy_instead_of_an_invitation(
    make: Callable[..., Office],
) -> None:
    firm = make("AB", "CD")
    activity = add_event(firm, "Hearing with CD")
    firm.insert("activity_attendees", activity_id=activity, email=firm.upn("CD"), name="CD", role="required",
                response="none")  # fmt: skip

    firm.sync("calendar")

    assert inbox(firm.outlook("CD")) == []
    [copy] = firm.outlook("CD").events()
    assert (copy["subject"], copy["attendees"]) == ("Hearing with CD", [])
    firm.settle("calendar")


@pytest.mark.parametrize("status", [403, 409])
def test_scenario_87_a_refused_meeting_update_is_never_deleted_and_recreated(
    make: Callable[..., Office], sandbox_server: SandboxServer, status: int
) -> None:
    firm = make("AB", config=BOTH + "\n[defaults.calendar]\nsend_invitations = true\n")
    colleague = Outlook(firm.http, new_upn(sandbox_server, "colleague"))
    outlook = firm.outlook()
    made = outlook.post("/calendar/events", meeting([colleague.upn]))
    firm.sync("calendar")
    row = one(firm.rows("activities"))
    firm.settle("calendar")
    messages = len(inbox(colleague))

    firm.update("activities", row["id"], location="Court 4")
    edited = firm.business()
    firm.fault(status=status, path=r"/events/[^/]+$", method="PATCH", count=-1)
    for _ in range(2):  # the run, and the next one that tries the item again
        before = firm.requests()
        runs = firm.sync("calendar", expect="failed")

        [error] = runs.one("calendar").tally.errors
        assert error["item"] == made["id"] and str(status) in error["message"]
        writes = firm.mailbox_writes(before)
        assert writes and all(" PATCH " in key for key in writes), writes  # never DELETE, never POST
        assert firm.business() == edited  # the row is left as the business has it
        held = outlook.get(f"/events/{made['id']}")
        assert held["location"].get("displayName") in (None, "")
        assert len(inbox(colleague)) == messages  # no cancellation, no new invitation

    firm.clear_faults()
    runs = firm.sync("calendar")
    assert runs.writes("mailbox", "calendar") == {**NO_WRITES, "updated": 1}
    assert outlook.get(f"/events/{made['id']}")["location"]["displayName"] == "Court 4"
    assert [e["id"] for e in outlook.events()] == [made["id"]]
    firm.settle("calendar")


# -- field content -------------------------------------------------------------------------------------------
def test_scenario_68_what_does_not_fit_graph_stays_in_the_business_row(firm: Office) -> None:
    person = add_person(firm, email="a@x.example", email2="b@x.example", email3="c@x.example",
                        email4="d@x.example", phone_work="+44 20 1", phone_work2="+44 20 2",
                        phone_mobile="+44 77 3", phone_home="+44 20 4")  # fmt: skip
    firm.sync("contacts")
    outlook = firm.outlook()
    [card] = outlook.contacts()
    assert emails(card) == ["a@x.example", "b@x.example", "c@x.example"]
    assert (card["businessPhones"], card["mobilePhone"], card["homePhones"]) == (
        ["+44 20 1", "+44 20 2"], "+44 77 3", ["+44 20 4"]
    )  # fmt: skip
    firm.settle("contacts")

    addresses = [{"address": a} for a in ("a@x.example", "b2@x.example", "c@x.example")]
    outlook.patch(f"/contacts/{card['id']}", {"emailAddresses": addresses})  # the 2nd address, in Outlook
    firm.sync("contacts")

    row = one(firm.rows("people"))  # the overflow is not shrunk by the mailbox edit
    assert [row[f] for f in ("email", "email2", "email3", "email4")] == [
        "a@x.example", "b2@x.example", "c@x.example", "d@x.example"
    ]  # fmt: skip
    firm.settle("contacts")

    firm.update("people", person, email4="d2@x.example")  # only the overflow changes: nothing for Graph
    before = firm.requests()
    firm.sync("contacts")
    assert firm.mailbox_writes(before) == {}
    assert one(firm.rows("people"))["email4"] == "d2@x.example"
    firm.settle("contacts")


@pytest.mark.xfail(
    strict=True,
    reason="contact photos exist nowhere: the sandbox has no /contacts/{id}/photo route "
    "(sandbox/resources/contacts.py), contact_map has no photo, the reference schema no photo column",
)
def test_scenario_69_a_contact_photo_set_in_outlook_survives_syncs(firm: Office) -> None:
    person = add_person(firm)
    firm.sync("contacts")
    outlook = firm.outlook()
    [card] = outlook.contacts()
    photo = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 64  # a JPEG's start, 16 KB
    response = outlook.http.put(f"{outlook.me}/contacts/{card['id']}/photo/$value", content=photo,
                                headers={"Content-Type": "image/jpeg"})  # fmt: skip
    outlook.ok(response)
    firm.update("people", person, job_title="Countess")
    firm.sync("contacts")
    assert outlook.http.get(f"{outlook.me}/contacts/{card['id']}/photo/$value").content == photo
    firm.settle("contacts")


# -- preconditions -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("how", ["permission-removed", "delta-refused"])
def test_scenario_89_a_calendar_graph_will_not_list_stops_its_run_and_deletes_nothing(
    make: Callable[..., Office], how: str
) -> None:
    firm = make("AB", config=DELETES_REACH_THE_BUSINESS)
    events = [add_event(firm, f"Hearing {n}", offset=n + 1) for n in range(12)]
    add_person(firm)
    add_task(firm)
    firm.sync("contacts", "calendar", "tasks")
    firm.settle("contacts", "calendar", "tasks")
    kept = firm.business()

    if how == "permission-removed":
        firm.deny("calendar")  # Calendars.ReadWrite withdrawn for this mailbox
    else:
        firm.fault(status=403, path=r"/calendarView/delta$", count=-1)
    runs = firm.sync("contacts", "calendar", "tasks", expect=None)

    calendar = runs.one("calendar")
    assert calendar.outcome == "failed" and "403" in calendar.message
    assert runs.one("contacts").outcome == runs.one("tasks").outcome == "ok"
    assert firm.business() == kept  # "not returned" is never "deleted"
    assert {link.business_id for link in firm.links("calendar").values()} == {
        f"activities:{e}" for e in events
    }

    firm.deny()
    firm.clear_faults()
    firm.settle("contacts", "calendar", "tasks")
    assert len(firm.outlook().events()) == 12
