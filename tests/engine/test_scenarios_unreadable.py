"""Rule 10: one bad item fails alone. A row the mapping cannot read (a NULL where it needs a value, a
malformed RRULE) is fetched as ``Scope.UNREADABLE``: it is skipped with a per-item error, retried next
run (delta or not), and never read as deleted, created elsewhere or paired with.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import pytest

from exsync.connector import Changes, Scope, Side
from exsync.engine import Policy, direction
from exsync.model import Contact
from exsync.testing.faults import Crash
from exsync.testing.memory import MemoryConnector

if TYPE_CHECKING:
    from conftest import Harness  # tests/engine/conftest.py: the `harness` fixture's type

NULL = "people.last_name is NULL"
NONE = {"created": 0, "updated": 0, "deleted": 0}
TO_MAILBOX_REPLICATE = Policy(direction=direction("to-mailbox", "replicate"))


def contact(n: int) -> Contact:
    return Contact(first_name=f"Person{n}", last_name="Tester", emails=[f"p{n}@example.com"])


def synced(h: Harness, n: int = 1) -> list[tuple[str, str]]:
    bids = [h.b.put(contact(i)) for i in range(n)]
    assert h.run().outcome == "ok"
    return [(bid, h.mailbox_id(bid)) for bid in bids]  # type: ignore[misc]


def no_writes(report: Any) -> bool:
    return all(report.tally.writes[side].as_dict() == NONE for side in Side)


def assert_failed_on(report: Any, *items: str) -> None:
    """The run failed, naming exactly these items, each with the reason it cannot be read."""
    data = report.as_json()
    assert data["outcome"] == "failed", data
    assert [e["item"] for e in data["errors"]] == list(items), data["errors"]
    assert all("cannot be read" in e["message"] and NULL in e["message"] for e in data["errors"])


def pending(h: Harness) -> set[tuple[str, str]]:
    return {(p.side, p.item_id) for p in h.store.pending(h.profile, h.part)}


def hide_unreadable(connector: MemoryConnector) -> None:
    """A connector whose listing leaves unreadable rows out (a delta reports them removed)."""
    inner = connector.changes

    def changes(token: str | None) -> Changes:
        found = inner(token)
        bad = {r.id for r in connector.store.records(connector.part) if r.scope is Scope.UNREADABLE}
        entries = [e for e in found.entries if e.id not in bad]
        return replace(found, entries=entries, removed=[*found.removed, *(() if found.full else bad)])

    connector.changes = changes  # type: ignore[method-assign]


def test_linked_row_becomes_unreadable_fails_alone_and_keeps_its_link(harness: Harness) -> None:
    h = harness
    (bad, bad_mid), (good, good_mid) = synced(h, 2)
    before = h.link(bad)
    h.b.make_unreadable(bad, NULL)
    h.b.edit(good, city="York")  # the other item goes on as usual
    report = h.run()
    assert_failed_on(report, bad)
    assert report.tally.writes[Side.MAILBOX].as_dict() == {**NONE, "updated": 1}
    assert h.m_item(good_mid).city == "York"
    assert h.m_item(bad_mid).first_name == "Person0"  # never emptied, never deleted
    assert h.link(bad) == before  # snapshot, versions and flags exactly as they were
    assert ("business", bad) in pending(h)


def test_unreadable_is_retried_in_delta_until_fixed(harness: Harness) -> None:
    h = harness
    ((bid, mid),) = synced(h)
    h.b.make_unreadable(bid, NULL)
    h.m.edit(mid, city="York")  # a mailbox edit seen in this run's delta only
    assert_failed_on(h.run(), bid)
    assert {("business", bid), ("mailbox", mid)} <= pending(h)
    # Nothing new is listed: the pending entries make the next run read both items again.
    writes = h.writes
    assert_failed_on(h.run(), bid)
    assert h.writes == writes
    # Fixed without a new version (a related row was mended): the pending read picks it up.
    h.b.set_scope(bid, Scope.IN)
    report = h.run()
    assert report.outcome == "ok", report.as_json()
    assert not report.full
    assert h.b_item(bid).city == "York"  # the mailbox edit made meanwhile was not lost
    assert pending(h) == set()
    h.assert_quiet()


def test_fixed_with_an_edit_is_synced_normally(harness: Harness) -> None:
    h = harness
    ((bid, mid),) = synced(h)
    h.b.make_unreadable(bid, NULL)
    assert_failed_on(h.run(), bid)
    h.b.set_scope(bid, Scope.IN)
    h.b.edit(bid, last_name="Fixed")
    report = h.run()
    assert report.outcome == "ok" and report.tally.writes[Side.MAILBOX].updated == 1
    assert h.m_item(mid).last_name == "Fixed"
    h.assert_quiet()


@pytest.mark.parametrize("side", list(Side))
def test_unlinked_unreadable_item_is_not_created(harness: Harness, side: Side) -> None:
    h = harness
    ident = h.side(side).put(contact(1))
    h.side(side).make_unreadable(ident, NULL)
    report = h.run()
    assert_failed_on(report, ident)
    assert no_writes(report) and h.count(side.other) == 0 and h.links() == {}
    assert (side.value, ident) in pending(h)
    h.side(side).set_scope(ident, Scope.IN)
    assert h.run().tally.writes[side.other].created == 1
    h.assert_quiet()


@pytest.mark.parametrize("hidden", [False, True], ids=["listed", "left out of the listing"])
@pytest.mark.parametrize(
    "policy",
    [Policy(), Policy(delete_in_mailbox=True, delete_in_business=True), TO_MAILBOX_REPLICATE],
    ids=["default", "deletes both ways", "to-mailbox/replicate"],
)
@pytest.mark.parametrize("full", [True, False], ids=["full", "delta"])
def test_unreadable_is_never_read_as_deleted(
    make_harness: Callable[..., Harness], policy: Policy, hidden: bool, full: bool
) -> None:
    h = make_harness(policy=policy)
    pairs = synced(h, 30)
    if hidden:
        hide_unreadable(h.business)
    bad = [bid for bid, _ in pairs[:27]]  # most of the side: the guard would stop a mass delete
    for bid in bad:
        h.b.make_unreadable(bid, NULL)
    links = h.links()
    report = h.run(full=full)
    assert_failed_on(report, *sorted(bad))
    assert no_writes(report) and report.outcome != "suspended"
    assert len(h.records(Side.MAILBOX)) == 30 and len(h.records(Side.BUSINESS, in_scope=False)) == 30
    assert h.links() == links
    for bid in bad:
        h.b.set_scope(bid, Scope.IN)
    assert h.run().outcome == "ok"
    h.assert_quiet(full=True)


def test_unreadable_mailbox_item_is_not_deleted_by_replicate(make_harness: Callable[..., Harness]) -> None:
    h = make_harness(policy=TO_MAILBOX_REPLICATE)
    foreign = h.m.put(contact(1))
    h.m.make_unreadable(foreign, NULL)
    report = h.run()
    assert_failed_on(report, foreign)
    assert no_writes(report) and foreign in h.m
    h.m.set_scope(foreign, Scope.IN)
    assert h.run().tally.writes[Side.MAILBOX].deleted == 1  # readable again: replicate removes it


@pytest.mark.parametrize("bad", list(Side), ids=lambda s: f"unreadable in {s.value}")
@pytest.mark.parametrize("origin", list(Side), ids=lambda s: f"made in {s.value}")
def test_lost_state_never_pairs_with_nor_recreates_an_unreadable_item(
    harness: Harness, origin: Side, bad: Side
) -> None:
    """Links lost: the item found by its stamp or creation token is unreadable. Nothing is made again."""
    h = harness
    made = h.side(origin).put(contact(1))
    assert h.run().outcome == "ok"
    ids = {Side.BUSINESS: h.records(Side.BUSINESS)[0].id, Side.MAILBOX: h.records(Side.MAILBOX)[0].id}
    assert made == ids[origin]
    h.forget_state()
    h.side(bad).make_unreadable(ids[bad], NULL)
    report = h.run()
    assert_failed_on(report, ids[bad])
    assert no_writes(report) and h.links() == {}
    assert all(len(h.records(side, in_scope=False)) == 1 for side in Side)
    h.side(bad).set_scope(ids[bad], Scope.IN)
    report = h.run()
    assert report.outcome == "ok" and no_writes(report)
    assert h.business_id(ids[Side.MAILBOX]) == ids[Side.BUSINESS]
    h.assert_quiet()


@pytest.mark.parametrize("side", list(Side))
def test_stamp_look_up_finds_an_unreadable_item(make_harness: Callable[..., Harness], side: Side) -> None:
    """A crash after the create: the item made is then unreadable. It is not created a second time."""
    h = make_harness()
    source = h.side(side.other).put(contact(1))

    def die(step: str) -> None:
        if step == "before-record":
            raise Crash("killed before the link was recorded")

    with pytest.raises(Crash):
        h.run(on_step=die)
    (made,) = h.records(side)
    h.side(side).make_unreadable(made.id, NULL)
    report = h.run()
    assert_failed_on(report, made.id)
    assert no_writes(report) and len(h.records(side, in_scope=False)) == 1 and h.links() == {}
    h.side(side).set_scope(made.id, Scope.IN)
    report = h.run()
    assert report.outcome == "ok" and no_writes(report) and h.count(side) == 1
    assert (h.mailbox_id(source) if side is Side.MAILBOX else h.business_id(source)) == made.id
    h.assert_quiet()


def test_becomes_unreadable_between_plan_and_write(harness: Harness) -> None:
    """The write answers 412; read again, the item is unreadable: skipped, not overwritten."""
    h = harness
    ((bid, mid),) = synced(h)
    h.b.edit(bid, city="York")

    def spoil(step: str) -> None:
        if step == "before-journal" and h.m.get(mid).scope is Scope.IN:  # type: ignore[union-attr]
            h.m.make_unreadable(mid, NULL)

    before = h.link(bid)
    report = h.run(on_step=spoil)
    assert_failed_on(report, mid)
    assert h.link(bid) == before
    h.m.set_scope(mid, Scope.IN)
    assert h.run().outcome == "ok"
    assert h.m_item(mid).city == "York"
    h.assert_quiet()


def test_dry_run_shows_the_skip(harness: Harness) -> None:
    h = harness
    ((bid, _),) = synced(h)
    h.b.make_unreadable(bid, NULL)
    plan = h.run(dry_run=True).plan
    assert plan is not None
    (op,) = plan.ops
    assert op.action == "skip" and not op.writes and NULL in op.describe() and bid in op.describe()
