"""The SQL connector under the engine: whole runs between a reference database and in-memory
mailboxes (limited like Graph contacts), on SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import text
from sqlfirm import Firm

from exsync.business.reference.generate import generate
from exsync.connector import Side
from exsync.engine import PairRun, RunOptions, RunReport
from exsync.engine.policy import policy_for
from exsync.model import Contact, Event
from exsync.settings import fingerprint
from exsync.state import StateStore
from exsync.state.records import ProfileRow
from exsync.testing.memory import MemoryConnector, MemoryStore

GRAPH_CONTACT_LIMITS = {"emails": 3, "business_phones": 2}


class Pair:
    """One profile's mailbox and state store next to a firm, run part by part."""

    def __init__(self, firm: Firm, profile: ProfileRow | None = None) -> None:
        self.firm = firm
        self.profile = profile or firm.profile("AB")
        self.code = self.profile.code
        self.mailbox = MemoryStore(Side.MAILBOX, name=self.code)
        self.state = StateStore("sqlite://")

    def run(self, part: str, *, full: bool = False, **settings: Any) -> RunReport:
        business = self.firm.connector(part, profile=self.profile, **settings)
        limits = GRAPH_CONTACT_LIMITS if part == "contacts" else None
        mailbox = MemoryConnector(self.mailbox, Side.MAILBOX, part, limits=limits)
        return PairRun(
            self.code, part, policy_for(business.settings), business, mailbox, self.state,
            fingerprint(business.settings), RunOptions(full=full),
        ).run()  # fmt: skip

    def quiet(self, part: str, **settings: Any) -> None:
        """A run with no outside change writes nothing, by delta and by a full listing."""
        for full in (False, True):
            report = self.run(part, full=full, **settings)
            assert report.outcome == "ok", report.as_json()
            data = report.as_json()
            assert data["mailbox"] == data["business"] == {"created": 0, "updated": 0, "deleted": 0}, data

    def mailbox_items(self, part: str) -> list[Any]:
        return [r.item for r in self.mailbox.records(part)]


def test_generated_firm_syncs_and_a_second_run_writes_nothing(firm: Firm) -> None:
    with firm.engine.begin() as conn:
        conn.execute(text("DELETE FROM staff"))
        generate(
            conn,
            seed=7,
            staff=3,
            companies=15,
            people=120,
            activities=90,
            now=datetime(2026, 3, 15, tzinfo=UTC),
        )
    staff = firm.business.staff()[0]
    profile = ProfileRow(code=staff.code, staff_id=staff.id, email=staff.email, time_zone=staff.time_zone)
    pair = Pair(firm, profile)
    for part in ("contacts", "calendar", "tasks"):
        report = pair.run(part, direction="both")
        assert report.outcome == "ok", report.as_json()
        listed = len(firm.connector(part, profile=profile).changes(None).entries)
        assert listed > 0 and len(pair.mailbox.records(part)) == listed
        pair.quiet(part, direction="both")


def test_extra_email_addresses_survive_every_round_trip(firm: Firm) -> None:
    firm.sql(
        "INSERT INTO people (first_name, last_name, email, email2, email3, email4)"
        " VALUES ('Ada', 'Lovelace', 'a@x.example', 'b@x.example', 'c@x.example', 'd@x.example')"
    )
    pair = Pair(firm)
    assert pair.run("contacts", direction="both").outcome == "ok"
    [held] = pair.mailbox.records("contacts")
    assert isinstance(held.item, Contact) and held.item.emails == [
        "a@x.example",
        "b@x.example",
        "c@x.example",
    ]

    def emails() -> list[str]:
        return [str(v) for v in firm.sql("SELECT email, email2, email3, email4 FROM people")[0]]

    pair.mailbox.edit(held.id, job_title="Countess")  # an edit of another field
    assert pair.run("contacts", direction="both").outcome == "ok"
    assert emails() == ["a@x.example", "b@x.example", "c@x.example", "d@x.example"]
    assert firm.sql("SELECT job_title FROM people")[0][0] == "Countess"

    pair.mailbox.edit(held.id, emails=["a@x.example", "b2@x.example", "c@x.example"])  # the 2nd address
    assert pair.run("contacts", direction="both").outcome == "ok"
    assert emails() == ["a@x.example", "b2@x.example", "c@x.example", "d@x.example"]

    firm.sql("UPDATE people SET email4 = 'd2@x.example'")  # the overflow edited in the business
    assert pair.run("contacts", direction="both").outcome == "ok"
    assert emails()[3] == "d2@x.example"
    pair.quiet("contacts", direction="both")
    assert emails() == ["a@x.example", "b2@x.example", "c@x.example", "d2@x.example"]


def test_a_bad_row_fails_alone_and_syncs_once_fixed(firm: Firm) -> None:
    firm.sql(
        "INSERT INTO activities (kind, type, subject, staff_id, starts_at, ends_at, time_zone, recurrence)"
        " VALUES ('event', 'Meeting', 'Good', 1, '2026-03-20 10:00', '2026-03-20 11:00', 'UTC', NULL),"
        "        ('event', 'Meeting', 'Bad', 1, '2026-03-21 10:00', '2026-03-21 11:00', 'UTC', 'FREQ=OFTEN')"
    )
    bad = firm.sql("SELECT id FROM activities WHERE subject = 'Bad'")[0][0]
    pair = Pair(firm)
    report = pair.run("calendar")
    data = report.as_json()
    assert report.outcome == "failed"
    assert [e["item"] for e in data["errors"]] == [f"activities:{bad}"]
    assert "FREQ=OFTEN" in data["errors"][0]["message"]
    assert [i.subject for i in pair.mailbox_items("calendar")] == ["Good"]
    # fixed by the business application, the row syncs on the next (delta) run
    firm.sql("UPDATE activities SET recurrence = 'FREQ=DAILY;COUNT=3' WHERE id = :id", id=bad)
    report = pair.run("calendar")
    assert report.outcome == "ok", report.as_json()
    assert sorted(i.subject for i in pair.mailbox_items("calendar")) == ["Bad", "Good"]
    pair.quiet("calendar")


def test_a_mailbox_event_becomes_one_row_even_after_the_state_store_is_lost(firm: Firm) -> None:
    pair = Pair(firm)
    pair.mailbox.put(
        Event(subject="Dentist", start="2026-03-18 08:00", end="2026-03-18 09:00", time_zone="UTC")
    )
    assert pair.run("calendar").as_json()["business"]["created"] == 1
    pair.state = StateStore("sqlite://")  # the state store is lost: the stamps pair the sides again
    report = pair.run("calendar")
    assert report.outcome == "ok", report.as_json()
    assert report.as_json()["business"]["created"] == 0
    rows = firm.sql("SELECT subject, type, staff_id FROM activities")
    assert [tuple(r) for r in rows] == [("Dentist", "Appointment", 1)]
    pair.quiet("calendar")


@pytest.mark.parametrize("part", ["contacts", "tasks"])
def test_a_business_delete_removes_the_mailbox_copy(firm: Firm, part: str) -> None:
    if part == "contacts":
        firm.sql("INSERT INTO people (first_name, last_name) VALUES ('Ada', 'Lovelace'), ('Bob', 'Byron')")
        table = "people"
    else:
        firm.sql(
            "INSERT INTO activities (kind, type, subject, staff_id, due_at)"
            " VALUES ('task', 'To-do', 'One', 1, '2026-03-20'), ('task', 'To-do', 'Two', 1, '2026-03-21')"
        )
        table = "activities"
    pair = Pair(firm)
    assert pair.run(part).outcome == "ok"
    assert len(pair.mailbox.records(part)) == 2
    first, second = (r[0] for r in firm.sql(f"SELECT id FROM {table} ORDER BY id"))
    firm.sql(f"DELETE FROM {table} WHERE id = :id", id=first)
    firm.sql(f"UPDATE {table} SET deleted = 1 WHERE id = :id", id=second)
    report = pair.run(part)
    assert report.as_json()["mailbox"]["deleted"] == 2, report.as_json()
    assert pair.mailbox.records(part) == []
