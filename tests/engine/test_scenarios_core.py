"""SCENARIOS.md 1–7: the core decision table (edits and deletes on one or both sides)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest

from exsync.connector import Side
from exsync.engine import BusinessWins, MailboxWins, Policy, RecordOnly, direction
from exsync.model import Contact, Event

if TYPE_CHECKING:
    from conftest import Harness  # tests/engine/conftest.py: the `harness` fixture's type

HEARING = Event(subject="Hearing", location="Court 1", start="2026-03-02 10:00", end="2026-03-02 11:00")
ADA = Contact(first_name="Ada", last_name="Lovelace", city="London", emails=["ada@example.com"])


def synced(h: Harness, item: Contact | Event) -> tuple[str, str]:
    """A business row and its mailbox copy, after a clean first run: (business id, mailbox id)."""
    bid = h.b.put(item)
    report = h.run()
    assert report.outcome == "ok", report.message
    assert report.tally.writes[Side.MAILBOX].created == 1
    mid = h.mailbox_id(bid)
    assert mid is not None and mid in h.m
    return bid, mid


# -- 1. different fields edited on both sides ----------------------------------------------------
def test_scenario_01_different_fields_merge(make_harness: Callable[..., Harness]) -> None:
    h = make_harness("calendar")
    bid, mid = synced(h, HEARING)
    h.b.edit(bid, location="Court 7")
    h.m.edit(mid, subject="Hearing (moved)")

    report = h.run()

    assert report.outcome == "ok", report.message
    assert not report.full  # an incremental run, from the delta tokens of the first
    assert report.tally.writes[Side.MAILBOX].updated == 1
    assert report.tally.writes[Side.BUSINESS].updated == 1
    for record in (h.b.get(bid), h.m.get(mid)):
        assert record is not None
        assert (record.item.location, record.item.subject) == ("Court 7", "Hearing (moved)")
    assert report.tally.conflicts == 0 and h.conflicts() == []
    assert h.snapshot(bid) == h.b_item(bid).projection() == h.m_item(mid).projection()
    h.assert_quiet()


# -- 2. same field, same value ------------------------------------------------------------------
def test_scenario_02_same_field_same_value(harness: Harness) -> None:
    h = harness
    bid, mid = synced(h, ADA)
    bv = h.b.edit(bid, city="Paris")
    mv = h.m.edit(mid, city=" Paris\r\n")  # normalised to the same value

    report = h.run()

    assert report.outcome == "ok", report.message
    assert h.writes == (0, 1)  # only the first run's create
    assert report.tally.conflicts == 0 and h.conflicts() == []
    link = h.link(bid)
    assert link is not None
    assert (link.business_version, link.mailbox_version) == (bv, mv)  # only the versions are refreshed
    assert h.snapshot(bid)["city"] == "Paris"
    h.assert_quiet()


# -- 3. same field, different values ------------------------------------------------------------
@pytest.mark.parametrize(
    ("conflict", "kept", "winner"),
    [(BusinessWins(), "Paris", "business"), (MailboxWins(), "Rome", "mailbox")],
)
def test_scenario_03_same_field_different_values(
    make_harness: Callable[..., Harness], conflict: object, kept: str, winner: str
) -> None:
    h = make_harness("contacts", Policy(conflict=conflict))
    bid, mid = synced(h, ADA)
    bv = h.b.edit(bid, city="Paris", job_title="Analyst")
    mv = h.m.edit(mid, city="Rome")

    report = h.run()

    assert report.outcome == "ok", report.message
    assert report.tally.conflicts == 1
    assert h.b_item(bid).city == h.m_item(mid).city == kept
    assert h.m_item(mid).job_title == "Analyst"  # the other field merges
    [entry] = h.conflicts()
    assert (entry.key, entry.field) == (h.key(bid), "city")
    assert (entry.business_value, entry.mailbox_value, entry.base_value) == ("Paris", "Rome", "London")
    assert (entry.business_version, entry.mailbox_version) == (bv, mv)
    assert (entry.winner, entry.kept_value) == (winner, kept)
    assert not h.link(bid).conflict
    h.assert_quiet()


def test_scenario_03_record_only_flags_and_writes_neither(make_harness: Callable[..., Harness]) -> None:
    h = make_harness("contacts", Policy(conflict=RecordOnly()))
    bid, mid = synced(h, ADA)
    h.b.edit(bid, city="Paris")
    h.m.edit(mid, city="Rome")
    before = h.writes

    report = h.run()

    assert report.outcome == "ok", report.message
    assert h.writes == before
    assert h.b_item(bid).city == "Paris" and h.m_item(mid).city == "Rome"
    [entry] = h.conflicts()
    assert (entry.field, entry.business_value, entry.mailbox_value) == ("city", "Paris", "Rome")
    assert (entry.winner, entry.kept_value, entry.resolved) == ("none", None, False)
    assert h.link(bid).conflict
    h.assert_quiet()  # the flagged item is re-read, but not written nor logged again
    assert len(h.conflicts()) == 1 and h.link(bid).conflict


# -- 4. deleted in the mailbox, edited in the business side -------------------------------------
def test_scenario_04_mailbox_delete_alone_marks_the_link(harness: Harness) -> None:
    """The baseline of 4: without a business edit the row stays and is not sent again."""
    h = harness
    bid, mid = synced(h, ADA)
    h.m.remove(mid)

    report = h.run()

    assert report.outcome == "ok", report.message
    assert h.writes == (0, 1)
    assert bid in h.b and h.count(Side.MAILBOX) == 0
    link = h.link(bid)
    assert link is not None and link.removed_in_mailbox and link.mailbox_id is None
    h.assert_quiet()


def test_scenario_04_business_edit_recreates_by_default(harness: Harness) -> None:
    h = harness
    bid, mid = synced(h, ADA)
    h.m.remove(mid)
    h.b.edit(bid, city="Paris")

    report = h.run()

    assert report.outcome == "ok", report.message
    assert report.tally.writes[Side.MAILBOX].created == 1
    assert report.tally.writes[Side.BUSINESS].as_dict() == {"created": 0, "updated": 0, "deleted": 0}
    [record] = h.records(Side.MAILBOX)
    assert record.id != mid and record.item.city == "Paris"
    assert record.stamp == h.key(bid)
    [link] = h.links().values()  # the status row updated, not duplicated
    assert (link.key, link.business_id, link.mailbox_id) == (h.key(bid), bid, record.id)
    assert not link.removed_in_mailbox
    # not silent: the recreation is journaled with the reason in the link
    creates = [e for e in h.journal(h.key(bid)) if e.action == "create" and e.status == "done"]
    assert len(creates) == 2 and creates[0].after["city"] == "Paris"
    assert "edit beats the delete" in link.last_result
    h.assert_quiet()


def test_scenario_04_business_edit_recreates_after_the_delete_was_seen(harness: Harness) -> None:
    """The delete was already recorded (removed_in_mailbox) when the business row changes."""
    h = harness
    bid, mid = synced(h, ADA)
    h.m.remove(mid)
    h.run()
    h.b.edit(bid, city="Paris")

    report = h.run()

    assert report.tally.writes[Side.MAILBOX].created == 1
    [record] = h.records(Side.MAILBOX)
    assert record.item.city == "Paris" and h.mailbox_id(bid) == record.id
    assert len(h.links()) == 1 and not h.link(bid).removed_in_mailbox
    h.assert_quiet()


def test_scenario_04_delete_in_business_wins_and_logs_the_lost_edit(
    make_harness: Callable[..., Harness],
) -> None:
    h = make_harness("contacts", Policy(delete_in_business=True))
    bid, mid = synced(h, ADA)
    h.m.remove(mid)
    h.b.edit(bid, city="Paris")

    report = h.run()

    assert report.outcome == "ok", report.message
    assert report.tally.writes[Side.BUSINESS].deleted == 1
    assert report.tally.writes[Side.MAILBOX].created == 0
    assert bid not in h.b and h.count(Side.MAILBOX) == 0
    assert h.links() == {}
    [entry] = h.conflicts()
    assert (entry.key, entry.field, entry.winner) == (h.key(bid), "city", "delete")
    assert (entry.business_value, entry.base_value, entry.kept_value) == ("Paris", "London", None)
    assert report.tally.conflicts == 1
    h.assert_quiet()


# -- 5. deleted in the business side, edited in the mailbox -------------------------------------
@pytest.mark.parametrize("soft", [False, True], ids=["hard", "soft"])
def test_scenario_05_mailbox_edit_beats_the_delete_with_direction_both(harness: Harness, soft: bool) -> None:
    h = harness
    bid, mid = synced(h, ADA)
    (h.b.soft_delete if soft else h.b.remove)(bid)
    h.m.edit(mid, city="Rome")

    report = h.run()

    assert report.outcome == "ok", report.message
    assert report.tally.writes[Side.BUSINESS].created == 1
    assert report.tally.writes[Side.MAILBOX].as_dict() == {"created": 0, "updated": 0, "deleted": 0}
    [row] = h.records(Side.BUSINESS)
    assert row.id != bid and row.item.city == "Rome" and row.item.first_name == "Ada"
    assert h.m.get(mid) is not None  # the mailbox item stays
    link = h.link_of_mailbox(mid)
    assert link is not None and link.business_id == row.id
    assert not link.removed_in_business and link.in_scope
    assert len(h.links()) == 1
    if soft:
        assert h.b.get(bid).scope.value == "deleted"  # the flagged row is left as it is
    h.assert_quiet()


@pytest.mark.parametrize("soft", [False, True], ids=["hard", "soft"])
def test_scenario_05_to_mailbox_deletes_the_copy_and_logs_the_lost_edit(
    make_harness: Callable[..., Harness], soft: bool
) -> None:
    h = make_harness("contacts", Policy(direction=direction("to-mailbox")))
    bid, mid = synced(h, ADA)
    (h.b.soft_delete if soft else h.b.remove)(bid)
    h.m.edit(mid, city="Rome")

    report = h.run()

    assert report.outcome == "ok", report.message
    assert report.tally.writes[Side.MAILBOX].deleted == 1
    assert report.tally.writes[Side.BUSINESS].created == 0
    assert mid not in h.m and h.count(Side.BUSINESS) == 0
    assert h.links() == {}
    [entry] = h.conflicts()
    assert (entry.key, entry.field, entry.winner) == (h.key(bid), "city", "delete")
    assert (entry.mailbox_value, entry.base_value) == ("Rome", "London")
    h.assert_quiet()


@pytest.mark.parametrize("soft", [False, True], ids=["hard", "soft"])
def test_scenario_05_business_delete_alone_removes_the_copy(harness: Harness, soft: bool) -> None:
    h = harness
    bid, mid = synced(h, ADA)
    (h.b.soft_delete if soft else h.b.remove)(bid)

    report = h.run()

    assert report.tally.writes[Side.MAILBOX].deleted == 1
    assert mid not in h.m and h.links() == {} and h.conflicts() == []
    h.assert_quiet()


# -- 6. deleted on both sides -------------------------------------------------------------------
@pytest.mark.parametrize("soft", [False, True], ids=["hard", "soft"])
def test_scenario_06_deleted_on_both_sides(harness: Harness, soft: bool) -> None:
    h = harness
    bid, mid = synced(h, ADA)
    other, _ = synced(h, Contact(first_name="Bob"))
    (h.b.soft_delete if soft else h.b.remove)(bid)
    h.m.remove(mid)
    before = h.writes

    report = h.run()

    assert report.outcome == "ok", report.message
    assert h.writes == before  # no write on either side
    assert h.link(bid) is None and h.link(other) is not None
    assert report.tally.conflicts == 0
    h.assert_quiet()


# -- 7. business row edited while the run is in progress -----------------------------------------
def test_scenario_07_edit_during_the_run_is_propagated_next_time(harness: Harness) -> None:
    h = harness
    bid, mid = synced(h, ADA)
    listed_version = h.b.edit(bid, city="Paris")
    edited: list[str] = []

    def on_step(step: str) -> None:
        if step == "before-journal" and not edited:
            edited.append(h.b.edit(bid, city="Berlin"))

    report = h.run(on_step=on_step)

    assert report.outcome == "ok", report.message
    assert edited
    assert h.m_item(mid).city == "Paris"  # the pre-edit projection
    link = h.link(bid)
    assert link is not None
    assert link.business_version == listed_version != edited[0]  # the edit is not marked synced
    assert h.snapshot(bid)["city"] == "Paris"

    report = h.run()

    assert report.tally.writes[Side.MAILBOX].updated == 1
    assert h.m_item(mid).city == "Berlin"
    assert h.link(bid).business_version == edited[0]
    assert h.conflicts() == []
    h.assert_quiet()


def test_scenario_07_edit_during_a_create_is_propagated_next_time(harness: Harness) -> None:
    h = harness
    bid = h.b.put(ADA)
    listed_version = h.b.get(bid).version

    def on_step(step: str) -> None:
        if step == "before-journal" and h.b.get(bid).version == listed_version:
            h.b.edit(bid, city="Berlin")

    report = h.run(on_step=on_step)

    assert report.tally.writes[Side.MAILBOX].created == 1
    assert h.mailbox_record(bid).item.city == "London"
    assert h.link(bid).business_version == listed_version

    report = h.run()

    assert report.tally.writes[Side.MAILBOX].as_dict() == {"created": 0, "updated": 1, "deleted": 0}
    assert h.mailbox_record(bid).item.city == "Berlin"
    assert h.count(Side.MAILBOX) == 1
    h.assert_quiet()
