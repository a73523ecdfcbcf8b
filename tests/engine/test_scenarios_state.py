"""SCENARIOS.md 22 and 24–31: identity conflicts, lost or restored state, crashes, locks, failing state."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy.exc import OperationalError

from exsync.connector import Side
from exsync.engine import Policy, RecordOnly
from exsync.model import Contact, Event
from exsync.model.items import Attendee
from exsync.testing.faults import Crash

if TYPE_CHECKING:
    from conftest import Harness  # tests/engine/conftest.py: the `harness` fixture's type


def person(n: int, **fields: Any) -> Contact:
    return Contact(first_name=f"P{n}", last_name="Client", emails=[f"p{n}@example.com"], **fields)


def assert_one_copy_each(h: Harness) -> None:
    """Every business row has exactly one linked mailbox item, and every stamp is used once."""
    rows = h.records(Side.BUSINESS)
    items = h.records(Side.MAILBOX)
    stamps = Counter(r.stamp for r in items)
    assert all(n == 1 for n in stamps.values()), (
        f"duplicate stamps: {[s for s, n in stamps.items() if n > 1]}"
    )
    assert len(items) == len(rows)
    links = h.links()
    assert len(links) == len(rows)
    assert {link.business_id for link in links.values()} == {r.id for r in rows}
    assert {link.mailbox_id for link in links.values()} == {r.id for r in items}
    for link in links.values():
        b, m = h.b.get(link.business_id), h.m.get(link.mailbox_id)
        assert b is not None and m is not None
        assert b.item.projection() == m.item.projection(), link.key


def crash_at(step: str, nth: int = 1) -> Callable[[str], None]:
    seen = 0

    def on_step(name: str) -> None:
        nonlocal seen
        if name == step:
            seen += 1
            if seen == nth:
                raise Crash(f"crash at {step} #{nth}")

    return on_step


# -- 22. one external UID on two business records ------------------------------------------------
def test_scenario_22_identity_conflict_stops_the_pair(make_harness: Callable[..., Harness]) -> None:
    h = make_harness("calendar")
    meeting = Event(
        subject="Board meeting",
        start="2026-04-01 09:00",
        end="2026-04-01 10:00",
        ical_uid="uid-board@firm.example",
        attendees=[Attendee(email="chair@example.org")],
    )
    first = h.b.put(meeting)
    second = h.b.put(meeting.with_changes({"subject": "Board meeting (copy)"}))
    h.m.put(meeting)
    other = h.b.put(Event(subject="Unrelated", start="2026-04-02 09:00", end="2026-04-02 10:00"))

    report = h.run()

    assert report.outcome == "failed"
    assert "identity conflict" in report.message
    assert first in report.message and second in report.message
    assert h.writes == (0, 0)
    assert h.links() == {}
    assert h.store.last_run(h.profile, h.part).outcome == "failed"
    again = h.run()  # the second run: still stopped, still no write
    assert again.outcome == "failed" and "identity conflict" in again.message
    assert h.writes == (0, 0)

    # once the data is fixed the pair runs again: the mailbox event pairs with the first row by its UID
    h.b.edit(second, ical_uid="uid-board-2@firm.example")
    report = h.run()
    assert report.outcome == "ok", report.message
    assert report.tally.writes[Side.MAILBOX].created == 2  # the second row and the unrelated one
    assert h.count(Side.MAILBOX) == 3
    assert h.mailbox_id(first) is not None and h.mailbox_id(second) is not None and h.mailbox_id(other)
    h.assert_quiet()


# -- 24. the state store is lost ----------------------------------------------------------------------
def lost_state_with_500_pairs(h: Harness) -> tuple[str, str, dict[str, str]]:
    ids = [h.b.put(person(n)) for n in range(500)]
    report = h.run()
    assert report.tally.writes[Side.MAILBOX].created == 500
    paired = {bid: h.mailbox_id(bid) for bid in ids}
    differs = ids[42]
    h.m.edit(paired[differs], city="Rome")
    h.b.edit(differs, city="Paris")
    h.forget_state()
    return ids[42], paired[differs], paired


def test_scenario_24_lost_state_repairs_by_stamp(harness: Harness) -> None:
    h = harness
    bid, mid, paired = lost_state_with_500_pairs(h)
    assert h.links() == {}

    report = h.run()

    assert report.outcome == "ok", report.message
    for side in Side:
        counts = report.tally.writes[side]
        assert (counts.created, counts.deleted) == (0, 0), side
    assert h.count(Side.MAILBOX) == h.count(Side.BUSINESS) == 500
    assert {b: h.mailbox_id(b) for b in paired} == paired  # every pair found again, by its stamp
    # the pair whose content differs is reported (business wins, the mailbox value is in the log)
    [entry] = h.conflicts()
    assert (entry.key, entry.field, entry.business_value, entry.mailbox_value) == (
        h.key(bid),
        "city",
        "Paris",
        "Rome",
    )
    assert (entry.winner, entry.base_value) == ("business", None)
    assert report.tally.writes[Side.MAILBOX].updated == 1 and h.m_item(mid).city == "Paris"
    assert_one_copy_each(h)
    h.assert_quiet()


def test_scenario_24_lost_state_record_only_overwrites_nothing(make_harness: Callable[..., Harness]) -> None:
    h = make_harness("contacts", Policy(conflict=RecordOnly()))
    bid, mid, paired = lost_state_with_500_pairs(h)
    before = h.writes

    report = h.run()

    assert report.outcome == "ok", report.message
    assert h.writes == before  # not one write on either side
    assert {b: h.mailbox_id(b) for b in paired} == paired
    [entry] = h.conflicts()
    assert (entry.key, entry.field, entry.winner) == (h.key(bid), "city", "none")
    assert h.link(bid).conflict
    assert h.b_item(bid).city == "Paris" and h.m_item(mid).city == "Rome"
    h.assert_quiet()


# -- 25. the state store is restored from an old backup -------------------------------------------
def backup(h: Harness) -> tuple[list[Any], dict[str, str]]:
    links = h.links()
    for key, snapshot in h.store.snapshots(h.profile, h.part, links).items():
        links[key].snapshot = snapshot
    return list(links.values()), h.store.tokens(h.profile, h.part)


def restore(h: Harness, saved: tuple[list[Any], dict[str, str]]) -> None:
    links, tokens = saved
    h.store.delete_links(h.profile, h.part)
    h.store.save_links(h.profile, h.part, links)
    h.store.save_tokens(h.profile, h.part, {"business": None, "mailbox": None, **tokens})


def test_scenario_25_state_restored_from_an_old_backup(harness: Harness) -> None:
    h = harness
    a, b, c, d, g = (h.b.put(person(n)) for n in range(5))
    h.run()
    a_m, b_m, c_m, d_m, g_m = (h.mailbox_id(x) for x in (a, b, c, d, g))
    saved = backup(h)

    # since the backup: edits, creates and deletes on both sides, all synced
    h.b.edit(a, city="Paris")  # edited in the business side
    e = h.b.put(person(5))  # created in the business side
    f_m = h.m.put(person(6))  # created in the mailbox
    h.b.remove(b)  # deleted in the business side (its copy is removed)
    h.m.edit(c_m, job_title="Partner")  # edited in the mailbox
    h.m.remove(g_m)  # deleted in the mailbox (the row stays, marked)
    report = h.run()
    assert report.outcome == "ok" and not report.tally.errors, report.message
    e_m = h.mailbox_id(e)
    f = h.business_id(f_m)
    assert e_m and f and b_m not in h.m and h.link(g).removed_in_mailbox
    # deleted in the business side after the last run, not synced yet
    h.b.remove(d)
    before = {side: {r.id for r in h.records(side)} for side in Side}

    restore(h, saved)
    report = h.run()

    assert report.outcome == "ok", report.message
    assert report.tally.writes[Side.MAILBOX].as_dict() == {"created": 0, "updated": 0, "deleted": 1}
    assert report.tally.writes[Side.BUSINESS].as_dict() == {"created": 0, "updated": 0, "deleted": 0}
    assert d_m not in h.m  # deleted on one side, unchanged on the other: deleted there
    assert {r.id for r in h.records(Side.MAILBOX)} == before[Side.MAILBOX] - {d_m}
    assert {r.id for r in h.records(Side.BUSINESS)} == before[Side.BUSINESS]  # no row deleted or added
    # items created since the backup are re-paired, not duplicated
    assert h.mailbox_id(e) == e_m and h.business_id(f_m) == f
    # edits made since the backup are kept on both sides
    assert h.b_item(a).city == h.m_item(a_m).city == "Paris"
    assert h.b_item(c).job_title == h.m_item(c_m).job_title == "Partner"
    # the deletes made since the backup are not undone
    assert h.link(b) is None and h.link(d) is None
    assert g_m not in h.m and h.link(g).removed_in_mailbox
    assert h.conflicts() == []
    h.assert_quiet()


def test_scenario_25_created_and_deleted_since_the_backup_reappears_at_most_once(harness: Harness) -> None:
    """Resurrection, never loss: a row created and then removed in the mailbox after the backup."""
    h = harness
    h.b.put(person(0))
    h.run()
    saved = backup(h)
    late = h.b.put(person(1))
    h.run()
    h.m.remove(h.mailbox_id(late))
    h.run()
    assert h.link(late).removed_in_mailbox

    restore(h, saved)
    report = h.run()

    assert report.outcome == "ok", report.message
    assert report.tally.writes[Side.BUSINESS].deleted == 0 and late in h.b
    copies = [r for r in h.records(Side.MAILBOX) if r.stamp == h.key(late)]
    assert len(copies) == 1  # re-created once (resurrection), and journaled
    assert any(e.action == "create" and e.status == "done" for e in h.journal(h.key(late))[:1])
    assert_one_copy_each(h)
    h.assert_quiet()


# -- 26. crash after creating, before recording ---------------------------------------------------------
@pytest.mark.parametrize("crash", ["fault", "step"])
def test_scenario_26_crash_after_mailbox_create(harness: Harness, crash: str) -> None:
    h = harness
    rows = [h.b.put(person(n)) for n in range(3)]
    options: dict[str, Any] = {}
    if crash == "fault":
        h.m.faults.crash_after(2)  # dies right after the second create
    else:
        options["on_step"] = crash_at("after-write:mailbox")  # all three created, none recorded
    with pytest.raises(Crash):
        h.run(**options)
    made = h.count(Side.MAILBOX)
    assert made == (2 if crash == "fault" else 3)
    assert h.links() == {}
    assert h.store.last_run(h.profile, h.part).outcome == "failed"

    report = h.run()

    assert report.outcome == "ok", report.message
    assert report.tally.writes[Side.MAILBOX].created == 3 - made
    assert h.m.calls.creates == 3  # no create was repeated
    assert_one_copy_each(h)
    assert all(h.mailbox_id(r) for r in rows)
    assert {e.status for e in h.journal() if e.run_id == 1} == {"interrupted"}
    h.assert_quiet()


def test_scenario_26_crash_after_business_create(harness: Harness) -> None:
    h = harness
    mid = h.m.put(person(1))
    h.b.faults.crash_after(1)
    with pytest.raises(Crash):
        h.run()
    [row] = h.records(Side.BUSINESS)
    assert row.stamp == mid and h.links() == {}

    report = h.run()

    assert report.outcome == "ok", report.message
    assert h.writes == (1, 0)  # the business row was created once, nothing since
    assert h.business_id(mid) == row.id
    assert_one_copy_each(h)
    h.assert_quiet()


@pytest.mark.parametrize("side", [Side.BUSINESS, Side.MAILBOX])
def test_scenario_26_crash_after_recreating_a_deleted_item(harness: Harness, side: Side) -> None:
    """Scenarios 4/5 then 26: an edit beats a delete, the item is re-created on the side that deleted it,
    and the run dies before recording that. The next run pairs the re-created item; no second copy."""
    h = harness
    bid, mid = synced(h, person(1))
    other, _ = synced(h, person(2))
    if side is Side.BUSINESS:
        h.b.remove(bid)
        h.m.edit(mid, city="Rome")
        h.b.faults.crash_after(1)
    else:
        h.m.remove(mid)
        h.b.edit(bid, city="Rome")
        h.m.faults.crash_after(1)
    with pytest.raises(Crash):
        h.run()
    assert h.count(Side.BUSINESS) == h.count(Side.MAILBOX) == 2

    report = h.run()

    assert report.outcome == "ok", report.message
    for s in Side:
        assert report.tally.writes[s].created == 0, s
    assert h.count(Side.BUSINESS) == h.count(Side.MAILBOX) == 2
    assert sorted(r.item.city for r in h.records(side)) == ["", "Rome"]
    assert_one_copy_each(h)
    assert h.link(other) is not None
    h.assert_quiet()


def synced(h: Harness, item: Contact) -> tuple[str, str]:
    bid = h.b.put(item)
    report = h.run()
    assert report.outcome == "ok", report.message
    mid = h.mailbox_id(bid)
    assert mid is not None
    return bid, mid


# -- 27. crash after updating, before recording ---------------------------------------------------------
@pytest.mark.parametrize("crash", ["fault", "before-record", "after-write:mailbox"])
def test_scenario_27_crash_after_update_only_refreshes(harness: Harness, crash: str) -> None:
    h = harness
    bid = h.b.put(person(1))
    h.run()
    mid = h.mailbox_id(bid)
    old = h.link(bid)
    h.b.edit(bid, city="Paris")
    if crash == "fault":
        h.m.faults.crash_after(1)
        options: dict[str, Any] = {}
    else:
        options = {"on_step": crash_at(crash)}
    with pytest.raises(Crash):
        h.run(**options)
    assert h.m_item(mid).city == "Paris"
    assert h.link(bid).mailbox_version == old.mailbox_version  # not recorded
    before = h.writes

    report = h.run()

    assert report.outcome == "ok", report.message
    assert h.writes == before  # same content on both sides: the link is only refreshed
    link = h.link(bid)
    assert link is not None
    assert (link.business_version, link.mailbox_version) == (h.b.get(bid).version, h.m.get(mid).version)
    assert h.snapshot(bid)["city"] == "Paris"
    assert h.conflicts() == []
    h.assert_quiet()


def test_scenario_27_crash_between_the_two_sides_of_a_merge(harness: Harness) -> None:
    h = harness
    bid = h.b.put(person(1))
    h.run()
    mid = h.mailbox_id(bid)
    h.b.edit(bid, city="Paris")
    h.m.edit(mid, job_title="Partner")
    with pytest.raises(Crash):
        h.run(on_step=crash_at("after-write:mailbox"))  # the mailbox is written, the business side not

    report = h.run()

    assert report.outcome == "ok", report.message
    assert report.tally.writes[Side.MAILBOX].updated == 0
    assert report.tally.writes[Side.BUSINESS].updated == 1
    for record in (h.b.get(bid), h.m.get(mid)):
        assert (record.item.city, record.item.job_title) == ("Paris", "Partner")
    assert h.conflicts() == []
    h.assert_quiet()


# -- 28. crash around a delete ---------------------------------------------------------------------------
@pytest.mark.parametrize("crash", ["after-journal", "fault", "after-write:mailbox", "before-record"])
def test_scenario_28_crash_around_a_mailbox_delete(harness: Harness, crash: str) -> None:
    h = harness
    rows = [h.b.put(person(n)) for n in range(4)]
    h.run()
    copies = {r: h.mailbox_id(r) for r in rows}
    gone = rows[1]
    h.b.remove(gone)
    if crash == "fault":
        h.m.faults.crash_after(1)
        options: dict[str, Any] = {}
    else:
        options = {"on_step": crash_at(crash)}
    with pytest.raises(Crash):
        h.run(**options)
    deleted_before = crash != "after-journal"
    assert (copies[gone] not in h.m) is deleted_before
    [intent] = [e for e in h.journal(h.key(gone)) if e.action == "delete"]
    assert intent.status == "pending" and intent.item_id == copies[gone]

    report = h.run()

    assert report.outcome == "ok", report.message
    assert report.tally.writes[Side.MAILBOX].deleted == (0 if deleted_before else 1)
    assert report.tally.writes[Side.BUSINESS].as_dict() == {"created": 0, "updated": 0, "deleted": 0}
    assert copies[gone] not in h.m and h.link(gone) is None
    assert all(copies[r] in h.m and r in h.b for r in rows if r != gone)  # no other item deleted
    assert h.m.calls.deletes == 1
    assert [e.status for e in h.journal(h.key(gone)) if e.action == "delete"][-1] == "interrupted"
    assert_one_copy_each(h)
    h.assert_quiet()


@pytest.mark.parametrize("crash", ["after-journal", "fault", "after-write:business"])
def test_scenario_28_crash_around_a_business_delete(make_harness: Callable[..., Harness], crash: str) -> None:
    h = make_harness("contacts", Policy(delete_in_business=True))
    rows = [h.b.put(person(n)) for n in range(4)]
    h.run()
    gone = rows[2]
    h.m.remove(h.mailbox_id(gone))
    if crash == "fault":
        h.b.faults.crash_after(1)
        options: dict[str, Any] = {}
    else:
        options = {"on_step": crash_at(crash)}
    with pytest.raises(Crash):
        h.run(**options)

    report = h.run()

    assert report.outcome == "ok", report.message
    assert gone not in h.b and h.link(gone) is None
    assert h.b.calls.deletes == 1 and h.m.calls.deletes == 0
    assert [r.id for r in h.records(Side.BUSINESS)] == [r for r in rows if r != gone]
    assert_one_copy_each(h)
    h.assert_quiet()


# -- 29. crash in the middle of 1,000 creates -----------------------------------------------------------
@pytest.mark.parametrize("crash_after", [500, 507])
def test_scenario_29_crash_in_the_middle_of_1000_creates(harness: Harness, crash_after: int) -> None:
    h = harness
    for n in range(1000):
        h.b.put(person(n))
    h.m.faults.crash_after(crash_after)
    with pytest.raises(Crash):
        h.run(chunk=20)
    assert h.count(Side.MAILBOX) == crash_after
    assert len(h.links()) == (crash_after - 1) // 20 * 20  # the chunks recorded before the crash

    report = h.run(chunk=20)

    assert report.outcome == "ok", report.message
    assert report.tally.writes[Side.MAILBOX].created == 1000 - crash_after
    assert h.m.calls.creates == 1000
    assert h.count(Side.MAILBOX) == 1000
    assert len({r.stamp for r in h.records(Side.MAILBOX)}) == 1000
    assert_one_copy_each(h)
    h.assert_quiet(chunk=20)


# -- 30. two runs of the same pair ------------------------------------------------------------------------
def test_scenario_30_a_live_lock_makes_the_run_skip(harness: Harness) -> None:
    h = harness
    h.b.put(person(1))
    holder = "other-host:1:x"
    assert h.store.acquire_lock(h.profile, h.part, holder)

    report = h.run()

    assert report.outcome == "skipped"
    assert "locked" in report.message
    assert h.writes == (0, 0) and h.links() == {}
    assert h.store.lock_holder(h.profile, h.part).holder == holder  # not taken
    again = h.run()  # the second run: still skipped, still no write
    assert again.outcome == "skipped" and h.writes == (0, 0)

    h.store.release_lock(h.profile, h.part, holder)
    report = h.run()
    assert report.outcome == "ok" and report.tally.writes[Side.MAILBOX].created == 1
    assert h.store.lock_holder(h.profile, h.part) is None  # released after the run
    h.assert_quiet()


@pytest.mark.parametrize("how", ["dead-process", "expired-lease"])
def test_scenario_30_a_dead_holders_lock_is_taken_over(harness: Harness, how: str) -> None:
    h = harness
    h.b.put(person(1))
    if how == "dead-process":
        done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                              text=True, check=True)  # fmt: skip
        assert h.store.acquire_lock(h.profile, h.part, f"{socket.gethostname()}:{done.stdout.strip()}:x")
    else:
        assert h.store.acquire_lock(h.profile, h.part, "other-host:1:x", lease_seconds=-1)

    report = h.run()

    assert report.outcome == "ok", report.message
    assert report.tally.writes[Side.MAILBOX].created == 1
    h.assert_quiet()


# -- 31. the state store fails while recording -----------------------------------------------------------
def test_scenario_31_state_store_failure_aborts_and_the_next_run_recovers(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    h = harness
    a, b, c = (h.b.put(person(n)) for n in range(3))
    h.run()
    a_m, b_m, c_m = (h.mailbox_id(x) for x in (a, b, c))
    h.b.edit(a, city="Paris")  # to the mailbox
    h.m.edit(c_m, job_title="Partner")  # to the business side
    d = h.b.put(person(3))  # created in the mailbox
    e_m = h.m.put(person(4))  # created in the business side
    h.b.remove(b)  # its copy is deleted

    real = h.store.save_links
    failures: list[int] = []

    def failing_save_links(*args: Any, **kwargs: Any) -> None:
        if not failures:
            failures.append(1)
            raise OperationalError("INSERT INTO links …", {}, Exception("database or disk is full"))
        real(*args, **kwargs)

    monkeypatch.setattr(h.store, "save_links", failing_save_links)
    with pytest.raises(OperationalError):
        h.run()
    assert failures
    assert h.store.last_run(h.profile, h.part).outcome == "failed"
    assert h.store.lock_holder(h.profile, h.part) is None
    written = h.writes
    assert written == (2, 3 + 3)  # first run: 3 creates in the mailbox; then 2 business and 3 mailbox writes

    report = h.run()

    assert report.outcome == "ok", report.message
    assert h.writes == written  # the writes already made are recovered, not repeated
    assert b not in h.b and b_m not in h.m and h.link(b) is None
    assert h.m_item(a_m).city == "Paris" and h.b_item(c).job_title == "Partner"
    assert h.mailbox_id(d) is not None and h.business_id(e_m) is not None
    assert h.conflicts() == []
    assert_one_copy_each(h)
    h.assert_quiet()
