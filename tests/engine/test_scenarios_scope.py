"""SCENARIOS.md 8–11: items leaving and re-entering the filter or the time window."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest

from exsync.connector import Scope, Side
from exsync.engine import Policy
from exsync.engine.planner import OUT_MARK, WINDOW_MARK
from exsync.model import Contact, Event
from exsync.model.items import Attendee

if TYPE_CHECKING:
    from conftest import Harness  # tests/engine/conftest.py: the `harness` fixture's type

ADA = Contact(first_name="Ada", last_name="Lovelace", city="London", emails=["ada@example.com"])
APPOINTMENT = Event(subject="Dentist", start="2026-03-02 10:00", end="2026-03-02 11:00")
MEETING = Event(
    subject="Settlement meeting", start="2026-03-03 14:00", end="2026-03-03 15:00",
    attendees=[Attendee(email="opponent@example.org", name="Opposing counsel")],
    ical_uid="uid-settlement@firm.example", is_organizer=True,
)  # fmt: skip


def synced(h: Harness, item: Contact | Event) -> tuple[str, str]:
    bid = h.b.put(item)
    report = h.run()
    assert report.outcome == "ok", report.message
    mid = h.mailbox_id(bid)
    assert mid is not None and mid in h.m
    return bid, mid


def no_writes(report: object) -> bool:
    return all(
        c.as_dict() == {"created": 0, "updated": 0, "deleted": 0} for c in report.tally.writes.values()
    )


# -- 8. the business row leaves the filter -------------------------------------------------------
@pytest.mark.parametrize(
    ("part", "item"), [("contacts", ADA), ("calendar", APPOINTMENT)], ids=["contact", "appointment"]
)
def test_scenario_08_business_row_leaves_the_filter_removes_the_copy(
    make_harness: Callable[..., Harness], part: str, item: Contact | Event
) -> None:
    h = make_harness(part)
    bid, mid = synced(h, item)
    h.b.set_scope(bid, Scope.FILTER, "type changed to Call")

    report = h.run()

    assert report.outcome == "ok", report.message
    assert report.tally.writes[Side.MAILBOX].deleted == 1
    assert report.tally.writes[Side.BUSINESS].as_dict() == {"created": 0, "updated": 0, "deleted": 0}
    assert mid not in h.m
    assert bid in h.b  # the business row is never deleted
    link = h.link(bid)
    assert link is not None and not link.in_scope and link.mailbox_id is None
    assert link.business_version == OUT_MARK
    assert "type changed to Call" in link.last_result
    [entry] = [e for e in h.journal(h.key(bid)) if e.action == "delete"]
    assert (entry.side, entry.item_id, entry.status) == ("mailbox", mid, "done")
    h.assert_quiet()


def test_scenario_08_mailbox_edit_lost_with_the_removed_copy_is_logged(harness: Harness) -> None:
    """The copy of a row that left the filter is removed although the user just edited it: the edit
    is not lost silently (rule 9), it is kept in the conflict log like the lost edit of scenario 5."""
    h = harness
    bid, mid = synced(h, ADA)
    h.m.edit(mid, city="Rome")
    h.b.set_scope(bid, Scope.FILTER, "no longer a client")

    report = h.run()

    assert report.outcome == "ok", report.message
    assert report.tally.writes[Side.MAILBOX].deleted == 1 and mid not in h.m
    assert h.b_item(bid).city == "London"  # the business row is kept as it is
    [entry] = h.conflicts()
    assert (entry.key, entry.field, entry.winner) == (h.key(bid), "city", "delete")
    assert (entry.mailbox_value, entry.base_value) == ("Rome", "London")
    assert report.tally.conflicts == 1
    h.assert_quiet()


def test_scenario_08_meeting_with_attendees_is_only_unlinked(make_harness: Callable[..., Harness]) -> None:
    h = make_harness("calendar")
    bid, mid = synced(h, MEETING)
    h.b.set_scope(bid, Scope.FILTER, "type changed to Call")

    report = h.run()

    assert report.outcome == "ok", report.message
    assert no_writes(report)
    assert mid in h.m and bid in h.b  # removing it would cancel the meeting for everyone
    link = h.link(bid)
    assert link is not None and not link.in_scope and link.mailbox_id == mid
    assert "only unlinked" in link.last_result
    h.assert_quiet()
    h.m.edit(mid, subject="Settlement meeting (postponed)")  # no longer synced: not carried over
    h.assert_quiet()
    assert h.b_item(bid).subject == "Settlement meeting"


def test_scenario_08_meeting_out_of_scope_without_its_content_is_only_unlinked(
    make_harness: Callable[..., Harness],
) -> None:
    """A business row that leaves the scope and cannot be read comes without its attendees: the
    mailbox copy still says it is a meeting, and that is enough to only unlink it."""
    h = make_harness("calendar")
    bid, mid = synced(h, MEETING)
    h.b.edit(bid, attendees=[])  # plays a row whose content could not be read
    h.b.set_scope(bid, Scope.FILTER, "type changed to Call")

    report = h.run()

    assert report.outcome == "ok", report.message
    assert no_writes(report)
    assert mid in h.m
    link = h.link(bid)
    assert link is not None and not link.in_scope and "only unlinked" in link.last_result


@pytest.mark.parametrize("part", ["contacts", "calendar"])
def test_scenario_08_delete_in_mailbox_off_only_unlinks(
    make_harness: Callable[..., Harness], part: str
) -> None:
    h = make_harness(part, Policy(delete_in_mailbox=False))
    bid, mid = synced(h, ADA if part == "contacts" else APPOINTMENT)
    h.b.set_scope(bid, Scope.FILTER, "no longer a client")

    report = h.run()

    assert report.outcome == "ok", report.message
    assert no_writes(report)
    assert mid in h.m and bid in h.b
    link = h.link(bid)
    assert link is not None and not link.in_scope and link.mailbox_id == mid
    h.assert_quiet()


# -- 9. the mailbox item leaves the filter --------------------------------------------------------
@pytest.mark.parametrize("delete_in_business", [False, True])
def test_scenario_09_mailbox_item_leaves_the_filter(
    make_harness: Callable[..., Harness], delete_in_business: bool
) -> None:
    h = make_harness("contacts", Policy(delete_in_business=delete_in_business))
    bid, mid = synced(h, ADA)
    h.m.set_scope(mid, Scope.FILTER, "moved to an unsynced folder")

    report = h.run()

    assert report.outcome == "ok", report.message
    assert no_writes(report)  # no delete cascade
    assert bid in h.b and mid in h.m
    link = h.link(bid)
    assert link is not None and not link.in_scope
    assert (link.business_id, link.mailbox_id, link.mailbox_version) == (bid, mid, OUT_MARK)
    h.assert_quiet()
    h.b.edit(bid, city="Paris")  # the unlinked copy is not written while it is out of the filter
    h.assert_quiet()
    assert h.m_item(mid).city == "London"


# -- 10. back in the filter -----------------------------------------------------------------------
def test_scenario_10_business_row_back_in_the_filter_recreates_one_copy(harness: Harness) -> None:
    h = harness
    bid, _ = synced(h, ADA)
    h.b.set_scope(bid, Scope.FILTER, "no longer a client")
    h.run()
    assert h.count(Side.MAILBOX) == 0
    h.b.set_scope(bid, Scope.IN)

    report = h.run()

    assert report.outcome == "ok", report.message
    assert report.tally.writes[Side.MAILBOX].created == 1
    [record] = h.records(Side.MAILBOX)
    assert record.stamp == h.key(bid) and record.item.projection() == h.b_item(bid).projection()
    [link] = h.links().values()
    assert (link.key, link.mailbox_id) == (h.key(bid), record.id)
    assert link.in_scope and not link.removed_in_mailbox
    assert h.count(Side.BUSINESS) == 1
    h.assert_quiet()


def test_scenario_10_edited_while_out_then_back_recreates_with_the_edit(harness: Harness) -> None:
    h = harness
    bid, _ = synced(h, ADA)
    h.b.set_scope(bid, Scope.FILTER, "no longer a client")
    h.run()
    h.b.edit(bid, city="Paris")
    h.assert_quiet()  # still out of the filter: nothing to do
    h.b.set_scope(bid, Scope.IN)

    report = h.run()

    assert report.tally.writes[Side.MAILBOX].created == 1
    [record] = h.records(Side.MAILBOX)
    assert record.item.city == "Paris" and h.mailbox_id(bid) == record.id
    h.assert_quiet()


@pytest.mark.parametrize(
    ("part", "item", "policy"),
    [("calendar", MEETING, Policy()), ("contacts", ADA, Policy(delete_in_mailbox=False))],
    ids=["meeting", "contact-kept"],
)
def test_scenario_10_unlinked_copy_is_relinked(
    make_harness: Callable[..., Harness], part: str, item: Contact | Event, policy: Policy
) -> None:
    h = make_harness(part, policy)
    bid, mid = synced(h, item)
    h.b.set_scope(bid, Scope.FILTER, "left the filter")
    h.run()
    h.b.set_scope(bid, Scope.IN)

    report = h.run()

    assert report.outcome == "ok", report.message
    assert no_writes(report)  # relinked, no second item either side
    assert [r.id for r in h.records(Side.MAILBOX)] == [mid]
    assert h.count(Side.BUSINESS) == 1
    link = h.link(bid)
    assert link is not None and link.in_scope and link.mailbox_id == mid
    assert link.business_version == h.b.get(bid).version
    h.assert_quiet()
    h.b.edit(bid, notes="synced again") if part == "contacts" else h.b.edit(bid, location="Room 4")
    report = h.run()
    assert report.tally.writes[Side.MAILBOX].updated == 1
    h.assert_quiet()


@pytest.mark.parametrize(
    ("policy", "deleted"),
    [
        (Policy(), "with the filter change"),
        (Policy(delete_in_mailbox=False), "with the filter change"),
        (Policy(delete_in_mailbox=False), "after the unlink"),
    ],
    ids=["same-run", "same-run-kept", "after-unlink"],
)
def test_scenario_10_copy_deleted_while_out_is_recreated_when_back(
    make_harness: Callable[..., Harness], policy: Policy, deleted: str
) -> None:
    """The user deletes the mailbox copy of a row that is (about to be) out of the filter. Delta
    listings report that delete once: the link must not keep naming the deleted item, or the row's
    return would relink to nothing."""
    h = make_harness("contacts", policy)
    bid, mid = synced(h, ADA)
    h.b.set_scope(bid, Scope.FILTER, "no longer a client")
    if deleted == "after the unlink":
        h.run()
        assert h.mailbox_id(bid) == mid  # delete_in_mailbox off: the copy stays, unlinked
    h.m.remove(mid)
    report = h.run()
    assert report.outcome == "ok", report.message
    assert no_writes(report)
    link = h.link(bid)
    assert link is not None and not link.in_scope and link.mailbox_id is None
    h.assert_quiet()

    h.b.set_scope(bid, Scope.IN)
    report = h.run()

    assert report.outcome == "ok", report.message
    assert report.tally.writes[Side.MAILBOX].created == 1
    [record] = h.records(Side.MAILBOX)
    assert record.id != mid and record.stamp == h.key(bid)
    link = h.link(bid)
    assert link is not None and link.in_scope and link.mailbox_id == record.id
    assert h.count(Side.BUSINESS) == 1
    h.assert_quiet()


def test_scenario_10_mailbox_item_back_in_the_filter_is_relinked(harness: Harness) -> None:
    h = harness
    bid, mid = synced(h, ADA)
    h.m.set_scope(mid, Scope.FILTER, "moved to an unsynced folder")
    h.run()
    h.m.set_scope(mid, Scope.IN)

    report = h.run()

    assert report.outcome == "ok", report.message
    assert no_writes(report)
    assert h.count(Side.MAILBOX) == 1 and h.count(Side.BUSINESS) == 1
    link = h.link(bid)
    assert link is not None and link.in_scope and link.mailbox_id == mid
    assert link.mailbox_version == h.m.get(mid).version
    h.assert_quiet()
    h.m.edit(mid, city="Rome")
    report = h.run()
    assert report.tally.writes[Side.BUSINESS].updated == 1 and h.b_item(bid).city == "Rome"
    h.assert_quiet()


def test_scenario_10_mailbox_item_edited_while_out_is_merged_when_back(harness: Harness) -> None:
    h = harness
    bid, mid = synced(h, ADA)
    h.m.set_scope(mid, Scope.FILTER, "moved to an unsynced folder")
    h.run()
    h.m.edit(mid, city="Rome")
    h.m.set_scope(mid, Scope.IN)

    report = h.run()

    assert report.outcome == "ok", report.message
    assert h.b_item(bid).city == "Rome"
    assert h.count(Side.MAILBOX) == 1 and h.count(Side.BUSINESS) == 1
    assert h.link(bid).in_scope
    h.assert_quiet()


# -- 11. the time window ------------------------------------------------------------------------------
@pytest.mark.parametrize("side", [Side.BUSINESS, Side.MAILBOX])
@pytest.mark.parametrize("item", [APPOINTMENT, MEETING], ids=["appointment", "meeting"])
def test_scenario_11_leaving_the_window_deletes_nothing(
    make_harness: Callable[..., Harness], side: Side, item: Event
) -> None:
    h = make_harness("calendar", Policy(delete_in_business=True))
    bid, mid = synced(h, item)
    h.side(side).set_scope(bid if side is Side.BUSINESS else mid, Scope.WINDOW, "before the window")

    report = h.run()

    assert report.outcome == "ok", report.message
    assert no_writes(report)
    assert bid in h.b and mid in h.m
    link = h.link(bid)
    assert link is not None and link.out_of_window and link.in_scope
    assert (link.business_id, link.mailbox_id) == (bid, mid)
    version = link.business_version if side is Side.BUSINESS else link.mailbox_version
    assert version == WINDOW_MARK
    h.assert_quiet()

    # back in the window: normal again
    h.side(side).set_scope(bid if side is Side.BUSINESS else mid, Scope.IN)
    report = h.run()
    assert report.outcome == "ok", report.message
    assert no_writes(report)
    link = h.link(bid)
    assert link is not None and not link.out_of_window and link.in_scope
    assert (link.business_version, link.mailbox_version) == (h.b.get(bid).version, h.m.get(mid).version)
    h.assert_quiet()
    h.b.edit(bid, location="Room 9")
    report = h.run()
    assert report.tally.writes[Side.MAILBOX].updated == 1
    assert h.m_item(mid).location == "Room 9"
    h.assert_quiet()
    assert h.count(Side.BUSINESS) == h.count(Side.MAILBOX) == 1


@pytest.mark.parametrize("when", ["same-run", "later"])
@pytest.mark.parametrize("side", [Side.BUSINESS, Side.MAILBOX], ids=["business-out", "mailbox-out"])
def test_scenario_11_other_side_deleted_while_out_of_the_window(
    make_harness: Callable[..., Harness], side: Side, when: str
) -> None:
    """One item is outside the window and its partner is deleted meanwhile. A delta reports that delete
    once: the link must remember it, or the pair is relinked to a missing item when the window
    moves back. Nothing is deleted on either side (rule 4: leaving the window removes nothing)."""
    h = make_harness("calendar")
    bid, mid = synced(h, APPOINTMENT)
    window_id, other_id = (bid, mid) if side is Side.BUSINESS else (mid, bid)
    h.side(side).set_scope(window_id, Scope.WINDOW, "before the window")
    if when == "later":
        h.run()
    h.side(side.other).remove(other_id)

    report = h.run()

    assert report.outcome == "ok", report.message
    assert no_writes(report) and window_id in h.side(side)
    [link] = h.links().values()
    assert link.out_of_window
    if side is Side.BUSINESS:
        assert link.mailbox_id is None and link.removed_in_mailbox and link.business_id == bid
    else:
        assert link.business_id is None and link.removed_in_business and link.mailbox_id == mid
    h.assert_quiet()

    h.side(side).set_scope(window_id, Scope.IN)  # back in the window
    report = h.run()

    assert report.outcome == "ok", report.message
    assert no_writes(report)  # the deleted partner is not re-created, and nothing is deleted
    assert [r.id for r in h.records(side)] == [window_id] and h.records(side.other) == []
    h.assert_quiet()
    # an edit beats the delete (rule 4), as for any removed partner
    (h.b.edit(bid, location="Room 2") if side is Side.BUSINESS else h.m.edit(mid, location="Room 2"))
    report = h.run()
    assert report.tally.writes[side.other].created == 1
    assert [r.item.location for r in h.records(side.other)] == ["Room 2"]
    h.assert_quiet()


def test_scenario_11_both_sides_leave_the_window(make_harness: Callable[..., Harness]) -> None:
    h = make_harness("calendar")
    bid, mid = synced(h, APPOINTMENT)
    h.b.set_scope(bid, Scope.WINDOW, "before the window")
    h.m.set_scope(mid, Scope.WINDOW, "before the window")

    report = h.run()

    assert no_writes(report) and bid in h.b and mid in h.m
    assert h.link(bid).out_of_window
    h.assert_quiet()
