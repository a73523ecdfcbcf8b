"""Mailbox capacity (DESIGN.md, Microsoft Graph): a contact holds at most 3 e-mail addresses and 2
business phones. The overflow stays in the business record and is never shrunk by a mailbox edit.

The mailbox connector of every harness here keeps only ``LIMITS`` values, as Graph does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, given, settings

from exsync.connector import Side
from exsync.engine import MailboxWins, Policy, RecordOnly, direction
from exsync.model import Contact
from exsync.testing.faults import Crash

if TYPE_CHECKING:
    from conftest import Harness  # tests/engine/conftest.py: the `harness` fixture's type

LIMITS = {"emails": 3, "business_phones": 2}
EMAILS = ["a@example.com", "b@example.com", "c@example.com", "d@example.com"]
PHONES = ["+44 1 1111", "+44 2 2222", "+44 3 3333"]
BOTH = Policy()
TO_MAILBOX = Policy(direction=direction("to-mailbox", "merge"))
TO_MAILBOX_REPLICATE = Policy(direction=direction("to-mailbox", "replicate"))
NONE = {"created": 0, "updated": 0, "deleted": 0}


def ok(report: Any) -> Any:
    assert report.outcome == "ok", report.as_json()
    return report


def writes(report: Any, side: Side) -> dict[str, int]:
    return report.tally.writes[side].as_dict()  # type: ignore[no-any-return]


def synced(make_harness: Callable[..., Harness], policy: Policy = BOTH) -> tuple[Harness, str, str]:
    """A business contact with 4 e-mails and 3 business phones, and its mailbox copy after a run."""
    h = make_harness(policy=policy, limits=LIMITS)
    bid = h.b.put(Contact(first_name="Ada", city="Leeds", emails=EMAILS, business_phones=PHONES))
    ok(h.run())
    mid = h.mailbox_id(bid)
    assert mid is not None
    return h, bid, mid


def assert_overflow_kept(h: Harness, bid: str, mid: str, emails: list[str] = EMAILS) -> None:
    """The business row holds every value; the mailbox the first ones; the snapshot remembers all."""
    assert h.b_item(bid).emails == emails
    assert h.b_item(bid).business_phones == PHONES
    assert h.m_item(mid).emails == emails[:3]
    assert h.m_item(mid).business_phones == PHONES[:2]
    snapshot = h.snapshot(bid)
    assert snapshot is not None
    assert snapshot["emails"] == emails and snapshot["business_phones"] == PHONES


@pytest.mark.parametrize("policy", [BOTH, TO_MAILBOX, TO_MAILBOX_REPLICATE], ids=lambda p: p.direction.name)
def test_overflow_survives_every_round_trip(make_harness: Callable[..., Harness], policy: Policy) -> None:
    h, bid, mid = synced(make_harness, policy)
    assert_overflow_kept(h, bid, mid)
    h.assert_quiet()
    h.m.touch(mid)  # the server rewrites bookkeeping: the truncated item reads as the same content
    h.assert_quiet()
    h.assert_quiet(full=True)
    h.b.edit(bid, city="York")  # a business edit of another field: the mailbox keeps what it holds
    assert writes(ok(h.run()), Side.MAILBOX) == {**NONE, "updated": 1}
    assert h.m_item(mid).city == "York"
    assert_overflow_kept(h, bid, mid)
    h.assert_quiet(full=True)


def test_mailbox_edit_of_another_field_keeps_the_overflow(make_harness: Callable[..., Harness]) -> None:
    h, bid, mid = synced(make_harness)
    h.m.edit(mid, city="York")
    report = ok(h.run())
    assert writes(report, Side.MAILBOX) == NONE
    assert writes(report, Side.BUSINESS) == {**NONE, "updated": 1}
    assert h.b_item(bid).city == "York"
    assert_overflow_kept(h, bid, mid)
    assert not h.conflicts()
    h.assert_quiet()
    h.m.touch(mid)
    h.assert_quiet(full=True)


def test_mailbox_edit_of_an_address_within_the_limit(make_harness: Callable[..., Harness]) -> None:
    h, bid, mid = synced(make_harness)
    h.m.edit(mid, emails=["a@example.com", "b2@example.com", "c@example.com"])
    report = ok(h.run())
    expected = ["a@example.com", "b2@example.com", "c@example.com", "d@example.com"]
    assert h.b_item(bid).emails == expected
    assert writes(report, Side.MAILBOX) == NONE  # it holds the first three already
    assert_overflow_kept(h, bid, mid, expected)
    h.assert_quiet()
    h.m.touch(mid)
    h.assert_quiet(full=True)


def test_mailbox_removal_of_an_address_removes_only_that_one(make_harness: Callable[..., Harness]) -> None:
    h, bid, mid = synced(make_harness)
    h.m.edit(mid, emails=["a@example.com", "c@example.com"])
    report = ok(h.run())
    expected = ["a@example.com", "c@example.com", "d@example.com"]
    assert h.b_item(bid).emails == expected
    # The mailbox has room again: the overflow moves up, so it holds what the business row holds.
    assert writes(report, Side.MAILBOX) == {**NONE, "updated": 1}
    assert h.m_item(mid).emails == expected
    assert h.snapshot(bid)["emails"] == expected  # type: ignore[index]
    h.assert_quiet()
    h.m.touch(mid)  # with nothing left over, a rewritten mailbox item still reads the same
    h.assert_quiet(full=True)
    assert h.b_item(bid).emails == expected


@pytest.mark.parametrize("last", ["d2@example.com", None], ids=["edited", "removed"])
def test_business_edit_of_the_overflow_writes_nothing_to_the_mailbox(
    make_harness: Callable[..., Harness], last: str | None
) -> None:
    h, bid, mid = synced(make_harness)
    version = h.m.get(mid).version  # type: ignore[union-attr]
    expected = [*EMAILS[:3], *([last] if last else [])]
    h.b.edit(bid, emails=expected)
    report = ok(h.run())
    assert writes(report, Side.MAILBOX) == NONE and writes(report, Side.BUSINESS) == NONE
    assert h.m.get(mid).version == version  # type: ignore[union-attr]
    assert h.snapshot(bid)["emails"] == expected  # type: ignore[index]
    h.assert_quiet()
    h.m.touch(mid)  # read again later: the remembered overflow is the new one
    h.assert_quiet(full=True)
    assert h.b_item(bid).emails == expected


@pytest.mark.parametrize("policy", [TO_MAILBOX, TO_MAILBOX_REPLICATE], ids=lambda p: p.direction.name)
def test_to_mailbox_never_carries_a_mailbox_edit_back(
    make_harness: Callable[..., Harness], policy: Policy
) -> None:
    h, bid, mid = synced(make_harness, policy)
    h.m.edit(mid, emails=["a@example.com", "c@example.com"])
    report = ok(h.run())
    assert writes(report, Side.BUSINESS) == NONE
    assert h.b_item(bid).emails == EMAILS
    if policy.direction.replicate:  # the edit is reverted: the mailbox holds the first three again
        assert h.m_item(mid).emails == EMAILS[:3]
    else:  # merge: the user's edit stays in the mailbox, held back
        assert h.m_item(mid).emails == ["a@example.com", "c@example.com"]
    h.assert_quiet()
    assert h.b_item(bid).emails == EMAILS


def test_a_contact_created_in_the_mailbox_has_no_overflow(make_harness: Callable[..., Harness]) -> None:
    h = make_harness(limits=LIMITS)
    mid = h.m.put(Contact(first_name="Bo", emails=EMAILS[:3]))
    ok(h.run())
    bid = h.business_id(mid)
    assert bid is not None and h.b_item(bid).emails == EMAILS[:3]
    h.assert_quiet()
    h.b.edit(bid, emails=[*EMAILS, "e@example.com"])  # the business row adds two: the mailbox is full
    assert writes(ok(h.run()), Side.MAILBOX) == NONE
    h.m.edit(mid, first_name="Bob")
    ok(h.run())
    assert h.b_item(bid).emails == [*EMAILS, "e@example.com"] and h.b_item(bid).first_name == "Bob"
    h.assert_quiet()


@pytest.mark.parametrize("conflict", ["business-wins", "mailbox-wins"])
def test_conflict_on_the_addresses_keeps_the_overflow(
    make_harness: Callable[..., Harness], conflict: str
) -> None:
    h, bid, mid = synced(make_harness, Policy(conflict=MailboxWins()) if conflict == "mailbox-wins" else BOTH)
    h.b.edit(bid, emails=["a@example.com", "b@example.com", "c@example.com", "d2@example.com"])
    h.m.edit(mid, emails=["a@example.com", "b2@example.com", "c@example.com"])
    ok(h.run())
    expected = (
        ["a@example.com", "b@example.com", "c@example.com", "d2@example.com"]
        if conflict == "business-wins"
        else ["a@example.com", "b2@example.com", "c@example.com", "d@example.com"]
    )
    assert h.b_item(bid).emails == expected
    assert h.m_item(mid).emails == expected[:3]
    (entry,) = h.conflicts()
    assert entry.field == "emails"
    h.assert_quiet()


def test_record_only_conflict_leaves_both_sides(make_harness: Callable[..., Harness]) -> None:
    h, bid, mid = synced(make_harness, Policy(conflict=RecordOnly()))
    h.b.edit(bid, emails=["a@example.com", "b@example.com", "c@example.com", "d2@example.com"])
    h.m.edit(mid, emails=["a@example.com", "b2@example.com", "c@example.com"])
    report = ok(h.run())
    assert writes(report, Side.MAILBOX) == NONE and writes(report, Side.BUSINESS) == NONE
    assert h.link(bid).conflict  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "policy", [BOTH, Policy(conflict=MailboxWins())], ids=["business-wins", "mailbox-wins"]
)
def test_lost_state_store_pairs_without_a_conflict(
    make_harness: Callable[..., Harness], policy: Policy
) -> None:
    """Re-paired by its stamp, a mailbox copy holding the first values agrees with its business row."""
    h, bid, mid = synced(make_harness, policy)
    h.forget_state()
    report = ok(h.run())
    assert writes(report, Side.MAILBOX) == NONE and writes(report, Side.BUSINESS) == NONE
    assert not h.conflicts()
    assert h.mailbox_id(bid) == mid
    assert_overflow_kept(h, bid, mid)
    h.assert_quiet()


def test_crash_after_the_create_pairs_by_stamp_without_a_conflict(
    make_harness: Callable[..., Harness],
) -> None:
    h = make_harness(policy=Policy(conflict=MailboxWins()), limits=LIMITS)
    bid = h.b.put(Contact(first_name="Ada", emails=EMAILS, business_phones=PHONES))

    def die(step: str) -> None:
        if step == "before-record":
            raise Crash("killed before the link was recorded")

    with pytest.raises(Crash):
        h.run(on_step=die)
    assert h.link(bid) is None and h.count(Side.MAILBOX) == 1
    report = ok(h.run())
    assert writes(report, Side.MAILBOX) == NONE and writes(report, Side.BUSINESS) == NONE
    assert not h.conflicts()
    mid = h.mailbox_id(bid)
    assert mid is not None
    assert_overflow_kept(h, bid, mid)
    h.assert_quiet()


# -- a property: whatever the user does to the addresses in the mailbox ----------------------------
POOL = [f"p{i}@example.com" for i in range(8)]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    business=st.lists(st.sampled_from(POOL), max_size=6, unique=True),
    edit=st.none() | st.lists(st.sampled_from(POOL), max_size=3, unique=True),
    full=st.booleans(),
)
def test_property_mailbox_edits_never_shrink_the_overflow(
    make_harness: Callable[..., Harness], business: list[str], edit: list[str] | None, full: bool
) -> None:
    h = make_harness(limits=LIMITS)
    bid = h.b.put(Contact(first_name="Ada", emails=business))
    ok(h.run())
    mid = h.mailbox_id(bid)
    assert mid is not None and h.m_item(mid).emails == business[:3]
    if edit is None:
        h.m.edit(mid, city="York")  # another field only
        expected = business
    else:
        h.m.edit(mid, emails=edit)
        expected = list(dict.fromkeys([*edit, *business[3:]]))  # what the user saw, then the overflow
    ok(h.run(full=full))
    h.assert_quiet()
    h.assert_quiet(full=True)
    assert h.b_item(bid).emails == expected
    assert h.m_item(mid).emails == expected[:3]  # the mailbox-held prefix; the rest is the overflow
